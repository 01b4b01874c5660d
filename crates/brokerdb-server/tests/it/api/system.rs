//! The routes of system tokens: `/v1/tenants`, `/v1/admin/identities`,
//! `/v1/admin/access-requests` (system token with role admin only), and `/v1/tenant` (any
//! tenant token: its own tenant).

use brokerdb::repo::api_tokens::ApiTokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, Api, Error};
use crate::TestResult;

const ISSUER: &str = "https://idp.example.com";

/// `(actor, correlation id, details)` of every system audit event with `action`, oldest first.
async fn system_events(api: &Api, action: &str) -> Result<Vec<(String, String, Value)>, Error> {
    let rows = api
        .db
        .admin()
        .await
        .query(
            "SELECT actor, correlation_id, event_json FROM system_audit_events
             WHERE action = $1 ORDER BY timestamp, created_at",
            &[&action],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The response's `x-request-id`.
fn request_id(a: &Answer) -> String {
    a.headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// `method path` with `token` and `body`, expected to answer `status` (the body is printed
/// otherwise).
async fn expect(
    api: &Api,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Result<Answer, Error> {
    let a = api
        .call(method.clone(), path, Some(token), body.as_ref())
        .await?;
    assert_eq!(a.status, status, "{method} {path}: {}", a.body);
    Ok(a)
}

/// Creates an admin identity as `token`; returns the answer's body.
async fn create_identity(api: &Api, token: &str, body: Value) -> Result<Value, Error> {
    let a = expect(
        api,
        token,
        Method::POST,
        "/v1/admin/identities",
        Some(body),
        StatusCode::CREATED,
    )
    .await?;
    Ok(a.body)
}

#[tokio::test]
async fn system_admins_list_create_and_read_tenants_with_a_system_audit_event() -> TestResult {
    let api = Api::start().await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;

    let a = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenants",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        a.body,
        json!({"items": [{"tenantId": "t_a", "name": "Tenant A"}, {"tenantId": "t_b", "name": "Tenant B"}]})
    );

    let created = expect(
        &api,
        &system,
        Method::POST,
        "/v1/tenants",
        Some(json!({"tenantId": "t_new", "name": "  New Co "})),
        StatusCode::CREATED,
    )
    .await?;
    assert_eq!(created.headers["location"], "/v1/tenants/t_new");
    assert_eq!(created.body, json!({"tenantId": "t_new", "name": "New Co"}));
    let got = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenants/t_new",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(got.body, created.body);
    let listed = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenants",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(listed.body["items"][2], created.body);

    // One system event, the token's subject as actor, the request id as correlation id.
    let events = system_events(&api, "tenant.created").await?;
    assert_eq!(events.len(), 1, "{events:?}");
    let (actor, correlation, details) = &events[0];
    assert_eq!(actor, "admin@system");
    assert_eq!(correlation, &request_id(&created));
    assert_eq!(details["tenant_id"], "t_new");
    assert!(details["token_id"].is_string(), "{details}");

    // A generated id.
    let generated = expect(
        &api,
        &system,
        Method::POST,
        "/v1/tenants",
        Some(json!({"name": "Generated"})),
        StatusCode::CREATED,
    )
    .await?;
    let id = generated.body["tenantId"].as_str().ok_or("no tenantId")?;
    assert!(id.starts_with("t_") && id.len() == 34, "{id}");

    // A taken id is 409 and leaves no event.
    let dup = expect(
        &api,
        &system,
        Method::POST,
        "/v1/tenants",
        Some(json!({"tenantId": "t_new", "name": "Again"})),
        StatusCode::CONFLICT,
    )
    .await?;
    assert_eq!((dup.code(), dup.field()), ("unique_violation", "tenantId"));
    assert_eq!(system_events(&api, "tenant.created").await?.len(), 2);

    // Bad input names its field and never echoes the value.
    for (body, field) in [
        (json!({"tenantId": "acme:w1", "name": "X"}), "tenantId"),
        (json!({"name": "   "}), "name"),
        (json!({"tenantId": "t_x"}), "name"),
        (json!({"name": "X", "owner": "me"}), "owner"),
    ] {
        let a = expect(
            &api,
            &system,
            Method::POST,
            "/v1/tenants",
            Some(body.clone()),
            StatusCode::BAD_REQUEST,
        )
        .await?;
        assert_eq!((a.code(), a.field()), ("validation_error", field), "{body}");
        assert!(!a.body.to_string().contains("acme:w1"), "{}", a.body);
    }
    let a = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenants/bad:id",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(a.field(), "tenantId");
    let a = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenants/t_missing",
        None,
        StatusCode::NOT_FOUND,
    )
    .await?;
    assert_eq!(a.code(), "not_found");
    Ok(())
}

/// `GET /v1/tenant`: every tenant token reads its own tenant, and only it; a system token has
/// none.
#[tokio::test]
async fn a_tenant_token_reads_its_own_tenant_only() -> TestResult {
    let api = Api::start().await?;
    for (tenant, role, name) in [
        ("t_b", ApiTokenRole::Auditor, "Tenant B"),
        ("t_b", ApiTokenRole::Admin, "Tenant B"),
        ("t_a", ApiTokenRole::Operator, "Tenant A"),
    ] {
        let token = api.token(Some(tenant), role).await?;
        let a = expect(
            &api,
            &token,
            Method::GET,
            "/v1/tenant",
            None,
            StatusCode::OK,
        )
        .await?;
        assert_eq!(a.body, json!({"tenantId": tenant, "name": name}), "{role}");
    }
    let system = api.token(None, ApiTokenRole::Admin).await?;
    let a = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenant",
        None,
        StatusCode::FORBIDDEN,
    )
    .await?;
    assert_eq!(a.code(), "forbidden");
    Ok(())
}

/// Every system route, called with tenant A's admin token and with a system token below admin:
/// 403, nothing changed; `GET /v1/tenant` with tenant B's token answers B only.
#[tokio::test]
async fn tenant_tokens_and_system_tokens_below_admin_get_403_on_every_system_route() -> TestResult {
    let api = Api::start().await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;
    create_identity(
        &api,
        &system,
        json!({"identityId": "adm_1", "issuer": ISSUER, "subject": "s1",
               "email": "one@example.com", "roles": ["owner"], "tenantIds": ["t_a"]}),
    )
    .await?;
    expect(
        &api,
        &system,
        Method::POST,
        "/v1/admin/access-requests",
        Some(
            json!({"requestId": "aar_1", "issuer": ISSUER, "subject": "s2",
                    "email": "two@example.com", "requestedRoles": ["admin"],
                    "requestedTenantIds": ["t_a"]}),
        ),
        StatusCode::CREATED,
    )
    .await?;
    let a_admin = api.token(Some("t_a"), ApiTokenRole::Admin).await?;
    let system_auditor = api.token(None, ApiTokenRole::Auditor).await?;
    let system_operator = api.token(None, ApiTokenRole::Operator).await?;
    let events_before: i64 = api
        .db
        .admin()
        .await
        .query_one("SELECT count(*) FROM system_audit_events", &[])
        .await?
        .get(0);

    let routes: [(Method, &str, Option<Value>); 11] = [
        (Method::GET, "/v1/tenants", None),
        (
            Method::POST,
            "/v1/tenants",
            Some(json!({"tenantId": "t_evil", "name": "Evil"})),
        ),
        (Method::GET, "/v1/tenants/t_a", None),
        (Method::GET, "/v1/admin/identities", None),
        (
            Method::POST,
            "/v1/admin/identities",
            Some(
                json!({"issuer": ISSUER, "subject": "evil", "email": "evil@example.com",
                        "roles": ["owner"], "tenantIds": ["t_a"]}),
            ),
        ),
        (Method::GET, "/v1/admin/identities/adm_1", None),
        (
            Method::PATCH,
            "/v1/admin/identities/adm_1/status",
            Some(json!({"status": "disabled"})),
        ),
        (
            Method::PUT,
            "/v1/admin/identities/adm_1/bindings",
            Some(json!({"roles": ["auditor"], "tenantIds": ["t_b"]})),
        ),
        (Method::GET, "/v1/admin/access-requests", None),
        (
            Method::POST,
            "/v1/admin/access-requests",
            Some(
                json!({"issuer": ISSUER, "subject": "evil", "email": "evil@example.com",
                        "requestedRoles": ["owner"]}),
            ),
        ),
        (
            Method::POST,
            "/v1/admin/access-requests/aar_1/transition",
            Some(json!({"status": "approved"})),
        ),
    ];
    for token in [&a_admin, &system_auditor, &system_operator] {
        for (method, path, body) in &routes {
            let a = expect(
                &api,
                token,
                method.clone(),
                path,
                body.clone(),
                StatusCode::FORBIDDEN,
            )
            .await?;
            assert_eq!(a.code(), "forbidden", "{method} {path}");
        }
    }

    // Nothing changed, nothing was audited.
    let events_after: i64 = api
        .db
        .admin()
        .await
        .query_one("SELECT count(*) FROM system_audit_events", &[])
        .await?
        .get(0);
    assert_eq!(events_after, events_before);
    let got = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/identities/adm_1",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (
            &got.body["status"],
            &got.body["roles"],
            &got.body["tenantIds"]
        ),
        (&json!("active"), &json!(["owner"]), &json!(["t_a"]))
    );
    let tenants = expect(
        &api,
        &system,
        Method::GET,
        "/v1/tenants",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(tenants.body["items"].as_array().map(Vec::len), Some(2));
    let requests = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/access-requests",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(requests.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(requests.body["items"][0]["status"], "pending");

    // Tenant B's token sees B through /v1/tenant, and nothing else.
    let b_auditor = api.token(Some("t_b"), ApiTokenRole::Auditor).await?;
    let own = expect(
        &api,
        &b_auditor,
        Method::GET,
        "/v1/tenant",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(own.body, json!({"tenantId": "t_b", "name": "Tenant B"}));
    Ok(())
}

#[tokio::test]
async fn admin_identities_are_created_read_and_listed_in_keyset_pages() -> TestResult {
    let api = Api::start().await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;
    let a = api
        .call(
            Method::POST,
            "/v1/admin/identities",
            Some(&system),
            Some(
                &json!({"identityId": "adm_owner", "issuer": ISSUER, "subject": "owner-sub",
                         "email": "Owner@Example.com", "name": " Olga ",
                         "roles": ["owner", "admin"], "tenantIds": ["t_b", "t_a"]}),
            ),
        )
        .await?;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["location"], "/v1/admin/identities/adm_owner");
    assert_eq!(a.body["identityId"], "adm_owner");
    assert_eq!(a.body["issuer"], ISSUER);
    assert_eq!(a.body["subject"], "owner-sub");
    assert_eq!(a.body["email"], "owner@example.com");
    assert_eq!(a.body["name"], "Olga");
    assert_eq!(a.body["status"], "active");
    assert_eq!(a.body["roles"], json!(["admin", "owner"]));
    assert_eq!(a.body["tenantIds"], json!(["t_a", "t_b"]));
    assert!(a.body["createdAt"].is_string() && a.body["updatedAt"].is_string());
    let got = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/identities/adm_owner",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(got.body, a.body);

    // The library's own event, with the token's subject as actor; no second one.
    let events = system_events(&api, "admin_identity.created").await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "admin@system");
    assert_eq!(events[0].1, request_id(&a));
    assert_eq!(events[0].2["identity_id"], "adm_owner");
    let in_request: i64 = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM system_audit_events WHERE correlation_id = $1",
            &[&request_id(&a)],
        )
        .await?
        .get(0);
    assert_eq!(in_request, 1, "exactly one event for the create");

    let generated = create_identity(
        &api,
        &system,
        json!({"issuer": ISSUER, "subject": "aud-sub", "email": "aud@example.com",
               "roles": ["auditor"], "status": "pending"}),
    )
    .await?;
    let generated_id = generated["identityId"].as_str().ok_or("no identityId")?;
    assert!(generated_id.starts_with("adm_"), "{generated_id}");
    assert_eq!(generated["status"], "pending");
    assert_eq!(generated["tenantIds"], json!([]));
    assert!(generated.get("name").is_none(), "{generated}");
    create_identity(
        &api,
        &system,
        json!({"identityId": "adm_op", "issuer": ISSUER, "subject": "op-sub",
               "email": "op@example.com", "roles": ["operator"], "tenantIds": ["t_b"]}),
    )
    .await?;

    // Filters, then keyset pages (newest first).
    let ids = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["identityId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (query, expected) in [
        ("", vec!["adm_op", generated_id, "adm_owner"]),
        ("?status=pending", vec![generated_id]),
        ("?tenantId=t_b", vec!["adm_op", "adm_owner"]),
        ("?role=owner", vec!["adm_owner"]),
        ("?search=OP-S", vec!["adm_op"]),
        ("?tenantId=t_a&role=operator", vec![]),
    ] {
        let a = expect(
            &api,
            &system,
            Method::GET,
            &format!("/v1/admin/identities{query}"),
            None,
            StatusCode::OK,
        )
        .await?;
        assert_eq!(ids(&a), expected, "{query}");
        assert!(a.body.get("nextCursor").is_none(), "{query}");
    }
    let mut seen = Vec::new();
    let mut path = "/v1/admin/identities?limit=2".to_owned();
    loop {
        let a = expect(&api, &system, Method::GET, &path, None, StatusCode::OK).await?;
        seen.extend(ids(&a));
        match a.body["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/admin/identities?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["adm_op", generated_id, "adm_owner"]);

    // Bad list parameters.
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=forged", "cursor"),
        ("?search=%20%20", "search"),
        ("?status=gone", "status"),
        ("?role=root", "role"),
        ("?tenantId=bad:id", "tenantId"),
        ("?page=2", "page"),
    ] {
        let a = expect(
            &api,
            &system,
            Method::GET,
            &format!("/v1/admin/identities{query}"),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await?;
        assert_eq!(
            (a.code(), a.field()),
            ("validation_error", field),
            "{query}"
        );
    }

    // Bad creates: the field is named, no value echoed; nothing written.
    let base = json!({"issuer": ISSUER, "subject": "new-sub", "email": "new@example.com",
                      "roles": ["admin"]});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    for (body, status, field) in [
        (
            with("tenantIds", json!(["t_a", "t_secret_missing"])),
            StatusCode::BAD_REQUEST,
            "tenantIds",
        ),
        (
            with("tenantIds", json!(["t_a", "t_a"])),
            StatusCode::BAD_REQUEST,
            "tenantIds[1]",
        ),
        (
            with("issuer", json!("not a url")),
            StatusCode::BAD_REQUEST,
            "issuer",
        ),
        (
            with("email", json!("nope")),
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (with("roles", json!([])), StatusCode::BAD_REQUEST, "roles"),
        (
            with("roles", json!(["superuser"])),
            StatusCode::BAD_REQUEST,
            "roles[0]",
        ),
        (
            with("identityId", json!("bad:id")),
            StatusCode::BAD_REQUEST,
            "identityId",
        ),
        (with("extra", json!(1)), StatusCode::BAD_REQUEST, "extra"),
        (
            with("subject", json!("owner-sub")),
            StatusCode::CONFLICT,
            "issuer,subject",
        ),
        (
            with("identityId", json!("adm_owner")),
            StatusCode::CONFLICT,
            "identityId",
        ),
    ] {
        let a = expect(
            &api,
            &system,
            Method::POST,
            "/v1/admin/identities",
            Some(body.clone()),
            status,
        )
        .await?;
        if status == StatusCode::CONFLICT {
            assert_eq!(a.code(), "unique_violation", "{body}");
            assert_eq!(a.field(), field, "{body}");
        } else {
            assert_eq!((a.code(), a.field()), ("validation_error", field), "{body}");
        }
        assert!(
            !a.body.to_string().contains("t_secret_missing"),
            "{}",
            a.body
        );
    }
    assert_eq!(
        system_events(&api, "admin_identity.created").await?.len(),
        3
    );

    // One identity: malformed id 400, missing 404.
    let a = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/identities/bad:id",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await?;
    assert_eq!(a.field(), "identityId");
    let a = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/identities/adm_missing",
        None,
        StatusCode::NOT_FOUND,
    )
    .await?;
    assert_eq!(a.code(), "not_found");
    Ok(())
}

#[tokio::test]
async fn identity_status_and_bindings_change_with_the_last_owner_guarded() -> TestResult {
    let api = Api::start().await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;
    create_identity(
        &api,
        &system,
        json!({"identityId": "adm_owner", "issuer": ISSUER, "subject": "o",
               "email": "o@example.com", "roles": ["owner"]}),
    )
    .await?;
    create_identity(
        &api,
        &system,
        json!({"identityId": "adm_x", "issuer": ISSUER, "subject": "x",
               "email": "x@example.com", "roles": ["admin"], "tenantIds": ["t_a"]}),
    )
    .await?;

    // Status.
    let status = |s: &str| Some(json!({"status": s}));
    let a = expect(
        &api,
        &system,
        Method::PATCH,
        "/v1/admin/identities/adm_x/status",
        status("disabled"),
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (&a.body["identityId"], &a.body["status"]),
        (&json!("adm_x"), &json!("disabled"))
    );
    let first = request_id(&a);
    // The same status again: unchanged, no event.
    expect(
        &api,
        &system,
        Method::PATCH,
        "/v1/admin/identities/adm_x/status",
        status("disabled"),
        StatusCode::OK,
    )
    .await?;
    let events = system_events(&api, "admin_identity.status_changed").await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].0.as_str(), &events[0].1),
        ("admin@system", &first)
    );
    assert_eq!(events[0].2["status"], "disabled");
    // The last active owner stays active.
    let a = expect(
        &api,
        &system,
        Method::PATCH,
        "/v1/admin/identities/adm_owner/status",
        status("disabled"),
        StatusCode::CONFLICT,
    )
    .await?;
    assert_eq!(a.code(), "state_transition_invalid");
    for (path, body, code, field) in [
        (
            "/v1/admin/identities/adm_x/status",
            status("asleep"),
            StatusCode::BAD_REQUEST,
            "status",
        ),
        (
            "/v1/admin/identities/adm_x/status",
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "status",
        ),
        (
            "/v1/admin/identities/bad:id/status",
            status("active"),
            StatusCode::BAD_REQUEST,
            "identityId",
        ),
        (
            "/v1/admin/identities/adm_missing/status",
            status("active"),
            StatusCode::NOT_FOUND,
            "",
        ),
    ] {
        let a = expect(&api, &system, Method::PATCH, path, body, code).await?;
        assert_eq!(a.field(), field, "{path}");
    }

    // Bindings.
    let a = expect(
        &api,
        &system,
        Method::PUT,
        "/v1/admin/identities/adm_x/bindings",
        Some(json!({"roles": ["owner", "auditor"], "tenantIds": ["t_b", "t_a"]})),
        StatusCode::OK,
    )
    .await?;
    assert_eq!(a.body["roles"], json!(["auditor", "owner"]));
    assert_eq!(a.body["tenantIds"], json!(["t_a", "t_b"]));
    let bound = request_id(&a);
    // Only the tenant scopes.
    let a = expect(
        &api,
        &system,
        Method::PUT,
        "/v1/admin/identities/adm_x/bindings",
        Some(json!({"tenantIds": []})),
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (&a.body["roles"], &a.body["tenantIds"]),
        (&json!(["auditor", "owner"]), &json!([]))
    );
    // Unchanged: no event.
    expect(
        &api,
        &system,
        Method::PUT,
        "/v1/admin/identities/adm_x/bindings",
        Some(json!({"roles": ["auditor", "owner"]})),
        StatusCode::OK,
    )
    .await?;
    let events = system_events(&api, "admin_identity.bindings_changed").await?;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.0 == "admin@system"), "{events:?}");
    assert_eq!(events[0].1, bound);
    // adm_x is disabled, so adm_owner is still the last active owner.
    let a = expect(
        &api,
        &system,
        Method::PUT,
        "/v1/admin/identities/adm_owner/bindings",
        Some(json!({"roles": ["admin"]})),
        StatusCode::CONFLICT,
    )
    .await?;
    assert_eq!(a.code(), "state_transition_invalid");
    for (path, body, code, field) in [
        (
            "/v1/admin/identities/adm_x/bindings",
            json!({}),
            StatusCode::BAD_REQUEST,
            "body",
        ),
        (
            "/v1/admin/identities/adm_x/bindings",
            json!({"tenantIds": ["t_a", "t_nowhere"]}),
            StatusCode::BAD_REQUEST,
            "tenantIds",
        ),
        (
            "/v1/admin/identities/adm_x/bindings",
            json!({"tenantIds": ["t_a", " t_a"]}),
            StatusCode::BAD_REQUEST,
            "tenantIds[1]",
        ),
        (
            "/v1/admin/identities/adm_x/bindings",
            json!({"roles": []}),
            StatusCode::BAD_REQUEST,
            "roles",
        ),
        (
            "/v1/admin/identities/adm_x/bindings",
            json!({"roles": ["admin"], "tenantId": "t_a"}),
            StatusCode::BAD_REQUEST,
            "tenantId",
        ),
        (
            "/v1/admin/identities/adm_missing/bindings",
            json!({"roles": ["admin"]}),
            StatusCode::NOT_FOUND,
            "",
        ),
    ] {
        let a = expect(&api, &system, Method::PUT, path, Some(body.clone()), code).await?;
        assert_eq!(a.field(), field, "{body}");
        assert!(!a.body.to_string().contains("t_nowhere"), "{}", a.body);
    }
    assert_eq!(
        system_events(&api, "admin_identity.bindings_changed")
            .await?
            .len(),
        2
    );
    let got = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/identities/adm_owner",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(
        (&got.body["status"], &got.body["roles"]),
        (&json!("active"), &json!(["owner"]))
    );
    Ok(())
}

#[tokio::test]
async fn access_requests_are_filed_listed_and_decided_once() -> TestResult {
    let api = Api::start().await?;
    let system = api.token(None, ApiTokenRole::Admin).await?;
    let a = expect(
        &api,
        &system,
        Method::POST,
        "/v1/admin/access-requests",
        Some(
            json!({"requestId": "aar_one", "issuer": ISSUER, "subject": "s1",
                    "email": "One@Example.com", "name": "One",
                    "requestedRoles": ["operator", "admin"],
                    "requestedTenantIds": ["t_b", "t_a"], "reason": " need it "}),
        ),
        StatusCode::CREATED,
    )
    .await?;
    assert_eq!(a.body["requestId"], "aar_one");
    assert_eq!(a.body["email"], "one@example.com");
    assert_eq!(a.body["status"], "pending");
    assert_eq!(a.body["requestedRoles"], json!(["admin", "operator"]));
    assert_eq!(a.body["requestedTenantIds"], json!(["t_a", "t_b"]));
    assert_eq!(a.body["reason"], "need it");
    assert!(a.body.get("decidedBy").is_none() && a.body.get("decidedAt").is_none());
    let events = system_events(&api, "admin_access_request.created").await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].0.as_str(), &events[0].1),
        ("admin@system", &request_id(&a))
    );

    let b = expect(
        &api,
        &system,
        Method::POST,
        "/v1/admin/access-requests",
        Some(
            json!({"issuer": ISSUER, "subject": "s2", "email": "two@example.com",
                    "requestedRoles": ["auditor"]}),
        ),
        StatusCode::CREATED,
    )
    .await?;
    let b_id = b.body["requestId"]
        .as_str()
        .ok_or("no requestId")?
        .to_owned();
    assert!(b_id.starts_with("aar_"), "{b_id}");
    assert_eq!(b.body["requestedTenantIds"], json!([]));

    // Bad input and conflicts.
    let base = json!({"issuer": ISSUER, "subject": "s3", "email": "three@example.com",
                      "requestedRoles": ["admin"]});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    for (body, status, field) in [
        (
            with("requestedRoles", json!([])),
            StatusCode::BAD_REQUEST,
            "requestedRoles",
        ),
        (
            with("requestedTenantIds", json!(["t_a", "t_a"])),
            StatusCode::BAD_REQUEST,
            "requestedTenantIds[1]",
        ),
        (
            with("requestId", json!("bad:id")),
            StatusCode::BAD_REQUEST,
            "requestId",
        ),
        (
            with("tenantId", json!("t_a")),
            StatusCode::BAD_REQUEST,
            "tenantId",
        ),
        (
            with("subject", json!("s1")),
            StatusCode::CONFLICT,
            "issuer,subject",
        ),
    ] {
        let a = expect(
            &api,
            &system,
            Method::POST,
            "/v1/admin/access-requests",
            Some(body.clone()),
            status,
        )
        .await?;
        assert_eq!(a.field(), field, "{body}");
        if status == StatusCode::CONFLICT {
            assert_eq!(a.code(), "unique_violation");
        }
    }

    // Listing: filters and keyset pages.
    let ids = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["requestId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (query, expected) in [
        ("", vec![b_id.as_str(), "aar_one"]),
        ("?tenantId=t_b", vec!["aar_one"]),
        ("?role=auditor", vec![b_id.as_str()]),
        ("?search=aar_one", vec!["aar_one"]),
        ("?status=approved", vec![]),
    ] {
        let a = expect(
            &api,
            &system,
            Method::GET,
            &format!("/v1/admin/access-requests{query}"),
            None,
            StatusCode::OK,
        )
        .await?;
        assert_eq!(ids(&a), expected, "{query}");
    }
    let first = expect(
        &api,
        &system,
        Method::GET,
        "/v1/admin/access-requests?limit=1",
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(ids(&first), [b_id.as_str()]);
    let cursor = first.body["nextCursor"].as_str().ok_or("no nextCursor")?;
    let second = expect(
        &api,
        &system,
        Method::GET,
        &format!("/v1/admin/access-requests?limit=1&cursor={cursor}"),
        None,
        StatusCode::OK,
    )
    .await?;
    assert_eq!(ids(&second), ["aar_one"]);
    assert!(second.body.get("nextCursor").is_none());
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?cursor=forged", "cursor"),
        ("?status=open", "status"),
        ("?sort=asc", "sort"),
    ] {
        let a = expect(
            &api,
            &system,
            Method::GET,
            &format!("/v1/admin/access-requests{query}"),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await?;
        assert_eq!(a.field(), field, "{query}");
    }

    // Deciding.
    let path = "/v1/admin/access-requests/aar_one/transition";
    let decided = expect(
        &api,
        &system,
        Method::POST,
        path,
        Some(json!({"status": "approved", "reason": "ok"})),
        StatusCode::OK,
    )
    .await?;
    assert_eq!(decided.body["status"], "approved");
    assert_eq!(decided.body["decidedBy"], "admin@system");
    assert_eq!(decided.body["reason"], "ok");
    assert!(decided.body["decidedAt"].is_string());
    // The same decision again: unchanged, no second event.
    let again = expect(
        &api,
        &system,
        Method::POST,
        path,
        Some(json!({"status": "approved"})),
        StatusCode::OK,
    )
    .await?;
    assert_eq!(again.body, decided.body);
    let a = expect(
        &api,
        &system,
        Method::POST,
        path,
        Some(json!({"status": "denied"})),
        StatusCode::CONFLICT,
    )
    .await?;
    assert_eq!(a.code(), "state_transition_invalid");
    let events = system_events(&api, "admin_access_request.decided").await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].0.as_str(), &events[0].1),
        ("admin@system", &request_id(&decided))
    );
    assert_eq!(events[0].2["status"], "approved");
    for (path, body, status, field) in [
        (
            format!("/v1/admin/access-requests/{b_id}/transition"),
            json!({"status": "pending"}),
            StatusCode::BAD_REQUEST,
            "status",
        ),
        (
            format!("/v1/admin/access-requests/{b_id}/transition"),
            json!({"status": "denied", "decidedBy": "someone"}),
            StatusCode::BAD_REQUEST,
            "decidedBy",
        ),
        (
            "/v1/admin/access-requests/bad:id/transition".to_owned(),
            json!({"status": "denied"}),
            StatusCode::BAD_REQUEST,
            "requestId",
        ),
        (
            "/v1/admin/access-requests/aar_missing/transition".to_owned(),
            json!({"status": "denied"}),
            StatusCode::NOT_FOUND,
            "",
        ),
    ] {
        let a = expect(&api, &system, Method::POST, &path, Some(body), status).await?;
        assert_eq!(a.field(), field, "{path}");
    }
    // The other request is still pending and can be canceled.
    let canceled = expect(
        &api,
        &system,
        Method::POST,
        &format!("/v1/admin/access-requests/{b_id}/transition"),
        Some(json!({"status": "canceled"})),
        StatusCode::OK,
    )
    .await?;
    assert_eq!(canceled.body["status"], "canceled");
    Ok(())
}
