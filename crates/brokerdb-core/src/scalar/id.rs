//! The id type machinery ([`text_id!`](crate::text_id)), the business-id rule, and the one id the data layer itself
//! needs: [`TenantId`] (the key of row-level security). The other ids live with the domain model
//! (the domain crates' models) and are declared with the same macro.

use crate::scalar::text::trimmed_non_empty;
use crate::scalar::validation::ValidationError;

/// The rule line of an id type's docs (empty for a domain's own rule: its doc says it).
#[doc(hidden)]
#[macro_export]
macro_rules! __id_rule_doc {
    (business_id) => {
        "Trimmed, then 1..128 characters of `[A-Za-z0-9._-]`."
    };
    ($other:ident) => {
        ""
    };
}

/// Declares a validated id type: a newtype over `String` with `parse` (through `$rule`, a
/// `fn(&'static str, &str) -> Result<String, ValidationError>` in scope such as
/// [`business_id`](crate::scalar::business_id)), `FIELD`, `as_str`, `into_inner`, optionally
/// `generate` with a prefix, and every text conversion of [`impl_text_newtype!`](crate::impl_text_newtype).
///
/// ```
/// use brokerdb_core::scalar::business_id;
///
/// brokerdb_core::text_id!("A widget's id." WidgetId("widget_id", business_id), generated with "wid_");
///
/// let id = WidgetId::parse(" wid_1 ")?;
/// assert_eq!(id.as_str(), "wid_1");
/// assert!(WidgetId::generate().as_str().starts_with("wid_"));
/// assert!(WidgetId::parse("a b").is_err());
/// # Ok::<(), brokerdb_core::scalar::ValidationError>(())
/// ```
#[macro_export]
macro_rules! text_id {
    ($doc:literal $name:ident($field:literal, $rule:ident) $(, generated with $prefix:literal)?) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = $crate::__id_rule_doc!($rule)]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The field name used in validation errors.
            pub const FIELD: &'static str = $field;

            /// Validates `s` (after trimming) and keeps the normalized value.
            pub fn parse(s: &str) -> Result<Self, $crate::scalar::ValidationError> {
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
                    Self(format!("{}{}", $prefix, $crate::__macro_support::uuid::Uuid::new_v4().simple()))
                }
            )?
        }

        $crate::impl_text_newtype!($name, $name::parse);
    };
}

crate::text_id!("A tenant's business id." TenantId("tenant_id", business_id), generated with "t_");

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
