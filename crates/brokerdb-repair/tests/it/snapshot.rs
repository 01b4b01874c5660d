//! The checked-in expected schema is what the migrations make.

use brokerdb_repair::expected::{self, to_file_text};
use brokerdb_repair::inspect;

use crate::support::{bless, crate_dir};

#[tokio::test]
async fn the_expected_schema_is_what_the_migrations_make() -> anyhow::Result<()> {
    let db = brokerdb_testkit::database().await;
    let live = inspect::snapshot(&db.admin().await).await?;
    let text = to_file_text(&live)?;
    if bless() {
        std::fs::write(crate_dir().join("schema/expected.json"), &text)?;
        return Ok(());
    }
    assert!(
        text == expected::EXPECTED_JSON,
        "schema/expected.json is not what the migrations make: run this test with BROKERDB_BLESS=1 and review the diff"
    );
    assert_eq!(expected::expected()?, &live);
    Ok(())
}

#[test]
fn bless_the_generated_playbooks() -> anyhow::Result<()> {
    // Generation needs no database; the unit test `generate::tests` checks the files. This
    // rewrites them after `schema/expected.json` changed (BROKERDB_BLESS=1).
    if bless() {
        let expected: brokerdb_repair::inspect::Snapshot = serde_json::from_str(
            &std::fs::read_to_string(crate_dir().join("schema/expected.json"))?,
        )?;
        for file in brokerdb_repair::generate::playbooks(&expected) {
            std::fs::write(crate_dir().join("playbooks").join(file.name), file.text)?;
        }
    }
    let names: Vec<&str> = brokerdb_repair::playbook::shipped_files().collect();
    assert_eq!(names.len(), 4);
    Ok(())
}
