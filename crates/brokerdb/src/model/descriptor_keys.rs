//! What a descriptor is keyed by: its typed ids, and the canonical descriptor hash that approval
//! dedupe stores as `descriptor_sha256` and the Redis approval-once key reuses.
//!
//! The hash covers the compact JSON of the descriptor with keys in schema order. That is the
//! field order of [`CanonicalRequestDescriptor`], which serde keeps, with the two optional
//! fields written only when present (`null` when explicitly null), no whitespace, SHA-256 as
//! lower-case hex. Strings are escaped as serde_json escapes them: `"`, `\` and control
//! characters; non-ASCII and `/` verbatim. Services in other languages must produce the same
//! bytes: the two worked hashes in the tests below (carried over from the TypeScript module
//! brokerdb replaces) are the reference values.

use sha2::{Digest, Sha256};

use super::{
    CanonicalRequestDescriptor, IntegrationId, TenantId, ValidationError, WorkloadId, trim,
};

/// An id exactly as given: non-empty and without surrounding whitespace (the descriptor is
/// hashed byte for byte, so it is never trimmed silently).
fn exact<T>(
    field: &'static str,
    raw: &str,
    parse: fn(&str) -> Result<T, ValidationError>,
) -> Result<T, ValidationError> {
    if trim(raw) != raw {
        return Err(ValidationError::new(
            field,
            "must not have surrounding whitespace",
        ));
    }
    parse(raw).map_err(|e| e.with_field(field))
}

impl CanonicalRequestDescriptor {
    /// The tenant, workload and integration as typed ids (each non-empty, as given).
    pub fn ids(&self) -> Result<(TenantId, WorkloadId, IntegrationId), ValidationError> {
        Ok((
            exact("descriptor.tenant_id", &self.tenant_id, TenantId::parse)?,
            exact(
                "descriptor.workload_id",
                &self.workload_id,
                WorkloadId::parse,
            )?,
            exact(
                "descriptor.integration_id",
                &self.integration_id,
                IntegrationId::parse,
            )?,
        ))
    }

    /// The compact JSON the hash covers.
    pub fn canonical_json(&self) -> String {
        // Strings, integers, arrays and this derived struct always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Lower-case hex SHA-256 of [`Self::canonical_json`].
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// The descriptor as a JSON value (for snapshots).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gmail() -> serde_json::Value {
        json!({"tenant_id": "t_1", "workload_id": "w_1", "integration_id": "int_1",
            "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
            "canonical_url": "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
            "matched_path_group_id": "gmail_send", "normalized_headers": [], "query_keys": []})
    }

    fn parse(v: serde_json::Value) -> Result<CanonicalRequestDescriptor, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn the_spec_worked_hashes_are_reproduced() -> Result<(), serde_json::Error> {
        assert_eq!(
            parse(gmail())?.sha256(),
            "2968cda3c5894300ba4d79f5fe3abf9afe7c837e61843cdd722d0d61827e022f"
        );
        let mut with_nulls = gmail();
        with_nulls["query_fingerprint_base64"] = json!(null);
        with_nulls["body_sha256_base64"] = json!(null);
        assert_eq!(
            parse(with_nulls)?.sha256(),
            "66d4c4acf447a117d3df3c0da4830886d975f367a9425d9cc5445fbc1277ea35"
        );
        Ok(())
    }

    #[test]
    fn ids_must_be_non_empty_and_exact() -> Result<(), serde_json::Error> {
        let d = parse(gmail())?;
        let ids = d
            .ids()
            .map(|(t, w, i)| (t.into_inner(), w.into_inner(), i.into_inner()));
        assert_eq!(ids, Ok(("t_1".into(), "w_1".into(), "int_1".into())));
        for (key, bad) in [
            ("tenant_id", " t_1"),
            ("workload_id", ""),
            ("integration_id", "i\n"),
        ] {
            let mut v = gmail();
            v[key] = json!(bad);
            assert!(parse(v)?.ids().is_err(), "{key}");
        }
        Ok(())
    }

    #[test]
    fn keys_follow_the_schema_order_whatever_the_input_order() -> Result<(), serde_json::Error> {
        let mut v = gmail();
        v["body_sha256_base64"] = json!("YWJj");
        v["normalized_headers"] = json!([{"value": "a/b \"q\" é\n\u{1}", "name": "x"}]);
        assert_eq!(
            parse(v)?.canonical_json(),
            r#"{"tenant_id":"t_1","workload_id":"w_1","integration_id":"int_1","template_id":"tpl_gmail","template_version":1,"method":"POST","canonical_url":"https://gmail.googleapis.com/gmail/v1/users/me/messages/send","matched_path_group_id":"gmail_send","normalized_headers":[{"name":"x","value":"a/b \"q\" é\n\u0001"}],"query_keys":[],"body_sha256_base64":"YWJj"}"#
        );
        Ok(())
    }
}
