//! Enqueue, dedupe, claims, leases and settling, through the library functions.

use std::time::Duration;

use brokerdb::db::{DbError, Exec, TxOptions};
use brokerdb::jobs::{
    self, Backoff, Dedupe, FailOutcome, JobError, JobStatus, MAX_ERROR_CHARS, NewJob,
};
use brokerdb::model::Timestamp;
use brokerdb_testkit::database;
use serde_json::json;

use super::{count, job, let_time_pass, make_due};
use crate::assert_code;
use crate::support::{TestResult, seeded, tenant};

fn new(queue: &str) -> NewJob {
    NewJob::new(queue, "work", json!({"n": 1}))
}

#[tokio::test]
async fn a_job_is_stored_queued_with_its_fields() -> TestResult {
    let (_t, db) = seeded().await?;
    let done = jobs::enqueue(
        &mut db.system(),
        &new("mail").with_tenant(tenant("t_a")?).with_max_attempts(3),
    )
    .await?;
    assert!(done.created);
    let j = done.job;
    assert_eq!(
        (j.queue.as_str(), j.kind.as_str(), &j.payload),
        ("mail", "work", &json!({"n": 1}))
    );
    assert_eq!(j.tenant_id, Some(tenant("t_a")?));
    assert_eq!(
        (j.status, j.attempts, j.max_attempts),
        (JobStatus::Queued, 0, 3)
    );
    assert!(j.run_at <= Timestamp::now());
    assert_eq!(
        (j.locked_until, j.finished_at, j.last_error),
        (None, None, None)
    );
    Ok(())
}

#[tokio::test]
async fn enqueueing_a_dedupe_key_twice_gives_one_job_until_it_finishes() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let key = || Dedupe::Unfinished("user:42".into());
    let first = jobs::enqueue(&mut db.system(), &new("q").with_dedupe(key())).await?;
    let second = jobs::enqueue(&mut db.system(), &new("q").with_dedupe(key())).await?;
    assert!(first.created && !second.created);
    assert_eq!(second.job.id, first.job.id);
    // Another queue's key space is its own.
    let other = jobs::enqueue(&mut db.system(), &new("other").with_dedupe(key())).await?;
    assert!(other.created);
    // Running still counts as unfinished.
    let claimed = jobs::claim(&mut db.system(), "q", 10, Duration::from_secs(60)).await?;
    assert_eq!(claimed.len(), 1);
    let again = jobs::enqueue(&mut db.system(), &new("q").with_dedupe(key())).await?;
    assert_eq!((again.created, again.job.id), (false, first.job.id));
    // Once it finished the key is free again.
    jobs::complete(&mut db.system(), &claimed[0].lease).await?;
    let after = jobs::enqueue(&mut db.system(), &new("q").with_dedupe(key())).await?;
    assert!(after.created);
    assert_ne!(after.job.id, first.job.id);
    assert_eq!(count(&test_db, "q", "queued").await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_kept_dedupe_key_returns_the_finished_job_too() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let key = || Dedupe::Kept("slot:7".into());
    let first = jobs::enqueue(&mut db.system(), &new("q").with_dedupe(key())).await?;
    let claimed = jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60)).await?;
    jobs::complete(&mut db.system(), &claimed[0].lease).await?;
    let again = jobs::enqueue(&mut db.system(), &new("q").with_dedupe(key())).await?;
    assert_eq!((again.created, again.job.id), (false, first.job.id));
    assert_eq!(again.job.status, JobStatus::Succeeded);
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_enqueues_of_one_dedupe_key_create_one_job() -> TestResult {
    let test_db = database().await;
    let db = super::db_with_pools(&test_db, 20).await?;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let job = new("q").with_dedupe(Dedupe::Unfinished("once".into()));
            jobs::enqueue(&mut db.system(), &job).await
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let done = task.await??;
        created += usize::from(done.created);
        ids.insert(done.job.id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1, "every caller got the one job");
    assert_eq!(count(&test_db, "q", "queued").await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_does_not_exist() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let result: Result<(), DbError> = db
        .system()
        .transaction(&TxOptions::DEFAULT, |tx| {
            Box::pin(async move {
                jobs::enqueue(tx, &new("q")).await?;
                Err(DbError::validation("change", "failed after the enqueue"))
            })
        })
        .await;
    assert!(result.is_err());
    assert_eq!(count(&test_db, "q", "queued").await?, 0);
    db.system()
        .transaction(&TxOptions::DEFAULT, |tx| {
            Box::pin(async move {
                jobs::enqueue(tx, &new("q")).await?;
                tx.execute("SELECT 1", &[]).await?;
                Ok(())
            })
        })
        .await?;
    assert_eq!(count(&test_db, "q", "queued").await?, 1);
    Ok(())
}

#[tokio::test]
async fn bad_jobs_are_refused_before_anything_is_written() -> TestResult {
    let (test_db, db) = seeded().await?;
    let big = json!({"blob": "x".repeat(jobs::MAX_PAYLOAD_BYTES)});
    for (job, field) in [
        (NewJob::new("Bad Queue", "k", json!({})), "queue"),
        (NewJob::new("q", "k:1", json!({})), "kind"),
        (NewJob::new("q", "k", big), "payload"),
        (new("q").with_max_attempts(101), "max_attempts"),
        (
            new("q").with_dedupe(Dedupe::Unfinished("".into())),
            "dedupe_key",
        ),
    ] {
        match jobs::enqueue(&mut db.system(), &job).await {
            Err(DbError::Validation(v)) => assert_eq!(v.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_code!(
        jobs::enqueue(&mut db.system(), &new("q").with_tenant(tenant("t_nope")?)).await,
        IntegrityViolation
    );
    assert_code!(
        jobs::claim(&mut db.system(), "q", 0, Duration::from_secs(1)).await,
        ValidationError
    );
    assert_code!(
        jobs::claim(&mut db.system(), "q", 1, Duration::ZERO).await,
        ValidationError
    );
    assert_eq!(
        crate::count_rows(&test_db, "jobs").await?,
        0,
        "nothing was written"
    );
    Ok(())
}

#[tokio::test]
async fn a_delayed_job_is_not_claimed_before_its_run_at() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let later = jobs::enqueue(
        &mut db.system(),
        &new("q").run_after(Duration::from_secs(3600)),
    )
    .await?
    .job;
    let at = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 3_600_000)?;
    let scheduled = jobs::enqueue(&mut db.system(), &new("q").run_at(at))
        .await?
        .job;
    assert!(later.run_at > Timestamp::now());
    assert_eq!(scheduled.run_at, at);
    assert!(
        jobs::claim(&mut db.system(), "q", 10, Duration::from_secs(60))
            .await?
            .is_empty()
    );
    let due = jobs::enqueue(&mut db.system(), &new("q")).await?.job;
    let claimed = jobs::claim(&mut db.system(), "q", 10, Duration::from_secs(60)).await?;
    assert_eq!(
        claimed.iter().map(|c| c.job.id).collect::<Vec<_>>(),
        vec![due.id]
    );
    // Time passes: both delayed jobs are due (the claimed one keeps its lease).
    make_due(&test_db, "q").await?;
    let claimed = jobs::claim(&mut db.system(), "q", 10, Duration::from_secs(60)).await?;
    let mut ids: Vec<_> = claimed.iter().map(|c| c.job.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![later.id, scheduled.id]);
    Ok(())
}

#[tokio::test]
async fn a_claim_takes_due_jobs_oldest_first_and_leases_them() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(jobs::enqueue(&mut db.system(), &new("q")).await?.job.id);
    }
    jobs::enqueue(&mut db.system(), &new("elsewhere")).await?;
    let claimed = jobs::claim(&mut db.system(), "q", 3, Duration::from_secs(60)).await?;
    assert_eq!(
        claimed.iter().map(|c| c.job.id).collect::<Vec<_>>(),
        ids[..3].to_vec()
    );
    for c in &claimed {
        assert_eq!((c.job.status, c.job.attempts), (JobStatus::Running, 1));
        assert!(c.job.locked_until.is_some_and(|t| t > Timestamp::now()));
        assert_eq!(c.lease.job_id(), c.job.id);
        assert_eq!(c.lease.attempt(), 1);
    }
    let rest = jobs::claim(&mut db.system(), "q", 10, Duration::from_secs(60)).await?;
    assert_eq!(rest.len(), 2, "leased jobs are not claimed again");
    Ok(())
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_dead_lettered_with_its_error() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let id = jobs::enqueue(&mut db.system(), &new("q").with_max_attempts(3))
        .await?
        .job
        .id;
    let backoff = Backoff {
        base: Duration::from_secs(60),
        max: Duration::from_secs(600),
    };
    for attempt in 1..=3 {
        let claimed = jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60)).await?;
        let [c] = claimed.as_slice() else {
            return Err(format!("attempt {attempt}: nothing to claim").into());
        };
        assert_eq!(c.lease.attempt(), attempt);
        let error = JobError::new(format!("upstream said 503 on attempt {attempt}"));
        let before = Timestamp::now();
        let outcome = jobs::fail(&mut db.system(), &c.lease, &error, &backoff).await?;
        let stored = job(&db, id).await?;
        assert_eq!(stored.last_error.as_deref(), Some(error.message()));
        if attempt < 3 {
            let FailOutcome::Retried { run_at } = outcome else {
                return Err(format!("attempt {attempt}: {outcome:?}").into());
            };
            // Half the doubled base at least: 30 s after the first failure, 60 s after the second.
            let least = 30_000 * (1 << (attempt - 1));
            assert!(run_at.unix_millis() >= before.unix_millis() + least - 1000);
            assert_eq!((stored.status, stored.run_at), (JobStatus::Queued, run_at));
            assert_eq!((stored.locked_until, stored.finished_at), (None, None));
            assert!(
                jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60))
                    .await?
                    .is_empty(),
                "not claimed during its backoff"
            );
            let_time_pass(&test_db, "q").await?;
        } else {
            assert_eq!(outcome, FailOutcome::Dead);
            assert_eq!((stored.status, stored.attempts), (JobStatus::Dead, 3));
            assert!(stored.finished_at.is_some());
        }
    }
    let_time_pass(&test_db, "q").await?;
    assert!(
        jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60))
            .await?
            .is_empty(),
        "a dead job is never claimed"
    );
    Ok(())
}

#[tokio::test]
async fn a_permanent_error_dead_letters_at_once_and_long_errors_are_cut() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let id = jobs::enqueue(&mut db.system(), &new("q")).await?.job.id;
    let claimed = jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60)).await?;
    let error = JobError::permanent("bad payload: ".to_owned() + &"x".repeat(5000));
    let outcome = jobs::fail(
        &mut db.system(),
        &claimed[0].lease,
        &error,
        &Backoff::default(),
    )
    .await?;
    assert_eq!(outcome, FailOutcome::Dead);
    let stored = job(&db, id).await?;
    assert_eq!((stored.status, stored.attempts), (JobStatus::Dead, 1));
    let kept = stored.last_error.unwrap_or_default();
    assert_eq!(kept.chars().count(), MAX_ERROR_CHARS);
    assert!(kept.starts_with("bad payload: xxx") && kept.ends_with('…'));
    Ok(())
}

#[tokio::test]
async fn a_crashed_workers_job_is_claimed_again_and_the_old_lease_cannot_settle_it() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let id = jobs::enqueue(&mut db.system(), &new("q")).await?.job.id;
    let lease = Duration::from_secs(60);
    let first = jobs::claim(&mut db.system(), "q", 1, lease).await?;
    let old = first[0].lease.clone();
    assert!(
        jobs::claim(&mut db.system(), "q", 1, lease)
            .await?
            .is_empty(),
        "held while its lease lasts"
    );
    // The first worker crashes: no heartbeat, no settle; its lease runs out.
    let_time_pass(&test_db, "q").await?;
    let second = jobs::claim(&mut db.system(), "q", 1, lease).await?;
    let [again] = second.as_slice() else {
        return Err("the expired job was not claimed again".into());
    };
    assert_eq!((again.job.id, again.lease.attempt()), (id, 2));
    assert!(
        again
            .job
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("lease of attempt 1 expired")),
        "{:?}",
        again.job.last_error
    );
    // The old holder wakes up: everything it tries is refused and changes nothing.
    assert_code!(jobs::complete(&mut db.system(), &old).await, Conflict);
    assert_code!(
        jobs::fail(
            &mut db.system(),
            &old,
            &JobError::new("late"),
            &Backoff::default()
        )
        .await,
        Conflict
    );
    assert_code!(
        jobs::heartbeat(&mut db.system(), &old, lease).await,
        Conflict
    );
    let stored = job(&db, id).await?;
    assert_eq!((stored.status, stored.attempts), (JobStatus::Running, 2));
    // The new holder settles it.
    let extended = jobs::heartbeat(&mut db.system(), &again.lease, lease).await?;
    assert!(extended > Timestamp::now());
    jobs::complete(&mut db.system(), &again.lease).await?;
    let stored = job(&db, id).await?;
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert!(stored.finished_at.is_some() && stored.locked_until.is_none());
    // A second complete with the same lease is refused too: the run is settled.
    assert_code!(
        jobs::complete(&mut db.system(), &again.lease).await,
        Conflict
    );
    Ok(())
}

#[tokio::test]
async fn a_job_whose_last_lease_expires_is_dead_lettered_by_the_next_claim() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let id = jobs::enqueue(&mut db.system(), &new("q").with_max_attempts(2))
        .await?
        .job
        .id;
    for _ in 0..2 {
        assert_eq!(
            jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60))
                .await?
                .len(),
            1
        );
        let_time_pass(&test_db, "q").await?;
    }
    assert!(
        jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60))
            .await?
            .is_empty()
    );
    let stored = job(&db, id).await?;
    assert_eq!((stored.status, stored.attempts), (JobStatus::Dead, 2));
    assert!(
        stored
            .last_error
            .is_some_and(|e| e.contains("lease of attempt 2 expired"))
    );
    Ok(())
}
