//! The project store's ids: validated newtypes over `String` following the core's business-id
//! rule ([`brokerdb::scalar::business_id`]: trimmed, then 1..=128 characters of
//! `[A-Za-z0-9._-]`), so an id never contains a separator and can be joined into Redis keys and
//! channel names (`project:{projectId}`) safely. Minted ids are a prefix plus 32 lower-case hex
//! digits: project `prj_`, artifact `art_`, webhook event `whe_`, MCP log row `mcp_`.

use brokerdb::scalar::{ValidationError, business_id};

macro_rules! project_id_type {
    ($doc:literal $name:ident($field:literal, $prefix:literal)) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = "Trimmed, then 1..128 characters of `[A-Za-z0-9._-]` (module docs)."]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The field name used in validation errors.
            pub const FIELD: &'static str = $field;
            /// The prefix of generated ids.
            pub const PREFIX: &'static str = $prefix;

            /// Validates `s` (after trimming) and keeps the trimmed value.
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                business_id(Self::FIELD, s).map(Self)
            }

            /// A fresh random id: the prefix plus 32 lower-case hex digits.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::new_v4().simple()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned `String`.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }

        impl ::tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &::tokio_postgres::types::Type,
                out: &mut ::tokio_postgres::types::private::BytesMut,
            ) -> Result<::tokio_postgres::types::IsNull, Box<dyn ::std::error::Error + Sync + Send>>
            {
                <&str as ::tokio_postgres::types::ToSql>::to_sql(&self.0.as_str(), ty, out)
            }
            fn accepts(ty: &::tokio_postgres::types::Type) -> bool {
                <&str as ::tokio_postgres::types::ToSql>::accepts(ty)
            }
            ::tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> ::tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &::tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn ::std::error::Error + Sync + Send>> {
                let s = <&str as ::tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
                Ok(Self::parse(s)?)
            }
            fn accepts(ty: &::tokio_postgres::types::Type) -> bool {
                <&str as ::tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

project_id_type!("A project's id." ProjectId("project_id", "prj_"));
project_id_type!("An artifact's id." ArtifactId("artifact_id", "art_"));
project_id_type!("A received webhook delivery's id." WebhookEventId("event_id", "whe_"));
project_id_type!("An MCP audit log row's id." McpLogId("log_id", "mcp_"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_business_id_rule() -> Result<(), ValidationError> {
        assert_eq!(ProjectId::parse(" prj_1 ")?.as_str(), "prj_1");
        assert!(ProjectId::parse("a:b").is_err());
        assert!(ArtifactId::parse("").is_err());
        let id = WebhookEventId::generate();
        assert!(id.as_str().starts_with("whe_"));
        assert_eq!(id.as_str().len(), 4 + 32);
        assert_eq!(
            McpLogId::parse(McpLogId::generate().as_str())?
                .as_str()
                .len(),
            36
        );
        Ok(())
    }
}
