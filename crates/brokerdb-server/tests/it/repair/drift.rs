//! Drift made by hand, found by `brokerdb doctor`, repaired through the API, recorded in the
//! ledger; executions are idempotent and serialize.

use std::collections::BTreeSet;

use brokerdb_repair::Registry;
use brokerdb_server::ops::principal::os_principal;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::cli::{console_cmd, stdout};
use super::{ADMIN, Console, admin_token, send, serve};
use crate::TestResult;
use crate::api::{Answer, Api, Error};

/// Three drifts an operator could make by hand, one per playbook, with the object the doctor
/// names and the `requiredAfter` entry the playbook restores.
const DRIFTS: [(&str, &str, &str, &str); 3] = [
    (
        "DROP INDEX public.idx_jobs_finished",
        "R-001",
        "idx_jobs_finished",
        "index:idx_jobs_finished",
    ),
    (
        "ALTER TABLE public.human_users DISABLE ROW LEVEL SECURITY",
        "R-002",
        "human_users",
        "rls:human_users",
    ),
    (
        "ALTER TABLE public.audit_events DISABLE TRIGGER trg_audit_events_forbid_mutation",
        "R-003",
        "trg_audit_events_forbid_mutation",
        "trigger:audit_events.trg_audit_events_forbid_mutation",
    ),
];

/// `brokerdb doctor <args>` on the service's database, as an allowed OS user on staging.
fn doctor(api: &Api, args: &[&str]) -> std::io::Result<std::process::Output> {
    let mut full = vec!["doctor"];
    full.extend_from_slice(args);
    console_cmd(
        Some("staging"),
        Some(&os_principal()),
        &api.db.admin_url(),
        &full,
    )
}

/// `POST execute` of `id` with its hash, as the admin token, with `request_id`.
async fn execute(api: &Api, token: &str, id: &str, request_id: &str) -> Result<Answer, Error> {
    let hash = Registry::builtin()?.get(id)?.hash.clone();
    let auth = format!("Bearer {token}");
    send(
        api,
        Method::POST,
        "/api/ops/db/repairs/execute",
        &[("authorization", &auth), ("x-request-id", request_id)],
        Some(&json!({"repairId": id, "expectedHash": hash})),
    )
    .await
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn doctor_finds_hand_made_drift_and_the_api_repairs_it() -> TestResult {
    let api = serve(Console::default()).await?;
    let token = admin_token(&api).await?;
    let out = doctor(&api, &[])?;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("no drift"), "{}", stdout(&out));

    let admin = api.db.admin().await;
    for (sql, ..) in DRIFTS {
        admin.batch_execute(sql).await?;
    }
    let out = doctor(&api, &[])?;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for (_, playbook, object, _) in DRIFTS {
        assert!(
            text.lines()
                .any(|l| l.contains(object) && l.ends_with(&format!("  {playbook}"))),
            "{object} with {playbook} not in:\n{text}"
        );
    }
    let out = doctor(&api, &["--json"])?;
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let named: BTreeSet<&str> = report["drifts"]
        .as_array()
        .ok_or("no drifts")?
        .iter()
        .filter_map(|d| d["playbook"].as_str())
        .collect();
    assert_eq!(named, BTreeSet::from(["R-001", "R-002", "R-003"]));

    for (i, (_, playbook, _, restores)) in DRIFTS.into_iter().enumerate() {
        let preview = api
            .call(
                Method::POST,
                "/api/ops/db/repairs/preview",
                Some(&token),
                Some(&json!({"repairId": playbook})),
            )
            .await?;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        assert_eq!(strings(&preview.body["requiredAfterMissing"]), [restores]);
        assert!(!preview.body["plan"].as_array().ok_or("plan")?.is_empty());

        let run = execute(&api, &token, playbook, &format!("repair-test-{i}")).await?;
        assert_eq!(run.status, StatusCode::OK, "{}", run.body);
        assert_eq!(run.body["status"], "SUCCESS", "{}", run.body);
        assert_eq!(strings(&run.body["restored"]), [restores]);
        assert!(strings(&run.body["postMissing"]).is_empty());
        assert!(strings(&run.body["preMissing"]).is_empty());
    }
    let out = doctor(&api, &[])?;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The ledger, newest first: each run with its principal, environment and request id.
    let runs = api.get("/api/ops/db/repairs/runs?limit=2", &token).await?;
    assert_eq!(runs.status, StatusCode::OK, "{}", runs.body);
    let items = runs.body["items"].as_array().ok_or("items")?;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["repairId"], "R-003");
    assert_eq!(items[1]["repairId"], "R-002");
    for item in items {
        assert_eq!(item["executedBy"], ADMIN);
        assert_eq!(item["deploymentEnv"], "staging");
        assert_eq!(item["status"], "SUCCESS");
    }
    assert_eq!(items[0]["requestId"], "repair-test-2");
    let cursor = runs.body["nextCursor"].as_str().ok_or("no next cursor")?;
    let rest = api
        .get(&format!("/api/ops/db/repairs/runs?cursor={cursor}"), &token)
        .await?;
    let rest = rest.body["items"].as_array().ok_or("items")?;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["repairId"], "R-001");
    assert_eq!(rest[0]["requestId"], "repair-test-0");
    assert_eq!(
        strings(&rest[0]["postMissing"]),
        Vec::<String>::new(),
        "{}",
        rest[0]
    );
    Ok(())
}

#[tokio::test]
async fn executing_a_playbook_twice_succeeds_twice() -> TestResult {
    let api = serve(Console::default()).await?;
    let token = admin_token(&api).await?;
    api.db.admin().await.batch_execute(DRIFTS[0].0).await?;
    let first = execute(&api, &token, "R-001", "twice-1").await?;
    let second = execute(&api, &token, "R-001", "twice-2").await?;
    for run in [&first, &second] {
        assert_eq!(run.status, StatusCode::OK, "{}", run.body);
        assert_eq!(run.body["status"], "SUCCESS", "{}", run.body);
    }
    assert_eq!(strings(&first.body["restored"]), [DRIFTS[0].3]);
    assert!(strings(&second.body["restored"]).is_empty());
    let runs = api.get("/api/ops/db/repairs/runs", &token).await?;
    let ids: Vec<&Value> = runs.body["items"]
        .as_array()
        .ok_or("items")?
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(
        ids,
        [&second.body["repairRunId"], &first.body["repairRunId"]]
    );
    Ok(())
}

#[tokio::test]
async fn two_concurrent_executions_of_a_playbook_serialize() -> TestResult {
    let api = serve(Console::default()).await?;
    let token = admin_token(&api).await?;
    api.db.admin().await.batch_execute(DRIFTS[0].0).await?;
    let (a, b) = tokio::join!(
        execute(&api, &token, "R-001", "concurrent-a"),
        execute(&api, &token, "R-001", "concurrent-b"),
    );
    let (a, b) = (a?, b?);
    for run in [&a, &b] {
        assert_eq!(run.status, StatusCode::OK, "{}", run.body);
        assert_eq!(run.body["status"], "SUCCESS", "{}", run.body);
        assert!(strings(&run.body["preMissing"]).is_empty());
        assert!(strings(&run.body["postMissing"]).is_empty());
    }
    // One ran first and restored the index; the other ran after it and found nothing missing.
    let mut restored = [strings(&a.body["restored"]), strings(&b.body["restored"])];
    restored.sort();
    assert_eq!(
        restored,
        [Vec::<String>::new(), vec![DRIFTS[0].3.to_owned()]]
    );
    Ok(())
}
