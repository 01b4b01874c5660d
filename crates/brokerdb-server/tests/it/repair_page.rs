//! The repair console's web page, `/ops/db/repairs`, driven like a person would in headless
//! Chromium (see [`crate::browser`]): sign in with a pasted token, list, preview R-001, a wrong
//! hash refused with 409, the right hash executed, the result and the run history. The schema is
//! broken first (one of R-001's indexes dropped) so the repair has something to do, and checked
//! after. The statuses and the form checks a browser cannot show are asserted over plain HTTP.

use std::time::Duration;

use brokerdb::repair_runs::{self, NewRepairRun, RepairRunStatus};
use brokerdb::repo::api_tokens::ApiTokenRole;
use brokerdb_repair::Registry;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};

use crate::api::Api;
use crate::browser::{
    Chromedriver, Error, click_and_wait, text, wait_for_heading, with_screenshot_on_failure,
};
use crate::repair::{ADMIN, Console, admin_token, serve};

/// Whether the index `name` exists in schema `public`.
async fn index_exists(api: &Api, name: &str) -> Result<bool, Error> {
    let row = api
        .db
        .admin()
        .await
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1)",
            &[&name],
        )
        .await?;
    Ok(row.get(0))
}

/// Records a failed run of R-001 in the ledger, as the console would have; returns its id.
async fn record_failed_run(api: &Api) -> Result<String, Error> {
    let admin = api.db.admin().await;
    let playbook = Registry::builtin()?.get("R-001")?;
    let run = NewRepairRun {
        id: uuid::Uuid::new_v4(),
        repair_id: "R-001".into(),
        expected_hash: playbook.hash.clone(),
        actual_hash: playbook.hash.clone(),
        executed_by: ADMIN.into(),
        deployment_env: "staging".into(),
        lawbook_hash: repair_runs::lawbook_hash(&admin).await?,
        request_id: "earlier-request".into(),
        status: RepairRunStatus::Failed,
        error_code: Some("PRECONDITION_FAILED".into()),
        error_message: Some("a required object was missing".into()),
        summary: "refused by the pre check".into(),
        pre_missing_tables: vec!["table:jobs".into()],
        post_missing_tables: vec![],
    };
    Ok(repair_runs::record(&admin, &run).await?.id.to_string())
}

/// The first index R-001 promises, by name.
fn an_index_of_r001() -> Result<String, Error> {
    let playbook = Registry::builtin()?.get("R-001")?;
    playbook
        .required_after
        .iter()
        .find_map(|o| o.to_string().strip_prefix("index:").map(str::to_owned))
        .ok_or_else(|| "R-001 promises no index".into())
}

/// A plain HTTP client that never follows redirects.
fn http() -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_previews_and_repairs_r001_in_the_browser() -> crate::TestResult {
    // BROKERDB_ENV=staging and the token's subject in BROKERDB_REPAIR_ADMINS, as settings.
    let console = serve(Console::default()).await?;
    let token = admin_token(&console).await?;
    let index = an_index_of_r001()?;

    // Break the schema: drop one of the indexes R-001 restores.
    console
        .db
        .admin()
        .await
        .batch_execute(&format!("DROP INDEX public.\"{index}\""))
        .await?;
    assert!(!index_exists(&console, &index).await?);
    // An older run in the ledger, so the history has a second page.
    let older = record_failed_run(&console).await?;

    let driver = Chromedriver::start().await?;
    let profile = tempfile::tempdir()?;
    let client = driver.session(profile.path()).await?;
    let name = "a_person_signs_in_previews_and_repairs_r001_in_the_browser";
    let base = console.base.clone();
    let run_id = with_screenshot_on_failure(name, client, |client| async move {
        walk_through(&client, &base, &token, &index, &older).await
    })
    .await?;

    // The repair really happened: the index is back, and the ledger holds the run.
    assert!(
        index_exists(&console, &an_index_of_r001()?).await?,
        "the index is still missing after run {run_id}"
    );
    Ok(())
}

/// The person's walk through the page; returns the run id the result page showed.
async fn walk_through(
    client: &Client,
    base: &str,
    token: &str,
    index: &str,
    older: &str,
) -> Result<String, Error> {
    // Not signed in: the sign-in form.
    client.goto(&format!("{base}/ops/db/repairs")).await?;
    wait_for_heading(client, "Sign in").await?;
    assert_eq!(client.find_all(Locator::Css("h1")).await?.len(), 1);
    let lang = client
        .find(Locator::Css("html"))
        .await?
        .attr("lang")
        .await?;
    assert_eq!(lang.as_deref(), Some("en"));
    client
        .find(Locator::Css("#token"))
        .await?
        .send_keys(token)
        .await?;
    click_and_wait(client, "form[action='/ops/db/repairs/sign-in'] button").await?;

    // Signed in: the list, with R-001 and its hash; the token appears nowhere.
    wait_for_heading(client, "Database repair console").await?;
    let source = client.source().await?;
    assert!(!source.contains(token), "the page shows the token");
    assert!(
        client
            .current_url()
            .await?
            .as_str()
            .ends_with("/ops/db/repairs")
    );
    let row = text(client, "#playbook-R-001").await?;
    let registry_hash = Registry::builtin()?.get("R-001")?.hash.clone();
    assert!(row.contains(&registry_hash), "{row}");
    assert!(text(client, "header").await?.contains(ADMIN));

    // Preview: the plan, the hash, and what it would restore (the dropped index).
    click_and_wait(client, "#preview-R-001").await?;
    wait_for_heading(client, "Preview of R-001").await?;
    let hash = text(client, "#hash-to-confirm").await?;
    assert_eq!(hash, registry_hash);
    assert!(!text(client, "#plan").await?.is_empty());
    assert!(
        text(client, "#required-before-status")
            .await?
            .starts_with("All present")
    );
    let restores = text(client, "#would-restore").await?;
    assert!(restores.contains(&format!("index:{index}")), "{restores}");
    let field = client.find(Locator::Css("#expected_hash")).await?;
    assert_eq!(
        field.prop("value").await?.as_deref(),
        Some(""),
        "the hash is pre-filled"
    );

    // A wrong hash: 409, the preview again, nothing pre-filled.
    let wrong = format!(
        "{}{}",
        &hash[..63],
        if hash.ends_with('0') { '1' } else { '0' }
    );
    field.send_keys(&wrong).await?;
    click_and_wait(client, "#execute").await?;
    wait_for_heading(client, "Preview of R-001").await?;
    let error = text(client, "#error").await?;
    assert!(error.starts_with("409 — "), "{error}");
    assert!(error.contains("hash does not match"), "{error}");
    let field = client.find(Locator::Css("#expected_hash")).await?;
    assert_eq!(field.prop("value").await?.as_deref(), Some(""));

    // The right hash, pasted as read from the page: SUCCESS and a run id.
    field
        .send_keys(&text(client, "#hash-to-confirm").await?)
        .await?;
    click_and_wait(client, "#execute").await?;
    wait_for_heading(client, "R-001: SUCCESS").await?;
    assert_eq!(text(client, "#run-status").await?, "SUCCESS");
    let run_id = text(client, "#run-id").await?;
    uuid::Uuid::parse_str(&run_id).map_err(|e| format!("run id {run_id:?}: {e}"))?;
    assert!(text(client, "#pre-missing").await? == "none");
    assert!(text(client, "#post-missing").await? == "none");

    // The history: the new run on top.
    client
        .find(Locator::LinkText("See it in the run history"))
        .await?
        .click()
        .await?;
    wait_for_heading(client, "Run history").await?;
    let first = client
        .find(Locator::Css("#runs tbody tr"))
        .await?
        .attr("id")
        .await?;
    assert_eq!(first, Some(format!("run-{run_id}")));
    let row = text(client, &format!("#run-{run_id}")).await?;
    assert!(
        row.contains("R-001") && row.contains("SUCCESS") && row.contains(ADMIN),
        "{row}"
    );
    let rows = client.find_all(Locator::Css("#runs tbody tr")).await?;
    assert_eq!(rows.len(), 2);
    assert!(
        text(client, &format!("#run-{older}"))
            .await?
            .contains("FAILED")
    );

    // One run a page: the new run, then "Next page" to the older one.
    client
        .goto(&format!("{base}/ops/db/repairs/runs?limit=1"))
        .await?;
    wait_for_heading(client, "Run history").await?;
    let rows = client.find_all(Locator::Css("#runs tbody tr")).await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attr("id").await?, Some(format!("run-{run_id}")));
    click_and_wait(client, "#next-page").await?;
    wait_for_heading(client, "Run history").await?;
    let rows = client.find_all(Locator::Css("#runs tbody tr")).await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attr("id").await?, Some(format!("run-{older}")));
    assert!(
        client
            .find_all(Locator::Css("#next-page"))
            .await?
            .is_empty()
    );

    // Sign out: back to the sign-in form.
    click_and_wait(client, "form[action='/ops/db/repairs/sign-out'] button").await?;
    wait_for_heading(client, "Sign in").await?;
    Ok(run_id)
}

/// A page's answer over plain HTTP: status, `Set-Cookie`, `Location` and the body.
struct Answer {
    status: StatusCode,
    set_cookie: Option<String>,
    location: Option<String>,
    body: String,
}

impl Answer {
    /// The alert's text (`"<status> — <message>"`), or "" when the page has none.
    fn alert(&self) -> String {
        self.body
            .split_once("<div class=\"alert\" role=\"alert\" id=\"error\">")
            .and_then(|(_, rest)| rest.split_once("</div>"))
            .map(|(alert, _)| {
                alert
                    .replace("&#x27;", "'")
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
                    .replace("<p>", "")
                    .replace("</p>", "")
                    .replace("<strong>", "")
                    .replace("</strong>", "")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }
}

/// Sends `method path` with the sign-in `cookie`, `Origin: origin` and a form body.
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> Result<Answer, Error> {
    let mut request = http.request(method.clone(), url);
    if let Some(token) = cookie {
        request = request.header(COOKIE, format!("brokerdb_ops_token={token}"));
    }
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    if method == reqwest::Method::POST {
        request = request.form(form);
    }
    let response = request.send().await?;
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (set_cookie, location) = (header(SET_COOKIE), header(LOCATION));
    let status = response.status();
    if status != StatusCode::SEE_OTHER {
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        assert_eq!(content_type, "text/html; charset=utf-8", "{url}");
    }
    Ok(Answer {
        status,
        set_cookie,
        location,
        body: response.text().await?,
    })
}

#[tokio::test]
async fn refusals_answer_with_their_status_and_a_readable_message() -> crate::TestResult {
    let console = serve(Console::default()).await?;
    let admin = admin_token(&console).await?;
    let other = console.token(Some("t_a"), ApiTokenRole::Operator).await?;
    let http = http()?;
    let own = Some(console.base.as_str());
    let page = format!("{}/ops/db/repairs", console.base);
    let sign_in = format!("{page}/sign-in");
    let execute = format!("{page}/R-001/execute");
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    // Not signed in: 401 and the sign-in form.
    let a = send(&http, get.clone(), &page, None, None, &[]).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("<label for=\"token\">"), "{}", a.body);
    assert!(
        a.alert().starts_with("401 — Authentication is required."),
        "{}",
        a.alert()
    );

    // Sign-in: a form from another site is refused before the token is looked at.
    for origin in ["http://evil.example", "null"] {
        let a = send(
            &http,
            post.clone(),
            &sign_in,
            None,
            Some(origin),
            &[("token", &admin)],
        )
        .await?;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{origin}");
        assert!(a.alert().starts_with("403 — "), "{}", a.alert());
        assert_eq!(a.set_cookie, None);
    }
    let a = send(
        &http,
        post.clone(),
        &sign_in,
        None,
        own,
        &[("token", "bdb_nope_nope")],
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.alert()
            .starts_with("401 — The token is unknown, expired or revoked."),
        "{}",
        a.alert()
    );
    assert_eq!(a.set_cookie, None);

    // A valid token: a 303 to the page and the cookie, HttpOnly and SameSite=Strict.
    let a = send(
        &http,
        post.clone(),
        &sign_in,
        None,
        own,
        &[("token", &admin)],
    )
    .await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location.as_deref(), Some("/ops/db/repairs"));
    assert_eq!(
        a.set_cookie,
        Some(format!(
            "brokerdb_ops_token={admin}; Path=/ops/db/repairs; HttpOnly; SameSite=Strict"
        ))
    );
    let a = send(&http, get.clone(), &page, Some(&admin), None, &[]).await?;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("id=\"playbook-R-001\""));
    assert!(!a.body.contains(&admin), "the page shows the token");

    // Execute: a cross-site form is 403; a wrong hash 409; a malformed one 422; an unknown
    // playbook 404.
    let hash = Registry::builtin()?.get("R-001")?.hash.clone();
    let a = send(
        &http,
        post.clone(),
        &execute,
        Some(&admin),
        Some("http://evil.example"),
        &[("expected_hash", &hash)],
    )
    .await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let wrong = "0".repeat(64);
    let a = send(
        &http,
        post.clone(),
        &execute,
        Some(&admin),
        own,
        &[("expected_hash", &wrong)],
    )
    .await?;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        a.alert()
            .starts_with("409 — The expected hash does not match playbook R-001's hash"),
        "{}",
        a.alert()
    );
    let a = send(
        &http,
        post.clone(),
        &execute,
        Some(&admin),
        own,
        &[("expected_hash", "abc")],
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.alert().starts_with("422 — The hash to confirm must be"),
        "{}",
        a.alert()
    );
    let a = send(
        &http,
        post.clone(),
        &format!("{page}/R-999/execute"),
        Some(&admin),
        own,
        &[("expected_hash", &hash)],
    )
    .await?;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(
        a.alert()
            .starts_with("404 — No repair playbook has this id."),
        "{}",
        a.alert()
    );

    // A valid token whose subject is not an admin: 403.
    let a = send(&http, get.clone(), &page, Some(&other), None, &[]).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.alert()
            .starts_with("403 — This principal is not allowed to run repairs"),
        "{}",
        a.alert()
    );

    // A cookie whose token is not (or no longer) valid: 401, and the cookie is cleared.
    let a = send(&http, get.clone(), &page, Some("bdb_gone_gone"), None, &[]).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.alert().starts_with("401 — Your sign-in has ended"),
        "{}",
        a.alert()
    );
    assert!(a.set_cookie.is_some_and(|c| c.contains("Max-Age=0")));

    // Sign out: the cookie is cleared.
    let a = send(
        &http,
        post.clone(),
        &format!("{page}/sign-out"),
        Some(&admin),
        own,
        &[],
    )
    .await?;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(
        a.set_cookie
            .is_some_and(|c| c.starts_with("brokerdb_ops_token=;") && c.contains("Max-Age=0"))
    );

    // Production: every page is 409 ENV_DISABLED, whoever asks.
    let prod = serve(Console {
        env: Some("production"),
        ..Console::default()
    })
    .await?;
    let token = admin_token(&prod).await?;
    let a = send(
        &http,
        get.clone(),
        &format!("{}/ops/db/repairs", prod.base),
        Some(&token),
        None,
        &[],
    )
    .await?;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(
        a.alert()
            .starts_with("409 — The repair console is disabled in this environment (production)"),
        "{}",
        a.alert()
    );
    Ok(())
}

#[tokio::test]
async fn a_trusted_proxy_header_signs_the_person_in_without_a_cookie() -> crate::TestResult {
    let header = "x-forwarded-user";
    let console = serve(Console {
        proxy: Some(header),
        ..Console::default()
    })
    .await?;
    let http = http()?;
    let page = format!("{}/ops/db/repairs", console.base);
    let answer = http.get(&page).header(header, ADMIN).send().await?;
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.text().await?;
    assert!(body.contains("id=\"playbook-R-001\""));
    // Signed in by the proxy: there is no cookie to sign out of.
    assert!(!body.contains("Sign out"), "{body}");
    let answer = http
        .get(&page)
        .header(header, "someone-else")
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    Ok(())
}

#[tokio::test]
async fn behind_a_host_rewriting_proxy_forms_from_the_public_origin_are_accepted()
-> crate::TestResult {
    // The proxy serves https://ops.example.com and forwards with Host rewritten to the service's
    // own address: the browser's Origin never names the request's host.
    let public = "https://ops.example.com";
    let proxied = serve(Console {
        public_origins: public,
        ..Console::default()
    })
    .await?;
    let plain = serve(Console::default()).await?;
    let http = http()?;
    let post = reqwest::Method::POST;
    for (console, origin, status) in [
        (&proxied, public, StatusCode::SEE_OTHER),
        (&proxied, "https://evil.example", StatusCode::FORBIDDEN),
        (&plain, public, StatusCode::FORBIDDEN),
    ] {
        let admin = admin_token(console).await?;
        let sign_in = format!("{}/ops/db/repairs/sign-in", console.base);
        let a = send(
            &http,
            post.clone(),
            &sign_in,
            None,
            Some(origin),
            &[("token", &admin)],
        )
        .await?;
        assert_eq!(a.status, status, "{origin}");
        assert_eq!(
            a.set_cookie.is_some(),
            status == StatusCode::SEE_OTHER,
            "{origin}"
        );
    }
    Ok(())
}
