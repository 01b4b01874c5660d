//! Domain-free building blocks the data layer and the domain model share: the validation error,
//! trimmed and non-empty text, the id-type machinery, and [`TenantId`], the key of row-level
//! security. Nothing here knows the broker.

pub(crate) mod id;
pub(crate) mod text;
pub(crate) mod validation;

pub use id::{TenantId, business_id};
pub use text::{NonEmptyString, is_trim_char, normalize_unique_list, trim, trimmed_non_empty};
pub use validation::ValidationError;
