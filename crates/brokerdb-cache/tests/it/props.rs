//! Bad input at scale (issue 18, item 6) for the read cache: whatever bytes sit in an L2
//! (Redis) entry — mutations of the entry the cache wrote, arbitrary JSON, raw bytes — a read
//! answers what PostgreSQL answers, or a well-formed cached answer; never an error or a panic.
//! Corrupt entries are reloaded from PostgreSQL (the stored-snapshot decoder of every cached
//! resource is the same generic one; users are the resource read here).

use brokerdb::model::UserId;
use brokerdb_cache::Resource;
use brokerdb_testkit::props::{config_with, json, mutated};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;

use crate::support::{Env, TestResult, tenant};

#[test]
fn corrupt_l2_entries_never_change_or_break_a_read() -> TestResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let env = rt.block_on(Env::seeded());
    let settings = brokerdb_cache::CacheSettings {
        // Every read asks Redis: each case reaches the L2 decoder.
        l1_enabled: false,
        ..env.settings()
    };
    let cache = rt.block_on(env.cache(settings));
    let (t, u) = (tenant("t_a"), UserId::parse("u_a1")?);
    let truth = rt.block_on(cache.user(&t, &u))?;
    assert!(truth.is_some());
    let mut raw = env.redis.client().get_connection()?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*user.v1*", env.redis.prefix()))
        .query(&mut raw)?;
    let entry = keys
        .iter()
        .find(|k| !k.ends_with(":gen"))
        .ok_or("no L2 entry of the user")?
        .clone();
    let stored: String = redis::cmd("GET").arg(&entry).query(&mut raw)?;
    let base: Value = serde_json::from_str(&stored)?;
    let values = prop_oneof![
        4 => mutated(base).prop_map(|v| v.to_string().into_bytes()),
        1 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    let raw = std::sync::Mutex::new(raw);
    let loads_before = cache.loads(Resource::Users);
    let mut runner = TestRunner::new(config_with(500));
    runner
        .run(&values, |bytes| {
            let _: () = redis::cmd("SET")
                .arg(&entry)
                .arg(&bytes)
                .arg("EX")
                .arg(600)
                .query(&mut *raw.lock().map_err(|e| TestCaseError::fail(e.to_string()))?)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let read = rt.block_on(cache.user(&t, &u));
            // A different answer only from an entry that has the shape of one the cache writes.
            let shaped = serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| {
                v == "absent"
                    || v.as_object().is_some_and(|o| {
                        o.len() == 1 && (o.contains_key("found") || o.contains_key("not_found"))
                    })
            });
            match &read {
                Ok(user) if *user == truth => {}
                Ok(_) => prop_assert!(shaped, "{:?} → {:?}", String::from_utf8_lossy(&bytes), read),
                Err(e) => prop_assert!(
                    shaped && e.code().as_str() == "not_found",
                    "{:?} → {:?}",
                    String::from_utf8_lossy(&bytes),
                    e
                ),
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    // Not vacuous: the corrupt entries were read (and reloaded from PostgreSQL).
    assert!(cache.loads(Resource::Users) > loads_before + 100);
    Ok(())
}
