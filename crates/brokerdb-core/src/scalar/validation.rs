//! The validation error every constructor of the model and the data layer returns, and a macro that gives a
//! string-backed validated type its conversions (text, serde, PostgreSQL).

use std::borrow::Cow;

/// Why an input was rejected; never contains the rejected value (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The offending field path in the contracts' snake_case, e.g. `tenant_id` or
    /// `ip_allowlist[2]`.
    pub field: Cow<'static, str>,
    /// What is wrong, in words that never quote the input.
    pub message: Cow<'static, str>,
}

impl ValidationError {
    /// An error for `field` saying `message`.
    pub fn new(field: impl Into<Cow<'static, str>>, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error reported under another field path (e.g. when nesting `ip_allowlist[2]`).
    #[must_use]
    pub fn with_field(self, field: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: field.into(),
            ..self
        }
    }
}

/// Implements `Display`, `AsRef<str>`, `FromStr`, `TryFrom<String>`, `TryFrom<&str>`, serde and
/// `ToSql`/`FromSql` (as text) for a type with `as_str(&self) -> &str`, given its parser
/// `fn(&str) -> Result<Self, ValidationError>`. Deserializing and reading from SQL validate.
#[macro_export]
macro_rules! impl_text_newtype {
    ($ty:ident, $parse:expr) => {
        impl $ty {
            fn parse_text(s: &str) -> Result<Self, $crate::scalar::ValidationError> {
                let parse: fn(&str) -> Result<Self, $crate::scalar::ValidationError> = $parse;
                parse(s)
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::scalar::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_text(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = $crate::scalar::ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse_text(&s)
            }
        }
        impl TryFrom<&str> for $ty {
            type Error = $crate::scalar::ValidationError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse_text(s)
            }
        }
        impl $crate::__macro_support::serde::Serialize for $ty {
            fn serialize<S: $crate::__macro_support::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> $crate::__macro_support::serde::Deserialize<'de> for $ty {
            fn deserialize<D: $crate::__macro_support::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse_text(&s).map_err($crate::__macro_support::serde::de::Error::custom)
            }
        }
        impl $crate::__macro_support::tokio_postgres::types::ToSql for $ty {
            fn to_sql(
                &self,
                ty: &$crate::__macro_support::tokio_postgres::types::Type,
                out: &mut $crate::__macro_support::tokio_postgres::types::private::BytesMut,
            ) -> Result<
                $crate::__macro_support::tokio_postgres::types::IsNull,
                Box<dyn ::std::error::Error + Sync + Send>,
            > {
                <&str as $crate::__macro_support::tokio_postgres::types::ToSql>::to_sql(
                    &self.as_str(),
                    ty,
                    out,
                )
            }
            fn accepts(ty: &$crate::__macro_support::tokio_postgres::types::Type) -> bool {
                <&str as $crate::__macro_support::tokio_postgres::types::ToSql>::accepts(ty)
            }
            $crate::__macro_support::tokio_postgres::types::to_sql_checked!();
        }
        impl<'a> $crate::__macro_support::tokio_postgres::types::FromSql<'a> for $ty {
            fn from_sql(
                ty: &$crate::__macro_support::tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn ::std::error::Error + Sync + Send>> {
                let s =
                    <&str as $crate::__macro_support::tokio_postgres::types::FromSql>::from_sql(
                        ty, raw,
                    )?;
                Ok(Self::parse_text(s)?)
            }
            fn accepts(ty: &$crate::__macro_support::tokio_postgres::types::Type) -> bool {
                <&str as $crate::__macro_support::tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_field_then_message() {
        let err = ValidationError::new("tenant_id", "cannot be empty");
        assert_eq!(err.to_string(), "tenant_id: cannot be empty");
    }

    #[test]
    fn with_field_keeps_the_message() {
        let err = ValidationError::new("value", "bad").with_field(format!("ip_allowlist[{}]", 2));
        assert_eq!(err.field, "ip_allowlist[2]");
        assert_eq!(err.message, "bad");
    }
}
