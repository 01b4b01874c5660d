//! `UserRole` and role-set normalization.

use super::{UserRole, ValidationError, normalize_unique_list};

impl UserRole {
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
            .map(|l| Self::parse(l.trim()).map_err(|e| e.with_field("roles")))
            .collect()
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
