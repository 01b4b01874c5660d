//! The project store's error: the core's [`DbError`] (with its stable codes), or a webhook
//! secret that cannot be sealed or opened.

use brokerdb_core::db::DbError;
use brokerdb_core::scalar::ValidationError;

use crate::secret::SecretError;

/// Every failure of the project store's repositories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectsError {
    /// A database failure or a validation error, as the core reports them.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The webhook secret could not be encrypted or decrypted.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl From<ValidationError> for ProjectsError {
    fn from(e: ValidationError) -> Self {
        Self::Db(DbError::Validation(e))
    }
}

impl ProjectsError {
    /// The core error, when this is one (tests and HTTP mapping read its code).
    pub fn as_db(&self) -> Option<&DbError> {
        match self {
            Self::Db(e) => Some(e),
            Self::Secret(_) => None,
        }
    }
}
