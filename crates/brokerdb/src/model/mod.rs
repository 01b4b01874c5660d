//! Validated domain values: parse, don't validate.
//!
//! Each type here can only be built through a constructor that applies its exact rule
//! (trimming, normalization, character classes; each type's doc states it), so a value that
//! exists is valid. Every failure is a [`ValidationError`] naming the field in the snake_case of
//! the JSON contracts, never quoting the input. Deserializing (serde) and reading from PostgreSQL (`FromSql`) apply the same rules.

mod descriptor;
mod descriptor_keys;
mod encoding;
mod enums;
mod http;
mod ids;
mod json;
mod net;
mod role;

pub use crate::scalar::{
    NonEmptyString, Timestamp, ValidationError, is_trim_char, normalize_unique_list, trim,
    trimmed_non_empty,
};
pub use descriptor::{CanonicalRequestDescriptor, NormalizedHeader};
pub use encoding::{
    Base64Payload, DpopThumbprint, Email, MAX_AAD_BYTES, MAX_CIPHERTEXT_BYTES,
    MAX_WRAPPED_DATA_KEY_BYTES, TokenHash, aad_b64, ciphertext_b64, is_uuid, wrapped_data_key_b64,
};
pub use enums::{
    AccessRequestStatus, ApprovalStatus, AuditDecision, AuditEventType, EnrollmentMode,
    IdentityStatus, ManifestKeyAlg, ManifestKeyStatus, NewUserMode, PG_ENUMS, PolicyRuleType,
    RedactionAction, RiskTier, SecretType, SsrfReasonCode, UserRole,
};
pub use http::HttpMethod;
pub use ids::{
    AccessRequestId, ApprovalId, EventId, IdentityId, IntegrationId, Kid, PolicyId, SecretRef,
    SessionId, TemplateId, TenantId, UserId, WorkloadId,
};
pub(crate) use json::json_integer;
pub use net::{IpAllowlist, IpOrCidr, PolicyHost};
