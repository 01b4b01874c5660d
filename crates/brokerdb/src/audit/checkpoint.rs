//! Signed checkpoints of the chain heads: the anchor outside the database.
//!
//! The hash chains catch edits made around the application (a superuser who disables the
//! triggers and edits a row), but not an administrator who edits a row *and* recomputes every
//! later link: the result is internally consistent. A checkpoint is the answer Certificate
//! Transparency gives (a signed tree head): the head of every chain — its size and last hash —
//! signed with an Ed25519 key that lives outside the database, written where the database cannot
//! rewrite it (a file or directory the operator chooses, or stdout). Verifying against a
//! checkpoint proves the chain still *extends* it: a chain rewound below the checkpoint, or
//! rewritten anywhere at or before its position, fails, however consistent it is.
//!
//! What checkpoints do not prove: anything appended after the newest checkpoint (take them
//! often), and anything if the signing key is stolen together with database access.
//!
//! **Format** (one JSON object per line, `.jsonl`): `format` = `brokerdb-audit-checkpoint/v1`,
//! `database` (the database's name), `chain` (`tenant:<tenant_id>` or `system`), `size` (links),
//! `head` (hash of the last link), `issued_at` (UTC RFC 3339, µs), `key_id` (first 16 hex digits
//! of SHA-256 of the public key), `signature` (hex Ed25519 signature of the lines
//! `format`, `database`, `chain`, `size`, `head`, `issued_at` joined with `"\n"`).
//!
//! **Keys.** The signing key file holds the 32-byte Ed25519 seed as 64 hex digits; it must not be
//! readable by group or others (mode 0600), like an SSH key. The public key (64 hex digits) is
//! what verification needs.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{DbError, Exec, IsolationLevel, SystemScope, TxOptions};

/// The `format` of every checkpoint this build writes.
pub const FORMAT: &str = "brokerdb-audit-checkpoint/v1";

const HEADS: &str = "SELECT 'tenant:' || t.tenant_id, s.chain_seq, s.hash
     FROM tenants t
     JOIN LATERAL (SELECT chain_seq, hash FROM audit_seals
                   WHERE tenant_id = t.tenant_id ORDER BY chain_seq DESC LIMIT 1) s ON true
     UNION ALL
     (SELECT 'system', chain_seq, hash FROM system_audit_seals ORDER BY chain_seq DESC LIMIT 1)
     ORDER BY 1";
const DATABASE: &str = "SELECT current_database()";

/// Why a key or checkpoint could not be used. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A key is not 64 hex digits.
    #[error("{what} is not an Ed25519 key of 64 hex digits")]
    KeyFormat {
        /// Which key (signing key file, public key).
        what: String,
    },
    /// The signing key file can be read by group or others.
    #[error(
        "signing key file {} is readable by group or others (mode {mode:o}); run chmod 600 on it",
        path.display()
    )]
    KeyPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line is not a checkpoint of a known format.
    #[error("{}:{line}: not a brokerdb audit checkpoint", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A checkpoint's signature does not verify with the given public key.
    #[error("{}:{line}: signature does not verify with the given public key", path.display())]
    BadSignature {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A checkpoint was taken of another database.
    #[error(
        "{}:{line}: checkpoint of database {found}, not of {expected}",
        path.display()
    )]
    OtherDatabase {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Database the checkpoint names.
        found: String,
        /// Database being verified.
        expected: String,
    },
}

/// The key that signs checkpoints. `Debug` never shows it.
pub struct CheckpointSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("public_key", &self.public_key().to_hex())
            .finish()
    }
}

impl CheckpointSigner {
    /// A new random key.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
        }
    }

    /// The key from 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(hex_seed: &str) -> Result<Self, CheckpointError> {
        let seed = decode_32(hex_seed).ok_or_else(|| CheckpointError::KeyFormat {
            what: "the checkpoint signing key".into(),
        })?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn read_file(path: &Path) -> Result<Self, CheckpointError> {
        let io = |action| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Io {
                action,
                path,
                source,
            }
        };
        let mode = std::fs::metadata(path)
            .map_err(io("read"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CheckpointError::KeyPermissions {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io("read"))?;
        Self::from_hex(&text).map_err(|_| CheckpointError::KeyFormat {
            what: format!("signing key file {}", path.display()),
        })
    }

    /// Generates a key and writes it to `path` (mode 0600), refusing to overwrite a file.
    pub fn create_file(path: &Path) -> Result<Self, CheckpointError> {
        let signer = Self::generate();
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| CheckpointError::Io {
                action: "create",
                path: path.to_path_buf(),
                source,
            })?;
        let mut text = hex::encode(signer.key.to_bytes());
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| CheckpointError::Io {
                action: "write",
                path: path.to_path_buf(),
                source,
            })?;
        Ok(signer)
    }

    /// The public half, for verification.
    pub fn public_key(&self) -> CheckpointKey {
        CheckpointKey {
            key: self.key.verifying_key(),
        }
    }
}

/// The public key checkpoints are verified with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointKey {
    key: VerifyingKey,
}

impl CheckpointKey {
    /// The key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, CheckpointError> {
        let bad = || CheckpointError::KeyFormat {
            what: "the checkpoint public key".into(),
        };
        let bytes = decode_32(text).ok_or_else(bad)?;
        Ok(Self {
            key: VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?,
        })
    }

    /// 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// First 16 hex digits of SHA-256 of the key: names the key in each checkpoint.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.key.to_bytes())[..8])
    }
}

fn decode_32(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// One signed chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// [`FORMAT`].
    pub format: String,
    /// The database's name.
    pub database: String,
    /// `tenant:<tenant_id>` or `system`.
    pub chain: String,
    /// Links in the chain at the time.
    pub size: i64,
    /// Hash of link `size`.
    pub head: String,
    /// When it was taken (UTC, RFC 3339 with microseconds).
    pub issued_at: String,
    /// [`CheckpointKey::key_id`] of the signing key.
    pub key_id: String,
    /// Hex Ed25519 signature of [`Checkpoint::signed_text`].
    pub signature: String,
}

impl Checkpoint {
    /// Signs a head.
    pub fn sign(
        signer: &CheckpointSigner,
        database: &str,
        chain: &str,
        size: i64,
        head: &str,
        issued_at: DateTime<Utc>,
    ) -> Self {
        let mut c = Self {
            format: FORMAT.to_owned(),
            database: database.to_owned(),
            chain: chain.to_owned(),
            size,
            head: head.to_owned(),
            issued_at: issued_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            key_id: signer.public_key().key_id(),
            signature: String::new(),
        };
        c.signature = hex::encode(signer.key.sign(c.signed_text().as_bytes()).to_bytes());
        c
    }

    /// The text the signature covers.
    pub fn signed_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.format, self.database, self.chain, self.size, self.head, self.issued_at
        )
    }

    /// True when the signature verifies with `key` (strict Ed25519 verification).
    pub fn verifies_with(&self, key: &CheckpointKey) -> bool {
        let Some(sig) = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        self.format == FORMAT
            && key
                .key
                .verify_strict(self.signed_text().as_bytes(), &Signature::from_bytes(&sig))
                .is_ok()
    }
}

/// The current head of every non-empty chain, signed, read in one snapshot (system scope).
pub async fn create_checkpoints(
    system: &SystemScope<'_>,
    signer: &CheckpointSigner,
) -> Result<Vec<Checkpoint>, DbError> {
    const SNAPSHOT: TxOptions = TxOptions {
        isolation: IsolationLevel::RepeatableRead,
        read_only: true,
        ..TxOptions::DEFAULT
    };
    let (database, heads) = system
        .transaction(&SNAPSHOT, |tx| {
            Box::pin(async move {
                let database: String = tx
                    .query_opt(DATABASE, &[])
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?
                    .unwrap_or_default();
                let mut heads = Vec::new();
                for row in tx.query(HEADS, &[]).await? {
                    heads.push((
                        row.try_get::<_, String>(0)?,
                        row.try_get::<_, i64>(1)?,
                        row.try_get::<_, String>(2)?,
                    ));
                }
                Ok((database, heads))
            })
        })
        .await?;
    let now = Utc::now();
    Ok(heads
        .iter()
        .map(|(chain, size, head)| Checkpoint::sign(signer, &database, chain, *size, head, now))
        .collect())
}

/// Checkpoints as JSON lines.
pub fn to_jsonl(checkpoints: &[Checkpoint]) -> String {
    let mut out = String::new();
    for c in checkpoints {
        // A struct of strings and an integer always serializes.
        if let Ok(line) = serde_json::to_string(c) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Writes `checkpoints` to a new file `checkpoint-<issued_at>.jsonl` in `dir` (created if
/// missing) and returns its path. The file appears complete or not at all (written aside, then
/// renamed); an existing file is never overwritten.
pub fn write_checkpoints(
    dir: &Path,
    checkpoints: &[Checkpoint],
) -> Result<PathBuf, CheckpointError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckpointError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let path = dir.join(format!("checkpoint-{stamp}.jsonl"));
    let partial = dir.join(format!(".checkpoint-{stamp}.jsonl.partial"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&partial)
        .map_err(io("create", &partial))?;
    file.write_all(to_jsonl(checkpoints).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("write", &partial))?;
    if path.exists() {
        let _ = std::fs::remove_file(&partial);
        return Err(CheckpointError::Io {
            action: "create",
            path,
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    std::fs::rename(&partial, &path).map_err(io("rename into place", &path))?;
    Ok(path)
}

/// A checkpoint read from a file, with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its file.
    pub path: PathBuf,
    /// Its 1-based line.
    pub line: usize,
}

/// Reads checkpoints from a `.jsonl` file, or from every `*.jsonl` file of a directory (in name
/// order). Blank lines are skipped; any other line that is not a checkpoint is an error.
pub fn read_checkpoints(path: &Path) -> Result<Vec<LoadedCheckpoint>, CheckpointError> {
    let io = |action, p: &Path| {
        let p = p.to_path_buf();
        move |source| CheckpointError::Io {
            action,
            path: p,
            source,
        }
    };
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io("read", path))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(io("read", &file))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let checkpoint: Checkpoint =
                serde_json::from_str(line).map_err(|_| CheckpointError::Malformed {
                    path: file.clone(),
                    line: i + 1,
                })?;
            out.push(LoadedCheckpoint {
                checkpoint,
                path: file.clone(),
                line: i + 1,
            });
        }
    }
    Ok(out)
}

/// Checkpoints whose signatures verified, by chain: what a chain walk is held to.
#[derive(Debug, Clone, Default)]
pub struct CheckpointSet {
    by_chain: HashMap<String, Vec<(i64, String)>>,
    count: usize,
}

impl CheckpointSet {
    /// No checkpoints: chains are only checked for internal consistency.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every checkpoint must carry a valid signature of `key` and name `database`; the first one
    /// that does not is the error (fail closed: a forged checkpoint file is not silently
    /// ignored).
    pub fn verified(
        loaded: Vec<LoadedCheckpoint>,
        key: &CheckpointKey,
        database: &str,
    ) -> Result<Self, CheckpointError> {
        let mut set = Self::default();
        for l in loaded {
            if !l.checkpoint.verifies_with(key) {
                return Err(CheckpointError::BadSignature {
                    path: l.path,
                    line: l.line,
                });
            }
            if l.checkpoint.database != database {
                return Err(CheckpointError::OtherDatabase {
                    path: l.path,
                    line: l.line,
                    found: l.checkpoint.database,
                    expected: database.to_owned(),
                });
            }
            set.by_chain
                .entry(l.checkpoint.chain)
                .or_default()
                .push((l.checkpoint.size, l.checkpoint.head));
            set.count += 1;
        }
        Ok(set)
    }

    /// How many checkpoints the set holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the set holds none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `(size, head)` of every checkpoint of `chain`.
    pub(crate) fn for_chain(&self, chain: &str) -> &[(i64, String)] {
        self.by_chain.get(chain).map_or(&[], Vec::as_slice)
    }

    /// The chains this set has checkpoints of.
    pub fn chains(&self) -> impl Iterator<Item = &str> {
        self.by_chain.keys().map(String::as_str)
    }
}

/// The name of a tenant's chain in checkpoints.
pub fn tenant_chain_name(tenant: &crate::model::TenantId) -> String {
    format!("tenant:{tenant}")
}

/// The name of the system chain in checkpoints.
pub const SYSTEM_CHAIN: &str = "system";

/// The name of the database `system` connects to (what checkpoints record).
pub async fn database_name(system: &SystemScope<'_>) -> Result<String, DbError> {
    let mut system = *system;
    Ok(system
        .query_opt(DATABASE, &[])
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_with_its_key_and_unchanged() {
        let signer = CheckpointSigner::generate();
        let c = Checkpoint::sign(&signer, "db", "tenant:t_a", 3, &"a".repeat(64), Utc::now());
        assert!(c.verifies_with(&signer.public_key()));
        assert!(!c.verifies_with(&CheckpointSigner::generate().public_key()));
        for tampered in [
            Checkpoint {
                size: 2,
                ..c.clone()
            },
            Checkpoint {
                head: "b".repeat(64),
                ..c.clone()
            },
            Checkpoint {
                chain: "tenant:t_b".into(),
                ..c.clone()
            },
            Checkpoint {
                database: "other".into(),
                ..c.clone()
            },
            Checkpoint {
                signature: "00".into(),
                ..c.clone()
            },
        ] {
            assert!(
                !tampered.verifies_with(&signer.public_key()),
                "{tampered:?}"
            );
        }
    }

    #[test]
    fn keys_round_trip_through_hex_and_debug_hides_the_secret() -> Result<(), CheckpointError> {
        let signer = CheckpointSigner::generate();
        let seed = hex::encode(signer.key.to_bytes());
        let again = CheckpointSigner::from_hex(&format!(" {seed}\n"))?;
        assert_eq!(again.public_key(), signer.public_key());
        let public = CheckpointKey::from_hex(&signer.public_key().to_hex())?;
        assert_eq!(public, signer.public_key());
        assert_eq!(public.key_id().len(), 16);
        assert!(!format!("{signer:?}").contains(&seed));
        assert!(CheckpointSigner::from_hex("xyz").is_err());
        assert!(CheckpointKey::from_hex(&"0".repeat(62)).is_err());
        Ok(())
    }

    #[test]
    fn key_files_are_created_private_and_refused_when_readable_by_others()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("brokerdb-ckpt-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("key");
        let signer = CheckpointSigner::create_file(&path)?;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            CheckpointSigner::read_file(&path)?.public_key(),
            signer.public_key()
        );
        assert!(
            CheckpointSigner::create_file(&path).is_err(),
            "never overwrites"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        assert!(matches!(
            CheckpointSigner::read_file(&path),
            Err(CheckpointError::KeyPermissions { .. })
        ));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
