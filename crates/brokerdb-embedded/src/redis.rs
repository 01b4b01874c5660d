//! A private redis-server.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::EmbeddedError;
use crate::process::{free_port, log_tail, log_to, spawn, stop};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// How to start redis-server.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Root data directory; redis works in `<data_dir>/redis` (nothing is persisted) and logs to
    /// `<data_dir>/redis.log`.
    pub data_dir: PathBuf,
    /// The `PATH` to search for `redis-server` (the caller's environment).
    pub path_var: Option<OsString>,
}

/// A running redis-server; shut down when dropped.
#[derive(Debug)]
pub struct EmbeddedRedis {
    child: Option<Child>,
    port: u16,
    log_path: PathBuf,
    binary: PathBuf,
    dir: PathBuf,
    extra: Vec<String>,
}

impl EmbeddedRedis {
    /// Starts redis-server on a free loopback port and waits until it answers PING.
    pub async fn start(opts: &RedisOptions) -> Result<Self, EmbeddedError> {
        Self::start_with(opts, "redis", &[]).await
    }

    /// Like [`Self::start`], in `<data_dir>/<name>` with `extra` arguments appended (the cluster
    /// nodes use it). A port lost to another process between probe and bind is retried.
    pub(crate) async fn start_with(
        opts: &RedisOptions,
        name: &str,
        extra: &[String],
    ) -> Result<Self, EmbeddedError> {
        let binary = crate::binaries::redis_server(opts.path_var.as_deref())?;
        let dir = opts.data_dir.join(name);
        std::fs::create_dir_all(&dir).map_err(EmbeddedError::io("create", &dir))?;
        let log_path = opts.data_dir.join(format!("{name}.log"));
        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port().map_err(EmbeddedError::io("find a free port for", &dir))?;
            let mut redis = Self {
                child: None,
                port,
                log_path: log_path.clone(),
                binary: binary.clone(),
                dir: dir.clone(),
                extra: extra.to_vec(),
            };
            match redis.spawn_and_wait().await {
                Ok(()) => {
                    tracing::info!(port, "embedded Redis ready");
                    return Ok(redis);
                }
                Err(e @ EmbeddedError::StartFailed { .. }) => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(EmbeddedError::NotReady {
            service: "redis-server",
            seconds: 0,
            log: log_path,
        }))
    }

    /// Starts the server again on the same port after [`Self::stop`] (clients that reconnect by
    /// themselves find it again). Does nothing while it runs.
    pub async fn restart(&mut self) -> Result<(), EmbeddedError> {
        if self.child.is_some() {
            return Ok(());
        }
        self.spawn_and_wait().await?;
        tracing::info!(port = self.port, "embedded Redis restarted");
        Ok(())
    }

    async fn spawn_and_wait(&mut self) -> Result<(), EmbeddedError> {
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--daemonize", "no", "--protected-mode", "yes"])
        .arg("--dir")
        .arg(&self.dir)
        .args(&self.extra);
        log_to(&mut cmd, &self.log_path)?;
        let child = spawn(cmd, Signal::SIGTERM)
            .map_err(EmbeddedError::io("start redis-server in", &self.dir))?;
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                self.child = None;
                return Err(EmbeddedError::StartFailed {
                    service: "redis-server",
                    tail: log_tail(&self.log_path, 4),
                    log: self.log_path.clone(),
                });
            }
            if command(self.port, b"PING\r\n", b"+PONG\r\n") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::NotReady {
                    service: "redis-server",
                    seconds: READY_TIMEOUT.as_secs(),
                    log: self.log_path.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection URL (`redis://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Shuts the server down and waits for it to exit.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        if let Some(mut child) = self.child.take() {
            stop(&mut child, Signal::SIGTERM, Duration::from_secs(10)).map_err(
                EmbeddedError::io("stop redis-server logging to", &self.log_path),
            )?;
            tracing::info!("embedded Redis stopped");
        }
        Ok(())
    }
}

impl Drop for EmbeddedRedis {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping embedded Redis");
        }
    }
}

/// Sends one inline `request` to the server on `port` and reports whether its reply starts with
/// `expected` (replies are short: one read suffices).
pub(crate) fn command(port: u16, request: &[u8], expected: &[u8]) -> bool {
    reply(port, request).is_some_and(|r| r.starts_with(expected))
}

/// The first bytes (up to 4 KiB) of the server's reply to one inline `request`.
pub(crate) fn reply(port: u16, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream.write_all(request).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}
