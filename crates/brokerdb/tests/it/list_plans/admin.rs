//! Plan guards of the admin listings (identities and access requests, newest first) at 200,000
//! rows each, as the system role: every combination of status, tenant, role, search and cursor.

use brokerdb::model::UserRole;
use brokerdb::repo::admin::access_requests::AccessRequestStatus;
use brokerdb::repo::admin::identities::IdentityStatus;
use brokerdb::repo::admin::listing::{AdminListQuery, access_requests_sql, identities_sql};

use super::{As, Failures, MODES, Mode, ORDERED_PAGE, UNORDERED_PAGE, connect, explain};
use crate::TestResult;

/// The query of shape `bits` (bit 0 status, 1 tenant, 2 role, 3 search, 4 cursor) with
/// `status`, and its parameter values in the statement's order.
fn case<S>(
    bits: u32,
    status: S,
    status_text: &'static str,
    tenant: &'static str,
    search: &'static str,
) -> (AdminListQuery<S>, Vec<&'static str>) {
    let on = |i: u32| bits & (1 << i) != 0;
    let mut params = Vec::new();
    let mut q = AdminListQuery::default();
    if on(0) {
        q.status = Some(status);
        params.push(status_text);
    }
    if on(1) {
        q.tenant_id = Some(tenant.to_owned());
        params.push(tenant);
    }
    if on(2) {
        q.role = Some(UserRole::Owner);
        params.push("owner");
    }
    if on(3) {
        q.search = Some("x".into());
        params.push(search);
    }
    if on(4) {
        q.cursor = Some("cursor".into());
        params.extend(["2024-03-01T00:00:00.000Z", "adm_100000"]);
    }
    params.push("51");
    (q, params)
}

#[tokio::test]
async fn every_admin_listing_shape_reads_an_index_under_custom_and_generic_plans() -> TestResult {
    let client = connect(As::System).await?;
    let mut failures = Failures::default();
    for mode in MODES {
        for bits in 0..32 {
            let checks = if bits & 0b1000 != 0 {
                UNORDERED_PAGE
            } else {
                ORDERED_PAGE
            };
            // adm_t7: 1 % of the identities; admin1234: 11 of 200,000.
            let (q, params) = case(
                bits,
                IdentityStatus::Pending,
                "pending",
                "adm_t7",
                "%admin1234%",
            );
            let plan = explain(&client, mode, identities_sql(&q), &params).await?;
            failures.check(&plan, checks);
            let (q, params) = case(
                bits,
                AccessRequestStatus::Pending,
                "pending",
                "aar_t7",
                "%requester1234%",
            );
            let plan = explain(&client, mode, access_requests_sql(&q), &params).await?;
            failures.check(&plan, checks);
        }
    }
    failures.assert_none("the admin listings");
    Ok(())
}

#[tokio::test]
async fn an_admin_search_matching_most_rows_is_read_in_the_listings_order() -> TestResult {
    // The search is planned per call: for a pattern nearly every row matches, sorting the
    // trigram matches would sort the table, so the plan must read the creation index in order.
    let client = connect(As::System).await?;
    let mut failures = Failures::default();
    for cursor in [false, true] {
        let bits = 0b1000 | if cursor { 0b10000 } else { 0 };
        let (q, params) = case(bits, IdentityStatus::Active, "active", "", "%example%");
        let plan = explain(&client, Mode::Custom, identities_sql(&q), &params).await?;
        failures.check(&plan, ORDERED_PAGE);
        let (q, params) = case(
            bits,
            AccessRequestStatus::Pending,
            "pending",
            "",
            "%example%",
        );
        let plan = explain(&client, Mode::Custom, access_requests_sql(&q), &params).await?;
        failures.check(&plan, ORDERED_PAGE);
    }
    failures.assert_none("a common admin search");
    Ok(())
}
