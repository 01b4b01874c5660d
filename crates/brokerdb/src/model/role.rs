//! `UserRole` and role-set normalization.

use serde::{Deserialize, Serialize};

use super::{ValidationError, normalize_unique_list};

/// A human's or admin's role (PostgreSQL enum `user_role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Full control.
    Owner,
    /// Administration.
    Admin,
    /// Read-only audit access.
    Auditor,
    /// Day-to-day operation.
    Operator,
}

impl UserRole {
    /// Every role, in declaration order.
    pub const ALL: [Self; 4] = [Self::Owner, Self::Admin, Self::Auditor, Self::Operator];

    /// The enum label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Auditor => "auditor",
            Self::Operator => "operator",
        }
    }

    /// A role by label (trimmed); anything else is a validation error.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let t = text.trim();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == t)
            .ok_or_else(|| ValidationError::new("role", "is not a known role"))
    }

    /// A role set: at least one, labels trimmed, duplicates rejected, sorted by label (byte order).
    pub fn normalize_set<'a>(
        labels: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Self>, ValidationError> {
        let labels = normalize_unique_list("roles", labels)?;
        if labels.is_empty() {
            return Err(ValidationError::new("roles", "must name at least one role"));
        }
        labels
            .iter()
            .map(|l| Self::parse(l).map_err(|e| e.with_field("roles")))
            .collect()
    }
}

impl std::fmt::Display for UserRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sets_are_unique_non_empty_and_sorted_by_label() {
        assert_eq!(
            UserRole::normalize_set([" operator", "admin", "owner"]),
            Ok(vec![UserRole::Admin, UserRole::Operator, UserRole::Owner])
        );
        assert!(UserRole::normalize_set(["admin", "admin "]).is_err());
        assert!(UserRole::normalize_set([]).is_err());
        assert!(UserRole::normalize_set(["root"]).is_err());
    }
}
