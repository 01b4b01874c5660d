//! The schema's enums as Rust types, and the shared validation helpers. Enums travel to
//! PostgreSQL as text cast in the statement (`$1::text::artifact_type`) and come back as `::text`.

use brokerdb_core::scalar::ValidationError;
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($doc:literal $name:ident($field:literal) { $($variant:ident = $label:literal),+ $(,)? }) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(
                #[doc = concat!("`", $label, "`")]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The label stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            /// The value of a label; anything else is a validation error on the field.
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                match s {
                    $($label => Ok($name::$variant),)+
                    _ => Err(ValidationError::new($field, concat!("must be one of: ", $($label, " "),+))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!("What an artifact is (`artifact_type`)." ArtifactType("type") {
    Prd = "prd", Epic = "epic", Story = "story", Architecture = "architecture", Other = "other",
});
text_enum!("Where a webhook delivery comes from (`webhook_source`)." WebhookSource("source") {
    Github = "github", Gitlab = "gitlab", Bitbucket = "bitbucket",
});
text_enum!("How an MCP tool call ended (`mcp_result`)." McpResult("result") {
    Success = "success", Error = "error", Denied = "denied",
});
text_enum!("Where a webhook event is in its processing." WebhookStatus("status") {
    Received = "received", Processing = "processing", Processed = "processed", Failed = "failed",
});

/// Trims `s` and checks it has 1..=`max` characters.
pub(crate) fn bounded_text(
    field: &'static str,
    s: &str,
    max: usize,
    message: &'static str,
) -> Result<String, ValidationError> {
    let s = s.trim();
    match !s.is_empty() && s.chars().count() <= max {
        true => Ok(s.to_owned()),
        false => Err(ValidationError::new(field, message)),
    }
}

/// True for 64 lower-case hex digits (a SHA-256).
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A stored enum label read back; an unknown label is a bug or a newer schema.
pub(crate) fn stored<T>(
    parse: fn(&str) -> Result<T, ValidationError>,
    s: &str,
) -> Result<T, brokerdb_core::db::DbError> {
    parse(s).map_err(|_| brokerdb_core::db::DbError::Unexpected {
        message: "a stored enum holds an unknown label".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_unknown_ones_are_refused() {
        for t in ArtifactType::ALL {
            assert_eq!(ArtifactType::parse(t.as_str()), Ok(*t));
        }
        assert_eq!(WebhookSource::parse("gitlab"), Ok(WebhookSource::Gitlab));
        let err = McpResult::parse("ok")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("success error denied"), "{err}");
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
    }
}
