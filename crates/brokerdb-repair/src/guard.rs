//! The console's guards, checked in this order and failing closed:
//!
//! 1. **authentication**: a principal must be known (401 `unauthenticated`);
//! 2. **environment**: `BROKERDB_ENV` must be `staging` or `development`; `production`, unset or
//!    anything else is 409 `ENV_DISABLED`;
//! 3. **authorization**: the principal must be in `BROKERDB_REPAIR_ADMINS` (comma-separated);
//!    an empty or missing list denies everyone (403 `forbidden`);
//! 4. on execute only, the caller's expected hash must equal the registry's (409
//!    `HASH_MISMATCH`), see [`check_hash`].
//!
//! A request that fails several guards gets the first one's error.

use std::collections::BTreeSet;

use crate::playbook::Playbook;

/// The variable that names the deployment environment (read by the binary, never by this
/// library).
pub const ENV_VAR: &str = "BROKERDB_ENV";
/// The variable that lists the principals allowed to use the console (read by the binary).
pub const ADMINS_VAR: &str = "BROKERDB_REPAIR_ADMINS";
/// The environments where the console works.
pub const ALLOWED_ENVS: [&str; 2] = ["staging", "development"];

/// Why a guard refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No authenticated principal.
    #[error("authentication is required")]
    Unauthenticated,
    /// The deployment environment does not allow repairs.
    #[error(
        "the repair console is disabled in this environment ({env}); it works only where BROKERDB_ENV is staging or development"
    )]
    EnvDisabled {
        /// The environment as configured (`unset` when it is not).
        env: String,
    },
    /// The principal is not a repair admin.
    #[error("this principal is not allowed to run repairs (BROKERDB_REPAIR_ADMINS)")]
    Forbidden,
    /// The caller's hash is not the playbook's.
    #[error(
        "the expected hash does not match playbook {id}'s hash; preview it again and confirm the current hash"
    )]
    HashMismatch {
        /// The playbook's id.
        id: String,
    },
}

impl GuardError {
    /// The HTTP status of this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::EnvDisabled { .. } | Self::HashMismatch { .. } => 409,
            Self::Forbidden => 403,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::EnvDisabled { .. } => "ENV_DISABLED",
            Self::Forbidden => "forbidden",
            Self::HashMismatch { .. } => "HASH_MISMATCH",
        }
    }
}

/// The environment and the admin allowlist, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guards {
    env: Option<String>,
    admins: BTreeSet<String>,
}

impl Guards {
    /// Guards from an environment name and a comma-separated admin list (blank entries are
    /// ignored; surrounding spaces trimmed).
    pub fn new(env: Option<&str>, admins: Option<&str>) -> Self {
        let env = env
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        let admins = admins
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        Self { env, admins }
    }

    /// The deployment environment as recorded in the ledger (`unset` when none is set).
    pub fn deployment_env(&self) -> &str {
        self.env.as_deref().unwrap_or("unset")
    }

    /// Whether the environment allows repairs at all.
    pub fn env_allows(&self) -> bool {
        self.env
            .as_deref()
            .is_some_and(|e| ALLOWED_ENVS.contains(&e))
    }

    /// Guards 1–3 for `principal` (trimmed; blank is no principal). Returns the principal.
    pub fn check<'a>(&self, principal: Option<&'a str>) -> Result<&'a str, GuardError> {
        let principal = principal
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or(GuardError::Unauthenticated)?;
        if !self.env_allows() {
            return Err(GuardError::EnvDisabled {
                env: self.deployment_env().to_owned(),
            });
        }
        if !self.admins.contains(principal) {
            return Err(GuardError::Forbidden);
        }
        Ok(principal)
    }
}

/// Guard 4: `expected` (hex, case-insensitive, trimmed) must be the playbook's hash.
pub fn check_hash(playbook: &Playbook, expected: &str) -> Result<(), GuardError> {
    if expected.trim().eq_ignore_ascii_case(&playbook.hash) {
        Ok(())
    } else {
        Err(GuardError::HashMismatch {
            id: playbook.id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staging(admins: &str) -> Guards {
        Guards::new(Some("staging"), Some(admins))
    }

    #[test]
    fn no_principal_is_refused_first_whatever_else_fails() {
        for guards in [
            Guards::new(None, None),
            Guards::new(Some("production"), Some("alice")),
            staging(""),
        ] {
            assert_eq!(guards.check(None), Err(GuardError::Unauthenticated));
            assert_eq!(guards.check(Some("  ")), Err(GuardError::Unauthenticated));
        }
    }

    #[test]
    fn only_staging_and_development_are_enabled() {
        for env in [
            None,
            Some("production"),
            Some("prod"),
            Some("Staging"),
            Some(""),
        ] {
            let guards = Guards::new(env, Some("alice"));
            let err = guards.check(Some("alice")).err();
            assert!(
                matches!(err, Some(GuardError::EnvDisabled { .. })),
                "{env:?}: {err:?}"
            );
            assert_eq!(err.map(|e| e.status()), Some(409));
        }
        for env in ["staging", "development"] {
            let guards = Guards::new(Some(env), Some("alice"));
            assert_eq!(guards.check(Some("alice")), Ok("alice"));
        }
    }

    #[test]
    fn an_empty_or_missing_allowlist_denies_everyone() {
        for admins in [None, Some(""), Some(" , ,")] {
            let guards = Guards::new(Some("staging"), admins);
            assert_eq!(guards.check(Some("alice")), Err(GuardError::Forbidden));
        }
        let guards = staging(" alice , bob ");
        assert_eq!(guards.check(Some("bob")), Ok("bob"));
        assert_eq!(guards.check(Some("carol")), Err(GuardError::Forbidden));
        assert_eq!(guards.check(Some("Alice")), Err(GuardError::Forbidden));
    }

    #[test]
    fn environment_comes_before_authorization() {
        let guards = Guards::new(Some("production"), None);
        assert!(matches!(
            guards.check(Some("mallory")),
            Err(GuardError::EnvDisabled { .. })
        ));
    }

    #[test]
    fn statuses_and_codes() {
        let cases = [
            (GuardError::Unauthenticated, 401, "unauthenticated"),
            (
                GuardError::EnvDisabled {
                    env: "unset".into(),
                },
                409,
                "ENV_DISABLED",
            ),
            (GuardError::Forbidden, 403, "forbidden"),
            (
                GuardError::HashMismatch { id: "R-001".into() },
                409,
                "HASH_MISMATCH",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status(), err.code()), (status, code));
        }
    }
}
