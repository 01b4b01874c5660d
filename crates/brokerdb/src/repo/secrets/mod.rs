//! Secrets: encrypted secret envelopes (tenant scope), manifest signing keys
//! and the published keyset with its ETag (global, system scope), and per-tenant crypto
//! verification defaults (tenant scope).

pub mod crypto_defaults;
pub mod envelopes;
pub mod keyset;
pub mod manifest_keys;

pub use crypto_defaults::{CryptoDefaultsUpdate, CryptoVerificationDefaults};
pub use envelopes::{NewSecretVersion, SecretEnvelope, SecretEnvelopeVersion, SecretType};
pub use keyset::{VerificationKeyset, WeakEtag};
pub use manifest_keys::{
    Curve, KeyTransition, KeyType, KeyUse, ManifestKey, ManifestKeyAlg, ManifestKeyStatus,
    ManifestKeys, ManifestSigningKeyRecord, NewManifestSigningKey,
};
