//! The schema the migrations promise: `schema/expected.json`, a [`Snapshot`] of a freshly
//! migrated database, checked in and embedded in the binary. A test inspects a freshly
//! migrated database and compares; after a new migration, run it with `BROKERDB_BLESS=1` to
//! rewrite the file (and the generated playbooks), then review the diff like any code.

use std::sync::OnceLock;

use crate::error::RepairError;
use crate::inspect::Snapshot;

/// The file's text.
pub const EXPECTED_JSON: &str = include_str!("../schema/expected.json");

/// The expected snapshot (parsed once).
pub fn expected() -> Result<&'static Snapshot, RepairError> {
    static EXPECTED: OnceLock<Result<Snapshot, String>> = OnceLock::new();
    EXPECTED
        .get_or_init(|| serde_json::from_str(EXPECTED_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|reason| RepairError::Registry {
            file: "schema/expected.json",
            reason: reason.clone(),
        })
}

/// The snapshot as the file holds it: pretty JSON with a final newline.
pub fn to_file_text(snapshot: &Snapshot) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(snapshot)?;
    text.push('\n');
    Ok(text)
}
