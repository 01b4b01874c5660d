//! Private PostgreSQL and Redis servers for development and tests.
//!
//! [`EmbeddedPostgres`] initialises a cluster under a data directory (once; later starts reuse
//! it), runs `postgres` on a Unix socket only and waits until it answers a query.
//! [`EmbeddedRedis`] runs `redis-server` on a Unix socket only, with nothing kept on disk (and can
//! be restarted on the same socket, for fault tests). [`EmbeddedRedisCluster`] runs a Redis
//! Cluster of master nodes on loopback TCP ports (test-only), joined with
//! `redis-cli --cluster create`.
//!
//! # Local-only
//! Nothing listens on TCP by default. Each socket sits in its own directory of mode 0700 under
//! the data directory (`postgres-socket/`, `redis-socket/`), owned by the user the server runs
//! as, so only that user (and root) can connect. PostgreSQL trusts connections on that socket
//! (`initdb --auth-local=trust --auth-host=reject`, and `pg_hba.conf` is rewritten at every
//! start): the directory's permissions are the authentication, as with a peer check, and no
//! password exists that could leak. With [`PostgresOptions::tls`] / [`RedisOptions::tls`] (for
//! tests of encrypted connections) the server also listens on a loopback TLS port, where a
//! password generated at each start is required.
//!
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

pub use cluster::{ClusterLayout, EmbeddedRedisCluster};
pub use error::EmbeddedError;
pub use postgres::{EmbeddedPostgres, PostgresOptions, PostgresTls, SOCKET_PORT, SUPERUSER};
pub use redis::{EmbeddedRedis, RedisOptions, RedisTls, SOCKET_NAME as REDIS_SOCKET_NAME};
