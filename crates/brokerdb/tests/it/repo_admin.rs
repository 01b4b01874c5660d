//! AdminAuthRepository against real PostgreSQL: policy, identities with the last-owner guard,
//! access requests decided once, every write audited on the system chain.

use std::time::Duration;

use brokerdb::audit;
use brokerdb::model::UserRole;
use brokerdb::prelude::*;
use brokerdb::repo::admin::access_requests::{self, AccessRequestStatus};
use brokerdb::repo::admin::identities::{self, AdminUser, IdentityStatus};
use brokerdb::repo::admin::listing::{self, AdminListQuery, AdminPage};
use brokerdb::repo::admin::policy::{self, NewUserMode, SignupPolicyUpdate};
use brokerdb::repo::admin::{Actor, AdminPrincipal, AdminSessionPrincipal};
use brokerdb_testkit::{TestDatabase, database};

use crate::assert_code;
use crate::support::{Error, TestResult, text};

fn actor(name: &str) -> Actor {
    Actor {
        actor: text(name),
        correlation_id: text("req-1"),
    }
}

/// The principal `subject` of `https://idp.example.com`, with untidy input (padded subject,
/// mixed-case email domain, blank name) that creation normalizes.
fn principal(subject: &str, roles: &[&str], tenants: &[&str]) -> Result<AdminPrincipal, Error> {
    Ok(AdminPrincipal::normalize(&AdminSessionPrincipal {
        subject: format!(" {subject} "),
        issuer: "https://idp.example.com".into(),
        email: format!("{subject}@Example.COM"),
        name: Some("  ".into()),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        tenant_ids: tenants.iter().map(|t| (*t).to_owned()).collect(),
    })?)
}

/// Tenants `t_a` and `t_b`.
async fn setup() -> Result<(TestDatabase, Db), Error> {
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
    Ok((test_db, db))
}

/// Creates the identity of `principal(subject, roles, tenants)`, active, as `system`.
async fn identity(
    db: &Db,
    subject: &str,
    roles: &[&str],
    tenants: &[&str],
) -> Result<AdminUser, Error> {
    let p = principal(subject, roles, tenants)?;
    Ok(identities::create(&mut db.system(), None, &p, None, &actor("system")).await?)
}

/// Seals the system audit chain and returns its number of links, failing if it is invalid.
async fn sealed_system_chain_links(db: &Db) -> Result<u64, Error> {
    audit::seal_pending(&db.system(), audit::DEFAULT_BATCH).await?;
    let chain = audit::verify_system_chain(&db.system(), &Default::default()).await?;
    assert!(chain.is_valid(), "the system audit chain must verify");
    Ok(chain.links)
}

// --- Signup policy ---

#[tokio::test]
async fn a_missing_signup_policy_reads_as_the_fail_closed_defaults() -> TestResult {
    let (test_db, db) = setup().await?;
    test_db
        .admin()
        .await
        .batch_execute("DELETE FROM admin_signup_policy")
        .await?;
    let p = policy::get(&mut db.system()).await?;
    assert_eq!(
        (
            p.new_user_mode,
            p.require_verified_email,
            p.allowed_email_domains.len(),
            p.updated_by.as_str()
        ),
        (NewUserMode::Blocked, true, 0, "system")
    );
    Ok(())
}

fn allow_two_domains() -> SignupPolicyUpdate {
    SignupPolicyUpdate {
        new_user_mode: NewUserMode::Allowed,
        require_verified_email: Some(false),
        allowed_email_domains: Some(vec![" Example.COM ".into(), "corp.example".into()]),
    }
}

fn only_mode() -> SignupPolicyUpdate {
    SignupPolicyUpdate {
        new_user_mode: NewUserMode::Blocked,
        require_verified_email: None,
        allowed_email_domains: None,
    }
}

/// Updates whose email domains are invalid (`Some(domain)`) or duplicates (`None`).
fn refused_domain_updates() -> Vec<(Option<&'static str>, SignupPolicyUpdate)> {
    let with = |domains: Vec<String>| SignupPolicyUpdate {
        allowed_email_domains: Some(domains),
        ..only_mode()
    };
    let mut updates: Vec<_> = [
        "a@example.com",
        "bücher.de",
        "example.com:443",
        "example.com.",
        "",
        "example.com/x",
    ]
    .into_iter()
    .map(|bad| (Some(bad), with(vec![bad.into()])))
    .collect();
    updates.push((None, with(vec!["a.example".into(), "A.example".into()])));
    updates
}

#[tokio::test]
async fn setting_the_signup_policy_normalizes_domains_and_records_the_actor() -> TestResult {
    let (_t, db) = setup().await?;
    let p = policy::set(
        &mut db.system(),
        &allow_two_domains(),
        None,
        &actor("adm_1"),
    )
    .await?;
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
    Ok(())
}

#[tokio::test]
async fn setting_the_signup_policy_keeps_the_fields_it_omits() -> TestResult {
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    policy::set(&mut sys, &allow_two_domains(), None, &actor("adm_1")).await?;
    let p = policy::set(&mut sys, &only_mode(), None, &actor("adm_2")).await?;
    assert_eq!(
        (
            p.new_user_mode,
            p.require_verified_email,
            p.allowed_email_domains.len()
        ),
        (NewUserMode::Blocked, false, 2)
    );
    Ok(())
}

#[tokio::test]
async fn setting_the_signup_policy_refuses_invalid_or_duplicate_email_domains() -> TestResult {
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    for (bad, update) in refused_domain_updates() {
        assert_code!(
            policy::set(&mut sys, &update, None, &actor("adm_2")).await,
            ValidationError,
            "{bad:?} (None: duplicates)"
        );
    }
    Ok(())
}

#[tokio::test]
async fn each_successful_signup_policy_set_is_audited_and_a_refused_one_is_not() -> TestResult {
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    policy::set(&mut sys, &allow_two_domains(), None, &actor("adm_1")).await?;
    policy::set(&mut sys, &only_mode(), None, &actor("adm_2")).await?;
    for (bad, update) in refused_domain_updates() {
        let refused = policy::set(&mut sys, &update, None, &actor("adm_2")).await;
        assert!(refused.is_err(), "{bad:?} (None: duplicates)");
    }
    assert_eq!(sealed_system_chain_links(&db).await?, 2);
    Ok(())
}

// --- Identities ---

#[tokio::test]
async fn creating_an_identity_normalizes_its_principal_and_makes_it_active() -> TestResult {
    let (_t, db) = setup().await?;
    let u = identity(&db, "alice", &["owner", "admin"], &["t_b", "t_a"]).await?;
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
    Ok(())
}

#[tokio::test]
async fn an_identity_is_found_by_its_id() -> TestResult {
    let (_t, db) = setup().await?;
    let u = identity(&db, "alice", &["owner", "admin"], &["t_b", "t_a"]).await?;
    assert_eq!(
        identities::get(&mut db.system(), &u.identity_id).await?,
        Some(u)
    );
    Ok(())
}

#[tokio::test]
async fn an_identity_is_found_by_its_trimmed_issuer_and_exact_subject() -> TestResult {
    let (_t, db) = setup().await?;
    let u = identity(&db, "alice", &["owner", "admin"], &["t_b", "t_a"]).await?;
    let mut sys = db.system();
    assert_eq!(
        identities::find_by_issuer_subject(&mut sys, " https://idp.example.com ", "alice").await?,
        Some(u)
    );
    assert_eq!(
        identities::find_by_issuer_subject(&mut sys, "https://idp.example.com", "ALICE").await?,
        None,
        "case-sensitive"
    );
    Ok(())
}

#[tokio::test]
async fn finding_an_identity_by_an_issuer_that_is_not_a_url_is_refused() -> TestResult {
    let (_t, db) = setup().await?;
    assert_code!(
        identities::find_by_issuer_subject(&mut db.system(), "not a url", "alice").await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn creating_a_second_identity_for_one_principal_is_a_unique_violation() -> TestResult {
    let (_t, db) = setup().await?;
    let p = principal("alice", &["owner", "admin"], &["t_b", "t_a"])?;
    let mut sys = db.system();
    identities::create(&mut sys, None, &p, None, &actor("system")).await?;
    assert_code!(
        identities::create(&mut sys, None, &p, None, &actor("system")).await,
        UniqueViolation
    );
    Ok(())
}

#[tokio::test]
async fn an_identity_bound_to_unknown_tenants_is_refused_and_nothing_of_it_is_written() -> TestResult
{
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    let bob = principal("bob", &["admin"], &["t_a", "t_zz", "t_yy"])?;
    let err = identities::create(&mut sys, None, &bob, None, &actor("system"))
        .await
        .err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("validation_error: tenant_ids: names 2 tenant id(s) that do not exist")
    );
    assert_eq!(
        identities::find_by_issuer_subject(&mut sys, "https://idp.example.com", "bob").await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn the_last_active_owner_cannot_be_disabled_or_demoted() -> TestResult {
    let (_t, db) = setup().await?;
    let a = identity(&db, "a", &["owner"], &[]).await?;
    let mut sys = db.system();
    assert_code!(
        identities::update_status(
            &mut sys,
            &a.identity_id,
            IdentityStatus::Disabled,
            &actor("x")
        )
        .await,
        StateTransitionInvalid
    );
    assert_code!(
        identities::update_bindings(
            &mut sys,
            &a.identity_id,
            Some(&["admin".into()]),
            None,
            &actor("x")
        )
        .await,
        StateTransitionInvalid
    );
    Ok(())
}

#[tokio::test]
async fn setting_an_identitys_current_status_writes_nothing() -> TestResult {
    let (_t, db) = setup().await?;
    let a = identity(&db, "a", &["owner"], &[]).await?;
    let same = identities::update_status(
        &mut db.system(),
        &a.identity_id,
        IdentityStatus::Active,
        &actor("x"),
    )
    .await?;
    assert_eq!(same.updated_at, a.updated_at);
    Ok(())
}

#[tokio::test]
async fn of_two_owners_disabling_each_other_at_once_exactly_one_succeeds() -> TestResult {
    let (_t, db) = setup().await?;
    let a = identity(&db, "a", &["owner"], &[]).await?;
    let b = identity(&db, "b", &["owner"], &[]).await?;
    let tasks: Vec<_> = [a.identity_id, b.identity_id]
        .into_iter()
        .map(|id| {
            let db = db.clone();
            tokio::spawn(async move {
                let who = Actor {
                    actor: text("x"),
                    correlation_id: text("c"),
                };
                identities::update_status(&mut db.system(), &id, IdentityStatus::Disabled, &who)
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
    Ok(())
}

#[tokio::test]
async fn changing_the_status_of_a_missing_identity_is_not_found() -> TestResult {
    let (_t, db) = setup().await?;
    let missing = IdentityId::parse("adm_missing")?;
    assert_code!(
        identities::update_status(
            &mut db.system(),
            &missing,
            IdentityStatus::Disabled,
            &actor("x")
        )
        .await,
        NotFound
    );
    Ok(())
}

#[tokio::test]
async fn a_bindings_update_must_set_roles_or_tenant_ids() -> TestResult {
    let (_t, db) = setup().await?;
    let a = identity(&db, "a", &["owner"], &[]).await?;
    assert_code!(
        identities::update_bindings(&mut db.system(), &a.identity_id, None, None, &actor("x"))
            .await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn binding_an_identity_to_an_unknown_tenant_is_refused() -> TestResult {
    let (_t, db) = setup().await?;
    let a = identity(&db, "a", &["owner"], &[]).await?;
    assert_code!(
        identities::update_bindings(
            &mut db.system(),
            &a.identity_id,
            None,
            Some(&["t_nope".into()]),
            &actor("x")
        )
        .await,
        ValidationError
    );
    Ok(())
}

/// An active owner (so the last-owner guard never interferes), and `ops`: operator in `t_a`.
async fn owner_and_ops(db: &Db) -> Result<AdminUser, Error> {
    identity(db, "owner", &["owner"], &[]).await?;
    identity(db, "ops", &["operator"], &["t_a"]).await
}

#[tokio::test]
async fn updating_only_the_roles_replaces_them_and_keeps_the_tenants() -> TestResult {
    let (_t, db) = setup().await?;
    let u = owner_and_ops(&db).await?;
    let updated = identities::update_bindings(
        &mut db.system(),
        &u.identity_id,
        Some(&["auditor".into(), "admin".into()]),
        None,
        &actor("adm"),
    )
    .await?;
    assert_eq!(
        (
            updated.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            updated.tenant_ids
        ),
        (vec!["admin", "auditor"], vec!["t_a".to_owned()])
    );
    Ok(())
}

#[tokio::test]
async fn updating_bindings_to_the_current_sets_writes_nothing() -> TestResult {
    let (_t, db) = setup().await?;
    let u = owner_and_ops(&db).await?;
    let mut sys = db.system();
    let roles = identities::update_bindings(
        &mut sys,
        &u.identity_id,
        Some(&["auditor".into(), "admin".into()]),
        None,
        &actor("adm"),
    )
    .await?;
    let unchanged = identities::update_bindings(
        &mut sys,
        &u.identity_id,
        Some(&["admin".into(), "auditor".into()]),
        None,
        &actor("adm"),
    )
    .await?;
    assert_eq!(unchanged.updated_at, roles.updated_at);
    Ok(())
}

#[tokio::test]
async fn upserting_role_bindings_replaces_those_of_the_principals_identity() -> TestResult {
    let (_t, db) = setup().await?;
    let u = owner_and_ops(&db).await?;
    let mut sys = db.system();
    identities::update_bindings(
        &mut sys,
        &u.identity_id,
        Some(&["auditor".into(), "admin".into()]),
        None,
        &actor("adm"),
    )
    .await?;
    let upserted = identities::upsert_role_bindings(
        &mut sys,
        "https://idp.example.com",
        "ops",
        &["operator".into()],
        Some(&["t_b".into()]),
        &actor("adm"),
    )
    .await?;
    assert_eq!(
        (upserted.roles.len(), upserted.tenant_ids),
        (1, vec!["t_b".to_owned()])
    );
    Ok(())
}

#[tokio::test]
async fn upserting_role_bindings_of_an_unknown_principal_is_not_found() -> TestResult {
    let (_t, db) = setup().await?;
    owner_and_ops(&db).await?;
    assert_code!(
        identities::upsert_role_bindings(
            &mut db.system(),
            "https://idp.example.com",
            "nobody",
            &["admin".into()],
            None,
            &actor("adm")
        )
        .await,
        NotFound
    );
    Ok(())
}

// --- Access requests ---

fn carol() -> Result<AdminPrincipal, Error> {
    principal("carol", &["auditor"], &["t_unknown_is_fine"])
}

#[tokio::test]
async fn an_access_request_is_created_pending_with_its_reason_trimmed() -> TestResult {
    let (_t, db) = setup().await?;
    let r = access_requests::create(
        &mut db.system(),
        None,
        &carol()?,
        Some("  please  "),
        &actor("carol"),
    )
    .await?;
    assert_eq!(
        (r.status, r.reason.as_deref(), r.decided_by),
        (AccessRequestStatus::Pending, Some("please"), None)
    );
    Ok(())
}

#[tokio::test]
async fn a_principal_has_at_most_one_pending_access_request() -> TestResult {
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    let p = carol()?;
    access_requests::create(&mut sys, None, &p, Some("  please  "), &actor("carol")).await?;
    assert_code!(
        access_requests::create(&mut sys, None, &p, None, &actor("carol")).await,
        UniqueViolation
    );
    Ok(())
}

#[tokio::test]
async fn an_access_request_cannot_be_decided_back_to_pending() -> TestResult {
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    let r = access_requests::create(&mut sys, None, &carol()?, None, &actor("carol")).await?;
    assert_code!(
        access_requests::transition(
            &mut sys,
            r.request_id.as_str(),
            AccessRequestStatus::Pending,
            None,
            None,
            &actor("x")
        )
        .await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn deciding_a_missing_access_request_is_not_found() -> TestResult {
    let (_t, db) = setup().await?;
    assert_code!(
        access_requests::transition(
            &mut db.system(),
            "aar_missing",
            AccessRequestStatus::Denied,
            None,
            None,
            &actor("x")
        )
        .await,
        NotFound
    );
    Ok(())
}

#[tokio::test]
async fn refused_access_request_calls_write_no_audit_event() -> TestResult {
    let (_t, db) = setup().await?;
    let mut sys = db.system();
    let p = carol()?;
    let r = access_requests::create(&mut sys, None, &p, None, &actor("carol")).await?;
    let duplicate = access_requests::create(&mut sys, None, &p, None, &actor("carol")).await;
    let to_pending = access_requests::transition(
        &mut sys,
        r.request_id.as_str(),
        AccessRequestStatus::Pending,
        None,
        None,
        &actor("x"),
    )
    .await;
    let missing = access_requests::transition(
        &mut sys,
        "aar_missing",
        AccessRequestStatus::Denied,
        None,
        None,
        &actor("x"),
    )
    .await;
    assert!(duplicate.is_err() && to_pending.is_err() && missing.is_err());
    assert_eq!(
        sealed_system_chain_links(&db).await?,
        1,
        "only the creation"
    );
    Ok(())
}

#[tokio::test]
async fn twenty_concurrent_deciders_decide_an_access_request_once_audited_once() -> TestResult {
    let (_t, db) = setup().await?;
    let r = access_requests::create(
        &mut db.system(),
        None,
        &carol()?,
        Some("  please  "),
        &actor("carol"),
    )
    .await?;
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
                    actor: text(&format!("adm_{i}")),
                    correlation_id: text("c"),
                };
                let out = access_requests::transition(
                    &mut db.system(),
                    &id,
                    target,
                    Some("decided"),
                    None,
                    &who,
                )
                .await;
                (
                    who.actor.as_str().to_owned(),
                    out.map(|d| d.decided_by).map_err(|e| e.code()),
                )
            })
        })
        .collect();
    let (mut winners, mut refused, mut idempotent) = (0, 0, 0);
    for t in tasks {
        match t.await? {
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
    assert_eq!(
        sealed_system_chain_links(&db).await?,
        2,
        "one create and one decision audited"
    );
    Ok(())
}

// --- Listings ---

/// `ann` (owner in `t_a`), `ben` (admin in `t_b`), `cat` (admin in `t_a`), created in that order
/// in distinct milliseconds.
async fn ann_ben_cat(db: &Db) -> TestResult {
    for (who, roles, tenants) in [
        ("ann", &["owner"][..], &["t_a"][..]),
        ("ben", &["admin"][..], &["t_b"][..]),
        ("cat", &["admin"][..], &["t_a"][..]),
    ] {
        identity(db, who, roles, tenants).await?;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    Ok(())
}

fn subjects(p: &AdminPage<AdminUser>) -> Vec<String> {
    p.items.iter().map(|u| u.subject.clone()).collect()
}

fn query<S>(edit: impl FnOnce(&mut AdminListQuery<S>)) -> AdminListQuery<S>
where
    AdminListQuery<S>: Default,
{
    let mut q = AdminListQuery::default();
    edit(&mut q);
    q
}

#[tokio::test]
async fn admin_identities_are_listed_newest_first() -> TestResult {
    let (_t, db) = setup().await?;
    ann_ben_cat(&db).await?;
    let all = listing::list_identities(&mut db.system(), &AdminListQuery::default()).await?;
    assert_eq!(
        (subjects(&all), all.next_cursor),
        (
            vec!["cat".to_owned(), "ben".to_owned(), "ann".to_owned()],
            None
        )
    );
    Ok(())
}

#[tokio::test]
async fn admin_identities_are_filtered_by_role_tenant_search_and_status() -> TestResult {
    let (_t, db) = setup().await?;
    ann_ben_cat(&db).await?;
    let mut sys = db.system();
    let admins_in_a = query(|q| {
        q.role = Some(UserRole::Admin);
        q.tenant_id = Some("t_a".into());
    });
    assert_eq!(
        subjects(&listing::list_identities(&mut sys, &admins_in_a).await?),
        ["cat"]
    );
    let search = query(|q| q.search = Some(" BEN@example ".into()));
    assert_eq!(
        subjects(&listing::list_identities(&mut sys, &search).await?),
        ["ben"]
    );
    let disabled = query(|q| q.status = Some(IdentityStatus::Disabled));
    assert!(
        listing::list_identities(&mut sys, &disabled)
            .await?
            .items
            .is_empty()
    );
    Ok(())
}

/// The cursor after the first page of two identities.
async fn first_page_cursor(sys: &mut SystemScope<'_>) -> Result<String, Error> {
    let first = listing::list_identities(sys, &query(|q| q.limit = Some(2))).await?;
    Ok(first.next_cursor.ok_or("a full page must carry a cursor")?)
}

#[tokio::test]
async fn admin_identities_are_paged_with_a_cursor() -> TestResult {
    let (_t, db) = setup().await?;
    ann_ben_cat(&db).await?;
    let mut sys = db.system();
    let first = listing::list_identities(&mut sys, &query(|q| q.limit = Some(2))).await?;
    let cursor = first
        .next_cursor
        .clone()
        .ok_or("a full page must carry a cursor")?;
    let next = query(|q| {
        q.limit = Some(2);
        q.cursor = Some(cursor);
    });
    let second = listing::list_identities(&mut sys, &next).await?;
    assert_eq!(
        (subjects(&first), subjects(&second), second.next_cursor),
        (
            vec!["cat".to_owned(), "ben".to_owned()],
            vec!["ann".to_owned()],
            None
        )
    );
    Ok(())
}

#[tokio::test]
async fn an_admin_listing_refuses_a_bad_limit_a_blank_search_or_a_tampered_cursor() -> TestResult {
    let (_t, db) = setup().await?;
    ann_ben_cat(&db).await?;
    let mut sys = db.system();
    let cursor = first_page_cursor(&mut sys).await?;
    for (what, bad) in [
        ("limit 0", query(|q| q.limit = Some(0))),
        ("limit 101", query(|q| q.limit = Some(101))),
        ("blank search", query(|q| q.search = Some("  ".into()))),
        (
            "tampered cursor",
            query(|q| q.cursor = Some(format!("{cursor}x"))),
        ),
    ] {
        assert_code!(
            listing::list_identities(&mut sys, &bad).await,
            ValidationError,
            "{what}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_admin_listing_refuses_a_cursor_of_another_list() -> TestResult {
    let (_t, db) = setup().await?;
    ann_ben_cat(&db).await?;
    let mut sys = db.system();
    let identities_cursor = first_page_cursor(&mut sys).await?;
    let foreign = query(|q| q.cursor = Some(identities_cursor));
    assert_code!(
        listing::list_access_requests(&mut sys, &foreign).await,
        ValidationError
    );
    Ok(())
}

#[tokio::test]
async fn access_requests_are_listed_filtered_by_tenant_status_and_role() -> TestResult {
    let (_t, db) = setup().await?;
    ann_ben_cat(&db).await?;
    let mut sys = db.system();
    let dan = principal("dan", &["auditor"], &["t_x"])?;
    access_requests::create(&mut sys, None, &dan, None, &actor("dan")).await?;
    let eve = principal("eve", &["admin"], &[])?;
    access_requests::create(&mut sys, None, &eve, None, &actor("eve")).await?;
    let request_subjects = |p: AdminPage<access_requests::AdminAccessRequest>| {
        p.items.into_iter().map(|r| r.subject).collect::<Vec<_>>()
    };

    let pending_in_t_x = query(|q| {
        q.tenant_id = Some("t_x".into());
        q.status = Some(AccessRequestStatus::Pending);
    });
    assert_eq!(
        request_subjects(listing::list_access_requests(&mut sys, &pending_in_t_x).await?),
        ["dan"]
    );
    let by_role = query(|q| q.role = Some(UserRole::Admin));
    assert_eq!(
        request_subjects(listing::list_access_requests(&mut sys, &by_role).await?),
        ["eve"]
    );
    Ok(())
}

// --- Transactions ---

#[tokio::test]
async fn admin_writes_in_a_callers_transaction_roll_back_with_it_audit_included() -> TestResult {
    let (test_db, db) = setup().await?;
    let (zoe, who) = (principal("zoe", &["admin"], &[])?, actor("adm_1"));
    let allow = SignupPolicyUpdate {
        new_user_mode: NewUserMode::Allowed,
        require_verified_email: None,
        allowed_email_domains: None,
    };
    let result: Result<(), DbError> = db
        .system()
        .transaction(&TxOptions::default(), move |tx| {
            let (zoe, who, allow) = (zoe.clone(), who.clone(), allow.clone());
            Box::pin(async move {
                identities::create(tx, None, &zoe, None, &who).await?;
                policy::set(tx, &allow, None, &who).await?;
                Err(DbError::Conflict {
                    message: "caller aborts".into(),
                })
            })
        })
        .await;
    assert!(result.is_err());
    let r = test_db
        .admin()
        .await
        .query_one("SELECT (SELECT count(*) FROM admin_identities), (SELECT count(*) FROM system_audit_events), (SELECT new_user_mode::text FROM admin_signup_policy)", &[])
        .await?;
    let counts: (i64, i64, String) = (r.get(0), r.get(1), r.get(2));
    assert_eq!(
        counts,
        (0, 0, "blocked".to_owned()),
        "identity, policy and their audit rows all rolled back"
    );
    Ok(())
}

/// Identity or request `i` of [`twelve_of_each`]: its status index, roles, tenants, name and
/// creation second (two per second, so ties are broken by the id).
struct Row12 {
    i: usize,
    roles: &'static [&'static str],
    tenants: &'static [&'static str],
    name: Option<String>,
}

fn rows12() -> Vec<Row12> {
    (0..12)
        .map(|i| Row12 {
            i,
            roles: match i % 3 {
                0 => &["owner"],
                1 => &["admin", "auditor"],
                _ => &["operator"],
            },
            tenants: match (i % 2, i % 5) {
                (_, 0) => &["t_a", "t_b"],
                (0, _) => &["t_a"],
                _ => &["t_b"],
            },
            name: (i % 3 != 0).then(|| format!("Name {i}")),
        })
        .collect()
}

fn sql_array(items: &[&str]) -> String {
    format!(
        "ARRAY[{}]",
        items
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Twelve identities (`adm_00`…, subject `s00`…, status active, active, pending, disabled by
/// `i mod 4`) and twelve access requests (`aar_00`…, subject `r00`…, status pending, approved,
/// denied, canceled by `i mod 4`), with [`rows12`]'s roles, tenants and names.
async fn twelve_of_each(test_db: &TestDatabase) -> TestResult {
    let mut sql = String::new();
    for r in rows12() {
        let i = r.i;
        let name = r
            .name
            .as_ref()
            .map_or("NULL".to_owned(), |n| format!("'{n}'"));
        let at = format!(
            "timestamptz '2024-01-01 00:00:00+00' + {} * interval '1 second'",
            i / 2
        );
        let status = ["active", "active", "pending", "disabled"][i % 4];
        sql.push_str(&format!(
            "INSERT INTO admin_identities (identity_id, issuer, subject, email, name, status, created_at)
             VALUES ('adm_{i:02}', 'https://idp.example.com', 's{i:02}', 'p{i:02}@example.com', {name}, '{status}', {at});
             INSERT INTO admin_identity_role_bindings (identity_id, role) SELECT 'adm_{i:02}', r::user_role FROM unnest({roles}) r;
             INSERT INTO admin_identity_tenant_scopes (identity_id, tenant_id) SELECT 'adm_{i:02}', t FROM unnest({tenants}) t;",
            roles = sql_array(r.roles),
            tenants = sql_array(r.tenants),
        ));
        let status = ["pending", "approved", "denied", "canceled"][i % 4];
        let decided = if status == "pending" {
            "NULL, NULL"
        } else {
            "'adm_00', now()"
        };
        sql.push_str(&format!(
            "INSERT INTO admin_access_requests (request_id, issuer, subject, email, name, requested_roles,
                 requested_tenant_ids, status, decided_by, decided_at, created_at)
             VALUES ('aar_{i:02}', 'https://idp.example.com', 'r{i:02}', 'q{i:02}@example.com', {name},
                     {roles}::user_role[], {tenants}, '{status}', {decided}, {at});",
            roles = sql_array(r.roles),
            tenants = sql_array(r.tenants),
        ));
    }
    test_db.admin().await.batch_execute(&sql).await?;
    Ok(())
}

/// Every page of a listing, following the cursors.
async fn walk<S: Clone, T>(
    mut q: AdminListQuery<S>,
    mut list: impl AsyncFnMut(&AdminListQuery<S>) -> Result<AdminPage<T>, DbError>,
    id: impl Fn(&T) -> String,
) -> Result<Vec<String>, Error> {
    let mut seen = Vec::new();
    loop {
        let page = list(&q).await?;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(&id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return Ok(seen),
        }
    }
}

#[tokio::test]
async fn every_combination_of_admin_listing_filters_pages_through_each_match_once_newest_first()
-> TestResult {
    let (test_db, db) = setup().await?;
    twelve_of_each(&test_db).await?;
    let rows = rows12();
    // Newest first: creation second desc, then id desc.
    let order = |mut ids: Vec<usize>| {
        ids.sort_by(|a, b| (b / 2, b).cmp(&(a / 2, a)));
        ids
    };
    for bits in 0..16u32 {
        let on = |k: u32| bits & (1 << k) != 0;
        let matches = |r: &Row12, status: &str, statuses: [&str; 4]| {
            (!on(0) || statuses[r.i % 4] == status)
                && (!on(1) || r.tenants.contains(&"t_b"))
                && (!on(2) || r.roles.contains(&"admin"))
                && (!on(3)
                    || r.name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains("e 1")))
        };
        let ids = order(
            rows.iter()
                .filter(|r| matches(r, "active", ["active", "active", "pending", "disabled"]))
                .map(|r| r.i)
                .collect(),
        );
        let want: Vec<String> = ids.iter().map(|i| format!("adm_{i:02}")).collect();
        let q = AdminListQuery {
            status: on(0).then_some(IdentityStatus::Active),
            tenant_id: on(1).then(|| "t_b".to_owned()),
            role: on(2).then_some(UserRole::Admin),
            search: on(3).then(|| "E 1".to_owned()),
            limit: Some(2),
            cursor: None,
        };
        let got = walk(
            q,
            async |q| listing::list_identities(&mut db.system(), q).await,
            |u: &AdminUser| u.identity_id.to_string(),
        )
        .await?;
        assert_eq!(got, want, "identities, filters {bits:04b}");

        let ids = order(
            rows.iter()
                .filter(|r| matches(r, "denied", ["pending", "approved", "denied", "canceled"]))
                .map(|r| r.i)
                .collect(),
        );
        let want: Vec<String> = ids.iter().map(|i| format!("aar_{i:02}")).collect();
        let q = AdminListQuery {
            status: on(0).then_some(AccessRequestStatus::Denied),
            tenant_id: on(1).then(|| "t_b".to_owned()),
            role: on(2).then_some(UserRole::Admin),
            search: on(3).then(|| "E 1".to_owned()),
            limit: Some(2),
            cursor: None,
        };
        let got = walk(
            q,
            async |q| listing::list_access_requests(&mut db.system(), q).await,
            |r: &access_requests::AdminAccessRequest| r.request_id.to_string(),
        )
        .await?;
        assert_eq!(got, want, "access requests, filters {bits:04b}");
    }
    Ok(())
}
