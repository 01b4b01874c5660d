-- 0003 global (non-tenant) tables: admin control plane and manifest signing keys.
-- These are Citus reference-table candidates (DESIGN decision 9); PRIMARY KEY (id).
-- Identifier-like TEXT columns use COLLATE "C" (byte order, deterministic everywhere).
-- Timestamp defaults are now() truncated to milliseconds (data-model.md §0).
SET LOCAL ROLE brokerdb_owner;

-- ---------------------------------------------------------------------------------------------
-- 2.2 admin_signup_policy (singleton)
CREATE TABLE admin_signup_policy (
    id                      TEXT COLLATE "C" NOT NULL DEFAULT 'default',
    new_user_mode           admin_new_user_mode NOT NULL DEFAULT 'blocked',
    require_verified_email  BOOLEAN NOT NULL DEFAULT TRUE,
    allowed_email_domains   TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
    updated_by              TEXT COLLATE "C" NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT admin_signup_policy_pkey PRIMARY KEY (id),
    CONSTRAINT ck_admin_signup_policy_singleton CHECK (id = 'default')
);

INSERT INTO admin_signup_policy (id, new_user_mode, require_verified_email, allowed_email_domains, updated_by)
VALUES ('default', 'blocked', TRUE, '{}', 'system');

-- ---------------------------------------------------------------------------------------------
-- 2.3 admin_identities
CREATE TABLE admin_identities (
    id           TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    identity_id  TEXT COLLATE "C" NOT NULL,
    issuer       TEXT COLLATE "C" NOT NULL,
    subject      TEXT COLLATE "C" NOT NULL,
    email        TEXT COLLATE "C" NOT NULL,
    name         TEXT,
    status       admin_identity_status NOT NULL DEFAULT 'active',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT admin_identities_pkey PRIMARY KEY (id),
    CONSTRAINT uq_admin_identities_identity_id UNIQUE (identity_id),
    CONSTRAINT uq_admin_identities_issuer_subject UNIQUE (issuer, subject),
    CONSTRAINT ck_admin_identities_issuer_non_empty CHECK (issuer <> ''),
    CONSTRAINT ck_admin_identities_subject_non_empty CHECK (subject <> ''),
    CONSTRAINT ck_admin_identities_email_non_empty CHECK (email <> '')
);

CREATE INDEX idx_admin_identities_email ON admin_identities (email);
CREATE INDEX idx_admin_identities_status ON admin_identities (status);
-- Listing: ORDER BY created_at DESC, identity_id DESC with a keyset cursor on the same pair.
CREATE INDEX idx_admin_identities_created ON admin_identities (created_at DESC, identity_id DESC);

CREATE TRIGGER trg_admin_identities_touch_updated_at
    BEFORE UPDATE ON admin_identities
    FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

-- ---------------------------------------------------------------------------------------------
-- 2.4 admin_identity_role_bindings
CREATE TABLE admin_identity_role_bindings (
    id           TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    identity_id  TEXT COLLATE "C" NOT NULL,
    role         user_role NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT admin_identity_role_bindings_pkey PRIMARY KEY (id),
    CONSTRAINT uq_admin_identity_role_bindings_identity_role UNIQUE (identity_id, role),
    CONSTRAINT fk_admin_identity_role_bindings_identity FOREIGN KEY (identity_id)
        REFERENCES admin_identities (identity_id) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX idx_admin_identity_role_bindings_role ON admin_identity_role_bindings (role);

-- ---------------------------------------------------------------------------------------------
-- 2.6 admin_access_requests
CREATE TABLE admin_access_requests (
    id                    TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    request_id            TEXT COLLATE "C" NOT NULL,
    issuer                TEXT COLLATE "C" NOT NULL,
    subject               TEXT COLLATE "C" NOT NULL,
    email                 TEXT COLLATE "C" NOT NULL,
    name                  TEXT,
    requested_roles       user_role[] NOT NULL DEFAULT '{}',
    requested_tenant_ids  TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
    status                admin_access_request_status NOT NULL DEFAULT 'pending',
    request_reason        TEXT,
    decision_reason       TEXT,
    decided_by            TEXT COLLATE "C",
    decided_at            TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT admin_access_requests_pkey PRIMARY KEY (id),
    CONSTRAINT uq_admin_access_requests_request_id UNIQUE (request_id),
    CONSTRAINT ck_admin_access_requests_issuer_non_empty CHECK (issuer <> ''),
    CONSTRAINT ck_admin_access_requests_subject_non_empty CHECK (subject <> ''),
    CONSTRAINT ck_admin_access_requests_email_non_empty CHECK (email <> ''),
    CONSTRAINT ck_admin_access_requests_requested_roles_non_empty CHECK (cardinality(requested_roles) >= 1),
    CONSTRAINT ck_admin_access_requests_decision_coherence CHECK (
        (status = 'pending' AND decided_by IS NULL AND decided_at IS NULL AND decision_reason IS NULL)
        OR (status <> 'pending' AND decided_by IS NOT NULL AND decided_at IS NOT NULL)
    )
);

CREATE UNIQUE INDEX uq_admin_access_requests_pending_per_principal
    ON admin_access_requests (issuer, subject) WHERE status = 'pending';
CREATE INDEX idx_admin_access_requests_principal_status ON admin_access_requests (issuer, subject, status);
CREATE INDEX idx_admin_access_requests_status_created_at ON admin_access_requests (status, created_at ASC);
CREATE INDEX idx_admin_access_requests_email_created_at ON admin_access_requests (email, created_at ASC);
-- Listing: ORDER BY created_at DESC, request_id DESC with a keyset cursor on the same pair.
CREATE INDEX idx_admin_access_requests_created ON admin_access_requests (created_at DESC, request_id DESC);

CREATE TRIGGER trg_admin_access_requests_touch_updated_at
    BEFORE UPDATE ON admin_access_requests
    FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

-- admin_signup_policy's trigger (declared here so all admin triggers sit together).
CREATE TRIGGER trg_admin_signup_policy_touch_updated_at
    BEFORE UPDATE ON admin_signup_policy
    FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

-- ---------------------------------------------------------------------------------------------
-- 2.15 manifest_signing_keys (global)
CREATE TABLE manifest_signing_keys (
    id               TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    kid              TEXT COLLATE "C" NOT NULL,
    alg              manifest_signing_algorithm NOT NULL,
    public_jwk       JSONB NOT NULL,
    private_key_ref  TEXT COLLATE "C" NOT NULL,
    status           manifest_signing_key_status NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    activated_at     TIMESTAMPTZ,
    retired_at       TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ,
    CONSTRAINT manifest_signing_keys_pkey PRIMARY KEY (id),
    CONSTRAINT uq_manifest_signing_keys_kid UNIQUE (kid),
    CONSTRAINT ck_manifest_signing_keys_kid_non_empty CHECK (kid <> ''),
    CONSTRAINT ck_manifest_signing_keys_private_key_ref_non_empty CHECK (private_key_ref <> ''),
    CONSTRAINT ck_manifest_signing_keys_status_timestamps CHECK (
        (status = 'active' AND activated_at IS NOT NULL AND retired_at IS NULL AND revoked_at IS NULL)
        OR (status = 'retired' AND retired_at IS NOT NULL AND revoked_at IS NULL)
        OR (status = 'revoked' AND revoked_at IS NOT NULL)
    )
);

CREATE UNIQUE INDEX uq_manifest_signing_keys_single_active
    ON manifest_signing_keys (status) WHERE status = 'active';
CREATE INDEX idx_manifest_signing_keys_status_activated_at ON manifest_signing_keys (status, activated_at DESC);
CREATE INDEX idx_manifest_signing_keys_status_created_at ON manifest_signing_keys (status, created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- 2.16 manifest_keyset_metadata
CREATE TABLE manifest_keyset_metadata (
    id               TEXT COLLATE "C" NOT NULL DEFAULT gen_random_uuid()::text,
    keyset_name      TEXT COLLATE "C" NOT NULL,
    etag             TEXT COLLATE "C" NOT NULL,
    generated_at     TIMESTAMPTZ NOT NULL,
    max_age_seconds  INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now()),
    CONSTRAINT manifest_keyset_metadata_pkey PRIMARY KEY (id),
    CONSTRAINT uq_manifest_keyset_metadata_keyset_name UNIQUE (keyset_name),
    CONSTRAINT ck_manifest_keyset_metadata_etag_format CHECK (etag ~ '^W/".+"$'),
    CONSTRAINT ck_manifest_keyset_metadata_max_age_seconds CHECK (max_age_seconds BETWEEN 30 AND 300)
);

CREATE TRIGGER trg_manifest_keyset_metadata_touch_updated_at
    BEFORE UPDATE ON manifest_keyset_metadata
    FOR EACH ROW EXECUTE FUNCTION brokerdb_touch_updated_at();

RESET ROLE;
