//! Integration tests of the project store against real PostgreSQL (and Redis), one binary with a
//! module per area.

mod events;
mod rate_limit;
mod scan_job;
