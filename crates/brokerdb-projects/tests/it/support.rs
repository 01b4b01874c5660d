//! Shared fixtures: a migrated database with tenants and a project.

use brokerdb::db::Db;
use brokerdb::repo::tenants;
use brokerdb::scalar::TenantId;
use brokerdb_projects::projects::{self, NewProject, Project};
use brokerdb_projects::{SecretBytes, SecretKey};
use brokerdb_testkit::TestDatabase;

pub type TestResult = anyhow::Result<()>;

/// A test database, its handle, and two tenants.
pub struct Fixture {
    pub db: Db,
    pub a: TenantId,
    pub b: TenantId,
    pub key: SecretKey,
    pub test_db: TestDatabase,
}

pub async fn fixture() -> anyhow::Result<Fixture> {
    let test_db = brokerdb_testkit::database().await;
    let db = test_db.db().await;
    let a = TenantId::generate();
    let b = TenantId::generate();
    tenants::create(&mut db.system(), "Tenant A", Some(a.clone())).await?;
    tenants::create(&mut db.system(), "Tenant B", Some(b.clone())).await?;
    Ok(Fixture {
        db,
        a,
        b,
        key: SecretKey::random(),
        test_db,
    })
}

impl Fixture {
    /// A project of `tenant` with a webhook secret.
    pub async fn project(&self, tenant: &TenantId, name: &str) -> anyhow::Result<Project> {
        let input = NewProject {
            name: name.into(),
            repo_url: "https://github.com/acme/app".into(),
            webhook_secret: Some(SecretBytes::new(b"whsec-plain-value".to_vec())),
            config: None,
        };
        Ok(projects::create(&mut self.db.tenant(tenant), &self.key, &input).await?)
    }
}

pub fn code(e: &brokerdb::db::DbError) -> &'static str {
    e.code().as_str()
}
