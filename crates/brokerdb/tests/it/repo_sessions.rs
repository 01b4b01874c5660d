//! SessionRepository against real PostgreSQL.

use brokerdb::db::{Db, ErrorCode};
use brokerdb::model::{NonEmptyString, SessionId, TenantId, Timestamp, TokenHash, WorkloadId};
use brokerdb::repo::sessions::{self, SessionRecord};
use brokerdb::repo::workloads::{self, EnrollmentMode, WorkloadCreateRequest};

use crate::assert_code;
use crate::support::{TestResult, code, seeded, tenant};

async fn workload(db: &Db, t: &TenantId) -> Result<WorkloadId, Box<dyn std::error::Error>> {
    let req = WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: EnrollmentMode::BrokerCa,
    };
    Ok(workloads::create(&mut db.tenant(t), &req, None, None)
        .await?
        .workload_id)
}

fn record(
    session: &str,
    t: &TenantId,
    w: &WorkloadId,
    hash: char,
    ttl_secs: i64,
) -> Result<SessionRecord, Box<dyn std::error::Error>> {
    let expires = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + ttl_secs * 1000)?;
    Ok(SessionRecord {
        session_id: SessionId::parse(session)?,
        workload_id: w.clone(),
        tenant_id: t.clone(),
        cert_fingerprint256: NonEmptyString::new("cert_fingerprint_256", "sha256:abc")?,
        token_hash: TokenHash::parse(&hash.to_string().repeat(64))?,
        expires_at: expires,
        dpop_key_thumbprint: None,
        scopes: Some(vec!["read".into()]),
    })
}

const S1: &str = "9f1c2a4e-8b3d-4c5e-9a7b-1d2e3f4a5b6c";
const S2: &str = "0b4a7c1e-2d3f-4a5b-8c6d-7e8f9a0b1c2d";

#[tokio::test]
async fn upsert_then_lookup_by_token_hash_and_revocation_hides_it_for_good() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a).await?;
    let rec = record(S1, &a, &w, 'a', 3600)?;
    assert_eq!(sessions::upsert(&mut db.tenant(&a), &rec).await?, rec);
    let json = serde_json::to_value(&rec)?;
    assert!(
        json.get("certFingerprint256").is_some() && json.get("dpopKeyThumbprint").is_none(),
        "{json}"
    );

    let found = sessions::get_by_token_hash(&mut db.system(), &rec.token_hash).await?;
    assert_eq!(found.as_ref(), Some(&rec));

    sessions::revoke_by_id(&mut db.tenant(&a), &rec.session_id).await?;
    assert_eq!(
        sessions::get_by_token_hash(&mut db.system(), &rec.token_hash).await?,
        None
    );
    // Re-upserting a revoked session must not bring it back.
    sessions::upsert(&mut db.tenant(&a), &rec).await?;
    assert_eq!(
        sessions::get_by_token_hash(&mut db.system(), &rec.token_hash).await?,
        None
    );

    let missing = code(sessions::revoke_by_id(&mut db.tenant(&a), &SessionId::parse(S2)?).await);
    assert_eq!(missing, Some(ErrorCode::NotFound));
    let b = tenant("t_b")?;
    let foreign = code(sessions::revoke_by_id(&mut db.tenant(&b), &rec.session_id).await);
    assert_eq!(
        foreign,
        Some(ErrorCode::NotFound),
        "tenant B cannot revoke tenant A's session"
    );
    Ok(())
}

#[tokio::test]
async fn expired_sessions_are_invisible_and_swept() -> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a).await?;
    let old = record(S1, &a, &w, 'a', -10)?;
    let live = record(S2, &a, &w, 'b', 3600)?;
    sessions::upsert(&mut db.tenant(&a), &old).await?;
    sessions::upsert(&mut db.tenant(&a), &live).await?;
    assert_eq!(
        sessions::get_by_token_hash(&mut db.system(), &old.token_hash).await?,
        None
    );
    assert_eq!(
        sessions::delete_expired(&mut db.system(), Timestamp::now(), 100).await?,
        1
    );
    assert!(
        sessions::get_by_token_hash(&mut db.system(), &live.token_hash)
            .await?
            .is_some()
    );
    Ok(())
}

#[tokio::test]
async fn upsert_rejects_another_tenant_and_unknown_workloads() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let w = workload(&db, &a).await?;
    let rec = record(S1, &a, &w, 'a', 3600)?;
    let wrong_scope = code(sessions::upsert(&mut db.tenant(&b), &rec).await);
    assert_eq!(wrong_scope, Some(ErrorCode::ValidationError));
    let ghost = record(S2, &a, &WorkloadId::parse("w_none")?, 'b', 3600)?;
    assert_code!(
        sessions::upsert(&mut db.tenant(&a), &ghost).await,
        IntegrityViolation
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_upserts_of_two_sessions_with_one_token_hash_give_one_unique_violation()
-> TestResult {
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let w = workload(&db, &a).await?;
    let tasks: Vec<_> = [S1, S2]
        .into_iter()
        .map(|id| {
            let rec = record(id, &a, &w, 'c', 3600).map_err(|e| e.to_string());
            let (db, a) = (db.clone(), a.clone());
            tokio::spawn(async move {
                let rec = rec?;
                sessions::upsert(&mut db.tenant(&a), &rec)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.code().as_str().to_owned())
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await?);
    }
    outcomes.sort();
    assert_eq!(outcomes, vec![Ok(()), Err("unique_violation".to_owned())]);
    Ok(())
}

#[tokio::test]
async fn another_tenants_session_id_is_the_same_unique_violation_as_any_duplicate_id() -> TestResult
{
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let (wa, wb) = (workload(&db, &a).await?, workload(&db, &b).await?);
    sessions::upsert(&mut db.tenant(&a), &record(S1, &a, &wa, 'a', 3600)?).await?;
    // Tenant B reuses A's session id: before, an RLS refusal (SQLSTATE 42501) told B the id exists
    // elsewhere; now it is the unique violation any taken id gives, naming no constraint.
    let taken = sessions::upsert(&mut db.tenant(&b), &record(S1, &b, &wb, 'b', 3600)?)
        .await
        .err()
        .ok_or("tenant B took over tenant A's session")?;
    assert_eq!(
        (taken.code(), taken.to_string()),
        (
            ErrorCode::UniqueViolation,
            "unique_violation: another row has the same session_id".to_owned()
        )
    );
    // A duplicate token hash within B reads the same way, with its own field.
    sessions::upsert(&mut db.tenant(&b), &record(S2, &b, &wb, 'c', 3600)?).await?;
    let dup = sessions::upsert(
        &mut db.tenant(&b),
        &record("1b4a7c1e-2d3f-4a5b-8c6d-7e8f9a0b1c2d", &b, &wb, 'c', 3600)?,
    )
    .await
    .err()
    .ok_or("a duplicate token hash was accepted")?;
    assert_eq!(
        dup.to_string(),
        "unique_violation: another row has the same token_hash"
    );
    let still_a: Option<TenantId> =
        sessions::get_by_token_hash(&mut db.system(), &TokenHash::parse(&"a".repeat(64))?)
            .await?
            .map(|s| s.tenant_id);
    assert_eq!(still_a, Some(a), "A's session is untouched");
    Ok(())
}

/// A lower-case UUID whose last group is `n` (ordered as text by `n`).
fn uuid(n: u32) -> String {
    format!("5e551000-0000-4000-8000-{n:012}")
}

#[tokio::test]
async fn list_by_workload_pages_newest_first_without_token_hashes_and_only_in_the_tenant()
-> TestResult {
    let (t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let w = workload(&db, &a).await?;
    let other = workloads::create(
        &mut db.tenant(&a),
        &WorkloadCreateRequest {
            name: "other".into(),
            ip_allowlist: None,
            enrollment_mode: EnrollmentMode::BrokerCa,
        },
        None,
        None,
    )
    .await?
    .workload_id;
    // Five sessions of `w` (one expired, one revoked), one of another workload.
    let hashes = ['a', 'b', 'c', 'd', 'e'];
    for (n, h) in hashes.iter().enumerate() {
        let ttl = if n == 1 { -10 } else { 3600 };
        let n = u32::try_from(n)?;
        sessions::upsert(&mut db.tenant(&a), &record(&uuid(n), &a, &w, *h, ttl)?).await?;
    }
    sessions::upsert(
        &mut db.tenant(&a),
        &record(&uuid(9), &a, &other, 'f', 3600)?,
    )
    .await?;
    sessions::revoke_by_id(&mut db.tenant(&a), &SessionId::parse(&uuid(2))?).await?;
    // Distinct creation times, session 0 the oldest; sessions 3 and 4 share one (the id
    // breaks the tie).
    db_admin_exec(
        &t,
        "UPDATE workload_sessions SET created_at = CASE right(session_id, 1)
           WHEN '0' THEN '2024-01-01T00:00:00Z'::timestamptz WHEN '1' THEN '2024-01-02T00:00:00Z'
           WHEN '2' THEN '2024-01-03T00:00:00Z' ELSE '2024-01-04T00:00:00Z' END",
    )
    .await?;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = sessions::list_by_workload(&mut db.tenant(&a), &w, 2, cursor.as_deref()).await?;
        pages += 1;
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let ids: Vec<String> = seen.iter().map(|s| s.session_id.to_string()).collect();
    assert_eq!(ids, [uuid(4), uuid(3), uuid(2), uuid(1), uuid(0)]);
    assert!(seen.iter().all(|s| s.workload_id == w && s.tenant_id == a));
    assert!(
        seen[2].revoked_at.is_some(),
        "the revoked session is listed as revoked"
    );
    assert!(seen[0].revoked_at.is_none());
    assert_eq!(seen[0].scopes, ["read"]);
    assert_eq!(seen[0].cert_fingerprint256.as_str(), "sha256:abc");
    assert_eq!(seen[4].created_at.to_string(), "2024-01-01T00:00:00.000Z");

    // Tenant B sees nothing of A's workload.
    let foreign = sessions::list_by_workload(&mut db.tenant(&b), &w, 100, None).await?;
    assert!(foreign.items.is_empty() && foreign.next_cursor.is_none());

    // A cursor belongs to its tenant and workload; the limit is bounded.
    let first = sessions::list_by_workload(&mut db.tenant(&a), &w, 1, None).await?;
    let c = first.next_cursor.ok_or("no cursor after a full page")?;
    assert_code!(
        sessions::list_by_workload(&mut db.tenant(&a), &other, 1, Some(&c)).await,
        ValidationError
    );
    assert_code!(
        sessions::list_by_workload(&mut db.tenant(&b), &w, 1, Some(&c)).await,
        ValidationError
    );
    for bad in [0, 101] {
        assert_code!(
            sessions::list_by_workload(&mut db.tenant(&a), &w, bad, None).await,
            ValidationError
        );
    }
    Ok(())
}

async fn db_admin_exec(
    t: &brokerdb_testkit::TestDatabase,
    sql: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    t.admin().await.batch_execute(sql).await?;
    Ok(())
}
