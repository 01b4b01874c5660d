-- 0001 the project store: projects, their versioned artifacts, received webhook deliveries and the
-- append-only MCP audit log. Every row carries tenant_id (FK to tenants) under the core's
-- row-level security: ENABLE + FORCE and one tenant_isolation policy per table, keyed on the
-- transaction-local setting brokerdb.tenant_id (unset or empty => no row, writes refused).
-- Applied after the core's `brokerdb` set, whose roles, tenants table and trigger functions
-- (brokerdb_touch_updated_at, brokerdb_forbid_mutation) it uses.
SET LOCAL ROLE brokerdb_owner;

CREATE TYPE artifact_type AS ENUM ('prd', 'epic', 'story', 'architecture', 'other');
CREATE TYPE webhook_source AS ENUM ('github', 'gitlab', 'bitbucket');
CREATE TYPE mcp_result AS ENUM ('success', 'error', 'denied');

-- =============================================================================================
-- projects: the webhook secret is stored only as an AES-256-GCM envelope made by the library
-- (12-byte nonce || ciphertext || 16-byte tag); the key never reaches the database.
CREATE TABLE projects (
    project_id                 TEXT COLLATE "C" NOT NULL,
    tenant_id                  TEXT COLLATE "C" NOT NULL,
    name                       TEXT NOT NULL,
    repo_url                   TEXT COLLATE "C" NOT NULL,
    webhook_secret_ciphertext  BYTEA,
    config                     JSONB NOT NULL DEFAULT '{}'::jsonb,
    last_seen_at               TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT projects_pkey PRIMARY KEY (tenant_id, project_id),
    -- Globally unique too: the id names Redis keys and channels (`project:{projectId}`) that
    -- carry no tenant.
    CONSTRAINT uq_projects_project_id UNIQUE (project_id),
    CONSTRAINT ck_projects_project_id_format CHECK (project_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    CONSTRAINT ck_projects_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT ck_projects_repo_url CHECK (repo_url ~ '^https://' AND char_length(repo_url) <= 2000),
    -- nonce (12) + tag (16) + a secret of 1..=1024 bytes.
    CONSTRAINT ck_projects_webhook_secret_ciphertext_length
        CHECK (octet_length(webhook_secret_ciphertext) BETWEEN 29 AND 1052),
    CONSTRAINT ck_projects_config_object CHECK (jsonb_typeof(config) = 'object'),
    -- The library bounds a config to 16 KiB of compact JSON; the stored text form is wider.
    CONSTRAINT ck_projects_config_size CHECK (octet_length(config::text) <= 32768),
    CONSTRAINT fk_projects_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- A tenant's projects, newest first (keyset: created_at DESC, project_id DESC).
CREATE INDEX idx_projects_tenant_created ON projects (tenant_id, created_at DESC, project_id DESC);

-- =============================================================================================
-- artifacts: one row per (project, path), its version bumped by each change.
CREATE TABLE artifacts (
    artifact_id   TEXT COLLATE "C" NOT NULL,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    project_id    TEXT COLLATE "C" NOT NULL,
    path          TEXT COLLATE "C" NOT NULL,
    name          TEXT NOT NULL,
    type          artifact_type NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    dependencies  TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
    content_hash  TEXT COLLATE "C",
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT artifacts_pkey PRIMARY KEY (tenant_id, artifact_id),
    CONSTRAINT uq_artifacts_tenant_project_path UNIQUE (tenant_id, project_id, path),
    CONSTRAINT ck_artifacts_artifact_id_format CHECK (artifact_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    CONSTRAINT ck_artifacts_path_length CHECK (char_length(path) BETWEEN 1 AND 1000),
    CONSTRAINT ck_artifacts_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    CONSTRAINT ck_artifacts_version CHECK (version >= 1),
    CONSTRAINT ck_artifacts_dependencies_count CHECK (cardinality(dependencies) <= 100),
    CONSTRAINT ck_artifacts_content_hash_format CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT fk_artifacts_project FOREIGN KEY (tenant_id, project_id)
        REFERENCES projects (tenant_id, project_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_artifacts_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- A project's artifacts of one type, recently updated first; and of every type.
CREATE INDEX idx_artifacts_project_type_updated
    ON artifacts (tenant_id, project_id, type, updated_at DESC, artifact_id DESC);
CREATE INDEX idx_artifacts_project_updated
    ON artifacts (tenant_id, project_id, updated_at DESC, artifact_id DESC);

-- =============================================================================================
-- webhook_events: one row per accepted delivery. A redelivery (same source and payload hash)
-- while one is received or processing is not a new event: the partial unique index makes that
-- race-safe. After `processed` a redelivery only counts in duplicate_deliveries; after `failed`
-- it is a new event (a retry).
CREATE TABLE webhook_events (
    event_id              TEXT COLLATE "C" NOT NULL,
    tenant_id             TEXT COLLATE "C" NOT NULL,
    project_id            TEXT COLLATE "C" NOT NULL,
    source                webhook_source NOT NULL,
    event_type            TEXT COLLATE "C" NOT NULL,
    payload_hash          TEXT COLLATE "C" NOT NULL,
    status                TEXT COLLATE "C" NOT NULL DEFAULT 'received',
    processed             BOOLEAN GENERATED ALWAYS AS (status = 'processed') STORED,
    retry_count           INTEGER NOT NULL DEFAULT 0,
    last_error            TEXT,
    duplicate_deliveries  INTEGER NOT NULL DEFAULT 0,
    received_at           TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    processed_at          TIMESTAMPTZ,
    CONSTRAINT webhook_events_pkey PRIMARY KEY (tenant_id, event_id),
    CONSTRAINT ck_webhook_events_event_id_format CHECK (event_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    CONSTRAINT ck_webhook_events_event_type_length CHECK (char_length(event_type) BETWEEN 1 AND 100),
    CONSTRAINT ck_webhook_events_payload_hash_format CHECK (payload_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_webhook_events_status
        CHECK (status IN ('received', 'processing', 'processed', 'failed')),
    CONSTRAINT ck_webhook_events_retry_count CHECK (retry_count >= 0),
    CONSTRAINT ck_webhook_events_last_error_length CHECK (char_length(last_error) <= 1000),
    CONSTRAINT ck_webhook_events_duplicate_deliveries CHECK (duplicate_deliveries >= 0),
    -- processed_at is set exactly when the event is processed.
    CONSTRAINT ck_webhook_events_processed_at CHECK ((status = 'processed') = (processed_at IS NOT NULL)),
    CONSTRAINT fk_webhook_events_project FOREIGN KEY (tenant_id, project_id)
        REFERENCES projects (tenant_id, project_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_webhook_events_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_webhook_events_project_processed
    ON webhook_events (tenant_id, project_id, processed);
CREATE INDEX idx_webhook_events_project_payload_hash
    ON webhook_events (tenant_id, project_id, payload_hash);
-- At most one in-flight event per (project, source, payload): dedupe over every in-flight state.
CREATE UNIQUE INDEX uq_webhook_events_in_flight_payload
    ON webhook_events (tenant_id, project_id, source, payload_hash)
    WHERE status IN ('received', 'processing');

-- =============================================================================================
-- mcp_audit_log: append-only. It keeps project_id WITHOUT a foreign key to projects: deleting a
-- project (which cascades to its artifacts and webhook events) leaves its audit trail intact and
-- queryable, and append-only triggers would refuse a cascade anyway. The library appends only
-- for a project that exists in the tenant at that moment.
CREATE TABLE mcp_audit_log (
    log_id       TEXT COLLATE "C" NOT NULL,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    project_id   TEXT COLLATE "C" NOT NULL,
    actor_type   TEXT COLLATE "C" NOT NULL,
    actor_id     TEXT COLLATE "C" NOT NULL,
    tool         TEXT COLLATE "C" NOT NULL,
    scope        TEXT COLLATE "C" NOT NULL,
    args_hash    TEXT COLLATE "C" NOT NULL,
    result       mcp_result NOT NULL,
    error_code   TEXT COLLATE "C",
    "timestamp"  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    ip           INET,
    user_agent   TEXT,
    CONSTRAINT mcp_audit_log_pkey PRIMARY KEY (tenant_id, log_id),
    CONSTRAINT ck_mcp_audit_log_log_id_format CHECK (log_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    CONSTRAINT ck_mcp_audit_log_project_id_format CHECK (project_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    CONSTRAINT ck_mcp_audit_log_actor_type_length CHECK (char_length(actor_type) BETWEEN 1 AND 50),
    CONSTRAINT ck_mcp_audit_log_actor_id_length CHECK (char_length(actor_id) BETWEEN 1 AND 200),
    CONSTRAINT ck_mcp_audit_log_tool_length CHECK (char_length(tool) BETWEEN 1 AND 100),
    CONSTRAINT ck_mcp_audit_log_scope_length CHECK (char_length(scope) BETWEEN 1 AND 200),
    CONSTRAINT ck_mcp_audit_log_args_hash_format CHECK (args_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_mcp_audit_log_error_code_length CHECK (char_length(error_code) BETWEEN 1 AND 100),
    CONSTRAINT ck_mcp_audit_log_user_agent_length CHECK (char_length(user_agent) <= 500),
    CONSTRAINT fk_mcp_audit_log_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_mcp_audit_log_project_time
    ON mcp_audit_log (tenant_id, project_id, "timestamp" DESC, log_id DESC);
CREATE INDEX idx_mcp_audit_log_actor_time
    ON mcp_audit_log (tenant_id, actor_id, "timestamp" DESC, log_id DESC);
CREATE INDEX idx_mcp_audit_log_tool_time
    ON mcp_audit_log (tenant_id, tool, "timestamp" DESC, log_id DESC);

-- Append-only: these triggers fire for every role, the owner and superusers included.
CREATE TRIGGER trg_mcp_audit_log_forbid_mutation
    BEFORE UPDATE OR DELETE ON mcp_audit_log
    FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER trg_mcp_audit_log_forbid_truncate
    BEFORE TRUNCATE ON mcp_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

-- =============================================================================================
CREATE TRIGGER trg_projects_touch_updated_at
    BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_artifacts_touch_updated_at
    BEFORE UPDATE ON artifacts FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON projects
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE artifacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE artifacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON artifacts
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_events
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

ALTER TABLE mcp_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE mcp_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mcp_audit_log
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

-- Runtime roles: the tenant scope (RLS applies) and the system scope (BYPASSRLS); the audit log
-- is append-only for both.
GRANT SELECT, INSERT, UPDATE, DELETE ON projects, artifacts, webhook_events TO brokerdb_app, brokerdb_system;
GRANT SELECT, INSERT ON mcp_audit_log TO brokerdb_app, brokerdb_system;

RESET ROLE;
