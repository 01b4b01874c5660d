//! Measuring an operation through the library's tenant scope.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brokerdb::audit;
use brokerdb::audit::{AuditEvent, AuditEventType};
use brokerdb::db::{Db, DbError, Exec};
use brokerdb::model::TokenHash;
use brokerdb::model::{
    AuditDecision, EventId, IntegrationId, NonEmptyString, RiskTier, TenantId, Timestamp,
    WorkloadId,
};
use brokerdb::repo::audit_events::{self, AuditQueryFilter};
use brokerdb::repo::enrollment_tokens::{self, IssueEnrollmentToken};
use brokerdb::repo::{integrations, policy_rules};

use super::timed::{self, Call};
use super::workload::{AUDIT_PAGE, Operation, TENANT, Via, audit_tenant, policy_descriptor};

/// `callers` tasks run `op` back to back for `limit`: every latency (µs) and the wall time.
pub async fn slice(
    db: &Db,
    op: Operation,
    callers: usize,
    users: u32,
    limit: Duration,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    let tenant: TenantId = TENANT.parse()?;
    let arg_max = (op.arg_max)(users).max(1);
    let tenants = (0..callers)
        .map(|c| audit_tenant(c).parse())
        .collect::<Result<Vec<TenantId>, _>>()?;
    let shared = Arc::new((db.clone(), tenant, tenants));
    let call: Call = Arc::new(move |caller, _| {
        let shared = Arc::clone(&shared);
        Box::pin(async move {
            let arg = i32::try_from(rand::random_range(1..=arg_max)).unwrap_or(1);
            let tenant = match op.via {
                Via::AuditAppendTenants => shared.2.get(caller).unwrap_or(&shared.1),
                _ => &shared.1,
            };
            Ok(run_once(&shared.0, tenant, op, arg).await?)
        })
    });
    let started = Instant::now();
    let latencies = timed::round(&call, callers, limit, 0).await?;
    Ok((latencies, started.elapsed()))
}

async fn run_once(
    db: &Db,
    tenant: &TenantId,
    op: Operation,
    arg: i32,
) -> Result<(), brokerdb::db::DbError> {
    match op.via {
        Via::Sql => db.tenant(tenant).query(op.sql, &[&arg]).await.map(|_| ()),
        Via::ExecuteLookup => {
            let workload = WorkloadId::parse(&format!("w_bench_{arg}"))?;
            let integration = IntegrationId::parse("int_bench")?;
            integrations::get_template_for_execute(&mut db.tenant(tenant), &workload, &integration)
                .await
                .map(|_| ())
        }
        Via::PolicyMatch => {
            let descriptor = policy_descriptor(&format!("w_bench_{arg}"));
            policy_rules::list_for_descriptor(&mut db.tenant(tenant), &descriptor)
                .await
                .map(|_| ())
        }
        Via::AuditAppend | Via::AuditAppendTenants => {
            let event = bench_event(tenant, arg)?;
            audit::append(&mut db.tenant(tenant), &event).await
        }
        Via::Enrollment => {
            let workload = WorkloadId::parse(&format!("w_bench_{arg}"))?;
            let now = Timestamp::now();
            let issued = enrollment_tokens::issue(
                &mut db.tenant(tenant),
                &IssueEnrollmentToken {
                    token_hash: TokenHash::parse(&format!("{}{}", uuid_hex(), uuid_hex()))?,
                    workload_id: workload.clone(),
                    expires_at: Timestamp::from_unix_millis(now.unix_millis() + 3_600_000)?,
                    created_at: Some(now),
                },
            )
            .await?;
            enrollment_tokens::consume_once(
                &mut db.tenant(tenant),
                &issued.token_hash,
                Some(&workload),
                Timestamp::now(),
            )
            .await
            .map(|_| ())
        }
        Via::AuditQuery => {
            let filter = AuditQueryFilter {
                workload_id: Some(WorkloadId::parse(&format!("w_bench_{arg}"))?),
                limit: Some(AUDIT_PAGE),
                ..Default::default()
            };
            audit_events::query(&mut db.tenant(tenant), &filter)
                .await
                .map(|_| ())
        }
        Via::UnchainedAppend | Via::UnchainedAppendTenants => Err(DbError::DependencyMissing {
            what: "a library path (this row is measured with pgbench only)",
        }),
    }
}

/// The event the append row writes: the columns pgbench writes too.
fn bench_event(tenant: &TenantId, arg: i32) -> Result<AuditEvent, DbError> {
    let mut e = AuditEvent::new(
        EventId::parse(&format!("evt_{}", uuid_hex()))?,
        Timestamp::now(),
        tenant.clone(),
        NonEmptyString::new("correlation_id", "bench")?,
        AuditEventType::Execute,
    );
    e.workload_id = Some(WorkloadId::parse(&format!("w_bench_{arg}"))?);
    e.integration_id = Some(IntegrationId::parse("int_bench")?);
    e.decision = Some(AuditDecision::Allowed);
    e.action_group = Some("send".into());
    e.risk_tier = Some(RiskTier::Low);
    e.upstream_status_code = Some(200);
    e.latency_ms = Some(12);
    Ok(e)
}

fn uuid_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}
