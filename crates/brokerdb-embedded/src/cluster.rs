//! A private Redis Cluster: N master nodes on loopback ports, no replicas, nothing on disk.
//!
//! Unlike the standalone server (Unix socket only), the nodes listen on loopback TCP without a
//! password: the cluster bus and `redis-cli --cluster create` need TCP. It is for tests only and
//! holds nothing but test keys.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{free_port, log_tail, log_to};
use crate::redis::{command, tcp_reply};
use crate::{EmbeddedError, EmbeddedRedis, RedisOptions, RedisTls};

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Redis Cluster of master nodes; every node is shut down when this is dropped (and
/// dies with the process that started it).
#[derive(Debug)]
pub struct EmbeddedRedisCluster {
    nodes: Vec<EmbeddedRedis>,
    ports: Vec<u16>,
}

impl EmbeddedRedisCluster {
    /// Starts `masters` (at least 3, as `redis-cli --cluster create` requires) cluster-enabled
    /// servers under `<data_dir>/cluster-<i>`, joins them with `redis-cli --cluster create`
    /// (`redis-tools`), and waits until every node reports `cluster_state:ok`. With
    /// [`RedisOptions::tls`] every node's port and the cluster bus speak TLS only.
    pub async fn start(opts: &RedisOptions, masters: usize) -> Result<Self, EmbeddedError> {
        let cli = crate::binaries::redis_cli(opts.path_var.as_deref())?;
        let mut nodes = Vec::with_capacity(masters.max(3));
        for i in 0..masters.max(3) {
            let bus_port =
                free_port().map_err(EmbeddedError::io("find a free port for", &opts.data_dir))?;
            let config = opts.data_dir.join(format!("cluster-{i}/nodes.conf"));
            let mut extra = vec![
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                "--cluster-port".to_owned(),
                bus_port.to_string(),
                "--cluster-config-file".to_owned(),
                config.display().to_string(),
                "--cluster-node-timeout".to_owned(),
                "2000".to_owned(),
            ];
            if opts.tls.is_some() {
                // The cluster bus is TLS too.
                extra.extend(["--tls-cluster".to_owned(), "yes".to_owned()]);
            }
            let _ = std::fs::remove_file(&config);
            nodes.push(EmbeddedRedis::start_tcp(opts, &format!("cluster-{i}"), &extra).await?);
        }
        // Cluster nodes listen on loopback TCP (they gossip over it and `redis-cli --cluster
        // create` joins them over it): test-only, unlike the socket-only standalone server.
        let ports = nodes.iter().filter_map(EmbeddedRedis::port).collect();
        let cluster = Self { nodes, ports };
        let log = opts.data_dir.join("cluster-create.log");
        let mut create = Command::new(&cli);
        if let Some(tls) = &opts.tls {
            create.arg("--tls").arg("--cacert").arg(&tls.ca_file);
        }
        create
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"]);
        // redis-cli waits for the nodes to join for as long as it takes (forever when they cannot
        // talk): bound it, and keep what it printed in the log.
        let _ = std::fs::remove_file(&log);
        log_to(&mut create, &log)?;
        let mut child = create
            .spawn()
            .map_err(EmbeddedError::io("run redis-cli for", &opts.data_dir))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        if !status.is_some_and(|s| s.success()) {
            return Err(EmbeddedError::StartFailed {
                service: "redis-cli --cluster create",
                tail: log_tail(&log, 3),
                log,
            });
        }
        cluster.wait_ok(&log, &cli, opts.tls.as_ref()).await?;
        tracing::info!(ports = ?cluster.ports(), "embedded Redis Cluster ready");
        Ok(cluster)
    }

    async fn wait_ok(
        &self,
        log: &std::path::Path,
        cli: &std::path::Path,
        tls: Option<&RedisTls>,
    ) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let ok = self.ports.iter().all(|&port| match tls {
                None => {
                    tcp_reply(port, b"CLUSTER INFO\r\n")
                        .is_some_and(|r| String::from_utf8_lossy(&r).contains("cluster_state:ok"))
                        && command(port, b"PING\r\n", b"+PONG")
                }
                // A TLS node is asked through redis-cli, which speaks TLS.
                Some(tls) => Command::new(cli)
                    .arg("--tls")
                    .arg("--cacert")
                    .arg(&tls.ca_file)
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "CLUSTER",
                        "INFO",
                    ])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok")),
            });
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmbeddedError::NotReady {
                    service: "redis cluster",
                    seconds: READY_TIMEOUT.as_secs(),
                    log: log.to_path_buf(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The nodes' loopback ports.
    pub fn ports(&self) -> Vec<u16> {
        self.ports.clone()
    }

    /// One `redis://127.0.0.1:<port>` URL per node (`rediss://` with TLS; a cluster client needs
    /// any of them).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(EmbeddedRedis::url).collect()
    }

    /// Shuts every node down.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        self.nodes.iter_mut().try_for_each(EmbeddedRedis::stop)
    }
}
