//! The bench data and operations.

use tokio_postgres::Client;

/// Database the bench seeds and measures (created next to the configured one).
pub const BENCH_DATABASE: &str = "brokerdb_bench";
/// The measured tenant.
pub const TENANT: &str = "t_bench";
/// Tenants of the many-tenant audit rows: caller `c` appends for `t_audit_<c mod 16>`.
pub const AUDIT_TENANTS: u32 = 16;

/// The tenant caller `caller` of a many-tenant audit row appends for.
pub fn audit_tenant(caller: usize) -> String {
    format!("t_audit_{}", caller % AUDIT_TENANTS as usize)
}

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
    /// `repo::audit_events::append` of an `execute` event of workload `w_bench_<arg>` (one
    /// pipelined statement; the bench's sealer task seals it into the tenant's chain after
    /// commit, as `serve` does).
    AuditAppend,
    /// No library side: the same INSERT in pgbench into `bench_audit_unchained`, a copy of
    /// `audit_events` (same columns, constraints, indexes, RLS) without the chain's `writer_xid`
    /// column and index. Its pgbench rows against the chained ones' are the cost of the chain.
    UnchainedAppend,
    /// `repo::audit_events::query`: the 50 newest events of workload `w_bench_<arg>`.
    AuditQuery,
    /// [`Via::AuditAppend`] for 16 tenants: each caller appends for its own tenant
    /// ([`audit_tenant`]), so appends of different callers do not queue on one tenant's chain.
    AuditAppendTenants,
    /// [`Via::UnchainedAppend`] for the same 16 tenants (pgbench client `c` as caller `c`).
    UnchainedAppendTenants,
    /// `repo::enrollment_tokens::issue` of a fresh token for workload `w_bench_<arg>`, then
    /// `consume_once` of it: two tenant-scope calls (two transactions) per operation.
    Enrollment,
}

impl Via {
    /// Whether the row has a library side (the unchained copies are pgbench only).
    pub fn has_library(self) -> bool {
        !matches!(self, Self::UnchainedAppend | Self::UnchainedAppendTenants)
    }

    fn many_tenants(self) -> bool {
        matches!(
            self,
            Self::AuditAppendTenants | Self::UnchainedAppendTenants
        )
    }
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

/// The request the policy-match rows match, sent by `workload_id` (a seeded `w_bench_<n>`).
pub fn policy_descriptor(workload_id: &str) -> brokerdb::model::CanonicalRequestDescriptor {
    brokerdb::model::CanonicalRequestDescriptor {
        tenant_id: TENANT.to_owned(),
        workload_id: workload_id.to_owned(),
        integration_id: "int_bench".to_owned(),
        template_id: "tpl_bench".to_owned(),
        template_version: 1,
        method: "POST".to_owned(),
        canonical_url: "https://api.example.com/v1/send".to_owned(),
        matched_path_group_id: "send".to_owned(),
        normalized_headers: Vec::new(),
        query_keys: Vec::new(),
        query_fingerprint_base64: None,
        body_sha256_base64: None,
    }
}

/// Policy rules seeded that can match a bench descriptor, and rules elsewhere in the tenant.
pub const BENCH_POLICY_RULES: (u32, u32) = (8, 2_000);

/// Page size of the audit query row.
pub const AUDIT_PAGE: i64 = 50;

/// Scoped point read by primary business key, a scoped 20-row page, the execute lookup, the
/// policy match, audit appends with and without the hash chain (on one tenant and on 16), an
/// audit query page, and an enrollment token issued and consumed.
pub const OPERATIONS: [Operation; 10] = [
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
    Operation {
        name: "audit append (chained: sealed after commit)",
        sql: brokerdb::audit::APPEND_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::AuditAppend,
    },
    Operation {
        name: "audit append (same INSERT, unchained copy)",
        sql: brokerdb::audit::APPEND_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::UnchainedAppend,
    },
    Operation {
        name: "audit append × 16 tenants (chained: sealed after commit)",
        sql: brokerdb::audit::APPEND_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::AuditAppendTenants,
    },
    Operation {
        name: "audit append × 16 tenants (same INSERT, unchained copy)",
        sql: brokerdb::audit::APPEND_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::UnchainedAppendTenants,
    },
    Operation {
        name: "audit query page (50 newest of a workload)",
        sql: brokerdb::repo::audit_events::QUERY_BY_WORKLOAD_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::AuditQuery,
    },
    Operation {
        name: "enrollment token issue + consume",
        sql: brokerdb::repo::enrollment_tokens::ISSUE_SQL,
        arg_max: |_| BENCH_WORKLOADS,
        via: Via::Enrollment,
    },
];

/// The `event_json` pgbench appends (the library builds the same shape from the event); a
/// valid AuditEvent, as the query row reads these rows back. `\u003a` is `:` in JSON: pgbench
/// would read `:00` as a variable.
const PGBENCH_EVENT_JSON: &str = r#"'{"event_id": "evt_pgbench", "timestamp": "2026-01-01T00\u003a00\u003a00.000Z", "tenant_id": "t_bench", "correlation_id": "bench", "event_type": "execute", "workload_id": "w_bench_1", "integration_id": "int_bench", "decision": "allowed", "action_group": "send", "risk_tier": "low", "upstream_status_code": 200, "latency_ms": 12}'"#;

/// Replaces `$n` placeholders with `values[n - 1]`, highest first (so `$1` never eats `$10`).
fn substitute(sql: &str, values: &[&str]) -> String {
    let mut out = sql.to_owned();
    for (i, v) in values.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), v);
    }
    out
}

/// pgbench's token hash of one enrollment operation (a fresh one per script run).
const PGBENCH_TOKEN: &str =
    "encode(sha256(('bench-' || :client_id || '-' || :r1 || '-' || :r2)::bytea), 'hex')";

impl Operation {
    /// The tenant as pgbench SQL: `'t_bench'`, or the client's own for many-tenant rows.
    fn tenant_sql(&self) -> String {
        if self.via.many_tenants() {
            format!("('t_audit_' || (:client_id % {AUDIT_TENANTS}))")
        } else {
            format!("'{TENANT}'")
        }
    }

    /// The statements of one operation as pgbench SQL, each without its `;`.
    fn pgbench_statements(&self) -> Vec<String> {
        match self.via {
            Via::Enrollment => vec![
                self.pgbench_sql(),
                substitute(
                    brokerdb::repo::enrollment_tokens::CONSUME_SQL,
                    &[PGBENCH_TOKEN, "now()", "('w_bench_' || :arg)"],
                ),
            ],
            _ => vec![self.pgbench_sql()],
        }
    }

    fn pgbench_sql(&self) -> String {
        let tenant = self.tenant_sql();
        let append = [
            "gen_random_uuid()::text",
            &tenant,
            "date_trunc('milliseconds', now())",
            "('w_bench_' || :arg)",
            "'int_bench'",
            "'bench'",
            "'execute'",
            "'allowed'",
            "'send'",
            "'low'",
            "200",
            "12",
            PGBENCH_EVENT_JSON,
        ];
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
            Via::AuditAppend | Via::AuditAppendTenants => substitute(self.sql, &append),
            // Two statements: see `pgbench_statements`; this is the first.
            Via::Enrollment => substitute(
                self.sql,
                &[
                    PGBENCH_TOKEN,
                    "('w_bench_' || :arg)",
                    "now() + interval '1 hour'",
                    "now()",
                ],
            ),
            Via::UnchainedAppend | Via::UnchainedAppendTenants => substitute(self.sql, &append)
                .replace(
                    "INSERT INTO audit_events",
                    "INSERT INTO bench_audit_unchained",
                ),
            Via::AuditQuery => substitute(
                self.sql,
                &[
                    "'t_bench'",
                    "('w_bench_' || :arg)",
                    &(AUDIT_PAGE + 1).to_string(),
                ],
            ),
        }
    }

    /// The script's random variables.
    fn pgbench_variables(&self, users: u32) -> String {
        let mut vars = format!("\\set arg random(1, {})\n", (self.arg_max)(users));
        if self.via == Via::Enrollment {
            vars.push_str("\\set r1 random(1, 1000000000000)\n\\set r2 random(1, 1000000000000)\n");
        }
        vars
    }

    /// pgbench script: the library's exact statements, as the runtime role: `set_config` and the
    /// statement pipelined with one `Sync` (one implicit transaction), as the library sends a
    /// tenant-scoped statement in prepared mode (for an operation of several statements, one
    /// such pipeline each, as the library runs them).
    pub fn scoped_script(&self, users: u32) -> String {
        let mut script = self.pgbench_variables(users);
        for sql in self.pgbench_statements() {
            script.push_str(&format!(
                "\\startpipeline\nSELECT set_config('brokerdb.tenant_id', {}, true);\n{sql};\n\\endpipeline\n",
                self.tenant_sql()
            ));
        }
        script
    }

    /// pgbench script: the statements alone, as the system role, narrowed to the tenant by hand.
    pub fn plain_script(&self, users: u32) -> String {
        if self.via == Via::Enrollment {
            let mut script = self.pgbench_variables(users);
            for sql in self.pgbench_statements() {
                script.push_str(&format!("{sql};\n"));
            }
            return script;
        }
        let sql = self.pgbench_sql().replace(
            "FROM human_users",
            &format!("FROM human_users WHERE tenant_id = '{TENANT}'"),
        );
        let sql = sql.replace(
            &format!("WHERE tenant_id = '{TENANT}' WHERE"),
            &format!("WHERE tenant_id = '{TENANT}' AND"),
        );
        format!("{}{sql};\n", self.pgbench_variables(users))
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
            "INSERT INTO tenants (tenant_id, name)
             SELECT 't_audit_' || g, 'audit ' || g FROM generate_series(0, $1::int - 1) g
             ON CONFLICT DO NOTHING",
            &[&i32::try_from(AUDIT_TENANTS)?],
        )
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
    // Every user holds a role, as the library requires of a stored user.
    client
        .execute(
            "INSERT INTO human_user_roles (tenant_id, user_id, role)
             SELECT t.tenant_id, t.prefix || g,
                    (ARRAY['admin', 'operator', 'auditor'])[1 + g % 3]::user_role
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
    seed_policy_rules(client).await?;
    seed_audit(client, n).await
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

/// `bench_audit_unchained` (once), and `events` audit events of `t_bench` spread over the
/// bench workloads (once; appended through the chain trigger), then ANALYZE.
async fn seed_audit(client: &Client, events: i32) -> anyhow::Result<()> {
    client.batch_execute(UNCHAINED_COPY).await?;
    let seeded: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_events WHERE correlation_id = 'bench-seed'",
            &[],
        )
        .await?
        .get(0);
    if seeded == 0 {
        let workloads = i32::try_from(BENCH_WORKLOADS)?;
        client
            .execute(
                "INSERT INTO audit_events (event_id, tenant_id, \"timestamp\", created_at, workload_id,
                     integration_id, correlation_id, event_type, decision, action_group, event_json)
                 SELECT e.id, 't_bench', e.ts, e.ts, e.w, 'int_bench', 'bench-seed', 'execute', 'allowed', 'send',
                        jsonb_build_object('event_id', e.id,
                            'timestamp', to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                            'tenant_id', 't_bench', 'correlation_id', 'bench-seed', 'event_type', 'execute',
                            'workload_id', e.w, 'integration_id', 'int_bench', 'decision', 'allowed',
                            'action_group', 'send')
                   FROM (SELECT 'evt_seed_' || g AS id, 'w_bench_' || (1 + g % $2::int) AS w,
                                date_trunc('milliseconds', now()) - make_interval(secs => g) AS ts
                           FROM generate_series(1, $1::int) g) e
                  ORDER BY e.ts",
                &[&events, &workloads],
            )
            .await?;
    }
    client
        .batch_execute("ANALYZE audit_events; ANALYZE bench_audit_unchained")
        .await?;
    Ok(())
}

/// A copy of `audit_events` without the chain: same columns, defaults, CHECKs, indexes, foreign
/// key, RLS policy and grants, but not the chain's `writer_xid` column and its index (dropped
/// also from a copy an earlier bench made).
const UNCHAINED_COPY: &str = "DO $do$ BEGIN
    IF to_regclass('bench_audit_unchained') IS NULL THEN
        CREATE TABLE bench_audit_unchained
            (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
        ALTER TABLE bench_audit_unchained
            ADD FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id);
        ALTER TABLE bench_audit_unchained ENABLE ROW LEVEL SECURITY;
        ALTER TABLE bench_audit_unchained FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON bench_audit_unchained
            USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
            WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));
        GRANT SELECT, INSERT ON bench_audit_unchained TO brokerdb_app, brokerdb_system;
    END IF;
    ALTER TABLE bench_audit_unchained DROP COLUMN IF EXISTS writer_xid;
END $do$";
