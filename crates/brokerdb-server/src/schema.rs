//! The service's schema: the migration sets it applies, in order — the broker's (roles, tenants,
//! the job queue and the broker's tables), then the project store's, which builds on it.

use brokerdb::migrate::{MigrationSet, broker_set};

/// Every migration set of the service, in the order `brokerdb migrate` applies them.
pub fn migration_sets() -> [MigrationSet; 2] {
    [broker_set(), brokerdb_projects::migration_set()]
}
