//! EnrollmentTokenRepository against real PostgreSQL, including 50 concurrent consumers.

use std::time::Duration;

use brokerdb::db::{Db, ErrorCode, TxOptions};
use brokerdb::model::{TenantId, Timestamp, TokenHash, WorkloadId};
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};

use crate::assert_code;
use crate::support::{TestResult, code, seeded, tenant};

fn hash(c: char) -> Result<TokenHash, Box<dyn std::error::Error>> {
    Ok(TokenHash::parse(&c.to_string().repeat(64))?)
}

fn at(s: &str) -> Result<Timestamp, Box<dyn std::error::Error>> {
    Ok(Timestamp::parse(s)?)
}

async fn workload(
    db: &Db,
    t: &TenantId,
    name: &str,
) -> Result<WorkloadId, Box<dyn std::error::Error>> {
    let req = WorkloadCreateRequest {
        name: name.into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    Ok(workloads::create(&mut db.tenant(t), &req, None, None)
        .await?
        .workload_id)
}

fn token(
    h: TokenHash,
    w: &WorkloadId,
    created: &str,
    expires: &str,
) -> Result<IssueEnrollmentToken, Box<dyn std::error::Error>> {
    Ok(IssueEnrollmentToken {
        token_hash: h,
        workload_id: w.clone(),
        expires_at: at(expires)?,
        created_at: Some(at(created)?),
    })
}

#[tokio::test]
async fn issue_validates_checks_the_workload_and_rejects_duplicates() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let w = workload(&db, &a, "api").await?;
    let mut scope = db.tenant(&a);
    let issued = enrollment_tokens::issue(
        &mut scope,
        &token(
            hash('a')?,
            &w,
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00Z",
        )?,
    )
    .await?;
    assert_eq!((issued.tenant_id.as_str(), issued.used_at), ("t_a", None));
    assert_eq!(issued.expires_at.to_string(), "2026-01-01T01:00:00.000Z");

    let cases = [
        (
            token(
                hash('b')?,
                &w,
                "2026-01-01T01:00:00Z",
                "2026-01-01T01:00:00Z",
            )?,
            ErrorCode::ValidationError,
        ),
        (
            token(
                hash('a')?,
                &w,
                "2026-01-01T00:00:00Z",
                "2026-01-01T02:00:00Z",
            )?,
            ErrorCode::UniqueViolation,
        ),
        (
            token(
                hash('c')?,
                &WorkloadId::parse("w_none")?,
                "2026-01-01T00:00:00Z",
                "2026-01-01T02:00:00Z",
            )?,
            ErrorCode::NotFound,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            code(enrollment_tokens::issue(&mut scope, &input).await),
            Some(expected)
        );
    }
    // Another tenant's workload is invisible in this scope.
    let wb = workload(&db, &b, "api").await?;
    let cross = token(
        hash('d')?,
        &wb,
        "2026-01-01T00:00:00Z",
        "2026-01-01T02:00:00Z",
    )?;
    assert_code!(enrollment_tokens::issue(&mut scope, &cross).await, NotFound);
    Ok(())
}

#[tokio::test]
async fn consume_succeeds_once_and_refuses_used_expired_or_foreign_tokens_alike() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let (w, other) = (
        workload(&db, &a, "api").await?,
        workload(&db, &a, "other").await?,
    );
    let mut scope = db.tenant(&a);
    enrollment_tokens::issue(
        &mut scope,
        &token(
            hash('a')?,
            &w,
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00Z",
        )?,
    )
    .await?;
    let now = at("2026-01-01T00:30:00Z")?;

    let wrong = enrollment_tokens::consume_once(&mut scope, &hash('a')?, Some(&other), now).await;
    assert_code!(wrong, NotFound, "another workload");
    let expired =
        enrollment_tokens::consume_once(&mut scope, &hash('a')?, None, at("2026-01-01T01:00:00Z")?)
            .await;
    assert_code!(expired, NotFound, "expires_at is exclusive");
    assert!(!enrollment_tokens::has_consumed_for_workload(&mut scope, &w).await?);

    let used = enrollment_tokens::consume_once(&mut scope, &hash('a')?, Some(&w), now).await?;
    assert_eq!(used.used_at, Some(now));
    assert!(enrollment_tokens::has_consumed_for_workload(&mut scope, &w).await?);
    let again = enrollment_tokens::consume_once(&mut scope, &hash('a')?, None, now).await;
    assert_code!(again, NotFound, "already used");
    let unknown = enrollment_tokens::consume_once(&mut scope, &hash('f')?, None, now).await;
    assert_code!(unknown, NotFound);
    Ok(())
}

#[tokio::test]
async fn fifty_concurrent_consumers_of_one_token_exactly_one_wins() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a, "api").await?;
    let far = Timestamp::now()
        .checked_add(Duration::from_secs(3600))
        .ok_or("overflow")?;
    let input = IssueEnrollmentToken {
        token_hash: hash('e')?,
        workload_id: w.clone(),
        expires_at: far,
        created_at: None,
    };
    enrollment_tokens::issue(&mut db.tenant(&a), &input).await?;

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (db, a, w) = (db.clone(), a.clone(), w.clone());
            tokio::spawn(async move {
                let h = TokenHash::parse(&"e".repeat(64)).map_err(|e| e.to_string())?;
                enrollment_tokens::consume_once(&mut db.tenant(&a), &h, Some(&w), Timestamp::now())
                    .await
                    .map_err(|e| e.code().as_str().to_owned())
            })
        })
        .collect();
    let (mut won, mut not_found) = (0, 0);
    for t in tasks {
        match t.await? {
            Ok(_) => won += 1,
            Err(code) if code == "not_found" => not_found += 1,
            Err(other) => return Err(format!("unexpected outcome {other}").into()),
        }
    }
    assert_eq!((won, not_found), (1, 49));
    Ok(())
}

#[tokio::test]
async fn invalidate_marks_only_active_tokens_and_joins_a_callers_transaction() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a, "api").await?;
    let mut scope = db.tenant(&a);
    for (c, expires) in [
        ('1', "2026-01-01T02:00:00Z"),
        ('2', "2026-01-01T03:00:00Z"),
        ('3', "2026-01-01T00:10:00Z"),
    ] {
        enrollment_tokens::issue(
            &mut scope,
            &token(hash(c)?, &w, "2026-01-01T00:00:00Z", expires)?,
        )
        .await?;
    }
    enrollment_tokens::consume_once(&mut scope, &hash('1')?, None, at("2026-01-01T00:05:00Z")?)
        .await?;
    let now = at("2026-01-01T00:30:00Z")?;

    // Inside a caller's transaction that then rolls back: nothing sticks.
    let w2 = w.clone();
    let rolled_back: Result<(), brokerdb::db::DbError> = scope
        .transaction(&TxOptions::default(), move |tx| {
            let w = w2.clone();
            Box::pin(async move {
                let n = enrollment_tokens::invalidate_active(tx, &w, now).await?;
                assert_eq!(n, 1, "inside the caller's transaction");
                Err(brokerdb::db::DbError::Conflict {
                    message: "roll back".into(),
                })
            })
        })
        .await;
    assert!(rolled_back.is_err());

    assert_eq!(
        enrollment_tokens::invalidate_active(&mut scope, &w, now).await?,
        1,
        "only token 2 is active"
    );
    assert_eq!(
        enrollment_tokens::invalidate_active(&mut scope, &w, now).await?,
        0
    );
    Ok(())
}
