//! Build-script helper of brokerdb's domain crates (no dependencies, so a build script that uses
//! it compiles in a moment): [`embed_migrations`] turns a crate's `migrations/NNNN_name.sql`
//! files into a Rust slice of `Migration`s that the crate `include!`s, so every migration set
//! (the broker's, the project store's, …) is embedded the same way.
//!
//! ```text
//! // build.rs of a domain crate
//! fn main() {
//!     brokerdb_build::embed_migrations();
//! }
//! ```
//!
//! ```text
//! // src/migrations.rs of the same crate
//! use brokerdb_core::migrate::Migration;
//! static SET: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
//! ```
//!
//! A build script reports a broken layout by panicking, which fails the build with the message:
//! that is how Cargo expects build scripts to fail.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

/// Embeds every `migrations/NNNN_name.sql` file of the crate being built (the folder next to its
/// `Cargo.toml`), in version order, as `$OUT_DIR/migrations.rs`: a `&[Migration]` literal with
/// `include_str!`ed SQL, for `brokerdb_core::migrate::Migration` in scope. Reruns the build
/// when the folder or a file in it changes.
///
/// # Panics
///
/// When the folder cannot be read, a `.sql` file is not named `NNNN_name.sql`, two files share a
/// version, or the output cannot be written: the build fails with that message.
pub fn embed_migrations() {
    let dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(u32, String, PathBuf)> = Vec::new();
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let (num, name) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("migration {stem} must be named NNNN_name.sql"));
        let version: u32 = num
            .parse()
            .unwrap_or_else(|_| panic!("migration {stem} must start with a number"));
        files.push((version, name.to_owned(), path));
    }
    files.sort();
    for pair in files.windows(2) {
        assert!(
            pair[0].0 != pair[1].0,
            "two migrations share version {}",
            pair[0].0
        );
    }
    let mut out = String::from("&[\n");
    for (version, name, path) in &files {
        writeln!(
            out,
            "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({:?}) }},",
            path.display().to_string()
        )
        .unwrap_or_default();
    }
    out.push(']');
    let dest = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("migrations.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
