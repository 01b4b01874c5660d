//! Data at scale: one generator per list, for the plan-guard tests and `brokerdb bench`, so both
//! measure the same data (a crate of its own, needing only `tokio-postgres`, so the server binary
//! can seed with it without depending on the test kit; `brokerdb_testkit::scale` re-exports it).
//! Every row comes from `generate_series` (nothing is shipped): users
//! ([`seed_users`]), audit events ([`seed_audit_events`]), approvals ([`seed_approvals`]),
//! workloads and integrations ([`seed_workloads_and_integrations`]), admin identities
//! ([`seed_admin_identities`]) and access requests ([`seed_access_requests`]).
//!
//! The users:
//!
//! User `g` (1..=n) of a tenant has:
//! - `user_id` `<prefix><g>`, email `user<g>@example.com`;
//! - display name `User <g>`, except every 19th user, who has none (5.3 %);
//! - `enabled = false` for every 11th user (9.1 %);
//! - `created_at` one minute apart from 2024-01-01 UTC, in an order unrelated to `g` (a fixed
//!   permutation), so filters on the email are not correlated with the default sort;
//! - one role: `owner` for 1 % (`g % 100 = 0`), `admin` for 5 %, `auditor` for 15 %, `operator`
//!   for the rest; and every 50th user (`g % 50 = 25`) `admin` as a second role (2 %).
//!
//! The moduli 19, 11 and 100 are coprime, so the attributes are independent of each other: a
//! filter combination matches about the product of its parts (no combination is empty by
//! construction, and no role's users all sit at one end of a sort order).
//!
//! So `q=user12345` matches 11 users, `q=example` all of them, `role=owner` 1 %,
//! `role=admin` ≈ 7 %, `enabled=false` 9.1 %, and a one-month `created_at` range ≈ 4.3 % at 1M.
//!
//! Loading: each generator writes its rows in one transaction with the tables' non-unique indexes
//! dropped, then rebuilds them from their own definitions (`pg_get_indexdef`) before it commits: a
//! sorted build is several times faster than a million insertions into each index (a trigram
//! index most of all). The unique indexes stay, so existing rows are still kept. The surrogate
//! `id` is given in generation order (the random default would scatter the inserts over the
//! primary key). The tables are locked for the transaction: seed before anything else uses them.
//! Every generator writes as `client`, which must be the owner or a superuser (past row-level
//! security). As a superuser the load also skips the foreign-key checks and insert triggers
//! (`session_replication_role = replica`, a third of the time of a child table's insert): the
//! generated rows are consistent by construction (tenants first, parents before children), and
//! where a table's insert trigger does work (the role rows' copies of their user's columns) the
//! generator does it in its own statement, so the data is the same either way.

use std::future::Future;

use tokio_postgres::Client;

/// The non-unique indexes of `$1` (a table name): how to drop each and how to build it again.
const INDEXES: &str = "SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
     FROM pg_index i WHERE i.indrelid = $1::text::regclass AND NOT i.indisunique ORDER BY i.indexrelid";

/// Whether `client` is a superuser, who may switch off triggers and foreign-key checks.
const SUPERUSER: &str = "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user";

/// Runs `load` in one transaction of `client` with the non-unique indexes of `tables` dropped,
/// rebuilds them, commits (rolls back on error), then vacuums and analyzes the tables. `load` is
/// told whether triggers are off (crate docs).
async fn bulk_load<F>(
    client: &Client,
    tables: &[&str],
    load: impl FnOnce(bool) -> F,
) -> Result<(), tokio_postgres::Error>
where
    F: Future<Output = Result<(), tokio_postgres::Error>>,
{
    let superuser: bool = client.query_one(SUPERUSER, &[]).await?.try_get(0)?;
    client
        .batch_execute("BEGIN; SET LOCAL maintenance_work_mem = '256MB'")
        .await?;
    let loaded = async {
        if superuser {
            client
                .batch_execute("SET LOCAL session_replication_role = replica")
                .await?;
        }
        let mut builds = Vec::new();
        for table in tables {
            for row in client.query(INDEXES, &[table]).await? {
                client.batch_execute(row.try_get::<_, &str>(0)?).await?;
                builds.push(row.try_get::<_, String>(1)?);
            }
        }
        load(superuser).await?;
        for build in builds {
            client.batch_execute(&build).await?;
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    if let Err(e) = loaded {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(e);
    }
    // VACUUM too: production tables are vacuumed, and an index-only scan is only cheap once
    // the visibility map says the pages are all visible.
    // (One statement per call: VACUUM cannot run in the implicit transaction of a multi-statement
    // string.)
    for table in tables {
        client
            .batch_execute(&format!("VACUUM (ANALYZE) {table}"))
            .await?;
    }
    Ok(())
}

/// The tenant row (idempotent).
const TENANT: &str = "INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING";

/// `$1` tenant, `$2` user id prefix, `$3` n. 7919 is prime, so `g * 7919 mod n` is a permutation
/// of `0..n` unless `n` is a multiple of 7919.
const USERS: &str = "INSERT INTO human_users (id, user_id, tenant_id, email, display_name, enabled, created_at)
     SELECT $2 || lpad(g::text, 10, '0'), $2 || g, $1, 'user' || g || '@example.com',
            CASE WHEN g % 19 = 0 THEN NULL ELSE 'User ' || g END,
            g % 11 <> 0,
            timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 7919) % $3::int) * interval '1 minute'
       FROM generate_series(1, $3::int) g
     ON CONFLICT DO NOTHING";

/// `$1` tenant, `$2` user id prefix, `$3` n. Each row carries its user's `created_at` and
/// `enabled` (the same expressions as [`USERS`]): with triggers off (a superuser's load) nothing
/// else would copy them.
const ROLES: &str = "INSERT INTO human_user_roles (id, tenant_id, user_id, role, user_created_at, user_enabled)
     SELECT $2 || lpad(g::text, 10, '0'), $1, $2 || g,
            (CASE WHEN g % 100 = 0 THEN 'owner' WHEN g % 100 <= 5 THEN 'admin'
                  WHEN g % 100 <= 20 THEN 'auditor' ELSE 'operator' END)::user_role,
            timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 7919) % $3::int) * interval '1 minute',
            g % 11 <> 0
       FROM generate_series(1, $3::int) g
     UNION ALL
     SELECT $2 || lpad(g::text, 10, '0') || 'a', $1, $2 || g, 'admin'::user_role,
            timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 7919) % $3::int) * interval '1 minute',
            g % 11 <> 0
       FROM generate_series(25, $3::int, 50) g
     ON CONFLICT DO NOTHING";

/// Seeds `n` users of `tenant` as the crate docs describe (idempotent: existing rows are kept),
/// then vacuums and analyzes both tables. A million users take under a minute on a quiet machine.
pub async fn seed_users(
    client: &Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    seed_users_reporting(client, tenant, id_prefix, n, |_| {}).await
}

/// A step of [`seed_users_reporting`], reported as it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Inserting the users (most of the time).
    Users,
    /// Inserting their roles.
    Roles,
    /// Rebuilding the indexes, then `VACUUM (ANALYZE)` of both tables.
    Analyze,
}

/// [`seed_users`], calling `report` as each step starts (for progress output on long seeds).
pub async fn seed_users_reporting(
    client: &Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
    mut report: impl FnMut(Step),
) -> Result<(), tokio_postgres::Error> {
    client.execute(TENANT, &[&tenant]).await?;
    let report = &mut report;
    bulk_load(
        client,
        &["human_users", "human_user_roles"],
        |_| async move {
            report(Step::Users);
            client.execute(USERS, &[&tenant, &id_prefix, &n]).await?;
            report(Step::Roles);
            client.execute(ROLES, &[&tenant, &id_prefix, &n]).await?;
            report(Step::Analyze);
            Ok(())
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// The other lists at scale. Each generator below is idempotent (existing rows are kept), loads
// as the module docs say, then vacuums and analyzes what it wrote.
// Creation times follow the same fixed permutation as the users' (`g * 7919 mod n`), so no
// filter is correlated with the newest-first order; the ids' `<prefix>` keeps two generations in
// one database apart.

/// `$1` tenant, `$2` event id prefix, `$3` n.
macro_rules! audit_events_insert {
    () => {
        "INSERT INTO audit_events (id, event_id, tenant_id, \"timestamp\", created_at, workload_id,
         integration_id, correlation_id, event_type, decision, action_group, risk_tier, event_json)
     SELECT $2::text || lpad(g::text, 10, '0'), $2::text || g, $1, at, at, w, i, 'c_' || g, 'execute', d::audit_decision, a, 'low',
            jsonb_build_object('event_id', $2::text || g, 'timestamp',
                               to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                               'tenant_id', $1::text, 'correlation_id', 'c_' || g, 'event_type', 'execute',
                               'workload_id', w, 'integration_id', i, 'decision', d,
                               'action_group', a, 'risk_tier', 'low')
       FROM generate_series(1, $3::int) g,
            LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                              + ((g::bigint * 7919) % $3::int) * interval '30 seconds' AS at,
                            CASE WHEN g % 50 = 0 THEN NULL ELSE 'w_' || g % 997 END AS w,
                            CASE WHEN g % 50 = 0 THEN NULL ELSE 'int_' || g % 101 END AS i,
                            CASE WHEN g % 50 = 0 THEN NULL ELSE 'grp_' || g % 23 END AS a,
                            CASE WHEN g % 100 < 85 THEN 'allowed' WHEN g % 100 < 95 THEN 'denied'
                                 WHEN g % 100 < 99 THEN 'approval_required' ELSE 'throttled' END AS d) v
     ON CONFLICT DO NOTHING"
    };
}

const AUDIT_EVENTS: &str = audit_events_insert!();

/// Seeds `n` audit events of `tenant` (event `g`: id `<prefix><g>`, 30 seconds apart from
/// 2024-01-01 UTC in permuted order, so a day holds 2,880 events at any n; workload
/// `w_<g mod 997>`, integration `int_<g mod 101>`, action group `grp_<g mod 23>`, except every
/// 50th event, which has none of the three; decision `allowed` 85 %, `denied` 10 %,
/// `approval_required` 4 %, `throttled` 1 %; a valid `event_json`). So a workload filter matches
/// ≈ 0.1 % of the tenant, an integration ≈ 1 %, an action group ≈ 4 %. The rows are left for the
/// sealer like any insert (the sealer is not run). A million events take about a minute.
pub async fn seed_audit_events(
    client: &Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    client.execute(TENANT, &[&tenant]).await?;
    bulk_load(client, &["audit_events"], |_triggers_off| async move {
        client
            .execute(AUDIT_EVENTS, &[&tenant, &id_prefix, &n])
            .await
            .map(drop)
    })
    .await
}

/// `$1` tenant, `$2` approval id prefix, `$3` n.
const APPROVALS: &str = "INSERT INTO approval_requests (id, approval_id, tenant_id, status, expires_at, correlation_id,
         workload_id, integration_id, action_group, risk_tier, destination_host, method, path,
         descriptor_sha256, canonical_descriptor, approval_json, decided_at, created_at, updated_at)
     SELECT $2::text || lpad(g::text, 10, '0'), $2::text || g, $1, s::approval_status, at + interval '1 hour', 'c_' || g, 'w_' || g % 997,
            'int_' || g % 101, 'grp_' || g % 23, 'low', 'api.example.com', 'POST', '/v1/items',
            md5(g::text) || md5((-g)::text), '{}'::jsonb,
            jsonb_build_object('approval_id', $2::text || g, 'status', s),
            CASE WHEN s = 'pending' THEN NULL ELSE at + interval '5 minutes' END, at, at
       FROM generate_series(1, $3::int) g,
            LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                              + ((g::bigint * 7919) % $3::int) * interval '1 minute' AS at,
                            CASE WHEN g % 100 < 2 THEN 'pending' WHEN g % 100 < 42 THEN 'approved'
                                 WHEN g % 100 < 62 THEN 'denied' WHEN g % 100 < 92 THEN 'expired'
                                 WHEN g % 100 < 99 THEN 'executed' ELSE 'canceled' END AS s) v
     ON CONFLICT DO NOTHING";

/// Seeds `n` approval requests of `tenant` (approval `g`: id `<prefix><g>`, created one minute
/// apart from 2024-01-01 UTC in permuted order; status `pending` 2 %, `approved` 40 %, `denied`
/// 20 %, `expired` 30 %, `executed` 7 %, `canceled` 1 %; distinct descriptor hashes). The
/// `approval_json` snapshot holds only the id and status: enough for plans, not for reading the
/// rows back through the library.
pub async fn seed_approvals(
    client: &Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    client.execute(TENANT, &[&tenant]).await?;
    bulk_load(client, &["approval_requests"], |_| async {
        client
            .execute(APPROVALS, &[&tenant, &id_prefix, &n])
            .await
            .map(drop)
    })
    .await
}

/// `$1` tenant, `$2` id prefix, `$3` n.
const WORKLOADS: &str = "INSERT INTO workloads (id, workload_id, tenant_id, name, mtls_san_uri, enabled, created_at, updated_at)
     SELECT $2::text || lpad(g::text, 10, '0'), $2::text || g, $1, 'Workload ' || $2::text || g, 'spiffe://' || $1::text || '/workload/' || $2::text || g, g % 10 <> 0, at, at
       FROM generate_series(1, $3::int) g,
            LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                              + ((g::bigint * 7919) % $3::int) * interval '1 minute' AS at) v
     ON CONFLICT DO NOTHING";

/// `$1` tenant, `$2` id prefix, `$3` n.
const INTEGRATIONS: &str = "INSERT INTO integrations (id, integration_id, tenant_id, provider, name, template_id, enabled, created_at, updated_at)
     SELECT $2::text || lpad(g::text, 10, '0'), $2::text || g, $1, 'provider_' || g % 7, 'Integration ' || $2::text || g, 'tpl_' || g % 13, g % 10 <> 0, at, at
       FROM generate_series(1, $3::int) g,
            LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                              + ((g::bigint * 7919) % $3::int) * interval '1 minute' AS at) v
     ON CONFLICT DO NOTHING";

/// Seeds `n` workloads and `n` integrations of `tenant` (ids `<prefix><g>`, created one minute
/// apart in permuted order, 10 % disabled; integrations have no secret).
pub async fn seed_workloads_and_integrations(
    client: &Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    client.execute(TENANT, &[&tenant]).await?;
    bulk_load(client, &["workloads", "integrations"], |_| async {
        client
            .execute(WORKLOADS, &[&tenant, &id_prefix, &n])
            .await?;
        client
            .execute(INTEGRATIONS, &[&tenant, &id_prefix, &n])
            .await
            .map(drop)
    })
    .await
}

/// The 100 tenants the admin generators scope to: `<prefix>t0` … `<prefix>t99`.
const ADMIN_TENANTS: &str = "INSERT INTO tenants (tenant_id, name)
     SELECT $1::text || 't' || k, $1::text || 't' || k FROM generate_series(0, 99) k ON CONFLICT DO NOTHING";

/// The role of generated admin `g`: `owner` 0.5 %, `admin` 10 %, `auditor` 30 %, `operator` the
/// rest (a SQL expression of `g`).
macro_rules! admin_role {
    () => {
        "(CASE WHEN g % 200 = 0 THEN 'owner' WHEN g % 100 < 10 THEN 'admin' \
              WHEN g % 100 < 40 THEN 'auditor' ELSE 'operator' END)"
    };
}

/// `$1` id prefix, `$2` n.
const ADMIN_IDENTITIES: &str = "INSERT INTO admin_identities (id, identity_id, issuer, subject, email, name, status, created_at, updated_at)
     SELECT $1::text || lpad(g::text, 10, '0'), $1::text || g, 'https://idp.example.com', $1::text || 'sub-' || g, 'admin' || g || '@example.com',
            CASE WHEN g % 20 = 0 THEN NULL ELSE 'Admin ' || g END,
            (CASE WHEN g % 100 < 80 THEN 'active' WHEN g % 100 < 95 THEN 'pending' ELSE 'disabled' END)::admin_identity_status,
            at, at
       FROM generate_series(1, $2::int) g,
            LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                              + ((g::bigint * 7919) % $2::int) * interval '1 minute' AS at) v
     ON CONFLICT DO NOTHING";

const ADMIN_ROLE_BINDINGS: &str = concat!(
    "INSERT INTO admin_identity_role_bindings (identity_id, role)
     SELECT $1::text || g, ",
    admin_role!(),
    "::user_role FROM generate_series(1, $2::int) g
     UNION ALL
     SELECT $1::text || g, 'auditor'::user_role FROM generate_series(7, $2::int, 7) g WHERE g % 100 >= 40
     ON CONFLICT DO NOTHING"
);

const ADMIN_TENANT_SCOPES: &str =
    "INSERT INTO admin_identity_tenant_scopes (identity_id, tenant_id)
     SELECT $1::text || g, $1::text || 't' || g % 100 FROM generate_series(1, $2::int) g
     UNION ALL
     SELECT $1::text || g, $1::text || 't0' FROM generate_series(1, $2::int) g WHERE g % 4 = 1
     ON CONFLICT DO NOTHING";

/// Seeds `n` admin identities with their role bindings and tenant scopes (identity `g`: id
/// `<prefix><g>`, subject `<prefix>sub-<g>`, email `admin<g>@example.com`, name `Admin <g>`
/// except every 20th; created one minute apart in permuted order; status `active` 80 %,
/// `pending` 15 %, `disabled` 5 %; one role, `owner` 0.5 %, `admin` 10 %, `auditor` 30 %,
/// `operator` the rest, and `auditor` as a second role for every 7th non-auditor; scoped to
/// tenant `<prefix>t<g mod 100>` (1 % each, created here) and every 4th also to `<prefix>t0`,
/// which so holds ≈ 26 %).
pub async fn seed_admin_identities(
    client: &Client,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    client.execute(ADMIN_TENANTS, &[&id_prefix]).await?;
    let tables = [
        "admin_identities",
        "admin_identity_role_bindings",
        "admin_identity_tenant_scopes",
    ];
    bulk_load(client, &tables, |_| async {
        client.execute(ADMIN_IDENTITIES, &[&id_prefix, &n]).await?;
        client
            .execute(ADMIN_ROLE_BINDINGS, &[&id_prefix, &n])
            .await?;
        client
            .execute(ADMIN_TENANT_SCOPES, &[&id_prefix, &n])
            .await
            .map(drop)
    })
    .await
}

/// `$1` id prefix, `$2` n.
const ACCESS_REQUESTS: &str = concat!(
    "INSERT INTO admin_access_requests (id, request_id, issuer, subject, email, name, requested_roles,
         requested_tenant_ids, status, request_reason, decided_by, decided_at, created_at, updated_at)
     SELECT $1::text || lpad(g::text, 10, '0'), $1::text || g, 'https://idp.example.com', $1::text || 'req-' || g, 'requester' || g || '@example.com',
            CASE WHEN g % 20 = 0 THEN NULL ELSE 'Requester ' || g END,
            CASE WHEN g % 7 = 0 AND g % 100 >= 40 THEN ARRAY[",
    admin_role!(),
    "::user_role, 'auditor'::user_role] ELSE ARRAY[",
    admin_role!(),
    "::user_role] END,
            CASE WHEN g % 4 = 1 THEN ARRAY[$1::text || 't' || g % 100, $1::text || 't0']
                 ELSE ARRAY[$1::text || 't' || g % 100] END,
            s::admin_access_request_status, 'please',
            CASE WHEN s = 'pending' THEN NULL ELSE 'adm_decider' END,
            CASE WHEN s = 'pending' THEN NULL ELSE at + interval '1 hour' END, at, at
       FROM generate_series(1, $2::int) g,
            LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00'
                              + ((g::bigint * 7919) % $2::int) * interval '1 minute' AS at,
                            CASE WHEN g % 100 < 10 THEN 'pending' WHEN g % 100 < 60 THEN 'approved'
                                 WHEN g % 100 < 90 THEN 'denied' ELSE 'canceled' END AS s) v
     ON CONFLICT DO NOTHING"
);

/// Seeds `n` admin access requests (request `g`: id `<prefix><g>`, subject `<prefix>req-<g>`,
/// email `requester<g>@example.com`; created one minute apart in permuted order; status
/// `pending` 10 %, `approved` 50 %, `denied` 30 %, `canceled` 10 %; requested roles and tenants
/// distributed as [`seed_admin_identities`]' roles and scopes: tenant ids `<prefix>t<k>`, which
/// are not created, since a request does not reference its tenants).
pub async fn seed_access_requests(
    client: &Client,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    bulk_load(client, &["admin_access_requests"], |_| async {
        client
            .execute(ACCESS_REQUESTS, &[&id_prefix, &n])
            .await
            .map(drop)
    })
    .await
}
