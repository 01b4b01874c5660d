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
use crate::run_as::RunAs;

/// The superuser `initdb` creates; it authenticates with `trust` on loopback only.
pub const SUPERUSER: &str = "postgres";

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(30);

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Root data directory; the cluster lives in `<data_dir>/postgres`, its log in
    /// `<data_dir>/postgres.log`.
    pub data_dir: PathBuf,
    /// `false` turns off fsync and full-page writes: fast, but a crash of the machine can lose
    /// the cluster. For tests only.
    pub durable: bool,
    /// The `PATH` to search for `initdb` and `postgres` (the caller's environment).
    pub path_var: Option<OsString>,
}

impl PostgresOptions {
    /// Durable cluster under `data_dir`, binaries searched on `path_var` then in the Debian layout.
    pub fn new(data_dir: impl Into<PathBuf>, path_var: Option<OsString>) -> Self {
        Self {
            data_dir: data_dir.into(),
            durable: true,
            path_var,
        }
    }
}

/// A running PostgreSQL server; stopped (fast shutdown) when dropped.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    child: Option<Child>,
    port: u16,
    cluster_dir: PathBuf,
    log_path: PathBuf,
    initialised_now: bool,
}

impl EmbeddedPostgres {
    /// Initialises the cluster if `<data_dir>/postgres` holds none, starts the server on a free
    /// loopback port and waits until it answers a query.
    pub async fn start(opts: &PostgresOptions) -> Result<Self, EmbeddedError> {
        let bins = PostgresBinaries::find(opts.path_var.as_deref())?;
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(EmbeddedError::io("create", &opts.data_dir))?;
        let data_dir = std::fs::canonicalize(&opts.data_dir)
            .map_err(EmbeddedError::io("resolve", &opts.data_dir))?;
        let cluster_dir = data_dir.join("postgres");
        let log_path = data_dir.join("postgres.log");
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
        // A port picked as free can be taken before the server binds it: try a few.
        let mut last_err = None;
        for _ in 0..3 {
            let port =
                free_port().map_err(EmbeddedError::io("find a free port for", &cluster_dir))?;
            let child = start_server(
                &bins,
                &cluster_dir,
                &log_path,
                run_as.as_ref(),
                port,
                opts.durable,
            )?;
            let mut pg = Self {
                child: Some(child),
                port,
                cluster_dir: cluster_dir.clone(),
                log_path: log_path.clone(),
                initialised_now,
            };
            match pg.wait_ready().await {
                Ok(()) => {
                    tracing::info!(port, dir = %cluster_dir.display(), reused = !initialised_now, "embedded PostgreSQL ready");
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

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when this start created the cluster (`initdb` ran); false when it reused one.
    pub fn initialised_now(&self) -> bool {
        self.initialised_now
    }

    /// The cluster's data directory.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Superuser connection settings for database `dbname`.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .dbname(dbname);
        cfg.connect_timeout(Duration::from_secs(5));
        cfg
    }

    /// Superuser connection URL for database `dbname`.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{dbname}", self.port)
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
        "--auth=trust",
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

fn start_server(
    bins: &PostgresBinaries,
    cluster_dir: &Path,
    log_path: &Path,
    run_as: Option<&RunAs>,
    port: u16,
    durable: bool,
) -> Result<Child, EmbeddedError> {
    let mut cmd = Command::new(&bins.postgres);
    cmd.arg("-D")
        .arg(cluster_dir)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k", ""])
        .args(["-c", "max_connections=200"]);
    log_to(&mut cmd, log_path)?;
    if !durable {
        cmd.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    as_user(&mut cmd, run_as);
    // SIGINT = fast shutdown should this process die without stopping the server.
    spawn(cmd, Signal::SIGINT).map_err(EmbeddedError::io("start postgres for", cluster_dir))
}
