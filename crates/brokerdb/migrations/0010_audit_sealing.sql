-- 0010 audit chains: append, then seal after commit (Certificate Transparency's model).
--
-- Until 0009 a BEFORE INSERT trigger linked each audit row to its chain head inside the inserting
-- transaction. That serialized a tenant's appends on the head row until commit, ran as the owner
-- (SECURITY DEFINER, the escalation 0009 describes), moved the head for rows that
-- `INSERT … ON CONFLICT DO NOTHING` then skipped, and hashed with SQL functions the owner could
-- redefine. From here on:
--   * audit_events and system_audit_events are insert-only and carry no chain columns. A
--     statement-level AFTER INSERT trigger (running as the inserting role, no SECURITY DEFINER)
--     puts each stored row's event_id into a seal queue; a skipped ON CONFLICT row is not in the
--     transition table, so it can never be queued.
--   * The sealer (`brokerdb::audit::seal`, run by `brokerdb serve` as the system role) takes
--     queued rows in batches after they commit, assigns chain positions in order, hashes each row
--     in Rust (the canonical form is documented in `crates/brokerdb/src/audit/canonical.rs`) and
--     inserts the links into audit_seals / system_audit_seals, append-only tables of their own.
--     The head of a chain is its last seal.
--   * `created_at` is set by the database (the runtime roles may not insert that column) and
--     `timestamp` must lie within 5 minutes of it, so events cannot be backdated.
-- Rows written before this migration are checked against their old chain once more (the
-- migration refuses to run if that chain is broken) and queued in their old chain order, so the
-- sealer re-seals them from genesis.
SET LOCAL ROLE brokerdb_owner;

-- The owner is subject to RLS on these tables (FORCE); for the duration of this transaction it
-- reads every tenant's rows to check and queue them. ALTER TABLE holds an ACCESS EXCLUSIVE lock
-- until commit, so nobody else ever sees the table without FORCE.
ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY;

DO $legacy$
DECLARE
    bad record;
BEGIN
    SELECT chain, tenant_id, chain_seq INTO bad
    FROM (
        SELECT 'tenant' AS chain, e.tenant_id, e.chain_seq, e.prev_hash, e.hash,
               lag(e.hash) OVER w AS expected_prev, lag(e.chain_seq) OVER w AS previous_seq,
               brokerdb_audit_link_hash(e.prev_hash, e.chain_seq, brokerdb_audit_event_body(e)) AS recomputed
        FROM audit_events e WINDOW w AS (PARTITION BY e.tenant_id ORDER BY e.chain_seq)
        UNION ALL
        SELECT 'system', NULL, s.chain_seq, s.prev_hash, s.hash,
               lag(s.hash) OVER w, lag(s.chain_seq) OVER w,
               brokerdb_audit_link_hash(s.prev_hash, s.chain_seq, brokerdb_system_audit_event_body(s))
        FROM system_audit_events s WINDOW w AS (ORDER BY s.chain_seq)
    ) links
    WHERE hash <> recomputed
       OR prev_hash <> COALESCE(expected_prev, repeat('0', 64))
       OR chain_seq <> COALESCE(previous_seq, 0) + 1
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the % audit chain % is broken at chain_seq %; refusing to re-seal it',
            bad.chain, COALESCE(bad.tenant_id, ''), bad.chain_seq
            USING HINT = 'Inspect it with the previous release''s `brokerdb audit verify` before upgrading.';
    END IF;
END
$legacy$;

-- ---------------------------------------------------------------------------------------------
-- Tenant chains.
CREATE TABLE audit_seal_queue (
    queue_id     BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    event_id     TEXT COLLATE "C" NOT NULL,
    enqueued_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT audit_seal_queue_pkey PRIMARY KEY (tenant_id, queue_id),
    CONSTRAINT fk_audit_seal_queue_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX idx_audit_seal_queue_queue_id ON audit_seal_queue (queue_id);

CREATE TABLE audit_seals (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    chain_seq  BIGINT NOT NULL,
    event_id   TEXT COLLATE "C" NOT NULL,
    prev_hash  TEXT COLLATE "C" NOT NULL,
    hash       TEXT COLLATE "C" NOT NULL,
    sealed_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT audit_seals_pkey PRIMARY KEY (tenant_id, chain_seq),
    CONSTRAINT uq_audit_seals_tenant_event UNIQUE (tenant_id, event_id),
    CONSTRAINT fk_audit_seals_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT ck_audit_seals_link CHECK (
        chain_seq >= 1 AND prev_hash ~ '^[0-9a-f]{64}$' AND hash ~ '^[0-9a-f]{64}$')
);
ALTER TABLE audit_seals ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_seals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_seals
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));
CREATE TRIGGER trg_audit_seals_forbid_mutation
    BEFORE UPDATE OR DELETE ON audit_seals FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER trg_audit_seals_forbid_truncate
    BEFORE TRUNCATE ON audit_seals FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

-- Existing rows, in their old chain order: the sealer gives them the same positions again.
INSERT INTO audit_seal_queue (tenant_id, event_id)
SELECT tenant_id, event_id FROM audit_events ORDER BY tenant_id, chain_seq;
ALTER TABLE audit_seal_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_seal_queue FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_seal_queue
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

DROP TRIGGER trg_audit_events_chain_link ON audit_events;
DROP FUNCTION brokerdb_audit_chain_link();
DROP FUNCTION brokerdb_audit_event_body(audit_events);
DROP TABLE audit_chain_heads;
ALTER TABLE audit_events
    DROP CONSTRAINT uq_audit_events_tenant_chain_seq,
    DROP CONSTRAINT ck_audit_events_chain,
    DROP COLUMN chain_seq,
    DROP COLUMN prev_hash,
    DROP COLUMN hash;

CREATE FUNCTION brokerdb_audit_enqueue() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    INSERT INTO public.audit_seal_queue (tenant_id, event_id)
    SELECT n.tenant_id, n.event_id FROM new_events n;
    RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION brokerdb_audit_enqueue() FROM PUBLIC;
CREATE TRIGGER trg_audit_events_enqueue
    AFTER INSERT ON audit_events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_audit_enqueue();

ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------------------------
-- The system chain.
CREATE TABLE system_audit_seal_queue (
    queue_id     BIGINT GENERATED ALWAYS AS IDENTITY,
    event_id     TEXT COLLATE "C" NOT NULL,
    enqueued_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT system_audit_seal_queue_pkey PRIMARY KEY (queue_id)
);

CREATE TABLE system_audit_seals (
    chain_seq  BIGINT NOT NULL,
    event_id   TEXT COLLATE "C" NOT NULL,
    prev_hash  TEXT COLLATE "C" NOT NULL,
    hash       TEXT COLLATE "C" NOT NULL,
    sealed_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT system_audit_seals_pkey PRIMARY KEY (chain_seq),
    CONSTRAINT uq_system_audit_seals_event UNIQUE (event_id),
    CONSTRAINT ck_system_audit_seals_link CHECK (
        chain_seq >= 1 AND prev_hash ~ '^[0-9a-f]{64}$' AND hash ~ '^[0-9a-f]{64}$')
);
CREATE TRIGGER trg_system_audit_seals_forbid_mutation
    BEFORE UPDATE OR DELETE ON system_audit_seals FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER trg_system_audit_seals_forbid_truncate
    BEFORE TRUNCATE ON system_audit_seals FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

INSERT INTO system_audit_seal_queue (event_id)
SELECT event_id FROM system_audit_events ORDER BY chain_seq;

DROP TRIGGER trg_system_audit_events_chain_link ON system_audit_events;
DROP FUNCTION brokerdb_system_audit_chain_link();
DROP FUNCTION brokerdb_system_audit_event_body(system_audit_events);
DROP TABLE system_audit_chain_head;
ALTER TABLE system_audit_events
    DROP CONSTRAINT uq_system_audit_events_chain_seq,
    DROP CONSTRAINT ck_system_audit_events_chain,
    DROP COLUMN chain_seq,
    DROP COLUMN prev_hash,
    DROP COLUMN hash;
DROP FUNCTION brokerdb_audit_link_hash(text, bigint, text);
DROP FUNCTION brokerdb_utc_text(timestamptz);

CREATE FUNCTION brokerdb_system_audit_enqueue() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    INSERT INTO public.system_audit_seal_queue (event_id)
    SELECT n.event_id FROM new_events n;
    RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION brokerdb_system_audit_enqueue() FROM PUBLIC;
CREATE TRIGGER trg_system_audit_events_enqueue
    AFTER INSERT ON system_audit_events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_system_audit_enqueue();

-- ---------------------------------------------------------------------------------------------
-- One sealer at a time: a sealing transaction locks this row (FOR UPDATE SKIP LOCKED). Only the
-- system role may lock it; an advisory lock would be takeable by any role.
CREATE TABLE audit_sealer_lock (
    id  TEXT COLLATE "C" NOT NULL,
    CONSTRAINT audit_sealer_lock_pkey PRIMARY KEY (id),
    CONSTRAINT ck_audit_sealer_lock_singleton CHECK (id = 'sealer')
);
INSERT INTO audit_sealer_lock (id) VALUES ('sealer');

-- ---------------------------------------------------------------------------------------------
-- No backdating: created_at is the database's, and timestamp stays within 5 minutes of it.
-- NOT VALID: rows written before this migration are not re-checked.
ALTER TABLE audit_events ADD CONSTRAINT ck_audit_events_timestamp_near_created_at
    CHECK ("timestamp" BETWEEN created_at - interval '5 minutes' AND created_at + interval '5 minutes') NOT VALID;
ALTER TABLE system_audit_events ADD CONSTRAINT ck_system_audit_events_timestamp_near_created_at
    CHECK ("timestamp" BETWEEN created_at - interval '5 minutes' AND created_at + interval '5 minutes') NOT VALID;

-- ---------------------------------------------------------------------------------------------
-- Grants. Appenders insert every content column but id and created_at (their defaults).
REVOKE INSERT ON audit_events FROM brokerdb_app, brokerdb_system;
GRANT INSERT (event_id, tenant_id, "timestamp", workload_id, integration_id, correlation_id, event_type,
              decision, action_group, risk_tier, upstream_status_code, latency_ms, event_json)
    ON audit_events TO brokerdb_app, brokerdb_system;
REVOKE INSERT ON system_audit_events FROM brokerdb_system;
GRANT INSERT (event_id, "timestamp", actor, action, correlation_id, event_json)
    ON system_audit_events TO brokerdb_system;

-- The enqueue triggers run as the appending role.
GRANT INSERT ON audit_seal_queue TO brokerdb_app, brokerdb_system;
GRANT INSERT ON system_audit_seal_queue TO brokerdb_system;
-- The sealer (system role) drains the queues and appends seals; seals are append-only.
GRANT SELECT, DELETE ON audit_seal_queue, system_audit_seal_queue TO brokerdb_system;
GRANT SELECT, INSERT ON audit_seals, system_audit_seals TO brokerdb_system;
GRANT SELECT, UPDATE ON audit_sealer_lock TO brokerdb_system;

RESET ROLE;
