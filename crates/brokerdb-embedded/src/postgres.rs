//! A private PostgreSQL cluster.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::EmbeddedError;
use crate::binaries::PostgresBinaries;
use crate::process::{free_port, log_tail, log_to, spawn, stop};
use crate::run_as::{RunAs, private_dir, private_file, random_secret};

/// The superuser `initdb` creates. It authenticates with `trust` on the Unix socket only, whose
/// directory (mode 0700) only the server's user can enter.
pub const SUPERUSER: &str = "postgres";

/// The port number in the socket's file name (`.s.PGSQL.5432`) when nothing listens on TCP.
pub const SOCKET_PORT: u16 = 5432;

/// Longest Unix socket path Linux accepts (`sun_path` is 108 bytes with the NUL).
pub(crate) const MAX_SOCKET_PATH: usize = 107;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(30);

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Root data directory; the cluster lives in `<data_dir>/postgres`, its socket in
    /// `<data_dir>/postgres-socket/`, its log in `<data_dir>/postgres.log`.
    pub data_dir: PathBuf,
    /// `false` turns off fsync and full-page writes: fast, but a crash of the machine can lose
    /// the cluster. For tests only.
    pub durable: bool,
    /// The `PATH` to search for `initdb` and `postgres` (the caller's environment).
    pub path_var: Option<OsString>,
    /// Also listen on a loopback TCP port with TLS only (for tests of encrypted connections).
    pub tls: Option<PostgresTls>,
}

/// A TLS listener on loopback: `ssl=on` with this certificate, `hostssl` lines only in
/// `pg_hba.conf` (a plaintext TCP connection is refused), and SCRAM authentication with a
/// password generated at each start.
#[derive(Debug, Clone)]
pub struct PostgresTls {
    /// Server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
}

impl PostgresOptions {
    /// Durable cluster under `data_dir`, binaries searched on `path_var` then in the Debian layout;
    /// reachable on its Unix socket only.
    pub fn new(data_dir: impl Into<PathBuf>, path_var: Option<OsString>) -> Self {
        Self {
            data_dir: data_dir.into(),
            durable: true,
            path_var,
            tls: None,
        }
    }
}

/// The loopback TLS listener of a cluster started with [`PostgresOptions::tls`].
#[derive(Debug, Clone)]
struct TlsListener {
    port: u16,
    password: String,
}

/// A running PostgreSQL server; stopped (fast shutdown) when dropped.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    child: Option<Child>,
    socket_dir: PathBuf,
    /// The number in the socket's file name: [`SOCKET_PORT`], or the TLS port when there is one.
    port: u16,
    cluster_dir: PathBuf,
    log_path: PathBuf,
    initialised_now: bool,
    tls: Option<TlsListener>,
}

impl EmbeddedPostgres {
    /// Initialises the cluster if `<data_dir>/postgres` holds none, starts the server on its
    /// Unix socket (and, with [`PostgresOptions::tls`], a loopback TLS port) and waits until it
    /// answers a query.
    pub async fn start(opts: &PostgresOptions) -> Result<Self, EmbeddedError> {
        let bins = PostgresBinaries::find(opts.path_var.as_deref())?;
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(EmbeddedError::io("create", &opts.data_dir))?;
        let data_dir = std::fs::canonicalize(&opts.data_dir)
            .map_err(EmbeddedError::io("resolve", &opts.data_dir))?;
        let cluster_dir = data_dir.join("postgres");
        let socket_dir = data_dir.join("postgres-socket");
        let log_path = data_dir.join("postgres.log");
        // The longest name the socket can get (with a TLS port, the port names it).
        let socket = socket_dir.join(format!(".s.PGSQL.{}", u16::MAX));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong {
                path: socket,
                max: MAX_SOCKET_PATH,
            });
        }
        let run_as = RunAs::for_postgres()?;
        let initialised_now = !cluster_dir.join("PG_VERSION").exists();
        if initialised_now {
            initdb(
                &bins,
                &cluster_dir,
                &log_path,
                run_as.as_ref(),
                opts.durable,
            )?;
        } else if let Some(user) = &run_as {
            user.prepare_owned_dir(&cluster_dir)?;
        }
        private_dir(&socket_dir, run_as.as_ref())?;
        if let Some(tls) = &opts.tls {
            install_certificate(tls, &cluster_dir, run_as.as_ref())?;
        }
        // Written at every start, so a cluster initialised by an older version (trust on
        // loopback TCP) gets the same rules.
        private_file(
            &cluster_dir.join("pg_hba.conf"),
            hba(opts.tls.is_some()).as_bytes(),
            run_as.as_ref(),
        )?;
        let server = Server {
            bins: &bins,
            cluster_dir: &cluster_dir,
            socket_dir: &socket_dir,
            log_path: &log_path,
            run_as: run_as.as_ref(),
            durable: opts.durable,
        };
        // A port picked as free can be taken before the server binds it: try a few (only the
        // TLS listener has a port).
        let mut last_err = None;
        for _ in 0..3 {
            let tls_port = match opts.tls {
                Some(_) => Some(
                    free_port().map_err(EmbeddedError::io("find a free port for", &cluster_dir))?,
                ),
                None => None,
            };
            let child = server.start(tls_port)?;
            let mut pg = Self {
                child: Some(child),
                socket_dir: socket_dir.clone(),
                port: tls_port.unwrap_or(SOCKET_PORT),
                cluster_dir: cluster_dir.clone(),
                log_path: log_path.clone(),
                initialised_now,
                tls: None,
            };
            match pg.wait_ready().await {
                Ok(()) => {
                    if let Some(port) = tls_port {
                        pg.tls = Some(TlsListener {
                            port,
                            password: pg.set_superuser_password().await?,
                        });
                    }
                    tracing::info!(socket = %socket_dir.display(), tls_port, dir = %cluster_dir.display(), reused = !initialised_now, "embedded PostgreSQL ready");
                    return Ok(pg);
                }
                Err(e @ EmbeddedError::StartFailed { .. })
                    if e.to_string().contains("could not bind") =>
                {
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(EmbeddedError::NotReady {
            service: "postgres",
            seconds: 0,
            log: log_path,
        }))
    }

    async fn wait_ready(&mut self) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let cfg = self.config("postgres");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                self.child = None;
                return Err(EmbeddedError::StartFailed {
                    service: "postgres",
                    tail: log_tail(&self.log_path, 6),
                    log: self.log_path.clone(),
                });
            }
            let attempt =
                tokio::time::timeout(Duration::from_secs(2), cfg.connect(tokio_postgres::NoTls))
                    .await;
            if let Ok(Ok((client, connection))) = attempt {
                let conn = tokio::spawn(connection);
                let ok = client.simple_query("SELECT 1").await.is_ok();
                drop(client);
                let _ = conn.await;
                if ok {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::NotReady {
                    service: "postgres",
                    seconds: READY_TIMEOUT.as_secs(),
                    log: self.log_path.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Gives the superuser a new random password (for the TLS listener, whose `hostssl` lines
    /// ask for SCRAM) and returns it. Only the SCRAM verifier is sent, never the password.
    async fn set_superuser_password(&self) -> Result<String, EmbeddedError> {
        let failed = |e: tokio_postgres::Error| EmbeddedError::SetupFailed {
            service: "postgres",
            reason: format!("setting the superuser password failed: {e}"),
        };
        let password = random_secret();
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let (client, connection) = self
            .config("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(failed)?;
        let conn = tokio::spawn(connection);
        // The verifier is base64 and `$`/`:` only: safe in a quoted literal.
        let result = client
            .batch_execute(&format!("ALTER ROLE \"{SUPERUSER}\" PASSWORD '{verifier}'"))
            .await;
        drop(client);
        let _ = conn.await;
        result.map_err(failed)?;
        Ok(password)
    }

    /// The directory holding the server's Unix socket; mode 0700.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The number in the socket file's name (`.s.PGSQL.<port>`, what `psql -h <dir> -p <port>`
    /// and `pgbench` take): [`SOCKET_PORT`], or the TLS port when there is one.
    pub fn socket_port(&self) -> u16 {
        self.port
    }

    /// The loopback TLS port, when started with [`PostgresOptions::tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|t| t.port)
    }

    /// True when this start created the cluster (`initdb` ran); false when it reused one.
    pub fn initialised_now(&self) -> bool {
        self.initialised_now
    }

    /// The cluster's data directory.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Superuser connection settings for database `dbname`, over the Unix socket.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(&self.socket_dir)
            .port(self.port)
            .user(SUPERUSER)
            .dbname(dbname);
        cfg.connect_timeout(Duration::from_secs(5));
        cfg
    }

    /// Superuser connection URL for database `dbname`, over the Unix socket
    /// (`postgres://postgres@%2Fpath%2Fto%2Fpostgres-socket:5432/<dbname>`).
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@{}:{}/{dbname}",
            percent_encode(self.socket_dir.as_os_str().as_encoded_bytes()),
            self.port
        )
    }

    /// Superuser URL of the TLS listener for database `dbname`, with the generated password and
    /// host `localhost` (`postgres://postgres:<password>@localhost:<port>/<dbname>`), when
    /// started with [`PostgresOptions::tls`]. Add `?sslmode=…` as needed.
    pub fn tls_url(&self, dbname: &str) -> Option<String> {
        self.tls.as_ref().map(|t| {
            format!(
                "postgres://{SUPERUSER}:{}@localhost:{}/{dbname}",
                t.password, t.port
            )
        })
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server (fast shutdown: open transactions roll back) and waits for it to exit.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, Signal::SIGINT, STOP_GRACE)
                .map_err(EmbeddedError::io("stop postgres in", &self.cluster_dir))?;
            tracing::info!(dir = %self.cluster_dir.display(), "embedded PostgreSQL stopped");
        }
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping embedded PostgreSQL");
        }
    }
}

fn as_user(cmd: &mut Command, run_as: Option<&RunAs>) {
    if let Some(user) = run_as {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        // initdb looks up the current user's name; give it a home it can read.
        cmd.env("HOME", "/tmp").env("USER", &user.name);
    }
}

fn initdb(
    bins: &PostgresBinaries,
    cluster_dir: &Path,
    log_path: &Path,
    run_as: Option<&RunAs>,
    durable: bool,
) -> Result<(), EmbeddedError> {
    if cluster_dir.exists() {
        let empty = std::fs::read_dir(cluster_dir)
            .map_err(EmbeddedError::io("read", cluster_dir))?
            .next()
            .is_none();
        if !empty {
            return Err(EmbeddedError::NotADataDirectory {
                path: cluster_dir.to_path_buf(),
            });
        }
    }
    match run_as {
        Some(user) => user.prepare_owned_dir(cluster_dir)?,
        None => std::fs::create_dir_all(cluster_dir)
            .map_err(EmbeddedError::io("create", cluster_dir))?,
    }
    let mut cmd = Command::new(&bins.initdb);
    cmd.arg("-D").arg(cluster_dir).args([
        "-U",
        SUPERUSER,
        // Trust on the Unix socket only (its directory is private to the server's user); TCP is
        // refused even before pg_hba.conf is rewritten at start.
        "--auth-local=trust",
        "--auth-host=reject",
        "--encoding=UTF8",
        "--locale=C",
    ]);
    log_to(&mut cmd, log_path)?;
    if !durable {
        cmd.arg("--no-sync");
    }
    as_user(&mut cmd, run_as);
    tracing::info!(dir = %cluster_dir.display(), "initialising embedded PostgreSQL cluster");
    let status = spawn(cmd, Signal::SIGKILL)
        .and_then(|mut c| c.wait())
        .map_err(EmbeddedError::io("run initdb for", cluster_dir))?;
    if !status.success() {
        return Err(EmbeddedError::StartFailed {
            service: "initdb",
            tail: log_tail(log_path, 6),
            log: log_path.to_path_buf(),
        });
    }
    Ok(())
}

/// `pg_hba.conf`: trust on the Unix socket; with TLS, SCRAM over TLS on loopback and nothing
/// else (a plaintext TCP connection matches no line and is refused).
fn hba(tls: bool) -> String {
    let mut hba = String::from(
        "# Written by brokerdb-embedded at every start; edits are overwritten.\n\
         # The socket directory is mode 0700: only the server's user (and root) can connect.\n\
         local all all trust\n",
    );
    if tls {
        hba.push_str(
            "hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostssl all all ::1/128 scram-sha-256\n",
        );
    }
    hba
}

/// Copies the TLS certificate and key into the cluster directory, owned by the server's user
/// with mode 0600 (PostgreSQL refuses a key others can read).
fn install_certificate(
    tls: &PostgresTls,
    cluster_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<(), EmbeddedError> {
    for (from, to) in [
        (&tls.cert_file, TLS_CERT_FILE),
        (&tls.key_file, TLS_KEY_FILE),
    ] {
        let pem = std::fs::read(from).map_err(EmbeddedError::io("read", from))?;
        private_file(&cluster_dir.join(to), &pem, run_as)?;
    }
    Ok(())
}

const TLS_CERT_FILE: &str = "brokerdb-tls.crt";
const TLS_KEY_FILE: &str = "brokerdb-tls.key";

/// What every start of one cluster shares.
struct Server<'a> {
    bins: &'a PostgresBinaries,
    cluster_dir: &'a Path,
    socket_dir: &'a Path,
    log_path: &'a Path,
    run_as: Option<&'a RunAs>,
    durable: bool,
}

impl Server<'_> {
    /// Starts `postgres` on the Unix socket only, or with `tls_port` also on loopback TCP with
    /// TLS.
    fn start(&self, tls_port: Option<u16>) -> Result<Child, EmbeddedError> {
        let mut cmd = Command::new(&self.bins.postgres);
        cmd.arg("-D")
            .arg(self.cluster_dir)
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.socket_dir.display()
            ))
            .args(["-c", "unix_socket_permissions=0700"])
            .args(["-c", "max_connections=200"]);
        match tls_port {
            None => {
                cmd.args(["-c", "listen_addresses=", "-p", &SOCKET_PORT.to_string()]);
            }
            Some(port) => {
                // The socket file is named after the port, and the directory is private.
                cmd.args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
                    .args(["-c", "ssl=on"])
                    .args(["-c", &format!("ssl_cert_file={TLS_CERT_FILE}")])
                    .args(["-c", &format!("ssl_key_file={TLS_KEY_FILE}")]);
            }
        }
        log_to(&mut cmd, self.log_path)?;
        if !self.durable {
            cmd.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        as_user(&mut cmd, self.run_as);
        // SIGINT = fast shutdown should this process die without stopping the server.
        spawn(cmd, Signal::SIGINT)
            .map_err(EmbeddedError::io("start postgres for", self.cluster_dir))
    }
}

/// Percent-encodes every byte of a path except unreserved characters (a socket directory as a
/// URL host).
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
