//! A private redis-server.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::EmbeddedError;
use crate::postgres::{MAX_SOCKET_PATH, percent_encode};
use crate::process::{free_port, log_tail, log_to, spawn, stop};
use crate::run_as::{private_dir, private_file, random_secret};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// File name of the Unix socket under `<data_dir>/redis-socket/`.
pub const SOCKET_NAME: &str = "redis.sock";

/// How to start redis-server.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Root data directory; redis works in `<data_dir>/redis` (nothing is persisted), listens on
    /// `<data_dir>/redis-socket/redis.sock` and logs to `<data_dir>/redis.log`.
    pub data_dir: PathBuf,
    /// The `PATH` to search for `redis-server` (the caller's environment).
    pub path_var: Option<OsString>,
    /// Also listen on a loopback TCP port with TLS only (for tests of encrypted connections).
    pub tls: Option<RedisTls>,
}

impl RedisOptions {
    /// A server under `data_dir` on its Unix socket only, `redis-server` searched on `path_var`.
    pub fn new(data_dir: impl Into<PathBuf>, path_var: Option<OsString>) -> Self {
        Self {
            data_dir: data_dir.into(),
            path_var,
            tls: None,
        }
    }
}

/// A TLS listener on loopback (`--tls-port`, plaintext port 0, clients not asked for a
/// certificate). Every connection, the socket's too, must then authenticate with a password
/// generated at each start (`requirepass`, kept in a 0600 file, never on the command line).
#[derive(Debug, Clone)]
pub struct RedisTls {
    /// Server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
    /// The CA certificate (PEM) redis-server needs for its TLS context.
    pub ca_file: PathBuf,
}

/// Where a server listens.
#[derive(Debug, Clone)]
enum Listen {
    /// A Unix socket in a 0700 directory; no TCP (the default).
    Socket(PathBuf),
    /// Plain loopback TCP (Redis Cluster nodes: test-only).
    Tcp(u16),
}

/// A running redis-server; shut down when dropped.
#[derive(Debug)]
pub struct EmbeddedRedis {
    child: Option<Child>,
    listen: Listen,
    tls: Option<(RedisTls, u16)>,
    password: Option<String>,
    log_path: PathBuf,
    binary: PathBuf,
    dir: PathBuf,
    extra: Vec<String>,
}

impl EmbeddedRedis {
    /// Starts redis-server on a Unix socket in `<data_dir>/redis-socket/` (mode 0700, nothing on
    /// TCP; with [`RedisOptions::tls`] also a loopback TLS port) and waits until it answers.
    pub async fn start(opts: &RedisOptions) -> Result<Self, EmbeddedError> {
        let binary = crate::binaries::redis_server(opts.path_var.as_deref())?;
        let (dir, log_path) = Self::prepare(opts, "redis")?;
        let socket_dir = std::fs::canonicalize(&opts.data_dir)
            .map_err(EmbeddedError::io("resolve", &opts.data_dir))?
            .join("redis-socket");
        let socket = socket_dir.join(SOCKET_NAME);
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong {
                path: socket,
                max: MAX_SOCKET_PATH,
            });
        }
        private_dir(&socket_dir, None)?;
        let password = opts.tls.as_ref().map(|_| random_secret());
        let mut last_err = None;
        for _ in 0..3 {
            let tls = match &opts.tls {
                Some(tls) => Some((
                    tls.clone(),
                    free_port().map_err(EmbeddedError::io("find a free port for", &dir))?,
                )),
                None => None,
            };
            let mut redis = Self {
                child: None,
                listen: Listen::Socket(socket.clone()),
                tls,
                password: password.clone(),
                log_path: log_path.clone(),
                binary: binary.clone(),
                dir: dir.clone(),
                extra: Vec::new(),
            };
            match redis.spawn_and_wait().await {
                Ok(()) => {
                    tracing::info!(socket = %socket.display(), tls_port = redis.tls_port(), "embedded Redis ready");
                    return Ok(redis);
                }
                // Only a TLS port can be lost to another process between probe and bind.
                Err(e @ EmbeddedError::StartFailed { .. }) if opts.tls.is_some() => {
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(EmbeddedError::NotReady {
            service: "redis-server",
            seconds: 0,
            log: log_path,
        }))
    }

    /// A server on a free loopback TCP port in `<data_dir>/<name>` with `extra` arguments
    /// appended (the Redis Cluster nodes, which `redis-cli --cluster create` joins over TCP).
    /// With [`RedisOptions::tls`] that port speaks TLS only (`--port 0`). A port lost to another
    /// process between probe and bind is retried.
    pub(crate) async fn start_tcp(
        opts: &RedisOptions,
        name: &str,
        extra: &[String],
    ) -> Result<Self, EmbeddedError> {
        let binary = crate::binaries::redis_server(opts.path_var.as_deref())?;
        let (dir, log_path) = Self::prepare(opts, name)?;
        let mut last_err = None;
        for _ in 0..3 {
            let port = free_port().map_err(EmbeddedError::io("find a free port for", &dir))?;
            let mut redis = Self {
                child: None,
                listen: Listen::Tcp(port),
                tls: opts.tls.clone().map(|tls| (tls, port)),
                password: None,
                log_path: log_path.clone(),
                binary: binary.clone(),
                dir: dir.clone(),
                extra: extra.to_vec(),
            };
            match redis.spawn_and_wait().await {
                Ok(()) => {
                    tracing::info!(port, tls = opts.tls.is_some(), "embedded Redis ready");
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

    /// `<data_dir>/<name>` (created, private) and `<data_dir>/<name>.log`.
    fn prepare(opts: &RedisOptions, name: &str) -> Result<(PathBuf, PathBuf), EmbeddedError> {
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(EmbeddedError::io("create", &opts.data_dir))?;
        let dir = opts.data_dir.join(name);
        private_dir(&dir, None)?;
        Ok((dir, opts.data_dir.join(format!("{name}.log"))))
    }

    /// Starts the server again where it listened before, after [`Self::stop`] (clients that
    /// reconnect by themselves find it again). Does nothing while it runs.
    pub async fn restart(&mut self) -> Result<(), EmbeddedError> {
        if self.child.is_some() {
            return Ok(());
        }
        self.spawn_and_wait().await?;
        tracing::info!("embedded Redis restarted");
        Ok(())
    }

    async fn spawn_and_wait(&mut self) -> Result<(), EmbeddedError> {
        let mut cmd = Command::new(&self.binary);
        if let Some(password) = &self.password {
            // A config file must be the first argument; 0600, so the password never shows in
            // the process list.
            let conf = self.dir.join("redis.conf");
            private_file(&conf, format!("requirepass {password}\n").as_bytes(), None)?;
            cmd.arg(&conf);
        }
        match &self.listen {
            Listen::Socket(socket) => {
                cmd.args(["--port", "0", "--unixsocket"])
                    .arg(socket)
                    .args(["--unixsocketperm", "700"]);
            }
            // A TLS cluster node: its port is the TLS port below.
            Listen::Tcp(_) if self.tls.is_some() => {
                cmd.args(["--port", "0"]);
            }
            Listen::Tcp(port) => {
                cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
            }
        }
        if let Some((tls, port)) = &self.tls {
            cmd.args(["--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
                .arg("--tls-cert-file")
                .arg(&tls.cert_file)
                .arg("--tls-key-file")
                .arg(&tls.key_file)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca_file)
                .args(["--tls-auth-clients", "no"]);
        }
        cmd.args(["--save", "", "--appendonly", "no"])
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
            // With a password, an unauthenticated PING gets -NOAUTH: it answers all the same. A
            // TLS-only node cannot be asked in plaintext: its port accepting is enough.
            let answers = match (&self.listen, self.tls_port()) {
                (Listen::Tcp(_), Some(port)) => tcp_accepts(port),
                (listen, tls_port) => {
                    reply(listen, b"PING\r\n")
                        .is_some_and(|r| r.starts_with(b"+PONG") || r.starts_with(b"-NOAUTH"))
                        && tls_port.is_none_or(tcp_accepts)
                }
            };
            if answers {
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

    /// The loopback TCP port of a Redis Cluster node (a TLS port when the cluster was started
    /// with TLS); `None` for a server from [`Self::start`], which listens on its Unix socket.
    pub fn port(&self) -> Option<u16> {
        match self.listen {
            Listen::Tcp(port) => Some(port),
            Listen::Socket(_) => None,
        }
    }

    /// The Unix socket, for a server from [`Self::start`] (mode 0700 in a 0700 directory).
    pub fn socket_path(&self) -> Option<&Path> {
        match &self.listen {
            Listen::Socket(path) => Some(path),
            Listen::Tcp(_) => None,
        }
    }

    /// The loopback TLS port, when started with [`RedisOptions::tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls.as_ref().map(|(_, port)| *port)
    }

    /// Connection URL: `redis+unix:///<socket>` (with `?pass=<password>` when started with
    /// TLS), or `redis://127.0.0.1:<port>` (`rediss://` for TLS) for a cluster node.
    pub fn url(&self) -> String {
        match &self.listen {
            Listen::Socket(path) => {
                let path = percent_encode_path(path);
                match &self.password {
                    Some(password) => format!("redis+unix://{path}?pass={password}"),
                    None => format!("redis+unix://{path}"),
                }
            }
            Listen::Tcp(port) if self.tls.is_some() => format!("rediss://127.0.0.1:{port}"),
            Listen::Tcp(port) => format!("redis://127.0.0.1:{port}"),
        }
    }

    /// `rediss://:<password>@localhost:<port>` of the TLS listener, when started with
    /// [`RedisOptions::tls`] (the certificate must name `localhost`).
    pub fn tls_url(&self) -> Option<String> {
        let port = self.tls_port()?;
        let password = self.password.as_deref().unwrap_or_default();
        Some(format!("rediss://:{password}@localhost:{port}"))
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL (a crash: no shutdown, no last writes flushed to anyone)
    /// and reaps it. [`Self::restart`] starts it again. Does nothing when it is not running.
    pub fn kill(&mut self) -> Result<(), EmbeddedError> {
        if let Some(mut child) = self.child.take() {
            let reaped = child.kill().and_then(|()| child.wait());
            reaped.map_err(EmbeddedError::io(
                "kill redis-server logging to",
                &self.log_path,
            ))?;
            tracing::info!("embedded Redis killed");
        }
        Ok(())
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

/// A path for a URL: every byte but `/` and unreserved characters percent-encoded.
fn percent_encode_path(path: &Path) -> String {
    path.as_os_str()
        .as_encoded_bytes()
        .split(|&b| b == b'/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

fn tcp_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

impl Drop for EmbeddedRedis {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping embedded Redis");
        }
    }
}

/// Sends one inline `request` to the cluster node on `port` and reports whether its reply starts
/// with `expected` (replies are short: one read suffices).
pub(crate) fn command(port: u16, request: &[u8], expected: &[u8]) -> bool {
    reply(&Listen::Tcp(port), request).is_some_and(|r| r.starts_with(expected))
}

/// The first bytes (up to 4 KiB) of the cluster node's reply to one inline `request`.
pub(crate) fn tcp_reply(port: u16, request: &[u8]) -> Option<Vec<u8>> {
    reply(&Listen::Tcp(port), request)
}

/// The first bytes (up to 4 KiB) of the server's reply to one inline `request`.
fn reply(listen: &Listen, request: &[u8]) -> Option<Vec<u8>> {
    let timeout = Duration::from_millis(500);
    match listen {
        Listen::Tcp(port) => {
            let stream = TcpStream::connect_timeout(
                &([127, 0, 0, 1], *port).into(),
                Duration::from_millis(200),
            )
            .ok()?;
            stream.set_read_timeout(Some(timeout)).ok()?;
            exchange(stream, request)
        }
        Listen::Socket(path) => {
            let stream = UnixStream::connect(path).ok()?;
            stream.set_read_timeout(Some(timeout)).ok()?;
            exchange(stream, request)
        }
    }
}

fn exchange(mut stream: impl Read + Write, request: &[u8]) -> Option<Vec<u8>> {
    stream.write_all(request).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}
