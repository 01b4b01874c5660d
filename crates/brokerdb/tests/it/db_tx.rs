//! Transactions: retries, caller reuse, timeouts, rollback on error, panic and cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use brokerdb::db::{DbError, ErrorCode, TxOptions, run_in_transaction};

use crate::TestResult;
use crate::db_scope::{seeded, tenant};

const INSERT_USER: &str =
    "INSERT INTO human_users (user_id, tenant_id, email) VALUES ($1, 't_a', $1 || '@example.com')";
const COUNT_USERS: &str = "SELECT count(*) FROM human_users";

async fn users_of_a(db: &brokerdb::db::Db) -> Result<i64, DbError> {
    let a = "t_a".parse().map_err(DbError::Validation)?;
    Ok(db.tenant(&a).query(COUNT_USERS, &[]).await?[0].get(0))
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
async fn a_nested_call_with_the_callers_transaction_opens_no_second_transaction() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let result: Result<(), DbError> = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let (db, a) = (db.clone(), a.clone());
            Box::pin(async move {
                tx.execute(INSERT_USER, &[&"u_outer"]).await?;
                let scope = db.tenant(&a);
                run_in_transaction(&scope, Some(tx), &TxOptions::default(), |inner| {
                    Box::pin(async move {
                        let seen: i64 = inner.query(COUNT_USERS, &[]).await?[0].get(0);
                        assert_eq!(
                            seen, 3,
                            "the inner call does not see the outer's uncommitted row"
                        );
                        inner.execute(INSERT_USER, &[&"u_inner"]).await
                    })
                })
                .await?;
                Err(DbError::Conflict {
                    message: "caller gives up".into(),
                })
            })
        })
        .await;
    assert_eq!(result.err().map(|e| e.code()), Some(ErrorCode::Conflict));
    assert_eq!(
        users_of_a(&db).await?,
        2,
        "the outer rollback must undo the inner write"
    );
    Ok(())
}

#[tokio::test]
async fn a_caller_transaction_of_another_scope_is_refused() -> TestResult {
    let (_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let err = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            let (db, b) = (db.clone(), b.clone());
            Box::pin(async move {
                let scope_b = db.tenant(&b);
                run_in_transaction(&scope_b, Some(tx), &TxOptions::default(), |_| {
                    Box::pin(async { Ok(()) })
                })
                .await
            })
        })
        .await
        .err()
        .ok_or("tenant B ran in tenant A's transaction")?;
    assert_eq!(err.code(), ErrorCode::ValidationError);
    Ok(())
}

#[tokio::test]
async fn statement_timeout_maps_to_timeout() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let opts = TxOptions {
        statement_timeout: Some(Duration::from_millis(50)),
        ..TxOptions::default()
    };
    let err = db
        .tenant(&a)
        .transaction(&opts, |tx| {
            Box::pin(async move { tx.query("SELECT pg_sleep(2)", &[]).await.map(|_| ()) })
        })
        .await
        .err()
        .ok_or("pg_sleep(2) finished within a 50 ms timeout")?;
    assert_eq!(err.code(), ErrorCode::Timeout);
    // The timeout was transaction-local: the next scoped read is unaffected.
    assert_eq!(users_of_a(&db).await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_killed_connection_maps_to_unavailable() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let admin = std::sync::Arc::new(test_db.admin().await);
    let err = db
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
        .await
        .err()
        .ok_or("a statement on a terminated connection succeeded")?;
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    // The pool replaces the dead connection.
    assert_eq!(users_of_a(&db).await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_failed_transaction_rolls_back() -> TestResult {
    let (_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let err = db
        .tenant(&a)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                tx.execute(INSERT_USER, &[&"u_1"]).await?;
                tx.execute(INSERT_USER, &[&"u_a1"]).await // duplicate user_id
            })
        })
        .await
        .err()
        .ok_or("duplicate accepted")?;
    assert_eq!(err.code(), ErrorCode::UniqueViolation);
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
                    if tx.scope() == tx.scope() {
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
