//! A random Redis key prefix per test.

use crate::random_hex;
use crate::services::services;

/// A test's own Redis key prefix; its keys are deleted when this is dropped.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    prefix: String,
}

/// A fresh key prefix on the test Redis.
pub async fn redis() -> TestRedis {
    let services = services().await;
    TestRedis {
        url: services.redis_url.clone(),
        prefix: format!("test:{}:", random_hex(8)),
    }
}

impl TestRedis {
    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix (`test:<16 hex>:`), for adapters that take one.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A client for the test Redis.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("valid Redis URL")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        // The prefix is hex: no glob metacharacters to escape.
        let keys: Vec<String> =
            match redis::Commands::scan_match(&mut conn, format!("{}*", self.prefix)) {
                Ok(iter) => iter.filter_map(Result::ok).collect(),
                Err(_) => return,
            };
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}
