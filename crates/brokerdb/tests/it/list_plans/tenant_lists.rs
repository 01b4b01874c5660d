//! Plan guards of the workloads and integrations lists (offset pages in creation order) at
//! 100,000 rows in a tenant.

use brokerdb::repo::{integrations, workloads};

use super::{As, BIG, CAPPED_COUNT, Failures, MODES, ORDERED_PAGE, connect, explain};
use crate::TestResult;

#[tokio::test]
async fn the_workloads_and_integrations_lists_read_their_creation_index_in_order() -> TestResult {
    let client = connect(As::Tenant(BIG)).await?;
    let mut failures = Failures::default();
    for mode in MODES {
        for (list, index) in [
            (workloads::list_statements(), "idx_workloads_tenant_created"),
            (
                integrations::list_statements(),
                "idx_integrations_tenant_created",
            ),
        ] {
            let page = explain(&client, mode, list.page, &[BIG, "50", "0", "1001"]).await?;
            failures.check(&page, ORDERED_PAGE);
            failures.expect(&page, page.uses_index(index));
            let count = explain(&client, mode, list.count, &[BIG, "1001"]).await?;
            failures.check(&count, CAPPED_COUNT);
        }
    }
    failures.assert_none("the workloads and integrations lists");
    Ok(())
}
