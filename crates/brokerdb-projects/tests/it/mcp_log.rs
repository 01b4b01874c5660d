//! The MCP audit log: append, query paging, append-only for every role.

use brokerdb_projects::McpResult;
use brokerdb_projects::mcp_log::{self, McpCall, McpLogQuery, args_hash};
use brokerdb_projects::projects;
use serde_json::json;

use crate::support::{TestResult, code, fixture};

fn call(actor: &str, tool: &str) -> McpCall {
    McpCall {
        actor_type: "agent".into(),
        actor_id: actor.into(),
        tool: tool.into(),
        scope: "project:read".into(),
        args: json!({"b": 2, "a": "secret-arg"}),
        result: McpResult::Success,
        error_code: None,
        ip: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1))),
        user_agent: Some("claude".into()),
    }
}

#[tokio::test]
async fn append_hashes_args_and_query_pages_by_project_actor_and_tool() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let mut a = f.db.tenant(&f.a);
    let first = mcp_log::append(&mut a, &p.project_id, &call("u1", "read_file")).await?;
    assert_eq!(
        first.args_hash,
        args_hash(&json!({"a": "secret-arg", "b": 2}))
    );
    assert_eq!(
        first.ip.map(|ip| ip.to_string()).as_deref(),
        Some("10.0.0.1")
    );
    for i in 0..6 {
        let actor = if i % 2 == 0 { "u1" } else { "u2" };
        mcp_log::append(&mut a, &p.project_id, &call(actor, "search")).await?;
    }
    let stored: i64 = f
        .test_db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM mcp_audit_log WHERE row_to_json(mcp_audit_log)::text LIKE '%secret-arg%'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(stored, 0, "the arguments are not stored");

    let mut q = McpLogQuery {
        project_id: Some(p.project_id.clone()),
        limit: Some(3),
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = mcp_log::query(&mut a, &q).await?;
        seen.extend(page.items.iter().map(|e| (e.timestamp, e.log_id.clone())));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(seen, sorted, "newest first, log_id desc");

    let by_actor = McpLogQuery {
        actor_id: Some("u2".into()),
        ..Default::default()
    };
    assert_eq!(mcp_log::query(&mut a, &by_actor).await?.items.len(), 3);
    let by_tool = McpLogQuery {
        tool: Some("read_file".into()),
        ..Default::default()
    };
    assert_eq!(mcp_log::query(&mut a, &by_tool).await?.items.len(), 1);
    let window = McpLogQuery {
        from: Some(first.timestamp),
        to: Some(first.timestamp),
        ..Default::default()
    };
    let err = mcp_log::query(&mut a, &window).await.err();
    assert_eq!(err.as_ref().map(code), Some("validation_error"));
    let later = McpLogQuery {
        to: Some(first.timestamp),
        ..Default::default()
    };
    assert!(
        mcp_log::query(&mut a, &later).await?.items.is_empty(),
        "to is exclusive"
    );
    Ok(())
}

#[tokio::test]
async fn the_log_refuses_update_delete_and_truncate_for_every_role() -> TestResult {
    let f = fixture().await?;
    let p = f.project(&f.a, "App").await?;
    let mut a = f.db.tenant(&f.a);
    mcp_log::append(&mut a, &p.project_id, &call("u1", "t")).await?;
    let tenant = f.a.as_str().to_owned();
    let clients = [
        ("runtime", f.test_db.runtime().await),
        ("system", f.test_db.system().await),
        ("admin", f.test_db.admin().await),
    ];
    for (who, client) in &clients {
        client
            .execute(
                "SELECT set_config('brokerdb.tenant_id', $1, false)",
                &[&tenant],
            )
            .await?;
        for sql in [
            "UPDATE mcp_audit_log SET tool = 'x'",
            "DELETE FROM mcp_audit_log",
            "TRUNCATE mcp_audit_log",
        ] {
            let err = client.execute(sql, &[]).await.err();
            assert!(err.is_some(), "{who}: {sql} must be refused");
        }
        if *who == "admin" {
            client.execute("SET ROLE brokerdb_owner", &[]).await?;
            for sql in [
                "UPDATE mcp_audit_log SET tool = 'x'",
                "DELETE FROM mcp_audit_log",
                "TRUNCATE mcp_audit_log",
            ] {
                assert!(client.execute(sql, &[]).await.is_err(), "owner: {sql}");
            }
        }
    }
    let n: i64 = clients[2]
        .1
        .query_one("SELECT count(*) FROM mcp_audit_log", &[])
        .await?
        .get(0);
    assert_eq!(n, 1);
    // Deleting the project keeps its audit trail.
    assert!(projects::delete(&mut a, &p.project_id).await?);
    let q = McpLogQuery {
        project_id: Some(p.project_id.clone()),
        ..Default::default()
    };
    assert_eq!(mcp_log::query(&mut a, &q).await?.items.len(), 1);
    let err = mcp_log::append(&mut a, &p.project_id, &call("u1", "t"))
        .await
        .err();
    assert_eq!(err.as_ref().map(code), Some("not_found"));
    Ok(())
}
