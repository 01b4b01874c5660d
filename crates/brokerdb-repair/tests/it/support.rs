//! Shared helpers.

/// Whether this run rewrites the checked-in files (`BROKERDB_BLESS=1`).
pub fn bless() -> bool {
    std::env::var("BROKERDB_BLESS").is_ok_and(|v| v == "1")
}

/// The crate's directory.
pub fn crate_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
