//! Reading the live schema of `public` from PostgreSQL's catalogs into a [`Snapshot`]: tables
//! and columns, row-level security, indexes, constraints, policies, triggers, functions (with
//! `SECURITY DEFINER` and their `SET` options such as `search_path`), privileges per role and
//! enum types. Only catalog queries without parameters from input; run as any role that can
//! read the catalogs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::error::RepairError;
use crate::objects::ObjectRef;

/// The schema of `public` as the catalogs describe it. Every map is sorted, so two snapshots
/// of the same schema serialize to the same JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Tables by name.
    pub tables: BTreeMap<String, Table>,
    /// Indexes by name.
    pub indexes: BTreeMap<String, Index>,
    /// Constraint definitions by `table.constraint`.
    pub constraints: BTreeMap<String, String>,
    /// Policies by `table.policy`.
    pub policies: BTreeMap<String, Policy>,
    /// Triggers (not the internal ones of foreign keys) by `table.trigger`.
    pub triggers: BTreeMap<String, Trigger>,
    /// Functions by `name(identity arguments)`.
    pub functions: BTreeMap<String, Function>,
    /// Privileges held by roles other than the object's owner, by object
    /// (`table:t`, `column:t.c`, `sequence:s`, `function:f(args)`), as `role:PRIVILEGE`
    /// (`PUBLIC` for everyone).
    pub grants: BTreeMap<String, BTreeSet<String>>,
    /// Enum types by name, with their labels in order.
    pub enums: BTreeMap<String, Vec<String>>,
}

/// A table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Columns by name.
    pub columns: BTreeMap<String, Column>,
    /// `ENABLE ROW LEVEL SECURITY`.
    pub rls_enabled: bool,
    /// `FORCE ROW LEVEL SECURITY`.
    pub rls_forced: bool,
}

/// A column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Its type, as `format_type` prints it.
    pub data_type: String,
    /// `NOT NULL`.
    pub not_null: bool,
    /// The default expression, if any.
    pub default: Option<String>,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Its table.
    pub table: String,
    /// `pg_get_indexdef`.
    pub definition: String,
    /// Whether a constraint (primary key, unique, exclusion) owns it.
    pub constraint: bool,
}

/// A row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// `PERMISSIVE` (else restrictive).
    pub permissive: bool,
    /// The roles it applies to (`PUBLIC` for all), sorted.
    pub roles: Vec<String>,
    /// The `USING` expression.
    pub using: Option<String>,
    /// The `WITH CHECK` expression.
    pub with_check: Option<String>,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// Its table.
    pub table: String,
    /// Its name.
    pub name: String,
    /// `pg_get_triggerdef`.
    pub definition: String,
    /// `O` (enabled), `D` (disabled), `R` (replica only) or `A` (always).
    pub enabled: String,
}

impl Trigger {
    /// Whether it fires in normal sessions.
    pub fn is_enabled(&self) -> bool {
        self.enabled == "O" || self.enabled == "A"
    }
}

/// A function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// `pg_get_functiondef`: the full `CREATE OR REPLACE FUNCTION` statement.
    pub definition: String,
    /// `SECURITY DEFINER`.
    pub security_definer: bool,
    /// Its `SET` options (e.g. `search_path=pg_catalog, pg_temp`), sorted.
    pub config: Vec<String>,
}

const TABLES: &str = "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')";

const COLUMNS: &str = "SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
            a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid)
     FROM pg_catalog.pg_attribute a
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped";

const INDEXES: &str = "SELECT i.relname, t.relname, pg_catalog.pg_get_indexdef(i.oid),
            EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.oid AND k.conrelid = t.oid)
     FROM pg_catalog.pg_index x
     JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
     JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
     WHERE n.nspname = 'public'";

const CONSTRAINTS: &str = "SELECT t.relname, k.conname, pg_catalog.pg_get_constraintdef(k.oid)
     FROM pg_catalog.pg_constraint k
     JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public'";

const POLICIES: &str = "SELECT t.relname, p.polname,
            CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                          WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
            p.polpermissive,
            ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r)::text END
                  FROM unnest(p.polroles) AS r ORDER BY 1),
            pg_catalog.pg_get_expr(p.polqual, p.polrelid),
            pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)
     FROM pg_catalog.pg_policy p
     JOIN pg_catalog.pg_class t ON t.oid = p.polrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public'";

const TRIGGERS: &str =
    "SELECT t.relname, g.tgname, pg_catalog.pg_get_triggerdef(g.oid), g.tgenabled::text
     FROM pg_catalog.pg_trigger g
     JOIN pg_catalog.pg_class t ON t.oid = g.tgrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND NOT g.tgisinternal";

const FUNCTIONS: &str = "SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid),
            pg_catalog.pg_get_functiondef(p.oid), p.prosecdef,
            COALESCE(ARRAY(SELECT c FROM unnest(p.proconfig) AS c ORDER BY 1), '{}')
     FROM pg_catalog.pg_proc p
     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                       WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')";

/// Privileges of relations (tables, sequences) and of their columns, and of functions, for
/// every grantee but the owner. A missing ACL is the type's default (`acldefault`).
const GRANTS: &str = "SELECT CASE c.relkind WHEN 'S' THEN 'sequence:' ELSE 'table:' END || c.relname,
            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END,
            a.privilege_type
     FROM pg_catalog.pg_class c
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(c.relacl,
         pg_catalog.acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner))) a
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v') AND a.grantee <> c.relowner
     UNION ALL
     SELECT 'column:' || c.relname || '.' || att.attname,
            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END,
            a.privilege_type
     FROM pg_catalog.pg_attribute att
     JOIN pg_catalog.pg_class c ON c.oid = att.attrelid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
     WHERE n.nspname = 'public' AND att.attacl IS NOT NULL AND att.attnum > 0
       AND NOT att.attisdropped AND a.grantee <> c.relowner
     UNION ALL
     SELECT 'function:' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END,
            a.privilege_type
     FROM pg_catalog.pg_proc p
     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     CROSS JOIN LATERAL pg_catalog.aclexplode(COALESCE(p.proacl, pg_catalog.acldefault('f'::\"char\", p.proowner))) a
     WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p') AND a.grantee <> p.proowner
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                       WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')";

const ENUMS: &str = "SELECT t.typname, ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
                                   WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
     FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public' AND t.typtype = 'e'";

/// Reads the snapshot through `client` (in its transaction, if it has one: uncommitted DDL
/// is seen).
pub async fn snapshot(client: &impl GenericClient) -> Result<Snapshot, RepairError> {
    let db = |e: tokio_postgres::Error| RepairError::database(&e);
    let mut snap = Snapshot::default();
    for row in client.query(TABLES, &[]).await.map_err(db)? {
        snap.tables.insert(
            row.try_get(0).map_err(db)?,
            Table {
                columns: BTreeMap::new(),
                rls_enabled: row.try_get(1).map_err(db)?,
                rls_forced: row.try_get(2).map_err(db)?,
            },
        );
    }
    for row in client.query(COLUMNS, &[]).await.map_err(db)? {
        let table: String = row.try_get(0).map_err(db)?;
        let column = Column {
            data_type: row.try_get(2).map_err(db)?,
            not_null: row.try_get(3).map_err(db)?,
            default: row.try_get(4).map_err(db)?,
        };
        if let Some(t) = snap.tables.get_mut(&table) {
            t.columns.insert(row.try_get(1).map_err(db)?, column);
        }
    }
    for row in client.query(INDEXES, &[]).await.map_err(db)? {
        snap.indexes.insert(
            row.try_get(0).map_err(db)?,
            Index {
                table: row.try_get(1).map_err(db)?,
                definition: row.try_get(2).map_err(db)?,
                constraint: row.try_get(3).map_err(db)?,
            },
        );
    }
    for row in client.query(CONSTRAINTS, &[]).await.map_err(db)? {
        let (table, name): (String, String) =
            (row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
        snap.constraints
            .insert(format!("{table}.{name}"), row.try_get(2).map_err(db)?);
    }
    for row in client.query(POLICIES, &[]).await.map_err(db)? {
        let policy = Policy {
            table: row.try_get(0).map_err(db)?,
            name: row.try_get(1).map_err(db)?,
            command: row.try_get(2).map_err(db)?,
            permissive: row.try_get(3).map_err(db)?,
            roles: row.try_get(4).map_err(db)?,
            using: row.try_get(5).map_err(db)?,
            with_check: row.try_get(6).map_err(db)?,
        };
        snap.policies
            .insert(format!("{}.{}", policy.table, policy.name), policy);
    }
    for row in client.query(TRIGGERS, &[]).await.map_err(db)? {
        let trigger = Trigger {
            table: row.try_get(0).map_err(db)?,
            name: row.try_get(1).map_err(db)?,
            definition: row.try_get(2).map_err(db)?,
            enabled: row.try_get(3).map_err(db)?,
        };
        snap.triggers
            .insert(format!("{}.{}", trigger.table, trigger.name), trigger);
    }
    for row in client.query(FUNCTIONS, &[]).await.map_err(db)? {
        let (name, args): (String, String) =
            (row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
        snap.functions.insert(
            format!("{name}({args})"),
            Function {
                name,
                definition: row.try_get(2).map_err(db)?,
                security_definer: row.try_get(3).map_err(db)?,
                config: row.try_get(4).map_err(db)?,
            },
        );
    }
    for row in client.query(GRANTS, &[]).await.map_err(db)? {
        let (object, role, privilege): (String, String, String) = (
            row.try_get(0).map_err(db)?,
            row.try_get(1).map_err(db)?,
            row.try_get(2).map_err(db)?,
        );
        snap.grants
            .entry(object)
            .or_default()
            .insert(format!("{role}:{privilege}"));
    }
    for row in client.query(ENUMS, &[]).await.map_err(db)? {
        snap.enums
            .insert(row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
    }
    Ok(snap)
}

impl Snapshot {
    /// Whether `object` is present (and, for row-level security and triggers, enabled).
    pub fn has(&self, object: &ObjectRef) -> bool {
        match object {
            ObjectRef::Table(t) => self.tables.contains_key(t),
            ObjectRef::Index(i) => self.indexes.contains_key(i),
            ObjectRef::Rls(t) => self
                .tables
                .get(t)
                .is_some_and(|t| t.rls_enabled && t.rls_forced),
            ObjectRef::Policy { table, name } => {
                self.policies.contains_key(&format!("{table}.{name}"))
            }
            ObjectRef::Trigger { table, name } => self
                .triggers
                .get(&format!("{table}.{name}"))
                .is_some_and(Trigger::is_enabled),
            ObjectRef::Function(name) => self.functions.values().any(|f| &f.name == name),
            ObjectRef::Grant {
                role,
                privilege,
                table,
            } => self
                .grants
                .get(&format!("table:{table}"))
                .is_some_and(|g| g.contains(&format!("{role}:{privilege}"))),
        }
    }

    /// The objects of `required` that are not [`has`](Self::has), as `kind:name` strings.
    pub fn missing(&self, required: &[ObjectRef]) -> Vec<String> {
        required
            .iter()
            .filter(|o| !self.has(o))
            .map(ToString::to_string)
            .collect()
    }
}
