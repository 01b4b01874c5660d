//! Policy-engine invalidation bus.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brokerdb::db::ErrorCode;
use brokerdb::model::Timestamp;
use brokerdb_redis::policy::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};

use crate::support::{Backend, code};

fn event(id: &str) -> PolicyInvalidationEvent {
    PolicyInvalidationEvent {
        tenant_id: "t_1".into(),
        entity_type: PolicyEntityType::PolicyRule,
        entity_id: id.into(),
        updated_at: Timestamp::parse("2026-02-13T00:00:00.000Z").unwrap(),
    }
}

type Inbox = Arc<Mutex<Vec<PolicyInvalidationEvent>>>;

/// Waits (bounded) until `inbox` holds `n` events.
pub async fn wait_for<T>(inbox: &Arc<Mutex<Vec<T>>>, n: usize) {
    for _ in 0..500 {
        if inbox.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} messages");
}

on_both!(
    async fn subscribers_get_valid_events_and_invalid_messages_are_dropped(b) {
        let bus = PolicyInvalidationBus::new(b.conn.clone(), Some(&b.prefix));
        assert_eq!(bus.channel(), b.key("invalidation:v1"));
        let inbox: Inbox = Arc::default();
        let sink = inbox.clone();
        let sub = bus.subscribe(move |e| sink.lock().unwrap().push(e)).await.unwrap();

        for garbage in ["not json", r#"{"tenant_id":"t","entity_type":"nope","entity_id":"x","updated_at":"2026-01-01T00:00Z"}"#,
                        r#"{"tenant_id":"","entity_type":"policy_rule","entity_id":"x","updated_at":"2026-01-01T00:00Z"}"#] {
            let _: i64 = b.raw(redis::cmd("PUBLISH").arg(bus.channel()).arg(garbage)).await;
        }
        bus.publish(&event("pol_1")).await.unwrap();
        wait_for(&inbox, 1).await;
        assert_eq!(*inbox.lock().unwrap(), [event("pol_1")]);

        sub.unsubscribe();
        assert!(sub.is_closed());
        let second: Inbox = Arc::default();
        let sink = second.clone();
        let _other = bus.subscribe(move |e| sink.lock().unwrap().push(e)).await.unwrap();
        bus.publish(&event("pol_2")).await.unwrap();
        wait_for(&second, 1).await;
        assert_eq!(inbox.lock().unwrap().len(), 1, "an unsubscribed handler gets nothing more");
    }
);

/// Cluster only: classic PUBLISH on one node reaches a subscriber connected to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_cluster_messages_published_on_any_node_reach_the_subscriber() {
    let b = Backend::cluster().await;
    let bus = PolicyInvalidationBus::new(b.conn.clone(), Some(&b.prefix));
    let inbox: Inbox = Arc::default();
    let sink = inbox.clone();
    let _sub = bus
        .subscribe(move |e| sink.lock().unwrap().push(e))
        .await
        .unwrap();
    for node in [0, 2] {
        let mut c = b
            .node_client(node)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let json = serde_json::to_string(&event(&format!("pol_{node}"))).unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(bus.channel())
            .arg(json)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    wait_for(&inbox, 2).await;
}

on_both!(
    async fn invalid_events_and_missing_subscriber_sources_are_refused(b) {
        let bus = PolicyInvalidationBus::new(b.conn.clone(), Some(&b.prefix));
        let mut bad = event("x");
        bad.tenant_id = String::new();
        assert_eq!(code(bus.publish(&bad).await), ErrorCode::ValidationError);
        let bus = PolicyInvalidationBus::new(b.conn.clone().with_subscribers(Vec::new()), None);
        assert_eq!(code(bus.subscribe(|_| {}).await), ErrorCode::DependencyMissing);
    }
);

on_both!(
    async fn a_panicking_handler_does_not_end_its_subscription(b) {
        let bus = PolicyInvalidationBus::new(b.conn.clone(), Some(&b.prefix));
        let inbox: Inbox = Arc::default();
        let sink = inbox.clone();
        let _sub = bus
            .subscribe(move |e| {
                assert_ne!(e.entity_id, "boom", "handler bug");
                sink.lock().unwrap().push(e);
            })
            .await
            .unwrap();
        bus.publish(&event("boom")).await.unwrap();
        bus.publish(&event("after")).await.unwrap();
        wait_for(&inbox, 1).await;
        assert_eq!(*inbox.lock().unwrap(), [event("after")]);
    }
);
