//! Plan guards of the workloads and integrations lists (offset pages in creation order) at
//! 100,000 rows in a tenant.

use brokerdb::repo::{integrations, workloads};

use super::{As, CAPPED_COUNT, Failures, ORDERED_PAGE, TENANT_RUNS, connect, explain};
use crate::TestResult;

#[tokio::test]
async fn the_workloads_and_integrations_lists_read_their_creation_index_in_order() -> TestResult {
    let mut failures = Failures::default();
    for (mode, tenant) in TENANT_RUNS {
        let client = connect(As::Tenant(tenant)).await?;
        for (list, index) in [
            (workloads::list_statements(), "idx_workloads_tenant_created"),
            (
                integrations::list_statements(),
                "idx_integrations_tenant_created",
            ),
        ] {
            let page = explain(&client, mode, list.page, &[tenant, "50", "0", "1001"]).await?;
            failures.check(&page, ORDERED_PAGE);
            failures.expect(&page, page.uses_index(index));
            let count = explain(&client, mode, list.count, &[tenant, "1001"]).await?;
            failures.check(&count, CAPPED_COUNT);
        }
    }
    failures.assert_none("the workloads and integrations lists");
    Ok(())
}
