//! Users at scale: the generator of the `brokerdb-scale` crate (shared with `brokerdb bench`, so
//! the plan-guard tests and the bench measure the same data). See [`seed_users`] for the data.

pub use brokerdb_scale::{Step, seed_users, seed_users_reporting};
