//! Integration tests: real PostgreSQL and redis-server processes from this machine's binaries.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use brokerdb_embedded::{
    EmbeddedPostgres, EmbeddedRedis, EmbeddedRedisCluster, PostgresOptions, RedisOptions,
};

mod local_only;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A temporary directory the `postgres` user can enter when tests run as root.
fn data_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

fn redis_options(dir: &tempfile::TempDir) -> RedisOptions {
    RedisOptions::new(dir.path(), std::env::var_os("PATH"))
}

fn postgres_options(dir: &tempfile::TempDir) -> PostgresOptions {
    let mut opts = PostgresOptions::new(dir.path(), std::env::var_os("PATH"));
    opts.durable = false;
    opts
}

async fn query_one_i64(
    cfg: &tokio_postgres::Config,
    sql: &str,
) -> Result<i64, tokio_postgres::Error> {
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client.query_one(sql, &[]).await?.get(0))
}

#[tokio::test]
async fn postgres_data_survives_a_restart_and_the_cluster_is_reused() -> TestResult {
    let dir = data_dir()?;
    let opts = postgres_options(&dir);

    let mut pg = EmbeddedPostgres::start(&opts).await?;
    assert!(pg.initialised_now());
    let cfg = pg.config("postgres");
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE kept (n bigint); INSERT INTO kept VALUES (42)")
        .await?;
    drop(client);
    let socket = pg.socket_dir().join(".s.PGSQL.5432");
    assert!(socket.exists());
    pg.stop()?;
    assert!(
        tokio::net::UnixStream::connect(&socket).await.is_err(),
        "the server still accepts connections after stop"
    );

    let pg = EmbeddedPostgres::start(&opts).await?;
    assert!(
        !pg.initialised_now(),
        "a second start must reuse the cluster"
    );
    assert_eq!(
        query_one_i64(&pg.config("postgres"), "SELECT n FROM kept").await?,
        42
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_handle_stops_postgres() -> TestResult {
    let dir = data_dir()?;
    let pg = EmbeddedPostgres::start(&postgres_options(&dir)).await?;
    let socket = pg.socket_dir().join(".s.PGSQL.5432");
    assert_eq!(
        query_one_i64(&pg.config("postgres"), "SELECT 7::bigint").await?,
        7
    );
    drop(pg);
    assert!(tokio::net::UnixStream::connect(&socket).await.is_err());
    assert!(
        !dir.path().join("postgres/postmaster.pid").exists(),
        "fast shutdown removes the pid file"
    );
    Ok(())
}

#[tokio::test]
async fn a_directory_holding_something_else_is_refused_with_a_clear_error() -> TestResult {
    let dir = data_dir()?;
    std::fs::create_dir_all(dir.path().join("postgres"))?;
    std::fs::write(dir.path().join("postgres/notes.txt"), "not a cluster")?;
    let opts = PostgresOptions::new(dir.path(), std::env::var_os("PATH"));
    let err = EmbeddedPostgres::start(&opts)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.ends_with("is not empty and is not a PostgreSQL data directory"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn redis_answers_and_stops() -> TestResult {
    let dir = data_dir()?;
    let opts = redis_options(&dir);
    let mut redis = EmbeddedRedis::start(&opts).await?;
    let socket = redis.socket_path().ok_or("no socket")?.to_path_buf();
    assert_eq!(redis.port(), None);
    assert_eq!(
        redis.url(),
        format!("redis+unix://{}", socket.display()),
        "a temporary path needs no escaping"
    );
    let mut stream = tokio::net::UnixStream::connect(&socket).await?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(b"SET k v\r\nGET k\r\n").await?;
    let mut buf = vec![0u8; 64];
    let mut got = Vec::new();
    while !got.ends_with(b"v\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await??;
        assert!(n > 0, "connection closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"+OK\r\n$1\r\nv\r\n");
    redis.stop()?;
    assert!(tokio::net::UnixStream::connect(&socket).await.is_err());
    Ok(())
}

async fn send(
    port: u16,
    request: &[u8],
    until: &[u8],
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    exchange(stream, request, until).await
}

async fn send_unix(
    socket: &std::path::Path,
    request: &[u8],
    until: &[u8],
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    exchange(stream, request, until).await
}

async fn exchange(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    request: &[u8],
    until: &[u8],
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await?;
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(until.len()).any(|w| w == until) {
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await??;
        assert!(n > 0, "connection closed early");
        got.extend_from_slice(&buf[..n]);
    }
    Ok(got)
}

#[tokio::test]
async fn redis_restarts_on_the_same_socket() -> TestResult {
    let dir = data_dir()?;
    let opts = redis_options(&dir);
    let mut redis = EmbeddedRedis::start(&opts).await?;
    let url = redis.url();
    let socket = redis.socket_path().ok_or("no socket")?.to_path_buf();
    redis.stop()?;
    assert!(tokio::net::UnixStream::connect(&socket).await.is_err());
    redis.restart().await?;
    assert_eq!(redis.url(), url);
    assert_eq!(
        send_unix(&socket, b"PING\r\n", b"\r\n").await?,
        b"+PONG\r\n"
    );
    Ok(())
}

#[tokio::test]
async fn a_three_master_cluster_serves_every_slot_and_stops() -> TestResult {
    let dir = data_dir()?;
    let opts = redis_options(&dir);
    let mut cluster = EmbeddedRedisCluster::start(&opts, 3).await?;
    let ports = cluster.ports();
    assert_eq!(ports.len(), 3);
    let info = send(ports[0], b"CLUSTER INFO\r\n", b"cluster_known_nodes").await?;
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    assert!(info.contains("cluster_size:3"), "{info}");
    cluster.stop()?;
    for port in ports {
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        );
    }
    Ok(())
}
