//! The raw side of the rows pgbench cannot run: the library's statement text sent with
//! `tokio_postgres` alone, as the runtime role, in the same pipelined transaction the tenant scope
//! sends (`BEGIN`, `set_config` of the tenant, the statement, `COMMIT`; all four prepared), with
//! no pool, no observation and no row mapping.

use std::collections::HashMap;
use std::sync::Mutex;

use brokerdb::conninfo::ConnInfo;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Statement};

use crate::services::connect;

/// Parameters of one statement.
pub type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// One raw connection of the runtime role, with its prepared statements.
pub struct RawConn {
    client: Client,
    begin: Statement,
    set_tenant: Statement,
    commit: Statement,
    prepared: Mutex<HashMap<&'static str, Statement>>,
}

impl RawConn {
    /// Connects with `info` (the runtime role) and prepares the transaction's frame.
    pub async fn connect(info: &ConnInfo) -> anyhow::Result<Self> {
        let client = connect(info).await?;
        let begin = client.prepare("BEGIN").await?;
        let set_tenant = client
            .prepare("SELECT set_config('brokerdb.tenant_id', $1, true)")
            .await?;
        let commit = client.prepare("COMMIT").await?;
        Ok(Self {
            client,
            begin,
            set_tenant,
            commit,
            prepared: Mutex::default(),
        })
    }

    /// `sql` prepared once per connection.
    async fn statement(&self, sql: &'static str) -> anyhow::Result<Statement> {
        if let Some(s) = self.cached(sql) {
            return Ok(s);
        }
        let stmt = self.client.prepare(sql).await?;
        self.prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(sql, stmt.clone());
        Ok(stmt)
    }

    fn cached(&self, sql: &'static str) -> Option<Statement> {
        self.prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sql)
            .cloned()
    }

    /// `sql` in its own transaction with `tenant` set, in one round trip, as the library sends
    /// it: `set_config` and `sql` in one batch with one `Sync` (one implicit transaction).
    /// `planned_per_call`: `sql` goes unnamed with the prepared statement's parameter types, so
    /// it is planned for these values, as the library sends a list shape with `q`; then, as in
    /// the library, `BEGIN`, `set_config`, `sql` and `COMMIT` pipelined.
    pub async fn scoped(
        &self,
        tenant: &str,
        sql: &'static str,
        params: Params<'_>,
        planned_per_call: bool,
    ) -> anyhow::Result<Vec<Row>> {
        let stmt = self.statement(sql).await?;
        let set_params: [&(dyn ToSql + Sync); 1] = [&tenant];
        let c = &self.client;
        if !planned_per_call {
            return Ok(c
                .query_after(&self.set_tenant, &set_params, &stmt, params)
                .await?);
        }
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .copied()
            .zip(stmt.params().iter().cloned())
            .collect();
        // join! polls in order, and each call sends its messages on its first poll.
        let (b, s, rows, end) = tokio::join!(
            c.execute(&self.begin, &[]),
            c.execute(&self.set_tenant, &set_params),
            c.query_typed(sql, &typed),
            c.execute(&self.commit, &[]),
        );
        b?;
        s?;
        end?;
        Ok(rows?)
    }
}

/// One statement of a pipelined transaction, with its parameters.
pub type Step<'p> = (&'static str, Params<'p>);

impl RawConn {
    /// `steps` in one transaction, pipelined (one round trip): `BEGIN`, the tenant's
    /// `set_config` when `tenant` is given (a system transaction sets none), each statement,
    /// `COMMIT`. Every statement's rows, in order.
    pub async fn transaction(
        &self,
        tenant: Option<&str>,
        steps: &[Step<'_>],
    ) -> anyhow::Result<Vec<Vec<Row>>> {
        let mut statements = Vec::with_capacity(steps.len());
        for (sql, _) in steps {
            statements.push(self.statement(sql).await?);
        }
        let c = &self.client;
        let set_params: [&(dyn ToSql + Sync); 1] = [&tenant];
        let set = async {
            match tenant {
                Some(_) => c.execute(&self.set_tenant, &set_params).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let runs = futures_util::future::join_all(
            statements
                .iter()
                .zip(steps)
                .map(|(stmt, (_, params))| c.query(stmt, params)),
        );
        // join! polls in order, and each call sends its messages on its first poll.
        let (b, s, rows, end) = tokio::join!(
            c.execute(&self.begin, &[]),
            set,
            runs,
            c.execute(&self.commit, &[]),
        );
        b?;
        s?;
        end?;
        Ok(rows.into_iter().collect::<Result<_, _>>()?)
    }
}

/// `n` raw connections, one per concurrent caller.
pub async fn connections(info: &ConnInfo, n: usize) -> anyhow::Result<Vec<RawConn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(RawConn::connect(info).await?);
    }
    Ok(conns)
}
