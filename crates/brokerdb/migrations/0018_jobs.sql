-- 0018 the background job queue (`brokerdb::jobs`): one row per job, claimed by workers with
-- `FOR UPDATE SKIP LOCKED`, leased for a visibility timeout, retried with backoff, dead-lettered
-- after its last attempt. A job is enqueued in the transaction of the change it follows.
-- Global data (a job may name a tenant, or none): the system role alone reads and writes it; the
-- runtime role has no privilege on it.
SET LOCAL ROLE brokerdb_owner;

CREATE TABLE jobs (
    job_id        BIGINT GENERATED ALWAYS AS IDENTITY,
    queue         TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    payload       JSONB NOT NULL DEFAULT '{}'::jsonb,
    tenant_id     TEXT COLLATE "C",
    dedupe_key    TEXT COLLATE "C",
    status        TEXT COLLATE "C" NOT NULL DEFAULT 'queued',
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_at        TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    locked_until  TIMESTAMPTZ,
    lock_token    TEXT COLLATE "C",
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    finished_at   TIMESTAMPTZ,
    CONSTRAINT jobs_pkey PRIMARY KEY (job_id),
    CONSTRAINT ck_jobs_queue_format CHECK (queue ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    CONSTRAINT ck_jobs_kind_format CHECK (kind ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    -- The library bounds a payload to 64 KiB of compact JSON; the stored text form is wider.
    CONSTRAINT ck_jobs_payload_size CHECK (octet_length(payload::text) <= 131072),
    CONSTRAINT ck_jobs_dedupe_key_format CHECK (dedupe_key ~ '^[!-~]{1,200}$'),
    CONSTRAINT ck_jobs_status CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    CONSTRAINT ck_jobs_max_attempts CHECK (max_attempts BETWEEN 1 AND 100),
    CONSTRAINT ck_jobs_attempts CHECK (attempts BETWEEN 0 AND max_attempts),
    CONSTRAINT ck_jobs_lock_token_format CHECK (lock_token ~ '^[0-9a-f]{32}$'),
    -- A running job holds a lease (an expiry and the token of the claim); no other job does.
    CONSTRAINT ck_jobs_lease CHECK ((status = 'running') = (locked_until IS NOT NULL AND lock_token IS NOT NULL)),
    -- Succeeded and dead jobs are finished; queued and running ones are not.
    CONSTRAINT ck_jobs_finished CHECK ((status IN ('succeeded', 'dead')) = (finished_at IS NOT NULL)),
    CONSTRAINT ck_jobs_last_error_length CHECK (char_length(last_error) <= 2000),
    CONSTRAINT fk_jobs_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id)
        ON DELETE RESTRICT ON UPDATE CASCADE
);

-- The claim: due queued jobs of one queue, oldest run_at first (also the queued depth).
CREATE INDEX idx_jobs_queue_due ON jobs (queue, run_at, job_id) WHERE status = 'queued';
-- The claim: running jobs of one queue whose lease has passed (also the running depth).
CREATE INDEX idx_jobs_queue_lease ON jobs (queue, locked_until, job_id) WHERE status = 'running';
-- At most one unfinished job per (queue, dedupe key).
CREATE UNIQUE INDEX uq_jobs_queue_dedupe_key_unfinished ON jobs (queue, dedupe_key)
    WHERE status IN ('queued', 'running');
-- A dedupe key among every kept job of a queue, finished ones included (the scheduler's slots).
CREATE INDEX idx_jobs_queue_dedupe_key ON jobs (queue, dedupe_key) WHERE dedupe_key IS NOT NULL;
-- Purge by status and age; the dead-letter depth.
CREATE INDEX idx_jobs_finished ON jobs (status, finished_at) WHERE status IN ('succeeded', 'dead');
-- A tenant's jobs (and the foreign key's check when a tenant is deleted).
CREATE INDEX idx_jobs_tenant ON jobs (tenant_id) WHERE tenant_id IS NOT NULL;

CREATE TRIGGER trg_jobs_touch_updated_at
    BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

-- Defence in depth: no runtime role holds a privilege here, and should one ever be granted,
-- row-level security still shows it only its own tenant's jobs (never tenant-less ones).
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

-- A job's identity (queue, kind, payload, tenant, dedupe key, attempts allowed) never changes
-- once enqueued: only its state columns may be updated.
GRANT SELECT, INSERT, DELETE ON jobs TO brokerdb_system;
GRANT UPDATE (status, attempts, run_at, locked_until, lock_token, last_error, updated_at, finished_at)
    ON jobs TO brokerdb_system;

RESET ROLE;
