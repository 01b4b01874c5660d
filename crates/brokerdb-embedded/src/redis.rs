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
}

impl EmbeddedRedis {
    /// Starts redis-server on a free loopback port and waits until it answers PING.
    pub async fn start(opts: &RedisOptions) -> Result<Self, EmbeddedError> {
        let binary = crate::binaries::redis_server(opts.path_var.as_deref())?;
        let dir = opts.data_dir.join("redis");
        std::fs::create_dir_all(&dir).map_err(EmbeddedError::io("create", &dir))?;
        let log_path = opts.data_dir.join("redis.log");
        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port().map_err(EmbeddedError::io("find a free port for", &dir))?;
            let mut cmd = Command::new(&binary);
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(&dir);
            log_to(&mut cmd, &log_path)?;
            let child = spawn(cmd, Signal::SIGTERM)
                .map_err(EmbeddedError::io("start redis-server in", &dir))?;
            let mut redis = Self {
                child: Some(child),
                port,
                log_path: log_path.clone(),
            };
            match redis.wait_ready().await {
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
            if ping(self.port) {
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

fn ping(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
