//! Policy rules: normalized policy rules of a tenant and the descriptor-scope
//! match the policy engine runs on every request. Tenant scope throughout.
//!
//! Matching is one statement on the partial index `idx_policy_rules_primary_scope_enabled`
//! (`tenant_id, integration_id, action_group, method, host WHERE enabled`); the narrowing keys,
//! the "query keys present (even `[]`)" test on the stored snapshot and the specificity order are
//! evaluated in SQL too, so the caller gets exactly the matching rules in order.

mod dto;

use tokio_postgres::Row;

pub use dto::{PolicyConstraints, PolicyRule, PolicyRuleType, PolicyScope, RateLimit};

use crate::db::{DbError, TenantExec};
use crate::model::{CanonicalRequestDescriptor, PolicyId, ValidationError, normalize_unique_list};

const REPO: &str = "policy_rules";
const INSERT: &str = "INSERT INTO policy_rules (policy_id, tenant_id, enabled, rule_type, workload_id, integration_id,
       template_id, template_version, action_group, method, host, query_keys, constraints_json,
       rate_limit_max_requests, rate_limit_interval_seconds, policy_json, created_by)
     VALUES ($1, $2, TRUE, $3::text::policy_rule_type, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, '{}'::text[]),
       $12, $13, $14, $15, $16)";
const BY_ID: &str = "SELECT policy_json::text FROM policy_rules WHERE policy_id = $1 AND enabled";
const DISABLE: &str = "UPDATE policy_rules SET enabled = FALSE WHERE policy_id = $1";
/// The descriptor-scope match, public so the bench can run the same SQL in pgbench.
/// `$1` tenant, `$2` integration, `$3` action group, `$4` method, `$5` host, `$6` workload,
/// `$7` template, `$8` template version, `$9` the descriptor's normalized query keys (`NULL`
/// when they do not normalize: rules that test them are then returned flagged, see below).
pub const MATCH_SQL: &str = "SELECT policy_json::text, policy_json->'scope' ? 'query_keys' AS tests_keys
     FROM policy_rules
     WHERE enabled AND tenant_id = $1 AND integration_id = $2 AND action_group = $3 AND method = $4 AND host = $5
       AND (workload_id IS NULL OR workload_id = $6)
       AND (template_id IS NULL OR template_id = $7)
       AND (template_version IS NULL OR template_version = $8)
       AND (NOT (policy_json->'scope' ? 'query_keys') OR $9::text[] IS NULL OR query_keys = $9::text[])
     ORDER BY (workload_id IS NOT NULL)::int + (template_id IS NOT NULL)::int
              + (template_version IS NOT NULL)::int + (cardinality(query_keys) > 0)::int DESC,
              policy_id";

/// Decodes the stored snapshot straight from its text (no intermediate JSON tree: this is on
/// the policy engine's hot path).
fn from_row(row: &Row) -> Result<PolicyRule, DbError> {
    serde_json::from_str(row.try_get(0)?).map_err(|_| DbError::Unexpected {
        message: "stored policy rule violates its contract".into(),
    })
}

/// Normalizes ([`PolicyRule::normalized`]) and stores a rule, enabled. `scope.tenant_id` must be the tenant of
/// the call (else `validation_error`: never written elsewhere); duplicate `policy_id` →
/// `unique_violation`; unknown tenant → `integrity_violation`. Returns the normalized rule.
pub async fn create(
    exec: &mut impl TenantExec,
    rule: &PolicyRule,
    created_by: Option<&str>,
) -> Result<PolicyRule, DbError> {
    let rule = rule.normalized()?;
    let s = &rule.scope;
    if s.tenant_id != exec.tenant_id().as_str() {
        return Err(ValidationError::new(
            "scope.tenant_id",
            "must be the tenant the call is made for",
        )
        .into());
    }
    let snapshot = serde_json::to_value(&rule)
        .map_err(|_| ValidationError::new("policy", "cannot be serialized"))?;
    let constraints = rule
        .constraints
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|_| ValidationError::new("constraints", "cannot be serialized"))?;
    let (max_requests, interval) = match rule.rate_limit {
        Some(r) => (Some(r.max_requests), Some(r.interval_seconds)),
        None => (None, None),
    };
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 16] = [
        &rule.policy_id,
        &s.tenant_id,
        &rule.rule_type.as_str(),
        &s.workload_id,
        &s.integration_id,
        &s.template_id,
        &s.template_version,
        &s.action_group,
        &s.method,
        &s.host,
        &s.query_keys,
        &constraints,
        &max_requests,
        &interval,
        &snapshot,
        &created_by,
    ];
    exec.op(REPO, "create").execute(INSERT, &params).await?;
    Ok(rule)
}

/// An enabled rule by id, or `None` (missing or disabled).
pub async fn get(
    exec: &mut impl TenantExec,
    policy_id: &PolicyId,
) -> Result<Option<PolicyRule>, DbError> {
    exec.op(REPO, "get")
        .query_opt(BY_ID, &[policy_id], from_row)
        .await
}

/// Disables a rule (idempotent; there is no re-enable). Unknown → `not_found`.
pub async fn disable(exec: &mut impl TenantExec, policy_id: &PolicyId) -> Result<(), DbError> {
    let n = exec
        .op(REPO, "disable")
        .execute(DISABLE, &[policy_id])
        .await?;
    match n {
        0 => Err(DbError::not_found("policy rule")),
        _ => Ok(()),
    }
}

/// The enabled rules matching a descriptor, most specific first, ties by `policy_id` (byte
/// order). A rule matches when its integration, action group (the descriptor's matched path
/// group), method and host equal the descriptor's, and each narrowing key it sets (workload,
/// template, template version, query keys as an exact set) does too. The descriptor's tenant
/// must be the tenant of the call (else `validation_error`). Query keys that do not normalize
/// (blank or duplicate) fail with `validation_error` only when a candidate rule tests query keys.
/// One round trip.
pub async fn list_for_descriptor(
    exec: &mut impl TenantExec,
    descriptor: &CanonicalRequestDescriptor,
) -> Result<Vec<PolicyRule>, DbError> {
    let (method, host) = descriptor.policy_scope()?;
    if descriptor.tenant_id != exec.tenant_id().as_str() {
        return Err(ValidationError::new(
            "descriptor.tenant_id",
            "must be the tenant the call is made for",
        )
        .into());
    }
    let keys = normalize_unique_list("descriptor.query_keys", &descriptor.query_keys);
    let tenant = exec.tenant_id().clone();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
        &tenant,
        &descriptor.integration_id,
        &descriptor.matched_path_group_id,
        &method.as_str(),
        &host.as_str(),
        &descriptor.workload_id,
        &descriptor.template_id,
        &descriptor.template_version,
        &keys.as_ref().ok(),
    ];
    // Each row carries whether its rule tests the query keys: invalid descriptor keys fail only
    // when a candidate rule tests them.
    let matched = exec
        .op(REPO, "list_for_descriptor")
        .query_all(MATCH_SQL, &params, |r| {
            Ok((from_row(r)?, r.try_get::<_, bool>(1)?))
        })
        .await?;
    if let Err(invalid) = keys
        && matched.iter().any(|(_, tests_keys)| *tests_keys)
    {
        return Err(invalid.into());
    }
    Ok(matched.into_iter().map(|(rule, _)| rule).collect())
}
