//! The outbox relay against real PostgreSQL and Redis: rows written with a template change are
//! published on both invalidation channels at least once, never twice in a round by relays
//! running side by side, and retried with backoff until they are marked failed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brokerdb::db::{Db, TxOptions};
use brokerdb::model::TenantId;
use brokerdb::outbox::{
    self, OutboxMessage, OutboxPublisher, PublishError, RelaySettings, RoundReport,
};
use brokerdb::repo::templates::{self, TemplateInvalidationSignal};
use brokerdb_redis::outbox::OutboxRedisPublisher;
use brokerdb_redis::policy::{PolicyEntityType, PolicyInvalidationBus, PolicyInvalidationEvent};
use brokerdb_redis::ssrf::{SsrfGuardOptions, SsrfGuardStore};
use brokerdb_redis::{ConnSettings, RedisConn};
use brokerdb_testkit::TestDatabase;

use crate::policy_invalidation::wait_for;
use crate::support::{Backend, private_redis};

/// A database with tenants `t_a` and `t_b`.
async fn database() -> (TestDatabase, Db) {
    let test = brokerdb_testkit::database().await;
    test.admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await
        .unwrap();
    let db = test.db().await;
    (test, db)
}

fn signal(tenant: &str, template: &str, version: i32) -> TemplateInvalidationSignal {
    TemplateInvalidationSignal {
        template_id: template.into(),
        version,
        tenant_id: tenant.into(),
        updated_at: "2026-11-29T12:00:00.000Z".into(),
    }
}

/// Writes `n` signals per tenant, each in its own tenant transaction, as a template change does.
async fn write_signals(db: &Db, n: i32) -> BTreeSet<(String, String, i32)> {
    let mut written = BTreeSet::new();
    for tenant in ["t_a", "t_b"] {
        let id: TenantId = tenant.parse().unwrap();
        for v in 1..=n {
            let s = signal(tenant, "tpl_mail", v);
            let scope = db.tenant(&id);
            let mut tx = scope.begin(&TxOptions::DEFAULT).await.unwrap();
            templates::persist_invalidation_outbox(&mut tx, &s)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            written.insert((tenant.to_owned(), "tpl_mail".to_owned(), v));
        }
    }
    written
}

/// `status → count` of the outbox rows, read as the superuser.
async fn statuses(test: &TestDatabase) -> BTreeMap<String, i64> {
    test.admin()
        .await
        .query(
            "SELECT status::text, count(*) FROM template_invalidation_outbox GROUP BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn adapters(b: &Backend) -> (PolicyInvalidationBus, SsrfGuardStore) {
    let policy = PolicyInvalidationBus::new(b.conn.clone(), Some(&b.prefix));
    let signals = SsrfGuardStore::new(
        b.conn.clone(),
        SsrfGuardOptions {
            key_prefix: Some(format!("{}ssrf", b.prefix)),
            ..SsrfGuardOptions::default()
        },
    )
    .unwrap();
    (policy, signals)
}

/// A consumer the way the policy engine's cache would be: it remembers which template versions
/// of which tenant were invalidated (a set, so a repeat changes nothing), and counts messages.
#[derive(Clone, Default)]
struct Consumer {
    invalidated: Arc<Mutex<BTreeSet<(String, String)>>>,
    messages: Arc<Mutex<Vec<PolicyInvalidationEvent>>>,
}

impl Consumer {
    async fn subscribe(&self, bus: &PolicyInvalidationBus) -> brokerdb_redis::Subscription {
        let me = self.clone();
        bus.subscribe(move |e| {
            assert_eq!(e.entity_type, PolicyEntityType::TemplateVersion);
            me.invalidated
                .lock()
                .unwrap()
                .insert((e.tenant_id.clone(), e.entity_id.clone()));
            me.messages.lock().unwrap().push(e);
        })
        .await
        .unwrap()
    }
}

fn settings() -> RelaySettings {
    RelaySettings {
        batch: 50,
        ..RelaySettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_round_publishes_each_row_on_both_channels_and_marks_it_delivered() {
    let (test, db) = database().await;
    let b = Backend::standalone().await;
    let (policy, signals) = adapters(&b);
    let consumer = Consumer::default();
    let _sub = consumer.subscribe(&policy).await;
    let seen: Arc<Mutex<Vec<TemplateInvalidationSignal>>> = Arc::default();
    let sink = seen.clone();
    let _signals_sub = signals
        .subscribe_template_invalidation_signal(move |s| sink.lock().unwrap().push(s))
        .await
        .unwrap();
    write_signals(&db, 3).await;
    assert!(
        outbox::lag(&db).await.unwrap().is_some(),
        "undelivered rows have an age"
    );

    let publisher = OutboxRedisPublisher::new(policy.clone(), signals.clone());
    let report = outbox::deliver_round(&db, &publisher, &settings())
        .await
        .unwrap();
    assert_eq!(
        report,
        RoundReport {
            claimed: 6,
            delivered: 6,
            ..RoundReport::default()
        }
    );
    wait_for(&consumer.messages, 6).await;
    wait_for(&seen, 6).await;
    let versions: BTreeSet<(String, i32)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.tenant_id.clone(), s.version))
        .collect();
    assert_eq!(versions.len(), 6, "every stored signal went out as stored");
    assert_eq!(
        statuses(&test).await,
        BTreeMap::from([("delivered".into(), 6)])
    );
    let row = test
        .admin()
        .await
        .query_one(
            "SELECT min(attempts), bool_and(delivered_at IS NOT NULL) FROM template_invalidation_outbox",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert!(row.get::<_, bool>(1));
    assert_eq!(
        outbox::lag(&db).await.unwrap(),
        None,
        "nothing left undelivered"
    );

    // Nothing is due any more: the next round claims nothing.
    let again = outbox::deliver_round(&db, &publisher, &settings())
        .await
        .unwrap();
    assert_eq!(again, RoundReport::default());
}

/// Publishes through Redis, then never returns: the relay is stuck between publish and mark,
/// where the test kills it.
struct PublishThenHang {
    inner: OutboxRedisPublisher,
    published: Arc<AtomicUsize>,
}

impl OutboxPublisher for PublishThenHang {
    async fn publish(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        self.inner.publish(message).await?;
        if self.published.fetch_add(1, Ordering::SeqCst) + 1 >= 4 {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_between_publish_and_mark_leaves_the_rows_to_be_delivered_again() {
    let (test, db) = database().await;
    let b = Backend::standalone().await;
    let (policy, signals) = adapters(&b);
    let consumer = Consumer::default();
    let _sub = consumer.subscribe(&policy).await;
    write_signals(&db, 2).await;

    let published = Arc::new(AtomicUsize::new(0));
    let doomed = PublishThenHang {
        inner: OutboxRedisPublisher::new(policy.clone(), signals.clone()),
        published: published.clone(),
    };
    let relay_db = db.clone();
    let task =
        tokio::spawn(async move { outbox::deliver_round(&relay_db, &doomed, &settings()).await });
    wait_for(&consumer.messages, 4).await;
    task.abort(); // the crash: after four publishes, before any row was marked
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(
        statuses(&test).await,
        BTreeMap::from([("pending".into(), 4)]),
        "the killed round's transaction rolled back"
    );

    let publisher = OutboxRedisPublisher::new(policy, signals);
    let report = outbox::deliver_round(&db, &publisher, &settings())
        .await
        .unwrap();
    assert_eq!(report.delivered, 4, "every row is delivered again");
    wait_for(&consumer.messages, 8).await;
    assert_eq!(
        statuses(&test).await,
        BTreeMap::from([("delivered".into(), 4)])
    );
    // The consumer saw each row twice and ends in the state one delivery gives.
    assert_eq!(consumer.messages.lock().unwrap().len(), 8);
    assert_eq!(
        *consumer.invalidated.lock().unwrap(),
        BTreeSet::from([
            ("t_a".into(), "tpl_mail".into()),
            ("t_b".into(), "tpl_mail".into())
        ])
    );
}

/// Records every row id it publishes (through Redis), with a short pause so rounds overlap.
struct Recording {
    inner: OutboxRedisPublisher,
    ids: Arc<Mutex<Vec<String>>>,
}

impl OutboxPublisher for Recording {
    async fn publish(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        self.inner.publish(message).await?;
        self.ids.lock().unwrap().push(message.id.clone());
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_relays_side_by_side_deliver_every_row_exactly_once() {
    let (test, db) = database().await;
    let b = Backend::standalone().await;
    let (policy, signals) = adapters(&b);
    write_signals(&db, 100).await;
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut relays = Vec::new();
    for _ in 0..4 {
        // Each relay has its own pool, as four processes would.
        let relay_db = test.db().await;
        let publisher = Recording {
            inner: OutboxRedisPublisher::new(policy.clone(), signals.clone()),
            ids: ids.clone(),
        };
        relays.push(tokio::spawn(async move {
            let settings = RelaySettings {
                batch: 10,
                ..RelaySettings::default()
            };
            let mut rounds = 0;
            loop {
                let r = outbox::deliver_round(&relay_db, &publisher, &settings)
                    .await
                    .unwrap();
                rounds += 1;
                if r.claimed == 0 {
                    return rounds;
                }
            }
        }));
    }
    let mut busy = 0;
    for relay in relays {
        if relay.await.unwrap() > 1 {
            busy += 1;
        }
    }
    assert!(busy >= 2, "at least two relays took part");
    let ids = ids.lock().unwrap().clone();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 200, "no row was published twice");
    assert_eq!(unique.len(), 200);
    assert_eq!(
        statuses(&test).await,
        BTreeMap::from([("delivered".into(), 200)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_rows_are_retried_with_backoff_then_marked_failed_with_their_error() {
    let (test, db) = database().await;
    let (_dir, mut server) = private_redis().await;
    let conn = RedisConn::standalone(
        redis::Client::open(server.url()).unwrap(),
        ConnSettings {
            command_timeout: Duration::from_millis(300),
            pool_size: 1,
        },
    )
    .unwrap();
    let publisher = OutboxRedisPublisher::new(
        PolicyInvalidationBus::new(conn.clone(), None),
        SsrfGuardStore::new(conn, SsrfGuardOptions::default()).unwrap(),
    );
    server.stop().unwrap();
    write_signals(&db, 2).await; // four rows

    // A long backoff: failed rows are not due again in the next round.
    let patient = RelaySettings {
        max_attempts: 3,
        backoff_base: Duration::from_secs(3600),
        backoff_max: Duration::from_secs(7200),
        ..settings()
    };
    let r = outbox::deliver_round(&db, &publisher, &patient)
        .await
        .unwrap();
    assert_eq!((r.claimed, r.retried, r.delivered, r.failed), (4, 4, 0, 0));
    let next = outbox::deliver_round(&db, &publisher, &patient)
        .await
        .unwrap();
    assert_eq!(next.claimed, 0, "every failed row waits out its backoff");
    let admin = test.admin().await;
    let backed_off: i64 = admin
        .query_one(
            "SELECT count(*) FROM template_invalidation_outbox
             WHERE status = 'pending' AND attempts = 1 AND last_error IS NOT NULL
               AND next_attempt_at > now() + interval '40 minutes'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(backed_off, 4);

    // No wait between attempts: the third failure of one row marks it failed, error kept.
    let eager = RelaySettings {
        max_attempts: 3,
        backoff_base: Duration::ZERO,
        backoff_max: Duration::ZERO,
        ..settings()
    };
    admin
        .batch_execute(
            "UPDATE template_invalidation_outbox SET next_attempt_at = now() - interval '1 second'",
        )
        .await
        .unwrap();
    let mut failed = 0;
    for _ in 0..20 {
        let r = outbox::deliver_round(&db, &publisher, &eager)
            .await
            .unwrap();
        failed += r.failed;
        if r.claimed == 0 {
            break;
        }
    }
    assert_eq!(failed, 4);
    assert_eq!(
        statuses(&test).await,
        BTreeMap::from([("failed".into(), 4)])
    );
    let row = admin
        .query_one(
            "SELECT min(attempts), max(attempts), min(last_error) FROM template_invalidation_outbox",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, i32>(1)), (3, 3));
    let error: String = row.get(2);
    assert!(error.contains("unavailable"), "{error}");
    assert_eq!(
        outbox::lag(&db).await.unwrap(),
        None,
        "failed rows are no longer waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_task_delivers_what_commits_while_it_runs_and_stops_cleanly() {
    let (test, db) = database().await;
    let b = Backend::standalone().await;
    let (policy, signals) = adapters(&b);
    let consumer = Consumer::default();
    let _sub = consumer.subscribe(&policy).await;
    let relay = outbox::spawn_relay(
        db.clone(),
        Arc::new(OutboxRedisPublisher::new(policy, signals)),
        RelaySettings {
            interval: Duration::from_millis(20),
            ..RelaySettings::default()
        },
    );
    write_signals(&db, 5).await;
    wait_for(&consumer.messages, 10).await;
    relay.stop().await;
    assert_eq!(
        statuses(&test).await,
        BTreeMap::from([("delivered".into(), 10)])
    );
}

/// Fails every publish, as a publisher whose server is gone would.
struct Refusing;

impl OutboxPublisher for Refusing {
    async fn publish(&self, _message: &OutboxMessage) -> Result<(), PublishError> {
        Err(PublishError::new("unavailable: refused"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failing_group_the_rest_of_the_batch_is_left_untouched() {
    let (test, db) = database().await;
    write_signals(&db, 20).await; // forty rows: one group of 32 publishes, then 8 more
    let r = outbox::deliver_round(&db, &Refusing, &settings())
        .await
        .unwrap();
    assert_eq!((r.claimed, r.retried, r.skipped), (40, 32, 8));
    let untouched: i64 = test
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM template_invalidation_outbox
             WHERE attempts = 0 AND last_error IS NULL AND next_attempt_at <= now()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        untouched, 8,
        "the skipped rows are due again at once, no attempt spent"
    );
}
