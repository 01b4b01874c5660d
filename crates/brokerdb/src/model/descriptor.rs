//! `CanonicalRequestDescriptor` (data-model §4.1) and its canonical hash (repositories §1.4),
//! which approval dedupe stores as `descriptor_sha256` and the Redis approval-once key reuses.
//!
//! The hash covers the compact JSON of the descriptor with keys in schema order: that is the
//! declaration order of [`CanonicalRequestDescriptor`], which serde keeps. So field order here
//! is part of the contract; the spec's two worked hashes are unit tests below.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::text::trim;
use super::{HttpMethod, IntegrationId, TenantId, ValidationError, WorkloadId};

/// One forwarded header, `{"name": …, "value": …}` in that key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptorHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// An optional field that keeps "absent" apart from "explicitly null": the hash emits `null`
/// for [`Nullable::Null`] and nothing for [`Nullable::Absent`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Nullable<T> {
    /// The key is not present.
    #[default]
    Absent,
    /// The key is present with `null`.
    Null,
    /// The key is present with a value.
    Value(T),
}

impl<T> Nullable<T> {
    /// True for [`Nullable::Absent`] (serde skips the key).
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => v.serialize(s),
            Self::Absent | Self::Null => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    /// Called only when the key is present (`#[serde(default)]` gives `Absent` otherwise).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Self::Value(v),
            None => Self::Null,
        })
    }
}

/// The normalized description of one upstream request: what policy matches and approvals are
/// keyed on. Build it with [`CanonicalRequestDescriptor::from_json`] or as a literal followed
/// by [`CanonicalRequestDescriptor::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalRequestDescriptor {
    /// Tenant (must carry no surrounding whitespace).
    #[serde(deserialize_with = "exact")]
    pub tenant_id: TenantId,
    /// Calling workload.
    #[serde(deserialize_with = "exact")]
    pub workload_id: WorkloadId,
    /// Integration used.
    #[serde(deserialize_with = "exact")]
    pub integration_id: IntegrationId,
    /// Template id.
    pub template_id: String,
    /// Template version, ≥ 1.
    #[serde(deserialize_with = "json_integer")]
    pub template_version: i32,
    /// Exactly one of `GET POST PUT PATCH DELETE`.
    #[serde(deserialize_with = "exact_method")]
    pub method: HttpMethod,
    /// Absolute URL (kept verbatim: it is hashed as given).
    pub canonical_url: String,
    /// The template path group that matched.
    pub matched_path_group_id: String,
    /// Forwarded headers.
    pub normalized_headers: Vec<DescriptorHeader>,
    /// Query parameter names.
    pub query_keys: Vec<String>,
    /// Fingerprint of the query values.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub query_fingerprint_base64: Nullable<String>,
    /// SHA-256 of the body.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub body_sha256_base64: Nullable<String>,
}

fn exact<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err = ValidationError>,
{
    let s = <Cow<'de, str>>::deserialize(d)?;
    if trim(&s) != s {
        return Err(D::Error::custom("ids must not have surrounding whitespace"));
    }
    s.parse().map_err(D::Error::custom)
}

fn exact_method<'de, D: Deserializer<'de>>(d: D) -> Result<HttpMethod, D::Error> {
    let s = <Cow<'de, str>>::deserialize(d)?;
    HttpMethod::ALL
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| D::Error::custom("method must be one of GET, POST, PUT, PATCH, DELETE"))
}

/// A JSON integer; `1.0` counts (JavaScript has one number type), `1.5` does not.
pub(crate) fn json_integer<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let whole = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => Some(i),
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        _ => None,
    };
    whole
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| D::Error::custom("must be an integer"))
}

impl CanonicalRequestDescriptor {
    /// Parses a strict descriptor (unknown keys rejected) and checks its value rules.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        let d: Self = serde_json::from_value(value).map_err(|_| {
            ValidationError::new(
                "canonical_descriptor",
                "does not match the CanonicalRequestDescriptor contract",
            )
        })?;
        d.validate()?;
        Ok(d)
    }

    /// The rules the types cannot express: `template_version ≥ 1`, `canonical_url` absolute.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.template_version < 1 {
            return Err(ValidationError::new(
                "canonical_descriptor.template_version",
                "must be an integer ≥ 1",
            ));
        }
        if url::Url::parse(&self.canonical_url).is_err() {
            return Err(ValidationError::new(
                "canonical_descriptor.canonical_url",
                "must be an absolute URL",
            ));
        }
        Ok(())
    }

    /// The compact JSON the hash covers: schema key order, `null` kept, absent keys omitted,
    /// standard escaping with non-ASCII and `/` verbatim.
    pub fn canonical_json(&self) -> String {
        // Serializing strings, integers, arrays and this derived struct cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Lower-case hex SHA-256 of [`Self::canonical_json`] (repositories §1.4).
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// As a JSON value (for snapshots).
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

    #[test]
    fn the_spec_worked_hashes_are_reproduced() -> Result<(), ValidationError> {
        let d = CanonicalRequestDescriptor::from_json(gmail())?;
        assert_eq!(
            d.sha256(),
            "2968cda3c5894300ba4d79f5fe3abf9afe7c837e61843cdd722d0d61827e022f"
        );
        let mut with_nulls = gmail();
        with_nulls["query_fingerprint_base64"] = json!(null);
        with_nulls["body_sha256_base64"] = json!(null);
        let d = CanonicalRequestDescriptor::from_json(with_nulls)?;
        assert_eq!(
            d.sha256(),
            "66d4c4acf447a117d3df3c0da4830886d975f367a9425d9cc5445fbc1277ea35"
        );
        Ok(())
    }

    #[test]
    fn keys_follow_the_schema_order_whatever_the_input_order() -> Result<(), ValidationError> {
        let mut v = gmail();
        v["body_sha256_base64"] = json!("YWJj");
        v["normalized_headers"] = json!([{"value": "a/b \"q\" é\n", "name": "x"}]);
        let d = CanonicalRequestDescriptor::from_json(v)?;
        assert_eq!(
            d.canonical_json(),
            r#"{"tenant_id":"t_1","workload_id":"w_1","integration_id":"int_1","template_id":"tpl_gmail","template_version":1,"method":"POST","canonical_url":"https://gmail.googleapis.com/gmail/v1/users/me/messages/send","matched_path_group_id":"gmail_send","normalized_headers":[{"name":"x","value":"a/b \"q\" é\n"}],"query_keys":[],"body_sha256_base64":"YWJj"}"#
        );
        Ok(())
    }

    #[test]
    fn a_float_that_is_whole_counts_as_an_integer() -> Result<(), ValidationError> {
        let mut v = gmail();
        v["template_version"] = json!(1.0);
        assert_eq!(
            CanonicalRequestDescriptor::from_json(v)?.sha256(),
            "2968cda3c5894300ba4d79f5fe3abf9afe7c837e61843cdd722d0d61827e022f"
        );
        Ok(())
    }

    #[test]
    fn out_of_contract_descriptors_are_rejected() {
        let cases: [(&str, serde_json::Value); 10] = [
            ("template_version", json!(0)),
            ("template_version", json!(1.5)),
            ("method", json!("post")),
            ("method", json!("HEAD")),
            ("canonical_url", json!("/relative")),
            ("tenant_id", json!(" t_1")),
            ("workload_id", json!("")),
            ("normalized_headers", json!([{"name": "a"}])),
            ("query_keys", json!("a")),
            ("surprise", json!(1)),
        ];
        for (key, value) in cases {
            let mut v = gmail();
            v[key] = value.clone();
            assert!(
                CanonicalRequestDescriptor::from_json(v).is_err(),
                "{key} = {value}"
            );
        }
        let mut missing = gmail();
        missing.as_object_mut().map(|o| o.remove("query_keys"));
        assert!(CanonicalRequestDescriptor::from_json(missing).is_err());
    }
}
