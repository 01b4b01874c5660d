//! The HTTP methods a template or policy may name: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.

use crate::scalar::ValidationError;
use crate::scalar::trim;

/// One of the five HTTP methods the broker forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl HttpMethod {
    /// All methods, in declaration order.
    pub const ALL: [Self; 5] = [Self::Get, Self::Post, Self::Put, Self::Patch, Self::Delete];

    /// Trims, upper-cases (Unicode, like the reference) and matches one of the five names.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let upper = trim(s).to_uppercase();
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == upper)
            .ok_or_else(|| {
                ValidationError::new("method", "must be one of GET, POST, PUT, PATCH, DELETE")
            })
    }

    /// The upper-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

brokerdb_core::impl_text_newtype!(HttpMethod, HttpMethod::parse);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::types::{FromSql, Type};

    #[test]
    fn methods_are_trimmed_and_upper_cased() -> Result<(), ValidationError> {
        assert_eq!(HttpMethod::parse(" get\n")?, HttpMethod::Get);
        assert_eq!(HttpMethod::parse("Patch")?, HttpMethod::Patch);
        assert_eq!("DELETE".parse::<HttpMethod>()?, HttpMethod::Delete);
        // JavaScript's toUpperCase maps the long s to S; so does Rust's.
        assert_eq!(HttpMethod::parse("poſt")?, HttpMethod::Post);
        Ok(())
    }

    #[test]
    fn other_methods_are_rejected() {
        for bad in ["HEAD", "OPTIONS", "", " ", "GE T", "GETX", "CONNECT"] {
            let err = HttpMethod::parse(bad).err().map(|e| e.field);
            assert_eq!(err, Some("method".into()), "{bad:?}");
        }
    }

    #[test]
    fn display_serde_and_sql_use_the_upper_case_name() -> Result<(), serde_json::Error> {
        assert_eq!(HttpMethod::Put.to_string(), "PUT");
        assert_eq!(serde_json::to_string(&HttpMethod::Patch)?, "\"PATCH\"");
        assert_eq!(
            serde_json::from_str::<HttpMethod>("\"post\"")?,
            HttpMethod::Post
        );
        assert!(serde_json::from_str::<HttpMethod>("\"TRACE\"").is_err());
        assert_eq!(
            HttpMethod::from_sql(&Type::TEXT, b"GET").ok(),
            Some(HttpMethod::Get)
        );
        Ok(())
    }
}
