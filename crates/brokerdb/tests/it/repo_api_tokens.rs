//! API tokens: shown once, stored as a hash, scoped to a tenant (or none), revocable, expiring,
//! and every creation and revocation in the system audit trail.

use std::time::Duration;

use brokerdb::model::Timestamp;
use brokerdb::repo::api_tokens::{self, Actor, ApiTokenRole, NewApiToken};

use crate::assert_code;
use crate::support::{TestResult, count_rows, seeded, tenant, text};

fn by() -> Actor {
    Actor {
        actor: text("cli"),
        correlation_id: text("test"),
    }
}

fn new(tenant_id: Option<&str>, role: ApiTokenRole) -> Result<NewApiToken, crate::support::Error> {
    Ok(NewApiToken {
        tenant_id: tenant_id.map(tenant).transpose()?,
        role,
        subject: text("alice@example.com"),
        expires_at: None,
    })
}

#[tokio::test]
async fn a_created_token_authenticates_as_its_tenant_role_and_subject_and_only_its_hash_is_stored()
-> TestResult {
    let (tdb, db) = seeded().await?;
    let issued = api_tokens::create(
        &mut db.system(),
        &new(Some("t_a"), ApiTokenRole::Operator)?,
        &by(),
    )
    .await?;
    let secret = issued.secret.expose().to_owned();
    assert!(
        secret.starts_with(&format!("bdb_{}_", issued.token.token_id)),
        "{secret}"
    );
    let found = api_tokens::authenticate(&mut db.system(), &secret)
        .await?
        .ok_or("the new token does not authenticate")?;
    assert_eq!(found, issued.token);
    assert_eq!(found.tenant_id, Some(tenant("t_a")?));
    assert_eq!(found.role, ApiTokenRole::Operator);
    assert_eq!(found.subject, "alice@example.com");

    // The table holds the hash, never the text.
    let admin = tdb.admin().await;
    let stored: Vec<u8> = admin
        .query_one("SELECT token_sha256 FROM api_tokens", &[])
        .await?
        .get(0);
    assert_eq!(stored, api_tokens::token_hash(&secret).to_vec());
    let dump: String = admin
        .query_one("SELECT string_agg(t::text, ' ') FROM api_tokens t", &[])
        .await?
        .get(0);
    assert!(
        !dump.contains(&secret[secret.len() - 64..]),
        "secret stored"
    );

    // Near misses authenticate nobody.
    for wrong in [
        format!("{secret}0"),
        secret[..secret.len() - 1].to_owned(),
        String::new(),
        "Bearer x".to_owned(),
    ] {
        assert!(
            api_tokens::authenticate(&mut db.system(), &wrong)
                .await?
                .is_none()
        );
    }
    // Creation is in the system audit trail.
    assert_eq!(
        count_rows(
            &tdb,
            "system_audit_events WHERE action = 'api_token.created'"
        )
        .await?,
        1
    );
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_stops_authenticating_and_revoking_twice_keeps_the_first_time() -> TestResult
{
    let (tdb, db) = seeded().await?;
    let issued =
        api_tokens::create(&mut db.system(), &new(None, ApiTokenRole::Admin)?, &by()).await?;
    assert_eq!(issued.token.tenant_id, None, "a system token has no tenant");
    let first = api_tokens::revoke(&mut db.system(), &issued.token.token_id, &by()).await?;
    assert!(first.revoked_at.is_some());
    assert!(
        api_tokens::authenticate(&mut db.system(), issued.secret.expose())
            .await?
            .is_none()
    );
    let again = api_tokens::revoke(&mut db.system(), &issued.token.token_id, &by()).await?;
    assert_eq!(again.revoked_at, first.revoked_at);
    assert_code!(
        api_tokens::revoke(&mut db.system(), "nope", &by()).await,
        NotFound
    );
    assert_eq!(
        count_rows(
            &tdb,
            "system_audit_events WHERE action = 'api_token.revoked'"
        )
        .await?,
        2
    );
    Ok(())
}

#[tokio::test]
async fn expiry_unknown_tenants_and_listing() -> TestResult {
    let (tdb, db) = seeded().await?;
    let mut past = new(Some("t_a"), ApiTokenRole::Auditor)?;
    past.expires_at = Some(Timestamp::parse("2020-01-01T00:00:00.000Z")?);
    assert_code!(
        api_tokens::create(&mut db.system(), &past, &by()).await,
        ValidationError
    );
    assert_code!(
        api_tokens::create(
            &mut db.system(),
            &new(Some("t_nobody"), ApiTokenRole::Admin)?,
            &by()
        )
        .await,
        IntegrityViolation
    );

    let mut soon = new(Some("t_a"), ApiTokenRole::Auditor)?;
    soon.expires_at = Timestamp::now().checked_add(Duration::from_secs(3600));
    let short = api_tokens::create(&mut db.system(), &soon, &by()).await?;
    assert!(
        api_tokens::authenticate(&mut db.system(), short.secret.expose())
            .await?
            .is_some()
    );
    // Expired in the database's view: the token no longer authenticates.
    tdb.admin()
        .await
        .execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1",
            &[&short.token.token_id],
        )
        .await?;
    assert!(
        api_tokens::authenticate(&mut db.system(), short.secret.expose())
            .await?
            .is_none()
    );

    api_tokens::create(
        &mut db.system(),
        &new(Some("t_b"), ApiTokenRole::Admin)?,
        &by(),
    )
    .await?;
    api_tokens::create(&mut db.system(), &new(None, ApiTokenRole::Admin)?, &by()).await?;
    let of_a = api_tokens::list(&mut db.system(), Some(&tenant("t_a")?)).await?;
    assert_eq!(of_a.len(), 1);
    assert_eq!(of_a[0].token_id, short.token.token_id);
    assert_eq!(api_tokens::list(&mut db.system(), None).await?.len(), 3);
    Ok(())
}

#[tokio::test]
async fn the_tenant_role_cannot_read_tokens() -> TestResult {
    let (tdb, db) = seeded().await?;
    api_tokens::create(
        &mut db.system(),
        &new(Some("t_a"), ApiTokenRole::Admin)?,
        &by(),
    )
    .await?;
    let runtime = tdb.runtime().await;
    let err = runtime
        .query("SELECT * FROM api_tokens", &[])
        .await
        .err()
        .ok_or("the runtime role read api_tokens")?;
    assert_eq!(crate::sqlstate(&err), Some("42501"));
    Ok(())
}
