//! PolicyRuleRepository: normalization, lifecycle and descriptor-scope matching against real
//! PostgreSQL.

use brokerdb::model::CanonicalRequestDescriptor;
use brokerdb::prelude::*;
use brokerdb::repo::policy_rules::{self, PolicyRule};
use serde_json::{Value, json};

use crate::assert_code;
use crate::support::{Error, TestResult, count_rows, seeded, tenant};

type Res<T> = Result<T, Error>;

fn rule(v: Value) -> Res<PolicyRule> {
    Ok(serde_json::from_value(v)?)
}

fn scope_json(extra: Value) -> Value {
    let mut scope = json!({"tenant_id": "t_a", "integration_id": "int_1", "action_group": "send",
        "method": "POST", "host": "api.example.com"});
    if let (Some(s), Some(e)) = (scope.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    scope
}

fn allow(id: &str, extra: Value) -> Res<PolicyRule> {
    rule(json!({"policy_id": id, "rule_type": "allow", "scope": scope_json(extra)}))
}

fn descriptor(extra: Value) -> Res<CanonicalRequestDescriptor> {
    let mut d = json!({"tenant_id": "t_a", "workload_id": "w_1", "integration_id": "int_1",
        "template_id": "tpl_mail", "template_version": 2, "method": "POST",
        "canonical_url": "https://API.Example.com:8443/v1/send?b=1&a=2",
        "matched_path_group_id": "send", "normalized_headers": [], "query_keys": ["b", "a"]});
    if let (Some(o), Some(e)) = (d.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    Ok(serde_json::from_value(d)?)
}

fn ids(rules: &[PolicyRule]) -> Vec<&str> {
    rules
        .iter()
        .filter_map(|r| r.policy_id.as_deref())
        .collect()
}

fn rate_limited() -> Res<PolicyRule> {
    rule(
        json!({"policy_id": " pol_rl ", "rule_type": "rate_limit", "scope": scope_json(json!({})),
        "rate_limit": {"max_requests": 10, "interval_seconds": 60}}),
    )
}

#[tokio::test]
async fn create_normalizes_the_rule_and_stores_it_as_returned() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let input = rule(json!({
        "rule_type": "approval_required",
        "scope": {"tenant_id": " t_a ", "workload_id": "  w_1 ", "integration_id": " int_1",
            "template_id": "", "template_version": null, "action_group": "send ", "method": " patch ",
            "host": " Bücher.DE:443 ", "query_keys": [" to", "cc "]},
        "constraints": {"recipient_allowlist": ["b@example.com", "a@example.com"],
            "recipient_domain_allowlist": ["Example.COM", "b.io"], "require_mfa_approval": true,
            "max_body_bytes": 10485760, "allowed_query_keys": ["z", "a.b-c_d"]},
        "rate_limit": null
    }))?;
    let stored = policy_rules::create(&mut scope, &input, Some("admin@example.com")).await?;
    let id = stored.policy_id.clone().ok_or("no id")?;
    assert!(id.starts_with("pol_") && id.len() == 36, "{id}");
    assert_eq!(
        serde_json::to_value(&stored)?,
        json!({
            "policy_id": id, "rule_type": "approval_required",
            "scope": {"tenant_id": "t_a", "workload_id": "w_1", "integration_id": "int_1",
                "action_group": "send", "method": "PATCH", "host": "xn--bcher-kva.de", "query_keys": ["cc", "to"]},
            "constraints": {"recipient_allowlist": ["a@example.com", "b@example.com"],
                "recipient_domain_allowlist": ["b.io", "example.com"], "require_mfa_approval": true,
                "max_body_bytes": 10485760, "allowed_query_keys": ["a.b-c_d", "z"]},
            "rate_limit": null
        })
    );
    let pid = PolicyId::parse(&id)?;
    assert_eq!(policy_rules::get(&mut scope, &pid).await?, Some(stored));
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_rule_keeps_its_trimmed_id_and_its_limit() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let limited = policy_rules::create(&mut db.tenant(&a), &rate_limited()?, None).await?;
    assert_eq!(limited.policy_id.as_deref(), Some("pol_rl"));
    assert_eq!(
        serde_json::to_value(limited.rate_limit)?,
        json!({"max_requests": 10, "interval_seconds": 60})
    );
    Ok(())
}

#[tokio::test]
async fn a_second_rule_with_the_same_policy_id_is_a_unique_violation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    policy_rules::create(&mut scope, &rate_limited()?, None).await?;
    assert_code!(
        policy_rules::create(&mut scope, &allow("pol_rl", json!({}))?, None).await,
        UniqueViolation
    );
    Ok(())
}

#[tokio::test]
async fn a_rule_of_an_unknown_tenant_is_an_integrity_violation() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let ghost = tenant("t_ghost")?;
    let orphan = rule(
        json!({"rule_type": "deny", "scope": {"tenant_id": "t_ghost", "integration_id": "i",
        "action_group": "g", "method": "GET", "host": "a.example"}}),
    )?;
    assert_code!(
        policy_rules::create(&mut db.tenant(&ghost), &orphan, None).await,
        IntegrityViolation
    );
    Ok(())
}

#[tokio::test]
async fn invalid_rules_are_validation_errors_that_name_the_field_and_write_nothing() -> TestResult {
    let (test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    let many: Vec<String> = (0..129).map(|i| format!("u{i}@example.com")).collect();
    let cases = [
        (
            "scope.workload_id",
            json!({"rule_type": "allow", "scope": scope_json(json!({"workload_id": "   "}))}),
        ),
        (
            "scope.template_id",
            json!({"rule_type": "allow", "scope": scope_json(json!({"template_id": " \t"}))}),
        ),
        (
            "scope.template_version",
            json!({"rule_type": "allow", "scope": scope_json(json!({"template_version": 0}))}),
        ),
        (
            "scope.method",
            json!({"rule_type": "allow", "scope": scope_json(json!({"method": "HEAD"}))}),
        ),
        (
            "scope.host",
            json!({"rule_type": "allow", "scope": scope_json(json!({"host": "*.example.com"}))}),
        ),
        (
            "scope.host",
            json!({"rule_type": "allow", "scope": scope_json(json!({"host": "example.com:8443"}))}),
        ),
        (
            "scope.host",
            json!({"rule_type": "allow", "scope": scope_json(json!({"host": "https://example.com"}))}),
        ),
        (
            "scope.action_group",
            json!({"rule_type": "allow", "scope": scope_json(json!({"action_group": " "}))}),
        ),
        (
            "scope.query_keys[1]",
            json!({"rule_type": "allow", "scope": scope_json(json!({"query_keys": ["a", " a"]}))}),
        ),
        (
            "scope.tenant_id",
            json!({"rule_type": "allow", "scope": scope_json(json!({"tenant_id": "t_b"}))}),
        ),
        (
            "policy_id",
            json!({"policy_id": "  ", "rule_type": "allow", "scope": scope_json(json!({}))}),
        ),
        (
            "rate_limit",
            json!({"rule_type": "rate_limit", "scope": scope_json(json!({}))}),
        ),
        (
            "rate_limit",
            json!({"rule_type": "rate_limit", "scope": scope_json(json!({})), "rate_limit": {"max_requests": 0, "interval_seconds": 1}}),
        ),
        (
            "rate_limit",
            json!({"rule_type": "deny", "scope": scope_json(json!({})), "rate_limit": {"max_requests": 1, "interval_seconds": 1}}),
        ),
        (
            "constraints.recipient_domain_allowlist[1]",
            json!({"rule_type": "allow", "scope": scope_json(json!({})),
            "constraints": {"recipient_domain_allowlist": ["A.com", "a.COM"]}}),
        ),
        (
            "constraints.recipient_domain_allowlist[0]",
            json!({"rule_type": "allow", "scope": scope_json(json!({})),
            "constraints": {"recipient_domain_allowlist": ["a_b.com"]}}),
        ),
        (
            "constraints.recipient_allowlist",
            json!({"rule_type": "allow", "scope": scope_json(json!({})),
            "constraints": {"recipient_allowlist": many}}),
        ),
        (
            "constraints.recipient_allowlist[0]",
            json!({"rule_type": "allow", "scope": scope_json(json!({})),
            "constraints": {"recipient_allowlist": ["not-an-email"]}}),
        ),
        (
            "constraints.allowed_query_keys[0]",
            json!({"rule_type": "allow", "scope": scope_json(json!({})),
            "constraints": {"allowed_query_keys": ["a b"]}}),
        ),
        (
            "constraints.max_body_bytes",
            json!({"rule_type": "allow", "scope": scope_json(json!({})),
            "constraints": {"max_body_bytes": 10485761}}),
        ),
    ];
    for (field, input) in cases {
        let err = policy_rules::create(&mut scope, &rule(input)?, None)
            .await
            .err()
            .ok_or(format!("accepted invalid {field}"))?;
        assert_eq!(err.code(), ErrorCode::ValidationError, "{field}: {err}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    assert_eq!(count_rows(&test_db, "policy_rules").await?, 0);
    Ok(())
}

#[test]
fn rules_with_null_constraints_unknown_fields_or_an_unknown_type_do_not_deserialize() {
    for strict in [
        json!({"rule_type": "allow", "scope": scope_json(json!({})), "constraints": null}),
        json!({"rule_type": "allow", "scope": scope_json(json!({"extra": 1}))}),
        json!({"rule_type": "block", "scope": scope_json(json!({}))}),
        json!({"rule_type": "allow", "scope": scope_json(json!({})), "constraints": {"other": 1}}),
    ] {
        assert!(rule(strict.clone()).is_err(), "{strict}");
    }
}

#[tokio::test]
async fn another_tenant_can_neither_see_nor_disable_a_rule() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    policy_rules::create(&mut db.tenant(&a), &allow("pol_1", json!({}))?, None).await?;
    let id = PolicyId::parse("pol_1")?;
    assert!(policy_rules::get(&mut db.tenant(&b), &id).await?.is_none());
    assert_code!(
        policy_rules::disable(&mut db.tenant(&b), &id).await,
        NotFound,
        "another tenant's rule is not found"
    );
    Ok(())
}

#[tokio::test]
async fn disabled_rules_disappear_and_disable_is_idempotent() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    policy_rules::create(&mut scope, &allow("pol_1", json!({}))?, None).await?;
    let id = PolicyId::parse("pol_1")?;
    assert_eq!(
        policy_rules::list_for_descriptor(&mut scope, &descriptor(json!({}))?)
            .await?
            .len(),
        1
    );
    policy_rules::disable(&mut scope, &id).await?;
    policy_rules::disable(&mut scope, &id).await?;
    assert!(policy_rules::get(&mut scope, &id).await?.is_none());
    assert!(
        policy_rules::list_for_descriptor(&mut scope, &descriptor(json!({}))?)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn disabling_an_unknown_rule_is_not_found() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    assert_code!(
        policy_rules::disable(&mut db.tenant(&a), &PolicyId::parse("pol_none")?).await,
        NotFound
    );
    Ok(())
}

/// Tenant A's rules: `pol_m_*` match the default [`descriptor`], `pol_x_*` do not.
async fn matching_table(scope: &mut TenantScope<'_>) -> TestResult {
    let rules = [
        // Matching, specificity in brackets.
        allow("pol_m_any", json!({}))?,                          // [0]
        allow("pol_a_any", json!({}))?,                          // [0]
        allow("pol_m_workload", json!({"workload_id": "w_1"}))?, // [1]
        allow("pol_m_keys", json!({"query_keys": ["a", "b"]}))?, // [1]
        allow(
            "pol_m_wtv",
            json!({"workload_id": "w_1", "template_id": "tpl_mail", "template_version": 2}),
        )?, // [3]
        allow(
            "pol_m_all",
            json!({"workload_id": "w_1", "template_id": "tpl_mail",
            "template_version": 2, "query_keys": ["b", "a"]}),
        )?, // [4]
        allow("pol_m_host", json!({"host": "API.EXAMPLE.COM:443"}))?, // [0]
        // Not matching.
        allow("pol_x_workload", json!({"workload_id": "w_2"}))?,
        allow("pol_x_template", json!({"template_id": "tpl_other"}))?,
        allow("pol_x_version", json!({"template_version": 1}))?,
        allow("pol_x_keys_empty", json!({"query_keys": []}))?,
        allow("pol_x_keys_other", json!({"query_keys": ["a"]}))?,
        allow("pol_x_host", json!({"host": "other.example.com"}))?,
        allow("pol_x_method", json!({"method": "GET"}))?,
        allow("pol_x_group", json!({"action_group": "read"}))?,
        allow("pol_x_integration", json!({"integration_id": "int_2"}))?,
    ];
    for r in &rules {
        policy_rules::create(scope, r, None).await?;
    }
    let deny = rule(
        json!({"policy_id": "pol_m_deny", "rule_type": "deny", "scope": scope_json(json!({"template_id": "tpl_mail"}))}),
    )?;
    policy_rules::create(scope, &deny, None).await?; // [1]
    Ok(())
}

#[tokio::test]
async fn descriptor_matching_applies_every_narrowing_key_and_orders_by_specificity() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    matching_table(&mut scope).await?;
    let matched = policy_rules::list_for_descriptor(&mut scope, &descriptor(json!({}))?).await?;
    assert_eq!(
        ids(&matched),
        [
            "pol_m_all",
            "pol_m_wtv",
            "pol_m_deny",
            "pol_m_keys",
            "pol_m_workload",
            "pol_a_any",
            "pol_m_any",
            "pol_m_host"
        ]
    );
    assert_eq!(
        matched[0],
        policy_rules::get(&mut scope, &PolicyId::parse("pol_m_all")?)
            .await?
            .ok_or("gone")?
    );
    Ok(())
}

#[tokio::test]
async fn a_descriptor_without_query_keys_matches_empty_key_rules_and_no_keyed_ones() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    matching_table(&mut scope).await?;
    let no_keys = policy_rules::list_for_descriptor(
        &mut scope,
        &descriptor(json!({"query_keys": [], "canonical_url": "https://api.example.com/v1/send"}))?,
    )
    .await?;
    assert_eq!(
        ids(&no_keys),
        [
            "pol_m_wtv",
            "pol_m_deny",
            "pol_m_workload",
            "pol_a_any",
            "pol_m_any",
            "pol_m_host",
            "pol_x_keys_empty"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn another_tenant_matches_none_of_a_tenants_rules() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    matching_table(&mut db.tenant(&a)).await?;
    assert!(
        policy_rules::list_for_descriptor(
            &mut db.tenant(&b),
            &descriptor(json!({"tenant_id": "t_b"}))?
        )
        .await?
        .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn a_descriptor_of_another_tenant_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let (a, b) = (tenant("t_a")?, tenant("t_b")?);
    matching_table(&mut db.tenant(&a)).await?;
    assert_code!(
        policy_rules::list_for_descriptor(&mut db.tenant(&b), &descriptor(json!({}))?).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn descriptor_query_keys_are_only_normalized_when_a_rule_tests_them() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    policy_rules::create(&mut scope, &allow("pol_any", json!({}))?, None).await?;
    let dup = descriptor(json!({"query_keys": ["a", "a", " "]}))?;
    assert_eq!(
        ids(&policy_rules::list_for_descriptor(&mut scope, &dup).await?),
        ["pol_any"]
    );
    policy_rules::create(
        &mut scope,
        &allow("pol_keys", json!({"query_keys": ["a"]}))?,
        None,
    )
    .await?;
    assert_code!(
        policy_rules::list_for_descriptor(&mut scope, &dup).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn a_malformed_descriptor_is_a_validation_error() -> TestResult {
    let (_test_db, db) = seeded().await?;
    let a = tenant("t_a")?;
    let mut scope = db.tenant(&a);
    policy_rules::create(&mut scope, &allow("pol_any", json!({}))?, None).await?;
    policy_rules::create(
        &mut scope,
        &allow("pol_keys", json!({"query_keys": ["a"]}))?,
        None,
    )
    .await?;
    for bad in [
        json!({"template_version": 0}),
        json!({"method": "HEAD"}),
        json!({"canonical_url": "/relative"}),
        json!({"canonical_url": "mailto:a@example.com"}),
    ] {
        assert_code!(
            policy_rules::list_for_descriptor(&mut scope, &descriptor(bad.clone())?).await,
            ValidationError,
            "{bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn descriptor_matching_uses_the_tenant_leading_index_on_a_large_table() -> TestResult {
    let (test_db, _db) = seeded().await?;
    let admin = test_db.admin().await;
    admin
        .batch_execute(
            "INSERT INTO policy_rules (policy_id, tenant_id, rule_type, integration_id, action_group, method, host, policy_json, enabled)
             SELECT 'pol_' || g, CASE WHEN g % 2 = 0 THEN 't_a' ELSE 't_b' END, 'allow', 'int_' || (g % 50),
                    'group_' || (g % 7), 'POST', 'h' || (g % 13) || '.example.com', '{}'::jsonb, g % 5 <> 0
               FROM generate_series(1, 10000) g;
             ANALYZE policy_rules;",
        )
        .await?;
    let mut admin = admin;
    let t = admin.transaction().await?;
    t.batch_execute(
        "SET LOCAL ROLE brokerdb_app; SELECT set_config('brokerdb.tenant_id', 't_a', true)",
    )
    .await?;
    let explain = format!("EXPLAIN {}", policy_rules::MATCH_SQL);
    let keys = vec!["a".to_owned()];
    let plan = t
        .query(
            explain.as_str(),
            &[
                &"t_a",
                &"int_2",
                &"group_3",
                &"POST",
                &"h5.example.com",
                &"w_1",
                &"tpl_mail",
                &2_i32,
                &keys,
            ],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        plan.contains("idx_policy_rules_primary_scope") && !plan.contains("Seq Scan"),
        "{plan}"
    );
    Ok(())
}
