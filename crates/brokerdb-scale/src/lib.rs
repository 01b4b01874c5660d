//! Users at scale: one generator for the plan-guard tests and `brokerdb bench`, so both measure
//! the same data. A crate of its own (it needs only `tokio-postgres`), so the server binary can
//! seed with it without depending on the test kit; `brokerdb_testkit::scale` re-exports it.
//!
//! User `g` (1..=n) of a tenant has:
//! - `user_id` `<prefix><g>`, email `user<g>@example.com`;
//! - display name `User <g>`, except every 20th user, who has none;
//! - `enabled = false` for every 10th user (10 %);
//! - `created_at` one minute apart from 2024-01-01 UTC, in an order unrelated to `g` (a fixed
//!   permutation), so filters on the email are not correlated with the default sort;
//! - one role: `owner` for 1 % (`g % 100 = 0`), `admin` for 5 %, `auditor` for 15 %, `operator`
//!   for the rest; and every 50th user (`g % 50 = 25`) `admin` as a second role (2 %).
//!
//! So `q=user12345` matches 11 users, `q=example` all of them, `role=owner` 1 %,
//! `role=admin` ≈ 7 %, `enabled=false` 10 %, and a one-month `created_at` range ≈ 4.3 % at 1M.

/// The tenant row (idempotent).
const TENANT: &str = "INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING";

/// `$1` tenant, `$2` user id prefix, `$3` n. 7919 is prime, so `g * 7919 mod n` is a permutation
/// of `0..n` unless `n` is a multiple of 7919.
const USERS: &str = "INSERT INTO human_users (user_id, tenant_id, email, display_name, enabled, created_at)
     SELECT $2 || g, $1, 'user' || g || '@example.com',
            CASE WHEN g % 20 = 0 THEN NULL ELSE 'User ' || g END,
            g % 10 <> 0,
            timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 7919) % $3::int) * interval '1 minute'
       FROM generate_series(1, $3::int) g
     ON CONFLICT DO NOTHING";

const ROLES: &str = "INSERT INTO human_user_roles (tenant_id, user_id, role)
     SELECT $1, $2 || g,
            (CASE WHEN g % 100 = 0 THEN 'owner' WHEN g % 100 <= 5 THEN 'admin'
                  WHEN g % 100 <= 20 THEN 'auditor' ELSE 'operator' END)::user_role
       FROM generate_series(1, $3::int) g
     UNION ALL
     SELECT $1, $2 || g, 'admin'::user_role FROM generate_series(25, $3::int, 50) g
     ON CONFLICT DO NOTHING";

/// Seeds `n` users of `tenant` as the crate docs describe (idempotent: existing rows are kept),
/// then analyzes both tables. `client` must be the owner or a superuser (it writes past
/// row-level security). A million users take about a minute.
pub async fn seed_users(
    client: &tokio_postgres::Client,
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
    /// `ANALYZE` of both tables.
    Analyze,
}

/// [`seed_users`], calling `report` as each step starts (for progress output on long seeds).
pub async fn seed_users_reporting(
    client: &tokio_postgres::Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
    mut report: impl FnMut(Step),
) -> Result<(), tokio_postgres::Error> {
    client.execute(TENANT, &[&tenant]).await?;
    report(Step::Users);
    client.execute(USERS, &[&tenant, &id_prefix, &n]).await?;
    report(Step::Roles);
    client.execute(ROLES, &[&tenant, &id_prefix, &n]).await?;
    report(Step::Analyze);
    client
        .batch_execute("ANALYZE human_users; ANALYZE human_user_roles;")
        .await
}
