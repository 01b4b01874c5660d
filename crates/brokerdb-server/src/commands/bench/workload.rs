//! The bench data and operations.

use tokio_postgres::Client;

/// Database the bench seeds and measures (created next to the configured one).
pub const BENCH_DATABASE: &str = "brokerdb_bench";
/// The measured tenant.
pub const TENANT: &str = "t_bench";

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
}

/// Scoped point read by primary business key, and a scoped 20-row page.
pub const OPERATIONS: [Operation; 2] = [
    Operation {
        name: "point read (user by id)",
        sql: "SELECT user_id, email, display_name, enabled, created_at FROM human_users WHERE user_id = 'u_bench_' || $1::int",
        arg_max: |users| users,
    },
    Operation {
        name: "20-row page (newest first)",
        sql: "SELECT user_id, email, display_name, enabled, created_at FROM human_users \
              ORDER BY created_at DESC, user_id DESC LIMIT 20 OFFSET $1::int",
        arg_max: |users| users.min(200),
    },
];

impl Operation {
    fn pgbench_sql(&self) -> String {
        self.sql.replace("$1", ":arg")
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
    client.batch_execute("ANALYZE human_users").await?;
    Ok(())
}
