//! The broker's migration set — the numbered SQL files of `migrations/`, embedded at build time —
//! and the runner of the core ([`brokerdb_core::migrate`], re-exported here whole).
//!
//! A migration runs in its own transaction together with its ledger row, so it is applied
//! entirely or not at all. An applied migration whose embedded text has changed is refused
//! before anything is applied: migrations are immutable once applied; change the schema with a
//! new migration.

pub use brokerdb_core::migrate::*;
use tokio_postgres::Client;

static EMBEDDED: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Every migration of the broker's set embedded in this build, in ascending version order.
pub fn embedded() -> &'static [Migration] {
    EMBEDDED
}

/// The broker's set ([`MigrationSet::BROKER`]): the schema every other set builds on (roles,
/// tenants, the job queue).
pub fn broker_set() -> MigrationSet {
    MigrationSet {
        name: MigrationSet::BROKER,
        migrations: embedded(),
    }
}

/// The state of every migration of the broker's set (and of applied ones this build does not
/// know), in version order. Reads only; a database without a ledger has every migration pending.
pub async fn status(client: &Client) -> Result<Vec<MigrationStatus>, MigrationError> {
    status_of_set(client, &broker_set()).await
}

/// Applies every pending migration of the broker's set ([`apply_sets`] with that set alone) and
/// returns the ones applied.
pub async fn apply_pending(client: &mut Client) -> Result<Vec<Migration>, MigrationError> {
    apply_sets(client, &[broker_set()]).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_broker_set_is_numbered_from_one_without_gaps() {
        assert!(super::broker_set().is_well_formed());
        assert!(!super::embedded().is_empty());
    }
}
