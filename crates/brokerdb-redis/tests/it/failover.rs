//! A Redis Cluster master killed (SIGKILL) under a rate-limit load, on a private cluster of 3
//! masters and 3 replicas this test owns (never the shared one): a replica is promoted, calls on
//! the dead master's slots fail `unavailable` meanwhile and succeed again on the same
//! `RedisConn`, and the rate limit stays closed: no key is allowed more than its limit plus the
//! acknowledged hits the dead master took with it (replication is asynchronous), and no key on a
//! surviving master more than its limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb_redis::policy::{PolicyRateLimitStore, PolicyRuleType, RateLimit, RateLimitRule};
use brokerdb_redis::{ConnSettings, RedisConn};

/// `cluster-node-timeout`: the failover starts about this long after the kill.
const NODE_TIMEOUT: Duration = Duration::from_millis(1000);
/// The bound of every adapter call.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// Allowed hits per key in its window (one window spans the whole run).
const LIMIT: u64 = 300;
/// Keys per master; each caller owns two keys.
const KEYS_PER_MASTER: usize = 4;
/// How far into its budget every key of the victim is before the kill.
const KILL_AT: u64 = LIMIT * 2 / 5;
/// Denied answers every key must see after the failover before the load stops.
const DENIED_AFTER: u64 = 20;
/// Acknowledged hits the dead master may take with it in all. Replication is asynchronous, so
/// the writes it acknowledged in its last instant may not have reached the replica; on loopback
/// that is at most about one in-flight call per caller of its keys.
const LOST_BOUND: u64 = 8;

fn rule() -> RateLimitRule {
    RateLimitRule {
        rule_type: PolicyRuleType::RateLimit,
        rate_limit: Some(RateLimit {
            max_requests: i32::try_from(LIMIT).unwrap(),
            interval_seconds: 300,
        }),
    }
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct Node {
    id: String,
    port: u16,
    master: bool,
    failed: bool,
    slots: Vec<(u16, u16)>,
}

fn parse_nodes(text: &str) -> Vec<Node> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let addr = f.get(1)?.split('@').next()?;
            let port = addr.rsplit(':').next()?.parse().ok()?;
            let flags = f.get(2)?;
            let slots = f
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|n| (n, n)),
                })
                .collect();
            Some(Node {
                id: f.first()?.to_string(),
                port,
                master: flags.contains("master"),
                failed: flags.contains("fail"),
                slots,
            })
        })
        .collect()
}

async fn node_query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Option<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let fut = async {
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        cmd.query_async(&mut c).await.ok()
    };
    tokio::time::timeout(Duration::from_millis(500), fut)
        .await
        .ok()
        .flatten()
}

async fn cluster_nodes(port: u16) -> Option<Vec<Node>> {
    let text: String = node_query(port, &redis::cmd("CLUSTER").arg("NODES").clone()).await?;
    Some(parse_nodes(&text))
}

fn owner(nodes: &[Node], slot: u16) -> Option<&Node> {
    nodes
        .iter()
        .find(|n| n.master && n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
}

/// What one call returned, and when.
struct Call {
    key: usize,
    started: Instant,
    ended: Instant,
    outcome: Result<(bool, u64), ErrorCode>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_killed_under_rate_limit_load_fails_closed_then_the_same_conn_recovers() {
    let mut cluster = brokerdb_testkit::redis_cluster_with_replicas(NODE_TIMEOUT).await;
    let ports = cluster.ports();
    let nodes = cluster_nodes(ports[0]).await.expect("CLUSTER NODES");
    let masters: Vec<Node> = nodes
        .iter()
        .filter(|n| n.master && !n.slots.is_empty())
        .cloned()
        .collect();
    assert_eq!(masters.len(), 3, "{nodes:?}");
    assert_eq!(nodes.iter().filter(|n| !n.master).count(), 3, "{nodes:?}");

    // Keys spread over the three masters, KEYS_PER_MASTER on each; the victim is the master of
    // the first key.
    let prefix = format!("failover:{:08x}:", rand::random::<u32>());
    let mut keys: Vec<(String, String)> = Vec::new(); // (key, master id)
    let mut per_master: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0.. {
        if keys.len() == 3 * KEYS_PER_MASTER {
            break;
        }
        let key = format!("k{i}");
        let full = format!("{prefix}rl:v2:{key}");
        let slot: u16 = node_query(ports[0], redis::cmd("CLUSTER").arg("KEYSLOT").arg(&full))
            .await
            .expect("CLUSTER KEYSLOT");
        let master = owner(&masters, slot)
            .expect("every slot has a master")
            .id
            .clone();
        let n = per_master.entry(master.clone()).or_default();
        if *n < KEYS_PER_MASTER {
            *n += 1;
            keys.push((key, master));
        }
    }
    let victim = masters.iter().find(|m| m.id == keys[0].1).unwrap().clone();
    let on_victim: Vec<bool> = keys.iter().map(|(_, m)| *m == victim.id).collect();

    // One RedisConn for the whole test: it is never rebuilt.
    let conn = RedisConn::cluster(
        &cluster.client(),
        Vec::new(),
        ConnSettings {
            command_timeout: COMMAND_TIMEOUT,
            pool_size: 2,
        },
    )
    .await
    .unwrap();
    let limits = PolicyRateLimitStore::new(conn.clone(), Some(&prefix));

    // Per key: the count of its last acknowledged allowed hit (LIMIT − remaining), and the
    // denials seen after the kill.
    let acknowledged: Arc<Vec<AtomicU64>> =
        Arc::new(keys.iter().map(|_| AtomicU64::new(0)).collect());
    let denied_after: Arc<Vec<AtomicU64>> =
        Arc::new(keys.iter().map(|_| AtomicU64::new(0)).collect());
    let killed = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(45);
    let callers = keys.len() / 2;
    let mut tasks = Vec::new();
    for c in 0..callers {
        let mine = [c, c + callers];
        let names: Vec<String> = mine.iter().map(|&k| keys[k].0.clone()).collect();
        let (limits, acknowledged, denied_after, killed) = (
            limits.clone(),
            acknowledged.clone(),
            denied_after.clone(),
            killed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut calls = Vec::new();
            for i in 0usize.. {
                let done = killed.load(Ordering::SeqCst)
                    && mine
                        .iter()
                        .all(|&k| denied_after[k].load(Ordering::SeqCst) >= DENIED_AFTER);
                if done || Instant::now() > deadline {
                    break;
                }
                let k = mine[i % 2];
                let started = Instant::now();
                // "No hang": well above the command timeout, far below the test's length.
                let r = tokio::time::timeout(
                    Duration::from_secs(5),
                    limits.check_and_consume(&names[i % 2], &rule(), Timestamp::now()),
                )
                .await
                .expect("a rate-limit call hung");
                let outcome = match r {
                    Ok(d) => {
                        if d.allowed {
                            acknowledged[k].store(LIMIT - d.remaining, Ordering::SeqCst);
                        } else if killed.load(Ordering::SeqCst) {
                            denied_after[k].fetch_add(1, Ordering::SeqCst);
                        }
                        Ok((d.allowed, LIMIT - d.remaining))
                    }
                    Err(e) => Err(e.code()),
                };
                let failed = outcome.is_err();
                calls.push(Call {
                    key: k,
                    started,
                    ended: Instant::now(),
                    outcome,
                });
                if failed {
                    // A failing caller retries at a modest pace, as a client would.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            calls
        }));
    }

    // Kill the victim once each of its keys is KILL_AT into its budget.
    while (0..keys.len())
        .filter(|&k| on_victim[k])
        .any(|k| acknowledged[k].load(Ordering::SeqCst) < KILL_AT)
    {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked_at_kill: Vec<u64> = acknowledged
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .collect();
    cluster.kill_port(victim.port);
    let kill = Instant::now();
    killed.store(true, Ordering::SeqCst);

    // A replica takes over the victim's slots (seen from a surviving master).
    let survivor = masters.iter().find(|m| m.id != victim.id).unwrap().port;
    let first_slot = victim.slots[0].0;
    let promoted = loop {
        if let Some(nodes) = cluster_nodes(survivor).await
            && let Some(new) = owner(&nodes, first_slot)
            && new.id != victim.id
            && !new.failed
        {
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "no replica was promoted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let mut calls = Vec::new();
    for t in tasks {
        calls.extend(t.await.unwrap());
    }
    calls.sort_by_key(|c| c.ended);

    // Failures: only `unavailable` (a timeout is reported as unavailable too), only after the
    // kill.
    let failures: Vec<&Call> = calls.iter().filter(|c| c.outcome.is_err()).collect();
    for f in &failures {
        let code = f.outcome.as_ref().err().copied().unwrap();
        assert!(
            matches!(code, ErrorCode::Unavailable | ErrorCode::Timeout),
            "unexpected failure code {code:?}"
        );
        assert!(f.ended >= kill, "a call failed before the kill");
    }
    let victim_failures: Vec<&&Call> = failures.iter().filter(|c| on_victim[c.key]).collect();
    let other_failures = failures.len() - victim_failures.len();
    let first_failure = victim_failures
        .first()
        .expect("calls on the dead master's slots failed")
        .ended;
    let last_failure = victim_failures.last().unwrap().ended;
    let first_success = calls
        .iter()
        .find(|c| on_victim[c.key] && c.outcome.is_ok() && c.started >= first_failure)
        .expect("calls on the dead master's slots succeeded again on the same RedisConn")
        .ended;
    let gap = first_success.duration_since(first_failure);
    let longest = calls
        .iter()
        .map(|c| c.ended.duration_since(c.started))
        .max()
        .unwrap_or_default();

    // Fail closed: per key, allowed answers and lost acknowledged hits.
    let mut report = Vec::new();
    let mut over_limit = 0u64;
    let mut lost_total = 0u64;
    let mut over_unexplained = Vec::new();
    for (k, (name, _)) in keys.iter().enumerate() {
        let mine: Vec<&Call> = calls.iter().filter(|c| c.key == k).collect();
        let allowed = mine
            .iter()
            .filter(|c| matches!(c.outcome, Ok((true, _))))
            .count() as u64;
        // The first allowed count acknowledged after the kill must be above every count
        // acknowledged before it; anything at or below was lost with the old master.
        let after_kill = mine
            .iter()
            .find(|c| c.started >= kill && matches!(c.outcome, Ok((true, _))))
            .and_then(|c| c.outcome.as_ref().ok().map(|(_, n)| *n));
        let before = mine
            .iter()
            .filter(|c| c.ended < kill)
            .filter_map(|c| match c.outcome {
                Ok((true, n)) => Some(n),
                _ => None,
            })
            .max()
            .unwrap_or(acked_at_kill[k]);
        let lost = after_kill.map_or(0, |n| (before + 1).saturating_sub(n));
        lost_total += lost;
        let over = allowed.saturating_sub(LIMIT);
        over_limit += over;
        if over > lost {
            over_unexplained.push(format!("{name}: {over} over the limit, {lost} lost"));
        }
        report.push(format!(
            "{name}{}: {} calls, {allowed} allowed (limit {LIMIT}), lost acknowledged hits {lost}",
            if on_victim[k] { " (victim)" } else { "" },
            mine.len()
        ));
    }
    println!(
        "failover: killed master :{} at {} acknowledged hits per victim key; replica promoted \
         after {} ms; failover gap (first failure to first success on its slots) {} ms; \
         {} failed calls on its slots ({} on other masters' slots); last failure {} ms after \
         the kill; longest call {} ms (command timeout {} ms); {} calls in all",
        victim.port,
        KILL_AT,
        promoted.duration_since(kill).as_millis(),
        gap.as_millis(),
        victim_failures.len(),
        other_failures,
        last_failure.duration_since(kill).as_millis(),
        longest.as_millis(),
        COMMAND_TIMEOUT.as_millis(),
        calls.len()
    );
    for line in &report {
        println!("failover: {line}");
    }
    println!(
        "failover: allowed over the limit in all {over_limit}; acknowledged hits lost with the \
         old master {lost_total}"
    );

    // The gap is bounded (node timeout + election + slot refresh, with a wide margin), and the
    // same connection serves every key again.
    assert!(gap < Duration::from_secs(30), "failover gap {gap:?}");
    for (k, d) in denied_after.iter().enumerate() {
        assert!(
            d.load(Ordering::SeqCst) >= DENIED_AFTER,
            "key {k} was not served after the failover"
        );
    }
    conn.ping().await.unwrap();
    // Fail closed, within the documented limit of asynchronous replication: a key is allowed
    // past its limit only by the acknowledged hits the dead master took with it (each such hit
    // is counted again on the promoted replica), never otherwise, and no key on a surviving
    // master is allowed past its limit at all.
    assert!(
        over_unexplained.is_empty(),
        "the rate limit allowed more than its limit plus the hits lost with the old master: \
         {over_unexplained:?}"
    );
    assert!(
        lost_total <= LOST_BOUND,
        "{lost_total} acknowledged hits lost with one master, more than replication lag on \
         loopback explains"
    );
}
