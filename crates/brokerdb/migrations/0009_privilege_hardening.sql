-- 0009 privilege hardening: the owner cannot log in, and no role gets code or objects it could
-- plant for the owner to run.
--
-- Attack closed here (and by 0010): the 0008 link functions ran as brokerdb_owner (SECURITY
-- DEFINER) with a search_path that did not list pg_temp, so PostgreSQL searched pg_temp FIRST. A
-- runtime role could create a temporary table named like a table the function used, put a
-- trigger on it, and have that trigger run as the owner (disable RLS, grant itself DELETE on the
-- audit trail). 0010 removes those functions; this file removes the ingredients:
--   * brokerdb_owner is NOLOGIN: nobody authenticates as the owner; migrations run as a superuser
--     or a member that SET ROLEs to it.
--   * Functions are not executable by PUBLIC, now or later (default privileges of the owner):
--     trigger functions need no EXECUTE grant to fire, and no brokerdb function is meant to be
--     called directly.
--   * TEMPORARY on the database is revoked from PUBLIC by the migration runner on every run
--     (`brokerdb::migrate::apply_pending`), not here: database-level grants are not copied by
--     CREATE DATABASE … TEMPLATE nor restored by pg_dump without --create, so a file applied once
--     could not keep them.
-- The invariants (per-role privileges, pinned search_path of every SECURITY DEFINER function)
-- are asserted by the schema tests (crates/brokerdb/tests/it/privileges.rs).

DO $owner$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'brokerdb_owner' AND rolcanlogin) THEN
        BEGIN
            ALTER ROLE brokerdb_owner NOLOGIN;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role brokerdb_owner can log in and % may not change that', current_user
                    USING HINT = 'As a DBA run: ALTER ROLE brokerdb_owner NOLOGIN; then migrate again.';
        END;
    END IF;
END
$owner$;

SET LOCAL ROLE brokerdb_owner;

REVOKE EXECUTE ON FUNCTION brokerdb_touch_updated_at() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION brokerdb_forbid_mutation() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION brokerdb_utc_text(timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION brokerdb_audit_link_hash(text, bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION brokerdb_audit_event_body(audit_events) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION brokerdb_system_audit_event_body(system_audit_events) FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE brokerdb_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

RESET ROLE;
