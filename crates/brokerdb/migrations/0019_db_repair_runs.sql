-- 0019 the run ledger of the database repair console (`brokerdb::repair_runs`): one row per
-- execution of a repair playbook, successful or not, written by the console on its admin
-- connection in the transaction that also appends the `db_repair.run` system audit event.
-- Global data (no tenant). Append-only like the audit tables: the system role may read and
-- append, the runtime role has no privilege, and triggers refuse UPDATE, DELETE and TRUNCATE for
-- every role, the owner and superusers included.
SET LOCAL ROLE brokerdb_owner;

CREATE TABLE db_repair_runs (
    id                   UUID NOT NULL,
    repair_id            TEXT COLLATE "C" NOT NULL,
    expected_hash        TEXT COLLATE "C" NOT NULL,
    actual_hash          TEXT COLLATE "C" NOT NULL,
    executed_at          TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    executed_by          TEXT COLLATE "C" NOT NULL,
    deployment_env       TEXT COLLATE "C" NOT NULL,
    lawbook_hash         TEXT COLLATE "C" NOT NULL,
    request_id           TEXT COLLATE "C" NOT NULL,
    status               TEXT COLLATE "C" NOT NULL,
    error_code           TEXT COLLATE "C",
    error_message        TEXT,
    summary              TEXT NOT NULL,
    pre_missing_tables   JSONB NOT NULL DEFAULT '[]'::jsonb,
    post_missing_tables  JSONB NOT NULL DEFAULT '[]'::jsonb,
    CONSTRAINT db_repair_runs_pkey PRIMARY KEY (id),
    CONSTRAINT ck_db_repair_runs_repair_id_format CHECK (repair_id ~ '^R-[0-9]{3}$'),
    -- What the caller sent, kept as sent (bounded visible ASCII); the playbook's own hash is
    -- actual_hash.
    CONSTRAINT ck_db_repair_runs_expected_hash_format CHECK (expected_hash ~ '^[!-~]{1,200}$'),
    CONSTRAINT ck_db_repair_runs_actual_hash_format CHECK (actual_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_db_repair_runs_executed_by_length CHECK (char_length(executed_by) BETWEEN 1 AND 200),
    CONSTRAINT ck_db_repair_runs_deployment_env_length CHECK (char_length(deployment_env) BETWEEN 1 AND 64),
    CONSTRAINT ck_db_repair_runs_lawbook_hash_format CHECK (lawbook_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_db_repair_runs_request_id_length CHECK (char_length(request_id) BETWEEN 1 AND 200),
    CONSTRAINT ck_db_repair_runs_status CHECK (status IN ('SUCCESS', 'FAILED')),
    CONSTRAINT ck_db_repair_runs_error_code_length CHECK (char_length(error_code) BETWEEN 1 AND 64),
    -- A failed run says why; a successful one has no error code.
    CONSTRAINT ck_db_repair_runs_error_code_when_failed CHECK ((status = 'FAILED') = (error_code IS NOT NULL)),
    CONSTRAINT ck_db_repair_runs_error_message_length CHECK (char_length(error_message) <= 1000),
    CONSTRAINT ck_db_repair_runs_summary_length CHECK (char_length(summary) <= 1000),
    CONSTRAINT ck_db_repair_runs_pre_missing_tables_format CHECK (jsonb_typeof(pre_missing_tables) = 'array'),
    CONSTRAINT ck_db_repair_runs_post_missing_tables_format CHECK (jsonb_typeof(post_missing_tables) = 'array')
);

-- The listing: newest first, keyset paged on (executed_at, id).
CREATE INDEX idx_db_repair_runs_executed ON db_repair_runs (executed_at DESC, id DESC);

-- Append-only: these triggers fire for every role, the owner and superusers included.
CREATE TRIGGER prevent_update_db_repair_runs
    BEFORE UPDATE ON db_repair_runs FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER prevent_delete_db_repair_runs
    BEFORE DELETE ON db_repair_runs FOR EACH ROW EXECUTE FUNCTION brokerdb_forbid_mutation();
CREATE TRIGGER prevent_truncate_db_repair_runs
    BEFORE TRUNCATE ON db_repair_runs FOR EACH STATEMENT EXECUTE FUNCTION brokerdb_forbid_mutation();

GRANT SELECT, INSERT ON db_repair_runs TO brokerdb_system;
-- brokerdb_app: nothing.

RESET ROLE;
