//! The id type machinery ([`id!`]), the business-id rule, and the one id the data layer itself
//! needs: [`TenantId`] (the key of row-level security). The other ids live with the domain model
//! (`crate::model`) and are declared with the same macro.

use crate::scalar::text::trimmed_non_empty;
use crate::scalar::validation::{ValidationError, impl_text_newtype};

/// The rule line of an id type's docs.
macro_rules! rule_doc {
    (business_id) => {
        "Trimmed, then 1..128 characters of `[A-Za-z0-9._-]` (module docs)."
    };
    (uuid_rule) => {
        "Trimmed, then a UUID (stored lower-case)."
    };
    (template_id_rule) => {
        "Trimmed, then `tpl_[a-z0-9_]+`."
    };
    (kid_rule) => {
        "Trimmed, then 1..128 characters of `[A-Za-z0-9._:-]`."
    };
}

macro_rules! id {
    ($doc:literal $name:ident($field:literal, $rule:ident) $(, generated with $prefix:literal)?) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = rule_doc!($rule)]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The field name used in validation errors.
            pub const FIELD: &'static str = $field;

            /// Validates `s` (after trimming) and keeps the normalized value.
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                $rule(Self::FIELD, s).map(Self)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned `String`.
            pub fn into_inner(self) -> String {
                self.0
            }

            $(
                /// The prefix of generated ids.
                pub const PREFIX: &'static str = $prefix;

                /// A fresh random id: the prefix plus 32 lower-case hex digits.
                pub fn generate() -> Self {
                    Self(format!("{}{}", $prefix, uuid::Uuid::new_v4().simple()))
                }
            )?
        }

        impl_text_newtype!($name, $name::parse);
    };
}

pub(crate) use {id, rule_doc};

id!("A tenant's business id." TenantId("tenant_id", business_id), generated with "t_");

/// Longest business id, in characters (all ASCII, so also in bytes).
const MAX_BUSINESS_ID_LEN: usize = 128;

/// The business-id rule: trimmed, then 1..=128 characters of `[A-Za-z0-9._-]`; returns the
/// trimmed id, or a [`ValidationError`] under `field` that never quotes the input. Public so the
/// id types of other domains built on this crate follow the same rule.
pub fn business_id(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let s = trimmed_non_empty(field, s)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    match s.len() <= MAX_BUSINESS_ID_LEN && s.bytes().all(allowed) {
        true => Ok(s.to_owned()),
        false => Err(ValidationError::new(
            field,
            "must be 1..128 characters of [A-Za-z0-9._-]",
        )),
    }
}
