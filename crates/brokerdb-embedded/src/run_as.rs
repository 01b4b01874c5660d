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
