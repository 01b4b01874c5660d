//! SSRF DNS cache and rebinding history.

use brokerdb::db::ErrorCode;
use brokerdb_redis::ssrf::{
    DnsRebindingObservation, DnsResolutionCacheEntry, DnsUpsertOutcome, SsrfGuardOptions,
    SsrfGuardStore,
};

use crate::support::{Backend, code};

fn store(b: &Backend, max: u64) -> SsrfGuardStore {
    SsrfGuardStore::new(
        b.conn.clone(),
        SsrfGuardOptions {
            key_prefix: Some(b.prefix.clone()),
            dns_history_max_entries: max,
            ..SsrfGuardOptions::default()
        },
    )
    .unwrap()
}

fn entry(at: i64, ttl: u64, ips: &[&str]) -> DnsResolutionCacheEntry {
    DnsResolutionCacheEntry {
        resolved_ips: ips.iter().map(|s| (*s).to_owned()).collect(),
        resolved_at_epoch_ms: at,
        ttl_seconds: ttl,
    }
}

fn observation(at: i64) -> DnsRebindingObservation {
    DnsRebindingObservation {
        ip_set_hash: format!("h{at}"),
        resolved_ips: vec!["93.184.216.34".into()],
        observed_at_epoch_ms: at,
    }
}

on_both!(
    async fn the_dns_cache_keeps_the_newest_resolution(b) {
        let s = store(&b, 100);
        let key = b.key("dns:v2:api.example.com");
        let first = s.upsert_dns_resolution_cache("API.Example.com.", &entry(2_000, 30, &["93.184.216.34"])).await.unwrap();
        assert_eq!((first.outcome, first.applied), (DnsUpsertOutcome::Applied, true));
        let ttl = b.pttl(&key).await;
        let stale = s.upsert_dns_resolution_cache("api.example.com", &entry(1_999, 60, &["1.1.1.1"])).await.unwrap();
        assert_eq!((stale.outcome, stale.applied), (DnsUpsertOutcome::SkippedStale, false));
        assert!(b.pttl(&key).await <= ttl, "TTL untouched");
        let got = s.read_dns_resolution_cache("api.example.com").await.unwrap();
        assert_eq!(got, Some(entry(2_000, 30, &["93.184.216.34"])));
        let same = s.upsert_dns_resolution_cache("api.example.com", &entry(2_000, 10, &["1.1.1.1"])).await.unwrap();
        assert!(same.applied, "equal time applies");
        assert!((1..=10_000).contains(&b.pttl(&key).await));
        b.set(&key, "{not json").await;
        assert!(s.upsert_dns_resolution_cache("api.example.com", &entry(1, 5, &["1.1.1.1"])).await.unwrap().applied);
        assert_eq!(s.read_dns_resolution_cache("nothing.example").await.unwrap(), None);
    }
);

on_both!(
    async fn invalid_or_denylisted_entries_are_refused_and_healed(b) {
        let s = store(&b, 100);
        for bad in [
            entry(1, 30, &["169.254.169.254"]),
            entry(1, 30, &["::ffff:10.0.0.1"]),
            entry(1, 30, &[]),
            entry(1, 30, &["example.com"]),
            entry(-1, 30, &["1.1.1.1"]),
            entry(1, 0, &["1.1.1.1"]),
            entry(1, 61, &["1.1.1.1"]),
        ] {
            assert_eq!(code(s.upsert_dns_resolution_cache("a.example", &bad).await), ErrorCode::ValidationError, "{bad:?}");
        }
        for host in ["", "a..b", "bad_host.com", "[::1]"] {
            assert_eq!(code(s.read_dns_resolution_cache(host).await), ErrorCode::ValidationError, "{host:?}");
        }
        let key = b.key("dns:v2:a.example");
        b.set(&key, r#"{"resolved_ips":["127.0.0.1"],"resolved_at_epoch_ms":1,"ttl_seconds":5}"#).await;
        assert_eq!(s.read_dns_resolution_cache("a.example").await.unwrap(), None);
        assert!(!b.exists(&key).await, "denylisted entry deleted on read");
        for (ttl, max) in [(0, 1), (1, 0)] {
            let r = SsrfGuardStore::new(b.conn.clone(), SsrfGuardOptions {
                dns_history_ttl_seconds: ttl, dns_history_max_entries: max, ..SsrfGuardOptions::default()
            });
            assert_eq!(code(r.map(|_| ())), ErrorCode::ValidationError);
        }
    }
);

on_both!(
    async fn the_history_is_bounded_ordered_and_refreshed(b) {
        let s = store(&b, 3);
        for (i, at) in (1..=5).enumerate() {
            let size = s.append_dns_rebinding_observation("h.example", &observation(at)).await.unwrap();
            assert_eq!(size, (i as u64 + 1).min(3));
        }
        let history = s.read_dns_rebinding_history("H.example.").await.unwrap();
        assert_eq!(history, [observation(3), observation(4), observation(5)], "oldest dropped first");
        let key = b.key("dns-history:v2:h.example");
        assert!((86_000_000..=86_400_000).contains(&b.pttl(&key).await));
        assert!(s.read_dns_rebinding_history("none.example").await.unwrap().is_empty());

        b.set(&key, r#"{"not":"an array"}"#).await;
        assert_eq!(s.append_dns_rebinding_observation("h.example", &observation(9)).await.unwrap(), 1);
        b.set(&key, r#"[{"ip_set_hash":""}]"#).await;
        assert!(s.read_dns_rebinding_history("h.example").await.unwrap().is_empty());
        assert!(!b.exists(&key).await, "invalid history deleted");

        let mut bad = observation(1);
        bad.resolved_ips = vec!["nope".into()];
        assert_eq!(code(s.append_dns_rebinding_observation("h.example", &bad).await), ErrorCode::ValidationError);
        let mut blank = observation(1);
        blank.ip_set_hash = " ".into();
        assert_eq!(code(s.append_dns_rebinding_observation("h.example", &blank).await), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn concurrent_appends_are_never_lost(b) {
        let s = store(&b, 100);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move { s.append_dns_rebinding_observation("c.example", &observation(i)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let mut seen: Vec<i64> = s.read_dns_rebinding_history("c.example").await.unwrap()
            .into_iter().map(|o| o.observed_at_epoch_ms).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
    }
);
