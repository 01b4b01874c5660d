//! The canonical request descriptor: what a workload asks the broker to send,
//! as the policy engine and approvals see it. Strings are kept exactly as given (the descriptor
//! is hashed byte for byte); [`CanonicalRequestDescriptor::validate`] checks the schema.

use serde::{Deserialize, Deserializer, Serialize};

use super::http::HttpMethod;
use super::net::PolicyHost;
use crate::scalar::ValidationError;

/// One forwarded header, `{name, value}` (strict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizedHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// `CanonicalRequestDescriptor` (strict). The two optional fields distinguish "absent"
/// (`None`) from an explicit JSON `null` (`Some(None)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalRequestDescriptor {
    /// Tenant.
    pub tenant_id: String,
    /// Calling workload.
    pub workload_id: String,
    /// Integration used.
    pub integration_id: String,
    /// Template followed.
    pub template_id: String,
    /// Template version (≥ 1).
    pub template_version: i32,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Absolute URL of the upstream request.
    pub canonical_url: String,
    /// The template path group the URL matched.
    pub matched_path_group_id: String,
    /// Forwarded headers.
    pub normalized_headers: Vec<NormalizedHeader>,
    /// Query parameter names.
    pub query_keys: Vec<String>,
    /// Fingerprint of the query values, when given.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub query_fingerprint_base64: Option<Option<String>>,
    /// SHA-256 of the body, when given.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub body_sha256_base64: Option<Option<String>>,
}

/// A property that is there, possibly `null` (absent properties take the `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl CanonicalRequestDescriptor {
    /// Checks what the schema says beyond JSON types: `template_version ≥ 1`, `method` exactly
    /// one of the five upper-case verbs (the schema's enum; the descriptor is hashed byte for
    /// byte, so `post` would name a different request than `POST`), an absolute URL.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.checked().map(|_| ())
    }

    /// Validates (as [`Self::validate`]) and returns what policy matching needs: the method and
    /// the destination host under the policy-host rule (port and path ignored, case-folded, IDN
    /// as punycode). The URL is parsed once.
    pub fn policy_scope(&self) -> Result<(HttpMethod, PolicyHost), ValidationError> {
        let (method, url) = self.checked()?;
        let host = url
            .host_str()
            .ok_or_else(|| ValidationError::new("descriptor.canonical_url", "must have a host"))?;
        let host = PolicyHost::parse(host).map_err(|e| e.with_field("descriptor.canonical_url"))?;
        Ok((method, host))
    }

    fn checked(&self) -> Result<(HttpMethod, url::Url), ValidationError> {
        if self.template_version < 1 {
            return Err(ValidationError::new(
                "descriptor.template_version",
                "must be an integer ≥ 1",
            ));
        }
        let method = HttpMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == self.method)
            .ok_or_else(|| {
                ValidationError::new(
                    "descriptor.method",
                    "must be exactly GET, POST, PUT, PATCH or DELETE",
                )
            })?;
        let url = url::Url::parse(&self.canonical_url).map_err(|_| {
            ValidationError::new("descriptor.canonical_url", "must be an absolute URL")
        })?;
        Ok((method, url))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"tenant_id": "t_1", "workload_id": "w_1", "integration_id": "int_1",
            "template_id": "tpl_gmail", "template_version": 1, "method": "POST",
            "canonical_url": "https://Gmail.GoogleAPIs.com:443/gmail/v1/users/me/messages/send",
            "matched_path_group_id": "gmail_send", "normalized_headers": [], "query_keys": []})
    }

    #[test]
    fn absent_and_null_optionals_are_told_apart_and_unknown_fields_rejected() {
        let d: CanonicalRequestDescriptor = serde_json::from_value(base()).unwrap();
        assert_eq!(d.query_fingerprint_base64, None);
        let mut v = base();
        v["body_sha256_base64"] = json!(null);
        let d: CanonicalRequestDescriptor = serde_json::from_value(v).unwrap();
        assert_eq!(d.body_sha256_base64, Some(None));
        assert!(
            serde_json::to_string(&d)
                .unwrap()
                .ends_with(r#""query_keys":[],"body_sha256_base64":null}"#)
        );
        let mut v = base();
        v["extra"] = json!(1);
        assert!(serde_json::from_value::<CanonicalRequestDescriptor>(v).is_err());
    }

    #[test]
    fn the_policy_host_ignores_port_and_case_and_uses_punycode() {
        let mut d: CanonicalRequestDescriptor = serde_json::from_value(base()).unwrap();
        assert_eq!(d.policy_scope().unwrap().1.as_str(), "gmail.googleapis.com");
        d.canonical_url = "https://Bücher.de:8443/x?y=1".into();
        assert_eq!(d.policy_scope().unwrap().1.as_str(), "xn--bcher-kva.de");
        d.canonical_url = "https://0x7f.1/".into();
        assert_eq!(d.policy_scope().unwrap().1.as_str(), "127.0.0.1");
        d.canonical_url = "not a url".into();
        assert!(d.validate().is_err());
        d.canonical_url = "https://a.example/".into();
        for method in ["post", " POST", "Post"] {
            d.method = method.into();
            let field = d.validate().err().map(|e| e.field);
            assert_eq!(field, Some("descriptor.method".into()), "{method:?}");
        }
        d.method = "POST".into();
        d.canonical_url = "https://a.example/".into();
        d.template_version = 0;
        assert!(d.validate().is_err());
    }
}
