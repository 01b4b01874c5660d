//! Every page rendered with sample values: the templates compile, escape what they show, and
//! keep the accessibility rules (one `<h1>`, `<main>`, a label for every input, scoped table
//! headers, buttons with text).

use axum::http::StatusCode;

use super::views::{Alert, Frame, render_html};
use crate::ops::wire::{ExecuteOut, PlanStepOut, PreviewOut, RepairSummary, RunOut, RunStatusOut};

const HOSTILE: &str = "<script>alert(1)</script>";

fn frame(title: &str, error: Option<Alert>) -> Frame {
    Frame {
        title: title.to_owned(),
        environment: Some("staging".into()),
        principal: Some(format!("admin{HOSTILE}")),
        signed_in_with_cookie: true,
        error,
    }
}

fn preview() -> PreviewOut {
    PreviewOut {
        id: "R-001".into(),
        title: "Restore indexes".into(),
        description: HOSTILE.into(),
        hash: "ab".repeat(32),
        statement_count: 2,
        required_before: vec!["table:jobs".into()],
        required_before_missing: vec![],
        required_after: vec!["index:idx_a".into(), "index:idx_b".into()],
        required_after_missing: vec!["index:idx_b".into()],
        plan: vec![
            PlanStepOut {
                position: 1,
                sql: "CREATE INDEX IF NOT EXISTS idx_a ON public.jobs (a)".into(),
                truncated: false,
            },
            PlanStepOut {
                position: 2,
                sql: format!("CREATE INDEX {HOSTILE}"),
                truncated: true,
            },
        ],
    }
}

/// Every page, as (template, frame, values).
fn pages() -> Vec<(&'static str, Frame, serde_json::Value)> {
    let summary = RepairSummary {
        id: "R-001".into(),
        title: "Restore indexes".into(),
        description: HOSTILE.into(),
        hash: "ab".repeat(32),
        statement_count: 2,
        required_before: vec![],
        required_after: vec!["index:idx_a".into()],
    };
    let outcome = ExecuteOut {
        status: RunStatusOut::Failed,
        repair_run_id: uuid::Uuid::nil().to_string(),
        summary: HOSTILE.into(),
        pre_missing: vec!["table:jobs".into()],
        post_missing: vec![],
        restored: vec![],
        error_code: Some("PRECONDITION_FAILED".into()),
        error_message: Some(HOSTILE.into()),
    };
    let succeeded = ExecuteOut {
        status: RunStatusOut::Success,
        repair_run_id: uuid::Uuid::nil().to_string(),
        summary: HOSTILE.into(),
        pre_missing: vec![],
        post_missing: vec![],
        restored: vec![],
        error_code: None,
        error_message: None,
    };
    let run = RunOut {
        id: uuid::Uuid::nil().to_string(),
        repair_id: "R-001".into(),
        expected_hash: "ab".repeat(32),
        actual_hash: "ab".repeat(32),
        executed_at: "2026-01-02T03:04:05.678Z".into(),
        executed_by: HOSTILE.into(),
        deployment_env: "staging".into(),
        lawbook_hash: "cd".repeat(32),
        request_id: "req-1".into(),
        status: RunStatusOut::Failed,
        error_code: Some("PRECONDITION_FAILED".into()),
        error_message: Some(HOSTILE.into()),
        summary: HOSTILE.into(),
        pre_missing: vec!["table:jobs".into()],
        post_missing: vec![],
    };
    let ok_run = RunOut {
        status: RunStatusOut::Success,
        error_code: None,
        error_message: None,
        ..run.clone()
    };
    let refused = Alert::new(StatusCode::CONFLICT, format!("refused {HOSTILE}")).with_hint(HOSTILE);
    vec![
        (
            "ops/sign_in.html",
            frame("Sign in", Some(refused.clone())),
            serde_json::json!({}),
        ),
        (
            "ops/message.html",
            frame("Refused", Some(refused.clone())),
            serde_json::json!({}),
        ),
        (
            "ops/list.html",
            frame("Database repair console", None),
            serde_json::json!({ "playbooks": [summary] }),
        ),
        (
            "ops/list.html",
            frame("Database repair console", None),
            serde_json::json!({ "playbooks": [] }),
        ),
        (
            "ops/preview.html",
            frame("Preview of R-001", Some(refused)),
            serde_json::json!({ "preview": preview() }),
        ),
        (
            "ops/result.html",
            frame("R-001: FAILED", None),
            serde_json::json!({ "outcome": outcome }),
        ),
        (
            "ops/result.html",
            frame("R-001: SUCCESS", None),
            serde_json::json!({ "outcome": succeeded }),
        ),
        (
            "ops/runs.html",
            frame("Run history", None),
            serde_json::json!({ "runs": [run, ok_run], "next": "/ops/db/repairs/runs?after=a%26b", "first_page": false }),
        ),
        (
            "ops/runs.html",
            frame("Run history", None),
            serde_json::json!({ "runs": [], "next": null, "first_page": true }),
        ),
    ]
}

/// The values of `attribute` on every `<tag …>` of `html`.
fn attributes<'a>(html: &'a str, tag: &str, attribute: &str) -> Vec<Option<&'a str>> {
    html.split(&format!("<{tag}"))
        .skip(1)
        .filter(|rest| rest.starts_with([' ', '>']))
        .map(|rest| {
            let open = rest.split('>').next().unwrap_or_default();
            open.split_once(&format!("{attribute}=\""))
                .and_then(|(_, v)| v.split('"').next())
        })
        .collect()
}

#[test]
fn every_page_renders_escaped_and_accessible() -> Result<(), String> {
    for (template, frame, values) in pages() {
        let html = render_html(template, &frame, values)?;
        let at = |what: &str| format!("{template}: {what}\n{html}");
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{}",
            at("lang")
        );
        assert_eq!(html.matches("<h1").count(), 1, "{}", at("one h1"));
        assert_eq!(html.matches("<main>").count(), 1, "{}", at("one main"));
        assert!(!html.contains("<script"), "{}", at("unescaped"));
        assert!(html.contains("&lt;script&gt;"), "{}", at("escaped"));
        for id in attributes(&html, "input", "id") {
            let id = id.ok_or_else(|| at("an input without id"))?;
            assert!(
                html.contains(&format!("<label for=\"{id}\">")),
                "{}",
                at(id)
            );
        }
        for scope in attributes(&html, "th", "scope") {
            assert!(matches!(scope, Some("col" | "row")), "{}", at("th scope"));
        }
        for button in html.split("<button").skip(1) {
            let text = button
                .split_once('>')
                .and_then(|(_, rest)| rest.split_once("</button>"))
                .map(|(text, _)| text.trim())
                .unwrap_or_default();
            assert!(!text.is_empty(), "{}", at("a button without text"));
        }
    }
    Ok(())
}

#[test]
fn the_preview_shows_the_hash_to_confirm_and_prefills_nothing() -> Result<(), String> {
    let html = render_html(
        "ops/preview.html",
        &frame("Preview of R-001", None),
        serde_json::json!({ "preview": preview() }),
    )?;
    let hash = "ab".repeat(32);
    assert!(html.contains(&format!(
        "Hash to confirm: <code class=\"hash\" id=\"hash-to-confirm\">{hash}</code>"
    )));
    assert!(html.contains(
        "name=\"expected_hash\" required autocomplete=\"off\" spellcheck=\"false\" value=\"\">"
    ));
    assert!(html.contains("(truncated)"));
    assert!(html.contains("<code>index:idx_b</code>"));
    assert!(html.contains("All present (1 object)."));
    Ok(())
}

#[test]
fn alerts_read_as_sentences_with_their_status() -> Result<(), String> {
    let alert = Alert::new(
        StatusCode::CONFLICT,
        "the repair console is disabled in this environment (production)",
    );
    assert_eq!(
        alert.message,
        "The repair console is disabled in this environment (production)."
    );
    let html = render_html("ops/message.html", &frame("Playbooks", Some(alert)), ())?;
    assert!(html.contains(
        "<strong>409 — The repair console is disabled in this environment (production).</strong>"
    ));
    Ok(())
}
