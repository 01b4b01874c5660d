//! What an entry holds: a value, "absent" (`Ok(None)` from the library), or a `not_found`
//! error the library returns for a missing row — so a cached read answers exactly what the
//! library would. Stored in Redis as JSON: `{"found": …}`, `"absent"`, `{"not_found": "<entity>"}`.

use std::sync::Arc;

use brokerdb::db::DbError;
use serde::{Deserialize, Serialize};

/// The entities whose `not_found` the cache keeps (negative caching); any other error is
/// returned and not cached.
const NOT_FOUND_ENTITIES: [&str; 4] = [
    "workload",
    "integration",
    "template",
    "active or retired manifest signing key",
];

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Stored<V> {
    /// The value (shared: a hit hands out the `Arc`, copying nothing).
    Found(Arc<V>),
    /// `Ok(None)`.
    Absent,
    /// `Err(not_found)` of this entity (one of [`NOT_FOUND_ENTITIES`]).
    NotFound(String),
}

impl<V> Stored<V> {
    /// From a library answer of a row-or-error function; errors other than a known
    /// `not_found` pass through.
    pub(crate) fn from_result(result: Result<V, DbError>) -> Result<Self, DbError> {
        match result {
            Ok(v) => Ok(Self::Found(Arc::new(v))),
            Err(e) => Self::from_error(e),
        }
    }

    /// From a library answer of an optional-row function.
    pub(crate) fn from_option(result: Result<Option<V>, DbError>) -> Result<Self, DbError> {
        match result {
            Ok(Some(v)) => Ok(Self::Found(Arc::new(v))),
            Ok(None) => Ok(Self::Absent),
            Err(e) => Self::from_error(e),
        }
    }

    fn from_error(e: DbError) -> Result<Self, DbError> {
        match e {
            DbError::NotFound { entity } if NOT_FOUND_ENTITIES.contains(&entity) => {
                Ok(Self::NotFound(entity.to_owned()))
            }
            other => Err(other),
        }
    }

    /// True for the negative answers (shorter TTL).
    pub(crate) fn is_negative(&self) -> bool {
        !matches!(self, Self::Found(_))
    }

    /// True when every part is one this cache can give back (a known entity).
    pub(crate) fn is_valid(&self) -> bool {
        match self {
            Self::NotFound(entity) => NOT_FOUND_ENTITIES.contains(&entity.as_str()),
            _ => true,
        }
    }
}

impl<V> Stored<V> {
    /// The library's answer again, the value shared: `Ok(Some)`, `Ok(None)` or the
    /// `not_found` error.
    pub(crate) fn answer(&self) -> Result<Option<Arc<V>>, DbError> {
        match self {
            Self::Found(v) => Ok(Some(Arc::clone(v))),
            Self::Absent => Ok(None),
            Self::NotFound(entity) => {
                let known = NOT_FOUND_ENTITIES.iter().find(|e| **e == entity.as_str());
                Err(match known {
                    Some(entity) => DbError::not_found(entity),
                    // Decoding checks the entity (`is_valid`), so this is never reached.
                    None => DbError::Unexpected {
                        message: "cached not_found names an unknown entity".into(),
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_through_json() -> Result<(), Box<dyn std::error::Error>> {
        for stored in [
            Stored::Found(Arc::new(7)),
            Stored::Absent,
            Stored::from_result(Err::<i32, _>(DbError::not_found("workload")))?,
        ] {
            let json = serde_json::to_string(&stored)?;
            let back: Stored<i32> = serde_json::from_str(&json)?;
            assert_eq!(back, stored);
        }
        assert_eq!(
            serde_json::to_string(&Stored::<i32>::NotFound("template".into()))?,
            r#"{"not_found":"template"}"#
        );
        assert_eq!(
            Stored::<i32>::NotFound("template".into())
                .answer()
                .err()
                .map(|e| e.to_string()),
            Some("not_found: template not found".to_owned())
        );
        Ok(())
    }

    #[test]
    fn other_errors_are_not_cached() {
        let unavailable = DbError::Unavailable {
            message: "down".into(),
        };
        assert!(Stored::<i32>::from_result(Err(unavailable)).is_err());
        assert!(Stored::<i32>::from_result(Err(DbError::not_found("user"))).is_err());
        assert!(!Stored::<i32>::NotFound("user".into()).is_valid());
    }
}
