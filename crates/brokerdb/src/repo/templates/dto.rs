//! The `Template` contract: strict shape plus value rules.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{HttpMethod, TemplateId, ValidationError};

/// A template version: which upstream hosts, paths and methods an integration may reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// `tpl_[a-z0-9_]+`.
    pub template_id: TemplateId,
    /// ≥ 1.
    pub version: i32,
    /// Upstream provider; never changes across versions.
    pub provider: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// At least one; only `https`.
    pub allowed_schemes: Vec<String>,
    /// At least one; only 443.
    pub allowed_ports: Vec<u16>,
    /// At least one non-empty host.
    pub allowed_hosts: Vec<String>,
    /// Redirects are denied.
    pub redirect_policy: RedirectPolicy,
    /// At least one.
    pub path_groups: Vec<PathGroup>,
    /// SSRF protections.
    pub network_safety: NetworkSafety,
}

/// `{mode: "deny", max_hops?: 0..5}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectPolicy {
    /// Only `deny`.
    pub mode: String,
    /// 0..=5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hops: Option<u8>,
}

/// One group of paths sharing risk and approval rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathGroup {
    /// Group id (a policy's `action_group`).
    pub group_id: String,
    /// `low`, `medium` or `high`.
    pub risk_tier: String,
    /// `none` or `required`.
    pub approval_mode: String,
    /// At least one of the five verbs.
    pub methods: Vec<HttpMethod>,
    /// At least one non-empty pattern.
    pub path_patterns: Vec<String>,
    /// Query keys passed through.
    pub query_allowlist: Vec<String>,
    /// Headers forwarded.
    pub header_forward_allowlist: Vec<String>,
    /// Body limits.
    pub body_policy: BodyPolicy,
    /// Free-form extra constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Map<String, Value>>,
}

/// `{max_bytes ≥ 0, content_types}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyPolicy {
    /// Largest body accepted.
    pub max_bytes: u64,
    /// Accepted content types.
    pub content_types: Vec<String>,
}

/// Network protections, all required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSafety {
    /// Refuse private ranges.
    pub deny_private_ip_ranges: bool,
    /// Refuse link-local.
    pub deny_link_local: bool,
    /// Refuse loopback.
    pub deny_loopback: bool,
    /// Refuse cloud metadata ranges.
    pub deny_metadata_ranges: bool,
    /// Require DNS resolution before connecting.
    pub dns_resolution_required: bool,
}

fn rule(ok: bool, field: &'static str, message: &'static str) -> Result<(), ValidationError> {
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(field, message))
    }
}

impl Template {
    /// Parses and validates a template from JSON.
    pub fn from_json(value: Value) -> Result<Self, ValidationError> {
        let template: Self = serde_json::from_value(value).map_err(|_| {
            ValidationError::new("template", "does not match the Template contract")
        })?;
        template.validate()?;
        Ok(template)
    }

    /// Parses and validates a template from JSON text (what the repositories read: decoding the
    /// text directly skips building a JSON tree on the execute path).
    pub fn from_json_str(text: &str) -> Result<Self, ValidationError> {
        let template: Self = serde_json::from_str(text).map_err(|_| {
            ValidationError::new("template", "does not match the Template contract")
        })?;
        template.validate()?;
        Ok(template)
    }

    /// The value rules serde's shape cannot express.
    pub fn validate(&self) -> Result<(), ValidationError> {
        rule(self.version >= 1, "version", "must be an integer ≥ 1")?;
        rule(
            !self.allowed_schemes.is_empty() && self.allowed_schemes.iter().all(|s| s == "https"),
            "allowed_schemes",
            "must be one or more of https",
        )?;
        rule(
            !self.allowed_ports.is_empty() && self.allowed_ports.iter().all(|p| *p == 443),
            "allowed_ports",
            "must be one or more of 443",
        )?;
        rule(
            !self.allowed_hosts.is_empty() && self.allowed_hosts.iter().all(|h| !h.is_empty()),
            "allowed_hosts",
            "must be one or more non-empty hosts",
        )?;
        rule(
            self.redirect_policy.mode == "deny",
            "redirect_policy.mode",
            "must be deny",
        )?;
        rule(
            self.redirect_policy.max_hops.is_none_or(|h| h <= 5),
            "redirect_policy.max_hops",
            "must be 0..5",
        )?;
        rule(
            !self.path_groups.is_empty(),
            "path_groups",
            "must have at least one group",
        )?;
        for g in &self.path_groups {
            rule(
                matches!(g.risk_tier.as_str(), "low" | "medium" | "high"),
                "path_groups.risk_tier",
                "must be low, medium or high",
            )?;
            rule(
                matches!(g.approval_mode.as_str(), "none" | "required"),
                "path_groups.approval_mode",
                "must be none or required",
            )?;
            rule(
                !g.methods.is_empty(),
                "path_groups.methods",
                "must have at least one method",
            )?;
            rule(
                !g.path_patterns.is_empty() && g.path_patterns.iter().all(|p| !p.is_empty()),
                "path_groups.path_patterns",
                "must be one or more non-empty patterns",
            )?;
        }
        Ok(())
    }
}
