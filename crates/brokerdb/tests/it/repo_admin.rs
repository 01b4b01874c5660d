//! AdminAuthRepository against real PostgreSQL: policy, identities with the last-owner guard,
//! access requests decided once, every write audited on the system chain.

use brokerdb::audit;
use brokerdb::db::{Db, DbError, ErrorCode};
use brokerdb::model::{IdentityId, NonEmptyString};
use brokerdb::repo::admin::access_requests::{self, AccessRequestStatus};
use brokerdb::repo::admin::identities::{self, IdentityStatus};
use brokerdb::repo::admin::policy::{self, NewUserMode, SignupPolicyUpdate};
use brokerdb::repo::admin::{Actor, AdminPrincipal, AdminSessionPrincipal};
use brokerdb_testkit::{TestDatabase, database};

use crate::TestResult;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn actor(name: &str) -> Res<Actor> {
    Ok(Actor {
        actor: NonEmptyString::new("actor", name)?,
        correlation_id: NonEmptyString::new("correlation_id", "req-1")?,
    })
}

fn principal(subject: &str, roles: &[&str], tenants: &[&str]) -> Res<AdminPrincipal> {
    Ok(AdminPrincipal::normalize(&AdminSessionPrincipal {
        subject: format!(" {subject} "),
        issuer: "https://idp.example.com".into(),
        email: format!("{subject}@Example.COM"),
        name: Some("  ".into()),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        tenant_ids: tenants.iter().map(|t| (*t).to_owned()).collect(),
    })?)
}

async fn setup() -> Res<(TestDatabase, Db)> {
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
    Ok((test_db, db))
}

fn code<T>(r: Result<T, DbError>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

#[tokio::test]
async fn the_signup_policy_defaults_fail_closed_and_updates_only_what_is_given() -> TestResult {
    let (test_db, db) = setup().await?;
    test_db
        .admin()
        .await
        .batch_execute("DELETE FROM admin_signup_policy")
        .await?;
    let p = policy::get(&db.system(), None).await?;
    assert_eq!(
        (
            p.new_user_mode,
            p.require_verified_email,
            p.allowed_email_domains.len(),
            p.updated_by.as_str()
        ),
        (NewUserMode::Blocked, true, 0, "system")
    );

    let update = SignupPolicyUpdate {
        new_user_mode: NewUserMode::Allowed,
        require_verified_email: Some(false),
        allowed_email_domains: Some(vec![" Example.COM ".into(), "corp.example".into()]),
    };
    let p = policy::set(&db.system(), None, &update, None, &actor("adm_1")?).await?;
    assert_eq!(
        (
            p.require_verified_email,
            p.allowed_email_domains.clone(),
            p.updated_by.as_str()
        ),
        (
            false,
            vec!["corp.example".to_owned(), "example.com".to_owned()],
            "adm_1"
        )
    );
    let only_mode = SignupPolicyUpdate {
        new_user_mode: NewUserMode::Blocked,
        require_verified_email: None,
        allowed_email_domains: None,
    };
    let p = policy::set(&db.system(), None, &only_mode, None, &actor("adm_2")?).await?;
    assert_eq!(
        (
            p.new_user_mode,
            p.require_verified_email,
            p.allowed_email_domains.len()
        ),
        (NewUserMode::Blocked, false, 2),
        "omitted fields are kept"
    );

    for bad in [
        "a@example.com",
        "bücher.de",
        "example.com:443",
        "example.com.",
        "",
        "example.com/x",
    ] {
        let update = SignupPolicyUpdate {
            allowed_email_domains: Some(vec![bad.into()]),
            ..only_mode.clone()
        };
        assert_eq!(
            code(policy::set(&db.system(), None, &update, None, &actor("adm_2")?).await),
            Some(ErrorCode::ValidationError),
            "{bad:?}"
        );
    }
    let dup = SignupPolicyUpdate {
        allowed_email_domains: Some(vec!["a.example".into(), "A.example".into()]),
        ..only_mode
    };
    assert_eq!(
        code(policy::set(&db.system(), None, &dup, None, &actor("adm_2")?).await),
        Some(ErrorCode::ValidationError)
    );
    audit::seal_pending(&db.system(), audit::DEFAULT_BATCH).await?;
    let chain = audit::verify_system_chain(&db.system(), &Default::default()).await?;
    assert_eq!(
        (chain.links, chain.is_valid()),
        (2, true),
        "each successful set is audited"
    );
    Ok(())
}

#[tokio::test]
async fn identities_are_created_atomically_and_looked_up() -> TestResult {
    let (_t, db) = setup().await?;
    let sys = db.system();
    let p = principal("alice", &["owner", "admin"], &["t_b", "t_a"])?;
    let u = identities::create(&sys, None, None, &p, None, &actor("system")?).await?;
    assert!(u.identity_id.as_str().starts_with("adm_"));
    assert_eq!(
        (
            u.email.as_str(),
            u.subject.as_str(),
            u.name.clone(),
            u.status
        ),
        ("alice@example.com", "alice", None, IdentityStatus::Active)
    );
    assert_eq!(u.tenant_ids, ["t_a", "t_b"]);
    assert_eq!(
        identities::get(&sys, None, &u.identity_id).await?.as_ref(),
        Some(&u)
    );
    assert_eq!(
        identities::find_by_issuer_subject(&sys, None, " https://idp.example.com ", "alice")
            .await?
            .as_ref(),
        Some(&u)
    );
    assert_eq!(
        identities::find_by_issuer_subject(&sys, None, "https://idp.example.com", "ALICE").await?,
        None,
        "case-sensitive"
    );
    assert_eq!(
        code(identities::find_by_issuer_subject(&sys, None, "not a url", "alice").await),
        Some(ErrorCode::ValidationError)
    );

    assert_eq!(
        code(identities::create(&sys, None, None, &p, None, &actor("system")?).await),
        Some(ErrorCode::UniqueViolation)
    );
    let err = identities::create(
        &sys,
        None,
        None,
        &principal("bob", &["admin"], &["t_a", "t_zz", "t_yy"])?,
        None,
        &actor("system")?,
    )
    .await
    .err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("validation_error: tenant_ids: unknown tenant ids: t_yy, t_zz")
    );
    assert_eq!(
        identities::find_by_issuer_subject(&sys, None, "https://idp.example.com", "bob").await?,
        None,
        "nothing of bob was written"
    );
    Ok(())
}

#[tokio::test]
async fn the_last_active_owner_cannot_be_disabled_or_demoted_even_concurrently() -> TestResult {
    let (_t, db) = setup().await?;
    let sys = db.system();
    let a = identities::create(
        &sys,
        None,
        None,
        &principal("a", &["owner"], &[])?,
        None,
        &actor("system")?,
    )
    .await?;
    assert_eq!(
        code(
            identities::update_status(
                &sys,
                None,
                &a.identity_id,
                IdentityStatus::Disabled,
                &actor("x")?
            )
            .await
        ),
        Some(ErrorCode::StateTransitionInvalid)
    );
    assert_eq!(
        code(
            identities::update_bindings(
                &sys,
                None,
                &a.identity_id,
                Some(&["admin".into()]),
                None,
                &actor("x")?
            )
            .await
        ),
        Some(ErrorCode::StateTransitionInvalid)
    );
    let same = identities::update_status(
        &sys,
        None,
        &a.identity_id,
        IdentityStatus::Active,
        &actor("x")?,
    )
    .await?;
    assert_eq!(
        same.updated_at, a.updated_at,
        "same status: nothing written"
    );

    // Two owners demoting each other at the same time: exactly one may go.
    let b = identities::create(
        &sys,
        None,
        None,
        &principal("b", &["owner"], &[])?,
        None,
        &actor("system")?,
    )
    .await?;
    let tasks: Vec<_> = [a.identity_id.clone(), b.identity_id.clone()]
        .into_iter()
        .map(|id| {
            let db = db.clone();
            tokio::spawn(async move {
                let who = Actor {
                    actor: NonEmptyString::new("a", "x").map_err(|e| e.to_string())?,
                    correlation_id: NonEmptyString::new("c", "c").map_err(|e| e.to_string())?,
                };
                identities::update_status(&db.system(), None, &id, IdentityStatus::Disabled, &who)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.code().as_str().to_owned())
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await?);
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        vec![Ok(()), Err("state_transition_invalid".to_owned())]
    );

    let missing = IdentityId::parse("adm_missing")?;
    assert_eq!(
        code(
            identities::update_status(&sys, None, &missing, IdentityStatus::Disabled, &actor("x")?)
                .await
        ),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(
            identities::update_bindings(&sys, None, &a.identity_id, None, None, &actor("x")?).await
        ),
        Some(ErrorCode::ValidationError)
    );
    assert_eq!(
        code(
            identities::update_bindings(
                &sys,
                None,
                &a.identity_id,
                None,
                Some(&["t_nope".into()]),
                &actor("x")?
            )
            .await
        ),
        Some(ErrorCode::ValidationError)
    );
    Ok(())
}

#[tokio::test]
async fn bindings_replace_only_the_given_sets_and_upsert_finds_by_principal() -> TestResult {
    let (_t, db) = setup().await?;
    let sys = db.system();
    identities::create(
        &sys,
        None,
        None,
        &principal("owner", &["owner"], &[])?,
        None,
        &actor("system")?,
    )
    .await?;
    let u = identities::create(
        &sys,
        None,
        None,
        &principal("ops", &["operator"], &["t_a"])?,
        None,
        &actor("system")?,
    )
    .await?;
    let roles = identities::update_bindings(
        &sys,
        None,
        &u.identity_id,
        Some(&["auditor".into(), "admin".into()]),
        None,
        &actor("adm")?,
    )
    .await?;
    assert_eq!(
        (
            roles.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            roles.tenant_ids.clone()
        ),
        (vec!["admin", "auditor"], vec!["t_a".to_owned()])
    );
    let unchanged = identities::update_bindings(
        &sys,
        None,
        &u.identity_id,
        Some(&["admin".into(), "auditor".into()]),
        None,
        &actor("adm")?,
    )
    .await?;
    assert_eq!(unchanged.updated_at, roles.updated_at);
    let upserted = identities::upsert_role_bindings(
        &sys,
        None,
        "https://idp.example.com",
        "ops",
        &["operator".into()],
        Some(&["t_b".into()]),
        &actor("adm")?,
    )
    .await?;
    assert_eq!(
        (upserted.roles.len(), upserted.tenant_ids.clone()),
        (1, vec!["t_b".to_owned()])
    );
    assert_eq!(
        code(
            identities::upsert_role_bindings(
                &sys,
                None,
                "https://idp.example.com",
                "nobody",
                &["admin".into()],
                None,
                &actor("adm")?
            )
            .await
        ),
        Some(ErrorCode::NotFound)
    );
    Ok(())
}

#[tokio::test]
async fn access_requests_are_decided_once_even_by_twenty_concurrent_deciders() -> TestResult {
    let (_t, db) = setup().await?;
    let sys = db.system();
    let p = principal("carol", &["auditor"], &["t_unknown_is_fine"])?;
    let r =
        access_requests::create(&sys, None, None, &p, Some("  please  "), &actor("carol")?).await?;
    assert_eq!(
        (r.status, r.reason.as_deref(), r.decided_by.clone()),
        (AccessRequestStatus::Pending, Some("please"), None)
    );
    assert_eq!(
        code(access_requests::create(&sys, None, None, &p, None, &actor("carol")?).await),
        Some(ErrorCode::UniqueViolation),
        "one pending request per principal"
    );
    assert_eq!(
        code(
            access_requests::transition(
                &sys,
                None,
                r.request_id.as_str(),
                AccessRequestStatus::Pending,
                None,
                None,
                &actor("x")?
            )
            .await
        ),
        Some(ErrorCode::ValidationError)
    );
    assert_eq!(
        code(
            access_requests::transition(
                &sys,
                None,
                "aar_missing",
                AccessRequestStatus::Denied,
                None,
                None,
                &actor("x")?
            )
            .await
        ),
        Some(ErrorCode::NotFound)
    );

    let targets = [
        AccessRequestStatus::Approved,
        AccessRequestStatus::Denied,
        AccessRequestStatus::Canceled,
    ];
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (db, id, target) = (db.clone(), r.request_id.to_string(), targets[i % 3]);
            tokio::spawn(async move {
                let who = Actor {
                    actor: NonEmptyString::new("a", &format!("adm_{i}"))
                        .map_err(|e| e.to_string())?,
                    correlation_id: NonEmptyString::new("c", "c").map_err(|e| e.to_string())?,
                };
                let out = access_requests::transition(
                    &db.system(),
                    None,
                    &id,
                    target,
                    Some("decided"),
                    None,
                    &who,
                )
                .await;
                Ok::<_, String>((
                    who.actor.as_str().to_owned(),
                    out.map(|d| d.decided_by).map_err(|e| e.code()),
                ))
            })
        })
        .collect();
    let (mut winners, mut refused, mut idempotent) = (0, 0, 0);
    for t in tasks {
        match t.await?? {
            (me, Ok(Some(by))) if by == me => winners += 1,
            (_, Ok(_)) => idempotent += 1,
            (_, Err(ErrorCode::StateTransitionInvalid)) => refused += 1,
            (_, Err(other)) => return Err(format!("unexpected outcome {other}").into()),
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one decider wins ({refused} refused, {idempotent} saw their own target already set)"
    );
    assert_eq!(winners + refused + idempotent, 20);
    audit::seal_pending(&sys, audit::DEFAULT_BATCH).await?;
    let chain = audit::verify_system_chain(&sys, &Default::default()).await?;
    assert_eq!(
        (chain.links, chain.is_valid()),
        (2, true),
        "one create and one decision audited"
    );
    Ok(())
}

#[tokio::test]
async fn admin_listings_filter_page_newest_first_and_refuse_bad_input() -> TestResult {
    use brokerdb::model::UserRole;
    use brokerdb::repo::admin::listing::{self, AdminListQuery};
    let (_t, db) = setup().await?;
    let sys = db.system();
    for (who, roles, tenants) in [
        ("ann", &["owner"][..], &["t_a"][..]),
        ("ben", &["admin"][..], &["t_b"][..]),
        ("cat", &["admin"][..], &["t_a"][..]),
    ] {
        identities::create(
            &sys,
            None,
            None,
            &principal(who, roles, tenants)?,
            None,
            &actor("system")?,
        )
        .await?;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let subjects = |p: &listing::AdminPage<identities::AdminUser>| {
        p.items
            .iter()
            .map(|u| u.subject.clone())
            .collect::<Vec<_>>()
    };

    let all = listing::list_identities(&sys, &AdminListQuery::default()).await?;
    assert_eq!(
        (subjects(&all), all.next_cursor),
        (
            vec!["cat".to_owned(), "ben".to_owned(), "ann".to_owned()],
            None
        )
    );
    let admins_in_a = AdminListQuery {
        role: Some(UserRole::Admin),
        tenant_id: Some("t_a".into()),
        ..AdminListQuery::default()
    };
    assert_eq!(
        subjects(&listing::list_identities(&sys, &admins_in_a).await?),
        ["cat"]
    );
    let search = AdminListQuery {
        search: Some(" BEN@example ".into()),
        ..AdminListQuery::default()
    };
    assert_eq!(
        subjects(&listing::list_identities(&sys, &search).await?),
        ["ben"]
    );
    let disabled = AdminListQuery {
        status: Some(IdentityStatus::Disabled),
        ..AdminListQuery::default()
    };
    assert!(
        listing::list_identities(&sys, &disabled)
            .await?
            .items
            .is_empty()
    );

    let first = listing::list_identities(
        &sys,
        &AdminListQuery {
            limit: Some(2),
            ..AdminListQuery::default()
        },
    )
    .await?;
    let cursor = first
        .next_cursor
        .clone()
        .ok_or("a full page must carry a cursor")?;
    let second = listing::list_identities(
        &sys,
        &AdminListQuery {
            limit: Some(2),
            cursor: Some(cursor.clone()),
            ..AdminListQuery::default()
        },
    )
    .await?;
    assert_eq!(
        (subjects(&first), subjects(&second), second.next_cursor),
        (
            vec!["cat".to_owned(), "ben".to_owned()],
            vec!["ann".to_owned()],
            None
        )
    );

    for bad in [
        AdminListQuery {
            limit: Some(0),
            ..AdminListQuery::default()
        },
        AdminListQuery {
            limit: Some(101),
            ..AdminListQuery::default()
        },
        AdminListQuery {
            search: Some("  ".into()),
            ..AdminListQuery::default()
        },
        AdminListQuery {
            cursor: Some(format!("{cursor}x")),
            ..AdminListQuery::default()
        },
    ] {
        assert_eq!(
            code(listing::list_identities(&sys, &bad).await),
            Some(ErrorCode::ValidationError)
        );
    }
    let foreign = AdminListQuery {
        cursor: Some(cursor),
        ..AdminListQuery::default()
    };
    assert_eq!(
        code(listing::list_access_requests(&sys, &foreign).await),
        Some(ErrorCode::ValidationError),
        "a cursor of another list"
    );

    access_requests::create(
        &sys,
        None,
        None,
        &principal("dan", &["auditor"], &["t_x"])?,
        None,
        &actor("dan")?,
    )
    .await?;
    access_requests::create(
        &sys,
        None,
        None,
        &principal("eve", &["admin"], &[])?,
        None,
        &actor("eve")?,
    )
    .await?;
    let want_t_x = AdminListQuery {
        tenant_id: Some("t_x".into()),
        status: Some(AccessRequestStatus::Pending),
        ..AdminListQuery::default()
    };
    let found = listing::list_access_requests(&sys, &want_t_x).await?;
    assert_eq!(
        found
            .items
            .iter()
            .map(|r| r.subject.as_str())
            .collect::<Vec<_>>(),
        ["dan"]
    );
    let by_role = AdminListQuery {
        role: Some(UserRole::Admin),
        ..AdminListQuery::default()
    };
    assert_eq!(
        listing::list_access_requests(&sys, &by_role)
            .await?
            .items
            .iter()
            .map(|r| r.subject.as_str())
            .collect::<Vec<_>>(),
        ["eve"]
    );
    Ok(())
}

#[tokio::test]
async fn admin_writes_join_a_callers_transaction_and_roll_back_with_it_audit_included() -> TestResult
{
    use brokerdb::db::TxOptions;
    let (test_db, db) = setup().await?;
    let (db2, who) = (db.clone(), actor("adm_1")?);
    let result: Result<(), DbError> = db
        .system()
        .transaction(&TxOptions::default(), move |tx| {
            let (db, who) = (db2.clone(), who.clone());
            Box::pin(async move {
                let p = principal("zoe", &["admin"], &[])
                    .map_err(|_| DbError::validation("principal", "bad"))?;
                identities::create(&db.system(), Some(tx), None, &p, None, &who).await?;
                let update = SignupPolicyUpdate {
                    new_user_mode: NewUserMode::Allowed,
                    require_verified_email: None,
                    allowed_email_domains: None,
                };
                policy::set(&db.system(), Some(tx), &update, None, &who).await?;
                Err(DbError::Conflict {
                    message: "caller aborts".into(),
                })
            })
        })
        .await;
    assert!(result.is_err());
    let admin = test_db.admin().await;
    let counts: (i64, i64, String) = {
        let r = admin
            .query_one("SELECT (SELECT count(*) FROM admin_identities), (SELECT count(*) FROM system_audit_events), (SELECT new_user_mode::text FROM admin_signup_policy)", &[])
            .await?;
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(
        counts,
        (0, 0, "blocked".to_owned()),
        "identity, policy and their audit rows all rolled back"
    );

    // A tenant-scoped transaction is refused by system-scope functions.
    let a = brokerdb::model::TenantId::parse("t_a")?;
    let (db3, who) = (db.clone(), actor("adm_1")?);
    let wrong = db
        .tenant(&a)
        .transaction(&TxOptions::default(), move |tx| {
            let (db, who) = (db3.clone(), who.clone());
            Box::pin(async move {
                let p = principal("zed", &["admin"], &[])
                    .map_err(|_| DbError::validation("principal", "bad"))?;
                identities::create(&db.system(), Some(tx), None, &p, None, &who)
                    .await
                    .map(|_| ())
            })
        })
        .await;
    assert_eq!(code(wrong), Some(ErrorCode::ValidationError));
    Ok(())
}
