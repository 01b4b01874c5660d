//! Workload lookup by SAN URI (spec §2), read through to PostgreSQL.

use brokerdb::db::{ErrorCode, TxOptions, run_in_transaction};
use brokerdb::model::TenantId;
use brokerdb::repo::{tenants, workloads};
use brokerdb_redis::auth::WorkloadLookup;

#[tokio::test]
async fn the_workload_is_found_by_its_trimmed_san_uri_in_the_system_scope_or_a_caller_transaction()
{
    let test = brokerdb_testkit::database().await;
    let db = test.db().await;
    for t in ["t_a", "t_b"] {
        tenants::create(&db.system(), t, Some(t)).await.unwrap();
    }
    let request = workloads::WorkloadCreateRequest {
        name: "api".into(),
        ip_allowlist: None,
        enrollment_mode: workloads::EnrollmentMode::BrokerCa,
    };
    let a = TenantId::parse("t_a").unwrap();
    let created = workloads::create(&db.tenant(&a), &request, None, Some("spiffe://a/api"))
        .await
        .unwrap();
    let lookup = WorkloadLookup::new(db.clone());

    let found = lookup
        .get_workload_by_san_uri("  spiffe://a/api\n", None)
        .await
        .unwrap();
    assert_eq!(found, Some(created.clone()));
    assert_eq!(
        lookup
            .get_workload_by_san_uri("spiffe://none", None)
            .await
            .unwrap(),
        None
    );
    let empty = lookup
        .get_workload_by_san_uri("  ", None)
        .await
        .err()
        .map(|e| e.code());
    assert_eq!(empty, Some(ErrorCode::ValidationError));

    // A caller's transaction is used as given: its tenant scope decides what it can see.
    for (tenant, expect) in [("t_a", Some(created)), ("t_b", None)] {
        let id = TenantId::parse(tenant).unwrap();
        let lookup = lookup.clone();
        let scope = db.tenant(&id);
        let got = run_in_transaction(&scope, None, &TxOptions::DEFAULT, move |tx| {
            let lookup = lookup.clone();
            Box::pin(async move {
                lookup
                    .get_workload_by_san_uri("spiffe://a/api", Some(&*tx))
                    .await
            })
        })
        .await
        .unwrap();
        assert_eq!(got, expect, "{tenant}");
    }
}
