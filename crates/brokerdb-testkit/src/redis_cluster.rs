//! A private Redis Cluster per test binary, with a random key prefix per test.

use std::time::Duration;

use brokerdb_embedded::{ClusterLayout, EmbeddedRedisCluster, RedisOptions};
use tokio::sync::OnceCell;

use crate::random_hex;
use crate::services::embedded_dir;

/// The cluster lives as long as the test process; the parent-death signal stops its nodes.
static CLUSTER: OnceCell<EmbeddedRedisCluster> = OnceCell::const_new();

/// A test's own key prefix on the shared private 3-master cluster; its keys are deleted when
/// this is dropped.
#[derive(Debug)]
pub struct TestRedisCluster {
    urls: Vec<String>,
    prefix: String,
}

/// A fresh key prefix on the private Redis Cluster, started (3 masters, no replicas, loopback
/// ports) on first use by this test binary. Needs `redis-server` and `redis-cli`.
pub async fn redis_cluster() -> TestRedisCluster {
    let cluster = CLUSTER
        .get_or_init(|| async {
            let opts = RedisOptions::new(embedded_dir(), std::env::var_os("PATH"));
            EmbeddedRedisCluster::start(&opts, 3)
                .await
                .unwrap_or_else(|e| panic!("the private Redis Cluster did not start: {e}"))
        })
        .await;
    TestRedisCluster {
        urls: cluster.urls(),
        prefix: format!("test:{}:", random_hex(8)),
    }
}

impl TestRedisCluster {
    /// One URL per master node.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The key prefix (`test:<16 hex>:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A cluster client over every node, with short timeouts so a broken test fails fast.
    pub fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::builder(self.urls.clone())
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(2))
            .build()
            .expect("valid cluster URLs")
    }

    /// A plain client for one node (pub/sub is cluster-wide: any node carries every message).
    pub fn node_client(&self, index: usize) -> redis::Client {
        redis::Client::open(self.urls[index % self.urls.len()].as_str()).expect("valid node URL")
    }
}

impl Drop for TestRedisCluster {
    fn drop(&mut self) {
        for url in &self.urls {
            let Ok(mut conn) = redis::Client::open(url.as_str()).and_then(|c| c.get_connection())
            else {
                continue;
            };
            // Each node scans only its own slots; the prefix is hex (no glob metacharacters).
            let keys: Vec<String> =
                match redis::Commands::scan_match(&mut conn, format!("{}*", self.prefix)) {
                    Ok(iter) => iter.filter_map(Result::ok).collect(),
                    Err(_) => continue,
                };
            for key in keys {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(key).query(&mut conn);
            }
        }
    }
}

/// A private Redis Cluster with replicas that one test owns and may break (kill a master, watch a
/// replica take over); never the shared cluster of [`redis_cluster()`]. Its nodes stop when this
/// is dropped.
#[derive(Debug)]
pub struct FailoverCluster {
    cluster: EmbeddedRedisCluster,
}

/// Starts a private cluster of 3 masters with one replica each (6 loopback nodes,
/// `cluster-node-timeout` = `node_timeout`: a failover begins about that long after a master
/// dies) and waits until every replica is in sync. For failover tests only: each call starts its
/// own six processes. Needs `redis-server` and `redis-cli`.
pub async fn redis_cluster_with_replicas(node_timeout: Duration) -> FailoverCluster {
    let dir = crate::process_dir(&format!("failover-cluster-{}", random_hex(4)));
    let opts = RedisOptions::new(dir, std::env::var_os("PATH"));
    let layout = ClusterLayout {
        masters: 3,
        replicas_per_master: 1,
        node_timeout,
    };
    let cluster = EmbeddedRedisCluster::start_layout(&opts, &layout)
        .await
        .unwrap_or_else(|e| panic!("the private Redis Cluster with replicas did not start: {e}"));
    FailoverCluster { cluster }
}

impl FailoverCluster {
    /// One URL per node (masters and replicas; roles are found with `CLUSTER NODES`).
    pub fn urls(&self) -> Vec<String> {
        self.cluster.urls()
    }

    /// The nodes' loopback ports, in the order of [`Self::urls`].
    pub fn ports(&self) -> Vec<u16> {
        self.cluster.ports()
    }

    /// A cluster client seeded with every node, with short timeouts.
    pub fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::builder(self.urls())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_millis(500))
            .build()
            .expect("valid cluster URLs")
    }

    /// Kills the node listening on `port` with SIGKILL (a crash).
    pub fn kill_port(&mut self, port: u16) {
        let index = self
            .ports()
            .iter()
            .position(|&p| p == port)
            .unwrap_or_else(|| panic!("no node listens on port {port}"));
        self.cluster
            .kill_node(index)
            .unwrap_or_else(|e| panic!("cannot kill the node on port {port}: {e}"));
    }
}
