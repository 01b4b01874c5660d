//! The `PolicyRule` DTO and its normalization ([`PolicyRule::normalized`]).

use serde::{Deserialize, Deserializer, Serialize};

pub use crate::model::PolicyRuleType;
use crate::model::{
    Email, HttpMethod, PolicyHost, PolicyId, ValidationError, normalize_unique_list,
    trimmed_non_empty,
};

/// Where a rule applies (strict). Optional narrowing keys are omitted when they do not narrow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyScope {
    /// Owner tenant (must be the tenant of the call).
    pub tenant_id: String,
    /// Only this workload (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_id: Option<String>,
    /// The integration.
    pub integration_id: String,
    /// Only this template (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Only this template version (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i32>,
    /// The template path group.
    pub action_group: String,
    /// HTTP verb.
    pub method: String,
    /// Exact destination host.
    pub host: String,
    /// Exact set of query keys (absent: any; `[]`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_keys: Option<Vec<String>>,
}

/// `PolicyConstraints` (strict).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConstraints {
    /// Allowed recipient e-mail addresses (≤ 128, each ≤ 320 chars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_allowlist: Option<Vec<String>>,
    /// Allowed recipient domains (≤ 128, each 1..253 chars of `[A-Za-z0-9.-]`), lower-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_domain_allowlist: Option<Vec<String>>,
    /// Require MFA on approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mfa_approval: Option<bool>,
    /// Largest body, 0..10 485 760 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<i64>,
    /// Allowed query keys (≤ 64, each 1..64 chars of `[A-Za-z0-9._-]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_query_keys: Option<Vec<String>>,
}

/// A rate limit: `max_requests` per `interval_seconds` (both ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per interval.
    pub max_requests: i32,
    /// Interval length.
    pub interval_seconds: i32,
}

/// `PolicyRule` (strict). As input, `policy_id` may be absent (generated); as output of the
/// repository it is always set and the rule is normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// Business id (`pol_<32 hex>` when generated).
    #[serde(default)]
    pub policy_id: Option<String>,
    /// What the rule does.
    pub rule_type: PolicyRuleType,
    /// Where it applies.
    pub scope: PolicyScope,
    /// Extra conditions (not nullable: absent or an object).
    #[serde(
        default,
        deserialize_with = "not_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub constraints: Option<PolicyConstraints>,
    /// Required for `rate_limit` rules, `null` for every other type.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

fn not_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PolicyConstraints>, D::Error> {
    PolicyConstraints::deserialize(d).map(Some)
}

const MAX_BODY_BYTES: i64 = 10_485_760;

fn bounded_list<'a>(
    field: &'static str,
    items: &'a [String],
    max_items: usize,
    mut ok: impl FnMut(&str) -> bool,
    rule: &'static str,
) -> Result<&'a [String], ValidationError> {
    if items.len() > max_items {
        return Err(ValidationError::new(
            field,
            format!("at most {max_items} entries"),
        ));
    }
    match items.iter().position(|s| !ok(s)) {
        Some(i) => Err(ValidationError::new(format!("{field}[{i}]"), rule)),
        None => Ok(items),
    }
}

fn is_domain(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn is_query_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl PolicyConstraints {
    fn normalized(&self) -> Result<Self, ValidationError> {
        let recipient_allowlist = self
            .recipient_allowlist
            .as_deref()
            .map(|list| {
                let list = bounded_list(
                    "constraints.recipient_allowlist",
                    list,
                    128,
                    |s| s.chars().count() <= 320 && Email::parse(s).is_ok(),
                    "must be an e-mail address of at most 320 characters",
                )?;
                normalize_unique_list("constraints.recipient_allowlist", list)
            })
            .transpose()?;
        let recipient_domain_allowlist = self
            .recipient_domain_allowlist
            .as_deref()
            .map(|list| {
                let list = bounded_list(
                    "constraints.recipient_domain_allowlist",
                    list,
                    128,
                    is_domain,
                    "must be 1..253 characters of [A-Za-z0-9.-]",
                )?;
                normalize_unique_list(
                    "constraints.recipient_domain_allowlist",
                    list.iter().map(|d| d.to_ascii_lowercase()),
                )
            })
            .transpose()?;
        let allowed_query_keys = self
            .allowed_query_keys
            .as_deref()
            .map(|list| {
                let list = bounded_list(
                    "constraints.allowed_query_keys",
                    list,
                    64,
                    is_query_key,
                    "must be 1..64 characters of [A-Za-z0-9._-]",
                )?;
                normalize_unique_list("constraints.allowed_query_keys", list)
            })
            .transpose()?;
        if self
            .max_body_bytes
            .is_some_and(|n| !(0..=MAX_BODY_BYTES).contains(&n))
        {
            return Err(ValidationError::new(
                "constraints.max_body_bytes",
                "must be an integer 0..10485760",
            ));
        }
        Ok(Self {
            recipient_allowlist,
            recipient_domain_allowlist,
            require_mfa_approval: self.require_mfa_approval,
            max_body_bytes: self.max_body_bytes,
            allowed_query_keys,
        })
    }
}

/// A narrowing id: a non-empty string is trimmed and must stay non-empty; `None` or `""` does
/// not narrow.
fn narrowing(field: &'static str, value: Option<&str>) -> Result<Option<String>, ValidationError> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => trimmed_non_empty(field, s).map(|t| Some(t.to_owned())),
    }
}

impl PolicyScope {
    fn normalized(&self) -> Result<Self, ValidationError> {
        if self.template_version.is_some_and(|v| v < 1) {
            return Err(ValidationError::new(
                "scope.template_version",
                "must be an integer ≥ 1",
            ));
        }
        Ok(Self {
            tenant_id: trimmed_non_empty("scope.tenant_id", &self.tenant_id)?.to_owned(),
            workload_id: narrowing("scope.workload_id", self.workload_id.as_deref())?,
            integration_id: trimmed_non_empty("scope.integration_id", &self.integration_id)?
                .to_owned(),
            template_id: narrowing("scope.template_id", self.template_id.as_deref())?,
            template_version: self.template_version,
            action_group: trimmed_non_empty("scope.action_group", &self.action_group)?.to_owned(),
            method: HttpMethod::parse(&self.method)
                .map_err(|e| e.with_field("scope.method"))?
                .as_str()
                .to_owned(),
            host: PolicyHost::parse(&self.host)
                .map_err(|e| e.with_field("scope.host"))?
                .into_inner(),
            query_keys: self
                .query_keys
                .as_deref()
                .map(|keys| normalize_unique_list("scope.query_keys", keys))
                .transpose()?,
        })
    }

    /// How many optional narrowing keys are set: matching returns the most specific rule first.
    pub fn specificity(&self) -> usize {
        [
            self.workload_id.is_some(),
            self.template_id.is_some(),
            self.template_version.is_some(),
            self.query_keys.as_ref().is_some_and(|k| !k.is_empty()),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }
}

impl PolicyRule {
    /// The normalized rule, with the final `policy_id` (given, trimmed and non-empty — the
    /// original accepted `""` — or generated `pol_<32 hex>`): ids trimmed (an empty narrowing
    /// id does not narrow), `method` upper-cased, `host` under the policy-host rule
    /// ([`crate::model::PolicyHost`]), query keys and constraint lists unique and sorted, and a
    /// rate limit present exactly for `rate_limit` rules.
    pub fn normalized(&self) -> Result<Self, ValidationError> {
        let policy_id = match self.policy_id.as_deref() {
            None => PolicyId::generate(),
            Some(id) => PolicyId::parse(id)?,
        };
        let rate_limit = match (self.rule_type, self.rate_limit) {
            (PolicyRuleType::RateLimit, Some(r))
                if r.max_requests >= 1 && r.interval_seconds >= 1 =>
            {
                Some(r)
            }
            (PolicyRuleType::RateLimit, _) => {
                return Err(ValidationError::new(
                    "rate_limit",
                    "a rate_limit rule needs max_requests and interval_seconds ≥ 1",
                ));
            }
            (_, None) => None,
            (_, Some(_)) => {
                return Err(ValidationError::new(
                    "rate_limit",
                    "only rate_limit rules carry a rate limit",
                ));
            }
        };
        Ok(Self {
            policy_id: Some(policy_id.into_inner()),
            rule_type: self.rule_type,
            scope: self.scope.normalized()?,
            constraints: self
                .constraints
                .as_ref()
                .map(PolicyConstraints::normalized)
                .transpose()?,
            rate_limit,
        })
    }
}
