//! `/v1/users`: seed 001's list (filters, sort, envelope), keyset pages, get, create with its
//! audit event, replace roles.

use std::collections::BTreeSet;

use brokerdb::repo::api_tokens::ApiTokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, Error};
use crate::TestResult;

/// Creates users through the API as `token`; returns their ids.
async fn create_users(api: &Api, token: &str, users: &[Value]) -> Result<Vec<String>, Error> {
    let mut ids = Vec::new();
    for u in users {
        let a = api
            .call(Method::POST, "/v1/users", Some(token), Some(u))
            .await?;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        ids.push(a.body["userId"].as_str().ok_or("no userId")?.to_owned());
    }
    Ok(ids)
}

#[tokio::test]
async fn create_returns_201_with_location_and_writes_its_audit_event_in_the_same_transaction()
-> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let a = api
        .call(
            Method::POST,
            "/v1/users",
            Some(&token),
            Some(&json!({"userId": "u_alice", "email": "Alice@Example.com",
                         "roles": ["operator", "admin"], "displayName": "Alice"})),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["location"], "/v1/users/u_alice");
    assert_eq!(a.body["userId"], "u_alice");
    assert_eq!(a.body["tenantId"], "t_a");
    assert_eq!(a.body["roles"], json!(["admin", "operator"]));
    assert_eq!(a.body["isActive"], true);
    assert_eq!(a.body["displayName"], "Alice");
    let got = api.get("/v1/users/u_alice", &token).await?;
    assert_eq!((got.status, &got.body), (StatusCode::OK, &a.body));

    // The audit event names the token's subject, in tenant A's chain.
    let rows = api
        .db
        .admin()
        .await
        .query(
            "SELECT event_json->'metadata'->>'actor', event_json->'metadata'->>'action', tenant_id
             FROM audit_events WHERE event_json->'metadata'->>'user_id' = 'u_alice'",
            &[],
        )
        .await?;
    let events: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        events,
        [(
            "admin@t_a".to_owned(),
            "user.created".to_owned(),
            "t_a".to_owned()
        )]
    );

    // A duplicate email (any case) is 409 and writes no second event.
    let dup = api
        .call(
            Method::POST,
            "/v1/users",
            Some(&token),
            Some(&json!({"email": "alice@example.com", "roles": ["admin"]})),
        )
        .await?;
    assert_eq!(
        (dup.status, dup.code(), dup.field()),
        (StatusCode::CONFLICT, "unique_violation", "email")
    );
    let count: i64 = api
        .db
        .admin()
        .await
        .query_one("SELECT count(*) FROM audit_events WHERE event_json->'metadata'->>'action' = 'user.created'", &[])
        .await?
        .get(0);
    assert_eq!(count, 1, "the failed create left an audit event");
    Ok(())
}

#[tokio::test]
async fn the_list_filters_sorts_and_pages_as_seed_001_describes() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    create_users(
        &api,
        &token,
        &[
            json!({"userId": "u_1", "email": "carol@example.com", "roles": ["admin"], "displayName": "Carol Admin"}),
            json!({"userId": "u_2", "email": "bob@example.com", "roles": ["operator"], "isActive": false}),
            json!({"userId": "u_3", "email": "alice@example.com", "roles": ["admin", "auditor"]}),
            json!({"userId": "u_4", "email": "dave@example.com", "roles": ["auditor"], "displayName": "Dave"}),
        ],
    )
    .await?;
    let ids = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| u["userId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };

    let page = api.get("/v1/users?page=1&pageSize=2", &token).await?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["page"], 1);
    assert_eq!(page.body["pageSize"], 2);
    assert_eq!(page.body["total"], 4);
    assert_eq!(page.body["totalPages"], 2);
    assert_eq!(page.body["totalIsEstimate"], false);
    assert_eq!(ids(&page.body), ["u_4", "u_3"], "newest first by default");

    for (query, expected) in [
        ("q=admin&isActive=true&page=1&pageSize=10", vec!["u_1"]),
        ("isActive=false", vec!["u_2"]),
        (
            "roleId=admin&sortField=email&sortDirection=asc",
            vec!["u_3", "u_1"],
        ),
        (
            "sortField=displayName&sortDirection=asc&roleId=auditor",
            vec!["u_3", "u_4"],
        ),
        (
            "createdFrom=2000-01-01&createdTo=2999-12-31&sortField=email&sortDirection=desc",
            vec!["u_4", "u_1", "u_2", "u_3"],
        ),
        ("createdTo=2000-01-01", vec![]),
        ("createdFrom=2000-01-01T00:00:00Z&q=DAVE", vec!["u_4"]),
    ] {
        let a = api.get(&format!("/v1/users?{query}"), &token).await?;
        assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.body);
        assert_eq!(ids(&a.body), expected, "{query}");
        assert_eq!(a.body["total"], expected.len(), "{query}");
    }
    Ok(())
}

#[tokio::test]
async fn keyset_pages_walk_every_user_once() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let users: Vec<Value> = (0..7)
        .map(|i| json!({"email": format!("k{i}@example.com"), "roles": ["auditor"]}))
        .collect();
    let created: BTreeSet<String> = create_users(&api, &token, &users)
        .await?
        .into_iter()
        .collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/v1/users?limit=3&sortField=email&sortDirection=asc&cursor={c}"),
            None => "/v1/users?limit=3&sortField=email&sortDirection=asc".to_owned(),
        };
        let a = api.get(&query, &token).await?;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert!(a.body.get("total").is_none(), "a keyset page has no total");
        for u in a.body["items"].as_array().ok_or("no items")? {
            seen.push(u["userId"].as_str().ok_or("no id")?.to_owned());
        }
        match a.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), created);
    Ok(())
}

#[tokio::test]
async fn replacing_roles_is_admin_only_and_audited() -> TestResult {
    let api = Api::start().await?;
    let admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let operator = api.token(Some("t_a"), ApiTokenRole::Operator).await?;
    create_users(
        &api,
        &admin,
        &[json!({"userId": "u_r", "email": "r@example.com", "roles": ["auditor"]})],
    )
    .await?;
    let body = json!({"roles": ["owner", "admin"]});
    let a = api
        .call(
            Method::PUT,
            "/v1/users/u_r/roles",
            Some(&operator),
            Some(&body),
        )
        .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = api
        .call(
            Method::PUT,
            "/v1/users/u_r/roles",
            Some(&admin),
            Some(&body),
        )
        .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["roles"], json!(["admin", "owner"]));
    let a = api
        .call(
            Method::PUT,
            "/v1/users/u_nobody/roles",
            Some(&admin),
            Some(&body),
        )
        .await?;
    assert_eq!((a.status, a.code()), (StatusCode::NOT_FOUND, "not_found"));
    let actor: String = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT event_json->'metadata'->>'actor' FROM audit_events
             WHERE event_json->'metadata'->>'action' = 'user.roles_replaced'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(actor, "admin@t_a");
    Ok(())
}
