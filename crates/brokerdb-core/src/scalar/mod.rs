//! Domain-free building blocks the data layer and every domain model share: the validation error,
//! trimmed and non-empty text, the id-type machinery, [`TenantId`] (the key of row-level
//! security) and [`Timestamp`]. Nothing here knows a domain.

pub(crate) mod id;
pub(crate) mod text;
mod time;
pub(crate) mod validation;

pub use id::{TenantId, business_id};
pub use text::{NonEmptyString, is_trim_char, normalize_unique_list, trim, trimmed_non_empty};
pub use time::Timestamp;
pub use validation::ValidationError;
