//! The webhook secret at rest: AES-256-GCM with a 32-byte key the application gives the
//! repository ([`SecretKey`]); the stored envelope is `nonce (12 bytes) || ciphertext || tag (16)`.
//! Neither the key nor a secret is ever logged: their `Debug` prints no byte of them, and both
//! are zeroed when dropped.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

/// Length of the nonce that starts an envelope.
pub const NONCE_LEN: usize = 12;
/// Longest webhook secret accepted, in bytes.
pub const MAX_SECRET_LEN: usize = 1024;

/// The key that encrypts webhook secrets (from the application's settings). Give every instance
/// of a deployment the same key: a secret encrypted under another key cannot be read back.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A random key (tests, or a deployment that keeps no secret across restarts).
    pub fn random() -> Self {
        Self(Zeroizing::new(rand::random()))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.0.as_slice()))
    }

    /// Encrypts `plaintext` under a fresh random nonce into the stored envelope.
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| SecretError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a stored envelope; a wrong key or an altered envelope is [`SecretError::Decrypt`].
    pub fn open(&self, envelope: &[u8]) -> Result<SecretBytes, SecretError> {
        if envelope.len() <= NONCE_LEN {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ciphertext) = envelope.split_at(NONCE_LEN);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map(|bytes| SecretBytes(Zeroizing::new(bytes)))
            .map_err(|_| SecretError::Decrypt)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A decrypted webhook secret: zeroed when dropped; its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// A secret from its bytes (for the create and rotate inputs).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret's bytes (what the webhook verifier keys its HMAC with).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty secret (refused by create and rotate).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

/// Why a secret could not be sealed or opened (no byte of either appears here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Encryption failed (cannot happen for inputs of accepted size).
    #[error("the webhook secret could not be encrypted")]
    Encrypt,
    /// The stored envelope does not open under this key (another key, or altered bytes).
    #[error("the stored webhook secret does not decrypt under the configured key")]
    Decrypt,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_under_its_key() -> Result<(), SecretError> {
        let key = SecretKey::random();
        let envelope = key.seal(b"s3cret")?;
        assert_eq!(envelope.len(), NONCE_LEN + 6 + 16);
        assert!(!envelope.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.open(&envelope)?.expose(), b"s3cret");
        assert_ne!(key.seal(b"s3cret")?, envelope, "a fresh nonce each time");
        assert_eq!(
            SecretKey::random().open(&envelope).err(),
            Some(SecretError::Decrypt)
        );
        assert_eq!(key.open(&envelope[..5]).err(), Some(SecretError::Decrypt));
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
        assert_eq!(
            format!("{:?}", SecretBytes::new(b"abc".to_vec())),
            "SecretBytes(3 bytes)"
        );
        Ok(())
    }
}
