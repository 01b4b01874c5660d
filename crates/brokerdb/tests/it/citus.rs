//! Citus readiness by rule (issue 18, item 8), read from the catalogue of a freshly migrated
//! database with both migration sets (the broker's and the project store's).
//!
//! Citus is not installable here, so the test checks what distribution by `tenant_id` needs:
//!
//! 1. every table has a planned placement ([`PLAN`]): distributed by `tenant_id`, a reference
//!    table (replicated to every node: global directories), or a table local to the coordinator;
//!    and `docs/scaling.md` has that table's exact `create_distributed_table` /
//!    `create_reference_table` / coordinator-local line;
//! 2. a distributed table has a `NOT NULL tenant_id` of the same type and collation as
//!    `tenants.tenant_id` (co-location requires it), and a primary key that includes it;
//! 3. every unique index (primary keys, unique constraints, partial and expression unique
//!    indexes) of a distributed table includes `tenant_id` among its key columns — except the
//!    documented [`GLOBAL_UNIQUES`], each with why it exists and what the Citus migration does;
//! 4. every foreign key of a distributed table either references a reference table or matches
//!    `tenant_id` to `tenant_id` on a distributed table (co-located join); a reference table
//!    references only reference tables; a coordinator-local table references no distributed one.
//!
//! A failure lists every violation by table and constraint name; an exception that no longer
//! exists is a failure too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};

use brokerdb_testkit::database;

use crate::TestResult;

/// Where a table goes under Citus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// `create_distributed_table('<t>', 'tenant_id', colocate_with => …)`.
    Distributed,
    /// `create_reference_table('<t>')`: small global directories that distributed tables
    /// reference, read on every node.
    Reference,
    /// Stays on the coordinator: system-wide state no tenant query joins.
    Local,
}

use Placement::{Distributed, Local, Reference};

/// Every table of both migration sets and its placement (`docs/scaling.md` explains each).
const PLAN: &[(&str, Placement)] = &[
    // The tenant directory and the global admin/manifest data (0003): reference tables.
    ("tenants", Reference),
    ("admin_signup_policy", Reference),
    ("admin_identities", Reference),
    ("admin_identity_role_bindings", Reference),
    // Has tenant_id, but is read by identity across tenants (which tenants may admin X see).
    ("admin_identity_tenant_scopes", Reference),
    ("admin_access_requests", Reference),
    ("manifest_signing_keys", Reference),
    ("manifest_keyset_metadata", Reference),
    // Token hash → tenant resolution before any tenant is known; tenant_id is NULL for system
    // tokens.
    ("api_tokens", Reference),
    // Tenant data, co-located by tenant_id.
    ("human_users", Distributed),
    ("human_user_roles", Distributed),
    ("workloads", Distributed),
    ("enrollment_tokens", Distributed),
    ("workload_sessions", Distributed),
    ("integrations", Distributed),
    ("secrets", Distributed),
    ("secret_versions", Distributed),
    ("crypto_verification_defaults", Distributed),
    ("template_versions", Distributed),
    ("policy_rules", Distributed),
    ("approval_requests", Distributed),
    ("audit_events", Distributed),
    ("audit_seals", Distributed),
    ("ssrf_guard_decisions", Distributed),
    ("template_invalidation_outbox", Distributed),
    ("audit_redaction_profiles", Distributed),
    // The project store's set.
    ("projects", Distributed),
    ("artifacts", Distributed),
    ("webhook_events", Distributed),
    ("mcp_audit_log", Distributed),
    // System-wide state on the coordinator: the job queue (tenant_id NULL for system jobs,
    // claimed with SKIP LOCKED), the system audit chain and its sealing, the repair ledger, and
    // the migration ledger and lock.
    ("jobs", Local),
    ("system_audit_events", Local),
    ("system_audit_seals", Local),
    ("audit_sealer_lock", Local),
    ("db_repair_runs", Local),
    ("brokerdb_schema_migrations", Local),
    ("brokerdb_migration_lock", Local),
];

/// A unique index of a distributed table without `tenant_id`: what it is for, and what the
/// Citus migration does with it (Citus refuses unique constraints without the distribution
/// column on distributed tables).
struct GlobalUnique {
    index: &'static str,
    why: &'static str,
    citus: &'static str,
}

/// The documented exceptions: the original data model's global uniques on business keys
/// (`crates/brokerdb/migrations/README.md`, "Known gaps"). Applied migrations are immutable, so
/// they stay until the Citus migration; `docs/scaling.md` has the same table.
const GLOBAL_UNIQUES: &[GlobalUnique] = &[
    GlobalUnique {
        index: "uq_human_users_user_id",
        why: "user ids are globally unique in the original model",
        citus: "drop; uq_human_users_tenant_user (tenant_id, user_id) stays and is the FK target",
    },
    GlobalUnique {
        index: "uq_human_user_roles_user_role",
        why: "one binding per (user, role)",
        citus: "replace by UNIQUE (tenant_id, user_id, role)",
    },
    GlobalUnique {
        index: "uq_workloads_workload_id",
        why: "workload id → tenant resolution before a tenant is known",
        citus: "drop; the lookup moves to a reference table workload_directory (workload_id PK, tenant_id) written in the same transaction",
    },
    GlobalUnique {
        index: "uq_workloads_mtls_san_uri",
        why: "pre-tenant lookup of a workload by its client certificate's SAN URI",
        citus: "drop; the lookup moves to workload_directory (mtls_san_uri UNIQUE there)",
    },
    GlobalUnique {
        index: "uq_enrollment_tokens_token_hash",
        why: "an enrollment token is consumed by its hash",
        citus: "replace by UNIQUE (tenant_id, token_hash); a pre-tenant consume resolves the tenant in a reference table token_directory (token_hash PK, tenant_id)",
    },
    GlobalUnique {
        index: "uq_workload_sessions_session_id",
        why: "session ids are globally unique in the original model",
        citus: "replace by UNIQUE (tenant_id, session_id)",
    },
    GlobalUnique {
        index: "uq_workload_sessions_token_hash",
        why: "pre-tenant lookup: session by token hash",
        citus: "replace by UNIQUE (tenant_id, token_hash); the lookup resolves the tenant in token_directory",
    },
    GlobalUnique {
        index: "uq_integrations_integration_id",
        why: "integration ids are globally unique in the original model",
        citus: "drop; uq_integrations_tenant_integration stays and is the FK target",
    },
    GlobalUnique {
        index: "uq_integrations_secret_ref",
        why: "one integration per secret reference",
        citus: "replace by UNIQUE (tenant_id, secret_ref)",
    },
    GlobalUnique {
        index: "uq_secrets_secret_ref",
        why: "secret references are globally unique in the original model",
        citus: "drop; uq_secrets_tenant_secret_ref stays and is the FK target",
    },
    GlobalUnique {
        index: "uq_secrets_integration_id",
        why: "one secret per integration",
        citus: "replace by UNIQUE (tenant_id, integration_id)",
    },
    GlobalUnique {
        index: "uq_secret_versions_secret_ref_version",
        why: "the original's (secret_ref, version) key",
        citus: "drop; uq_secret_versions_tenant_secret_ref_version stays and is the FK target",
    },
    GlobalUnique {
        index: "uq_policy_rules_policy_id",
        why: "policy ids are globally unique in the original model",
        citus: "replace by UNIQUE (tenant_id, policy_id)",
    },
    GlobalUnique {
        index: "uq_approval_requests_approval_id",
        why: "approval ids are globally unique in the original model",
        citus: "replace by UNIQUE (tenant_id, approval_id)",
    },
    GlobalUnique {
        index: "uq_audit_events_event_id",
        why: "event ids are globally unique (idempotent appends)",
        citus: "replace by UNIQUE (tenant_id, event_id)",
    },
    GlobalUnique {
        index: "uq_ssrf_guard_decisions_event_id",
        why: "event ids are globally unique (idempotent appends)",
        citus: "replace by UNIQUE (tenant_id, event_id)",
    },
    GlobalUnique {
        index: "uq_projects_project_id",
        why: "project ids are globally unique: they name Redis keys and channels (its migration says so)",
        citus: "drop; the primary key (tenant_id, project_id) stays; every Redis key or channel naming a project also carries its tenant",
    },
];

/// Every user table of the public schema: (table, has tenant_id, tenant_id NOT NULL, its type
/// and collation).
const TABLES: &str = r"
SELECT c.relname::text,
       a.attnum IS NOT NULL,
       coalesce(a.attnotnull, false),
       coalesce(format_type(a.atttypid, a.atttypmod) || ' collate ' || coalesce(co.collname::text, '-'), '')
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY 1";

/// Every unique index: (table, index, primary key?, tenant_id among its key columns?).
const UNIQUE_INDEXES: &str = r"
SELECT c.relname::text, ic.relname::text, i.indisprimary,
       EXISTS (SELECT 1 FROM generate_series(0, i.indnkeyatts - 1) k
                WHERE i.indkey[k] = a.attnum)
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE i.indisunique
 ORDER BY 1, 2";

/// Every foreign key: (table, constraint, referenced table, tenant_id matched to the referenced
/// table's tenant_id in the same position?).
const FOREIGN_KEYS: &str = r"
SELECT c.relname::text, con.conname::text, r.relname::text,
       EXISTS (SELECT 1 FROM generate_subscripts(con.conkey, 1) s
                WHERE con.conkey[s] = a.attnum AND con.confkey[s] = ra.attnum)
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
  JOIN pg_class r ON r.oid = con.confrelid
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
  LEFT JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attname = 'tenant_id' AND NOT ra.attisdropped
 WHERE con.contype = 'f'
 ORDER BY 1, 2";

/// The line of `docs/scaling.md` that places `table`.
fn doc_line(table: &str, placement: Placement) -> String {
    match placement {
        Distributed => format!("create_distributed_table('{table}', 'tenant_id'"),
        Reference => format!("create_reference_table('{table}')"),
        Local => format!("citus_add_local_table_to_metadata('{table}')"),
    }
}

#[tokio::test]
async fn every_table_is_placed_and_distributed_tables_keep_tenant_id_in_every_key() -> TestResult {
    let db = database().await;
    let client = db.admin().await;
    let plan: BTreeMap<&str, Placement> = PLAN.iter().copied().collect();
    let placement = |t: &str| plan.get(t).copied();
    let mut violations: Vec<String> = Vec::new();

    // 1 and 2: placements, the tenant column, the docs.
    let tables = client.query(TABLES, &[]).await?;
    let tenant_type = tables
        .iter()
        .find(|r| r.get::<_, String>(0) == "tenants")
        .map(|r| r.get::<_, String>(3))
        .ok_or("no tenants table")?;
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scaling.md"),
    )?;
    let mut present = BTreeSet::new();
    for row in &tables {
        let (table, has_tenant, not_null, ty): (String, bool, bool, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        present.insert(table.clone());
        let Some(p) = placement(&table) else {
            violations.push(format!(
                "{table}: no placement in PLAN (tenant_id: {has_tenant}); add it here and to docs/scaling.md"
            ));
            continue;
        };
        if p == Distributed && !(has_tenant && not_null) {
            violations.push(format!("{table}: distributed without a NOT NULL tenant_id"));
        }
        if p == Distributed && ty != tenant_type {
            violations.push(format!(
                "{table}: tenant_id is {ty}, tenants.tenant_id is {tenant_type} (co-location needs the same type and collation)"
            ));
        }
        if !docs.contains(&doc_line(&table, p)) {
            violations.push(format!(
                "{table}: docs/scaling.md lacks `{}`",
                doc_line(&table, p)
            ));
        }
    }
    for (table, _) in PLAN {
        if !present.contains(*table) {
            violations.push(format!("{table}: in PLAN but not in the database"));
        }
    }

    // 3: unique indexes (primary keys included) of distributed tables include tenant_id.
    let exceptions: BTreeMap<&str, &GlobalUnique> =
        GLOBAL_UNIQUES.iter().map(|g| (g.index, g)).collect();
    let mut seen_exceptions = BTreeSet::new();
    let mut with_tenant_pk = BTreeSet::new();
    for row in client.query(UNIQUE_INDEXES, &[]).await? {
        let (table, index, primary, has_tenant): (String, String, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if placement(&table) != Some(Distributed) {
            continue;
        }
        if primary && has_tenant {
            with_tenant_pk.insert(table.clone());
        }
        match (has_tenant, exceptions.get(index.as_str())) {
            (true, None) => {}
            (false, Some(_)) => {
                seen_exceptions.insert(index);
            }
            (true, Some(_)) => violations.push(format!(
                "{table}.{index}: includes tenant_id now; remove it from GLOBAL_UNIQUES and docs/scaling.md"
            )),
            (false, None) => violations.push(format!(
                "{table}.{index}: unique{} without tenant_id on a distributed table",
                if primary { " (primary key)" } else { "" }
            )),
        }
    }
    for g in GLOBAL_UNIQUES {
        if !seen_exceptions.contains(g.index) {
            violations.push(format!(
                "{}: listed in GLOBAL_UNIQUES but no such unique index without tenant_id exists",
                g.index
            ));
        }
        if !docs.contains(&format!("`{}`", g.index)) {
            violations.push(format!("{}: docs/scaling.md does not name it", g.index));
        }
        assert!(!g.why.is_empty() && !g.citus.is_empty(), "{}", g.index);
    }
    for (table, p) in PLAN {
        if *p == Distributed && present.contains(*table) && !with_tenant_pk.contains(*table) {
            violations.push(format!("{table}: no primary key including tenant_id"));
        }
    }

    // 4: foreign keys stay co-located or point at reference tables.
    for row in client.query(FOREIGN_KEYS, &[]).await? {
        let (table, fk, referenced, tenant_matched): (String, String, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let (from, to) = (placement(&table), placement(&referenced));
        let ok = match (from, to) {
            (Some(Distributed), Some(Reference)) => true,
            (Some(Distributed), Some(Distributed)) => tenant_matched,
            (Some(Reference), Some(Reference)) => true,
            (Some(Local), Some(Reference | Local)) => true,
            _ => false,
        };
        if !ok {
            violations.push(format!(
                "{table}.{fk} → {referenced}: a {from:?} table referencing a {to:?} one{}",
                if tenant_matched {
                    ""
                } else {
                    " without tenant_id = tenant_id"
                }
            ));
        }
    }

    assert!(
        violations.is_empty(),
        "Citus readiness rule broken ({} violations):\n{}",
        violations.len(),
        violations.join("\n")
    );
    Ok(())
}
