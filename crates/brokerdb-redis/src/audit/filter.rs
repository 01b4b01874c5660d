//! The audit cache filter and its stable encoding, whose SHA-256 names a cached query.

use brokerdb::model::{AuditDecision, Timestamp, ValidationError};
use serde::{Deserialize, Serialize};

use crate::support::sha256_hex;

/// What a cached audit query selected. Strict: paging fields (`limit`, `cursor`) are not part
/// of it, so a JSON filter carrying them is rejected by [`AuditCacheFilter::from_json`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditCacheFilter {
    /// Earliest event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_min: Option<Timestamp>,
    /// Latest event time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_max: Option<Timestamp>,
    /// Tenant filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Workload filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_id: Option<String>,
    /// Integration filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    /// Action-group filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_group: Option<String>,
    /// Decision filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<AuditDecision>,
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

impl AuditCacheFilter {
    /// A filter from JSON; unknown keys (`limit`, `cursor`, …) or bad values →
    /// `validation_error`.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ValidationError> {
        serde_json::from_value(value)
            .map_err(|_| ValidationError::new("filter", "is not a valid audit cache filter"))
    }

    /// The stable encoding: `{` + present entries sorted by key as `"key":<JSON value>` joined
    /// by `,` + `}`; instants as their UTC millisecond ISO string.
    pub fn stable_encoding(&self) -> String {
        let text = |v: &Option<String>| v.as_deref().map(json_string);
        let time = |v: &Option<Timestamp>| v.map(|t| json_string(&t.to_string()));
        let mut entries: Vec<(&str, String)> = [
            ("time_min", time(&self.time_min)),
            ("time_max", time(&self.time_max)),
            ("tenant_id", text(&self.tenant_id)),
            ("workload_id", text(&self.workload_id)),
            ("integration_id", text(&self.integration_id)),
            ("action_group", text(&self.action_group)),
            ("decision", self.decision.map(|d| json_string(d.as_str()))),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let body: Vec<String> = entries
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", json_string(k)))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// Lower-case hex SHA-256 of [`Self::stable_encoding`].
    pub fn query_hash(&self) -> String {
        sha256_hex(self.stable_encoding().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples_hash_as_documented() -> Result<(), ValidationError> {
        let tenant = AuditCacheFilter {
            tenant_id: Some("tenant_1".into()),
            ..Default::default()
        };
        assert_eq!(tenant.stable_encoding(), r#"{"tenant_id":"tenant_1"}"#);
        assert_eq!(
            tenant.query_hash(),
            "857fe2b951c777f2027b44fc9568b57a1e4dc3400a017f12bcc7ef4e719134d6"
        );
        assert_eq!(
            AuditCacheFilter::default().query_hash(),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let two = AuditCacheFilter {
            action_group: Some("read".into()),
            ..tenant
        };
        assert_eq!(
            two.stable_encoding(),
            r#"{"action_group":"read","tenant_id":"tenant_1"}"#
        );
        assert_eq!(
            two.query_hash(),
            "97de717dbce41d5188f77c6c28c12195daec063b6dc6c14844e701120c612e46"
        );
        Ok(())
    }

    #[test]
    fn instants_encode_as_utc_millisecond_strings_and_paging_keys_are_refused() {
        let f = AuditCacheFilter::from_json(serde_json::json!({
            "time_min": "2026-02-11T01:00:00+01:00", "decision": "denied"
        }));
        assert_eq!(
            f.map(|f| f.stable_encoding()).ok().as_deref(),
            Some(r#"{"decision":"denied","time_min":"2026-02-11T00:00:00.000Z"}"#)
        );
        for bad in [
            serde_json::json!({"limit": 10}),
            serde_json::json!({"cursor": "x"}),
            serde_json::json!({"decision": "maybe"}),
        ] {
            assert!(AuditCacheFilter::from_json(bad).is_err());
        }
    }
}
