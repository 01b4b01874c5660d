//! Private PostgreSQL and Redis servers for development and tests.
//!
//! [`EmbeddedPostgres`] initialises a cluster under a data directory (once; later starts reuse
//! it), runs `postgres` on a free loopback port with TCP only, and waits until it answers a
//! query. [`EmbeddedRedis`] runs `redis-server` on a free loopback port with nothing kept on disk
//! (and can be restarted on the same port, for fault tests). [`EmbeddedRedisCluster`] runs a
//! Redis Cluster of master nodes the same way, joined with `redis-cli --cluster create`.
//! All stop cleanly when dropped or when [`EmbeddedPostgres::stop`] / [`EmbeddedRedis::stop`] is
//! called, and die with the process that started them if it is killed (parent-death signal).
//!
//! Binaries are looked up on the `PATH` the caller passes in, then under
//! `/usr/lib/postgresql/*/bin`; a missing one is one error naming the Debian package to install.
//! PostgreSQL refuses to run as root: when the caller is root, the cluster runs as the
//! `postgres` system user, which must be able to reach the data directory.

mod binaries;
mod cluster;
mod error;
mod postgres;
mod process;
mod redis;
mod run_as;

pub use cluster::EmbeddedRedisCluster;
pub use error::EmbeddedError;
pub use postgres::{EmbeddedPostgres, PostgresOptions};
pub use redis::{EmbeddedRedis, RedisOptions};
