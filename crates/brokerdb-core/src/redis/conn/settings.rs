//! How a [`super::RedisConn`] is built.

use std::time::Duration;

use crate::redis::AdapterError;

/// Default bound of one Redis call, reconnect waits included.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default number of multiplexed connections (see the crate docs for the measurement).
pub const DEFAULT_POOL_SIZE: usize = 4;
/// Largest pool accepted.
pub const MAX_POOL_SIZE: usize = 64;

/// How a [`super::RedisConn`] is built from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnSettings {
    /// Bound of every call (default 1 s); when it expires the call fails with `unavailable`.
    pub command_timeout: Duration,
    /// Multiplexed connections, used round-robin (1..=64, default 4).
    pub pool_size: usize,
}

impl Default for ConnSettings {
    fn default() -> Self {
        Self {
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

impl ConnSettings {
    pub(super) fn validate(&self) -> Result<(), AdapterError> {
        if !(1..=MAX_POOL_SIZE).contains(&self.pool_size) {
            return Err(AdapterError::invalid("pool_size", "must be 1..64"));
        }
        if self.command_timeout.is_zero() {
            return Err(AdapterError::invalid("command_timeout", "must be positive"));
        }
        Ok(())
    }
}
