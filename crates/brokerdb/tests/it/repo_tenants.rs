//! TenantRepository against real PostgreSQL.

use std::time::Duration;

use brokerdb::prelude::*;
use brokerdb::repo::tenants;
use brokerdb_testkit::{TestDatabase, database};

use crate::assert_code;
use crate::support::{TestResult, tenant};

/// A fresh database without tenants, and a `Db` on it.
async fn empty() -> (TestDatabase, Db) {
    let test_db = database().await;
    let db = test_db.db().await;
    (test_db, db)
}

#[tokio::test]
async fn creating_a_tenant_without_an_id_generates_one() -> TestResult {
    let (_t, db) = empty().await;
    let mut sys = db.system();
    for name in ["Acme", ""] {
        let generated = tenants::create(&mut sys, name, None).await?;
        let id = generated.tenant_id.as_str();
        assert!(id.starts_with("t_") && id.len() == 34, "{id}");
    }
    Ok(())
}

#[tokio::test]
async fn a_tenant_is_created_with_its_given_id_trimmed() -> TestResult {
    let (_t, db) = empty().await;
    let created = tenants::create(&mut db.system(), "Beta", Some(tenant("  t_beta ")?)).await?;
    assert_eq!(created.tenant_id.as_str(), "t_beta");
    Ok(())
}

#[tokio::test]
async fn an_empty_or_blank_tenant_id_is_refused() -> TestResult {
    for blank in ["", "   "] {
        assert_code!(
            TenantId::parse(blank).map_err(DbError::from),
            ValidationError,
            "{blank:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn creating_a_tenant_with_a_taken_id_is_a_unique_violation() -> TestResult {
    let (_t, db) = empty().await;
    let mut sys = db.system();
    tenants::create(&mut sys, "Beta", Some(tenant("t_beta")?)).await?;
    assert_code!(
        tenants::create(&mut sys, "again", Some(tenant("t_beta")?)).await,
        UniqueViolation
    );
    Ok(())
}

#[tokio::test]
async fn a_tenant_is_found_by_its_id_and_a_missing_one_is_none() -> TestResult {
    let (_t, db) = empty().await;
    let mut sys = db.system();
    tenants::create(&mut sys, "Beta", Some(tenant("t_beta")?)).await?;
    let found = tenants::get_by_id(&mut sys, &tenant(" t_beta ")?).await?;
    assert_eq!(found.map(|t| t.name), Some("Beta".to_owned()));
    assert_eq!(
        tenants::get_by_id(&mut sys, &tenant("t_missing")?).await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn tenants_are_listed_oldest_first() -> TestResult {
    let (_t, db) = empty().await;
    let mut sys = db.system();
    for (name, id) in [
        ("Acme", None),
        ("", None),
        ("Beta", Some(tenant("t_beta")?)),
    ] {
        tenants::create(&mut sys, name, id).await?;
        // Distinct milliseconds, so "oldest first" does not fall back to the random generated ids.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let listed: Vec<String> = tenants::list(&mut sys)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["Acme", "", "Beta"]);
    Ok(())
}

#[tokio::test]
async fn a_tenant_scope_sees_exactly_its_own_tenant() -> TestResult {
    let (_t, db) = empty().await;
    let mut sys = db.system();
    tenants::create(&mut sys, "Acme", None).await?;
    let beta = tenants::create(&mut sys, "Beta", Some(tenant("t_beta")?)).await?;
    let own = tenants::get_own(&mut db.tenant(&beta.tenant_id)).await?;
    assert_eq!(own, Some(beta));
    Ok(())
}
