//! Users at scale: one generator for the plan-guard tests and `brokerdb bench`, so both measure
//! the same data.
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

/// The tenant row (idempotent).
const TENANT: &str = "INSERT INTO tenants (tenant_id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING";

/// `$1` tenant, `$2` user id prefix, `$3` n. 7919 is prime, so `g * 7919 mod n` is a permutation
/// of `0..n` unless `n` is a multiple of 7919.
const USERS: &str = "INSERT INTO human_users (user_id, tenant_id, email, display_name, enabled, created_at)
     SELECT $2 || g, $1, 'user' || g || '@example.com',
            CASE WHEN g % 19 = 0 THEN NULL ELSE 'User ' || g END,
            g % 11 <> 0,
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

/// Seeds `n` users of `tenant` as the module docs describe (idempotent: existing rows are kept),
/// then vacuums and analyzes both tables. `client` must be the owner or a superuser (it writes past
/// row-level security). A million users take about a minute.
pub async fn seed_users(
    client: &tokio_postgres::Client,
    tenant: &str,
    id_prefix: &str,
    n: i32,
) -> Result<(), tokio_postgres::Error> {
    client.execute(TENANT, &[&tenant]).await?;
    client.execute(USERS, &[&tenant, &id_prefix, &n]).await?;
    client.execute(ROLES, &[&tenant, &id_prefix, &n]).await?;
    // Separate statements: VACUUM cannot run in the implicit transaction of a multi-statement
    // string. VACUUM sets the visibility map (as autovacuum would), so index-only scans read no
    // heap pages.
    client.batch_execute("VACUUM (ANALYZE) human_users").await?;
    client
        .batch_execute("VACUUM (ANALYZE) human_user_roles")
        .await
}
