//! Transactions: typed by scope, closure and explicit forms, composition of repository calls,
//! retries, timeouts, and rollback on error, panic, cancellation and drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use brokerdb::prelude::*;
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::users::{self, ReplaceRoles};
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};

use crate::assert_code;
use crate::support::{SEED, TestResult, count_rows, seeded, tenant, text};

const INSERT_USER: &str =
    "INSERT INTO human_users (user_id, tenant_id, email) VALUES ($1, 't_a', $1 || '@example.com')";
const COUNT_USERS: &str = "SELECT count(*) FROM human_users";

async fn users_of_a(db: &Db) -> Result<i64, DbError> {
    let a = TenantId::parse("t_a")?;
    Ok(db.tenant(&a).query(COUNT_USERS, &[]).await?[0].get(0))
}

fn workload_request(name: &str) -> WorkloadCreateRequest {
    WorkloadCreateRequest {
        name: name.to_owned(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    }
}

fn token_for(workload: &WorkloadId, hash: char) -> Result<IssueEnrollmentToken, DbError> {
    Ok(IssueEnrollmentToken {
        token_hash: brokerdb::model::TokenHash::parse(&hash.to_string().repeat(64))?,
        workload_id: workload.clone(),
        expires_at: Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000)?,
        created_at: None,
    })
}

#[tokio::test]
async fn a_workload_and_its_enrollment_token_are_created_in_one_transaction() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut tx = db.tenant(&a).begin(&TxOptions::default()).await?;
    let workload = workloads::create(&mut tx, &workload_request("api"), None, None).await?;
    let token = enrollment_tokens::issue(&mut tx, &token_for(&workload.workload_id, 'a')?).await?;
    tx.commit().await?;
    assert_eq!(token.workload_id, workload.workload_id);
    assert_eq!(
        (
            count_rows(&test_db, "workloads").await?,
            count_rows(&test_db, "enrollment_tokens").await?
        ),
        (1, 1)
    );
    Ok(())
}

#[tokio::test]
async fn repository_calls_composed_in_a_transaction_roll_back_together() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let failed = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                let w = workloads::create(tx, &workload_request("api"), None, None).await?;
                enrollment_tokens::issue(tx, &token_for(&w.workload_id, 'b')?).await?;
                // The same hash again: the second issue fails, and with it everything above.
                enrollment_tokens::issue(tx, &token_for(&w.workload_id, 'b')?).await
            })
        })
        .await;
    assert_code!(failed, UniqueViolation);
    assert_eq!(
        (
            count_rows(&test_db, "workloads").await?,
            count_rows(&test_db, "enrollment_tokens").await?
        ),
        (0, 0)
    );
    Ok(())
}

#[tokio::test]
async fn an_atomic_repository_call_joins_the_callers_transaction() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let change = ReplaceRoles {
        roles: vec!["owner".into()],
        actor: text("adm_1"),
        correlation_id: text("req-1"),
    };
    let mut tx = db.tenant(&a).begin(&TxOptions::default()).await?;
    let user = users::update_roles(&mut tx, &UserId::parse("u_a1")?, &change).await?;
    assert_eq!(user.roles.len(), 1);
    tx.rollback().await?;
    // update_roles runs its own transaction when given a scope; given ours, it ran inside it, so
    // the rollback took its roles and its audit row away.
    assert_eq!(
        (
            count_rows(&test_db, "human_user_roles").await?,
            count_rows(&test_db, "audit_events").await?
        ),
        (0, 0)
    );
    Ok(())
}

#[tokio::test]
async fn a_transaction_dropped_without_commit_rolls_back() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    {
        let mut tx = db.tenant(&a).begin(&TxOptions::default()).await?;
        tx.execute(INSERT_USER, &[&"u_dropped"]).await?;
    }
    // The rollback runs in the background before the connection returns to the pool.
    for _ in 0..8 {
        assert_eq!(users_of_a(&db).await?, 2);
    }
    Ok(())
}

#[tokio::test]
async fn a_transaction_that_ran_no_statement_commits_without_a_round_trip_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let tx = db.system().begin(&TxOptions::default()).await?;
    tx.commit().await?;
    let tx = db
        .tenant(&tenant("t_a")?)
        .begin(&TxOptions::default())
        .await?;
    tx.rollback().await?;
    assert_eq!(users_of_a(&db).await?, 2);
    Ok(())
}

/// An error of the caller's own: a deliberate rollback does not have to pose as a conflict.
#[derive(Debug, PartialEq, Eq)]
enum Checkout {
    OutOfStock,
    Db(String),
}

impl From<DbError> for Checkout {
    fn from(e: DbError) -> Self {
        Self::Db(e.code().as_str().to_owned())
    }
}

impl TxError for Checkout {
    fn as_db_error(&self) -> Option<&DbError> {
        None
    }
}

#[tokio::test]
async fn a_closure_transaction_can_fail_with_the_callers_own_error_and_roll_back() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let outcome: Result<(), Checkout> = db
        .tenant(&a)
        .try_transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                tx.execute(INSERT_USER, &[&"u_buyer"]).await?;
                Err(Checkout::OutOfStock)
            })
        })
        .await;
    assert_eq!(outcome, Err(Checkout::OutOfStock));
    assert_eq!(users_of_a(&db).await?, 2, "rolled back");
    Ok(())
}

#[tokio::test]
async fn concurrent_serializable_writers_complete_through_retries() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let attempts = Arc::new(AtomicU32::new(0));
    let before = db.tx_retries();
    let mut tasks = Vec::new();
    for id in ["u_x", "u_y"] {
        let (db, a, barrier, attempts) = (db.clone(), a.clone(), barrier.clone(), attempts.clone());
        tasks.push(tokio::spawn(async move {
            db.tenant(&a)
                .transaction(&TxOptions::serializable(), |tx| {
                    let (barrier, attempts) = (barrier.clone(), attempts.clone());
                    Box::pin(async move {
                        let n = attempts.fetch_add(1, Ordering::SeqCst);
                        // Both read the same rows, then both write: classic write skew.
                        let count: i64 = tx.query(COUNT_USERS, &[]).await?[0].get(0);
                        if n < 2 {
                            barrier.wait().await;
                        }
                        let user = format!("{id}_{count}");
                        tx.execute(INSERT_USER, &[&user]).await
                    })
                })
                .await
        }));
    }
    for t in tasks {
        t.await??;
    }
    assert!(
        db.tx_retries() > before,
        "no retry was needed: the workload did not collide"
    );
    assert!(attempts.load(Ordering::SeqCst) >= 3);
    assert_eq!(
        users_of_a(&db).await?,
        4,
        "both writers committed exactly once"
    );
    Ok(())
}

#[tokio::test]
async fn statement_timeout_maps_to_timeout_and_ends_with_the_transaction() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let opts = TxOptions {
        statement_timeout: Some(Duration::from_millis(50)),
        ..TxOptions::default()
    };
    let slept = db
        .tenant(&a)
        .transaction(&opts, |tx| {
            Box::pin(async move { tx.query("SELECT pg_sleep(2)", &[]).await.map(|_| ()) })
        })
        .await;
    assert_code!(slept, Timeout);
    // The timeout was transaction-local: the next scoped read is unaffected.
    assert_eq!(users_of_a(&db).await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_killed_connection_maps_to_unavailable_and_the_pool_replaces_it() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let admin = Arc::new(test_db.admin().await);
    let outcome = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let admin = admin.clone();
            Box::pin(async move {
                let pid: i32 = tx.query("SELECT pg_backend_pid()", &[]).await?[0].get(0);
                admin
                    .execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .map_err(|_| DbError::Unexpected {
                        message: "terminate failed".into(),
                    })?;
                tx.query("SELECT 1", &[]).await.map(|_| ())
            })
        })
        .await;
    assert_code!(outcome, Unavailable);
    assert_eq!(users_of_a(&db).await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_failed_statement_rolls_the_whole_transaction_back() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let outcome = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                tx.execute(INSERT_USER, &[&"u_1"]).await?;
                tx.execute(INSERT_USER, &[&"u_a1"]).await // duplicate user_id
            })
        })
        .await;
    assert_code!(outcome, UniqueViolation);
    assert_eq!(users_of_a(&db).await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_panicking_or_cancelled_transaction_rolls_back_and_its_connection_is_reusable()
-> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let (db2, a2) = (db.clone(), a.clone());
    let panicked = tokio::spawn(async move {
        db2.tenant(&a2)
            .transaction(&TxOptions::default(), |tx| {
                Box::pin(async move {
                    tx.execute(INSERT_USER, &[&"u_panic"]).await?;
                    if tx.tenant_id().as_str() == "t_a" {
                        panic!("deliberate panic inside a transaction");
                    }
                    Ok(())
                })
            })
            .await
    })
    .await;
    assert!(panicked.is_err_and(|e| e.is_panic()));

    let cancelled = tokio::time::timeout(
        Duration::from_millis(200),
        db.tenant(&a).transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                tx.execute(INSERT_USER, &[&"u_cancel"]).await?;
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            })
        }),
    )
    .await;
    assert!(cancelled.is_err(), "the transaction was not cancelled");

    // Every pooled connection (4) works and none is stuck in an open transaction.
    for _ in 0..8 {
        assert_eq!(users_of_a(&db).await?, 2);
    }
    Ok(())
}

/// A saturated pool does not queue without bound: with its one connection held by a long
/// statement, a further call fails `timeout` within the pool's wait bound, and the pool serves
/// again once the connection is free.
#[tokio::test]
async fn a_saturated_pool_fails_a_further_call_with_timeout_within_its_bound() -> TestResult {
    use brokerdb::db::{DbSettings, ErrorCode, pool};
    use std::time::Instant;

    let test_db = brokerdb_testkit::database().await;
    test_db.admin().await.batch_execute(SEED).await?;
    let db = Db::from_pools(
        pool::build(&test_db.runtime_config(), 1)?,
        pool::build(&test_db.system_config(), 1)?,
        DbSettings::default(),
        brokerdb::db::CursorKey::random(),
    )
    .await?;
    let a = tenant("t_a")?;
    let holder = {
        let (db, a) = (db.clone(), a.clone());
        tokio::spawn(async move {
            db.tenant(&a)
                .query("SELECT pg_sleep(6.5)", &[])
                .await
                .map(|_| ())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let refused = db.tenant(&a).query("SELECT 1", &[]).await;
    let waited = started.elapsed();
    assert_eq!(
        refused.as_ref().err().map(|e| e.code()),
        Some(ErrorCode::Timeout),
        "{refused:?}"
    );
    assert!(
        waited < pool::CONNECT_TIMEOUT + Duration::from_secs(1),
        "waited {waited:?} for a connection"
    );
    holder.await??;
    let rows = db.tenant(&a).query("SELECT 1", &[]).await?;
    assert_eq!(
        rows.len(),
        1,
        "the pool serves again once its connection is free"
    );
    Ok(())
}
