//! Plan guards of the approvals list (newest first, optionally of one status) at a million
//! approvals in a tenant.

use brokerdb::repo::approvals;

use super::{As, Failures, ORDERED_PAGE, TENANT_RUNS, connect, explain};
use crate::TestResult;

#[tokio::test]
async fn the_approvals_list_reads_an_index_in_order_with_and_without_a_status() -> TestResult {
    let mut failures = Failures::default();
    for (mode, tenant) in TENANT_RUNS {
        let client = connect(As::Tenant(tenant)).await?;
        let all = explain(&client, mode, approvals::list_sql(false), &[tenant, "100"]).await?;
        failures.check(&all, ORDERED_PAGE);
        failures.expect(&all, all.uses_index("idx_approval_requests_tenant_created"));
        // pending: 2 % of the tenant; canceled: 1 %; approved: 40 %.
        for status in ["pending", "canceled", "approved"] {
            let one = explain(
                &client,
                mode,
                approvals::list_sql(true),
                &[tenant, status, "100"],
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
