//! The Redis layer every domain's adapters share (feature `redis`): the connection
//! ([`RedisConn`]: standalone or cluster, a small pool, a command timeout that bounds every
//! call), the adapters' error ([`AdapterError`], with the same stable codes as
//! [`DbError`](crate::db::DbError)), pub/sub subscriptions that survive a lost connection
//! ([`pubsub`]), the one key-part encoding ([`encode_key_part`]) and the key-prefix rule.
//!
//! The broker's adapters (crate `brokerdb-redis`) and the project store's (crate
//! `brokerdb-projects`) are built on it; neither knows the other.

mod conn;
mod error;
mod keys;
pub mod pubsub;

pub use conn::{
    ClientError, ConnSettings, DEFAULT_COMMAND_TIMEOUT, DEFAULT_POOL_SIZE, MAX_POOL_SIZE,
    RedisConn, open_client, open_cluster,
};
pub use error::AdapterError;
pub use keys::{Clock, encode_key_part, normalize_prefix, push_encoded_key_part, system_clock};
pub use pubsub::Subscription;
