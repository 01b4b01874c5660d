//! Data at scale: the generators of the `brokerdb-scale` crate (shared with `brokerdb bench`, so
//! the plan-guard tests and the bench measure the same data). See that crate for the data.

pub use brokerdb_scale::*;
