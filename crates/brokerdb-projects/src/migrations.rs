//! The `projects` migration set: the SQL files of `migrations/`, embedded at build time in
//! version order, applied after the core's `brokerdb` set into the same ledger.

use brokerdb::migrate::{Migration, MigrationSet};

static EMBEDDED: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The name of the project store's set in the migration ledger.
pub const SET_NAME: &str = "projects";

/// The project store's schema, to apply after [`MigrationSet::broker`]:
/// `apply_sets(&pool, &[MigrationSet::broker(), brokerdb_projects::migration_set()])`.
pub fn migration_set() -> MigrationSet {
    MigrationSet {
        name: SET_NAME,
        migrations: EMBEDDED,
    }
}

/// Both sets in the order every database applies them: the core's, then the project store's.
pub fn all_sets() -> [MigrationSet; 2] {
    [MigrationSet::broker(), migration_set()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_numbered_from_one_without_gaps() {
        let versions: Vec<u32> = migration_set()
            .migrations
            .iter()
            .map(|m| m.version)
            .collect();
        let expected: Vec<u32> = (1..=versions.len() as u32).collect();
        assert_eq!(versions, expected);
    }
}
