//! Measuring the same SQL with `pgbench -M prepared`.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use brokerdb::conninfo::ConnInfo;
use brokerdb::db::tls::RootCerts;

use super::stats::Measurement;
use super::workload::{BENCH_DATABASE, Operation};

/// How often a slice is tried when the server refuses a client connection (other processes may
/// hold most of `max_connections` for a moment on a shared server).
const CONNECT_TRIES: u32 = 3;

/// Runs `script` with pgbench as the user of `cfg` for `seconds`: the latencies (µs, from the
/// per-transaction log) and pgbench's tps. A run whose clients could not all connect is tried
/// again after a second, up to [`CONNECT_TRIES`] times.
pub fn slice(
    info: &ConnInfo,
    script: &str,
    callers: usize,
    seconds: u64,
) -> anyhow::Result<(Vec<u64>, f64)> {
    let mut tries = 1;
    loop {
        match slice_once(info, script, callers, seconds) {
            Err(SliceError::Connect(message)) if tries < CONNECT_TRIES => {
                eprintln!("pgbench: {message}; trying again");
                tries += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(SliceError::Connect(message)) => bail!("pgbench failed: {message}"),
            Err(SliceError::Other(e)) => return Err(e),
            Ok(out) => return Ok(out),
        }
    }
}

/// Why a pgbench run failed.
enum SliceError {
    /// A client could not connect.
    Connect(String),
    /// Anything else.
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for SliceError {
    fn from(e: E) -> Self {
        Self::Other(e.into())
    }
}

fn slice_once(
    info: &ConnInfo,
    script: &str,
    callers: usize,
    seconds: u64,
) -> Result<(Vec<u64>, f64), SliceError> {
    let dir = tempfile_dir()?;
    let script_path = dir.join("script.sql");
    std::fs::write(&script_path, script)?;
    let cfg = &info.config;
    // A socket directory (the embedded cluster) is a host to libpq as well.
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(dir)) => dir.display().to_string(),
        None => "127.0.0.1".to_owned(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = cfg.get_user().unwrap_or("postgres").to_owned();
    let threads = callers.min(2).to_string();
    let mut pgbench = Command::new("pgbench");
    // The same TLS as the library's connections (libpq reads these; it ignores them on sockets).
    pgbench.env("PGSSLMODE", info.tls.mode.as_str());
    match &info.tls.root_cert {
        Some(RootCerts::File(path)) => {
            pgbench.env("PGSSLROOTCERT", path);
        }
        Some(RootCerts::System) => {
            pgbench.env("PGSSLROOTCERT", "system");
        }
        None => {}
    }
    let output = pgbench
        .args([
            "-n", "-M", "prepared", "-h", &host, "-p", &port, "-U", &user,
        ])
        .args([
            "-c",
            &callers.to_string(),
            "-j",
            &threads,
            "-T",
            &seconds.to_string(),
        ])
        .arg("-f")
        .arg(&script_path)
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join("log").display()))
        .arg(BENCH_DATABASE)
        .current_dir(&dir)
        .output()
        .context("cannot run pgbench (Debian package postgresql-client)")?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").to_owned();
        if stderr.contains("could not create connection") || stderr.contains("too many clients") {
            return Err(SliceError::Connect(last));
        }
        return Err(SliceError::Other(anyhow::anyhow!("pgbench failed: {last}")));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tps: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("pgbench printed no tps")?;
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&dir)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with("log") {
            for line in std::fs::read_to_string(entry.path())?.lines() {
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    latencies.push(us);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((latencies, tps))
}

/// Latencies and tps of several slices of equal length, as one row.
#[derive(Debug, Default)]
pub struct Slices {
    latencies: Vec<u64>,
    tps_sum: f64,
    count: u32,
}

impl Slices {
    /// Adds one slice.
    pub fn push(&mut self, (latencies, tps): (Vec<u64>, f64)) {
        self.latencies.extend(latencies);
        self.tps_sum += tps;
        self.count += 1;
    }

    /// The row: percentiles over every transaction, throughput the mean tps of the slices.
    pub fn into_measurement(
        self,
        op: Operation,
        label: &'static str,
        baseline: bool,
        callers: usize,
    ) -> Measurement {
        let mut m = Measurement::from_latencies(
            op.name,
            label,
            callers,
            self.latencies,
            Duration::from_secs(u64::from(self.count)),
        );
        m.throughput = self.tps_sum / f64::from(self.count.max(1));
        if baseline { m.baseline_of("") } else { m }
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "brokerdb-bench-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
