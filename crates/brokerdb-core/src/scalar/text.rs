//! Trimmed non-empty text and the unique normalized list (trim every element; an empty or
//! duplicate element fails; the result is sorted by byte order).

use std::collections::HashSet;

use crate::scalar::validation::ValidationError;

/// Whether `c` is stripped by "trim": ECMAScript `WhiteSpace` or `LineTerminator`, i.e. Unicode
/// `White_Space` except U+0085 (NEL), plus U+FEFF (BOM) — what the reference's `trim()` strips.
pub fn is_trim_char(c: char) -> bool {
    c == '\u{FEFF}' || (c.is_whitespace() && c != '\u{85}')
}

/// `s` without leading and trailing [`is_trim_char`] characters.
pub fn trim(s: &str) -> &str {
    s.trim_matches(is_trim_char)
}

/// The "trimmed non-empty" rule: the trimmed value, or an error naming `field`.
pub fn trimmed_non_empty(
    field: impl Into<std::borrow::Cow<'static, str>>,
    s: &str,
) -> Result<&str, ValidationError> {
    match trim(s) {
        "" => Err(ValidationError::new(field, "cannot be empty")),
        trimmed => Ok(trimmed),
    }
}

/// A string that is non-empty and has no leading or trailing whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NonEmptyString(String);

impl NonEmptyString {
    /// Trims `s`; fails (naming `field`) when nothing is left.
    pub fn new(
        field: impl Into<std::borrow::Cow<'static, str>>,
        s: &str,
    ) -> Result<Self, ValidationError> {
        trimmed_non_empty(field, s).map(|t| Self(t.to_owned()))
    }

    /// The trimmed text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trimmed text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

crate::impl_text_newtype!(NonEmptyString, |s| NonEmptyString::new("value", s));

/// The "unique normalized list" rule: trims every element; an empty element or a duplicate after
/// trimming fails (reported as `field[index]`, index in the input); returns the elements sorted
/// by byte order.
pub fn normalize_unique_list<I>(field: &str, items: I) -> Result<Vec<String>, ValidationError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let trimmed = trimmed_non_empty(format!("{field}[{i}]"), item.as_ref())?;
        if !seen.insert(trimmed.to_owned()) {
            return Err(ValidationError::new(
                format!("{field}[{i}]"),
                "duplicate entry",
            ));
        }
        out.push(trimmed.to_owned());
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trim_strips_unicode_whitespace_and_line_terminators() {
        assert_eq!(trim("\u{FEFF}\u{3000}\t a b \r\n\u{2028}\u{A0}"), "a b");
        assert_eq!(trim("\u{85}x"), "\u{85}x");
    }

    #[test]
    fn non_empty_string_is_trimmed() -> Result<(), ValidationError> {
        assert_eq!(NonEmptyString::new("name", "  acme \n")?.as_str(), "acme");
        Ok(())
    }

    #[test]
    fn blank_string_is_rejected_with_the_field_name() {
        let err = NonEmptyString::new("name", " \u{2029}\t ").err();
        assert_eq!(err, Some(ValidationError::new("name", "cannot be empty")));
    }

    #[test]
    fn unique_list_is_trimmed_and_sorted_by_byte_order() -> Result<(), ValidationError> {
        let out = normalize_unique_list("roles", [" b", "a ", "B", "_", "é"])?;
        assert_eq!(out, ["B", "_", "a", "b", "é"]);
        assert_eq!(
            normalize_unique_list("roles", Vec::<String>::new())?,
            Vec::<String>::new()
        );
        Ok(())
    }

    #[test]
    fn unique_list_rejects_duplicates_after_trimming() {
        let err = normalize_unique_list("roles", ["owner", "admin", " owner\t"]).err();
        assert_eq!(err.map(|e| e.field), Some("roles[2]".into()));
    }

    #[test]
    fn unique_list_rejects_empty_elements() {
        let err = normalize_unique_list("roles", ["owner", "  "]).err();
        assert_eq!(
            err,
            Some(ValidationError::new("roles[1]", "cannot be empty"))
        );
    }

    #[test]
    fn non_empty_string_deserializes_with_validation() {
        let ok: Result<NonEmptyString, _> = serde_json::from_str("\" x \"");
        assert_eq!(
            ok.ok().map(NonEmptyString::into_inner),
            Some("x".to_owned())
        );
        assert!(serde_json::from_str::<NonEmptyString>("\"  \"").is_err());
    }

    proptest! {
        #[test]
        fn unique_list_normalization_is_idempotent(items in prop::collection::vec("\\s?[a-c]{0,3}\\s?", 0..6)) {
            if let Ok(once) = normalize_unique_list("l", &items) {
                prop_assert_eq!(normalize_unique_list("l", &once), Ok(once.clone()));
                prop_assert!(once.windows(2).all(|w| w[0] < w[1]));
            }
        }

        #[test]
        fn trimming_is_idempotent(s in "\\PC*") {
            prop_assert_eq!(trim(trim(&s)), trim(&s));
        }
    }
}
