//! How the shipped playbooks are made: each is generated from the expected schema
//! ([`crate::expected`]), written under `playbooks/` and reviewed like a migration. A test
//! checks that the files are what this module makes of `schema/expected.json`
//! (`BROKERDB_BLESS=1` rewrites them).
//!
//! - `R-001` restores every index that no constraint owns (`CREATE [UNIQUE] INDEX IF NOT
//!   EXISTS`, the expected definition).
//! - `R-002` enables and forces row-level security where expected, creates each missing policy
//!   (`DO` block, `IF NOT EXISTS`) and resets every policy's roles and expressions
//!   (`ALTER POLICY`).
//! - `R-003` restores every function (`CREATE OR REPLACE FUNCTION`, the expected definition,
//!   including `SECURITY DEFINER` and its `search_path`), creates each missing trigger (`DO`
//!   block) and enables every trigger.
//! - `R-004` restores the runtime roles' privileges: revokes everything of `PUBLIC` and the
//!   roles that hold expected privileges on the schema's tables (but the migration runner's
//!   own, [`RUNNER_TABLES`]), sequences and functions, then grants exactly the expected ones,
//!   in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::inspect::Snapshot;

/// A generated playbook file: its name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookFile {
    /// The file name under `playbooks/`.
    pub name: &'static str,
    /// The file's text.
    pub text: String,
}

/// An identifier, double-quoted unless it is a plain lower-case name.
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

struct Builder {
    id: &'static str,
    title: &'static str,
    description: &'static [&'static str],
    before: BTreeSet<String>,
    after: Vec<String>,
    statements: Vec<String>,
}

impl Builder {
    fn new(id: &'static str, title: &'static str, description: &'static [&'static str]) -> Self {
        Self {
            id,
            title,
            description,
            before: BTreeSet::new(),
            after: Vec::new(),
            statements: Vec::new(),
        }
    }

    fn finish(self, name: &'static str) -> PlaybookFile {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "-- Generated from schema/expected.json by brokerdb-repair's `generate` module;"
        );
        let _ = writeln!(
            text,
            "-- regenerate with BROKERDB_BLESS=1 (README: database repair console), never edit by hand."
        );
        let _ = writeln!(text, "-- id: {}", self.id);
        let _ = writeln!(text, "-- title: {}", self.title);
        for line in self.description {
            let _ = writeln!(text, "-- description: {line}");
        }
        for object in &self.before {
            let _ = writeln!(text, "-- required_before: {object}");
        }
        for object in &self.after {
            let _ = writeln!(text, "-- required_after: {object}");
        }
        for statement in &self.statements {
            text.push('\n');
            text.push_str(statement.trim_end());
            text.push_str(";\n");
        }
        PlaybookFile { name, text }
    }
}

/// The four playbooks of this schema.
pub fn playbooks(expected: &Snapshot) -> Vec<PlaybookFile> {
    vec![
        indexes(expected),
        row_level_security(expected),
        functions_and_triggers(expected),
        grants(expected),
    ]
}

fn indexes(expected: &Snapshot) -> PlaybookFile {
    let mut b = Builder::new(
        "R-001",
        "Restore every expected index",
        &[
            "Creates each index the migrations define that is missing (CREATE INDEX IF NOT EXISTS with the migrations' definition).",
            "Indexes owned by a constraint (primary keys, unique constraints) are not covered: the doctor reports them for a manual fix.",
            "An index that exists under its name is left as it is, even if its definition differs.",
        ],
    );
    for (name, index) in expected.indexes.iter().filter(|(_, i)| !i.constraint) {
        let definition = if let Some(rest) = index.definition.strip_prefix("CREATE UNIQUE INDEX ") {
            format!("CREATE UNIQUE INDEX IF NOT EXISTS {rest}")
        } else if let Some(rest) = index.definition.strip_prefix("CREATE INDEX ") {
            format!("CREATE INDEX IF NOT EXISTS {rest}")
        } else {
            continue;
        };
        b.before.insert(format!("table:{}", index.table));
        b.after.push(format!("index:{name}"));
        b.statements.push(definition);
    }
    b.finish("R-001_restore_indexes.sql")
}

fn row_level_security(expected: &Snapshot) -> PlaybookFile {
    let mut b = Builder::new(
        "R-002",
        "Restore row-level security and its policies",
        &[
            "Enables and forces row-level security on every table where the migrations do, creates each missing policy,",
            "and resets every expected policy's roles and expressions (ALTER POLICY).",
            "A policy the migrations do not define is not removed: the doctor reports it for a manual fix.",
        ],
    );
    for (name, table) in &expected.tables {
        let t = format!("public.{}", ident(name));
        if table.rls_enabled {
            b.before.insert(format!("table:{name}"));
            b.statements
                .push(format!("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"));
        }
        if table.rls_forced {
            b.statements
                .push(format!("ALTER TABLE {t} FORCE ROW LEVEL SECURITY"));
        }
        if table.rls_enabled && table.rls_forced {
            b.after.push(format!("rls:{name}"));
        }
    }
    for policy in expected.policies.values() {
        let t = format!("public.{}", ident(&policy.table));
        let roles = policy
            .roles
            .iter()
            .map(|r| if r == "PUBLIC" { r.clone() } else { ident(r) })
            .collect::<Vec<_>>()
            .join(", ");
        let mut clauses = format!(" TO {roles}");
        if let Some(using) = &policy.using {
            let _ = write!(clauses, " USING {using}");
        }
        if let Some(check) = &policy.with_check {
            let _ = write!(clauses, " WITH CHECK {check}");
        }
        let kind = if policy.permissive {
            "PERMISSIVE"
        } else {
            "RESTRICTIVE"
        };
        b.before.insert(format!("table:{}", policy.table));
        b.after
            .push(format!("policy:{}.{}", policy.table, policy.name));
        b.statements.push(format!(
            "DO $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy\n                   WHERE polname = {} AND polrelid = {}::regclass) THEN\n        CREATE POLICY {} ON {t} AS {kind} FOR {}{clauses};\n    END IF;\nEND\n$$",
            literal(&policy.name),
            literal(&t),
            ident(&policy.name),
            policy.command,
        ));
        b.statements.push(format!(
            "ALTER POLICY {} ON {t}{clauses}",
            ident(&policy.name)
        ));
    }
    b.finish("R-002_restore_row_level_security.sql")
}

fn functions_and_triggers(expected: &Snapshot) -> PlaybookFile {
    let mut b = Builder::new(
        "R-003",
        "Restore functions and triggers",
        &[
            "Recreates every function the migrations define (CREATE OR REPLACE FUNCTION, with SECURITY DEFINER and search_path as defined),",
            "creates each missing trigger (the append-only guards, the audit queue, the updated_at stamps) and enables every trigger.",
            "A trigger the migrations do not define is not removed: the doctor reports it for a manual fix.",
        ],
    );
    for function in expected.functions.values() {
        b.after.push(format!("function:{}", function.name));
        b.statements.push(function.definition.clone());
    }
    b.after.dedup();
    for trigger in expected.triggers.values() {
        let t = format!("public.{}", ident(&trigger.table));
        b.before.insert(format!("table:{}", trigger.table));
        b.after
            .push(format!("trigger:{}.{}", trigger.table, trigger.name));
        b.statements.push(format!(
            "DO $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger\n                   WHERE tgname = {} AND tgrelid = {}::regclass) THEN\n        {};\n    END IF;\nEND\n$$",
            literal(&trigger.name),
            literal(&t),
            trigger.definition,
        ));
        let always = if trigger.enabled == "A" {
            "ALWAYS "
        } else {
            ""
        };
        b.statements.push(format!(
            "ALTER TABLE {t} ENABLE {always}TRIGGER {}",
            ident(&trigger.name)
        ));
    }
    b.finish("R-003_restore_functions_and_triggers.sql")
}

/// The migration runner's own tables: they belong to whoever ran the migrations, not to
/// `brokerdb_owner`, so the playbooks (which run as `brokerdb_owner`) leave them alone.
pub const RUNNER_TABLES: [&str; 2] = ["brokerdb_migration_lock", "brokerdb_schema_migrations"];

/// The roles whose privileges R-004 resets: every grantee of an expected privilege.
pub fn granted_roles(expected: &Snapshot) -> BTreeSet<String> {
    expected
        .grants
        .values()
        .flatten()
        .filter_map(|g| g.split_once(':').map(|(role, _)| role.to_owned()))
        .filter(|r| r != "PUBLIC")
        .collect()
}

fn grants(expected: &Snapshot) -> PlaybookFile {
    let mut b = Builder::new(
        "R-004",
        "Restore the runtime roles' privileges",
        &[
            "Revokes every privilege of PUBLIC and of the runtime roles on the schema's tables, sequences and functions,",
            "then grants exactly the privileges the migrations define, table by table and column by column, in one transaction.",
            "Privileges of other roles are not touched: the doctor reports them for a manual fix.",
        ],
    );
    let mut from = vec!["PUBLIC".to_owned()];
    from.extend(granted_roles(expected).iter().map(|r| ident(r)));
    let from = from.join(", ");
    let tables = expected
        .tables
        .keys()
        .filter(|t| !RUNNER_TABLES.contains(&t.as_str()))
        .map(|t| format!("public.{}", ident(t)))
        .collect::<Vec<_>>()
        .join(", ");
    b.statements
        .push(format!("REVOKE ALL ON {tables} FROM {from}"));
    for kind in ["SEQUENCES", "FUNCTIONS"] {
        b.statements.push(format!(
            "REVOKE ALL ON ALL {kind} IN SCHEMA public FROM {from}"
        ));
    }
    // (object kind, object, role) → privileges; columns grouped by (table, role, privilege).
    let mut whole: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut columns: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for (object, held) in &expected.grants {
        for grant in held {
            let Some((role, privilege)) = grant.split_once(':') else {
                continue;
            };
            if let Some(column) = object.strip_prefix("column:") {
                if let Some((table, column)) = column.split_once('.') {
                    columns
                        .entry((table.to_owned(), role.to_owned(), privilege.to_owned()))
                        .or_default()
                        .push(ident(column));
                }
            } else {
                whole
                    .entry((object.clone(), role.to_owned()))
                    .or_default()
                    .insert(privilege.to_owned());
            }
        }
    }
    for ((object, role), privileges) in &whole {
        if object
            .strip_prefix("table:")
            .is_some_and(|t| RUNNER_TABLES.contains(&t))
        {
            continue;
        }
        let grantee = ident(role);
        let list = privileges.iter().cloned().collect::<Vec<_>>().join(", ");
        let target = if let Some(table) = object.strip_prefix("table:") {
            b.before.insert(format!("table:{table}"));
            for privilege in privileges {
                b.after.push(format!("grant:{role}:{privilege}:{table}"));
            }
            format!("public.{}", ident(table))
        } else if let Some(sequence) = object.strip_prefix("sequence:") {
            format!("SEQUENCE public.{}", ident(sequence))
        } else if let Some(function) = object.strip_prefix("function:") {
            format!("FUNCTION public.{function}")
        } else {
            continue;
        };
        b.statements
            .push(format!("GRANT {list} ON {target} TO {grantee}"));
    }
    for ((table, role, privilege), cols) in &columns {
        b.before.insert(format!("table:{table}"));
        b.statements.push(format!(
            "GRANT {privilege} ({}) ON public.{} TO {}",
            cols.join(", "),
            ident(table),
            ident(role)
        ));
    }
    b.finish("R-004_restore_grants.sql")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_unless_plain() {
        assert_eq!(ident("human_users"), "human_users");
        assert_eq!(ident("timestamp"), "timestamp");
        assert_eq!(ident("Mixed"), "\"Mixed\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(ident("1a"), "\"1a\"");
    }

    #[test]
    fn the_shipped_playbooks_are_generated_from_the_expected_schema()
    -> Result<(), crate::RepairError> {
        let expected = crate::expected::expected()?;
        for file in playbooks(expected) {
            let shipped = crate::playbook::shipped_file(file.name);
            assert!(
                shipped == Some(file.text.as_str()),
                "playbooks/{} is not what schema/expected.json makes: run the repair crate's tests with BROKERDB_BLESS=1 and review the diff",
                file.name
            );
        }
        Ok(())
    }
}
