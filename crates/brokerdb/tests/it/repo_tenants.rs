//! TenantRepository against real PostgreSQL.

use brokerdb::db::ErrorCode;
use brokerdb::repo::tenants;
use brokerdb_testkit::database;

use crate::TestResult;

#[tokio::test]
async fn create_generates_or_trims_ids_and_rejects_blank_and_duplicate_ids() -> TestResult {
    let test_db = database().await;
    let db = test_db.db().await;
    let system = db.system();

    let generated = tenants::create(&system, "Acme", None).await?;
    assert!(
        generated.tenant_id.as_str().starts_with("t_") && generated.tenant_id.as_str().len() == 34
    );
    // Distinct milliseconds, so "oldest first" does not fall back to the random generated ids.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let from_empty = tenants::create(&system, "", Some("")).await?;
    assert!(
        from_empty.tenant_id.as_str().starts_with("t_"),
        "an empty id generates one"
    );
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let trimmed = tenants::create(&system, "Beta", Some("  t_beta ")).await?;
    assert_eq!(trimmed.tenant_id.as_str(), "t_beta");

    let blank = tenants::create(&system, "x", Some("   "))
        .await
        .err()
        .map(|e| e.code());
    assert_eq!(blank, Some(ErrorCode::ValidationError));
    let dup = tenants::create(&system, "again", Some("t_beta"))
        .await
        .err()
        .map(|e| e.code());
    assert_eq!(dup, Some(ErrorCode::UniqueViolation));

    assert_eq!(
        tenants::get_by_id(&system, " t_beta ")
            .await?
            .map(|t| t.name),
        Some("Beta".to_owned())
    );
    assert_eq!(tenants::get_by_id(&system, "t_missing").await?, None);
    assert_eq!(
        tenants::get_by_id(&system, " ")
            .await
            .err()
            .map(|e| e.code()),
        Some(ErrorCode::ValidationError)
    );

    let listed: Vec<String> = tenants::list(&system)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["Acme", "", "Beta"], "oldest first");

    let own = tenants::get_own(&db.tenant(&trimmed.tenant_id)).await?;
    assert_eq!(
        own,
        Some(trimmed),
        "a tenant scope sees exactly its own tenant"
    );
    Ok(())
}
