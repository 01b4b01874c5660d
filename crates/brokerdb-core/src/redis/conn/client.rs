//! Building redis-rs clients from URLs, TLS (`rediss://`) included.
//!
//! A `rediss://` URL is TLS over rustls; the server's certificate and host name are checked
//! against the CA certificates of a PEM file given here, or the system roots without one.
//! `redis://` and `redis+unix://` / `unix://` URLs are plaintext.

use std::path::{Path, PathBuf};

use redis::cluster::ClusterClientBuilder;
use redis::{IntoConnectionInfo, TlsCertificates};

/// A Redis URL or CA file that cannot be used. Messages never quote the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL does not parse (or names an unknown scheme).
    #[error("not a valid Redis URL (redis://, rediss://, redis+unix://)")]
    InvalidUrl,
    /// A CA file was given for a URL without TLS.
    #[error("a Redis CA file is only used with rediss:// URLs")]
    CaWithoutTls,
    /// The CA file cannot be read.
    #[error("cannot read the Redis CA file {}", path.display())]
    CaUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA file holds no usable PEM certificate.
    #[error("the Redis CA file {} holds no usable PEM certificate", path.display())]
    CaInvalid {
        /// The file.
        path: PathBuf,
    },
}

fn is_tls(info: &redis::ConnectionInfo) -> bool {
    matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. })
}

fn certificates(root_ca: &Path) -> Result<TlsCertificates, ClientError> {
    let pem = std::fs::read(root_ca).map_err(|source| ClientError::CaUnreadable {
        path: root_ca.to_path_buf(),
        source,
    })?;
    // redis-rs parses it again when it builds the TLS configuration; check it here so a bad
    // file is a start-up error naming the file, not a connection error later.
    let parsed = pem_certificate_count(&pem);
    if parsed == 0 {
        return Err(ClientError::CaInvalid {
            path: root_ca.to_path_buf(),
        });
    }
    Ok(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    })
}

/// How many PEM `CERTIFICATE` blocks `pem` holds.
fn pem_certificate_count(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem)
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

/// A client for `url`; with `root_ca` (a PEM file) the `rediss://` server is checked against
/// those CA certificates instead of the system roots. No I/O but reading the file.
pub fn open_client(url: &str, root_ca: Option<&Path>) -> Result<redis::Client, ClientError> {
    let info = url
        .into_connection_info()
        .map_err(|_| ClientError::InvalidUrl)?;
    match root_ca {
        None => redis::Client::open(info).map_err(|_| ClientError::InvalidUrl),
        Some(_) if !is_tls(&info) => Err(ClientError::CaWithoutTls),
        Some(path) => redis::Client::build_with_tls(info, certificates(path)?).map_err(|_| {
            ClientError::CaInvalid {
                path: path.to_path_buf(),
            }
        }),
    }
}

/// A cluster client builder for the seed `urls`; with `root_ca` the `rediss://` nodes are
/// checked against those CA certificates instead of the system roots. Set timeouts on the
/// builder, then `build()` it.
pub fn open_cluster(
    urls: &[String],
    root_ca: Option<&Path>,
) -> Result<ClusterClientBuilder, ClientError> {
    let mut tls = false;
    for url in urls {
        let info = url
            .as_str()
            .into_connection_info()
            .map_err(|_| ClientError::InvalidUrl)?;
        tls |= is_tls(&info);
    }
    let builder = ClusterClientBuilder::new(urls.to_vec());
    match root_ca {
        None => Ok(builder),
        Some(_) if !tls => Err(ClientError::CaWithoutTls),
        Some(path) => Ok(builder.certs(certificates(path)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_and_misplaced_ca_files_are_refused_without_echoing_the_url() {
        let err = open_client("redis://:s3cret@127.0.0.1:notaport", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "not a valid Redis URL (redis://, rediss://, redis+unix://)"
        );
        assert!(matches!(
            open_client("redis://127.0.0.1:6379", Some(Path::new("/nonexistent"))),
            Err(ClientError::CaWithoutTls)
        ));
        let missing = open_client(
            "rediss://localhost:6380",
            Some(Path::new("/nonexistent/ca.pem")),
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            missing.as_deref(),
            Some("cannot read the Redis CA file /nonexistent/ca.pem")
        );
        assert!(matches!(
            open_cluster(
                &["redis://127.0.0.1:7000".to_owned()],
                Some(Path::new("/x"))
            ),
            Err(ClientError::CaWithoutTls)
        ));
        assert!(open_client("rediss://localhost:6380", None).is_ok());
        assert!(open_client("redis+unix:///tmp/redis.sock", None).is_ok());
    }
}
