-- 0001 roles and schema privileges.
--
-- Runs as the connecting user (a superuser in development; in production a member of
-- brokerdb_owner, with the three roles pre-created by a DBA). Roles are cluster-wide, so two
-- databases of one cluster may run this file concurrently: every CREATE ROLE is guarded by a
-- pg_roles lookup AND by catching the duplicate error of a concurrent creator.
-- No passwords here: operators set them (ALTER ROLE ... PASSWORD ...).
-- See README.md in this folder for what each role may do.

DO $roles$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT *
        FROM (VALUES
            ('brokerdb_owner',  'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
            ('brokerdb_app',    'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
            ('brokerdb_system', 'LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE')
        ) AS v(role_name, attributes)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s', r.role_name, r.attributes);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL; -- created concurrently by another database's migration: fine
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role % does not exist and % may not create it', r.role_name, current_user
                        USING HINT = 'Have a DBA create the brokerdb_* roles (see crates/brokerdb/migrations/README.md).';
            END;
        END IF;
    END LOOP;

    -- Pre-existing roles are not altered (that needs CREATEROLE), but the attributes the
    -- security model depends on are verified: fail loudly rather than run without isolation.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
               WHERE rolname = 'brokerdb_app' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role brokerdb_app must be NOSUPERUSER NOBYPASSRLS (row-level security would not apply)';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
               WHERE rolname = 'brokerdb_system' AND NOT (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role brokerdb_system must have BYPASSRLS (the system scope would see no rows)';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
               WHERE rolname = 'brokerdb_owner' AND (rolsuper OR rolbypassrls)) THEN
        RAISE WARNING 'role brokerdb_owner should be NOSUPERUSER NOBYPASSRLS';
    END IF;
END
$roles$;

-- Schema privileges. On PostgreSQL 15+ PUBLIC already lacks CREATE on schema public; on older
-- servers this revoke keeps the runtime roles from creating objects (a no-op warning if the
-- connecting user does not own the schema).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CREATE, USAGE ON SCHEMA public TO brokerdb_owner;
GRANT USAGE ON SCHEMA public TO brokerdb_app, brokerdb_system;

-- The migration ledger exists already (the runner creates it before the first file):
-- both runtime roles may read it (readiness: "migrations up to date").
GRANT SELECT ON brokerdb_schema_migrations TO brokerdb_app, brokerdb_system;

-- No extension is needed: ids use the built-in gen_random_uuid() (PostgreSQL 13+).
