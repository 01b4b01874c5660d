//! Which user PostgreSQL runs as, and making its data directory usable by that user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::unistd::{Gid, Uid, User, chown, geteuid};

use crate::EmbeddedError;

/// The unprivileged user to run PostgreSQL as, or `None` to run as ourselves.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
}

impl RunAs {
    /// `None` when not root; the `postgres` system user when root (initdb and postgres refuse
    /// to run as root).
    pub fn for_postgres() -> Result<Option<Self>, EmbeddedError> {
        if !geteuid().is_root() {
            return Ok(None);
        }
        let user = User::from_name("postgres")
            .ok()
            .flatten()
            .ok_or(EmbeddedError::NoUnprivilegedUser)?;
        Ok(Some(Self {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
        }))
    }

    /// Makes `dir` (created if missing, mode 0700) owned by this user, after checking the user
    /// can traverse every ancestor.
    pub fn prepare_owned_dir(&self, dir: &Path) -> Result<(), EmbeddedError> {
        for ancestor in dir.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(ancestor) else {
                continue;
            };
            let others_x = meta.permissions().mode() & 0o001 != 0;
            let owner_x = meta.uid() == self.uid.as_raw() && meta.permissions().mode() & 0o100 != 0;
            if !others_x && !owner_x {
                return Err(EmbeddedError::NotTraversable {
                    path: ancestor.to_path_buf(),
                    user: self.name.clone(),
                });
            }
        }
        std::fs::create_dir_all(dir).map_err(EmbeddedError::io("create", dir))?;
        chown(dir, Some(self.uid), Some(self.gid))
            .map_err(|e| EmbeddedError::io("change the owner of", dir)(e.into()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(EmbeddedError::io("set permissions on", dir))
    }
}

/// Makes `dir` a private directory (created if missing, mode 0700) owned by `run_as`, or by us
/// when `None`. A symbolic link in its place is refused: the directory must be where it says.
pub(crate) fn private_dir(dir: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedError> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return Err(EmbeddedError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    match run_as {
        Some(user) => user.prepare_owned_dir(dir),
        None => {
            std::fs::create_dir_all(dir).map_err(EmbeddedError::io("create", dir))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(EmbeddedError::io("set permissions on", dir))
        }
    }
}

/// Writes `contents` to `path` with mode 0600 (replacing what was there), owned by `run_as`
/// (or by us when `None`).
pub(crate) fn private_file(
    path: &Path,
    contents: &[u8],
    run_as: Option<&RunAs>,
) -> Result<(), EmbeddedError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // A fresh file, so the mode applies from the first byte (an old file may be wider).
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(EmbeddedError::io("replace", path)(e)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(EmbeddedError::io("create", path))?;
    file.write_all(contents)
        .map_err(EmbeddedError::io("write", path))?;
    if let Some(user) = run_as {
        chown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| EmbeddedError::io("change the owner of", path)(e.into()))?;
    }
    Ok(())
}

/// A random secret of 32 lower-case hex characters.
pub(crate) fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}
