//! Background jobs: the core's queue ([`brokerdb_core::jobs`], re-exported here whole: enqueue,
//! claim, leases, the [`Worker`] and the scheduler) and the broker's [`sweeps`] that run on it.
//!
//! Metrics of the sweeps: `brokerdb_sweep_rows_total{sweep}`; the queue's own are listed in the
//! core's module docs.

pub use brokerdb_core::jobs::*;

pub mod sweeps;
