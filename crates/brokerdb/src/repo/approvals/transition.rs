//! Approval status transitions: one conditional update, never read-then-write.

use super::REPO;
use super::dto::{ApprovalRequest, from_snapshot};
use crate::db::{DbError, TenantExec};
use crate::model::{ApprovalId, ApprovalStatus, Timestamp};

/// Moves to `$2` only from `$4`, the one status it may come from. `decided_at` is the decision
/// time: set on leaving `pending`, kept on `approved → executed` (the original overwrote it).
const TRANSITION: &str = "UPDATE approval_requests
     SET status = $2::text::approval_status,
         decided_at = CASE WHEN $2::text = 'executed' THEN COALESCE(decided_at, $3) ELSE $3 END,
         approval_json = jsonb_set(approval_json, '{status}', to_jsonb($2::text))
     WHERE approval_id = $1 AND status = $4::text::approval_status
     RETURNING approval_json";
const CURRENT: &str = "SELECT approval_json FROM approval_requests WHERE approval_id = $1";

/// The result of [`transition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transitioned {
    /// The approval after the call.
    pub approval: ApprovalRequest,
    /// False when it already had the requested status (a no-op: nothing was written). Write
    /// an `approval_decided` audit event only when this is true.
    pub changed: bool,
}

/// The only status `target` may be reached from (`pending → approved | denied | expired |
/// canceled`, `approved → executed`); `None` for `pending`, which nothing returns to.
fn source(target: ApprovalStatus) -> Option<ApprovalStatus> {
    use ApprovalStatus::*;
    match target {
        Pending => None,
        Approved | Denied | Expired | Canceled => Some(Pending),
        Executed => Some(Approved),
    }
}

/// Moves an approval to `status`, writing `decided_at` (the given instant or now).
///
/// - Allowed transition: one `UPDATE … WHERE status = <source>`; of any number of concurrent
///   callers exactly one changes the row.
/// - The approval already has `status`: returned unchanged (`changed: false`, `decided_at`
///   untouched).
/// - Missing (or another tenant's) → `not_found`; a transition outside the table →
///   `state_transition_invalid`, nothing written.
///
/// `approved → executed` is how an approval is consumed: the one winner may carry out the
/// request, and the descriptor's key is free for a new approval from then on (module docs).
///
/// Runs alone or in the caller's transaction (the original could not: given a transaction, the
/// decision and its audit row commit together).
pub async fn transition(
    exec: &mut impl TenantExec,
    approval_id: &ApprovalId,
    status: ApprovalStatus,
    decided_at: Option<Timestamp>,
) -> Result<Transitioned, DbError> {
    if let Some(from) = source(status) {
        let (to, from) = (status.as_str(), from.as_str());
        let at = decided_at.unwrap_or_else(Timestamp::now);
        let changed = exec
            .op(REPO, "transition")
            .query_opt(TRANSITION, &[approval_id, &to, &at, &from], from_snapshot)
            .await?;
        if let Some(approval) = changed {
            return Ok(Transitioned {
                approval,
                changed: true,
            });
        }
    }
    // Nothing changed: the stored status tells which answer applies (read only then).
    let current = exec
        .op(REPO, "get_by_id")
        .query_found("approval", CURRENT, &[approval_id], from_snapshot)
        .await?;
    if current.status == status {
        Ok(Transitioned {
            approval: current,
            changed: false,
        })
    } else {
        Err(DbError::StateTransitionInvalid {
            message: format!(
                "an approval cannot go from {} to {}",
                current.status, status
            )
            .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_at_most_one_source_matching_the_spec_table() {
        use ApprovalStatus::*;
        let allowed = |from, to| source(to) == Some(from);
        for to in [Approved, Denied, Expired, Canceled] {
            assert!(allowed(Pending, to));
        }
        assert!(allowed(Approved, Executed));
        for from in ApprovalStatus::ALL {
            assert!(!allowed(*from, Pending), "nothing returns to pending");
        }
        for from in [Denied, Expired, Executed, Canceled] {
            for to in ApprovalStatus::ALL {
                assert!(!allowed(from, *to), "{from} is terminal");
            }
        }
    }

    #[test]
    fn the_in_flight_statuses_are_exactly_those_a_transition_leaves() {
        for status in ApprovalStatus::ALL {
            let leaves = ApprovalStatus::ALL
                .iter()
                .any(|to| source(*to) == Some(*status));
            assert_eq!(
                crate::repo::approvals::IN_FLIGHT_STATUSES.contains(status),
                leaves,
                "{status}"
            );
        }
    }
}
