//! Executors: where a repository function's statements run, known by type.
//!
//! A repository function takes one parameter for where it runs:
//! - `&mut impl TenantExec` (or `SystemExec`): the scope itself (each statement its own
//!   transaction, one round trip) or a transaction of that scope ([`TenantTx`], [`SystemTx`]),
//!   so a caller can compose any functions of one scope in one transaction;
//! - `&mut TenantTx` / `&mut SystemTx` where several statements must be atomic and the caller
//!   owns the transaction.
//!
//! The traits are sealed: only the scopes and their transactions implement them, so there is no
//! way to hand a repository a tenant executor bound to the wrong role, and no run-time check of
//! "which scope is this transaction" is needed anywhere. Functions that need atomicity whatever
//! they are given call [`TenantExec::atomic`]: on a scope it opens (and retries) a transaction,
//! on a transaction it runs inside it.

use std::future::Future;

use tokio_postgres::Row;

use super::op::Op;
use super::scope::{Outcome, at_most_one};
use super::transaction::{SystemTx, TenantTx, TxFuture};
use super::{Db, DbError, Params, SystemScope, TenantScope, TxOptions};
use crate::scalar::TenantId;

pub(crate) mod private {
    use std::future::Future;

    use super::super::scope::Outcome;
    use super::super::{DbError, Params};

    /// Whether a statement's rows are wanted or only its row count.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Want {
        /// The rows.
        Rows,
        /// The rows, the statement planned for these parameter values (a custom plan) on every
        /// call: for statements whose best plan depends on a parameter's value (a search
        /// pattern), which a cached generic plan would get wrong for some values. Sent unnamed
        /// with the types of the cached statement, in the same single round trip.
        RowsPlannedPerCall,
        /// The number of rows affected.
        Count,
    }

    /// The one statement runner behind both executor traits; unreachable outside the crate, which
    /// seals them.
    pub trait Run: Send {
        /// The transaction type of this executor's scope.
        type Tx: Run;
        fn run<'s>(
            &'s mut self,
            sql: &'static str,
            params: Params<'s>,
            want: Want,
        ) -> impl Future<Output = Result<Outcome, DbError>> + Send + 's;
        fn handle(&self) -> &super::Db;
        /// On a scope: a new (retried) transaction; on a transaction: inside it.
        fn run_atomic<T, F>(
            &mut self,
            opts: &super::super::TxOptions,
            work: F,
        ) -> impl Future<Output = Result<T, DbError>> + Send
        where
            T: Send,
            F: for<'t> FnMut(&'t mut Self::Tx) -> super::super::transaction::TxFuture<'t, T> + Send;
    }
}

use private::{Run, Want};

/// What every executor offers: statements, observed operations and atomic work. Implemented by
/// the four executors only (sealed); a repository names [`TenantExec`] or [`SystemExec`], which
/// say whose rows it touches.
pub trait Exec: Run {
    /// The data-layer handle.
    fn db(&self) -> &Db {
        self.handle()
    }

    /// An observed repository operation (`repo`, `name` label its metrics and span).
    fn op(&mut self, repo: &'static str, name: &'static str) -> Op<'_, Self>
    where
        Self: Sized,
    {
        Op::new(self, repo, name)
    }

    /// Runs `work` atomically: on a scope in a new transaction (retried on serialization
    /// failures and deadlocks as `opts` says), on a transaction inside it (its owner decides
    /// about commit and retries).
    fn atomic<T, F>(
        &mut self,
        opts: &TxOptions,
        work: F,
    ) -> impl Future<Output = Result<T, DbError>> + Send
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Self::Tx) -> TxFuture<'t, T> + Send,
    {
        self.run_atomic(opts, work)
    }

    /// Runs one statement and returns its rows.
    fn query<'s>(
        &'s mut self,
        sql: &'static str,
        params: Params<'s>,
    ) -> impl Future<Output = Result<Vec<Row>, DbError>> + Send + 's {
        async move {
            self.run(sql, params, Want::Rows)
                .await
                .map(Outcome::into_rows)
        }
    }

    /// Runs one statement and returns at most one row (more is `unexpected_error`).
    fn query_opt<'s>(
        &'s mut self,
        sql: &'static str,
        params: Params<'s>,
    ) -> impl Future<Output = Result<Option<Row>, DbError>> + Send + 's {
        async move { at_most_one(self.query(sql, params).await?) }
    }

    /// Runs one statement and returns the number of rows it affected.
    fn execute<'s>(
        &'s mut self,
        sql: &'static str,
        params: Params<'s>,
    ) -> impl Future<Output = Result<u64, DbError>> + Send + 's {
        async move {
            self.run(sql, params, Want::Count)
                .await
                .map(Outcome::into_count)
        }
    }
}

/// Runs statements for one tenant, as the runtime role under row-level security: a
/// [`TenantScope`] or a [`TenantTx`].
pub trait TenantExec: Exec + Run<Tx = TenantTx> {
    /// The tenant every statement runs for.
    fn tenant_id(&self) -> &TenantId;
}

/// Runs statements as the system role (`BYPASSRLS`): a [`SystemScope`] or a [`SystemTx`]. Only
/// for lookups made before the tenant is known, sweeps and global admin data.
pub trait SystemExec: Exec + Run<Tx = SystemTx> {}

/// The statement runner of a scope: one statement per call, and a new (retried) transaction
/// for atomic work.
macro_rules! scope_runs {
    ($scope:ident, $tx:ident) => {
        impl Run for $scope<'_> {
            type Tx = $tx;

            fn run_atomic<T, F>(
                &mut self,
                opts: &TxOptions,
                work: F,
            ) -> impl Future<Output = Result<T, DbError>> + Send
            where
                T: Send,
                F: for<'t> FnMut(&'t mut $tx) -> TxFuture<'t, T> + Send,
            {
                let scope = *self;
                async move { scope.transaction(opts, work).await }
            }

            fn run<'s>(
                &'s mut self,
                sql: &'static str,
                params: Params<'s>,
                want: Want,
            ) -> impl Future<Output = Result<Outcome, DbError>> + Send + 's {
                self.run_one(sql, params, want)
            }

            fn handle(&self) -> &Db {
                self.db
            }
        }

        impl Exec for $scope<'_> {}
    };
}
scope_runs!(TenantScope, TenantTx);
scope_runs!(SystemScope, SystemTx);

impl TenantExec for TenantScope<'_> {
    fn tenant_id(&self) -> &TenantId {
        self.tenant
    }
}

impl SystemExec for SystemScope<'_> {}
