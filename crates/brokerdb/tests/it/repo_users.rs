//! UserRepository and the users list against real PostgreSQL.

use brokerdb::db::paging::{PageRequest, Sort};
use brokerdb::db::{Db, ErrorCode};
use brokerdb::model::{Email, NonEmptyString, TenantId, UserId, UserRole};
use brokerdb::repo::users::{self, CreateHumanUser, HumanUser, UserFilter, UserSort};
use brokerdb_testkit::database;

use crate::assert_code;
use crate::support::{TestResult, code, tenant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn input(email: &str, roles: &[&str], name: Option<&str>) -> Res<CreateHumanUser> {
    Ok(CreateHumanUser {
        user_id: None,
        email: Email::parse(email)?,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        enabled: None,
        display_name: name
            .map(|n| NonEmptyString::new("display_name", n))
            .transpose()?,
        oidc_subject: None,
        oidc_issuer: None,
    })
}

async fn two_tenants() -> Res<(brokerdb_testkit::TestDatabase, Db, TenantId, TenantId)> {
    let test_db = database().await;
    test_db
        .admin()
        .await
        .batch_execute("INSERT INTO tenants (tenant_id, name) VALUES ('t_a', 'A'), ('t_b', 'B')")
        .await?;
    let db = test_db.db().await;
    Ok((test_db, db, tenant("t_a")?, tenant("t_b")?))
}

#[tokio::test]
async fn creating_a_user_normalizes_its_roles_and_refuses_duplicates_bad_roles_and_unknown_tenants()
-> TestResult {
    let (_t, db, a, b) = two_tenants().await?;
    let u = users::create(
        &mut db.tenant(&a),
        &input("ann@example.com", &["operator", " admin"], Some("Ann"))?,
    )
    .await?;
    assert!(u.user_id.as_str().starts_with("u_"));
    assert_eq!(
        (u.roles.clone(), u.enabled, u.display_name.as_deref()),
        (vec![UserRole::Admin, UserRole::Operator], true, Some("Ann"))
    );
    let json = serde_json::to_value(&u)?;
    assert!(
        json.get("oidc_subject").is_none(),
        "unset optional fields are omitted: {json}"
    );

    for (inp, expected) in [
        (
            input("ann@example.com", &["admin"], None)?,
            ErrorCode::UniqueViolation,
        ),
        (
            input("bob@example.com", &["admin", "admin"], None)?,
            ErrorCode::ValidationError,
        ),
        (
            input("bob@example.com", &[], None)?,
            ErrorCode::ValidationError,
        ),
        (
            input("bob@example.com", &["root"], None)?,
            ErrorCode::ValidationError,
        ),
    ] {
        assert_eq!(
            code(users::create(&mut db.tenant(&a), &inp).await),
            Some(expected)
        );
    }
    let same_id = CreateHumanUser {
        user_id: Some(u.user_id.clone()),
        ..input("c@example.com", &["admin"], None)?
    };
    assert_code!(
        users::create(&mut db.tenant(&b), &same_id).await,
        UniqueViolation
    );
    let ghost = tenant("t_ghost")?;
    let got = code(
        users::create(
            &mut db.tenant(&ghost),
            &input("g@example.com", &["admin"], None)?,
        )
        .await,
    );
    assert_eq!(got, Some(ErrorCode::IntegrityViolation));
    Ok(())
}

#[tokio::test]
async fn a_user_is_read_and_its_roles_replaced_only_within_its_tenant() -> TestResult {
    let (_t, db, a, b) = two_tenants().await?;
    let u = users::create(
        &mut db.tenant(&a),
        &input("ann@example.com", &["operator", " admin"], Some("Ann"))?,
    )
    .await?;

    assert_eq!(
        users::get_by_id(&mut db.tenant(&a), &u.user_id)
            .await?
            .as_ref(),
        Some(&u)
    );
    assert_eq!(
        users::get_by_id(&mut db.tenant(&b), &u.user_id).await?,
        None,
        "invisible to tenant B"
    );

    let updated =
        users::update_roles(&mut db.tenant(&a), &u.user_id, &replace(&["owner"])?).await?;
    assert_eq!(updated.roles, [UserRole::Owner]);
    let foreign =
        code(users::update_roles(&mut db.tenant(&b), &u.user_id, &replace(&["auditor"])?).await);
    assert_eq!(foreign, Some(ErrorCode::NotFound));
    let bad = code(
        users::update_roles(
            &mut db.tenant(&a),
            &u.user_id,
            &replace(&["owner", "owner"])?,
        )
        .await,
    );
    assert_eq!(bad, Some(ErrorCode::ValidationError));
    assert_eq!(
        users::get_by_id(&mut db.tenant(&a), &u.user_id)
            .await?
            .map(|u| u.roles),
        Some(vec![UserRole::Owner])
    );
    assert_code!(
        users::update_roles(
            &mut db.tenant(&a),
            &UserId::parse("u_none")?,
            &replace(&["admin"])?
        )
        .await,
        NotFound
    );
    Ok(())
}

async fn seed_list(db: &Db, a: &TenantId, b: &TenantId) -> Res<Vec<HumanUser>> {
    let mut out = Vec::new();
    for (email, roles, name, enabled) in [
        (
            "carol@example.com",
            &["admin"][..],
            Some("Carol 50%_off"),
            true,
        ),
        ("alice@example.com", &["auditor"][..], Some("Alice"), true),
        ("bob@example.com", &["admin", "operator"][..], None, false),
        ("dave@example.com", &["operator"][..], Some("dave"), true),
        ("eve@example.com", &["owner"][..], Some("Eve"), true),
    ] {
        let inp = CreateHumanUser {
            enabled: Some(enabled),
            ..input(email, roles, name)?
        };
        out.push(users::create(&mut db.tenant(a), &inp).await?);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await; // distinct created_at
    }
    users::create(
        &mut db.tenant(b),
        &input("zed@example.com", &["admin"], Some("Zed"))?,
    )
    .await?;
    Ok(out)
}

fn emails(items: &[HumanUser]) -> Vec<&str> {
    items
        .iter()
        .map(|u| u.email.split('@').next().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn list_filters_sorts_and_pages_at_the_edges() -> TestResult {
    let (_t, db, a, b) = two_tenants().await?;
    let empty = users::list(
        &mut db.tenant(&a),
        &UserFilter::default(),
        Sort::parse("created_at", "asc")?,
        PageRequest::new(1, 10)?,
    )
    .await?;
    assert_eq!(
        (empty.items.len(), empty.total, empty.total_pages),
        (0, 0, 0)
    );
    let seeded = seed_list(&db, &a, &b).await?;
    let mut scope = db.tenant(&a);
    let all = UserFilter::default();
    let list = |f: UserFilter, field: &'static str, dir: &'static str, page: i64, size: i64| {
        let parsed = Sort::<UserSort>::parse(field, dir)
            .and_then(|s| PageRequest::new(page, size).map(|p| (s, p)));
        async move {
            let (sort, page) = parsed?;
            users::list(&mut scope, &f, sort, page)
                .await
                .map_err(Box::<dyn std::error::Error>::from)
        }
    };

    let p = list(all.clone(), "created_at", "asc", 1, 10).await?;
    assert_eq!(
        (emails(&p.items), p.total, p.total_pages),
        (vec!["carol", "alice", "bob", "dave", "eve"], 5, 1),
        "tenant B's user is not listed"
    );
    assert_eq!(
        emails(&list(all.clone(), "email", "asc", 1, 10).await?.items),
        ["alice", "bob", "carol", "dave", "eve"]
    );
    assert_eq!(
        emails(&list(all.clone(), "email", "DESC", 1, 10).await?.items),
        ["eve", "dave", "carol", "bob", "alice"]
    );
    assert_eq!(
        emails(&list(all.clone(), "display_name", "asc", 1, 10).await?.items),
        ["bob", "alice", "carol", "eve", "dave"],
        "missing name sorts first; byte order"
    );
    assert_eq!(
        emails(&list(all.clone(), "created_at", "desc", 1, 2).await?.items),
        ["eve", "dave"]
    );

    let last = list(all.clone(), "created_at", "asc", 3, 2).await?;
    assert_eq!(
        (emails(&last.items), last.total, last.total_pages),
        (vec!["eve"], 5, 3),
        "last partial page"
    );
    let past = list(all.clone(), "created_at", "asc", 4, 2).await?;
    assert_eq!(
        (past.items.len(), past.total, past.total_pages),
        (0, 5, 3),
        "past the end keeps the totals"
    );
    let exact = list(all.clone(), "created_at", "asc", 1, 5).await?;
    assert_eq!((exact.items.len(), exact.total_pages), (5, 1));

    let q = |s: &str| UserFilter {
        q: Some(s.into()),
        ..UserFilter::default()
    };
    assert_eq!(
        emails(&list(q("ALICE"), "email", "asc", 1, 10).await?.items),
        ["alice"],
        "case-insensitive email"
    );
    assert_eq!(
        emails(&list(q("dav"), "email", "asc", 1, 10).await?.items),
        ["dave"]
    );
    assert_eq!(
        emails(&list(q("50%_"), "email", "asc", 1, 10).await?.items),
        ["carol"],
        "% and _ are literal"
    );
    assert_eq!(
        list(q("%"), "email", "asc", 1, 10).await?.total,
        1,
        "a bare % matches only a literal %"
    );
    let enabled = UserFilter {
        enabled: Some(false),
        ..UserFilter::default()
    };
    assert_eq!(
        emails(&list(enabled, "email", "asc", 1, 10).await?.items),
        ["bob"]
    );
    let role = UserFilter {
        role: Some(UserRole::Operator),
        ..UserFilter::default()
    };
    assert_eq!(
        emails(&list(role, "email", "asc", 1, 10).await?.items),
        ["bob", "dave"]
    );
    let window = UserFilter {
        created_from: Some(seeded[1].created_at),
        created_to: Some(seeded[3].created_at),
        ..UserFilter::default()
    };
    assert_eq!(
        emails(&list(window, "created_at", "asc", 1, 10).await?.items),
        ["alice", "bob"],
        "from inclusive, to exclusive"
    );

    assert!(Sort::<UserSort>::parse("password", "asc").is_err());
    assert!(Sort::<UserSort>::parse("email", "up").is_err());
    assert!(
        PageRequest::new(1, 0).is_err()
            && PageRequest::new(1, 101).is_err()
            && PageRequest::new(0, 10).is_err()
    );
    let as_db: brokerdb::db::DbError = PageRequest::new(1, 101).err().ok_or("accepted 101")?.into();
    assert_eq!(as_db.code(), ErrorCode::ValidationError);
    Ok(())
}

#[tokio::test]
async fn keyset_pages_walk_every_row_once_and_reject_foreign_or_tampered_cursors() -> TestResult {
    let (_t, db, a, b) = two_tenants().await?;
    seed_list(&db, &a, &b).await?;
    let mut scope = db.tenant(&a);
    for (field, dir, expected) in [
        (
            "created_at",
            "desc",
            vec!["eve", "dave", "bob", "alice", "carol"],
        ),
        ("email", "asc", vec!["alice", "bob", "carol", "dave", "eve"]),
        (
            "display_name",
            "desc",
            vec!["dave", "eve", "carol", "alice", "bob"],
        ),
    ] {
        let sort = Sort::<UserSort>::parse(field, dir)?;
        let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let slice = users::list_after(
                &mut scope,
                &UserFilter::default(),
                sort,
                2,
                cursor.as_deref(),
            )
            .await?;
            seen.extend(emails(&slice.items).into_iter().map(str::to_owned));
            pages += 1;
            match slice.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(
            (seen, pages),
            (
                expected.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
                3
            ),
            "{field} {dir}"
        );
    }
    let sort = Sort::<UserSort>::parse("email", "asc")?;
    let first = users::list_after(&mut scope, &UserFilter::default(), sort, 2, None).await?;
    let cursor = first.next_cursor.ok_or("no cursor")?;
    assert_eq!(
        code(
            users::list_after(
                &mut db.tenant(&b),
                &UserFilter::default(),
                sort,
                2,
                Some(&cursor)
            )
            .await
        ),
        Some(ErrorCode::ValidationError),
        "another tenant"
    );
    let other_sort = Sort::<UserSort>::parse("email", "desc")?;
    assert_eq!(
        code(
            users::list_after(
                &mut scope,
                &UserFilter::default(),
                other_sort,
                2,
                Some(&cursor)
            )
            .await
        ),
        Some(ErrorCode::ValidationError),
        "another sort"
    );
    let tampered = format!("x{cursor}");
    assert_eq!(
        code(users::list_after(&mut scope, &UserFilter::default(), sort, 2, Some(&tampered)).await),
        Some(ErrorCode::ValidationError)
    );
    assert_eq!(
        code(users::list_after(&mut scope, &UserFilter::default(), sort, 0, None).await),
        Some(ErrorCode::ValidationError)
    );
    assert_eq!(
        code(users::list_after(&mut scope, &UserFilter::default(), sort, 101, None).await),
        Some(ErrorCode::ValidationError)
    );
    Ok(())
}

fn who() -> Result<brokerdb::model::NonEmptyString, brokerdb::model::ValidationError> {
    brokerdb::model::NonEmptyString::new("actor", "adm_test")
}

fn replace(roles: &[&str]) -> Result<users::ReplaceRoles, brokerdb::model::ValidationError> {
    Ok(users::ReplaceRoles {
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        actor: who()?,
        correlation_id: who()?,
    })
}

#[tokio::test]
async fn emails_are_unique_per_tenant_whatever_their_case_and_stored_as_given() -> TestResult {
    let (_t, db, a, b) = two_tenants().await?;
    let carol = users::create(
        &mut db.tenant(&a),
        &input("Carol@Example.com", &["admin"], None)?,
    )
    .await?;
    assert_eq!(carol.email, "Carol@Example.com", "stored as given");
    let again = users::create(
        &mut db.tenant(&a),
        &input("carol@example.com", &["admin"], None)?,
    )
    .await;
    assert_eq!(
        again.err().map(|e| e.to_string()),
        Some("unique_violation: another row has the same email".to_owned())
    );
    users::create(
        &mut db.tenant(&b),
        &input("carol@example.com", &["admin"], None)?,
    )
    .await?;
    Ok(())
}

/// The emails (local parts) of `filter`'s matches through an offset page, with the page's total,
/// and through keyset pages of 1 (every keyset statement, the one after a cursor included).
async fn listed_both_ways(
    db: &Db,
    t: &TenantId,
    filter: &UserFilter,
    sort: Sort<UserSort>,
) -> Res<(Vec<String>, u64, Vec<String>)> {
    let mut scope = db.tenant(t);
    let page = users::list(&mut scope, filter, sort, PageRequest::new(1, 10)?).await?;
    assert!(!page.total_is_estimate);
    let (mut walked, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let slice = users::list_after(&mut scope, filter, sort, 1, cursor.as_deref()).await?;
        walked.extend(emails(&slice.items).into_iter().map(str::to_owned));
        match slice.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let paged = emails(&page.items).into_iter().map(str::to_owned).collect();
    Ok((paged, page.total, walked))
}

#[tokio::test]
async fn a_role_with_a_creation_range_or_enabled_lists_the_roles_matching_users_whoever_wrote_them()
-> TestResult {
    let (test_db, db, a, b) = two_tenants().await?;
    let seeded = seed_list(&db, &a, &b).await?;
    // dave becomes an admin through update_roles (the delete-and-insert path), beside carol and
    // bob, who were created as admins.
    users::update_roles(
        &mut db.tenant(&a),
        &seeded[3].user_id,
        &replace(&["admin", "operator"])?,
    )
    .await?;
    // alice, bob and dave were created in [alice, eve); the admins among them are bob and dave.
    let window = UserFilter {
        role: Some(UserRole::Admin),
        created_from: Some(seeded[1].created_at),
        created_to: Some(seeded[4].created_at),
        ..UserFilter::default()
    };
    let s = |f: &str, d: &str| Sort::<UserSort>::parse(f, d);
    for (sort, expected) in [
        (s("created_at", "asc")?, ["bob", "dave"]),
        (s("created_at", "desc")?, ["dave", "bob"]),
        (s("email", "asc")?, ["bob", "dave"]),
        (s("email", "desc")?, ["dave", "bob"]),
        (s("display_name", "asc")?, ["bob", "dave"]),
        (s("display_name", "desc")?, ["dave", "bob"]),
    ] {
        let (paged, total, walked) = listed_both_ways(&db, &a, &window, sort).await?;
        assert_eq!(
            (paged.clone(), total),
            (expected.map(String::from).to_vec(), 2)
        );
        assert_eq!(walked, paged, "keyset pages list the same users");
    }
    let enabled = UserFilter {
        enabled: Some(true),
        ..window.clone()
    };
    let from_only = UserFilter {
        created_to: None,
        ..window.clone()
    };
    let q = UserFilter {
        q: Some("BO".into()),
        ..window.clone()
    };
    let newest = s("created_at", "desc")?;
    for (filter, expected, what) in [
        (&enabled, vec!["dave"], "bob is disabled"),
        (&from_only, vec!["dave", "bob"], "an open-ended range"),
        (&q, vec!["bob"], "with a search"),
    ] {
        let (paged, total, walked) = listed_both_ways(&db, &a, filter, newest).await?;
        assert_eq!(paged, expected, "{what}");
        assert_eq!((total, walked), (expected.len() as u64, paged), "{what}");
    }

    // An administrator moves carol's creation time into the window: her role row follows, so
    // the list (driven by the role rows' copy) shows her.
    test_db
        .admin()
        .await
        .execute(
            "UPDATE human_users SET created_at = $1 WHERE user_id = $2",
            &[&seeded[2].created_at, &seeded[0].user_id.as_str()],
        )
        .await?;
    let (paged, total, _) = listed_both_ways(&db, &a, &window, s("email", "asc")?).await?;
    assert_eq!(
        (paged, total),
        (vec!["bob".into(), "carol".into(), "dave".into()], 3)
    );

    // dave is disabled: his role rows follow, so enabled admins (counted from the role rows'
    // copies) are carol alone, with the range (which she is in now) and without.
    test_db
        .admin()
        .await
        .execute(
            "UPDATE human_users SET enabled = FALSE WHERE user_id = $1",
            &[&seeded[3].user_id.as_str()],
        )
        .await?;
    let enabled_admins = UserFilter {
        role: Some(UserRole::Admin),
        enabled: Some(true),
        ..UserFilter::default()
    };
    for filter in [&enabled_admins, &enabled] {
        let (paged, total, walked) = listed_both_ways(&db, &a, filter, newest).await?;
        assert_eq!(
            (paged, total, walked),
            (vec!["carol".into()], 1, vec!["carol".into()])
        );
    }
    // Renaming a user cascades to its role rows, which keep their copies. (A tenant's id cannot
    // change once it has audit events, which are append-only.)
    test_db
        .admin()
        .await
        .batch_execute(
            "UPDATE human_users SET user_id = 'u_renamed' WHERE email = 'carol@example.com'",
        )
        .await?;
    let stale: i64 = test_db
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM human_user_roles r JOIN human_users u USING (tenant_id, user_id) \
             WHERE r.user_created_at IS DISTINCT FROM u.created_at \
                OR r.user_enabled IS DISTINCT FROM u.enabled",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        stale, 0,
        "every role row carries its user's creation time and flag"
    );
    let (paged, _, _) = listed_both_ways(&db, &a, &enabled_admins, newest).await?;
    assert_eq!(paged, ["carol"], "found by the copies after the rename");
    Ok(())
}
