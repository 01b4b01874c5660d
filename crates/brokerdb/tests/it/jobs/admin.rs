//! Listing jobs, retrying dead ones, purging finished ones, queue depth.

use std::time::Duration;

use brokerdb::db::Db;
use brokerdb::jobs::{
    self, Backoff, Dedupe, JobError, JobFilter, JobId, JobStatus, NewJob, PurgeFilter,
};
use brokerdb_testkit::{TestDatabase, database};
use serde_json::json;

use super::{count, job};
use crate::assert_code;
use crate::support::{Error, TestResult};

/// Enqueues a job of `queue` and takes it to `status` through the library.
async fn job_in(
    db: &Db,
    queue: &str,
    status: JobStatus,
    key: Option<&str>,
) -> Result<JobId, Error> {
    let mut new = NewJob::new(queue, "work", json!({})).with_max_attempts(1);
    if let Some(key) = key {
        new = new.with_dedupe(Dedupe::Unfinished(key.into()));
    }
    let id = jobs::enqueue(&mut db.system(), &new).await?.job.id;
    if status == JobStatus::Queued {
        return Ok(id);
    }
    let claimed = jobs::claim(&mut db.system(), queue, 1, Duration::from_secs(60)).await?;
    let lease = &claimed.first().ok_or("nothing claimed")?.lease;
    assert_eq!(lease.job_id(), id, "one job at a time in these tests");
    match status {
        JobStatus::Succeeded => jobs::complete(&mut db.system(), lease).await?,
        JobStatus::Dead => {
            let e = JobError::new("boom");
            jobs::fail(&mut db.system(), lease, &e, &Backoff::default()).await?;
        }
        _ => {}
    }
    Ok(id)
}

/// Moves every finished job's `finished_at` back by `days` (as the superuser).
async fn age(db: &TestDatabase, days: i32) -> Result<(), Error> {
    db.admin()
        .await
        .execute(
            "UPDATE jobs SET finished_at = finished_at - make_interval(days => $1) WHERE finished_at IS NOT NULL",
            &[&days],
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn lists_are_newest_first_filtered_and_paged() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let a1 = job_in(&db, "a", JobStatus::Succeeded, None).await?;
    let a2 = job_in(&db, "a", JobStatus::Dead, None).await?;
    let b1 = job_in(&db, "b", JobStatus::Queued, None).await?;
    let a3 = job_in(&db, "a", JobStatus::Queued, None).await?;
    let ids = |v: Vec<jobs::Job>| v.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let all = JobFilter::default();
    assert_eq!(
        ids(jobs::list(&mut db.system(), &all, 10, None).await?),
        [a3, b1, a2, a1]
    );
    let of_a = JobFilter {
        queue: Some("a".into()),
        status: None,
    };
    assert_eq!(
        ids(jobs::list(&mut db.system(), &of_a, 2, None).await?),
        [a3, a2]
    );
    assert_eq!(
        ids(jobs::list(&mut db.system(), &of_a, 2, Some(a2)).await?),
        [a1]
    );
    let dead = JobFilter {
        queue: None,
        status: Some(JobStatus::Dead),
    };
    assert_eq!(
        ids(jobs::list(&mut db.system(), &dead, 10, None).await?),
        [a2]
    );
    assert_code!(
        jobs::list(&mut db.system(), &all, 0, None).await,
        ValidationError
    );
    assert_code!(
        jobs::list(&mut db.system(), &all, 1001, None).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn retry_queues_a_dead_job_again_with_fresh_attempts_and_refuses_anything_else() -> TestResult
{
    let test_db = database().await;
    let db = test_db.db().await;
    let dead = job_in(&db, "q", JobStatus::Dead, None).await?;
    let done = job_in(&db, "q", JobStatus::Succeeded, None).await?;
    let retried = jobs::retry(&mut db.system(), dead).await?;
    assert_eq!((retried.status, retried.attempts), (JobStatus::Queued, 0));
    assert_eq!(retried.finished_at, None);
    assert_eq!(
        retried.last_error.as_deref(),
        Some("boom"),
        "kept until the next failure"
    );
    let claimed = jobs::claim(&mut db.system(), "q", 1, Duration::from_secs(60)).await?;
    assert_eq!(claimed.first().map(|c| c.job.id), Some(dead));
    assert_code!(
        jobs::retry(&mut db.system(), dead).await,
        StateTransitionInvalid
    );
    assert_code!(
        jobs::retry(&mut db.system(), done).await,
        StateTransitionInvalid
    );
    assert_code!(jobs::retry(&mut db.system(), 987_654).await, NotFound);
    Ok(())
}

#[tokio::test]
async fn retry_of_a_dead_job_whose_key_is_taken_again_is_a_unique_violation() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let dead = job_in(&db, "q", JobStatus::Dead, Some("k")).await?;
    job_in(&db, "q", JobStatus::Queued, Some("k")).await?;
    assert_code!(jobs::retry(&mut db.system(), dead).await, UniqueViolation);
    assert_eq!(job(&db, dead).await?.status, JobStatus::Dead);
    Ok(())
}

#[tokio::test]
async fn retry_dead_queues_a_queues_dead_jobs_again_once_per_dedupe_key() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    job_in(&db, "q", JobStatus::Dead, None).await?;
    job_in(&db, "q", JobStatus::Dead, None).await?;
    let old_k = job_in(&db, "q", JobStatus::Dead, Some("k")).await?;
    let new_k = job_in(&db, "q", JobStatus::Dead, Some("k")).await?;
    let held = job_in(&db, "q", JobStatus::Dead, Some("held")).await?;
    job_in(&db, "q", JobStatus::Queued, Some("held")).await?;
    job_in(&db, "other", JobStatus::Dead, None).await?;
    assert_eq!(jobs::retry_dead(&mut db.system(), "q", 100).await?, 3);
    assert_eq!(job(&db, new_k).await?.status, JobStatus::Queued);
    assert_eq!(job(&db, old_k).await?.status, JobStatus::Dead);
    assert_eq!(job(&db, held).await?.status, JobStatus::Dead);
    assert_eq!(count(&test_db, "other", "dead").await?, 1);
    assert_eq!(jobs::retry_dead(&mut db.system(), "q", 100).await?, 0);
    Ok(())
}

#[tokio::test]
async fn purge_deletes_only_finished_jobs_of_the_statuses_and_age_asked_within_its_bound()
-> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    for _ in 0..3 {
        job_in(&db, "q", JobStatus::Succeeded, None).await?;
    }
    let dead = job_in(&db, "q", JobStatus::Dead, None).await?;
    age(&test_db, 10).await?;
    let recent = job_in(&db, "q", JobStatus::Succeeded, None).await?;
    let queued = job_in(&db, "q", JobStatus::Queued, None).await?;
    let succeeded = |older_than| PurgeFilter {
        statuses: vec![JobStatus::Succeeded],
        older_than,
        queue: Some("q".into()),
    };
    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(jobs::purge(&mut db.system(), &succeeded(week), 2).await?, 2);
    assert_eq!(jobs::purge(&mut db.system(), &succeeded(week), 2).await?, 1);
    assert_eq!(jobs::purge(&mut db.system(), &succeeded(week), 2).await?, 0);
    assert!(jobs::get(&mut db.system(), recent).await?.is_some());
    assert_eq!(job(&db, dead).await?.status, JobStatus::Dead);
    let dead_too = PurgeFilter {
        statuses: vec![JobStatus::Succeeded, JobStatus::Dead],
        older_than: Duration::ZERO,
        queue: None,
    };
    assert_eq!(jobs::purge(&mut db.system(), &dead_too, 100).await?, 2);
    assert_eq!(job(&db, queued).await?.status, JobStatus::Queued);
    let unfinished = PurgeFilter {
        statuses: vec![JobStatus::Queued],
        older_than: Duration::ZERO,
        queue: None,
    };
    assert_code!(
        jobs::purge(&mut db.system(), &unfinished, 100).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn depth_counts_queued_running_and_dead_jobs_per_queue() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    job_in(&db, "a", JobStatus::Dead, None).await?;
    job_in(&db, "a", JobStatus::Succeeded, None).await?;
    job_in(&db, "a", JobStatus::Queued, None).await?;
    job_in(&db, "a", JobStatus::Queued, None).await?;
    job_in(&db, "b", JobStatus::Running, None).await?;
    let rows: Vec<(String, JobStatus, i64)> = jobs::depth(&mut db.system())
        .await?
        .into_iter()
        .map(|r| (r.queue, r.status, r.jobs))
        .collect();
    assert_eq!(
        rows,
        [
            ("a".to_owned(), JobStatus::Dead, 1),
            ("a".to_owned(), JobStatus::Queued, 2),
            ("b".to_owned(), JobStatus::Running, 1),
        ]
    );
    Ok(())
}
