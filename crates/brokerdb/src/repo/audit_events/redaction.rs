//! Audit redaction profiles: one per tenant, stored as a validated snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::REPO;
use crate::db::{DbError, TenantExec};
use crate::model::{NonEmptyString, TenantId, ValidationError, json_integer};

pub use crate::model::RedactionAction;

const BY_TENANT: &str = "SELECT profile_json FROM audit_redaction_profiles WHERE tenant_id = $1";
const UPSERT: &str = "INSERT INTO audit_redaction_profiles (tenant_id, profile_id, profile_json) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id) DO UPDATE SET profile_id = EXCLUDED.profile_id, profile_json = EXCLUDED.profile_json
     RETURNING profile_json";

/// How a tenant's audit payloads are redacted before they are shown or exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRedactionRules {
    /// For `message`.
    pub message_action: RedactionAction,
    /// For metadata keys not listed.
    pub metadata_default_action: RedactionAction,
    /// Per metadata key.
    pub metadata_key_actions: BTreeMap<String, RedactionAction>,
    /// Metadata keys kept as is.
    pub metadata_allow_keys: Vec<String>,
    /// At least one; each compiles as a case-insensitive Unicode regular expression.
    pub sensitive_key_patterns: Vec<String>,
    /// For forwarded header values.
    pub canonical_header_value_action: RedactionAction,
    /// For policy and approval ids.
    pub policy_identifier_action: RedactionAction,
    /// 1..=8.
    #[serde(deserialize_with = "json_integer")]
    pub max_depth: i32,
    /// 1..=500.
    #[serde(deserialize_with = "json_integer")]
    pub max_collection_size: i32,
    /// 64..=4096.
    #[serde(deserialize_with = "json_integer")]
    pub max_string_length: i32,
    /// Salt of the `hash` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_salt: Option<String>,
}

/// A tenant's redaction profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRedactionProfile {
    /// Must be the scope's tenant.
    pub tenant_id: TenantId,
    /// Profile id (replaced on upsert).
    pub profile_id: NonEmptyString,
    /// The rules.
    pub rules: AuditRedactionRules,
}

fn bounded(
    field: &'static str,
    v: i32,
    range: std::ops::RangeInclusive<i32>,
) -> Result<(), ValidationError> {
    if range.contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!(
                "must be an integer from {} to {}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// The compile error's own summary line (`error: …`), without its multi-line pattern echo.
fn compile_error(pattern: &str) -> Option<String> {
    let err = regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(true)
        .build()
        .err()?;
    let text = err.to_string();
    let reason = text
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or("invalid syntax");
    Some(reason.to_owned())
}

impl AuditRedactionProfile {
    /// Parses a strict profile from JSON and checks its rules.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        let p: Self = serde_json::from_value(value).map_err(|_| {
            ValidationError::new(
                "profile",
                "does not match the AuditRedactionProfile contract",
            )
        })?;
        p.validate()?;
        Ok(p)
    }

    /// The bounds, and every sensitive-key pattern compiling under case-insensitive + Unicode
    /// flags with the `regex` crate. The error names the pattern (its index and text; patterns
    /// are configuration, not secrets) and why it does not compile.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let r = &self.rules;
        bounded("rules.max_depth", r.max_depth, 1..=8)?;
        bounded("rules.max_collection_size", r.max_collection_size, 1..=500)?;
        bounded("rules.max_string_length", r.max_string_length, 64..=4096)?;
        if r.sensitive_key_patterns.is_empty() {
            return Err(ValidationError::new(
                "rules.sensitive_key_patterns",
                "must hold at least one pattern",
            ));
        }
        for (i, pattern) in r.sensitive_key_patterns.iter().enumerate() {
            if let Some(reason) = compile_error(pattern) {
                let shown: String = pattern.chars().take(80).collect();
                return Err(ValidationError::new(
                    format!("rules.sensitive_key_patterns[{i}]"),
                    format!("pattern {shown:?} does not compile as a regular expression: {reason}"),
                ));
            }
        }
        Ok(())
    }
}

fn from_snapshot(row: &tokio_postgres::Row) -> Result<AuditRedactionProfile, DbError> {
    let json: serde_json::Value = row.try_get(0)?;
    AuditRedactionProfile::from_json(json).map_err(|_| DbError::Unexpected {
        message: "stored redaction profile violates its contract".into(),
    })
}

/// The executor's tenant's profile, or `None`.
pub async fn get_redaction_profile(
    exec: &mut impl TenantExec,
) -> Result<Option<AuditRedactionProfile>, DbError> {
    let tenant = exec.tenant_id().clone();
    exec.op(REPO, "get_redaction_profile")
        .query_opt(BY_TENANT, &[&tenant], from_snapshot)
        .await
}

/// Creates or replaces the executor's tenant's profile (`profile_id` and rules overwritten) and
/// returns it. Its tenant must be the executor's; unknown tenant → `integrity_violation`.
pub async fn upsert_redaction_profile(
    exec: &mut impl TenantExec,
    profile: &AuditRedactionProfile,
) -> Result<AuditRedactionProfile, DbError> {
    profile.validate()?;
    if profile.tenant_id != *exec.tenant_id() {
        return Err(ValidationError::new("tenant_id", "does not match the tenant scope").into());
    }
    let json = serde_json::to_value(profile)
        .map_err(|_| ValidationError::new("profile", "cannot be serialized"))?;
    exec.op(REPO, "upsert_redaction_profile")
        .query_one(
            UPSERT,
            &[&profile.tenant_id, &profile.profile_id, &json],
            from_snapshot,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(patterns: serde_json::Value) -> serde_json::Value {
        json!({"tenant_id": "t_1", "profile_id": "p1", "rules": {
            "message_action": "keep", "metadata_default_action": "mask",
            "metadata_key_actions": {"email": "hash"}, "metadata_allow_keys": ["id"],
            "sensitive_key_patterns": patterns, "canonical_header_value_action": "drop",
            "policy_identifier_action": "keep", "max_depth": 4, "max_collection_size": 50,
            "max_string_length": 256}})
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_named_in_the_error() {
        let err = AuditRedactionProfile::from_json(profile(json!(["token", "pass(word"]))).err();
        let err = err.map(|e| (e.field.to_string(), e.message.to_string()));
        assert_eq!(
            err,
            Some((
                "rules.sensitive_key_patterns[1]".into(),
                "pattern \"pass(word\" does not compile as a regular expression: unclosed group"
                    .into()
            ))
        );
    }

    #[test]
    fn valid_patterns_and_bounds_pass() -> Result<(), ValidationError> {
        let p = AuditRedactionProfile::from_json(profile(json!([
            "^authorization$",
            "s[e3]cret",
            "\\bpin\\b"
        ])))?;
        assert_eq!(p.rules.metadata_key_actions["email"], RedactionAction::Hash);
        Ok(())
    }

    #[test]
    fn out_of_bounds_rules_are_rejected() {
        for (key, value) in [
            ("max_depth", json!(0)),
            ("max_depth", json!(9)),
            ("max_collection_size", json!(501)),
            ("max_string_length", json!(63)),
            ("max_string_length", json!(4097)),
            ("sensitive_key_patterns", json!([])),
            ("message_action", json!("shred")),
            ("extra", json!(true)),
        ] {
            let mut v = profile(json!(["a"]));
            v["rules"][key] = value.clone();
            assert!(
                AuditRedactionProfile::from_json(v).is_err(),
                "{key} = {value}"
            );
        }
    }
}
