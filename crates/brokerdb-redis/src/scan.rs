//! Prefix deletes by SCAN — only for the generic `delete_by_prefix` helper, never on a hot path
//! (the audit cache busts tenants with a generation counter instead). On a cluster every
//! master is scanned in turn.

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Value, cmd};

use crate::{AdapterError, RedisConn};

/// `prefix` with the glob metacharacters `* ? [ ] \` escaped, then `*`: matches exactly the keys
/// that start with `prefix` (the reference did not escape them).
pub(crate) fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

/// Deletes every key matching `pattern`, scanning `count` keys per step; returns how many.
pub(crate) async fn delete_matching(
    conn: &RedisConn,
    pattern: &str,
    count: u64,
) -> Result<u64, AdapterError> {
    let mut deleted = 0;
    match conn.cluster_connection() {
        None => {
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) =
                    conn.query(&scan(cursor, pattern, count)).await?;
                deleted += delete(conn, keys).await?;
                if next == 0 {
                    return Ok(deleted);
                }
                cursor = next;
            }
        }
        Some(mut cluster) => {
            for (host, port) in masters(conn, &mut cluster).await? {
                let mut cursor = 0u64;
                loop {
                    let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host: host.clone(),
                        port,
                    });
                    let reply = conn
                        .bounded(cluster.route_command(scan(cursor, pattern, count), route))
                        .await?;
                    let (next, keys): (u64, Vec<Vec<u8>>) = redis::from_redis_value(reply)?;
                    deleted += delete(conn, keys).await?;
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            Ok(deleted)
        }
    }
}

fn scan(cursor: u64, pattern: &str, count: u64) -> redis::Cmd {
    let mut c = cmd("SCAN");
    c.arg(cursor)
        .arg("MATCH")
        .arg(pattern)
        .arg("COUNT")
        .arg(count);
    c
}

async fn delete(conn: &RedisConn, keys: Vec<Vec<u8>>) -> Result<u64, AdapterError> {
    if keys.is_empty() {
        return Ok(0);
    }
    // One DEL; on a cluster the client splits it per slot.
    conn.query(cmd("DEL").arg(keys)).await
}

/// `(host, port)` of every reachable master, from CLUSTER NODES.
async fn masters(
    conn: &RedisConn,
    cluster: &mut ClusterConnection,
) -> Result<Vec<(String, u16)>, AdapterError> {
    let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
    let reply = conn
        .bounded(cluster.route_command(cmd("CLUSTER").arg("NODES").clone(), route))
        .await?;
    let text: String = match reply {
        Value::VerbatimString { text, .. } => text,
        other => redis::from_redis_value(other)?,
    };
    let nodes = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let addr = fields.get(1)?.split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect();
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(prefix_pattern("audit:t_1:query:"), "audit:t_1:query:*");
        assert_eq!(prefix_pattern("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\*");
    }
}
