//! The worker runtime with real concurrent workers and handlers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brokerdb::db::Db;
use brokerdb::jobs::{self, Backoff, Job, JobError, JobStatus, NewJob, Worker, WorkerSettings};
use brokerdb_testkit::database;
use serde_json::json;
use tokio::sync::{Barrier, Notify};

use super::{count, db_with_pools, eventually, job, quick_settings};
use crate::support::{Error, TestResult};

async fn enqueue_many(db: &Db, queue: &str, n: usize) -> Result<Vec<i64>, Error> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let new = NewJob::new(queue, "work", json!({ "i": i }));
        ids.push(jobs::enqueue(&mut db.system(), &new).await?.job.id);
    }
    Ok(ids)
}

#[tokio::test]
async fn four_concurrent_workers_run_each_of_200_jobs_exactly_once() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let ids = enqueue_many(&db, "q", 200).await?;
    let runs: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..4 {
        // Each worker on pools of its own, as separate processes would be.
        let own = db_with_pools(&test_db, 6).await?;
        let mut worker = Worker::new(own, quick_settings());
        let runs = runs.clone();
        worker.register("q", 4, move |job: Job, _db: Db| {
            let runs = runs.clone();
            async move {
                if let Ok(mut runs) = runs.lock() {
                    *runs.entry(job.id).or_default() += 1;
                }
                tokio::task::yield_now().await;
                Ok(())
            }
        })?;
        workers.push(worker.spawn()?);
    }
    eventually("200 succeeded jobs", || async {
        Ok((count(&test_db, "q", "succeeded").await? == 200).then_some(()))
    })
    .await?;
    for w in workers {
        w.stop().await;
    }
    let runs = runs.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(runs.len(), 200);
    assert!(
        ids.iter().all(|id| runs.get(id) == Some(&1)),
        "a job ran twice: {runs:?}"
    );
    let attempts: i64 = test_db
        .admin()
        .await
        .query_one("SELECT sum(attempts) FROM jobs", &[])
        .await?
        .get(0);
    assert_eq!(attempts, 200, "every job was claimed once");
    Ok(())
}

#[tokio::test]
async fn a_queues_concurrency_limit_is_reached_and_never_exceeded() -> TestResult {
    let test_db = database().await;
    let db = db_with_pools(&test_db, 8).await?;
    enqueue_many(&db, "limited", 21).await?;
    enqueue_many(&db, "single", 6).await?;
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (single_now, single_most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // Each run waits for two others: the jobs only finish if three run at once.
    let barrier = Arc::new(Barrier::new(3));
    let mut worker = Worker::new(db.clone(), quick_settings());
    let (n, m, b) = (now.clone(), most.clone(), barrier.clone());
    worker.register("limited", 3, move |_job: Job, _db: Db| {
        let (n, m, b) = (n.clone(), m.clone(), b.clone());
        async move {
            let running = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(running, Ordering::SeqCst);
            b.wait().await;
            n.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    })?;
    let (n, m) = (single_now.clone(), single_most.clone());
    worker.register("single", 1, move |_job: Job, _db: Db| {
        let (n, m) = (n.clone(), m.clone());
        async move {
            let running = n.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            n.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    })?;
    let handle = worker.spawn()?;
    eventually("every job succeeded", || async {
        let done = count(&test_db, "limited", "succeeded").await?
            + count(&test_db, "single", "succeeded").await?;
        Ok((done == 27).then_some(()))
    })
    .await?;
    handle.stop().await;
    assert_eq!(most.load(Ordering::SeqCst), 3);
    assert_eq!(single_most.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn a_failing_handler_is_retried_then_dead_lettered_with_its_error() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let flaky = jobs::enqueue(
        &mut db.system(),
        &NewJob::new("q", "flaky", json!({})).with_max_attempts(3),
    )
    .await?
    .job
    .id;
    let broken = jobs::enqueue(
        &mut db.system(),
        &NewJob::new("q", "broken", json!({})).with_max_attempts(3),
    )
    .await?
    .job
    .id;
    let permanent = jobs::enqueue(&mut db.system(), &NewJob::new("q", "permanent", json!({})))
        .await?
        .job
        .id;
    let panics = jobs::enqueue(
        &mut db.system(),
        &NewJob::new("q", "panics", json!({})).with_max_attempts(1),
    )
    .await?
    .job
    .id;
    let mut worker = Worker::new(db.clone(), quick_settings());
    worker.register("q", 2, |job: Job, _db: Db| async move {
        match job.kind.as_str() {
            "flaky" if job.attempts < 3 => Err(JobError::new(format!(
                "timeout on attempt {}",
                job.attempts
            ))),
            "flaky" => Ok(()),
            "broken" => Err(JobError::new(format!(
                "upstream 500 on attempt {}",
                job.attempts
            ))),
            "permanent" => Err(JobError::permanent("the payload names no integration")),
            _ => panic!("handler bug"),
        }
    })?;
    let handle = worker.spawn()?;
    eventually("every job settled for good", || async {
        let finished =
            count(&test_db, "q", "succeeded").await? + count(&test_db, "q", "dead").await?;
        Ok((finished == 4).then_some(()))
    })
    .await?;
    handle.stop().await;
    let flaky = job(&db, flaky).await?;
    assert_eq!((flaky.status, flaky.attempts), (JobStatus::Succeeded, 3));
    assert_eq!(flaky.last_error.as_deref(), Some("timeout on attempt 2"));
    let broken = job(&db, broken).await?;
    assert_eq!((broken.status, broken.attempts), (JobStatus::Dead, 3));
    assert_eq!(
        broken.last_error.as_deref(),
        Some("upstream 500 on attempt 3")
    );
    let permanent = job(&db, permanent).await?;
    assert_eq!((permanent.status, permanent.attempts), (JobStatus::Dead, 1));
    assert_eq!(
        permanent.last_error.as_deref(),
        Some("the payload names no integration")
    );
    let panics = job(&db, panics).await?;
    assert_eq!(
        (panics.status, panics.last_error.as_deref()),
        (JobStatus::Dead, Some("the handler panicked"))
    );
    Ok(())
}

#[tokio::test]
async fn a_crashed_workers_job_is_run_again_by_another_worker_after_its_lease() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let id = jobs::enqueue(&mut db.system(), &NewJob::new("q", "work", json!({})))
        .await?
        .job
        .id;
    let started = Arc::new(Notify::new());
    let settings = WorkerSettings {
        visibility_timeout: Duration::from_millis(300),
        ..quick_settings()
    };
    let mut doomed = Worker::new(db.clone(), settings.clone());
    let s = started.clone();
    doomed.register("q", 1, move |_job: Job, _db: Db| {
        let s = s.clone();
        async move {
            s.notify_one();
            std::future::pending::<()>().await;
            Ok(())
        }
    })?;
    let doomed = doomed.spawn()?;
    started.notified().await;
    // The worker dies mid-run: no more heartbeats, no settle.
    doomed.abort();
    assert_eq!(job(&db, id).await?.status, JobStatus::Running);
    let attempts_seen = Arc::new(Mutex::new(Vec::new()));
    let mut rescuer = Worker::new(db.clone(), settings);
    let seen = attempts_seen.clone();
    rescuer.register("q", 1, move |job: Job, _db: Db| {
        let seen = seen.clone();
        async move {
            if let Ok(mut seen) = seen.lock() {
                seen.push(job.attempts);
            }
            Ok(())
        }
    })?;
    let rescuer = rescuer.spawn()?;
    let done = eventually("the job run again and succeeded", || async {
        let j = job(&db, id).await?;
        Ok((j.status == JobStatus::Succeeded).then_some(j))
    })
    .await?;
    rescuer.stop().await;
    assert_eq!(done.attempts, 2);
    assert_eq!(*attempts_seen.lock().map_err(|_| "poisoned")?, vec![2]);
    Ok(())
}

#[tokio::test]
async fn a_long_run_keeps_its_job_by_heartbeats_and_stop_waits_for_it() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let id = jobs::enqueue(&mut db.system(), &NewJob::new("q", "work", json!({})))
        .await?
        .job
        .id;
    let settings = WorkerSettings {
        visibility_timeout: Duration::from_millis(150),
        ..quick_settings()
    };
    let release = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..2 {
        let mut worker = Worker::new(db.clone(), settings.clone());
        let (release, started, runs) = (release.clone(), started.clone(), runs.clone());
        worker.register("q", 1, move |_job: Job, _db: Db| {
            let (release, started, runs) = (release.clone(), started.clone(), runs.clone());
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                started.notify_one();
                release.notified().await;
                Ok(())
            }
        })?;
        workers.push(worker.spawn()?);
    }
    started.notified().await;
    // Three leases long: only heartbeats keep the job from the other worker meanwhile.
    eventually("three leases to pass", || async {
        let passed: bool = test_db
            .admin()
            .await
            .query_one(
                "SELECT now() - created_at > interval '450 milliseconds' FROM jobs WHERE job_id = $1",
                &[&id],
            )
            .await?
            .get(0);
        Ok(passed.then_some(()))
    })
    .await?;
    let j = job(&db, id).await?;
    assert_eq!(j.status, JobStatus::Running);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the other worker never got it"
    );
    // Stopping waits for the run in flight, which settles it.
    let stops: Vec<_> = workers
        .into_iter()
        .map(|w| tokio::spawn(w.stop()))
        .collect();
    release.notify_one();
    for stop in stops {
        stop.await?;
    }
    let j = job(&db, id).await?;
    assert_eq!((j.status, j.attempts), (JobStatus::Succeeded, 1));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "never run twice");
    Ok(())
}

#[tokio::test]
async fn a_queue_registered_with_its_own_backoff_retries_at_its_pace_not_the_workers() -> TestResult
{
    let test_db = database().await;
    let db = test_db.db().await;
    let new = |queue: &str| NewJob::new(queue, "work", json!({})).with_max_attempts(3);
    let fast = jobs::enqueue(&mut db.system(), &new("fast")).await?.job.id;
    let slow = jobs::enqueue(&mut db.system(), &new("slow")).await?.job.id;
    let hour = Duration::from_secs(3600);
    let fails_first = |job: Job, _db: Db| async move {
        match job.attempts {
            1 => Err(JobError::new("first attempt fails")),
            _ => Ok(()),
        }
    };
    let mut worker = Worker::new(db.clone(), quick_settings());
    worker.register("fast", 1, fails_first)?;
    worker.register_with_backoff(
        "slow",
        1,
        Backoff {
            base: hour,
            max: hour,
        },
        fails_first,
    )?;
    let handle = worker.spawn()?;
    eventually("the fast job retried and succeeded", || async {
        Ok((job(&db, fast).await?.status == JobStatus::Succeeded).then_some(()))
    })
    .await?;
    let slow = eventually("the slow job's first run failed", || async {
        let j = job(&db, slow).await?;
        Ok((j.status == JobStatus::Queued && j.attempts == 1).then_some(j))
    })
    .await?;
    handle.stop().await;
    // Equal jitter: the wait is between half and all of the queue's one hour.
    let wait = slow.run_at.unix_millis() - slow.updated_at.unix_millis();
    assert!(
        (1_800_000 - 1000..=3_600_000 + 1000).contains(&wait),
        "waited {wait} ms"
    );
    assert_eq!(slow.last_error.as_deref(), Some("first attempt fails"));
    Ok(())
}
