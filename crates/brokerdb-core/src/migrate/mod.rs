//! Schema migrations: each domain's numbered SQL files, embedded at build time (the
//! `brokerdb-build` helper), form a [`MigrationSet`]; sets are applied in the order given, each
//! migration recorded in one shared ledger with its set's name and its checksum.
//!
//! A migration runs in its own transaction together with its ledger row, so it is applied
//! entirely or not at all. An applied migration whose embedded text has changed is refused
//! before anything is applied: migrations are immutable once applied; change the schema with a
//! new migration.

mod ledger;

use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub use ledger::{apply_sets, status_of_set};

/// Name of the ledger table (in the `public` schema).
pub const LEDGER_TABLE: &str = "brokerdb_schema_migrations";

/// One embedded migration file, `migrations/NNNN_name.sql` of a domain crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The number the file name starts with.
    pub version: u32,
    /// The rest of the file name, without the extension.
    pub name: &'static str,
    /// The SQL text, run as one multi-statement batch inside one transaction.
    pub sql: &'static str,
}

impl Migration {
    /// Lower-case hex SHA-256 of the SQL text; what the ledger records.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }

    /// `NNNN_name`, as the file is named.
    pub fn label(&self) -> String {
        format!("{:04}_{}", self.version, self.name)
    }
}

/// An ordered set of migrations with its own namespace in the one ledger (a domain's schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationSet {
    /// The namespace of its ledger rows; unique per set.
    pub name: &'static str,
    /// Its migrations, numbered from 1 without gaps, in ascending order.
    pub migrations: &'static [Migration],
}

impl MigrationSet {
    /// The name of the broker's set (crate `brokerdb`), the first set there was: a ledger from
    /// before sets holds only its rows, and the runner upgrades it under this name.
    pub const BROKER: &'static str = "brokerdb";

    /// Checks the set's shape: a name of `[a-z0-9_-]`, and versions numbered from 1 without
    /// gaps, in ascending order. What a domain crate's unit test asserts of its embedded set.
    pub fn is_well_formed(&self) -> bool {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        name_ok
            && self
                .migrations
                .iter()
                .enumerate()
                .all(|(i, m)| usize::try_from(m.version).is_ok_and(|v| v == i + 1))
    }
}

/// Where one migration stands in a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationState {
    /// Recorded in the ledger with the checksum of the embedded file.
    Applied {
        /// When it was applied.
        applied_at: SystemTime,
    },
    /// Embedded but not yet applied.
    Pending,
    /// Recorded in the ledger with a checksum that differs from the embedded file.
    Changed {
        /// Checksum the ledger recorded when it was applied.
        applied_checksum: String,
    },
    /// Recorded in the ledger but not embedded in this build (applied by a newer brokerdb).
    Unknown,
}

/// One row of `brokerdb migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Version number.
    pub version: u32,
    /// Name (from the embedded file, or from the ledger for unknown migrations).
    pub name: String,
    /// Applied, pending, changed or unknown.
    pub state: MigrationState,
}

impl MigrationStatus {
    /// True when the database has every embedded migration applied unchanged.
    pub fn all_current(statuses: &[MigrationStatus]) -> bool {
        statuses.iter().all(|s| {
            matches!(
                s.state,
                MigrationState::Applied { .. } | MigrationState::Unknown
            )
        })
    }
}

/// Why migrations could not be read or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// An applied migration no longer matches the embedded file.
    #[error(
        "migration {label} was applied with checksum {applied} but this build embeds checksum \
         {embedded}; applied migrations are immutable: restore the file and add a new migration"
    )]
    Changed {
        /// `NNNN_name`.
        label: String,
        /// Checksum recorded in the ledger.
        applied: String,
        /// Checksum of the embedded file.
        embedded: String,
    },
    /// A migration's SQL failed; nothing of it was applied.
    #[error("migration {label} failed and was rolled back")]
    Failed {
        /// `NNNN_name`.
        label: String,
        /// The database error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A runtime role can still create temporary tables after the runner revoked that privilege
    /// (the migrating user is neither superuser nor the database's owner).
    #[error(
        "role {role} may still create temporary tables in this database; as its owner run: \
         REVOKE TEMPORARY ON DATABASE <database> FROM PUBLIC, {role}"
    )]
    Insecure {
        /// The role that keeps the privilege.
        role: String,
    },
    /// No connection could be had from the handle's pool to read the ledger.
    #[error("cannot connect to read the migration ledger")]
    Connect {
        /// Why the pool gave no connection.
        #[source]
        source: deadpool_postgres::PoolError,
    },
    /// The ledger could not be read or written.
    #[error("cannot {action}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The database error.
        #[source]
        source: tokio_postgres::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_well_formed_when_numbered_from_one_without_gaps() {
        const fn m(version: u32) -> Migration {
            Migration {
                version,
                name: "x",
                sql: "",
            }
        }
        static GOOD: [Migration; 2] = [m(1), m(2)];
        static GAP: [Migration; 2] = [m(1), m(3)];
        let set = |name, migrations| MigrationSet { name, migrations };
        assert!(set("projects", &GOOD).is_well_formed());
        assert!(!set("projects", &GAP).is_well_formed());
        assert!(!set("Projects!", &GOOD).is_well_formed());
        assert!(!set("", &GOOD).is_well_formed());
    }

    #[test]
    fn checksum_is_hex_sha256_of_the_text() {
        let m = Migration {
            version: 1,
            name: "x",
            sql: "",
        };
        assert_eq!(
            m.checksum(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(m.label(), "0001_x");
    }
}
