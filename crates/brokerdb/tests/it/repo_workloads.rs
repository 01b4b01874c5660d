//! WorkloadRepository against real PostgreSQL.

use brokerdb::db::paging::PageRequest;
use brokerdb::db::{ErrorCode, TxOptions};
use brokerdb::model::WorkloadId;
use brokerdb::repo::workloads::{
    self, EnrollmentMode, WorkloadCreateRequest, WorkloadUpdateRequest,
};

use crate::assert_code;
use crate::support::{TestResult, code, seeded, tenant};

fn request(name: &str, ips: Option<&[&str]>) -> WorkloadCreateRequest {
    WorkloadCreateRequest {
        name: name.to_owned(),
        ip_allowlist: ips.map(|ips| ips.iter().map(|s| (*s).to_owned()).collect()),
        enrollment_mode: EnrollmentMode::BrokerCa,
    }
}

#[tokio::test]
async fn create_defaults_the_san_uri_normalizes_the_allowlist_and_enforces_uniqueness() -> TestResult
{
    let (_t, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let w = workloads::create(
        &mut scope,
        &request("api", Some(&[" 10.0.0.0/8", "::1", "192.168.1.1"])),
        None,
        None,
    )
    .await?;
    assert!(w.enabled);
    assert_eq!(
        w.mtls_san_uri,
        format!("spiffe://broker/tenants/t_a/workloads/{}", w.workload_id)
    );
    assert_eq!(
        w.ip_allowlist,
        ["10.0.0.0/8", "192.168.1.1", "::1"],
        "trimmed and sorted by byte order"
    );

    let custom = workloads::create(
        &mut scope,
        &request("batch", None),
        Some(WorkloadId::parse("w_custom")?),
        Some(" spiffe://x/y "),
    )
    .await?;
    assert_eq!(
        (custom.workload_id.as_str(), custom.mtls_san_uri.as_str()),
        ("w_custom", "spiffe://x/y")
    );
    assert!(custom.ip_allowlist.is_empty());

    for (req, id, san, expected) in [
        (request("api", None), None, None, ErrorCode::UniqueViolation),
        (
            request("other", None),
            Some("w_custom"),
            None,
            ErrorCode::UniqueViolation,
        ),
        (
            request("other2", None),
            None,
            Some("spiffe://x/y"),
            ErrorCode::UniqueViolation,
        ),
        (
            request("bad", Some(&["10.0.0.1/33"])),
            None,
            None,
            ErrorCode::ValidationError,
        ),
        (
            request("dup", Some(&["10.0.0.1", " 10.0.0.1"])),
            None,
            None,
            ErrorCode::ValidationError,
        ),
        (
            request("blank-san", None),
            None,
            Some("  "),
            ErrorCode::ValidationError,
        ),
    ] {
        let id = id.map(WorkloadId::parse).transpose()?;
        let got = code(workloads::create(&mut scope, &req, id, san).await);
        assert_eq!(got, Some(expected), "{}", req.name);
    }
    let ghost = tenant("t_ghost")?;
    let got =
        code(workloads::create(&mut db.tenant(&ghost), &request("x", None), None, None).await);
    assert_eq!(got, Some(ErrorCode::IntegrityViolation), "unknown tenant");
    Ok(())
}

#[tokio::test]
async fn reads_are_tenant_scoped_and_pre_tenant_lookups_use_the_system_scope() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let w = workloads::create(&mut db.tenant(&a), &request("api", None), None, None).await?;

    assert_eq!(
        workloads::get_by_id(&mut db.tenant(&a), &w.workload_id)
            .await?
            .as_ref(),
        Some(&w)
    );
    assert_eq!(
        workloads::get_by_id(&mut db.tenant(&b), &w.workload_id).await?,
        None,
        "tenant B must not see it"
    );
    assert_eq!(
        workloads::get_by_san_uri(&mut db.system(), &format!(" {} ", w.mtls_san_uri))
            .await?
            .as_ref(),
        Some(&w)
    );
    assert_eq!(
        workloads::get_by_san_uri(&mut db.system(), "spiffe://none").await?,
        None
    );
    assert_code!(
        workloads::get_by_san_uri(&mut db.system(), "").await,
        ValidationError
    );
    assert_eq!(
        workloads::resolve_tenant_by_workload(&mut db.system(), &w.workload_id).await?,
        Some(a.clone())
    );
    assert_eq!(
        workloads::resolve_tenant_by_workload(&mut db.system(), &WorkloadId::parse("w_none")?)
            .await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn update_changes_only_the_fields_given_and_never_another_tenants_workload() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let w = workloads::create(
        &mut db.tenant(&a),
        &request("api", Some(&["10.0.0.1"])),
        None,
        None,
    )
    .await?;

    let off = workloads::update(
        &mut db.tenant(&a),
        &w.workload_id,
        &WorkloadUpdateRequest {
            enabled: Some(false),
            ip_allowlist: None,
        },
    )
    .await?;
    assert_eq!(
        (off.enabled, off.ip_allowlist.clone()),
        (false, vec!["10.0.0.1".to_owned()])
    );
    let ips = WorkloadUpdateRequest {
        enabled: None,
        ip_allowlist: Some(vec!["2001:db8::/32".into(), "1.2.3.4".into()]),
    };
    let moved = workloads::update(&mut db.tenant(&a), &w.workload_id, &ips).await?;
    assert_eq!(
        (moved.enabled, moved.ip_allowlist),
        (
            false,
            vec!["1.2.3.4".to_owned(), "2001:db8::/32".to_owned()]
        )
    );

    let bad = WorkloadUpdateRequest {
        enabled: Some(true),
        ip_allowlist: Some(vec!["300.1.1.1".into()]),
    };
    assert_code!(
        workloads::update(&mut db.tenant(&a), &w.workload_id, &bad).await,
        ValidationError
    );
    assert_eq!(
        workloads::get_by_id(&mut db.tenant(&a), &w.workload_id)
            .await?
            .map(|w| w.enabled),
        Some(false),
        "nothing written"
    );

    let enable = WorkloadUpdateRequest {
        enabled: Some(true),
        ip_allowlist: None,
    };
    assert_code!(
        workloads::update(&mut db.tenant(&b), &w.workload_id, &enable).await,
        NotFound
    );
    assert_code!(
        workloads::update(&mut db.tenant(&a), &WorkloadId::parse("w_none")?, &enable).await,
        NotFound
    );
    Ok(())
}

#[tokio::test]
async fn list_pages_are_right_at_the_edges() -> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let empty = workloads::list_by_tenant(&mut db.tenant(&a), PageRequest::new(1, 2)?).await?;
    assert_eq!(
        (empty.items.len(), empty.total, empty.total_pages),
        (0, 0, 0)
    );
    // created_at has millisecond precision, so rows created within one millisecond are ordered by
    // id: give ids in creation order.
    for name in ["w1", "w2", "w3", "w4", "w5"] {
        let id = WorkloadId::parse(&format!("w_{name}"))?;
        workloads::create(&mut db.tenant(&a), &request(name, None), Some(id), None).await?;
    }
    workloads::create(&mut db.tenant(&b), &request("other", None), None, None).await?;

    let names = |p: &brokerdb::db::paging::Page<workloads::Workload>| {
        p.items.iter().map(|w| w.name.clone()).collect::<Vec<_>>()
    };
    let first = workloads::list_by_tenant(&mut db.tenant(&a), PageRequest::new(1, 2)?).await?;
    assert_eq!(
        (names(&first), first.total, first.total_pages),
        (vec!["w1".to_owned(), "w2".to_owned()], 5, 3)
    );
    let last = workloads::list_by_tenant(&mut db.tenant(&a), PageRequest::new(3, 2)?).await?;
    assert_eq!(
        (names(&last), last.total),
        (vec!["w5".to_owned()], 5),
        "last partial page"
    );
    let past = workloads::list_by_tenant(&mut db.tenant(&a), PageRequest::new(9, 2)?).await?;
    assert_eq!(
        (past.items.len(), past.total, past.total_pages, past.page),
        (0, 5, 3, 9),
        "past the end"
    );
    let exact = workloads::list_by_tenant(&mut db.tenant(&a), PageRequest::new(1, 5)?).await?;
    assert_eq!(
        (exact.items.len(), exact.total_pages),
        (5, 1),
        "exactly one page"
    );
    Ok(())
}

#[tokio::test]
async fn a_san_uri_in_another_tenants_namespace_is_refused_so_the_lookup_cannot_be_hijacked()
-> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    // Tenant A claims the SAN URI tenant B's workload w_victim would get by default.
    for squat in [
        "spiffe://broker/tenants/t_b/workloads/w_victim",
        "SPIFFE://broker/Tenants/t_b/workloads/w_victim",
        "spiffe://other-domain/tenants/t_b/x",
        "spiffe://broker/tenants/",
    ] {
        let err = workloads::create(
            &mut db.tenant(&a),
            &request("squat", None),
            None,
            Some(squat),
        )
        .await
        .err()
        .ok_or(format!("{squat} accepted"))?;
        assert_eq!(
            (err.code(), err.to_string()),
            (
                ErrorCode::ValidationError,
                "validation_error: mtls_san_uri: is in the spiffe://…/tenants/<tenant>/… layout but names another tenant".to_owned()
            ),
            "{squat}"
        );
    }
    let victim = workloads::create(
        &mut db.tenant(&b),
        &request("victim", None),
        Some(WorkloadId::parse("w_victim")?),
        None,
    )
    .await?;
    let found = workloads::get_by_san_uri(&mut db.system(), &victim.mtls_san_uri).await?;
    assert_eq!(found.map(|w| w.tenant_id), Some(b.clone()));
    // Its own namespace and a layout of the operator's own are fine.
    workloads::create(
        &mut db.tenant(&a),
        &request("own", None),
        None,
        Some("spiffe://broker/tenants/t_a/workloads/w_own"),
    )
    .await?;
    workloads::create(
        &mut db.tenant(&a),
        &request("custom", None),
        None,
        Some("spiffe://x/y"),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_workload_id_taken_in_another_tenant_reads_like_one_taken_in_the_own_tenant() -> TestResult
{
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let id = WorkloadId::parse("w_shared")?;
    workloads::create(
        &mut db.tenant(&a),
        &request("one", None),
        Some(id.clone()),
        None,
    )
    .await?;
    let own = workloads::create(
        &mut db.tenant(&a),
        &request("two", None),
        Some(id.clone()),
        None,
    )
    .await
    .err()
    .ok_or("duplicate accepted")?;
    let other = workloads::create(&mut db.tenant(&b), &request("two", None), Some(id), None)
        .await
        .err()
        .ok_or("another tenant's id accepted")?;
    assert_eq!(own.to_string(), other.to_string());
    assert_eq!(
        other.to_string(),
        "unique_violation: another row has the same workload_id"
    );
    Ok(())
}

#[tokio::test]
async fn the_tenant_scoped_san_uri_lookup_sees_only_its_tenants_workloads_in_a_callers_transaction()
-> TestResult {
    let (_t, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    let created = workloads::create(
        &mut db.tenant(&a),
        &request("api", None),
        None,
        Some("spiffe://a/api"),
    )
    .await?;
    for (t, expect) in [(&a, Some(created.clone())), (&b, None)] {
        let mut tx = db.tenant(t).begin(&TxOptions::default()).await?;
        let found = workloads::get_own_by_san_uri(&mut tx, "  spiffe://a/api\n").await?;
        tx.commit().await?;
        assert_eq!(found, expect, "{t}");
    }
    assert_eq!(
        workloads::get_by_san_uri(&mut db.system(), "spiffe://a/api").await?,
        Some(created)
    );
    crate::assert_code!(
        workloads::get_own_by_san_uri(&mut db.tenant(&a), "  ").await,
        ValidationError
    );
    Ok(())
}
