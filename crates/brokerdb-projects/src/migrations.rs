//! The `projects` migration set: the SQL files of `migrations/`, embedded at build time in
//! version order, applied after the broker's `brokerdb` set (whose `tenants` table and roles it
//! builds on) into the same ledger.

use brokerdb_core::migrate::{Migration, MigrationSet};

static EMBEDDED: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The name of the project store's set in the migration ledger.
pub const SET_NAME: &str = "projects";

/// The project store's schema, to apply after the broker's set:
/// `apply_sets(&mut client, &[brokerdb::migrate::broker_set(), brokerdb_projects::migration_set()])`.
pub fn migration_set() -> MigrationSet {
    MigrationSet {
        name: SET_NAME,
        migrations: EMBEDDED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_numbered_from_one_without_gaps() {
        assert!(migration_set().is_well_formed());
        assert!(!migration_set().migrations.is_empty());
    }
}
