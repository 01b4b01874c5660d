//! The schema objects a playbook requires before it runs and promises after, written
//! `kind:name`: `table:audit_events`, `index:idx_jobs_finished`, `rls:human_users` (row-level
//! security enabled and forced), `policy:human_users.tenant_isolation`,
//! `trigger:audit_events.trg_audit_events_no_update` (present and enabled),
//! `function:brokerdb_forbid_mutation`, `grant:brokerdb_app:SELECT:human_users`.

use std::fmt;
use std::str::FromStr;

/// One schema object a playbook depends on or restores.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectRef {
    /// A table in schema `public`.
    Table(String),
    /// An index in schema `public`.
    Index(String),
    /// Row-level security enabled and forced on a table.
    Rls(String),
    /// A policy on a table.
    Policy {
        /// The table.
        table: String,
        /// The policy's name.
        name: String,
    },
    /// An enabled trigger on a table.
    Trigger {
        /// The table.
        table: String,
        /// The trigger's name.
        name: String,
    },
    /// A function in schema `public` (any signature).
    Function(String),
    /// A table privilege held by a role.
    Grant {
        /// The grantee.
        role: String,
        /// The privilege, upper case (`SELECT`, `INSERT`, …).
        privilege: String,
        /// The table.
        table: String,
    },
}

/// A string that is not a known `kind:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a schema object reference (kind:name): {0}")]
pub struct BadObjectRef(pub String);

impl FromStr for ObjectRef {
    type Err = BadObjectRef;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadObjectRef(s.to_owned());
        let (kind, rest) = s.trim().split_once(':').ok_or_else(bad)?;
        let pair = |rest: &str| {
            rest.split_once('.')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(bad)
        };
        if rest.is_empty() {
            return Err(bad());
        }
        Ok(match kind {
            "table" => Self::Table(rest.to_owned()),
            "index" => Self::Index(rest.to_owned()),
            "rls" => Self::Rls(rest.to_owned()),
            "function" => Self::Function(rest.to_owned()),
            "policy" => {
                let (table, name) = pair(rest)?;
                Self::Policy { table, name }
            }
            "trigger" => {
                let (table, name) = pair(rest)?;
                Self::Trigger { table, name }
            }
            "grant" => {
                let mut parts = rest.splitn(3, ':');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(r), Some(p), Some(t))
                        if !r.is_empty() && !p.is_empty() && !t.is_empty() =>
                    {
                        Self::Grant {
                            role: r.to_owned(),
                            privilege: p.to_ascii_uppercase(),
                            table: t.to_owned(),
                        }
                    }
                    _ => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        })
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(t) => write!(f, "table:{t}"),
            Self::Index(i) => write!(f, "index:{i}"),
            Self::Rls(t) => write!(f, "rls:{t}"),
            Self::Function(n) => write!(f, "function:{n}"),
            Self::Policy { table, name } => write!(f, "policy:{table}.{name}"),
            Self::Trigger { table, name } => write!(f, "trigger:{table}.{name}"),
            Self::Grant {
                role,
                privilege,
                table,
            } => write!(f, "grant:{role}:{privilege}:{table}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip() {
        for s in [
            "table:audit_events",
            "index:idx_jobs_finished",
            "rls:human_users",
            "policy:human_users.tenant_isolation",
            "trigger:audit_events.trg_x",
            "function:brokerdb_forbid_mutation",
            "grant:brokerdb_app:SELECT:human_users",
        ] {
            let parsed: ObjectRef = s.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.to_string(), s);
        }
    }

    #[test]
    fn malformed_references_are_refused() {
        for s in [
            "",
            "table",
            "table:",
            "view:x",
            "policy:x",
            "policy:.x",
            "grant:a:b",
        ] {
            assert!(s.parse::<ObjectRef>().is_err(), "{s}");
        }
    }
}
