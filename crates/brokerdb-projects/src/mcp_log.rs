//! The append-only MCP audit log: one row per MCP tool call against a project (who, which tool,
//! which scope, a hash of the arguments, how it ended). Appended and queried in the tenant scope;
//! no role can update, delete or truncate it (triggers refuse, for the owner too).
//!
//! The arguments are not stored: `args_hash` is the SHA-256 of their canonical JSON (object keys
//! sorted by code point, no whitespace; [`canonical_json`]), so equal arguments hash equally.
//! Rows keep `project_id` without a foreign key: deleting a project leaves its log intact.

use std::net::IpAddr;

use brokerdb_core::db::paging::{KeysetPage, decode_cursor};
use brokerdb_core::db::{DbError, TenantExec};
use brokerdb_core::scalar::Timestamp;
use brokerdb_core::scalar::{TenantId, ValidationError};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use crate::ids::{McpLogId, ProjectId};
use crate::model::{McpResult, bounded_text, stored};
use crate::projects::{checked_limit, cursor_position};

const REPO: &str = "mcp_audit_log";
const SORT_TAG: &str = "mcp_audit_log:timestamp_desc,log_id_desc";

macro_rules! cols {
    () => {
        "log_id, tenant_id, project_id, actor_type, actor_id, tool, scope, args_hash, result::text, \
         error_code, \"timestamp\", ip, user_agent"
    };
}

/// Appends only for a project that exists in the scope's tenant.
const APPEND: &str = concat!(
    "INSERT INTO mcp_audit_log (log_id, tenant_id, project_id, actor_type, actor_id, tool, scope,
         args_hash, result, error_code, ip, user_agent)
     SELECT $1, $2, p.project_id, $4, $5, $6, $7, $8, $9::text::mcp_result, $10, $11, $12
       FROM projects p WHERE p.project_id = $3
     RETURNING ",
    cols!()
);
const QUERY: &str = concat!(
    "SELECT ",
    cols!(),
    " FROM mcp_audit_log
     WHERE ($1::text IS NULL OR project_id = $1)
       AND ($2::text IS NULL OR actor_id = $2)
       AND ($3::text IS NULL OR tool = $3)
       AND ($4::timestamptz IS NULL OR \"timestamp\" >= $4)
       AND ($5::timestamptz IS NULL OR \"timestamp\" < $5)
       AND (\"timestamp\", log_id) < (COALESCE($6, 'infinity'::timestamptz), COALESCE($7, ''::text))
     ORDER BY \"timestamp\" DESC, log_id DESC LIMIT $8"
);

/// A stored MCP tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpLogEntry {
    /// Its id.
    pub log_id: McpLogId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The project called against.
    pub project_id: ProjectId,
    /// Kind of caller (`user`, `agent`, …), 1..=50 characters.
    pub actor_type: String,
    /// Caller id, 1..=200 characters.
    pub actor_id: String,
    /// Tool name, 1..=100 characters.
    pub tool: String,
    /// Scope the call ran under, 1..=200 characters.
    pub scope: String,
    /// SHA-256 of the canonical JSON of the arguments.
    pub args_hash: String,
    /// How it ended.
    pub result: McpResult,
    /// Error code, when it failed.
    pub error_code: Option<String>,
    /// When it was logged (the database's clock).
    pub timestamp: Timestamp,
    /// Caller's address, when known.
    pub ip: Option<IpAddr>,
    /// Caller's user agent, at most 500 characters.
    pub user_agent: Option<String>,
}

fn from_row(r: &Row) -> Result<McpLogEntry, DbError> {
    Ok(McpLogEntry {
        log_id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        project_id: r.try_get(2)?,
        actor_type: r.try_get(3)?,
        actor_id: r.try_get(4)?,
        tool: r.try_get(5)?,
        scope: r.try_get(6)?,
        args_hash: r.try_get(7)?,
        result: stored(McpResult::parse, r.try_get(8)?)?,
        error_code: r.try_get(9)?,
        timestamp: r.try_get(10)?,
        ip: r.try_get(11)?,
        user_agent: r.try_get(12)?,
    })
}

/// One MCP tool call to log.
#[derive(Debug, Clone)]
pub struct McpCall {
    /// 1..=50 characters.
    pub actor_type: String,
    /// 1..=200 characters.
    pub actor_id: String,
    /// 1..=100 characters.
    pub tool: String,
    /// 1..=200 characters.
    pub scope: String,
    /// The call's arguments: hashed ([`args_hash`]), not stored.
    pub args: Value,
    /// How it ended.
    pub result: McpResult,
    /// 1..=100 characters, when it failed.
    pub error_code: Option<String>,
    /// Caller's address.
    pub ip: Option<IpAddr>,
    /// Caller's user agent; cut to 500 characters.
    pub user_agent: Option<String>,
}

/// `value` as canonical JSON: object keys sorted by code point at every level, no whitespace,
/// strings and numbers as `serde_json` writes them.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Lower-case hex SHA-256 of [`canonical_json`] of `args`.
pub fn args_hash(args: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(args).as_bytes()))
}

/// Appends a call against a project of the scope's tenant; a project that does not exist there
/// (or is another tenant's) → `not_found`.
pub async fn append(
    exec: &mut impl TenantExec,
    project_id: &ProjectId,
    call: &McpCall,
) -> Result<McpLogEntry, DbError> {
    let actor_type = bounded_text(
        "actor_type",
        &call.actor_type,
        50,
        "must be 1..50 characters",
    )?;
    let actor_id = bounded_text("actor_id", &call.actor_id, 200, "must be 1..200 characters")?;
    let tool = bounded_text("tool", &call.tool, 100, "must be 1..100 characters")?;
    let scope = bounded_text("scope", &call.scope, 200, "must be 1..200 characters")?;
    let error_code = call
        .error_code
        .as_deref()
        .map(|c| bounded_text("error_code", c, 100, "must be 1..100 characters"))
        .transpose()?;
    let user_agent: Option<String> = call
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(500).collect());
    let id = McpLogId::generate();
    let tenant = exec.tenant_id().clone();
    let hash = args_hash(&call.args);
    exec.op(REPO, "append")
        .query_found(
            "project",
            APPEND,
            &[
                &id,
                &tenant,
                project_id,
                &actor_type,
                &actor_id,
                &tool,
                &scope,
                &hash,
                &call.result.as_str(),
                &error_code,
                &call.ip,
                &user_agent,
            ],
            from_row,
        )
        .await
}

/// The statement [`append`] sends, with its parameters `$1` log id, `$2` tenant, `$3` project,
/// `$4` actor type, `$5` actor id, `$6` tool, `$7` scope, `$8` args hash, `$9` result, `$10`
/// error code, `$11` ip, `$12` user agent. For callers that send the same statement themselves
/// (the bench's raw side).
pub fn append_statement_text() -> &'static str {
    APPEND
}

/// Which rows [`query`] returns; every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default)]
pub struct McpLogQuery {
    /// Only this project's calls.
    pub project_id: Option<ProjectId>,
    /// Only this caller's.
    pub actor_id: Option<String>,
    /// Only this tool's.
    pub tool: Option<String>,
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Until this time (exclusive).
    pub to: Option<Timestamp>,
    /// Page size, 1..=200 (default 100).
    pub limit: Option<i64>,
    /// From the previous page.
    pub cursor: Option<String>,
}

/// The scope's log rows matching `q`, newest first (`timestamp` desc, `log_id` desc), keyset-paged
/// with a signed cursor bound to the tenant. `from` must be before `to`.
pub async fn query(
    exec: &mut impl TenantExec,
    q: &McpLogQuery,
) -> Result<KeysetPage<McpLogEntry>, DbError> {
    let limit = checked_limit(q.limit)?;
    if let (Some(from), Some(to)) = (&q.from, &q.to)
        && from >= to
    {
        return Err(ValidationError::new("from", "must be before to").into());
    }
    let key = exec.db().cursor_key().clone();
    let tenant = exec.tenant_id().as_str().to_owned();
    let (at, id) = cursor_position(decode_cursor(&key, &tenant, SORT_TAG, q.cursor.as_deref())?)?;
    let fetch = limit + 1;
    let project = q.project_id.as_ref().map(ProjectId::as_str);
    let items = exec
        .op(REPO, "query")
        .query_all(
            QUERY,
            &[
                &project,
                &q.actor_id,
                &q.tool,
                &q.from,
                &q.to,
                &at,
                &id,
                &fetch,
            ],
            from_row,
        )
        .await?;
    Ok(KeysetPage::from_rows(
        &key,
        &tenant,
        SORT_TAG,
        items,
        limit,
        |e| vec![e.timestamp.to_string(), e.log_id.to_string()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level_without_whitespace() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": true, "x": null}], "c": "é"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é","z":[1,{"x":null,"y":true}]},"b":1}"#
        );
        let b = json!({"a": {"c": "é", "z": [1, {"x": null, "y": true}]}, "b": 1});
        assert_eq!(args_hash(&a), args_hash(&b));
        assert_eq!(args_hash(&a).len(), 64);
    }
}
