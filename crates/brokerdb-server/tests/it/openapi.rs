//! The OpenAPI document: it changes only on purpose (a snapshot in the repository), and it
//! documents every operation's errors and security.
//!
//! After a deliberate change to the API, accept the new document with
//! `UPDATE_OPENAPI=1 cargo test -p brokerdb-server --test it openapi` and review the diff of
//! `crates/brokerdb-server/openapi.json`.

use std::path::PathBuf;

use serde_json::Value;

use crate::TestResult;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

fn document() -> Result<Value, serde_json::Error> {
    serde_json::to_value(brokerdb_server::api::openapi())
}

#[test]
fn the_openapi_document_changes_only_on_purpose() -> TestResult {
    let current = format!("{}\n", serde_json::to_string_pretty(&document()?)?);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(snapshot_path(), &current)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(snapshot_path())?;
    assert!(
        current == committed,
        "the API's OpenAPI document differs from crates/brokerdb-server/openapi.json; if the \
         change is intended, run `UPDATE_OPENAPI=1 cargo test -p brokerdb-server --test it \
         openapi` and commit the file"
    );
    Ok(())
}

#[test]
fn every_operation_needs_a_token_and_documents_its_errors_in_the_envelope() -> TestResult {
    let doc = document()?;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().ok_or("no paths")?;
    assert!(paths.len() >= 10, "{} paths", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().ok_or("path item")? {
            operations += 1;
            let at = format!("{method} {path}");
            assert_eq!(op["security"], serde_json::json!([{"bearer": []}]), "{at}");
            let responses = op["responses"]
                .as_object()
                .ok_or(format!("{at}: no responses"))?;
            for status in ["401", "429", "503", "504"] {
                assert!(
                    responses.contains_key(status),
                    "{at} does not document {status}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('2') || status.starts_with('3') {
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorEnvelope",
                    "{at} {status} is not the error envelope"
                );
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(
                        responses.contains_key(status),
                        "{at} does not document {status}"
                    );
                }
            }
        }
    }
    assert!(operations >= 20, "{operations} operations");
    Ok(())
}
