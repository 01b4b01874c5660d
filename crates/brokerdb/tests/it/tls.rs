//! TLS to PostgreSQL against a private cluster with `ssl=on`, a certificate from a throwaway CA
//! and a `hostssl`-only `pg_hba.conf` (never the machine's shared server).

use brokerdb::conninfo::ConnInfo;
use brokerdb::db::pool;
use brokerdb_embedded::{EmbeddedPostgres, PostgresOptions, PostgresTls};
use brokerdb_testkit::tls::{TestCertificates, test_certificates};
use tokio::sync::OnceCell;

use crate::TestResult;

struct TlsServer {
    certs: TestCertificates,
    pg: EmbeddedPostgres,
}

/// One TLS cluster for this test binary (it dies with the process).
static SERVER: OnceCell<TlsServer> = OnceCell::const_new();

async fn server() -> Result<&'static TlsServer, String> {
    SERVER
        .get_or_try_init(|| async {
            // A static is never dropped: a directory the testkit sweeps after this process.
            let dir = brokerdb_testkit::process_dir("tls-postgres");
            let certs = test_certificates(&dir);
            let mut opts = PostgresOptions::new(dir.join("data"), std::env::var_os("PATH"));
            opts.durable = false;
            opts.tls = Some(PostgresTls {
                cert_file: certs.cert_file.clone(),
                key_file: certs.key_file.clone(),
            });
            let pg = EmbeddedPostgres::start(&opts)
                .await
                .map_err(|e| format!("the TLS cluster did not start: {e}"))?;
            Ok(TlsServer { certs, pg })
        })
        .await
}

/// The server's TLS URL with `query` appended.
async fn url(query: &str) -> Result<String, String> {
    let base = server()
        .await?
        .pg
        .tls_url("postgres")
        .ok_or("started without TLS")?;
    Ok(format!("{base}{query}"))
}

fn ca(s: &TlsServer) -> String {
    s.certs.ca_file.display().to_string()
}

/// An error and all its sources on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

async fn encrypted(info: &ConnInfo) -> Result<bool, Box<dyn std::error::Error>> {
    let client = info.connect().await.map_err(|e| chain(&e))?;
    Ok(client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?
        .get(0))
}

async fn refusal(url: &str) -> String {
    match ConnInfo::parse(url) {
        Ok(info) => match info.connect().await {
            Ok(_) => String::new(),
            Err(e) => chain(&e),
        },
        Err(e) => format!("parse: {}", chain(&e)),
    }
}

#[tokio::test]
async fn tls_require_connects_encrypted_directly_and_through_the_pool() -> TestResult {
    let info = ConnInfo::parse(&url("?sslmode=require").await?)?;
    assert!(encrypted(&info).await?);
    let pool = pool::build(&info, 1)?;
    let client = pool.get().await?;
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?
        .get(0);
    assert!(ssl, "a pooled connection is not encrypted");
    Ok(())
}

#[tokio::test]
async fn tls_prefer_the_default_uses_tls_when_the_server_offers_it() -> TestResult {
    assert!(encrypted(&ConnInfo::parse(&url("").await?)?).await?);
    Ok(())
}

#[tokio::test]
async fn tls_verify_full_with_the_ca_file_connects() -> TestResult {
    let s = server().await?;
    let info =
        ConnInfo::parse(&url(&format!("?sslmode=verify-full&sslrootcert={}", ca(s))).await?)?;
    assert!(encrypted(&info).await?);
    // An address is checked against the certificate's IP entries.
    let by_ip = url(&format!("?sslmode=verify-full&sslrootcert={}", ca(s)))
        .await?
        .replace("@localhost:", "@127.0.0.1:");
    assert!(encrypted(&ConnInfo::parse(&by_ip)?).await?);
    Ok(())
}

#[tokio::test]
async fn tls_verify_full_against_the_system_roots_is_refused_with_a_clear_error() -> TestResult {
    let url = url("?sslmode=verify-full").await?;
    let err = refusal(&url).await;
    assert!(
        err.contains(
            "the server's certificate is not signed by a CA in the system roots (for a private CA, \
             give it with sslrootcert=<file>)"
        ),
        "{err}"
    );
    let password = url
        .split(':')
        .nth(2)
        .and_then(|s| s.split('@').next())
        .ok_or("no password in the URL")?;
    assert!(
        !err.contains(password),
        "the error shows the password: {err}"
    );
    // The same with sslrootcert=system spelled out.
    let err = refusal(&url.replace("sslmode=verify-full", "sslrootcert=system")).await;
    assert!(
        err.contains("not signed by a CA in the system roots"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn tls_verify_full_checks_the_host_name_and_verify_ca_does_not() -> TestResult {
    let s = server().await?;
    // The name is what the certificate is checked against; hostaddr is where to connect.
    let base = url(&format!("?hostaddr=127.0.0.1&sslrootcert={}", ca(s)))
        .await?
        .replace("@localhost:", "@db.invalid:");
    let elsewhere = |mode: &str| format!("{base}&sslmode={mode}");
    let err = refusal(&elsewhere("verify-full")).await;
    assert!(err.contains("not valid for name"), "{err}");
    assert!(encrypted(&ConnInfo::parse(&elsewhere("verify-ca"))?).await?);
    // require with a root certificate checks the chain (libpq): a foreign CA is refused.
    let other = tempfile::tempdir()?;
    let foreign = test_certificates(other.path());
    let err = refusal(
        &url(&format!(
            "?sslmode=require&sslrootcert={}",
            foreign.ca_file.display()
        ))
        .await?,
    )
    .await;
    assert!(
        err.contains("not signed by a CA in the sslrootcert file"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn tls_sslmode_disable_is_refused_by_a_hostssl_only_server() -> TestResult {
    let err = refusal(&url("?sslmode=disable").await?).await;
    assert!(err.contains("no pg_hba.conf entry"), "{err}");
    assert!(err.contains("no encryption"), "{err}");
    Ok(())
}
