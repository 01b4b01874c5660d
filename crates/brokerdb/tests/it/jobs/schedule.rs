//! The scheduler: one job per time slot however many instances enqueue it, no pile-up.

use std::time::Duration;

use brokerdb::db::Db;
use brokerdb::jobs::{self, Job, NewJob, Schedule, SlotOutcome, Worker};
use brokerdb_testkit::database;
use serde_json::json;

use super::{count, db_with_pools, eventually, quick_settings};
use crate::assert_code;
use crate::support::TestResult;

fn every_minute() -> Schedule {
    Schedule::new(
        "tick",
        Duration::from_secs(60),
        NewJob::new("ticks", "tick", json!({})),
    )
}

#[tokio::test]
async fn eight_instances_enqueueing_one_slot_create_one_job() -> TestResult {
    let test_db = database().await;
    let db = db_with_pools(&test_db, 8).await?;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            jobs::enqueue_slot(&mut db.system(), &every_minute(), 100).await
        }));
    }
    let (mut created, mut ids) = (0, std::collections::HashSet::new());
    for task in tasks {
        match task.await?? {
            SlotOutcome::Enqueued(job) => {
                created += 1;
                ids.insert(job.id);
            }
            SlotOutcome::AlreadyEnqueued(job) => {
                ids.insert(job.id);
            }
            SlotOutcome::Skipped { pending } => {
                ids.insert(pending.id);
            }
        }
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let job = jobs::get(&mut db.system(), *ids.iter().next().ok_or("no id")?)
        .await?
        .ok_or("missing")?;
    assert_eq!(job.dedupe_key.as_deref(), Some("tick:100"));
    assert_eq!((job.queue.as_str(), job.kind.as_str()), ("ticks", "tick"));
    Ok(())
}

#[tokio::test]
async fn a_finished_slot_is_not_run_again_and_a_pending_run_skips_later_slots() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let s = every_minute();
    let SlotOutcome::Enqueued(first) = jobs::enqueue_slot(&mut db.system(), &s, 100).await? else {
        return Err("slot 100 was not enqueued".into());
    };
    // Slot 101 arrives while slot 100's run is still queued: skipped, no pile-up.
    match jobs::enqueue_slot(&mut db.system(), &s, 101).await? {
        SlotOutcome::Skipped { pending } => assert_eq!(pending.id, first.id),
        other => return Err(format!("{other:?}").into()),
    }
    let claimed = jobs::claim(&mut db.system(), "ticks", 1, Duration::from_secs(60)).await?;
    jobs::complete(&mut db.system(), &claimed[0].lease).await?;
    // Another instance reaching slot 100 late finds the finished run.
    match jobs::enqueue_slot(&mut db.system(), &s, 100).await? {
        SlotOutcome::AlreadyEnqueued(job) => assert_eq!(job.id, first.id),
        other => return Err(format!("{other:?}").into()),
    }
    assert!(matches!(
        jobs::enqueue_slot(&mut db.system(), &s, 102).await?,
        SlotOutcome::Enqueued(_)
    ));
    assert_eq!(count(&test_db, "ticks", "queued").await?, 1);
    assert_eq!(count(&test_db, "ticks", "succeeded").await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_bad_schedule_is_refused() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let short = Schedule::new(
        "tick",
        Duration::from_millis(10),
        NewJob::new("ticks", "tick", json!({})),
    );
    assert_code!(
        jobs::enqueue_slot(&mut db.system(), &short, 1).await,
        ValidationError
    );
    let named = Schedule::new(
        "Tick!",
        Duration::from_secs(1),
        NewJob::new("ticks", "tick", json!({})),
    );
    assert_code!(
        jobs::enqueue_slot(&mut db.system(), &named, 1).await,
        ValidationError
    );
    assert!(jobs::spawn_scheduler(db.clone(), vec![named], Duration::from_millis(10)).is_err());
    Ok(())
}

#[tokio::test]
async fn two_running_schedulers_enqueue_every_slot_once() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let every_second = Schedule::new(
        "beat",
        Duration::from_secs(1),
        NewJob::new("beats", "beat", json!({})),
    );
    let schedulers = [
        jobs::spawn_scheduler(
            db.clone(),
            vec![every_second.clone()],
            Duration::from_millis(10),
        )?,
        jobs::spawn_scheduler(db.clone(), vec![every_second], Duration::from_millis(10))?,
    ];
    let mut worker = Worker::new(db.clone(), quick_settings());
    worker.register("beats", 1, |_job: Job, _db: Db| async { Ok(()) })?;
    let worker = worker.spawn()?;
    eventually("three slots run", || async {
        Ok((count(&test_db, "beats", "succeeded").await? >= 3).then_some(()))
    })
    .await?;
    for s in schedulers {
        s.stop().await;
    }
    worker.stop().await;
    let row = test_db
        .admin()
        .await
        .query_one(
            "SELECT count(*), count(DISTINCT dedupe_key) FROM jobs WHERE queue = 'beats'",
            &[],
        )
        .await?;
    let (jobs, keys): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(jobs, keys, "a slot was enqueued twice");
    Ok(())
}
