//! A private, durable PostgreSQL cluster for the fault and restore tests: its own data directory
//! and Unix socket, never the shared server of `DATABASE_URL`, so it can be killed and restored
//! into freely.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use brokerdb_embedded::{EmbeddedPostgres, PostgresOptions};

use crate::TestResult;

/// How long a restart may keep failing while the killed server's processes are still exiting.
const RESTART_LIMIT: Duration = Duration::from_secs(30);

/// A cluster under a temporary directory, stopped and removed when dropped.
pub struct PrivateCluster {
    /// The running server (replaced by [`PrivateCluster::kill_and_restart`]).
    pub pg: EmbeddedPostgres,
    opts: PostgresOptions,
    // Declared last: removed after the server has stopped.
    _dir: tempfile::TempDir,
}

impl PrivateCluster {
    /// Initialises and starts a cluster. `durable`: fsync and synchronous commit on, as in
    /// production (what a crash test needs: an acknowledged commit is on disk).
    pub async fn start(durable: bool) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        // The cluster runs as the `postgres` user when the tests run as root.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let mut opts = PostgresOptions::new(dir.path(), std::env::var_os("PATH"));
        opts.durable = durable;
        let pg = EmbeddedPostgres::start(&opts).await?;
        Ok(Self {
            pg,
            opts,
            _dir: dir,
        })
    }

    /// Creates database `name` (owned by the superuser, as `createdb` would) and returns a
    /// superuser connection to it.
    pub async fn create_database(
        &self,
        name: &str,
    ) -> Result<tokio_postgres::Client, Box<dyn std::error::Error>> {
        let admin = self.connect("postgres").await?;
        // `name` is a test's own constant or a testkit database name (hex): safe to quote.
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        self.connect(name).await
    }

    /// A superuser connection to database `name`, driven on the current runtime.
    pub async fn connect(
        &self,
        name: &str,
    ) -> Result<tokio_postgres::Client, Box<dyn std::error::Error>> {
        let (client, conn) = self.pg.config(name).connect(tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// The postmaster's pid, read from `postmaster.pid` (its first line).
    pub fn postmaster_pid(&self) -> Result<i32, Box<dyn std::error::Error>> {
        let text = std::fs::read_to_string(self.pg.cluster_dir().join("postmaster.pid"))?;
        Ok(text.lines().next().unwrap_or_default().trim().parse()?)
    }

    /// `kill -9` of the postmaster: no shutdown, no checkpoint; its backends notice it is gone
    /// and exit.
    pub fn kill_postmaster(&mut self) -> TestResult {
        let pid = self.postmaster_pid()?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        // Reap it (it is our child): a zombie's pid still looks alive to the next postmaster's
        // lock-file check.
        self.pg.stop()?;
        Ok(())
    }

    /// Starts the server again on the same data directory and socket, retrying while the killed
    /// server's backends still hold its shared memory; returns how long that took. PostgreSQL
    /// replays its WAL (crash recovery) before it accepts connections.
    pub async fn restart(&mut self) -> Result<Duration, Box<dyn std::error::Error>> {
        let started = Instant::now();
        loop {
            match EmbeddedPostgres::start(&self.opts).await {
                Ok(pg) => {
                    self.pg = pg;
                    return Ok(started.elapsed());
                }
                Err(e) if started.elapsed() < RESTART_LIMIT => {
                    eprintln!("restart not possible yet ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
