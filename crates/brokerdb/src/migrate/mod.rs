//! Schema migrations: numbered SQL files embedded at build time, applied in order, recorded in a
//! ledger with their checksums.
//!
//! A migration runs in its own transaction together with its ledger row, so it is applied
//! entirely or not at all. An applied migration whose embedded text has changed is refused
//! before anything is applied: migrations are immutable once applied; change the schema with a
//! new migration.

mod ledger;

use std::time::SystemTime;

use sha2::{Digest, Sha256};

pub use ledger::{apply_pending, apply_sets, status, status_of_set};

/// Name of the ledger table (in the `public` schema).
pub const LEDGER_TABLE: &str = "brokerdb_schema_migrations";

/// One embedded migration file, `migrations/NNNN_name.sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The number the file name starts with.
    pub version: u32,
    /// The rest of the file name, without the extension.
    pub name: &'static str,
    /// The SQL text, run as one multi-statement batch inside one transaction.
    pub sql: &'static str,
}

static EMBEDDED: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

impl Migration {
    /// Every migration embedded in this build, in ascending version order.
    pub fn embedded() -> &'static [Migration] {
        EMBEDDED
    }

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
    /// The name of the broker's set (the files of `migrations/`).
    pub const BROKER: &'static str = "brokerdb";

    /// The broker's schema: the migrations embedded in this crate.
    pub fn broker() -> Self {
        Self {
            name: Self::BROKER,
            migrations: Migration::embedded(),
        }
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
    fn embedded_migrations_are_numbered_from_one_without_gaps() {
        let versions: Vec<u32> = Migration::embedded().iter().map(|m| m.version).collect();
        let expected: Vec<u32> = (1..=versions.len() as u32).collect();
        assert_eq!(versions, expected);
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
