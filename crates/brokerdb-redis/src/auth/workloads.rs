//! Auth workload lookup (spec §2): the workload presenting a client certificate, read through
//! to PostgreSQL (it lives with the auth adapters but has no Redis state).

use brokerdb::db::{Db, DbError, Tx};
use brokerdb::repo::workloads::{self, Workload};

/// Finds workloads by mTLS SAN URI.
#[derive(Clone)]
pub struct WorkloadLookup {
    db: Db,
}

impl WorkloadLookup {
    /// A lookup over the application's database handle.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The workload whose `mtls_san_uri` equals `san_uri` (trimmed; empty → `validation_error`),
    /// or `None`. With `tx` the query runs on the caller's transaction (seeing what its scope
    /// allows); otherwise in the system scope, because the certificate is checked before the
    /// tenant is known.
    pub async fn get_workload_by_san_uri(
        &self,
        san_uri: &str,
        tx: Option<&Tx<'_>>,
    ) -> Result<Option<Workload>, DbError> {
        match tx {
            Some(tx) => workloads::get_by_san_uri_in(tx, san_uri).await,
            None => workloads::get_by_san_uri(&self.db.system(), san_uri).await,
        }
    }
}
