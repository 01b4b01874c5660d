//! TLS to PostgreSQL with libpq's `sslmode` / `sslrootcert` semantics, over rustls.
//!
//! | `sslmode` | TLS | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | when the server offers it | only when `sslrootcert` is given (chain, not the name) |
//! | `require` | always | only when `sslrootcert` is given (chain, not the name) |
//! | `verify-ca` | always | chain against `sslrootcert` or the system roots |
//! | `verify-full` | always | chain and host name against `sslrootcert` or the system roots |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the system roots (which, as in
//! libpq, makes `verify-full` the default and refuses weaker modes). A Unix-socket connection never
//! uses TLS (PostgreSQL has none there), whatever the mode. `allow` is treated as `prefer`: it
//! tries TLS first rather than plaintext first, never weaker.
//!
//! tokio-postgres' own parser knows only `disable`, `prefer` and `require`, so
//! [`split_tls_params`] takes `sslmode` and `sslrootcert` out of a connection string first.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode as DriverSslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// TLS when the server offers it, plaintext otherwise (libpq's default).
    #[default]
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS with the server certificate's chain checked.
    VerifyCa,
    /// TLS with the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    /// The value as written in a connection string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<Self, TlsError> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(TlsError::UnknownSslMode {
                    value: other.chars().take(32).collect(),
                });
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which CA certificates a server certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The operating system's trust store (`sslrootcert=system`, or a verify mode without
    /// `sslrootcert`).
    System,
    /// The CA certificates of a PEM file (`sslrootcert=<path>`).
    File(PathBuf),
}

/// The TLS part of a PostgreSQL connection string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<RootCerts>,
}

/// A TLS setting that cannot be used. Messages name the parameter and, for a file, its path;
/// never the connection string (it may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// `sslmode` has a value libpq does not know.
    #[error(
        "sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
    )]
    UnknownSslMode {
        /// The value (at most 32 characters of it).
        value: String,
    },
    /// `sslrootcert=system` with a mode that would not check the host name.
    #[error("sslrootcert=system needs sslmode=verify-full (it was {mode})")]
    SystemRootsNeedVerifyFull {
        /// The mode given.
        mode: SslMode,
    },
    /// A connection-string parameter is malformed (bad percent-encoding, a missing `=`, an
    /// unterminated quote).
    #[error("malformed connection string parameter `{param}`")]
    Malformed {
        /// The parameter (`sslmode`, `sslrootcert`, or `?` when the key itself is unreadable).
        param: &'static str,
    },
    /// The `sslrootcert` file cannot be read.
    #[error("cannot read sslrootcert file {}", path.display())]
    RootCertUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `sslrootcert` file holds no usable PEM certificate.
    #[error("sslrootcert file {} holds no usable PEM certificate", path.display())]
    RootCertInvalid {
        /// The file.
        path: PathBuf,
    },
    /// A verify mode without `sslrootcert`, and the system trust store is empty or unreadable.
    #[error(
        "sslmode={mode} without sslrootcert needs the system's CA certificates, and none were \
         found (install ca-certificates or give sslrootcert=<file>)"
    )]
    NoSystemRoots {
        /// The mode given.
        mode: SslMode,
    },
    /// rustls refused the configuration (not expected with the built-in provider).
    #[error("cannot configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

impl TlsSettings {
    /// Plaintext only.
    pub fn disabled() -> Self {
        Self {
            mode: SslMode::Disable,
            root_cert: None,
        }
    }

    /// Settings from the values of `sslmode` and `sslrootcert` (each absent when `None`), with
    /// libpq's defaults: `prefer`, or `verify-full` for `sslrootcert=system`.
    pub fn from_params(sslmode: Option<&str>, sslrootcert: Option<&str>) -> Result<Self, TlsError> {
        let root_cert = sslrootcert.map(|value| match value {
            "system" => RootCerts::System,
            path => RootCerts::File(PathBuf::from(path)),
        });
        let mode = match (sslmode, &root_cert) {
            (Some(mode), _) => SslMode::parse(mode)?,
            (None, Some(RootCerts::System)) => SslMode::VerifyFull,
            (None, _) => SslMode::Prefer,
        };
        if root_cert == Some(RootCerts::System) && mode != SslMode::VerifyFull {
            return Err(TlsError::SystemRootsNeedVerifyFull { mode });
        }
        Ok(Self { mode, root_cert })
    }

    /// The settings a tokio-postgres [`Config`](tokio_postgres::Config) expresses by itself
    /// (its `ssl_mode`; no root certificate).
    pub fn from_driver(mode: DriverSslMode) -> Self {
        Self {
            mode: match mode {
                DriverSslMode::Disable => SslMode::Disable,
                DriverSslMode::Require => SslMode::Require,
                _ => SslMode::Prefer,
            },
            root_cert: None,
        }
    }

    /// The mode tokio-postgres negotiates with for a connection to `hosts`: every verify mode is
    /// its `require` (the checks are in the connector), and Unix sockets never use TLS.
    pub fn driver_mode(&self, hosts: &[Host]) -> DriverSslMode {
        let all_sockets = !hosts.is_empty() && hosts.iter().all(|h| !matches!(h, Host::Tcp(_)));
        match self.mode {
            _ if all_sockets => DriverSslMode::Disable,
            SslMode::Disable => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        }
    }

    /// The rustls connector that checks the server the way the mode says. Reads the
    /// `sslrootcert` file or the system roots when a check needs them.
    pub fn connector(&self) -> Result<MakeRustlsConnect, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = match (self.mode, &self.root_cert) {
            (SslMode::Disable, _) => Check::Nothing,
            (SslMode::Prefer | SslMode::Require, None) => Check::Nothing,
            (SslMode::Prefer | SslMode::Require | SslMode::VerifyCa, Some(_)) => Check::Chain,
            (SslMode::VerifyCa, None) => Check::Chain,
            (SslMode::VerifyFull, _) => Check::ChainAndName,
        };
        let webpki = match check {
            Check::Nothing => None,
            Check::Chain | Check::ChainAndName => {
                let roots = self.root_store()?;
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?,
                )
            }
        };
        let verifier = Verifier {
            webpki,
            check_name: check == Check::ChainAndName,
            roots: match &self.root_cert {
                Some(RootCerts::File(_)) => "the sslrootcert file",
                Some(RootCerts::System) | None => "the system roots",
            },
            provider: provider.clone(),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        match &self.root_cert {
            Some(RootCerts::File(path)) => {
                let certs = read_pem_certs(path)?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(TlsError::RootCertInvalid { path: path.clone() });
                }
            }
            Some(RootCerts::System) | None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(TlsError::NoSystemRoots { mode: self.mode });
                }
            }
        }
        Ok(roots)
    }
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::RootCertUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::RootCertInvalid {
            path: path.to_path_buf(),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// The server certificate check: nothing (libpq's `prefer`/`require` without a root
/// certificate: encryption against a passive listener only), the chain, or the chain and the
/// name. The handshake signatures are always checked.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    roots: &'static str,
    provider: Arc<CryptoProvider>,
}

/// A server certificate that no trusted CA signed, said plainly. rustls prints a
/// `CertificateError::Other` with `{:?}`, so `Debug` says the same as `Display`.
#[derive(thiserror::Error)]
#[error(
    "the server's certificate is not signed by a CA in {roots} (for a private CA, give it with \
     sslrootcert=<file>)"
)]
struct Untrusted {
    roots: &'static str,
}

impl fmt::Debug for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Ok(verified) => Ok(verified),
            // webpki checks the chain before the name: a name error means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    rustls::OtherError(Arc::new(Untrusted { roots: self.roots })),
                )))
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (URL or `key=value` form) and
/// returns the rest, unchanged byte for byte, with the TLS settings they give.
pub fn split_tls_params(conn: &str) -> Result<(String, TlsSettings), TlsError> {
    let (rest, mode, root) = if conn.starts_with("postgres://") || conn.starts_with("postgresql://")
    {
        split_url(conn)?
    } else {
        split_key_values(conn)?
    };
    let settings = TlsSettings::from_params(mode.as_deref(), root.as_deref())?;
    Ok((rest, settings))
}

type Split = (String, Option<String>, Option<String>);

fn split_url(url: &str) -> Result<Split, TlsError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(percent_decode(value, "sslmode")?),
            "sslrootcert" => root = Some(percent_decode(value, "sslrootcert")?),
            _ => kept.push(pair),
        }
    }
    let mut rest = base.to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    if let Some(fragment) = fragment {
        rest.push('#');
        rest.push_str(fragment);
    }
    Ok((rest, mode, root))
}

fn percent_decode(value: &str, param: &'static str) -> Result<String, TlsError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(TlsError::Malformed { param })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| TlsError::Malformed { param })
}

/// libpq's `key = value` form: values may be single-quoted, `\` escapes the next character.
fn split_key_values(conn: &str) -> Result<Split, TlsError> {
    let (mut mode, mut root) = (None, None);
    let mut kept: Vec<&str> = Vec::new();
    let mut chars = conn.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key_end = start;
        while let Some((i, _)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key_end = i + 1;
        }
        let key = &conn[start..key_end];
        let param = match key {
            "sslmode" => "sslmode",
            "sslrootcert" => "sslrootcert",
            _ => "?",
        };
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(TlsError::Malformed { param });
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let mut end = conn.len();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            let mut closed = false;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '\'' => {
                        end = i + 1;
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(TlsError::Malformed { param });
            }
        } else {
            while let Some((i, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                end = i + c.len_utf8();
                if c == '\\' {
                    if let Some((j, escaped)) = chars.next() {
                        value.push(escaped);
                        end = j + escaped.len_utf8();
                    }
                } else {
                    value.push(c);
                }
            }
        }
        match param {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root = Some(value),
            _ => kept.push(&conn[start..end.min(conn.len())]),
        }
    }
    Ok((kept.join(" "), mode, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(conn: &str) -> (String, TlsSettings) {
        split_tls_params(conn).unwrap_or_else(|e| panic!("{conn}: {e}"))
    }

    #[test]
    fn url_tls_parameters_are_taken_out_and_the_rest_kept_verbatim() {
        let (rest, tls) = split(
            "postgres://u:p%40ss@db:5432/app?application_name=a+b&sslmode=verify-full&\
             sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&options=-c%20x%3Dy",
        );
        assert_eq!(
            rest,
            "postgres://u:p%40ss@db:5432/app?application_name=a+b&options=-c%20x%3Dy"
        );
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(
            tls.root_cert,
            Some(RootCerts::File("/etc/ca dir/ca.pem".into()))
        );
        let (rest, tls) = split("postgresql://h/db?sslmode=require");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(
            tls,
            TlsSettings {
                mode: SslMode::Require,
                root_cert: None
            }
        );
        assert_eq!(split("postgres://h/db").1.mode, SslMode::Prefer);
    }

    #[test]
    fn key_value_tls_parameters_are_taken_out() {
        let (rest, tls) = split(
            "host=db user=u password='it\\'s x' sslmode = verify-ca sslrootcert='/a b/ca.pem' dbname=app",
        );
        assert_eq!(rest, "host=db user=u password='it\\'s x' dbname=app");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(RootCerts::File("/a b/ca.pem".into())));
        let (rest, tls) = split("host=/run/pg sslmode=disable");
        assert_eq!(rest, "host=/run/pg");
        assert_eq!(tls.mode, SslMode::Disable);
    }

    #[test]
    fn libpq_defaults_and_refusals() {
        assert_eq!(split("host=h").1, TlsSettings::default());
        assert_eq!(split("host=h sslmode=allow").1.mode, SslMode::Prefer);
        let system = split("postgres://h/db?sslrootcert=system").1;
        assert_eq!(system.mode, SslMode::VerifyFull);
        assert_eq!(system.root_cert, Some(RootCerts::System));
        let weak = split_tls_params("postgres://h/db?sslrootcert=system&sslmode=require");
        assert!(matches!(
            weak,
            Err(TlsError::SystemRootsNeedVerifyFull {
                mode: SslMode::Require
            })
        ));
        let unknown = split_tls_params("postgres://u:s3cret@h/db?sslmode=sometimes")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            unknown.starts_with("sslmode `sometimes` is not one of"),
            "{unknown}"
        );
        assert!(!unknown.contains("s3cret"));
        assert!(matches!(
            split_tls_params("postgres://h/db?sslrootcert=%zz"),
            Err(TlsError::Malformed {
                param: "sslrootcert"
            })
        ));
        assert!(matches!(
            split_tls_params("host=h sslrootcert='/unterminated"),
            Err(TlsError::Malformed {
                param: "sslrootcert"
            })
        ));
    }

    #[test]
    fn unix_sockets_never_negotiate_tls() {
        let tls = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: None,
        };
        assert_eq!(
            tls.driver_mode(&[Host::Unix("/run/pg".into())]),
            DriverSslMode::Disable
        );
        assert_eq!(
            tls.driver_mode(&[Host::Tcp("db".into())]),
            DriverSslMode::Require
        );
    }

    #[test]
    fn a_missing_or_empty_root_certificate_file_is_named() {
        let missing = TlsSettings::from_params(Some("verify-full"), Some("/nonexistent/ca.pem"))
            .and_then(|t| t.connector().map(|_| ()))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            missing.as_deref(),
            Some("cannot read sslrootcert file /nonexistent/ca.pem")
        );
        let dir = std::env::temp_dir().join(format!("brokerdb-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let empty = dir.join("empty.pem");
        let _ = std::fs::write(&empty, "not a certificate\n");
        let err = TlsSettings::from_params(Some("verify-ca"), empty.to_str())
            .and_then(|t| t.connector().map(|_| ()))
            .err();
        assert!(
            matches!(err, Some(TlsError::RootCertInvalid { .. })),
            "{err:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
