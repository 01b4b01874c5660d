-- 0015 approval dedupe covers every in-flight state, not only `pending`.
--
-- An approval is in flight while it can still lead to the request being executed: `pending` (a
-- human is asked) and `approved` (the approved request waits to be executed once; `approved ->
-- executed` is its only way out, see repo::approvals). Until now the partial unique index
-- uq_approval_requests_pending_descriptor covered `pending` only, so while an approval waited
-- for its execution a new one for the same request (tenant, workload, integration, descriptor
-- hash) could be created and put a second prompt in front of a human.
-- uq_approval_requests_in_flight_descriptor covers both states. A pending approval past its
-- expires_at still counts here, as it did: `create` marks it `expired` before inserting.
--
-- Existing rows the new index would refuse are settled first: a pending approval of a key that
-- also has an approved one is the second prompt this index forbids (the approved one covers the
-- same request), so it becomes `expired` if its expires_at has passed, `canceled` otherwise, with
-- decided_at = now and its snapshot's status kept in sync. No approval_decided audit event is
-- written for it. Two or more `approved` approvals of one key cannot be settled here (each is a
-- human's decision that may still be executed): the migration then fails and names one such key.
SET LOCAL ROLE brokerdb_owner;

-- The owner is subject to RLS on this table (FORCE); for the duration of this transaction it
-- reads and settles every tenant's rows. ALTER TABLE holds an ACCESS EXCLUSIVE lock until commit,
-- so nobody else ever sees the table without FORCE.
ALTER TABLE approval_requests NO FORCE ROW LEVEL SECURITY;

DO $approved$
DECLARE
    dup record;
BEGIN
    SELECT tenant_id, workload_id, integration_id, descriptor_sha256, count(*) AS n INTO dup
    FROM approval_requests
    WHERE status = 'approved'
    GROUP BY tenant_id, workload_id, integration_id, descriptor_sha256
    HAVING count(*) > 1
    ORDER BY tenant_id, workload_id, integration_id, descriptor_sha256
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'tenant % has % approved, not executed approvals of workload %, integration %, descriptor %; refusing to choose one',
            dup.tenant_id, dup.n, dup.workload_id, dup.integration_id, dup.descriptor_sha256
            USING HINT = 'Execute all but one of them (or settle them by hand) before upgrading.';
    END IF;
END
$approved$;

UPDATE approval_requests p
   SET status = s.status::approval_status,
       decided_at = date_trunc('milliseconds', now()),
       approval_json = jsonb_set(p.approval_json, '{status}', to_jsonb(s.status))
  FROM (SELECT q.id, q.tenant_id,
               CASE WHEN q.expires_at <= now() THEN 'expired' ELSE 'canceled' END AS status
          FROM approval_requests q
         WHERE q.status = 'pending'
           AND EXISTS (SELECT 1 FROM approval_requests a
                        WHERE a.status = 'approved'
                          AND a.tenant_id = q.tenant_id
                          AND a.workload_id = q.workload_id
                          AND a.integration_id = q.integration_id
                          AND a.descriptor_sha256 = q.descriptor_sha256)) s
 WHERE p.tenant_id = s.tenant_id AND p.id = s.id;

DROP INDEX uq_approval_requests_pending_descriptor;
CREATE UNIQUE INDEX uq_approval_requests_in_flight_descriptor
    ON approval_requests (tenant_id, workload_id, integration_id, descriptor_sha256)
    WHERE status IN ('pending', 'approved');

ALTER TABLE approval_requests FORCE ROW LEVEL SECURITY;

RESET ROLE;
