-- 0014 API tokens of the HTTP data service: bearer tokens stored only as a SHA-256 hash.
-- Global data (a token is looked up before its tenant is known): the system role alone reads
-- and writes it; the runtime role has no privilege on it. A token with a tenant acts in that
-- tenant only; a token without one (a system token) manages tenants and global admin data.
SET LOCAL ROLE brokerdb_owner;

CREATE TABLE api_tokens (
    token_id      TEXT COLLATE "C" NOT NULL,
    token_sha256  BYTEA NOT NULL,
    tenant_id     TEXT COLLATE "C",
    role          TEXT COLLATE "C" NOT NULL,
    subject       TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (token_id),
    CONSTRAINT uq_api_tokens_token_sha256 UNIQUE (token_sha256),
    CONSTRAINT ck_api_tokens_sha256_length CHECK (octet_length(token_sha256) = 32),
    CONSTRAINT ck_api_tokens_role CHECK (role IN ('admin', 'operator', 'auditor')),
    CONSTRAINT ck_api_tokens_subject_non_empty CHECK (subject <> ''),
    CONSTRAINT fk_api_tokens_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (tenant_id)
        ON DELETE RESTRICT ON UPDATE CASCADE
);

-- `brokerdb token list [--tenant T]`: newest first.
CREATE INDEX idx_api_tokens_tenant_created ON api_tokens (tenant_id, created_at DESC, token_id DESC);

-- Defence in depth: no runtime role holds a privilege here, and should one ever be granted,
-- row-level security still shows it only its own tenant's tokens (never system tokens).
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_tokens
    USING (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''))
    WITH CHECK (tenant_id = NULLIF(current_setting('brokerdb.tenant_id', true), ''));

GRANT SELECT, INSERT ON api_tokens TO brokerdb_system;
GRANT UPDATE (last_used_at, revoked_at) ON api_tokens TO brokerdb_system;

RESET ROLE;
