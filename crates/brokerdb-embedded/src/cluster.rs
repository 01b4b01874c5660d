//! A private Redis Cluster: N master nodes (and optionally replicas of each) on loopback ports,
//! nothing on disk.
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

/// The shape of a private cluster: how many masters, how many replicas of each, and how soon a
/// silent node counts as failing (`cluster-node-timeout`: with replicas, a failover starts
/// about this long after a master dies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterLayout {
    /// Master nodes (at least 3, as `redis-cli --cluster create` requires).
    pub masters: usize,
    /// Replicas of each master (`--cluster-replicas`).
    pub replicas_per_master: usize,
    /// `cluster-node-timeout`.
    pub node_timeout: Duration,
}

impl Default for ClusterLayout {
    /// Three masters, no replicas, a 2 s node timeout.
    fn default() -> Self {
        Self {
            masters: 3,
            replicas_per_master: 0,
            node_timeout: Duration::from_millis(2000),
        }
    }
}

/// A running Redis Cluster; every node is shut down when this is dropped (and dies with the
/// process that started it).
#[derive(Debug)]
pub struct EmbeddedRedisCluster {
    nodes: Vec<EmbeddedRedis>,
    ports: Vec<u16>,
    replicas: bool,
}

impl EmbeddedRedisCluster {
    /// Starts `masters` (at least 3, as `redis-cli --cluster create` requires) cluster-enabled
    /// servers under `<data_dir>/cluster-<i>`, joins them with `redis-cli --cluster create`
    /// (`redis-tools`), and waits until every node reports `cluster_state:ok`. With
    /// [`RedisOptions::tls`] every node's port and the cluster bus speak TLS only.
    pub async fn start(opts: &RedisOptions, masters: usize) -> Result<Self, EmbeddedError> {
        let layout = ClusterLayout {
            masters,
            ..ClusterLayout::default()
        };
        Self::start_layout(opts, &layout).await
    }

    /// Starts a cluster of `layout`: `masters × (1 + replicas_per_master)` nodes under
    /// `<data_dir>/cluster-<i>`, joined by `redis-cli --cluster create --cluster-replicas`, which
    /// picks each node's role. Waits until every node reports `cluster_state:ok` and every
    /// replica's link to its master is up (so a failover has a replica to promote).
    pub async fn start_layout(
        opts: &RedisOptions,
        layout: &ClusterLayout,
    ) -> Result<Self, EmbeddedError> {
        let cli = crate::binaries::redis_cli(opts.path_var.as_deref())?;
        let count = layout.masters.max(3) * (1 + layout.replicas_per_master);
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count {
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
                layout.node_timeout.as_millis().max(1).to_string(),
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
        let cluster = Self {
            nodes,
            ports,
            replicas: layout.replicas_per_master > 0,
        };
        let log = opts.data_dir.join("cluster-create.log");
        let mut create = Command::new(&cli);
        if let Some(tls) = &opts.tls {
            create.arg("--tls").arg("--cacert").arg(&tls.ca_file);
        }
        create
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")))
            .args([
                "--cluster-replicas",
                &layout.replicas_per_master.to_string(),
            ])
            .arg("--cluster-yes");
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
        // A TLS node is asked through redis-cli, which speaks TLS.
        let ask = |port: u16, words: [&str; 2]| -> Option<String> {
            match tls {
                None => tcp_reply(port, format!("{} {}\r\n", words[0], words[1]).as_bytes())
                    .map(|r| String::from_utf8_lossy(&r).into_owned()),
                Some(tls) => Command::new(cli)
                    .arg("--tls")
                    .arg("--cacert")
                    .arg(&tls.ca_file)
                    .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                    .args(words)
                    .output()
                    .ok()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned()),
            }
        };
        loop {
            let ok = self.ports.iter().all(|&port| {
                ask(port, ["CLUSTER", "INFO"]).is_some_and(|r| r.contains("cluster_state:ok"))
                    && (tls.is_some() || command(port, b"PING\r\n", b"+PONG"))
                    // A replica counts once its link to the master is up.
                    && (!self.replicas
                        || ask(port, ["INFO", "replication"]).is_some_and(|r| {
                            r.contains("role:master") || r.contains("master_link_status:up")
                        }))
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

    /// Kills node `index` (in [`Self::ports`] order) with SIGKILL, as a crash: no shutdown,
    /// nothing flushed. Other nodes notice after the node timeout; with replicas one of its
    /// replicas is then promoted. Does nothing for an index out of range or a node already
    /// killed.
    pub fn kill_node(&mut self, index: usize) -> Result<(), EmbeddedError> {
        match self.nodes.get_mut(index) {
            Some(node) => node.kill(),
            None => Ok(()),
        }
    }

    /// Shuts every node down.
    pub fn stop(&mut self) -> Result<(), EmbeddedError> {
        self.nodes.iter_mut().try_for_each(EmbeddedRedis::stop)
    }
}
