//! The playbook lint (to be filled in).

/// A statement the lint refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("statement refused by the repair lint: {reason}")]
pub struct LintError {
    /// Why.
    pub reason: String,
}

/// Checks one statement.
pub fn check(_statement: &str) -> Result<(), LintError> {
    Ok(())
}
