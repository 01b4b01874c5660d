//! The embedded servers are reachable on their Unix sockets only: no TCP listener, socket
//! directories of mode 0700 owned by the server's user, no `host` line in `pg_hba.conf`.

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use brokerdb_embedded::{EmbeddedPostgres, EmbeddedRedis};

use crate::{TestResult, data_dir, postgres_options, redis_options, send_unix};

/// The TCP ports process `pid` listens on (IPv4 and IPv6), from its socket inodes and
/// `/proc/net/tcp{,6}`.
fn tcp_listen_ports(pid: u32) -> std::io::Result<Vec<u16>> {
    let mut inodes = HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let target = std::fs::read_link(fd?.path())?;
        if let Some(inode) = target
            .to_str()
            .and_then(|t| t.strip_prefix("socket:["))
            .and_then(|t| t.strip_suffix(']'))
        {
            inodes.insert(inode.to_owned());
        }
    }
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)?.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is fields[1] (ADDR:PORT in hex), st is fields[3] (0A = LISTEN),
            // inode is fields[9].
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap_or("0");
                ports.push(u16::from_str_radix(port, 16).unwrap_or(0));
            }
        }
    }
    Ok(ports)
}

fn mode(path: &Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// The owner of process `pid` (the user the server runs as).
fn process_uid(pid: u32) -> std::io::Result<u32> {
    Ok(std::fs::metadata(format!("/proc/{pid}"))?.uid())
}

#[test]
fn the_listener_check_sees_a_listener() -> TestResult {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    assert!(tcp_listen_ports(std::process::id())?.contains(&port));
    Ok(())
}

#[tokio::test]
async fn postgres_listens_on_a_private_socket_only_even_for_an_old_trusting_cluster() -> TestResult
{
    let dir = data_dir()?;
    let opts = postgres_options(&dir);
    let mut pg = EmbeddedPostgres::start(&opts).await?;
    let check = |pg: &EmbeddedPostgres| -> TestResult {
        let pid = pg.pid().ok_or("not running")?;
        assert_eq!(tcp_listen_ports(pid)?, Vec::<u16>::new(), "a TCP listener");
        let socket_dir = pg.socket_dir();
        assert!(socket_dir.starts_with(std::fs::canonicalize(dir.path())?));
        assert_eq!(mode(socket_dir)?, 0o700);
        assert_eq!(std::fs::metadata(socket_dir)?.uid(), process_uid(pid)?);
        assert_eq!(mode(&socket_dir.join(".s.PGSQL.5432"))?, 0o700);
        let hba = std::fs::read_to_string(pg.cluster_dir().join("pg_hba.conf"))?;
        let rules: Vec<&str> = hba
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        assert_eq!(rules, ["local all all trust"], "{hba}");
        assert_eq!(mode(&pg.cluster_dir().join("pg_hba.conf"))?, 0o600);
        Ok(())
    };
    check(&pg)?;
    let (client, conn) = pg.config("postgres").connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let listen: String = client
        .query_one("SELECT current_setting('listen_addresses')", &[])
        .await?
        .get(0);
    assert_eq!(listen, "");
    drop(client);

    // A cluster from before (initdb --auth=trust: trust on loopback TCP) is started with the
    // same rules: pg_hba.conf is rewritten at every start.
    pg.stop()?;
    let hba = pg.cluster_dir().join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n",
    )?;
    std::fs::set_permissions(pg.socket_dir(), std::fs::Permissions::from_mode(0o777))?;
    let pg = EmbeddedPostgres::start(&opts).await?;
    assert!(!pg.initialised_now());
    check(&pg)?;
    Ok(())
}

#[tokio::test]
async fn redis_listens_on_a_private_socket_only() -> TestResult {
    let dir = data_dir()?;
    let redis = EmbeddedRedis::start(&redis_options(&dir)).await?;
    let pid = redis.pid().ok_or("not running")?;
    assert_eq!(tcp_listen_ports(pid)?, Vec::<u16>::new(), "a TCP listener");
    let socket = redis.socket_path().ok_or("no socket")?;
    let socket_dir = socket.parent().ok_or("no socket directory")?;
    assert!(socket_dir.starts_with(std::fs::canonicalize(dir.path())?));
    assert_eq!(mode(socket_dir)?, 0o700);
    assert_eq!(std::fs::metadata(socket_dir)?.uid(), process_uid(pid)?);
    assert_eq!(mode(socket)?, 0o700);
    let port = send_unix(socket, b"CONFIG GET port\r\n", b"\r\n0\r\n").await?;
    assert_eq!(port, b"*2\r\n$4\r\nport\r\n$1\r\n0\r\n");
    Ok(())
}
