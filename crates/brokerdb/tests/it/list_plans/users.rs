//! Plan guards of the users list: every combination of the `q`, `enabled`, `role` and
//! `created_at` range filters with every sort, for the offset page, its capped count and both
//! keyset statements.

use brokerdb::db::paging::{Direction, Sort};
use brokerdb::model::{Timestamp, UserRole};
use brokerdb::repo::users::{self, UserFilter, UserSort};

use super::{
    As, BIG, CAPPED_COUNT, Failures, Mode, ORDERED_PAGE, TENANT_RUNS, UNORDERED_PAGE, connect,
    explain,
};
use crate::TestResult;

/// A rare pattern (11 users of a million), as `contains_pattern` escapes it.
const PATTERN: &str = "%user12345%";
/// `role = owner`: 1 % of the tenant.
/// A one-month `created_at` range (≈ 4.3 % of the tenant).
const FROM: &str = "2024-03-01T00:00:00.000Z";
const TO: &str = "2024-04-01T00:00:00.000Z";

/// The 16 combinations of q, enabled, role and the range (both bounds).
fn filters() -> Result<Vec<UserFilter>, crate::support::Error> {
    let mut out = Vec::new();
    for bits in 0..16u8 {
        out.push(UserFilter {
            q: (bits & 1 != 0).then(|| "user12345".to_owned()),
            enabled: (bits & 2 != 0).then_some(false),
            role: (bits & 4 != 0).then_some(UserRole::Owner),
            created_from: (bits & 8 != 0)
                .then(|| Timestamp::parse(FROM))
                .transpose()?,
            created_to: (bits & 8 != 0).then(|| Timestamp::parse(TO)).transpose()?,
        });
    }
    Ok(out)
}

/// The filter values in the shape's parameter order, after the tenant.
fn filter_params(f: &UserFilter) -> Vec<&'static str> {
    let mut p = Vec::new();
    if f.q.is_some() {
        p.push(PATTERN);
    }
    if f.enabled.is_some() {
        p.push("false");
    }
    if f.created_from.is_some() {
        p.push(FROM);
    }
    if f.created_to.is_some() {
        p.push(TO);
    }
    p
}

fn sorts() -> Vec<Sort<UserSort>> {
    let mut out = Vec::new();
    for field in [UserSort::CreatedAt, UserSort::Email, UserSort::DisplayName] {
        for direction in [Direction::Asc, Direction::Desc] {
            out.push(Sort { field, direction });
        }
    }
    out
}

/// A cursor's sort key in the middle of the tenant, for the sort's field.
fn cursor_key(field: UserSort) -> &'static str {
    match field {
        UserSort::CreatedAt => "2024-06-01T00:00:00.000Z",
        UserSort::Email => "user500000@example.com",
        UserSort::DisplayName => "User 500000",
    }
}

#[tokio::test]
async fn every_users_list_shape_reads_an_index_under_custom_and_generic_plans() -> TestResult {
    let mut failures = Failures::default();
    for (mode, tenant) in TENANT_RUNS {
        let client = connect(As::Tenant(tenant)).await?;
        for filter in filters()? {
            let filters = filter_params(&filter);
            // A trigram match set has no order: it is sorted (it is small when the pattern is rare,
            // and a common pattern makes the planner read in order instead).
            let page_checks = if filter.q.is_some() {
                UNORDERED_PAGE
            } else {
                ORDERED_PAGE
            };
            for sort in sorts() {
                let sql = users::shape_sql(&filter, sort);
                let with = |tail: &[&'static str]| {
                    let mut p = vec![tenant];
                    p.extend(&filters);
                    p.extend(tail);
                    p
                };
                let page =
                    explain(&client, mode, sql.list.page, &with(&["50", "0", "1001"])).await?;
                failures.check(&page, page_checks);
                let count = explain(&client, mode, sql.list.count, &with(&["1001"])).await?;
                failures.check(&count, CAPPED_COUNT);
                let first = explain(&client, mode, sql.first, &with(&["51"])).await?;
                failures.check(&first, page_checks);
                let after = explain(
                    &client,
                    mode,
                    sql.after,
                    &with(&[cursor_key(sort.field), "u_500000", "51"]),
                )
                .await?;
                failures.check(&after, page_checks);
            }
        }
    }
    failures.assert_none("the users list");
    Ok(())
}

#[tokio::test]
async fn a_users_search_matching_most_of_the_tenant_is_read_in_the_lists_order() -> TestResult {
    // `q` is planned per call (planned_per_call): for a pattern every user matches, sorting the
    // trigram matches would sort the tenant, so the plan must read the sort's index in order.
    let client = connect(As::Tenant(BIG)).await?;
    let mut failures = Failures::default();
    let filter = UserFilter {
        q: Some("example".to_owned()),
        ..Default::default()
    };
    for sort in sorts() {
        let sql = users::shape_sql(&filter, sort);
        let common = "%example%";
        let page = explain(
            &client,
            Mode::Custom,
            sql.list.page,
            &[BIG, common, "50", "0", "1001"],
        )
        .await?;
        failures.check(&page, ORDERED_PAGE);
        let count = explain(
            &client,
            Mode::Custom,
            sql.list.count,
            &[BIG, common, "1001"],
        )
        .await?;
        failures.check(&count, CAPPED_COUNT);
        let first = explain(&client, Mode::Custom, sql.first, &[BIG, common, "51"]).await?;
        failures.check(&first, ORDERED_PAGE);
        let after = explain(
            &client,
            Mode::Custom,
            sql.after,
            &[BIG, common, cursor_key(sort.field), "u_500000", "51"],
        )
        .await?;
        failures.check(&after, ORDERED_PAGE);
    }
    failures.assert_none("a common users search");
    Ok(())
}
