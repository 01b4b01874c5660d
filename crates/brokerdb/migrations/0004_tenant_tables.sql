-- 0004 tenants and every tenant-scoped table.
--
-- Conventions (see README.md):
-- * PRIMARY KEY (tenant_id, id): Citus distribution by tenant_id (DESIGN decision 9).
-- * Every tenant_id has a FK to tenants (ON DELETE RESTRICT ON UPDATE CASCADE).
-- * FKs between tenant tables are composite and include tenant_id, so a child can never point
--   at another tenant's parent; each parent has a UNIQUE (tenant_id, <business key>) target
--   next to the spec's global UNIQUE on the business key (pre-tenant lookups need the latter).
-- * Identifier-like TEXT columns use COLLATE "C" on both sides of every FK.
-- * Timestamp defaults are now() truncated to milliseconds (data-model.md §0).
-- * Global uniques are created before the composite FK targets so a duplicate business key is
--   reported under the spec-level constraint name.
SET LOCAL ROLE brokerdb_owner;

-- =============================================================================================
-- 2.1 tenants
CREATE TABLE tenants (
    id          TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT tenants_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_tenants_tenant_id UNIQUE (tenant_id)
);

-- TenantRepository.list: ORDER BY created_at ASC (system scope).
CREATE INDEX idx_tenants_created ON tenants (created_at, tenant_id);

-- =============================================================================================
-- 2.5 admin_identity_tenant_scopes (global admin data, but carries tenant_id: RLS + PK like a
-- tenant table; only the system role has privileges on it)
CREATE TABLE admin_identity_tenant_scopes (
    id           TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    identity_id  TEXT COLLATE "C" NOT NULL,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT admin_identity_tenant_scopes_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_admin_identity_tenant_scopes_identity_tenant UNIQUE (identity_id, tenant_id),
    CONSTRAINT fk_admin_identity_tenant_scopes_identity FOREIGN KEY (identity_id)
        REFERENCES admin_identities (identity_id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_admin_identity_tenant_scopes_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_admin_identity_tenant_scopes_tenant ON admin_identity_tenant_scopes (tenant_id);

-- =============================================================================================
-- 2.7 human_users
CREATE TABLE human_users (
    id            TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    user_id       TEXT COLLATE "C" NOT NULL,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    email         TEXT COLLATE "C" NOT NULL,
    display_name  TEXT,
    oidc_subject  TEXT COLLATE "C",
    oidc_issuer   TEXT COLLATE "C",
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT human_users_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_human_users_user_id UNIQUE (user_id),
    CONSTRAINT uq_human_users_tenant_user UNIQUE (tenant_id, user_id),
    CONSTRAINT uq_human_users_tenant_email UNIQUE (tenant_id, email),
    CONSTRAINT fk_human_users_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- listByTenant: ORDER BY created_at (ASC is a backward scan), user_id tie-break.
CREATE INDEX idx_human_users_tenant_created ON human_users (tenant_id, created_at DESC, user_id DESC);
CREATE INDEX idx_human_users_tenant_display_name ON human_users (tenant_id, display_name);

-- =============================================================================================
-- 2.8 human_user_roles (+ tenant_id, DESIGN decision 9)
CREATE TABLE human_user_roles (
    id          TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL,
    role        user_role NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT human_user_roles_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_human_user_roles_user_role UNIQUE (user_id, role),
    CONSTRAINT fk_human_user_roles_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_human_user_roles_user FOREIGN KEY (tenant_id, user_id)
        REFERENCES human_users (tenant_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX idx_human_user_roles_role ON human_user_roles (role);
-- Roles of a user within the tenant; also serves the composite FK's cascade.
CREATE INDEX idx_human_user_roles_tenant_user ON human_user_roles (tenant_id, user_id);

-- =============================================================================================
-- 2.9 workloads
CREATE TABLE workloads (
    id               TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    workload_id      TEXT COLLATE "C" NOT NULL,
    tenant_id        TEXT COLLATE "C" NOT NULL,
    name             TEXT NOT NULL,
    mtls_san_uri     TEXT COLLATE "C" NOT NULL,
    enabled          BOOLEAN NOT NULL,
    ip_allowlist     TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
    enrollment_mode  workload_enrollment_mode NOT NULL DEFAULT 'broker_ca',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT workloads_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_workloads_workload_id UNIQUE (workload_id),
    CONSTRAINT uq_workloads_mtls_san_uri UNIQUE (mtls_san_uri),
    CONSTRAINT uq_workloads_tenant_workload UNIQUE (tenant_id, workload_id),
    CONSTRAINT uq_workloads_tenant_name UNIQUE (tenant_id, name),
    CONSTRAINT fk_workloads_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_workloads_tenant_created ON workloads (tenant_id, created_at DESC, workload_id DESC);

-- =============================================================================================
-- 2.10 enrollment_tokens
CREATE TABLE enrollment_tokens (
    id           TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    token_hash   TEXT COLLATE "C" NOT NULL,
    workload_id  TEXT COLLATE "C" NOT NULL,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT enrollment_tokens_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_enrollment_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT ck_enrollment_tokens_token_hash_format CHECK (token_hash ~ '^[a-f0-9]{64}$'),
    CONSTRAINT ck_enrollment_tokens_expires_after_created CHECK (expires_at > created_at),
    CONSTRAINT ck_enrollment_tokens_used_after_created CHECK (used_at IS NULL OR used_at >= created_at),
    CONSTRAINT fk_enrollment_tokens_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_enrollment_tokens_workload FOREIGN KEY (tenant_id, workload_id)
        REFERENCES workloads (tenant_id, workload_id) ON DELETE CASCADE ON UPDATE CASCADE
);

-- Also the workload-side index of the composite FK (cascade deletes, per-workload queries).
CREATE INDEX idx_enrollment_tokens_tenant_workload ON enrollment_tokens (tenant_id, workload_id);
CREATE INDEX idx_enrollment_tokens_expires_at ON enrollment_tokens (expires_at);
CREATE INDEX idx_enrollment_tokens_used_at ON enrollment_tokens (used_at);

-- =============================================================================================
-- 2.11 workload_sessions
CREATE TABLE workload_sessions (
    id                    TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    session_id            TEXT COLLATE "C" NOT NULL,
    workload_id           TEXT COLLATE "C" NOT NULL,
    tenant_id             TEXT COLLATE "C" NOT NULL,
    cert_fingerprint_256  TEXT COLLATE "C" NOT NULL,
    token_hash            TEXT COLLATE "C" NOT NULL,
    dpop_jkt              TEXT COLLATE "C",
    scopes                JSONB NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    revoked_at            TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT workload_sessions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_workload_sessions_session_id UNIQUE (session_id),
    CONSTRAINT uq_workload_sessions_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_workload_sessions_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_workload_sessions_workload FOREIGN KEY (tenant_id, workload_id)
        REFERENCES workloads (tenant_id, workload_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- Also the workload-side index of the composite FK (RESTRICT check on workload delete).
CREATE INDEX idx_workload_sessions_tenant_workload ON workload_sessions (tenant_id, workload_id);
CREATE INDEX idx_workload_sessions_expires_at ON workload_sessions (expires_at);
CREATE INDEX idx_workload_sessions_revoked_at ON workload_sessions (revoked_at);

-- =============================================================================================
-- 2.12 integrations
CREATE TABLE integrations (
    id                TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    integration_id    TEXT COLLATE "C" NOT NULL,
    tenant_id         TEXT COLLATE "C" NOT NULL,
    provider          TEXT COLLATE "C" NOT NULL,
    name              TEXT NOT NULL,
    template_id       TEXT COLLATE "C" NOT NULL,
    template_version  INTEGER,
    enabled           BOOLEAN NOT NULL,
    secret_ref        TEXT COLLATE "C",
    secret_version    INTEGER,
    last_rotated_at   TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT integrations_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_integrations_integration_id UNIQUE (integration_id),
    CONSTRAINT uq_integrations_secret_ref UNIQUE (secret_ref),
    CONSTRAINT uq_integrations_tenant_integration UNIQUE (tenant_id, integration_id),
    CONSTRAINT uq_integrations_tenant_name UNIQUE (tenant_id, name),
    CONSTRAINT ck_integrations_template_version CHECK (template_version IS NULL OR template_version >= 1),
    CONSTRAINT ck_integrations_secret_pointer CHECK (
        (secret_ref IS NULL AND secret_version IS NULL)
        OR (secret_ref IS NOT NULL AND secret_version IS NOT NULL AND secret_version >= 1)
    ),
    CONSTRAINT fk_integrations_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_integrations_template ON integrations (tenant_id, template_id);
CREATE INDEX idx_integrations_tenant_created ON integrations (tenant_id, created_at DESC, integration_id DESC);

-- =============================================================================================
-- 2.13 secrets
CREATE TABLE secrets (
    id              TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    secret_ref      TEXT COLLATE "C" NOT NULL,
    tenant_id       TEXT COLLATE "C" NOT NULL,
    integration_id  TEXT COLLATE "C" NOT NULL,
    type            secret_type NOT NULL,
    active_version  INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT secrets_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_secrets_secret_ref UNIQUE (secret_ref),
    CONSTRAINT uq_secrets_integration_id UNIQUE (integration_id),
    CONSTRAINT uq_secrets_tenant_secret_ref UNIQUE (tenant_id, secret_ref),
    CONSTRAINT ck_secrets_active_version CHECK (active_version >= 1),
    CONSTRAINT fk_secrets_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    -- The secret's tenant is forced to equal its integration's tenant.
    CONSTRAINT fk_secrets_integration FOREIGN KEY (tenant_id, integration_id)
        REFERENCES integrations (tenant_id, integration_id) ON DELETE RESTRICT ON UPDATE CASCADE
    -- secrets_active_version_fkey is added after secret_versions exists (below).
);

CREATE INDEX idx_secrets_tenant_integration ON secrets (tenant_id, integration_id);

-- =============================================================================================
-- 2.14 secret_versions (+ tenant_id, DESIGN decision 9)
CREATE TABLE secret_versions (
    id                      TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id               TEXT COLLATE "C" NOT NULL,
    secret_ref              TEXT COLLATE "C" NOT NULL,
    version                 INTEGER NOT NULL,
    key_id                  TEXT COLLATE "C" NOT NULL,
    content_encryption_alg  TEXT COLLATE "C" NOT NULL,
    key_encryption_alg      TEXT COLLATE "C" NOT NULL,
    wrapped_data_key_b64    TEXT COLLATE "C" NOT NULL,
    iv_b64                  TEXT COLLATE "C" NOT NULL,
    ciphertext_b64          TEXT COLLATE "C" NOT NULL,
    auth_tag_b64            TEXT COLLATE "C" NOT NULL,
    aad_b64                 TEXT COLLATE "C",
    created_at              TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT secret_versions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_secret_versions_secret_ref_version UNIQUE (secret_ref, version),
    -- Target of secrets_active_version_fkey; also the tenant-leading lookup/max(version) index.
    CONSTRAINT uq_secret_versions_tenant_secret_ref_version UNIQUE (tenant_id, secret_ref, version),
    CONSTRAINT ck_secret_versions_version CHECK (version >= 1),
    CONSTRAINT ck_secret_versions_content_encryption_alg CHECK (content_encryption_alg = 'A256GCM'),
    CONSTRAINT ck_secret_versions_required_payload CHECK (
        key_id <> '' AND key_encryption_alg <> '' AND wrapped_data_key_b64 <> ''
        AND iv_b64 <> '' AND ciphertext_b64 <> '' AND auth_tag_b64 <> ''
        AND (aad_b64 IS NULL OR aad_b64 <> '')
    ),
    CONSTRAINT fk_secret_versions_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_secret_versions_secret FOREIGN KEY (tenant_id, secret_ref)
        REFERENCES secrets (tenant_id, secret_ref) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX idx_secret_versions_secret_ref_created_at ON secret_versions (secret_ref, created_at);

-- The active pointer must name an existing version of the same secret (same tenant) at COMMIT:
-- a new secret can be inserted before its first version inside one transaction.
ALTER TABLE secrets
    ADD CONSTRAINT secrets_active_version_fkey FOREIGN KEY (tenant_id, secret_ref, active_version)
        REFERENCES secret_versions (tenant_id, secret_ref, version)
        ON DELETE NO ACTION ON UPDATE CASCADE
        DEFERRABLE INITIALLY DEFERRED;

-- =============================================================================================
-- 2.17 crypto_verification_defaults
CREATE TABLE crypto_verification_defaults (
    id                         TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id                  TEXT COLLATE "C" NOT NULL,
    require_temporal_validity  BOOLEAN NOT NULL DEFAULT TRUE,
    max_clock_skew_seconds     INTEGER NOT NULL DEFAULT 0,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT crypto_verification_defaults_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_crypto_verification_defaults_tenant_id UNIQUE (tenant_id),
    CONSTRAINT ck_crypto_verification_defaults_max_clock_skew_seconds
        CHECK (max_clock_skew_seconds BETWEEN 0 AND 300),
    CONSTRAINT fk_crypto_verification_defaults_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);
-- idx_crypto_verification_defaults_tenant_id is not created: the unique constraint is that index.

-- =============================================================================================
-- 2.18 template_versions (immutable rows: no updated_at)
CREATE TABLE template_versions (
    id             TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id      TEXT COLLATE "C" NOT NULL,
    template_id    TEXT COLLATE "C" NOT NULL,
    version        INTEGER NOT NULL,
    provider       TEXT COLLATE "C" NOT NULL,
    status         template_status NOT NULL DEFAULT 'active',
    template_json  JSONB NOT NULL,
    published_by   TEXT COLLATE "C",
    published_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT template_versions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_template_versions_tenant_template_version UNIQUE (tenant_id, template_id, version),
    CONSTRAINT ck_template_versions_version CHECK (version >= 1),
    CONSTRAINT fk_template_versions_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- idx_template_versions_tenant_template is not created: prefix of the unique constraint.
CREATE INDEX idx_template_versions_tenant_template_status ON template_versions (tenant_id, template_id, status);

-- =============================================================================================
-- 2.19 policy_rules
CREATE TABLE policy_rules (
    id                           TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    policy_id                    TEXT COLLATE "C" NOT NULL,
    tenant_id                    TEXT COLLATE "C" NOT NULL,
    enabled                      BOOLEAN NOT NULL DEFAULT TRUE,
    rule_type                    policy_rule_type NOT NULL,
    workload_id                  TEXT COLLATE "C",
    integration_id               TEXT COLLATE "C" NOT NULL,
    template_id                  TEXT COLLATE "C",
    template_version             INTEGER,
    action_group                 TEXT COLLATE "C" NOT NULL,
    method                       TEXT COLLATE "C" NOT NULL,
    host                         TEXT COLLATE "C" NOT NULL,
    query_keys                   TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
    constraints_json             JSONB,
    rate_limit_max_requests      INTEGER,
    rate_limit_interval_seconds  INTEGER,
    policy_json                  JSONB NOT NULL,
    created_by                   TEXT COLLATE "C",
    created_at                   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at                   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT policy_rules_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_policy_rules_policy_id UNIQUE (policy_id),
    CONSTRAINT ck_policy_rules_template_version CHECK (template_version IS NULL OR template_version >= 1),
    CONSTRAINT ck_policy_rules_method CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
    CONSTRAINT ck_policy_rules_host CHECK (
        host <> ''
        AND strpos(host, '*') = 0
        AND strpos(host, '://') = 0
        AND strpos(host, '/') = 0
        AND strpos(host, '?') = 0
        AND strpos(host, '#') = 0
        AND strpos(host, '@') = 0
        AND right(host, 1) <> '.'
    ),
    CONSTRAINT ck_policy_rules_rate_limit_shape CHECK (
        (rule_type = 'rate_limit'
            AND rate_limit_max_requests IS NOT NULL AND rate_limit_max_requests >= 1
            AND rate_limit_interval_seconds IS NOT NULL AND rate_limit_interval_seconds >= 1)
        OR (rule_type <> 'rate_limit'
            AND rate_limit_max_requests IS NULL AND rate_limit_interval_seconds IS NULL)
    ),
    CONSTRAINT fk_policy_rules_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_policy_rules_primary_scope ON policy_rules (tenant_id, integration_id, action_group, method, host);
-- Descriptor-scope matching only ever reads enabled rules.
CREATE INDEX idx_policy_rules_primary_scope_enabled ON policy_rules (tenant_id, integration_id, action_group, method, host)
    WHERE enabled;
CREATE INDEX idx_policy_rules_workload_scope ON policy_rules (tenant_id, workload_id);
CREATE INDEX idx_policy_rules_enabled ON policy_rules (enabled);

-- =============================================================================================
-- 2.20 approval_requests
CREATE TABLE approval_requests (
    id                    TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    approval_id           TEXT COLLATE "C" NOT NULL,
    tenant_id             TEXT COLLATE "C" NOT NULL,
    status                approval_status NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    correlation_id        TEXT COLLATE "C" NOT NULL,
    workload_id           TEXT COLLATE "C" NOT NULL,
    integration_id        TEXT COLLATE "C" NOT NULL,
    action_group          TEXT COLLATE "C" NOT NULL,
    risk_tier             risk_tier NOT NULL,
    destination_host      TEXT COLLATE "C" NOT NULL,
    method                TEXT COLLATE "C" NOT NULL,
    path                  TEXT COLLATE "C" NOT NULL,
    descriptor_sha256     TEXT COLLATE "C" NOT NULL,
    canonical_descriptor  JSONB NOT NULL,
    approval_json         JSONB NOT NULL,
    decided_at            TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT approval_requests_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_approval_requests_approval_id UNIQUE (approval_id),
    CONSTRAINT ck_approval_requests_method CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
    CONSTRAINT ck_approval_requests_descriptor_sha256_format CHECK (descriptor_sha256 ~ '^[a-f0-9]{64}$'),
    CONSTRAINT fk_approval_requests_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE UNIQUE INDEX uq_approval_requests_pending_descriptor
    ON approval_requests (tenant_id, workload_id, integration_id, descriptor_sha256)
    WHERE status = 'pending';
CREATE INDEX idx_approval_requests_scope ON approval_requests (tenant_id, workload_id, integration_id);
CREATE INDEX idx_approval_requests_status_expires_at ON approval_requests (status, expires_at);
CREATE INDEX idx_approval_requests_descriptor_sha ON approval_requests (descriptor_sha256);
-- list: ORDER BY created_at DESC, approval_id DESC.
CREATE INDEX idx_approval_requests_tenant_created ON approval_requests (tenant_id, created_at DESC, approval_id DESC);

-- =============================================================================================
-- 2.21 audit_events (append-only: triggers and grants in 0006)
CREATE TABLE audit_events (
    id                    TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    event_id              TEXT COLLATE "C" NOT NULL,
    tenant_id             TEXT COLLATE "C" NOT NULL,
    "timestamp"           TIMESTAMPTZ NOT NULL,
    workload_id           TEXT COLLATE "C",
    integration_id        TEXT COLLATE "C",
    correlation_id        TEXT COLLATE "C" NOT NULL,
    event_type            audit_event_type NOT NULL,
    decision              audit_decision,
    action_group          TEXT COLLATE "C",
    risk_tier             risk_tier,
    upstream_status_code  INTEGER,
    latency_ms            INTEGER,
    event_json            JSONB NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT audit_events_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_audit_events_event_id UNIQUE (event_id),
    CONSTRAINT ck_audit_events_upstream_status_code
        CHECK (upstream_status_code IS NULL OR upstream_status_code BETWEEN 100 AND 599),
    CONSTRAINT ck_audit_events_latency_ms CHECK (latency_ms IS NULL OR latency_ms >= 0),
    CONSTRAINT fk_audit_events_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- Keyset order of queryAuditEvents: (timestamp DESC, event_id DESC). This index replaces the
-- spec's idx_audit_events_tenant_timestamp (tenant_id, timestamp DESC), which is its prefix.
CREATE INDEX idx_audit_events_tenant_timestamp_event ON audit_events (tenant_id, "timestamp" DESC, event_id DESC);
CREATE INDEX idx_audit_events_tenant_workload_timestamp ON audit_events (tenant_id, workload_id, "timestamp" DESC);
CREATE INDEX idx_audit_events_tenant_integration_timestamp ON audit_events (tenant_id, integration_id, "timestamp" DESC);
CREATE INDEX idx_audit_events_tenant_action_group_timestamp ON audit_events (tenant_id, action_group, "timestamp" DESC);
CREATE INDEX idx_audit_events_tenant_decision_timestamp ON audit_events (tenant_id, decision, "timestamp" DESC);
CREATE INDEX idx_audit_events_correlation ON audit_events (correlation_id);

-- =============================================================================================
-- 2.22 ssrf_guard_decisions (append-only projection: triggers and grants in 0006)
CREATE TABLE ssrf_guard_decisions (
    id                TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    event_id          TEXT COLLATE "C" NOT NULL,
    "timestamp"       TIMESTAMPTZ NOT NULL,
    tenant_id         TEXT COLLATE "C" NOT NULL,
    workload_id       TEXT COLLATE "C" NOT NULL,
    integration_id    TEXT COLLATE "C" NOT NULL,
    template_id       TEXT COLLATE "C" NOT NULL,
    template_version  INTEGER NOT NULL,
    destination_host  TEXT COLLATE "C" NOT NULL,
    destination_port  INTEGER NOT NULL,
    resolved_ips      TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
    decision          audit_decision NOT NULL,
    reason_code       TEXT COLLATE "C" NOT NULL,
    correlation_id    TEXT COLLATE "C" NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT ssrf_guard_decisions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_ssrf_guard_decisions_event_id UNIQUE (event_id),
    CONSTRAINT ck_ssrf_guard_decisions_template_version CHECK (template_version >= 1),
    CONSTRAINT ck_ssrf_guard_decisions_destination_port CHECK (destination_port BETWEEN 1 AND 65535),
    CONSTRAINT ck_ssrf_guard_decisions_resolved_ips_count CHECK (cardinality(resolved_ips) BETWEEN 1 AND 32),
    CONSTRAINT ck_ssrf_guard_decisions_decision CHECK (decision IN ('allowed', 'denied')),
    CONSTRAINT ck_ssrf_guard_decisions_reason_code CHECK (reason_code IN (
        'invalid_input',
        'request_url_invalid',
        'request_url_userinfo_forbidden',
        'request_url_fragment_forbidden',
        'request_scheme_not_allowed',
        'request_host_not_allowed',
        'request_port_not_allowed',
        'request_ip_literal_forbidden',
        'template_host_invalid',
        'dns_resolution_required',
        'dns_resolution_failed',
        'dns_resolution_empty',
        'resolved_ip_invalid',
        'resolved_ip_denied_private_range',
        'resolved_ip_denied_loopback',
        'resolved_ip_denied_link_local',
        'resolved_ip_denied_metadata_range',
        'redirect_denied'
    )),
    CONSTRAINT fk_ssrf_guard_decisions_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_ssrf_guard_decisions_tenant_timestamp ON ssrf_guard_decisions (tenant_id, "timestamp" DESC);
CREATE INDEX idx_ssrf_guard_decisions_reason_timestamp ON ssrf_guard_decisions (reason_code, "timestamp" DESC);
CREATE INDEX idx_ssrf_guard_decisions_host_timestamp ON ssrf_guard_decisions (destination_host, "timestamp" DESC);

-- =============================================================================================
-- 2.23 template_invalidation_outbox
CREATE TABLE template_invalidation_outbox (
    id                 TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id          TEXT COLLATE "C" NOT NULL,
    template_id        TEXT COLLATE "C" NOT NULL,
    version            INTEGER NOT NULL,
    updated_at_signal  TIMESTAMPTZ NOT NULL,
    payload_json       JSONB NOT NULL,
    status             template_invalidation_outbox_status NOT NULL DEFAULT 'pending',
    attempts           INTEGER NOT NULL DEFAULT 0,
    delivered_at       TIMESTAMPTZ,
    last_error         TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT template_invalidation_outbox_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_template_invalidation_outbox_signal UNIQUE (tenant_id, template_id, version, updated_at_signal),
    CONSTRAINT ck_template_invalidation_outbox_version CHECK (version >= 1),
    CONSTRAINT ck_template_invalidation_outbox_attempts CHECK (attempts >= 0),
    CONSTRAINT fk_template_invalidation_outbox_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX idx_template_invalidation_outbox_status_created_at ON template_invalidation_outbox (status, created_at ASC);
CREATE INDEX idx_template_invalidation_outbox_tenant_created_at ON template_invalidation_outbox (tenant_id, created_at ASC);

-- =============================================================================================
-- 2.24 audit_redaction_profiles
CREATE TABLE audit_redaction_profiles (
    id            TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    profile_id    TEXT COLLATE "C" NOT NULL,
    profile_json  JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT audit_redaction_profiles_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT uq_audit_redaction_profiles_tenant_id UNIQUE (tenant_id),
    CONSTRAINT fk_audit_redaction_profiles_tenant FOREIGN KEY (tenant_id)
        REFERENCES tenants (tenant_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

-- =============================================================================================
-- updated_at triggers (one function, every tenant table that has updated_at)
CREATE TRIGGER trg_tenants_touch_updated_at
    BEFORE UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_human_users_touch_updated_at
    BEFORE UPDATE ON human_users FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_workloads_touch_updated_at
    BEFORE UPDATE ON workloads FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_workload_sessions_touch_updated_at
    BEFORE UPDATE ON workload_sessions FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_integrations_touch_updated_at
    BEFORE UPDATE ON integrations FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_secrets_touch_updated_at
    BEFORE UPDATE ON secrets FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_crypto_verification_defaults_touch_updated_at
    BEFORE UPDATE ON crypto_verification_defaults FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_policy_rules_touch_updated_at
    BEFORE UPDATE ON policy_rules FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_approval_requests_touch_updated_at
    BEFORE UPDATE ON approval_requests FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_template_invalidation_outbox_touch_updated_at
    BEFORE UPDATE ON template_invalidation_outbox FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();
CREATE TRIGGER trg_audit_redaction_profiles_touch_updated_at
    BEFORE UPDATE ON audit_redaction_profiles FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

RESET ROLE;
