//! Errors of starting and stopping embedded services.

use std::path::PathBuf;

/// Why an embedded service could not be started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// A server binary is not installed.
    #[error(
        "{binary} not found on PATH{extra}; install the Debian package `{package}` \
         (apt-get install {package})"
    )]
    MissingBinary {
        /// The binary looked for.
        binary: &'static str,
        /// Where else it was looked for, as text.
        extra: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Running as root and no unprivileged user exists to run PostgreSQL.
    #[error(
        "PostgreSQL refuses to run as root and there is no `postgres` user to run it as; \
         create one (useradd --system postgres) or run brokerdb as a non-root user"
    )]
    NoUnprivilegedUser,
    /// The user PostgreSQL runs as cannot reach the data directory.
    #[error(
        "PostgreSQL runs as user `{user}`, which cannot enter {}; make it world-searchable \
         (chmod o+x) or choose a data directory elsewhere",
        path.display()
    )]
    NotTraversable {
        /// The directory that blocks access.
        path: PathBuf,
        /// The user PostgreSQL runs as.
        user: String,
    },
    /// The PostgreSQL data directory exists but holds something else.
    #[error("{} is not empty and is not a PostgreSQL data directory", path.display())]
    NotADataDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A path the servers need as a directory is something else (a file or a symbolic link).
    #[error("{} must be a directory (it is a file or a symbolic link)", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A Unix socket path is longer than the operating system allows.
    #[error(
        "the socket path {} is longer than {max} bytes; choose a shorter data directory",
        path.display()
    )]
    SocketPathTooLong {
        /// The socket path.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// A server started but a set-up statement on it failed.
    #[error("cannot set up {service}: {reason}")]
    SetupFailed {
        /// `postgres` or `redis-server`.
        service: &'static str,
        /// What failed (fixed text and the server's error, never a secret).
        reason: String,
    },
    /// A server process exited or failed during start-up.
    #[error("{service} failed to start (log: {}): {tail}", log.display())]
    StartFailed {
        /// `postgres`, `initdb` or `redis-server`.
        service: &'static str,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A server did not become ready in time.
    #[error("{service} did not accept connections within {seconds} s (log: {})", log.display())]
    NotReady {
        /// `postgres` or `redis-server`.
        service: &'static str,
        /// How long was waited.
        seconds: u64,
        /// Its log file.
        log: PathBuf,
    },
}

impl EmbeddedError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
