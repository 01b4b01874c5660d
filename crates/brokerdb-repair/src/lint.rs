//! The playbook lint: every statement is parsed by PostgreSQL's own parser (`pg_query`, the
//! server's grammar compiled in) and only idempotent, non-destructive kinds pass:
//!
//! | Statement | Condition |
//! |---|---|
//! | `CREATE TABLE` | `IF NOT EXISTS`, not `AS SELECT` |
//! | `CREATE [UNIQUE] INDEX` | `IF NOT EXISTS`, not `CONCURRENTLY` |
//! | `CREATE FUNCTION` | `OR REPLACE`; a function (not a procedure). Its body is not linted: it runs only when called |
//! | `DO` | `plpgsql`; see below |
//! | `ALTER TABLE` | every action one of `ENABLE ROW LEVEL SECURITY`, `FORCE ROW LEVEL SECURITY`, `ENABLE [ALWAYS] TRIGGER` |
//! | `ALTER POLICY` | — |
//! | `GRANT` | not `TO PUBLIC`, no `WITH GRANT OPTION` |
//! | `REVOKE` | — (it only takes privileges away) |
//!
//! Everything else is refused, among them `DROP`, `TRUNCATE`, `DELETE`, `UPDATE`, `INSERT`,
//! `ALTER … DISABLE …`, `NO FORCE`, `ALTER … OWNER`, `ALTER ROLE`, `SET`, `COPY`, transaction
//! control, and text holding several statements.
//!
//! A `DO` block's PL/pgSQL is parsed too (by the same library's PL/pgSQL parser). It may hold
//! only blocks, `IF`, `RAISE` and plain SQL statements, and each SQL statement must be a
//! `CREATE TRIGGER` or a `CREATE POLICY`. Its conditions must be plain `SELECT` expressions
//! over `pg_catalog` without function calls. Dynamic SQL (`EXECUTE`), `PERFORM`, loops and
//! assignments are refused: what a block runs must be visible in its text.

use pg_query::NodeEnum;
use pg_query::protobuf::{AlterTableType, RoleSpecType};
use serde_json::Value;

/// A statement the lint refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("statement refused by the repair lint: {reason}")]
pub struct LintError {
    /// Why.
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> LintError {
    LintError {
        reason: reason.into(),
    }
}

/// The dollar-quote tag the lint wraps a `DO` body in to parse it as a function.
const WRAP_TAG: &str = "$brokerdb_repair_lint$";

/// Checks `sql`, which must hold exactly one statement.
pub fn check(sql: &str) -> Result<(), LintError> {
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::default())
        .map_err(|e| refuse(format!("PostgreSQL cannot parse it ({e})")))?;
    let stmts = &parsed.protobuf.stmts;
    if stmts.len() != 1 {
        return Err(refuse(format!(
            "a playbook statement must be exactly one statement, not {}",
            stmts.len()
        )));
    }
    let node = stmts
        .first()
        .and_then(|s| s.stmt.as_ref())
        .and_then(|n| n.node.as_ref())
        .ok_or_else(|| refuse("empty statement"))?;
    check_top_level(node)
}

fn check_top_level(node: &NodeEnum) -> Result<(), LintError> {
    match node {
        NodeEnum::CreateStmt(s) if s.if_not_exists => Ok(()),
        NodeEnum::CreateStmt(_) => Err(refuse("CREATE TABLE needs IF NOT EXISTS")),
        NodeEnum::IndexStmt(s) if s.concurrent => Err(refuse(
            "CREATE INDEX CONCURRENTLY cannot run in the repair transaction",
        )),
        NodeEnum::IndexStmt(s) if s.if_not_exists => Ok(()),
        NodeEnum::IndexStmt(_) => Err(refuse("CREATE INDEX needs IF NOT EXISTS")),
        NodeEnum::CreateFunctionStmt(s) if s.is_procedure => {
            Err(refuse("CREATE PROCEDURE is not allowed"))
        }
        NodeEnum::CreateFunctionStmt(s) if s.replace => Ok(()),
        NodeEnum::CreateFunctionStmt(_) => Err(refuse("CREATE FUNCTION needs OR REPLACE")),
        NodeEnum::DoStmt(s) => check_do(&s.args),
        NodeEnum::AlterTableStmt(s) => {
            for cmd in &s.cmds {
                let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else {
                    return Err(refuse("ALTER TABLE with an unknown action"));
                };
                let allowed = matches!(
                    AlterTableType::try_from(cmd.subtype),
                    Ok(AlterTableType::AtEnableRowSecurity
                        | AlterTableType::AtForceRowSecurity
                        | AlterTableType::AtEnableTrig
                        | AlterTableType::AtEnableAlwaysTrig)
                );
                if !allowed {
                    return Err(refuse(
                        "ALTER TABLE may only ENABLE/FORCE ROW LEVEL SECURITY or ENABLE a trigger",
                    ));
                }
            }
            Ok(())
        }
        NodeEnum::AlterPolicyStmt(_) => Ok(()),
        NodeEnum::GrantStmt(s) if !s.is_grant => Ok(()),
        NodeEnum::GrantStmt(s) => {
            if s.grant_option {
                return Err(refuse("GRANT … WITH GRANT OPTION is not allowed"));
            }
            let to_public = s.grantees.iter().any(|g| {
                matches!(g.node.as_ref(), Some(NodeEnum::RoleSpec(r))
                    if r.roletype == RoleSpecType::RolespecPublic as i32)
            });
            if to_public {
                return Err(refuse("GRANT … TO PUBLIC is not allowed"));
            }
            Ok(())
        }
        other => Err(refuse(format!(
            "{} is not an allowed statement kind",
            kind_name(other)
        ))),
    }
}

/// A readable name of a statement node (`DropStmt`, `TruncateStmt`, …).
fn kind_name(node: &NodeEnum) -> String {
    let debug = format!("{node:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("this statement")
        .to_owned()
}

fn check_do(args: &[pg_query::Node]) -> Result<(), LintError> {
    let mut body = None;
    for arg in args {
        let Some(NodeEnum::DefElem(def)) = arg.node.as_ref() else {
            return Err(refuse("DO with an unknown option"));
        };
        let value = match def.arg.as_ref().and_then(|a| a.node.as_ref()) {
            Some(NodeEnum::String(s)) => s.sval.as_str(),
            _ => return Err(refuse("DO with an unknown option")),
        };
        match def.defname.as_str() {
            "as" => body = Some(value.to_owned()),
            "language" if value.eq_ignore_ascii_case("plpgsql") => {}
            "language" => return Err(refuse("DO blocks must be PL/pgSQL")),
            _ => return Err(refuse("DO with an unknown option")),
        }
    }
    let body = body.ok_or_else(|| refuse("DO without a body"))?;
    if body.contains(WRAP_TAG) {
        return Err(refuse("DO body holds the lint's quoting tag"));
    }
    let wrapped = format!(
        "CREATE FUNCTION brokerdb_repair_lint() RETURNS void LANGUAGE plpgsql AS {WRAP_TAG}{body}{WRAP_TAG}"
    );
    let tree = pg_query::parse_plpgsql(&wrapped)
        .map_err(|e| refuse(format!("PostgreSQL cannot parse the DO block ({e})")))?;
    walk_plpgsql(&tree, None)
}

/// Walks the PL/pgSQL parse tree: statement kinds from an allowlist, SQL statements checked,
/// every other expression checked as a condition. `parent` is the key the value sits under.
fn walk_plpgsql(value: &Value, parent: Option<&str>) -> Result<(), LintError> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| walk_plpgsql(v, parent)),
        Value::Object(map) => {
            for (key, inner) in map {
                if let Some(kind) = key.strip_prefix("PLpgSQL_stmt_") {
                    match kind {
                        "block" | "if" | "raise" | "execsql" => {}
                        "return" if inner.get("expr").is_none() => {}
                        other => {
                            return Err(refuse(format!(
                                "PL/pgSQL `{other}` is not allowed in a DO block (only blocks, IF, RAISE and plain statements)"
                            )));
                        }
                    }
                }
                if key == "PLpgSQL_expr" {
                    let query = inner
                        .get("query")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if parent == Some("sqlstmt") {
                        check_in_do(query)?;
                    } else {
                        check_condition(query)?;
                    }
                    continue;
                }
                walk_plpgsql(inner, Some(key))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A SQL statement inside a `DO` block: `CREATE TRIGGER` or `CREATE POLICY` only.
fn check_in_do(sql: &str) -> Result<(), LintError> {
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::default()).map_err(|e| {
        refuse(format!(
            "PostgreSQL cannot parse a statement of the DO block ({e})"
        ))
    })?;
    let kinds: Vec<&NodeEnum> = parsed
        .protobuf
        .stmts
        .iter()
        .filter_map(|s| s.stmt.as_ref().and_then(|n| n.node.as_ref()))
        .collect();
    match kinds.as_slice() {
        [NodeEnum::CreateTrigStmt(_) | NodeEnum::CreatePolicyStmt(_)] => Ok(()),
        [other] => Err(refuse(format!(
            "{} is not allowed in a DO block (only CREATE TRIGGER and CREATE POLICY)",
            kind_name(other)
        ))),
        _ => Err(refuse("a DO block statement must be exactly one statement")),
    }
}

/// A PL/pgSQL expression (an `IF` condition, a default): a plain `SELECT` of catalog tables
/// without function calls or common table expressions.
fn check_condition(expr: &str) -> Result<(), LintError> {
    let parsed = pg_query::parse(
        &format!("SELECT {expr}"),
        pg_query::ParserOptions::default(),
    )
    .map_err(|e| {
        refuse(format!(
            "PostgreSQL cannot parse a condition of the DO block ({e})"
        ))
    })?;
    let single_select = matches!(
        parsed.protobuf.stmts.as_slice(),
        [raw] if matches!(raw.stmt.as_ref().and_then(|n| n.node.as_ref()), Some(NodeEnum::SelectStmt(_)))
    );
    if !single_select {
        return Err(refuse("a DO block condition must be a plain expression"));
    }
    if !parsed.functions.is_empty() {
        return Err(refuse("a DO block condition may not call functions"));
    }
    if !parsed.cte_names.is_empty() {
        return Err(refuse("a DO block condition may not use WITH"));
    }
    if parsed
        .tables
        .iter()
        .any(|(table, _)| !table.starts_with("pg_catalog."))
    {
        return Err(refuse("a DO block condition may read only pg_catalog"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_playbook_statement_passes() -> Result<(), crate::RepairError> {
        for playbook in crate::Registry::builtin()?.list() {
            for statement in &playbook.statements {
                if let Err(e) = check(statement) {
                    panic!("{}: {e}\n{statement}", playbook.id);
                }
            }
        }
        Ok(())
    }

    #[test]
    fn allowed_statements_pass() {
        for sql in [
            "CREATE INDEX IF NOT EXISTS i ON public.t (a)",
            "create unique index if not exists i on t (lower(a)) where b",
            "CREATE TABLE IF NOT EXISTS t (a int)",
            "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM x; UPDATE y SET a = 1; RETURN NULL; END $$",
            "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE t FORCE ROW LEVEL SECURITY",
            "ALTER TABLE t ENABLE TRIGGER trg",
            "ALTER TABLE t ENABLE ALWAYS TRIGGER trg",
            "ALTER POLICY p ON t TO brokerdb_app USING (a = 1)",
            "GRANT SELECT, INSERT ON public.t TO brokerdb_app",
            "GRANT UPDATE (a, b) ON t TO brokerdb_system",
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, brokerdb_app",
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgname = 'x' AND tgrelid = 'public.t'::regclass) THEN CREATE TRIGGER x BEFORE UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION f(); END IF; END $$",
            "DO LANGUAGE plpgsql $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polname = 'p') THEN CREATE POLICY p ON t USING (true); END IF; END $$",
            "DO $$ BEGIN RAISE NOTICE 'nothing to do'; END $$",
        ] {
            if let Err(e) = check(sql) {
                panic!("{sql}: {e}");
            }
        }
    }

    #[test]
    fn forbidden_statements_are_refused_however_they_are_spelled() {
        for sql in [
            "DROP TABLE human_users",
            "drop index idx_jobs_finished",
            "/* harmless */ DrOp TaBlE human_users",
            "-- a comment\nDROP TABLE human_users",
            "DROP INDEX IF EXISTS i",
            "DROP POLICY tenant_isolation ON human_users",
            "DROP TRIGGER t ON audit_events",
            "DROP FUNCTION brokerdb_forbid_mutation()",
            "TRUNCATE audit_events",
            "truncate table jobs cascade",
            "DELETE FROM audit_events",
            "UPDATE jobs SET status = 'dead'",
            "INSERT INTO jobs DEFAULT VALUES",
            "WITH d AS (DELETE FROM jobs RETURNING 1) SELECT * FROM d",
            "SELECT 1",
            "ALTER TABLE audit_events DISABLE TRIGGER ALL",
            "alter table audit_events disable trigger trg",
            "ALTER TABLE human_users DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE human_users NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE human_users ENABLE ROW LEVEL SECURITY, DISABLE TRIGGER trg",
            "ALTER TABLE human_users ENABLE REPLICA TRIGGER trg",
            "ALTER TABLE human_users OWNER TO mallory",
            "ALTER TABLE human_users DROP COLUMN email",
            "ALTER ROLE brokerdb_app BYPASSRLS",
            "GRANT SELECT ON human_users TO PUBLIC",
            "grant all on all tables in schema public to public",
            "GRANT SELECT ON human_users TO brokerdb_app WITH GRANT OPTION",
            "GRANT brokerdb_owner TO brokerdb_app",
            "CREATE TABLE t (a int)",
            "CREATE TABLE IF NOT EXISTS t AS SELECT 1",
            "CREATE INDEX i ON t (a)",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'",
            "CREATE POLICY p ON t USING (true)",
            "SET session_replication_role = replica",
            "SELECT 1; DROP TABLE human_users",
            "CREATE INDEX IF NOT EXISTS i ON t (a); DROP TABLE t",
            "COMMIT",
            "COPY jobs TO '/tmp/x'",
            "VACUUM FULL jobs",
            "DO $$ BEGIN DROP TABLE human_users; END $$",
            "DO $$ BEGIN\n  -- looks harmless\n  dRoP tAbLe human_users;\nEND $$",
            "DO $$ BEGIN EXECUTE 'DROP TABLE human_users'; END $$",
            "DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE human_users'; END $$",
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class) THEN DELETE FROM jobs; END IF; END $$",
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class) THEN TRUNCATE jobs; END IF; END $$",
            "DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$",
            "DO $$ BEGIN IF pg_catalog.pg_terminate_backend(1) THEN RAISE NOTICE 'x'; END IF; END $$",
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE pg_sleep(1) IS NULL) THEN RAISE NOTICE 'x'; END IF; END $$",
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM jobs) THEN RAISE NOTICE 'x'; END IF; END $$",
            "DO $$ DECLARE n int := (SELECT count(*) FROM jobs); BEGIN RAISE NOTICE 'x'; END $$",
            "DO $$ BEGIN LOOP EXIT; END LOOP; END $$",
            "DO $$ BEGIN ALTER TABLE audit_events DISABLE TRIGGER ALL; END $$",
            "DO $$ BEGIN CREATE POLICY p ON t USING (true); DROP TABLE t; END $$",
            "DO LANGUAGE plperl $$ 1 $$",
            "DO $$ BEGIN RAISE NOTICE '$brokerdb_repair_lint$'; END $$",
            "not sql at all",
            "",
        ] {
            assert!(check(sql).is_err(), "the lint let this through: {sql}");
        }
    }

    #[test]
    fn a_refusal_says_why() {
        let err = check("DROP TABLE human_users").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("statement refused by the repair lint: DropStmt is not an allowed statement kind")
        );
    }
}
#[cfg(test)]
mod reasons {
    /// Tricky spellings are refused for the right reason, not by accident (a parse error).
    #[test]
    fn tricky_spellings_are_refused_for_the_right_reason() {
        for (sql, reason) in [
            (
                "DO $$ BEGIN DROP TABLE human_users; END $$",
                "DropStmt is not allowed in a DO block",
            ),
            (
                "DO $$ BEGIN EXECUTE 'DROP TABLE human_users'; END $$",
                "`dynexecute` is not allowed",
            ),
            (
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class) THEN DELETE FROM jobs; END IF; END $$",
                "DeleteStmt is not allowed in a DO block",
            ),
            (
                "DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$",
                "`perform` is not allowed",
            ),
            (
                "DO $$ BEGIN IF pg_catalog.pg_terminate_backend(1) THEN RAISE NOTICE 'x'; END IF; END $$",
                "may not call functions",
            ),
            (
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM jobs) THEN RAISE NOTICE 'x'; END IF; END $$",
                "may read only pg_catalog",
            ),
            (
                "DO $$ BEGIN CREATE POLICY p ON t USING (true); DROP TABLE t; END $$",
                "DropStmt is not allowed in a DO block",
            ),
            (
                "ALTER TABLE human_users ENABLE ROW LEVEL SECURITY, DISABLE TRIGGER trg",
                "ALTER TABLE may only",
            ),
            (
                "grant all on all tables in schema public to public",
                "TO PUBLIC",
            ),
            (
                "/* x */ TrUnCaTe jobs",
                "TruncateStmt is not an allowed statement kind",
            ),
            (
                "-- x\nDELETE FROM jobs",
                "DeleteStmt is not an allowed statement kind",
            ),
        ] {
            let err = super::check(sql)
                .err()
                .map(|e| e.reason)
                .unwrap_or_default();
            assert!(err.contains(reason), "{sql}: {err}");
        }
    }
}
