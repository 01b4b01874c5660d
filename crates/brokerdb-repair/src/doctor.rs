//! The schema doctor: the live schema against the one the migrations promise
//! ([`crate::expected`]), object by object. Each drift names the playbook that repairs it, or
//! none when no playbook may (a missing table or constraint, an extra policy: those need a
//! person, since playbooks never drop or rewrite data).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::generate::{RUNNER_TABLES, granted_roles};
use crate::inspect::Snapshot;

/// The playbook that restores indexes.
pub const INDEXES: &str = "R-001";
/// The playbook that restores row-level security and policies.
pub const ROW_LEVEL_SECURITY: &str = "R-002";
/// The playbook that restores functions and triggers.
pub const FUNCTIONS_AND_TRIGGERS: &str = "R-003";
/// The playbook that restores privileges.
pub const GRANTS: &str = "R-004";

/// One difference between the live schema and the expected one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// What kind of object (`table`, `column`, `index`, `constraint`, `rls`, `policy`,
    /// `trigger`, `function`, `grant`, `enum`).
    pub kind: &'static str,
    /// The object, e.g. `idx_jobs_finished` or `human_users.tenant_isolation`.
    pub object: String,
    /// What differs, e.g. `missing`, `disabled`, `unexpected`.
    pub detail: String,
    /// The playbook that repairs it, if one does.
    pub playbook: Option<&'static str>,
}

/// Every drift found, sorted by kind and object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// The drifts.
    pub drifts: Vec<Drift>,
}

impl DoctorReport {
    /// No drift.
    pub fn is_clean(&self) -> bool {
        self.drifts.is_empty()
    }

    /// The playbooks that repair something here, sorted.
    pub fn playbooks(&self) -> BTreeSet<&'static str> {
        self.drifts.iter().filter_map(|d| d.playbook).collect()
    }
}

struct Report(Vec<Drift>);

impl Report {
    fn add(
        &mut self,
        kind: &'static str,
        object: impl Into<String>,
        detail: impl Into<String>,
        playbook: Option<&'static str>,
    ) {
        self.0.push(Drift {
            kind,
            object: object.into(),
            detail: detail.into(),
            playbook,
        });
    }
}

/// Compares `live` with `expected`.
pub fn diagnose(expected: &Snapshot, live: &Snapshot) -> DoctorReport {
    let mut r = Report(Vec::new());
    tables(&mut r, expected, live);
    indexes(&mut r, expected, live);
    constraints(&mut r, expected, live);
    policies(&mut r, expected, live);
    triggers(&mut r, expected, live);
    functions(&mut r, expected, live);
    grants(&mut r, expected, live);
    enums(&mut r, expected, live);
    let mut drifts = r.0;
    drifts.sort();
    DoctorReport { drifts }
}

fn tables(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (name, want) in &expected.tables {
        let Some(have) = live.tables.get(name) else {
            r.add("table", name, "missing", None);
            continue;
        };
        for (column, want_col) in &want.columns {
            match have.columns.get(column) {
                None => r.add("column", format!("{name}.{column}"), "missing", None),
                Some(have_col) if have_col != want_col => r.add(
                    "column",
                    format!("{name}.{column}"),
                    format!(
                        "differs: expected {} {}{}, found {} {}{}",
                        want_col.data_type,
                        if want_col.not_null {
                            "NOT NULL"
                        } else {
                            "NULL"
                        },
                        default_text(want_col.default.as_deref()),
                        have_col.data_type,
                        if have_col.not_null {
                            "NOT NULL"
                        } else {
                            "NULL"
                        },
                        default_text(have_col.default.as_deref()),
                    ),
                    None,
                ),
                Some(_) => {}
            }
        }
        for column in have
            .columns
            .keys()
            .filter(|c| !want.columns.contains_key(*c))
        {
            r.add("column", format!("{name}.{column}"), "unexpected", None);
        }
        if want.rls_enabled && !have.rls_enabled {
            r.add(
                "rls",
                name,
                "row-level security disabled",
                Some(ROW_LEVEL_SECURITY),
            );
        }
        if want.rls_forced && !have.rls_forced {
            r.add(
                "rls",
                name,
                "row-level security not forced",
                Some(ROW_LEVEL_SECURITY),
            );
        }
    }
}

fn default_text(default: Option<&str>) -> String {
    default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default()
}

fn indexes(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (name, want) in &expected.indexes {
        let playbook = (!want.constraint).then_some(INDEXES);
        match live.indexes.get(name) {
            None => r.add("index", name, "missing", playbook),
            Some(have) if have.definition != want.definition => r.add(
                "index",
                name,
                format!(
                    "definition differs: expected `{}`, found `{}`",
                    want.definition, have.definition
                ),
                None,
            ),
            Some(_) => {}
        }
    }
}

fn constraints(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (name, want) in &expected.constraints {
        match live.constraints.get(name) {
            None => r.add("constraint", name, "missing", None),
            Some(have) if have != want => r.add(
                "constraint",
                name,
                format!("differs: expected `{want}`, found `{have}`"),
                None,
            ),
            Some(_) => {}
        }
    }
    for name in live
        .constraints
        .keys()
        .filter(|k| !expected.constraints.contains_key(*k))
    {
        r.add("constraint", name, "unexpected", None);
    }
}

fn policies(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (name, want) in &expected.policies {
        match live.policies.get(name) {
            None => r.add("policy", name, "missing", Some(ROW_LEVEL_SECURITY)),
            Some(have) if have.command != want.command || have.permissive != want.permissive => r
                .add(
                    "policy",
                    name,
                    format!(
                        "command or kind differs: expected {} {}, found {} {}",
                        if want.permissive {
                            "PERMISSIVE"
                        } else {
                            "RESTRICTIVE"
                        },
                        want.command,
                        if have.permissive {
                            "PERMISSIVE"
                        } else {
                            "RESTRICTIVE"
                        },
                        have.command
                    ),
                    None,
                ),
            Some(have) if have != want => r.add(
                "policy",
                name,
                "roles or expressions differ",
                Some(ROW_LEVEL_SECURITY),
            ),
            Some(_) => {}
        }
    }
    for name in live
        .policies
        .keys()
        .filter(|k| !expected.policies.contains_key(*k))
    {
        r.add("policy", name, "unexpected (remove it by hand)", None);
    }
}

fn triggers(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (name, want) in &expected.triggers {
        match live.triggers.get(name) {
            None => r.add("trigger", name, "missing", Some(FUNCTIONS_AND_TRIGGERS)),
            Some(have) if have.definition != want.definition => r.add(
                "trigger",
                name,
                format!("definition differs: found `{}`", have.definition),
                None,
            ),
            Some(have) if have.enabled != want.enabled => r.add(
                "trigger",
                name,
                if have.is_enabled() {
                    "enabled differently"
                } else {
                    "disabled"
                },
                Some(FUNCTIONS_AND_TRIGGERS),
            ),
            Some(_) => {}
        }
    }
    for name in live
        .triggers
        .keys()
        .filter(|k| !expected.triggers.contains_key(*k))
    {
        r.add("trigger", name, "unexpected (remove it by hand)", None);
    }
}

fn functions(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (signature, want) in &expected.functions {
        match live.functions.get(signature) {
            None => r.add(
                "function",
                signature,
                "missing",
                Some(FUNCTIONS_AND_TRIGGERS),
            ),
            Some(have) if have.config != want.config => r.add(
                "function",
                signature,
                format!(
                    "settings differ (search_path): expected [{}], found [{}]",
                    want.config.join(", "),
                    have.config.join(", ")
                ),
                Some(FUNCTIONS_AND_TRIGGERS),
            ),
            Some(have) if have.security_definer != want.security_definer => r.add(
                "function",
                signature,
                "SECURITY DEFINER differs",
                Some(FUNCTIONS_AND_TRIGGERS),
            ),
            Some(have) if have.definition != want.definition => r.add(
                "function",
                signature,
                "body differs",
                Some(FUNCTIONS_AND_TRIGGERS),
            ),
            Some(_) => {}
        }
    }
    for (signature, have) in &live.functions {
        if !expected.functions.contains_key(signature) {
            let detail = if have.security_definer {
                "unexpected SECURITY DEFINER function (remove it by hand)"
            } else {
                "unexpected (remove it by hand)"
            };
            r.add("function", signature, detail, None);
        }
    }
}

fn grants(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    let reset = granted_roles(expected);
    let none = BTreeSet::new();
    let objects: BTreeSet<&String> = expected.grants.keys().chain(live.grants.keys()).collect();
    for object in objects {
        // Privileges of objects R-004 does not cover (another schema's) are out of scope.
        let want = expected.grants.get(object).unwrap_or(&none);
        let have = live.grants.get(object).unwrap_or(&none);
        for grant in want.difference(have) {
            r.add(
                "grant",
                format!("{object} {grant}"),
                "missing",
                Some(GRANTS),
            );
        }
        for grant in have.difference(want) {
            let role = grant.split_once(':').map(|(role, _)| role).unwrap_or(grant);
            let playbook =
                (managed(object) && (role == "PUBLIC" || reset.contains(role))).then_some(GRANTS);
            let detail = if playbook.is_some() {
                "unexpected"
            } else {
                "unexpected (a role the playbooks do not manage: revoke it by hand)"
            };
            r.add("grant", format!("{object} {grant}"), detail, playbook);
        }
    }
}

/// Whether R-004 manages the privileges of `object` (not those of the migration runner's
/// tables).
fn managed(object: &str) -> bool {
    let table = object.strip_prefix("table:").or_else(|| {
        object
            .strip_prefix("column:")
            .and_then(|c| c.split_once('.').map(|(t, _)| t))
    });
    !table.is_some_and(|t| RUNNER_TABLES.contains(&t))
}

fn enums(r: &mut Report, expected: &Snapshot, live: &Snapshot) {
    for (name, labels) in &expected.enums {
        match live.enums.get(name) {
            None => r.add("enum", name, "missing", None),
            Some(have) if have != labels => r.add(
                "enum",
                name,
                format!(
                    "labels differ: expected [{}], found [{}]",
                    labels.join(", "),
                    have.join(", ")
                ),
                None,
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Column, Index, Table, Trigger};

    fn base() -> Snapshot {
        let mut s = Snapshot::default();
        let mut table = Table {
            rls_enabled: true,
            rls_forced: true,
            ..Table::default()
        };
        table.columns.insert(
            "a".into(),
            Column {
                data_type: "text".into(),
                not_null: true,
                default: None,
            },
        );
        s.tables.insert("t".into(), table);
        s.indexes.insert(
            "i".into(),
            Index {
                table: "t".into(),
                definition: "CREATE INDEX i ON public.t USING btree (a)".into(),
                constraint: false,
            },
        );
        s.triggers.insert(
            "t.g".into(),
            Trigger {
                table: "t".into(),
                name: "g".into(),
                definition: "CREATE TRIGGER g …".into(),
                enabled: "O".into(),
            },
        );
        s.grants
            .entry("table:t".into())
            .or_default()
            .insert("brokerdb_app:SELECT".into());
        s
    }

    #[test]
    fn the_same_schema_is_clean() {
        assert!(diagnose(&base(), &base()).is_clean());
    }

    #[test]
    fn each_drift_names_its_playbook() {
        let expected = base();
        let mut live = base();
        live.indexes.clear();
        if let Some(t) = live.tables.get_mut("t") {
            t.rls_enabled = false;
        }
        if let Some(g) = live.triggers.get_mut("t.g") {
            g.enabled = "D".into();
        }
        live.grants
            .entry("table:t".into())
            .or_default()
            .insert("brokerdb_app:DELETE".into());
        live.grants
            .entry("table:t".into())
            .or_default()
            .insert("mallory:SELECT".into());
        let report = diagnose(&expected, &live);
        let found: Vec<(&str, &str, &str, Option<&str>)> = report
            .drifts
            .iter()
            .map(|d| (d.kind, d.object.as_str(), d.detail.as_str(), d.playbook))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "grant",
                    "table:t brokerdb_app:DELETE",
                    "unexpected",
                    Some(GRANTS)
                ),
                (
                    "grant",
                    "table:t mallory:SELECT",
                    "unexpected (a role the playbooks do not manage: revoke it by hand)",
                    None
                ),
                ("index", "i", "missing", Some(INDEXES)),
                (
                    "rls",
                    "t",
                    "row-level security disabled",
                    Some(ROW_LEVEL_SECURITY)
                ),
                ("trigger", "t.g", "disabled", Some(FUNCTIONS_AND_TRIGGERS)),
            ]
        );
        assert_eq!(
            report.playbooks().into_iter().collect::<Vec<_>>(),
            [INDEXES, ROW_LEVEL_SECURITY, FUNCTIONS_AND_TRIGGERS, GRANTS]
        );
    }

    #[test]
    fn a_missing_table_or_column_has_no_playbook() {
        let expected = base();
        let mut live = base();
        if let Some(t) = live.tables.get_mut("t") {
            t.columns.clear();
        }
        let report = diagnose(&expected, &live);
        assert_eq!(report.drifts.len(), 1);
        assert_eq!(report.drifts[0].playbook, None);
        live.tables.clear();
        let report = diagnose(&expected, &live);
        assert!(
            report
                .drifts
                .iter()
                .any(|d| d.kind == "table" && d.playbook.is_none())
        );
    }
}
