//! Paging: offset pages with their envelope, keyset pages with signed cursors, and how a
//! keyset cursor travels through HTTP.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run -p brokerdb-examples --example paging
//! ```
//!
//! The service has no HTTP list route yet. A route will take the cursor as an opaque query
//! parameter and return the next one in the body; this example builds those URLs and bodies
//! with the library calls a route would make.

use std::process::ExitCode;

use brokerdb::db::ConnectOptions;
use brokerdb::db::paging::{PageRequest, Sort};
use brokerdb::model::Email;
use brokerdb::prelude::*;
use brokerdb::repo::tenants;
use brokerdb::repo::users::{self, CreateHumanUser, UserFilter, UserSort};
use brokerdb_examples::Error;
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    brokerdb_examples::run("paging", |url| async move { paging(&url).await }).await
}

async fn paging(url: &str) -> Result<(), Error> {
    brokerdb_examples::migrate(url).await?;
    // Keyset cursors are signed with the handle's cursor key. Every instance of a deployment
    // must use the same one (the service reads it from BROKERDB_CURSOR_SECRET), or a cursor
    // made by one instance is refused by the next. from_admin_url starts with a random key.
    let mut options = ConnectOptions::from_admin_url(url)?;
    options.cursor_key = CursorKey::from_bytes(*b"example-only-cursor-key-32-bytes");
    let db = Db::connect(options.clone()).await?;

    let acme = TenantId::parse("t_acme")?;
    let globex = TenantId::parse("t_globex")?;
    tenants::create(&mut db.system(), "Acme", Some(acme.clone())).await?;
    tenants::create(&mut db.system(), "Globex", Some(globex.clone())).await?;
    // 23 users of Acme, in one transaction.
    db.tenant(&acme)
        .transaction(&TxOptions::default(), |tx| {
            Box::pin(async move {
                for n in 1..=23 {
                    users::create(tx, &user(n)?).await?;
                }
                Ok(())
            })
        })
        .await?;
    users::create(&mut db.tenant(&globex), &user(1)?).await?;
    println!("setup: 23 users in t_acme, 1 in t_globex");

    let mut scope = db.tenant(&acme);
    let by_email = Sort::<UserSort>::parse("email", "asc")?;

    // ---- Offset pages: page and pageSize in, `{items, page, pageSize, total, totalPages}` out.
    // The sort is an allowlist (`created_at`, `email`, `display_name`); anything else is a
    // validation_error naming `sort`.
    for page in 1..=4 {
        let p = users::list(
            &mut scope,
            &UserFilter::default(),
            by_email,
            PageRequest::new(page, 10)?,
        )
        .await?;
        println!(
            "offset page {}: {} items ({}), total {}, totalPages {}",
            p.page,
            p.items.len(),
            span(p.items.iter().map(|u| u.email.as_str())),
            p.total,
            p.total_pages
        );
        if page == 3 {
            // The envelope as a route returns it (items shortened to their emails here).
            let mut body = serde_json::to_value(&p)?;
            body["items"] = json!(p.items.iter().map(|u| &u.email).collect::<Vec<_>>());
            println!("  body: {body}");
        }
    }
    let filter = UserFilter {
        q: Some("user1".into()),
        ..UserFilter::default()
    };
    let p = users::list(&mut scope, &filter, by_email, PageRequest::default()).await?;
    println!("offset, q=user1: total {} (user10 … user19)", p.total);

    // ---- Keyset pages: `limit` and an optional cursor in, items and `next_cursor` out. Deep
    // pages cost as little as the first; the last page has no cursor.
    //
    // Through HTTP (no list route exists yet; this is the shape it takes):
    //   GET /v1/users?sort=email&direction=asc&limit=10
    //   200 {"items": [...], "next_cursor": "<opaque>"}
    //   GET /v1/users?sort=email&direction=asc&limit=10&cursor=<opaque>
    // The cursor is opaque to the client: URL-safe text (base64url of the last row's sort key,
    // a dot, an HMAC), bound to the tenant and the sort. A client cannot forge or alter a
    // position, and a cursor of another tenant or another sort is refused. It is signed, not
    // encrypted: the sort key (here an email) can be decoded from it, so it is as sensitive as
    // the page it came from. The route takes the tenant from the caller's credentials, never
    // from the URL.
    let base = "https://broker.example/v1/users?sort=email&direction=asc&limit=10";
    let mut request = url::Url::parse(base)?;
    let mut first_cursor = None;
    loop {
        // What the route does with the request: read the parameters, call the library.
        let params: std::collections::HashMap<String, String> =
            request.query_pairs().into_owned().collect();
        let sort = Sort::<UserSort>::parse(
            params.get("sort").map_or("created_at", String::as_str),
            params.get("direction").map_or("desc", String::as_str),
        )?;
        let limit = params.get("limit").map_or(Ok(50), |l| l.parse::<i64>())?;
        let cursor = params.get("cursor").map(String::as_str);
        let slice =
            users::list_after(&mut scope, &UserFilter::default(), sort, limit, cursor).await?;

        // What it answers: the slice serializes to the response body as is.
        let body = serde_json::to_value(&slice)?;
        println!(
            "GET {}{}\n  -> {} items ({}), next_cursor {}",
            request.path(),
            request.query().map(|q| format!("?{q}")).unwrap_or_default(),
            slice.items.len(),
            span(slice.items.iter().map(|u| u.email.as_str())),
            body.get("next_cursor")
                .map_or("absent (last page)".to_owned(), |c| c.to_string())
        );
        let Some(next) = slice.next_cursor else { break };
        first_cursor.get_or_insert_with(|| next.clone());
        // The client copies the cursor into the next request, unchanged.
        request = url::Url::parse(base)?;
        request.query_pairs_mut().append_pair("cursor", &next);
    }

    // ---- Cursors that are refused, each a validation_error on `cursor`.
    let cursor = first_cursor.ok_or("expected more than one keyset page")?;
    let mut tampered = cursor.clone();
    let last = tampered
        .pop()
        .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
    tampered.push(last);
    let by_email_desc = Sort::<UserSort>::parse("email", "desc")?;
    let other_instance = Db::connect(ConnectOptions {
        cursor_key: CursorKey::random(),
        ..options
    })
    .await?;
    let refusals = [
        (
            "a tampered cursor",
            users::list_after(
                &mut scope,
                &UserFilter::default(),
                by_email,
                10,
                Some(&tampered),
            )
            .await,
        ),
        (
            "the cursor in another tenant's scope",
            users::list_after(
                &mut db.tenant(&globex),
                &UserFilter::default(),
                by_email,
                10,
                Some(&cursor),
            )
            .await,
        ),
        (
            "the cursor with another sort",
            users::list_after(
                &mut scope,
                &UserFilter::default(),
                by_email_desc,
                10,
                Some(&cursor),
            )
            .await,
        ),
        (
            "the cursor on an instance with another cursor key",
            users::list_after(
                &mut other_instance.tenant(&acme),
                &UserFilter::default(),
                by_email,
                10,
                Some(&cursor),
            )
            .await,
        ),
    ];
    for (what, outcome) in refusals {
        match outcome {
            Err(e) if e.code() == ErrorCode::ValidationError => {
                println!("{what}: refused ({e})");
            }
            Err(e) => return Err(e.into()),
            Ok(_) => return Err(format!("{what} was accepted").into()),
        }
    }
    Ok(())
}

/// User `n` of the example: `userNN@example.com`.
fn user(n: u32) -> Result<CreateHumanUser, ValidationError> {
    Ok(CreateHumanUser {
        user_id: None,
        email: Email::parse(&format!("user{n:02}@example.com"))?,
        roles: vec!["operator".to_owned()],
        enabled: None,
        display_name: Some(NonEmptyString::new("display_name", &format!("User {n}"))?),
        oidc_subject: None,
        oidc_issuer: None,
    })
}

/// `first … last` of a page's keys.
fn span<'a>(mut keys: impl Iterator<Item = &'a str>) -> String {
    match (keys.next(), keys.last()) {
        (Some(first), Some(last)) => format!("{first} … {last}"),
        (Some(only), None) => only.to_owned(),
        _ => "none".to_owned(),
    }
}
