-- 0007 audit hash chains (DESIGN decision 5; issue "tamper-evident audit trail", landed early
-- because admin and role writes must append audit rows in their own transaction).
--
-- Tenant events: every audit_events row gets (chain_seq, prev_hash, hash). A BEFORE INSERT
-- trigger fills them, so no insert path can skip the chain: it locks the tenant's head row in
-- audit_chain_heads (appends of one tenant serialize on that row lock until commit), links the
-- row to the head, and moves the head. hash = SHA-256(prev_hash "\n" chain_seq "\n" body), body =
-- a canonical, session-independent text of the row (jsonb text, UTC timestamps with ms).
-- The first link's prev_hash is 64 zeros. A verifier recomputes every hash and link in SQL.
--
-- System events (no tenant) live in their own append-only table with their own chain: the
-- table is the explicit marker, so a tenant query can never return a system event and vice
-- versa, and the runtime role has no access to it at all.
SET LOCAL ROLE brokerdb_owner;

CREATE FUNCTION brokerdb_utc_text(ts timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $fn$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $fn$;

CREATE FUNCTION brokerdb_audit_link_hash(prev_hash text, chain_seq bigint, body text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$ SELECT encode(sha256(convert_to(prev_hash || E'\n' || chain_seq::text || E'\n' || body, 'UTF8')), 'hex') $fn$;

ALTER TABLE audit_events
    ADD COLUMN chain_seq BIGINT NOT NULL,
    ADD COLUMN prev_hash TEXT COLLATE "C" NOT NULL,
    ADD COLUMN hash TEXT COLLATE "C" NOT NULL,
    ADD CONSTRAINT uq_audit_events_tenant_chain_seq UNIQUE (tenant_id, chain_seq),
    ADD CONSTRAINT ck_audit_events_chain CHECK (
        chain_seq >= 1 AND prev_hash ~ '^[a-f0-9]{64}$' AND hash ~ '^[a-f0-9]{64}$');

CREATE FUNCTION brokerdb_audit_event_body(e audit_events) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$ SELECT jsonb_build_object(
    'event_id', e.event_id, 'tenant_id', e.tenant_id, 'timestamp', brokerdb_utc_text(e.timestamp),
    'workload_id', e.workload_id, 'integration_id', e.integration_id, 'correlation_id', e.correlation_id,
    'event_type', e.event_type, 'decision', e.decision, 'action_group', e.action_group,
    'risk_tier', e.risk_tier, 'upstream_status_code', e.upstream_status_code, 'latency_ms', e.latency_ms,
    'event_json', e.event_json, 'created_at', brokerdb_utc_text(e.created_at))::text $fn$;

CREATE TABLE audit_chain_heads (
    id          TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    chain_seq   BIGINT NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT audit_chain_heads_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_audit_chain_heads_tenant UNIQUE (tenant_id),
    CONSTRAINT fk_audit_chain_heads_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT ck_audit_chain_heads_hash CHECK (chain_seq >= 0 AND hash ~ '^[a-f0-9]{64}$')
);
CREATE TRIGGER trg_audit_chain_heads_touch_updated_at
    BEFORE UPDATE ON audit_chain_heads FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
ALTER TABLE audit_chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_chain_heads
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

CREATE FUNCTION brokerdb_audit_chain_link() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    -- Takes (or creates) the tenant's head row and holds its lock until commit.
    INSERT INTO audit_chain_heads (tenant_id, chain_seq, hash)
    VALUES (NEW.tenant_id, 0, repeat('0', 64))
    ON CONFLICT (tenant_id) DO UPDATE SET chain_seq = audit_chain_heads.chain_seq
    RETURNING chain_seq, hash INTO head_seq, head_hash;
    NEW.chain_seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    NEW.hash := brokerdb_audit_link_hash(head_hash, NEW.chain_seq, brokerdb_audit_event_body(NEW));
    UPDATE audit_chain_heads SET chain_seq = NEW.chain_seq, hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER trg_audit_events_chain_link
    BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION brokerdb_audit_chain_link();

-- System events: their own table (the marker) and their own chain.
CREATE TABLE system_audit_events (
    id              TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    event_id        TEXT COLLATE "C" NOT NULL,
    timestamp       TIMESTAMPTZ NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT COLLATE "C" NOT NULL,
    correlation_id  TEXT COLLATE "C" NOT NULL,
    event_json      JSONB NOT NULL,
    chain_seq       BIGINT NOT NULL,
    prev_hash       TEXT COLLATE "C" NOT NULL,
    hash            TEXT COLLATE "C" NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT system_audit_events_pkey PRIMARY KEY (id),
    CONSTRAINT uq_system_audit_events_event_id UNIQUE (event_id),
    CONSTRAINT uq_system_audit_events_chain_seq UNIQUE (chain_seq),
    CONSTRAINT ck_system_audit_events_required CHECK (actor <> '' AND action <> '' AND correlation_id <> ''),
    CONSTRAINT ck_system_audit_events_chain CHECK (
        chain_seq >= 1 AND prev_hash ~ '^[a-f0-9]{64}$' AND hash ~ '^[a-f0-9]{64}$')
);
CREATE INDEX idx_system_audit_events_timestamp ON system_audit_events (timestamp DESC, event_id DESC);

CREATE FUNCTION brokerdb_system_audit_event_body(e system_audit_events) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$ SELECT jsonb_build_object(
    'event_id', e.event_id, 'timestamp', brokerdb_utc_text(e.timestamp), 'actor', e.actor,
    'action', e.action, 'correlation_id', e.correlation_id, 'event_json', e.event_json,
    'created_at', brokerdb_utc_text(e.created_at))::text $fn$;

CREATE TABLE system_audit_chain_head (
    id          TEXT COLLATE "C" NOT NULL DEFAULT 'system',
    chain_seq   BIGINT NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT system_audit_chain_head_pkey PRIMARY KEY (id),
    CONSTRAINT ck_system_audit_chain_head_singleton CHECK (id = 'system'),
    CONSTRAINT ck_system_audit_chain_head_hash CHECK (chain_seq >= 0 AND hash ~ '^[a-f0-9]{64}$')
);
CREATE TRIGGER trg_system_audit_chain_head_touch_updated_at
    BEFORE UPDATE ON system_audit_chain_head FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

CREATE FUNCTION brokerdb_system_audit_chain_link() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    INSERT INTO system_audit_chain_head (id, chain_seq, hash) VALUES ('system', 0, repeat('0', 64))
    ON CONFLICT (id) DO UPDATE SET chain_seq = system_audit_chain_head.chain_seq
    RETURNING chain_seq, hash INTO head_seq, head_hash;
    NEW.chain_seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    NEW.hash := brokerdb_audit_link_hash(head_hash, NEW.chain_seq, brokerdb_system_audit_event_body(NEW));
    UPDATE system_audit_chain_head SET chain_seq = NEW.chain_seq, hash = NEW.hash WHERE id = 'system';
    RETURN NEW;
END
$fn$;

CREATE TRIGGER trg_system_audit_events_chain_link
    BEFORE INSERT ON system_audit_events FOR EACH ROW EXECUTE FUNCTION brokerdb_system_audit_chain_link();
CREATE TRIGGER trg_system_audit_events_forbid_mutation
    BEFORE UPDATE OR DELETE ON system_audit_events FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER trg_system_audit_events_forbid_truncate
    BEFORE TRUNCATE ON system_audit_events FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

-- Grants: the chain trigger runs as the inserting role, which therefore maintains the head of
-- its own chain (RLS keeps a tenant to its own head). System events: system role only.
GRANT SELECT, INSERT, UPDATE ON audit_chain_heads TO brokerdb_app, brokerdb_system;
GRANT SELECT, INSERT ON system_audit_events TO brokerdb_system;
GRANT SELECT, INSERT, UPDATE ON system_audit_chain_head TO brokerdb_system;

RESET ROLE;
