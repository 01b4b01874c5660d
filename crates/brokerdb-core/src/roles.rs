//! Names of the database roles created by migration 0001 (see `migrations/README.md`).
//!
//! Role names are fixed and prefixed with `brokerdb_` so they cannot collide with an
//! installation's other roles; the grants each role holds are part of the migrations.

/// Owns every schema object and runs migrations. No BYPASSRLS.
pub const OWNER: &str = "brokerdb_owner";

/// Runtime role of the tenant scope: subject to row-level security (no BYPASSRLS).
pub const RUNTIME: &str = "brokerdb_app";

/// Role of the system scope: BYPASSRLS, for lookups that have no tenant yet, sweeps and global
/// admin data.
pub const SYSTEM: &str = "brokerdb_system";

/// The transaction-local setting the row-level security policies read.
pub const TENANT_SETTING: &str = "brokerdb.tenant_id";
