//! DPoP replay store.

use brokerdb::db::ErrorCode;

use crate::support::{TestClock, after, auth_stores, code};

on_both!(
    async fn a_jti_is_accepted_once_per_scope_under_a_hashed_key(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).replay;
        let exp = after(clock.now(), 30);
        assert!(s.reserve_dpop_jti("GET https://x/y", "jti-1", exp).await.unwrap());
        assert!(!s.reserve_dpop_jti("GET https://x/y", "jti-1", exp).await.unwrap());
        assert!(s.reserve_dpop_jti("GET https://x/z", "jti-1", exp).await.unwrap());
        // v2: SHA-256 of the percent-encoded scope and jti joined by `:`.
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"GET%20https%3A%2F%2Fx%2Fy:jti-1"));
        let key = b.key(&format!("dpop:v2:{digest}"));
        assert_eq!(b.get(&key).await.as_deref(), Some("1"));
        assert!((1..=30_000).contains(&b.pttl(&key).await));
    }
);

on_both!(
    async fn concurrent_reservations_of_one_jti_have_one_winner(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).replay;
        let exp = after(clock.now(), 30);
        let tasks: Vec<_> = (0..2)
            .chain(0..30)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.reserve_dpop_jti("scope", "same-jti", exp).await })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap().unwrap());
        }
        assert_eq!(wins, 1);
    }
);

on_both!(
    async fn bounds_and_past_expiry_are_validation_errors(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).replay;
        let exp = after(clock.now(), 30);
        assert!(s.reserve_dpop_jti(&"s".repeat(256), &"j".repeat(512), exp).await.unwrap());
        for (scope, jti) in [
            ("", "j".to_owned()),
            (&"s".repeat(257) as &str, "j".to_owned()),
            ("s", String::new()),
            ("s", "j".repeat(513)),
        ] {
            assert_eq!(code(s.reserve_dpop_jti(scope, &jti, exp).await), ErrorCode::ValidationError);
        }
        assert_eq!(code(s.reserve_dpop_jti("s", "j", clock.now()).await), ErrorCode::ValidationError);
    }
);

on_both!(
    async fn separators_inside_scope_or_jti_do_not_make_a_replay(b) {
        let clock = TestClock::new();
        let s = auth_stores(&b, &clock).replay;
        let exp = after(clock.now(), 30);
        // v1 hashed `scope|jti`: both of these were `a|b|c`, so the second proof was refused as
        // a replay of the first.
        assert!(s.reserve_dpop_jti("a|b", "c", exp).await.unwrap());
        assert!(s.reserve_dpop_jti("a", "b|c", exp).await.unwrap());
        assert!(s.reserve_dpop_jti("a:b", "c", exp).await.unwrap());
        assert!(s.reserve_dpop_jti("a", "b:c", exp).await.unwrap());
        assert!(!s.reserve_dpop_jti("a", "b|c", exp).await.unwrap(), "a real replay is still one");
    }
);
