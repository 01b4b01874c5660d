//! Running the `brokerdb` binary and talking HTTP to it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `brokerdb` command with no inherited connection settings.
pub fn brokerdb() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brokerdb"));
    for var in [
        "DATABASE_URL",
        "DATABASE_RUNTIME_URL",
        "DATABASE_SYSTEM_URL",
        "REDIS_URL",
        "BROKERDB_LISTEN",
        "BROKERDB_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "info").stdin(Stdio::null());
    cmd
}

/// Runs a command to completion (bounded: these commands fail fast or finish quickly).
pub fn run(cmd: &mut Command) -> std::io::Result<Output> {
    cmd.output()
}

/// The lines of stderr that start with `error:`, and whether stderr holds a panic.
pub fn error_lines(out: &Output) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(&out.stderr);
    let errors = text
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_owned)
        .collect();
    (errors, text.contains("panicked"))
}

/// A loopback port free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// `GET path` over HTTP/1.1; returns (status, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// A running `brokerdb serve`, killed if the test ends without stopping it.
pub struct Served {
    pub child: Child,
    pub port: u16,
}

impl Served {
    /// Polls `/readyz` until it answers 200 (or `limit` passes); returns the last answer.
    pub fn wait_ready(&mut self, limit: Duration) -> std::io::Result<(u16, String)> {
        let deadline = Instant::now() + limit;
        let mut last = (0, String::new());
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "brokerdb exited early: {status}"
                )));
            }
            if let Ok(answer) = http_get(self.port, "/readyz") {
                if answer.0 == 200 {
                    return Ok(answer);
                }
                last = answer;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(last)
    }

    /// Sends SIGTERM and waits for the exit; returns stderr.
    pub fn terminate(mut self) -> std::io::Result<(std::process::ExitStatus, String)> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .map_err(std::io::Error::from)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    err.read_to_string(&mut stderr)?;
                }
                return Ok((status, stderr));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(std::io::Error::other(
            "brokerdb did not stop within 60 s of SIGTERM",
        ))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
