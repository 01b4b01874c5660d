//! A throwaway certificate authority and a server certificate it signed, for TLS tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// PEM files of a fresh test CA and of a server certificate it signed for `localhost`,
/// `127.0.0.1` and `::1`.
#[derive(Debug, Clone)]
pub struct TestCertificates {
    /// The CA certificate (what a client trusts: `sslrootcert`, `REDIS_CA_FILE`).
    pub ca_file: PathBuf,
    /// The server certificate.
    pub cert_file: PathBuf,
    /// The server's private key (mode 0600).
    pub key_file: PathBuf,
}

/// Generates the CA and the server certificate into `dir` (`ca.pem`, `server.pem`,
/// `server.key`). Panics on failure: this is test setup.
pub fn test_certificates(dir: &Path) -> TestCertificates {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(
        DnType::CommonName,
        format!("brokerdb test CA {}", crate::random_hex(4)),
    );
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("self-signed CA");

    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("parameters");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.subject_alt_names.extend([
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ]);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    // Client use too: Redis Cluster nodes present it to each other on the TLS cluster bus.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server certificate");

    let certs = TestCertificates {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
    };
    std::fs::write(&certs.ca_file, ca.pem()).expect("write ca.pem");
    std::fs::write(&certs.cert_file, cert.pem()).expect("write server.pem");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&certs.key_file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, key.serialize_pem().as_bytes()))
        .expect("write server.key");
    certs
}
