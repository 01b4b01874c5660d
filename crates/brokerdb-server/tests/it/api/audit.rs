//! `/v1/audit/events` (filters, keyset pages, bad parameters) and `/v1/audit/verify` (the
//! caller's chain only: intact, then broken by an edited row); both reads write no event.

use brokerdb::audit::{self, AuditEvent, AuditEventType};
use brokerdb::model::{
    AuditDecision, EventId, IntegrationId, NonEmptyString, TenantId, Timestamp, WorkloadId,
};
use brokerdb::repo::api_tokens::ApiTokenRole;
use reqwest::StatusCode;
use serde_json::json;

use super::{Answer, Api, Error};
use crate::TestResult;

/// `(workload, integration, action group, decision)` of the six seeded events, oldest first;
/// the last has none of them.
const SEEDED: [Option<(&str, &str, &str, AuditDecision)>; 6] = [
    Some(("w_1", "int_a", "send", AuditDecision::Allowed)),
    Some(("w_1", "int_b", "read", AuditDecision::Denied)),
    Some(("w_2", "int_a", "send", AuditDecision::Denied)),
    Some(("w_2", "int_b", "read", AuditDecision::Allowed)),
    Some(("w_1", "int_a", "read", AuditDecision::ApprovalRequired)),
    None,
];

/// Appends the six [`SEEDED`] events to `tenant` (ids `evt_<tag>_<i>`, one second apart, the
/// newest a minute ago); returns their timestamps.
async fn seed(api: &Api, tenant: &str, tag: &str) -> Result<Vec<Timestamp>, Error> {
    let t = TenantId::parse(tenant)?;
    let now = Timestamp::now().unix_millis();
    let mut times = Vec::new();
    for (i, fields) in SEEDED.iter().enumerate() {
        let at = Timestamp::from_unix_millis(now - 60_000 - (5 - i as i64) * 1000)?;
        let kind = if fields.is_some() {
            AuditEventType::PolicyDecision
        } else {
            AuditEventType::AdminAction
        };
        let mut e = AuditEvent::new(
            EventId::parse(&format!("evt_{tag}_{i}"))?,
            at,
            t.clone(),
            NonEmptyString::new("correlation_id", "c")?,
            kind,
        );
        if let Some((w, int, group, decision)) = fields {
            e.workload_id = Some(WorkloadId::parse(w)?);
            e.integration_id = Some(IntegrationId::parse(int)?);
            e.action_group = Some((*group).to_owned());
            e.decision = Some(*decision);
        } else {
            let mut m = serde_json::Map::new();
            m.insert("actor".into(), json!("admin@t"));
            e.metadata = Some(m);
        }
        audit::append(&mut api.handle.tenant(&t), &e).await?;
        times.push(at);
    }
    Ok(times)
}

fn ids(a: &Answer) -> Vec<String> {
    a.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["eventId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn evts(tag: &str, of: &[usize]) -> Vec<String> {
    of.iter().map(|i| format!("evt_{tag}_{i}")).collect()
}

async fn count_events(api: &Api) -> Result<i64, Error> {
    Ok(api
        .db
        .admin()
        .await
        .query_one("SELECT count(*) FROM audit_events", &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn the_event_query_filters_pages_and_writes_nothing() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let times = seed(&api, "t_a", "a").await?;
    seed(&api, "t_b", "b").await?;
    let before = count_events(&api).await?;

    let all = api.get("/v1/audit/events", &token).await?;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(ids(&all), evts("a", &[5, 4, 3, 2, 1, 0]));
    assert!(all.body.get("nextCursor").is_none());
    let first = &all.body["items"][5];
    assert_eq!(
        (
            &first["tenantId"],
            &first["eventType"],
            &first["workloadId"],
            &first["integrationId"],
            &first["actionGroup"],
            &first["decision"],
            &first["timestamp"],
        ),
        (
            &json!("t_a"),
            &json!("policy_decision"),
            &json!("w_1"),
            &json!("int_a"),
            &json!("send"),
            &json!("allowed"),
            &json!(times[0].to_string()),
        )
    );
    let newest = &all.body["items"][0];
    assert_eq!(newest["eventType"], "admin_action");
    assert_eq!(newest["metadata"], json!({"actor": "admin@t"}));
    assert!(newest.get("workloadId").is_none());

    for (query, expected) in [
        ("workloadId=w_1", vec![4, 1, 0]),
        ("integrationId=int_a&decision=denied", vec![2]),
        ("actionGroup=read", vec![4, 3, 1]),
        ("decision=approval_required", vec![4]),
        (
            &format!("timeMin={}&timeMax={}", times[2], times[4]) as &str,
            vec![4, 3, 2],
        ),
        (
            &format!("timeMax={}&workloadId=w_2", times[2]) as &str,
            vec![2],
        ),
        ("workloadId=w_9", vec![]),
    ] {
        let a = api
            .get(&format!("/v1/audit/events?{query}"), &token)
            .await?;
        assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.body);
        assert_eq!(ids(&a), evts("a", &expected), "{query}");
    }

    // Keyset pages, with and without a filter.
    for (filter, pages) in [
        ("", vec![vec![5, 4], vec![3, 2], vec![1, 0]]),
        ("&workloadId=w_1", vec![vec![4, 1], vec![0]]),
    ] {
        let mut cursor: Option<String> = None;
        for (n, page) in pages.iter().enumerate() {
            let query = match &cursor {
                Some(c) => format!("/v1/audit/events?limit=2{filter}&cursor={c}"),
                None => format!("/v1/audit/events?limit=2{filter}"),
            };
            let a = api.get(&query, &token).await?;
            assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.body);
            assert_eq!(ids(&a), evts("a", page), "{query}");
            cursor = a.body["nextCursor"].as_str().map(str::to_owned);
            assert_eq!(cursor.is_some(), n + 1 < pages.len(), "{query}");
        }
    }
    assert_eq!(count_events(&api).await?, before, "reads write no event");
    Ok(())
}

#[tokio::test]
async fn bad_event_query_parameters_are_400_naming_the_parameter() -> TestResult {
    let api = Api::start().await?;
    let token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    seed(&api, "t_a", "a").await?;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("timeMin=yesterday", "timeMin"),
        ("timeMax=2026-13-01T00:00:00Z", "timeMax"),
        (
            "timeMin=2026-02-01T00:00:00Z&timeMax=2026-01-01T00:00:00Z",
            "timeMin",
        ),
        ("decision=maybe", "decision"),
        ("workloadId=%20", "workloadId"),
        ("integrationId=a%20b", "integrationId"),
        ("actionGroup=", "actionGroup"),
        ("cursor=not-a-cursor", "cursor"),
        ("tenantId=t_b", "tenantId"),
    ] {
        let a = api
            .get(&format!("/v1/audit/events?{query}"), &token)
            .await?;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (StatusCode::BAD_REQUEST, "validation_error", field),
            "{query}: {}",
            a.body
        );
    }
    Ok(())
}

#[tokio::test]
async fn every_tenant_role_reads_the_trail_and_a_system_token_does_not() -> TestResult {
    let api = Api::start().await?;
    for role in [
        ApiTokenRole::Auditor,
        ApiTokenRole::Operator,
        ApiTokenRole::Admin,
    ] {
        let token = api.token(Some("t_a"), role).await?;
        for path in ["/v1/audit/events", "/v1/audit/verify"] {
            assert_eq!(
                api.get(path, &token).await?.status,
                StatusCode::OK,
                "{role} {path}"
            );
        }
    }
    let system = api.token(None, ApiTokenRole::Admin).await?;
    for path in ["/v1/audit/events", "/v1/audit/verify"] {
        let a = api.get(path, &system).await?;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
        let a = api.call(reqwest::Method::GET, path, None, None).await?;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    Ok(())
}

/// Tenant B's token never sees tenant A's events, nor reads on with A's cursor.
#[tokio::test]
async fn another_tenants_events_are_never_seen() -> TestResult {
    let api = Api::start().await?;
    let a_token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let b_token = api.token(Some("t_b"), ApiTokenRole::Admin).await?;
    seed(&api, "t_a", "a").await?;
    let page = api.get("/v1/audit/events?limit=2", &a_token).await?;
    let a_cursor = page.body["nextCursor"].as_str().ok_or("no cursor")?;
    for (query, expected) in [
        ("", StatusCode::OK),
        ("?workloadId=w_1", StatusCode::OK),
        ("?decision=denied&integrationId=int_a", StatusCode::OK),
        (
            &format!("?limit=2&cursor={a_cursor}") as &str,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let a = api
            .get(&format!("/v1/audit/events{query}"), &b_token)
            .await?;
        assert_eq!(a.status, expected, "{query}: {}", a.body);
        if expected == StatusCode::OK {
            assert_eq!(a.body["items"], json!([]), "{query}");
        } else {
            assert_eq!(a.field(), "cursor");
        }
        assert!(!a.body.to_string().contains("evt_a"), "{query}");
    }
    Ok(())
}

#[tokio::test]
async fn verify_reports_only_the_callers_chain_intact_or_its_first_problem() -> TestResult {
    let api = Api::start().await?;
    let a_token = api.token(Some("t_a"), ApiTokenRole::Auditor).await?;
    let b_token = api.token(Some("t_b"), ApiTokenRole::Auditor).await?;

    let empty = api.get("/v1/audit/verify", &a_token).await?;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(
        empty.body,
        json!({"tenantId": "t_a", "intact": true, "links": 0, "checkpoints": 0})
    );

    seed(&api, "t_a", "a").await?;
    seed(&api, "t_b", "b").await?;
    audit::seal_pending(&api.handle.system(), audit::DEFAULT_BATCH).await?;
    let before = count_events(&api).await?;
    let a = api.get("/v1/audit/verify", &a_token).await?;
    assert_eq!(
        (a.status, &a.body),
        (
            StatusCode::OK,
            &json!({"tenantId": "t_a", "intact": true, "links": 6, "checkpoints": 0})
        )
    );

    // An edited row of A breaks A's chain, and only A's.
    api.db
        .admin()
        .await
        .batch_execute(
            "ALTER TABLE audit_events DISABLE TRIGGER ALL;
             UPDATE audit_events SET correlation_id = 'forged' WHERE event_id = 'evt_a_2';
             ALTER TABLE audit_events ENABLE TRIGGER ALL;",
        )
        .await?;
    let a = api.get("/v1/audit/verify", &a_token).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["intact"], false);
    assert_eq!(a.body["links"], 2);
    let broken = &a.body["firstBroken"];
    assert_eq!(
        (&broken["kind"], &broken["eventId"], &broken["chainSeq"]),
        (&json!("row_modified"), &json!("evt_a_2"), &json!(3))
    );
    assert!(
        broken["reason"]
            .as_str()
            .is_some_and(|r| r.contains("modified"))
    );
    let b = api.get("/v1/audit/verify", &b_token).await?;
    assert_eq!(
        b.body,
        json!({"tenantId": "t_b", "intact": true, "links": 6, "checkpoints": 0})
    );
    // No parameter can name another chain.
    let a = api.get("/v1/audit/verify?tenantId=t_b", &a_token).await?;
    assert_eq!((a.status, a.field()), (StatusCode::BAD_REQUEST, "tenantId"));
    assert_eq!(count_events(&api).await?, before, "verify writes no event");
    Ok(())
}
