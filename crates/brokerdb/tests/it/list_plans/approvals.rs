//! Plan guards of the approvals list (newest first, optionally of one status) at a million
//! approvals in a tenant.

use brokerdb::repo::approvals;

use super::{As, BIG, Failures, MODES, ORDERED_PAGE, connect, explain};
use crate::TestResult;

#[tokio::test]
async fn the_approvals_list_reads_an_index_in_order_with_and_without_a_status() -> TestResult {
    let client = connect(As::Tenant(BIG)).await?;
    let mut failures = Failures::default();
    for mode in MODES {
        let all = explain(&client, mode, approvals::list_sql(false), &[BIG, "100"]).await?;
        failures.check(&all, ORDERED_PAGE);
        failures.expect(&all, all.uses_index("idx_approval_requests_tenant_created"));
        // pending: 2 % of the tenant; canceled: 1 %; approved: 40 %.
        for status in ["pending", "canceled", "approved"] {
            let one = explain(
                &client,
                mode,
                approvals::list_sql(true),
                &[BIG, status, "100"],
            )
            .await?;
            failures.check(&one, ORDERED_PAGE);
            failures.expect(
                &one,
                one.uses_index("idx_approval_requests_tenant_status_created"),
            );
        }
    }
    failures.assert_none("the approvals list");
    Ok(())
}
