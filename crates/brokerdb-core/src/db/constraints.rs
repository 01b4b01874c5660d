//! What each constraint of the schema guards, named as the API names it.
//!
//! Errors carry the field, never the constraint: constraint names are schema internals, and a
//! constraint name can tell a caller more than the field does (`…_pending_per_principal`). The
//! name is logged at debug level where the error is mapped.
//!
//! The core knows no domain's tables: each domain crate (and the core itself, for its job
//! queue) declares its tables and the fields its constraints guard in a [`ConstraintFields`],
//! submitted with [`inventory::submit!`](crate::inventory::submit) so it is found wherever the
//! crate is linked. Names follow one convention — `uq_<table>_<what>`, `ck_<table>_<what>`,
//! `fk_<table>_<parent>`, `<table>_pkey` — and the rules below need a table only where the name
//! alone does not say the field.

/// One domain's constraint vocabulary. Submit it once per crate:
///
/// ```
/// use brokerdb_core::db::ConstraintFields;
///
/// brokerdb_core::inventory::submit! {
///     ConstraintFields {
///         tables: &["widgets"],
///         unique: &[("uq_widgets_tenant_name", "name")],
///         checks: &[("weight_positive", "weight")],
///         foreign_keys: &[("widget", "widget_id")],
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ConstraintFields {
    /// The domain's table names (`ck_<table>_<what>` is split on them).
    pub tables: &'static [&'static str],
    /// Unique constraint or index name → the field (or comma-separated fields) it guards.
    pub unique: &'static [(&'static str, &'static str)],
    /// `<what>` of a `ck_<table>_<what>` → the field, where the generic rule (strip `_non_empty`,
    /// `_format`, `_length`) does not give it; `"row"` for rules over several columns.
    pub checks: &'static [(&'static str, &'static str)],
    /// `<parent>` of an `fk_<table>_<parent>`, or a whole foreign-key name → the field it holds
    /// (the parent's business key).
    pub foreign_keys: &'static [(&'static str, &'static str)],
}

inventory::collect!(ConstraintFields);

/// The core's own table, the job queue (created by the broker's migration 0018).
const CORE: ConstraintFields = ConstraintFields {
    tables: &["brokerdb_schema_migrations", "jobs"],
    unique: &[("uq_jobs_queue_dedupe_key_unfinished", "dedupe_key")],
    checks: &[
        ("payload_size", "payload"),
        ("lease", "row"),
        ("finished", "row"),
    ],
    foreign_keys: &[],
};

inventory::submit! { CORE }

/// The kind of a constraint, for [`constraint_field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// A unique constraint or unique index (and primary keys).
    Unique,
    /// A CHECK constraint.
    Check,
    /// A foreign key.
    ForeignKey,
}

/// The field a violated constraint is reported under in a [`DbError`](crate::db::DbError), as
/// the declared [`ConstraintFields`] say: what a domain crate tests its declaration with.
pub fn constraint_field(kind: ConstraintKind, constraint: &str) -> String {
    match kind {
        ConstraintKind::Unique => unique_field(constraint).to_owned(),
        ConstraintKind::Check => check_field(constraint),
        ConstraintKind::ForeignKey => foreign_key_field(constraint).to_owned(),
    }
}

fn registered() -> impl Iterator<Item = &'static ConstraintFields> {
    inventory::iter::<ConstraintFields>.into_iter()
}

fn lookup(
    pick: fn(&'static ConstraintFields) -> &'static [(&'static str, &'static str)],
    key: &str,
) -> Option<&'static str> {
    registered()
        .flat_map(pick)
        .find(|(k, _)| *k == key)
        .map(|(_, field)| *field)
}

/// The field (or fields, comma-separated) a unique constraint or index guards; `"key"` for one
/// no domain declared (a new constraint should be declared by its domain).
pub(crate) fn unique_field(constraint: &str) -> &'static str {
    if let Some(field) = lookup(|c| c.unique, constraint) {
        return field;
    }
    if constraint.ends_with("_pkey") {
        "id"
    } else {
        "key"
    }
}

/// `<kind>_<table>_<what>` → `<what>`, trying the longest table names first (so a prefix never
/// shadows a longer name).
fn what<'c>(constraint: &'c str, kind: &str) -> Option<&'c str> {
    let rest = constraint.strip_prefix(kind)?;
    let mut tables: Vec<&str> = registered()
        .flat_map(|c| c.tables.iter().copied())
        .collect();
    tables.sort_by_key(|t| std::cmp::Reverse(t.len()));
    tables
        .into_iter()
        .find_map(|t| rest.strip_prefix(t).and_then(|r| r.strip_prefix('_')))
}

/// The field a CHECK constraint guards (`ck_<table>_<what>`), as the API names it; `"row"` for
/// rules over several columns, the table's own bookkeeping, or a constraint of no known table.
pub(crate) fn check_field(constraint: &str) -> String {
    let Some(what) = what(constraint, "ck_") else {
        return "row".to_owned();
    };
    if let Some(field) = lookup(|c| c.checks, what) {
        return field.to_owned();
    }
    what.strip_suffix("_non_empty")
        .or_else(|| what.strip_suffix("_format"))
        .or_else(|| what.strip_suffix("_length"))
        .unwrap_or(what)
        .to_owned()
}

/// The field a foreign key holds (`fk_<table>_<parent>`): the parent's business key;
/// `"reference"` when no domain declared it.
pub(crate) fn foreign_key_field(constraint: &str) -> &'static str {
    if let Some(field) = lookup(|c| c.foreign_keys, constraint) {
        return field;
    }
    what(constraint, "fk_")
        .and_then(|parent| lookup(|c| c.foreign_keys, parent))
        .unwrap_or("reference")
}

#[cfg(test)]
mod tests {
    use super::{ConstraintFields, check_field, foreign_key_field, unique_field};

    inventory::submit! {
        ConstraintFields {
            tables: &["widget_parts", "widgets"],
            unique: &[("uq_widgets_tenant_name", "name")],
            checks: &[("weight_after_size", "weight")],
            foreign_keys: &[("widget", "widget_id"), ("widgets_parent_fkey", "parent")],
        }
    }

    #[test]
    fn unique_constraints_map_to_the_declared_field() {
        assert_eq!(unique_field("uq_widgets_tenant_name"), "name");
        assert_eq!(
            unique_field("uq_jobs_queue_dedupe_key_unfinished"),
            "dedupe_key"
        );
        assert_eq!(unique_field("widgets_pkey"), "id");
        assert_eq!(unique_field("something_new"), "key");
    }

    #[test]
    fn checks_map_by_declaration_or_suffix() {
        for (constraint, field) in [
            ("ck_widgets_weight_after_size", "weight"),
            ("ck_widgets_colour_non_empty", "colour"),
            ("ck_widget_parts_sku_format", "sku"),
            ("ck_widget_parts_label_length", "label"),
            ("ck_jobs_queue_format", "queue"),
            ("ck_jobs_payload_size", "payload"),
            ("ck_jobs_lease", "row"),
            ("not_ours", "row"),
            ("ck_unknown_table_thing", "row"),
        ] {
            assert_eq!(check_field(constraint), field, "{constraint}");
        }
    }

    #[test]
    fn foreign_keys_map_to_the_parent_key() {
        assert_eq!(foreign_key_field("fk_widget_parts_widget"), "widget_id");
        assert_eq!(foreign_key_field("widgets_parent_fkey"), "parent");
        assert_eq!(foreign_key_field("fk_widget_parts_colour"), "reference");
    }
}
