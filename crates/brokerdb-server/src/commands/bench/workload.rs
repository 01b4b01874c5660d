//! The bench data and operations.

use tokio_postgres::Client;

/// Database the bench seeds and measures (created next to the configured one).
pub const BENCH_DATABASE: &str = "brokerdb_bench";
/// The measured tenant.
pub const TENANT: &str = "t_bench";

/// How the library side runs an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `sql` through the tenant scope, with the random argument as `$1`.
    Sql,
    /// `repo::integrations::get_template_for_execute` for workload `w_bench_<arg>` and
    /// integration `int_bench` (decoding and validating the template included).
    ExecuteLookup,
    /// `repo::policy_rules::list_for_descriptor` for a descriptor of workload `w_bench_<arg>`
    /// (validation, host normalization and decoding the matched rules included).
    PolicyMatch,
}

/// One measured operation: the SQL the library sends (with `$1` the random argument) and the
/// pgbench variable that feeds it.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Row label.
    pub name: &'static str,
    /// Statement run in the tenant scope.
    pub sql: &'static str,
    /// The random argument's upper bound, as a function of the user count.
    pub arg_max: fn(u32) -> u32,
    /// Library path.
    pub via: Via,
}

/// Workloads seeded for the execute lookup.
pub const BENCH_WORKLOADS: u32 = 100;

/// Policy rules seeded that can match a bench descriptor, and rules elsewhere in the tenant.
pub const BENCH_POLICY_RULES: (u32, u32) = (8, 2_000);

/// Scoped point read by primary business key, a scoped 20-row page, the execute lookup and the
/// policy match.
pub const OPERATIONS: [Operation; 4] = [
    Operation {
        name: "point read (user by id)",
        sql: "SELECT user_id, email, display_name, enabled, created_at FROM human_users WHERE user_id = 'u_bench_' || $1::int",
        arg_max: |users| users,
        via: Via::Sql,
    },
    Operation {
        name: "20-row page (newest first)",
        sql: "SELECT user_id, email, display_name, enabled, created_at FROM human_users \
              ORDER BY created_at DESC, user_id DESC LIMIT 20 OFFSET $1::int",
        arg_max: |users| users.min(200),
        via: Via::Sql,
    },
    Operation {
        name: "execute lookup (workload + integration + template)",
        sql: brokerdb::repo::integrations::EXECUTE_LOOKUP_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::ExecuteLookup,
    },
    Operation {
        name: "policy rules for scope (descriptor match)",
        sql: brokerdb::repo::policy_rules::MATCH_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::PolicyMatch,
    },
];

impl Operation {
    fn pgbench_sql(&self) -> String {
        match self.via {
            Via::Sql => self.sql.replace("$1", ":arg"),
            Via::ExecuteLookup => self
                .sql
                .replace("$1", "('w_bench_' || :arg)")
                .replace("$2", "'int_bench'"),
            Via::PolicyMatch => self
                .sql
                .replace("$1", &format!("'{TENANT}'"))
                .replace("$2", "'int_bench'")
                .replace("$3", "'send'")
                .replace("$4", "'POST'")
                .replace("$5", "'api.example.com'")
                .replace("$6", "('w_bench_' || :arg)")
                .replace("$7", "'tpl_bench'")
                .replace("$8", "1")
                .replace("$9", "'{}'"),
        }
    }

    /// pgbench script: the library's exact four statements, pipelined, as the runtime role.
    pub fn scoped_script(&self, users: u32) -> String {
        format!(
            "\\set arg random(1, {})\n\\startpipeline\nBEGIN;\nSELECT set_config('brokerdb.tenant_id', '{TENANT}', true);\n{};\nCOMMIT;\n\\endpipeline\n",
            (self.arg_max)(users),
            self.pgbench_sql()
        )
    }

    /// pgbench script: the statement alone, as the system role, narrowed to the tenant by hand.
    pub fn plain_script(&self, users: u32) -> String {
        let sql = self.pgbench_sql().replace(
            "FROM human_users",
            &format!("FROM human_users WHERE tenant_id = '{TENANT}'"),
        );
        let sql = sql.replace(
            &format!("WHERE tenant_id = '{TENANT}' WHERE"),
            &format!("WHERE tenant_id = '{TENANT}' AND"),
        );
        format!("\\set arg random(1, {})\n{sql};\n", (self.arg_max)(users))
    }
}

/// Two tenants with `users` users each (idempotent), then ANALYZE.
pub async fn seed(client: &Client, users: u32) -> anyhow::Result<()> {
    let n = i32::try_from(users)?;
    client
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_bench', 'bench'), ('t_other', 'other') ON CONFLICT DO NOTHING")
        .await?;
    client
        .execute(
            "INSERT INTO human_users (user_id, tenant_id, email, display_name, created_at)
             SELECT t.prefix || g, t.tenant_id, t.prefix || g || '@example.com', 'User ' || g,
                    now() - make_interval(secs => g)
               FROM generate_series(1, $1::int) g,
                    (VALUES ('u_bench_', 't_bench'), ('u_other_', 't_other')) AS t(prefix, tenant_id)
             ON CONFLICT DO NOTHING",
            &[&n],
        )
        .await?;
    let template = serde_json::json!({
        "template_id": "tpl_bench", "version": 1, "provider": "acme",
        "allowed_schemes": ["https"], "allowed_ports": [443], "allowed_hosts": ["api.example.com"],
        "redirect_policy": {"mode": "deny"},
        "path_groups": [{"group_id": "send", "risk_tier": "low", "approval_mode": "none", "methods": ["POST"],
            "path_patterns": ["/v1/send"], "query_allowlist": [], "header_forward_allowlist": [],
            "body_policy": {"max_bytes": 1024, "content_types": ["application/json"]}}],
        "network_safety": {"deny_private_ip_ranges": true, "deny_link_local": true, "deny_loopback": true,
            "deny_metadata_ranges": true, "dns_resolution_required": true}
    });
    client
        .execute(
            "INSERT INTO template_versions (tenant_id, template_id, version, provider, template_json)
             VALUES ('t_bench', 'tpl_bench', 1, 'acme', $1) ON CONFLICT DO NOTHING",
            &[&template],
        )
        .await?;
    let workloads = i32::try_from(BENCH_WORKLOADS)?;
    client
        .execute(
            "INSERT INTO workloads (workload_id, tenant_id, name, mtls_san_uri, enabled)
             SELECT 'w_bench_' || g, 't_bench', 'bench ' || g, 'spiffe://bench/' || g, TRUE
               FROM generate_series(1, $1::int) g ON CONFLICT DO NOTHING",
            &[&workloads],
        )
        .await?;
    client
        .batch_execute(
            "INSERT INTO integrations (integration_id, tenant_id, provider, name, template_id, enabled)
             VALUES ('int_bench', 't_bench', 'acme', 'bench', 'tpl_bench', TRUE) ON CONFLICT DO NOTHING;
             ANALYZE human_users; ANALYZE workloads; ANALYZE integrations; ANALYZE template_versions",
        )
        .await?;
    seed_policy_rules(client).await
}

/// Rules that can match a bench descriptor (various narrowing keys, one per 10 workloads for
/// the workload-bound ones) and many that cannot (other groups and hosts).
async fn seed_policy_rules(client: &Client) -> anyhow::Result<()> {
    let (matching, others) = BENCH_POLICY_RULES;
    let (matching, others) = (i32::try_from(matching)?, i32::try_from(others)?);
    client
        .execute(
            "INSERT INTO policy_rules (policy_id, tenant_id, rule_type, workload_id, integration_id, template_id,
                 template_version, action_group, method, host, query_keys, policy_json)
             SELECT 'pol_bench_' || g, 't_bench', 'allow'::policy_rule_type,
                    CASE WHEN g % 2 = 0 THEN 'w_bench_' || (g * 10) END, 'int_bench',
                    CASE WHEN g % 3 = 0 THEN 'tpl_bench' END, CASE WHEN g % 4 = 0 THEN 1 END,
                    'send', 'POST', 'api.example.com', '{}'::text[],
                    jsonb_build_object('policy_id', 'pol_bench_' || g, 'rule_type', 'allow', 'rate_limit', NULL,
                      'scope', jsonb_strip_nulls(jsonb_build_object('tenant_id', 't_bench',
                        'workload_id', CASE WHEN g % 2 = 0 THEN 'w_bench_' || (g * 10) END,
                        'integration_id', 'int_bench',
                        'template_id', CASE WHEN g % 3 = 0 THEN 'tpl_bench' END,
                        'template_version', CASE WHEN g % 4 = 0 THEN 1 END,
                        'action_group', 'send', 'method', 'POST', 'host', 'api.example.com'))
                      || CASE WHEN g % 5 = 0 THEN '{\"query_keys\": []}'::jsonb ELSE '{}'::jsonb END)
               FROM generate_series(1, $1::int) g
             UNION ALL
             SELECT 'pol_other_' || g, 't_bench', 'deny'::policy_rule_type, NULL, 'int_bench', NULL, NULL,
                    'group_' || (g % 40), 'POST', 'h' || (g % 25) || '.example.com', '{}'::text[],
                    jsonb_build_object('policy_id', 'pol_other_' || g, 'rule_type', 'deny', 'rate_limit', NULL,
                      'scope', jsonb_build_object('tenant_id', 't_bench', 'integration_id', 'int_bench',
                        'action_group', 'group_' || (g % 40), 'method', 'POST', 'host', 'h' || (g % 25) || '.example.com'))
               FROM generate_series(1, $2::int) g
             ON CONFLICT DO NOTHING",
            &[&matching, &others],
        )
        .await?;
    client.batch_execute("ANALYZE policy_rules").await?;
    Ok(())
}
