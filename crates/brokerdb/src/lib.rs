//! brokerdb — the persistence layer of a multi-tenant API credential broker.
//!
//! PostgreSQL is the system of record. This crate holds the schema (embedded, numbered SQL
//! migrations and their runner), the database roles the schema defines, and helpers to derive
//! per-role connection settings. It never reads the environment and never creates its own pools:
//! the application hands connections in.

pub mod audit;
pub mod conninfo;
pub mod db;
pub mod migrate;
pub mod model;
pub mod prelude;
pub mod repo;
pub mod roles;
pub mod scalar;

pub use migrate::{Migration, MigrationError, MigrationState, MigrationStatus};
