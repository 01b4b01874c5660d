//! `CanonicalRequestDescriptor` (data-model §4.1) and its hash (repositories §1.4).

use brokerdb::model::{HttpMethod, ValidationError};
use serde::{Deserialize, Deserializer, Serialize};

use super::present;
use crate::support::sha256_hex;

/// One normalized header, `{name, value}` in that order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizedHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// The canonical description of one upstream request. Field order is the schema order: the
/// hash is the SHA-256 of this struct's compact JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalRequestDescriptor {
    /// Tenant.
    pub tenant_id: String,
    /// Calling workload.
    pub workload_id: String,
    /// Integration used.
    pub integration_id: String,
    /// Template matched.
    pub template_id: String,
    /// Template version (≥ 1).
    pub template_version: i64,
    /// Exactly `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(deserialize_with = "exact_method")]
    pub method: HttpMethod,
    /// Absolute URL.
    pub canonical_url: String,
    /// Path group matched.
    pub matched_path_group_id: String,
    /// Headers, normalized.
    pub normalized_headers: Vec<NormalizedHeader>,
    /// Query parameter names.
    pub query_keys: Vec<String>,
    /// Absent (`None`), explicit null (`Some(None)`) or a value: each hashes differently.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub query_fingerprint_base64: Option<Option<String>>,
    /// Same three states as `query_fingerprint_base64`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub body_sha256_base64: Option<Option<String>>,
}

fn exact_method<'de, D: Deserializer<'de>>(d: D) -> Result<HttpMethod, D::Error> {
    let s = String::deserialize(d)?;
    HttpMethod::parse(&s)
        .ok()
        .filter(|m| m.as_str() == s)
        .ok_or_else(|| serde::de::Error::custom("method must be GET, POST, PUT, PATCH or DELETE"))
}

impl CanonicalRequestDescriptor {
    /// The value rules serde's shape cannot express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.template_version < 1 {
            return Err(ValidationError::new(
                "template_version",
                "must be an integer ≥ 1",
            ));
        }
        if url::Url::parse(&self.canonical_url).is_err() {
            return Err(ValidationError::new(
                "canonical_url",
                "must be an absolute URL",
            ));
        }
        Ok(())
    }

    /// Lower-case hex SHA-256 of the compact JSON in schema order (repositories §1.4); the
    /// descriptor is validated first.
    pub fn sha256(&self) -> Result<String, ValidationError> {
        self.validate()?;
        let json = serde_json::to_string(self)
            .map_err(|_| ValidationError::new("canonical_descriptor", "cannot be encoded"))?;
        Ok(sha256_hex(json.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gmail(extra: &str) -> Result<CanonicalRequestDescriptor, serde_json::Error> {
        serde_json::from_str(&format!(
            r#"{{"tenant_id":"t_1","workload_id":"w_1","integration_id":"int_1",
            "template_id":"tpl_gmail","template_version":1,"method":"POST",
            "canonical_url":"https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
            "matched_path_group_id":"gmail_send","normalized_headers":[],"query_keys":[]{extra}}}"#
        ))
    }

    #[test]
    fn the_spec_hash_vectors_hold() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            gmail("")?.sha256()?,
            "2968cda3c5894300ba4d79f5fe3abf9afe7c837e61843cdd722d0d61827e022f"
        );
        assert_eq!(
            gmail(r#","query_fingerprint_base64":null,"body_sha256_base64":null"#)?.sha256()?,
            "66d4c4acf447a117d3df3c0da4830886d975f367a9425d9cc5445fbc1277ea35"
        );
        Ok(())
    }

    #[test]
    fn strictness_rejects_unknown_fields_lower_case_methods_and_bad_values() {
        assert!(gmail(r#","extra":1"#).is_err());
        let lower = r#"{"tenant_id":"t","workload_id":"w","integration_id":"i","template_id":"x",
            "template_version":1,"method":"post","canonical_url":"https://a.b/","matched_path_group_id":"g",
            "normalized_headers":[],"query_keys":[]}"#;
        assert!(serde_json::from_str::<CanonicalRequestDescriptor>(lower).is_err());
        let zero = lower
            .replace("\"post\"", "\"POST\"")
            .replace("\"template_version\":1", "\"template_version\":0");
        let parsed = serde_json::from_str::<CanonicalRequestDescriptor>(&zero);
        assert!(parsed.is_ok_and(|d| d.validate().is_err()));
    }
}
