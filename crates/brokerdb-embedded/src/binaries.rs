//! Finding the server binaries.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::EmbeddedError;

/// Where Debian installs PostgreSQL server binaries (`/usr/lib/postgresql/<major>/bin`).
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";

fn on_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The newest `<root>/<major>/bin` that holds `name` (Debian: `/usr/lib/postgresql`).
fn in_debian_layout(root: &Path, name: &str) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin").join(name);
            is_executable(&bin).then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// PostgreSQL server binaries: `initdb` and `postgres` from one installation.
#[derive(Debug, Clone)]
pub(crate) struct PostgresBinaries {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
}

impl PostgresBinaries {
    pub fn find(path_var: Option<&OsStr>) -> Result<Self, EmbeddedError> {
        Self::find_in(path_var, Path::new(DEBIAN_PG_ROOT))
    }

    fn find_in(path_var: Option<&OsStr>, debian_root: &Path) -> Result<Self, EmbeddedError> {
        let missing = |binary| EmbeddedError::MissingBinary {
            binary,
            extra: " or under /usr/lib/postgresql/*/bin",
            package: "postgresql",
        };
        // Resolve symlinks so `postgres` is taken from the same installation as `initdb`.
        let initdb = on_path("initdb", path_var)
            .or_else(|| in_debian_layout(debian_root, "initdb"))
            .ok_or_else(|| missing("initdb"))?;
        let initdb = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        let sibling = initdb.with_file_name("postgres");
        let postgres = if is_executable(&sibling) {
            sibling
        } else {
            on_path("postgres", path_var)
                .or_else(|| in_debian_layout(debian_root, "postgres"))
                .ok_or_else(|| missing("postgres"))?
        };
        Ok(Self { initdb, postgres })
    }
}

/// The `redis-server` binary.
pub(crate) fn redis_server(path_var: Option<&OsStr>) -> Result<PathBuf, EmbeddedError> {
    redis_server_in(path_var, Path::new("/usr/bin/redis-server"))
}

fn redis_server_in(path_var: Option<&OsStr>, fallback: &Path) -> Result<PathBuf, EmbeddedError> {
    redis_binary(path_var, "redis-server", fallback, "redis-server")
}

/// The `redis-cli` binary (creates clusters).
pub(crate) fn redis_cli(path_var: Option<&OsStr>) -> Result<PathBuf, EmbeddedError> {
    redis_binary(
        path_var,
        "redis-cli",
        Path::new("/usr/bin/redis-cli"),
        "redis-tools",
    )
}

fn redis_binary(
    path_var: Option<&OsStr>,
    binary: &'static str,
    fallback: &Path,
    package: &'static str,
) -> Result<PathBuf, EmbeddedError> {
    on_path(binary, path_var)
        .or_else(|| Some(fallback.to_path_buf()).filter(|p| is_executable(p)))
        .ok_or(EmbeddedError::MissingBinary {
            binary,
            extra: "",
            package,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_postgres_binaries_name_the_debian_package() {
        let err =
            PostgresBinaries::find_in(Some(OsStr::new("/nonexistent")), Path::new("/nonexistent"))
                .err()
                .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "initdb not found on PATH or under /usr/lib/postgresql/*/bin; install the Debian \
                 package `postgresql` (apt-get install postgresql)"
            )
        );
    }

    #[test]
    fn missing_redis_server_names_the_debian_package() {
        let err = redis_server_in(None, Path::new("/nonexistent"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "redis-server not found on PATH; install the Debian package `redis-server` \
                 (apt-get install redis-server)"
            )
        );
    }

    #[test]
    fn binaries_are_found_in_the_debian_layout_when_not_on_path() {
        let found = PostgresBinaries::find_in(None, Path::new(DEBIAN_PG_ROOT));
        assert!(found.is_ok_and(|b| b.postgres.ends_with("bin/postgres")));
    }
}
