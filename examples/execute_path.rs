//! The execute path: what the broker's stores do when a workload asks it to call an upstream
//! API. Setup writes a template, an integration, a workload and policy rules; then three
//! requests go through the execute lookup, the policy match, the Redis rate limit and the
//! forwarder's idempotency record (a retry replays the stored outcome).
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
//!     cargo run -p brokerdb-examples --example execute_path
//! ```
//!
//! No upstream is called: the example stops where the forwarder would send the request. Redis
//! keys go under `brokerdb-example:execute_path:<pid>:` and are deleted at the end.

use std::process::ExitCode;
use std::time::Duration;

use brokerdb::db::ConnectOptions;
use brokerdb::model::CanonicalRequestDescriptor;
use brokerdb::prelude::*;
use brokerdb::repo::integrations::{self, CreateOptions, IntegrationWrite};
use brokerdb::repo::policy_rules::{self, PolicyRule, PolicyRuleType};
use brokerdb::repo::templates::{self, Template};
use brokerdb::repo::{tenants, workloads};
use brokerdb_examples::{Error, RedisScratch};
use brokerdb_redis::forwarder::{
    ForwarderCall, ForwarderOptions, ForwarderScope, ForwarderStore, IdempotencyConflict,
    IdempotencyCreate,
};
use brokerdb_redis::policy::{PolicyRateLimitStore, RateLimitRule};
use brokerdb_redis::{ConnSettings, RedisConn};
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    brokerdb_examples::run("execute_path", |url| async move {
        let redis = RedisScratch::open("execute_path")?;
        let outcome = execute_path(&url, &redis).await;
        let deleted = redis.cleanup().await?;
        println!("redis: deleted {deleted} keys under {}", redis.prefix);
        outcome
    })
    .await
}

async fn execute_path(url: &str, redis: &RedisScratch) -> Result<(), Error> {
    brokerdb_examples::migrate(url).await?;
    let db = Db::connect(ConnectOptions::from_admin_url(url)?).await?;
    // The application builds the Redis connection and hands it to each adapter.
    let conn = RedisConn::standalone(redis.client(), ConnSettings::default())?;
    let rate_limits = PolicyRateLimitStore::new(conn.clone(), Some(&redis.prefix));
    let forwarder = ForwarderStore::new(
        conn,
        ForwarderOptions {
            key_prefix: Some(redis.prefix.clone()),
            now: None,
        },
    );

    // ---- Setup (control plane): one tenant's template, integration, workload, policy rules.
    let acme = TenantId::parse("t_acme")?;
    tenants::create(&mut db.system(), "Acme", Some(acme.clone())).await?;
    let mut scope = db.tenant(&acme);

    // Template versions are immutable; an integration follows the highest active version unless
    // it is pinned to one.
    templates::create_version(
        &mut scope,
        &template(1, &["POST"])?,
        Some("admin@example.com"),
    )
    .await?;
    let integration_write: IntegrationWrite = serde_json::from_value(json!({
        "provider": "google", "name": "Gmail", "template_id": "tpl_gmail",
        "secret_material": {"type": "oauth_refresh_token", "value": "example-not-a-secret"}
    }))?;
    let integration =
        integrations::create(&mut scope, &integration_write, &CreateOptions::default()).await?;
    templates::create_version(&mut scope, &template(2, &["POST", "PUT"])?, None).await?;
    let workload = workloads::create(
        &mut scope,
        &serde_json::from_value(json!({"name": "mailer", "enrollment_mode": "broker_ca"}))?,
        None,
        None,
    )
    .await?;
    println!(
        "setup: template tpl_gmail v1 and v2, integration {}, workload {}",
        integration.integration_id, workload.workload_id
    );

    // Rules are normalized on the way in (method upper-cased, host lower-cased, punycode).
    let scope_json = json!({
        "tenant_id": acme, "integration_id": integration.integration_id,
        "action_group": "gmail_send", "method": "post", "host": "Gmail.GoogleAPIs.com:443"
    });
    let allow: PolicyRule = serde_json::from_value(json!({
        "rule_type": "allow", "scope": scope_json,
    }))?;
    let mut narrow = scope_json.clone();
    narrow["workload_id"] = json!(workload.workload_id);
    let limit: PolicyRule = serde_json::from_value(json!({
        "rule_type": "rate_limit", "scope": narrow,
        "rate_limit": {"max_requests": 3, "interval_seconds": 60}
    }))?;
    let stored = policy_rules::create(&mut scope, &allow, Some("admin@example.com")).await?;
    println!(
        "setup: rule {} allow POST gmail_send on {}",
        stored.policy_id.as_deref().unwrap_or("?"),
        stored.scope.host
    );
    let stored = policy_rules::create(&mut scope, &limit, Some("admin@example.com")).await?;
    println!(
        "setup: rule {} rate_limit 3 per 60 s for workload {}",
        stored.policy_id.as_deref().unwrap_or("?"),
        workload.workload_id
    );

    // ---- Requests (hot path): four calls of the workload. The third retries the first (same
    // idempotency key) and gets its stored outcome; the fourth exceeds the rate limit.
    for (n, idempotency_key) in [(1, "req-1"), (2, "req-2"), (3, "req-1"), (4, "req-3")] {
        println!("request {n} (idempotency key {idempotency_key})");

        // 1. Who is calling: the client certificate's SAN URI names the workload. The tenant is
        //    not known yet, so this lookup runs in the system scope (BYPASSRLS).
        let caller = workloads::get_by_san_uri(&mut db.system(), &workload.mtls_san_uri)
            .await?
            .ok_or("unknown client certificate")?;
        let mut scope = db.tenant(&caller.tenant_id);

        // 2. Execute lookup: workload and integration flags and the resolved template, in one
        //    statement (one round trip) in the caller's tenant scope.
        let found = integrations::get_template_for_execute(
            &mut scope,
            &caller.workload_id,
            &integration.integration_id,
        )
        .await?;
        println!(
            "  execute lookup: {:?}, template {} v{}",
            found.execution_status, found.template_id, found.template_version
        );
        if !found.executable {
            return Err("the workload or the integration is disabled".into());
        }

        // 3. The canonicalizer (not part of brokerdb) matches the URL against the template's
        //    path groups and builds the canonical descriptor; its SHA-256 keys approvals and the
        //    forwarder's request fingerprint.
        let descriptor: CanonicalRequestDescriptor = serde_json::from_value(json!({
            "tenant_id": caller.tenant_id, "workload_id": caller.workload_id,
            "integration_id": integration.integration_id,
            "template_id": found.template_id, "template_version": found.template_version,
            "method": "POST",
            "canonical_url": "https://gmail.googleapis.com/gmail/v1/users/me/messages/send",
            "matched_path_group_id": "gmail_send",
            "normalized_headers": [{"name": "content-type", "value": "application/json"}],
            "query_keys": []
        }))?;
        let fingerprint = descriptor.sha256();

        // 4. Policy match: the enabled rules for this descriptor, most specific first.
        let rules = policy_rules::list_for_descriptor(&mut scope, &descriptor).await?;
        let names: Vec<_> = rules.iter().map(|r| r.rule_type.as_str()).collect();
        println!("  policy match: {names:?}");
        if rules.iter().any(|r| r.rule_type == PolicyRuleType::Deny) {
            println!("  denied");
            continue;
        }

        // 5. Rate limit (Redis, fixed window, atomic): one counter per rule and caller; every
        //    call counts, retries included. Redis unreachable is an error (fail closed).
        let mut throttled = false;
        for rule in rules
            .iter()
            .filter(|r| r.rule_type == PolicyRuleType::RateLimit)
        {
            let key = format!(
                "{}:{}:{}",
                caller.tenant_id,
                caller.workload_id,
                rule.policy_id.as_deref().unwrap_or_default()
            );
            let limit = RateLimitRule::from(rule);
            let decision = rate_limits
                .check_and_consume(&key, &limit, Timestamp::now())
                .await?;
            println!(
                "  rate limit: allowed {}, remaining {}, window resets at {}",
                decision.allowed, decision.remaining, decision.reset_at
            );
            throttled |= !decision.allowed;
        }
        if throttled {
            println!("  throttled: not forwarded");
            continue;
        }

        // 6. Idempotency (Redis): the first request with a key creates an in_progress record and
        //    goes upstream; a repeat finds the record and gets the stored outcome instead.
        let fw_scope = ForwarderScope::new(&ForwarderCall {
            tenant_id: caller.tenant_id.as_str(),
            workload_id: caller.workload_id.as_str(),
            integration_id: integration.integration_id.as_str(),
            action_group: &descriptor.matched_path_group_id,
            idempotency_key,
        })?;
        let correlation_id = format!("corr-{n}");
        let expires_at = Timestamp::now()
            .checked_add(Duration::from_secs(600))
            .ok_or("time out of range")?;
        match forwarder
            .create_idempotency_record(&fw_scope, &fingerprint, &correlation_id, expires_at)
            .await?
        {
            IdempotencyCreate::Created => {
                // One forwarder at a time per key, also across instances.
                let token = forwarder
                    .acquire_execution_lock(&fw_scope, 10_000)
                    .await?
                    .ok_or("another forwarder holds the lock")?;
                println!("  idempotency: created; forwarding upstream (simulated: 200, 512 bytes)");
                forwarder
                    .complete_idempotency_record(&fw_scope, &correlation_id, 200, 512)
                    .await?;
                forwarder.release_execution_lock(&fw_scope, &token).await?;
            }
            IdempotencyCreate::Conflict(IdempotencyConflict::KeyExists) => {
                let record = forwarder
                    .get_idempotency_record(&fw_scope)
                    .await?
                    .ok_or("the idempotency record vanished")?;
                let upstream = match (record.upstream_status_code, record.response_bytes) {
                    (Some(status), Some(bytes)) => format!("upstream {status}, {bytes} bytes"),
                    _ => "no upstream response yet".to_owned(),
                };
                println!(
                    "  idempotency: seen before ({:?}, {upstream}): replayed, not forwarded",
                    record.state
                );
            }
            IdempotencyCreate::Conflict(IdempotencyConflict::FingerprintMismatch) => {
                println!("  idempotency: key reused for a different request: rejected");
            }
        }
    }
    Ok(())
}

/// Version `version` of the Gmail template, whose `gmail_send` group allows `methods`.
fn template(version: i32, methods: &[&str]) -> Result<Template, ValidationError> {
    Template::from_json(json!({
        "template_id": "tpl_gmail", "version": version, "provider": "google",
        "allowed_schemes": ["https"], "allowed_ports": [443],
        "allowed_hosts": ["gmail.googleapis.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{
            "group_id": "gmail_send", "risk_tier": "high", "approval_mode": "none",
            "methods": methods, "path_patterns": ["/gmail/v1/users/me/messages/send"],
            "query_allowlist": [], "header_forward_allowlist": ["content-type"],
            "body_policy": {"max_bytes": 1048576, "content_types": ["application/json"]}
        }],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true,
            "deny_loopback": true, "deny_metadata_ranges": true, "dns_resolution_required": true}
    }))
}
