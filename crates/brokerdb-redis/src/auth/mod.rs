//! Auth stores: workload sessions, one-time enrollment tokens, DPoP replay markers. (The
//! workload lookup by certificate SAN URI reads PostgreSQL only, so it is
//! `brokerdb::repo::workloads::get_by_san_uri`.)
//!
//! Keys (prefix default `broker:auth:`; encoding in the crate docs): `sess:token:<tokenHash>`,
//! `sess:id:<sessionId>`, `enroll:<tokenHash>`, `enroll:lock:<tokenHash>`,
//! `dpop:v2:<sha256hex(enc(scope):enc(jti))>`. Keys hold token hashes, never tokens. This is
//! security state: every Redis failure is an error (fail closed), never a silent miss.

pub(crate) mod enrollment;
pub(crate) mod replay;
pub(crate) mod sessions;

use std::sync::Arc;

use crate::support::{Clock, normalize_prefix, system_clock};
use crate::{AdapterError, RedisConn};

pub use enrollment::{EnrollmentTokenEntry, EnrollmentTokenStore};
pub use replay::ReplayStore;
pub use sessions::SessionStore;

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "broker:auth:";

/// Options of [`AuthStores::new`].
#[derive(Clone)]
pub struct AuthOptions {
    /// Key prefix (trimmed; empty → `broker:auth:`; `:` appended).
    pub key_prefix: Option<String>,
    /// Clock for expiry checks and TTLs (default: wall clock).
    pub now: Option<Clock>,
    /// How long a consume holds the per-token lock (default 5 s; at least 1).
    pub enrollment_consume_lock_seconds: u64,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            key_prefix: None,
            now: None,
            enrollment_consume_lock_seconds: 5,
        }
    }
}

/// What the three stores share.
pub(crate) struct Shared {
    pub conn: RedisConn,
    pub prefix: String,
    pub now: Clock,
    pub consume_lock_seconds: u64,
}

/// The three Redis auth stores over one connection.
#[derive(Clone)]
pub struct AuthStores {
    /// Workload sessions by token hash, with a reverse index for revocation.
    pub sessions: SessionStore,
    /// One-time enrollment tokens, consumed at most once.
    pub enrollment: EnrollmentTokenStore,
    /// DPoP `jti` replay markers.
    pub replay: ReplayStore,
}

impl AuthStores {
    /// Stores over `conn`. `enrollment_consume_lock_seconds` of 0 → `validation_error`.
    pub fn new(conn: RedisConn, options: AuthOptions) -> Result<Self, AdapterError> {
        if options.enrollment_consume_lock_seconds == 0 {
            return Err(AdapterError::invalid(
                "enrollment_consume_lock_seconds",
                "must be at least 1",
            ));
        }
        let shared = Arc::new(Shared {
            conn,
            prefix: normalize_prefix(options.key_prefix.as_deref(), DEFAULT_PREFIX),
            now: options.now.unwrap_or_else(system_clock),
            consume_lock_seconds: options.enrollment_consume_lock_seconds,
        });
        Ok(Self {
            sessions: SessionStore::new(shared.clone()),
            enrollment: EnrollmentTokenStore::new(shared.clone()),
            replay: ReplayStore::new(shared),
        })
    }
}
