-- 0002 enum types and shared trigger functions.
-- Enum declaration order is significant (ORDER BY on an enum column follows it) and is exactly
-- the order of data-model.md §1. PostgreSQL names are the spec names in snake_case.
SET LOCAL ROLE brokerdb_owner;

CREATE TYPE user_role AS ENUM ('owner', 'admin', 'auditor', 'operator');
CREATE TYPE workload_enrollment_mode AS ENUM ('broker_ca', 'external_ca');
CREATE TYPE secret_type AS ENUM ('api_key', 'oauth_refresh_token');
CREATE TYPE manifest_signing_algorithm AS ENUM ('EdDSA', 'ES256');
CREATE TYPE manifest_signing_key_status AS ENUM ('active', 'retired', 'revoked');
CREATE TYPE template_status AS ENUM ('active', 'disabled');
CREATE TYPE policy_rule_type AS ENUM ('allow', 'deny', 'approval_required', 'rate_limit');
CREATE TYPE approval_status AS ENUM ('pending', 'approved', 'denied', 'expired', 'executed', 'canceled');
CREATE TYPE risk_tier AS ENUM ('low', 'medium', 'high');
CREATE TYPE audit_event_type AS ENUM (
    'session_issued', 'execute', 'policy_decision', 'approval_created', 'approval_decided',
    'violation', 'throttle', 'sandbox_alert', 'admin_action'
);
CREATE TYPE audit_decision AS ENUM ('allowed', 'denied', 'approval_required', 'throttled');
CREATE TYPE template_invalidation_outbox_status AS ENUM ('pending', 'delivered', 'failed');
CREATE TYPE admin_new_user_mode AS ENUM ('allowed', 'blocked');
CREATE TYPE admin_identity_status AS ENUM ('active', 'pending', 'disabled');
CREATE TYPE admin_access_request_status AS ENUM ('pending', 'approved', 'denied', 'canceled');

-- The one updated_at mechanism for every table that has the column (attached as
-- trg_<table>_touch_updated_at, BEFORE UPDATE FOR EACH ROW).
-- An UPDATE that assigns updated_at itself keeps its value (setAdminSignupPolicy may supply
-- updated_at); every other UPDATE gets the transaction time truncated to milliseconds, the
-- precision every timestamp leaving the module has (data-model.md §0).
CREATE FUNCTION brokerdb_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := date_trunc('milliseconds', now());
    END IF;
    RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION brokerdb_touch_updated_at() IS
    'BEFORE UPDATE row trigger: refreshes updated_at unless the statement assigned it.';

-- Append-only guard for audit tables (attached in 0006). Fires for every role, superusers
-- included; only disabling the trigger (which needs table ownership) gets past it.
CREATE FUNCTION brokerdb_forbid_mutation() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;

COMMENT ON FUNCTION brokerdb_forbid_mutation() IS
    'BEFORE UPDATE/DELETE/TRUNCATE trigger: rejects any mutation of an append-only table.';

RESET ROLE;
