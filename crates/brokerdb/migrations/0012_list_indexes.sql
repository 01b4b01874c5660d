-- 0012 indexes for the users list at scale, and the two comparisons row-level security must let
-- the planner use as index conditions.
--
-- Under row-level security PostgreSQL evaluates the policy before any condition of the query
-- whose function is not LEAKPROOF, so such a condition can never be an index condition: it is a
-- filter over every row of the tenant. Two of the users list's filters hit this:
--   * `q` (email or display name contains the text): `ILIKE` (texticlike), which the trigram
--     indexes below can serve;
--   * `role`: equality of the `user_role` enum (enum_eq), which the (tenant_id, role, user_id)
--     index below can serve.
-- Both functions only compare their two arguments; enum_eq cannot fail, and texticlike fails only
-- on a malformed pattern (an escape character at its end), which depends on the pattern, not on
-- a row. Neither reveals anything of a row the policy hides, which is what LEAKPROOF promises.
-- (A caller that could run arbitrary SQL as the runtime role could also set any tenant: RLS here
-- guards against a query that forgets its tenant, not against that caller.)
--
-- Marking a function LEAKPROOF needs a superuser. When the migrating user is not one, this file
-- only warns: every list still returns the same rows, but `q` and `role` filters are evaluated
-- row by row over the tenant (slow at 100,000s of users) until a superuser runs the two ALTER
-- FUNCTION statements below. The property is not carried by pg_dump: run them again after a
-- restore into a new cluster.
DO $leakproof$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF;
        ALTER FUNCTION pg_catalog.enum_eq(anyenum, anyenum) LEAKPROOF;
    ELSE
        RAISE WARNING 'brokerdb: % is not a superuser, so the users list''s q and role filters cannot use their indexes', current_user
            USING HINT = 'As a superuser: ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF; ALTER FUNCTION pg_catalog.enum_eq(anyenum, anyenum) LEAKPROOF;';
    END IF;
END
$leakproof$;

-- Trigram indexes (substring search): pg_trgm ships with PostgreSQL and is a trusted extension
-- (the database's owner or anyone with CREATE on it may create it). It goes into its own schema,
-- on which no runtime role has USAGE: its ~30 functions are executable by PUBLIC, and in `public`
-- they would widen what the runtime roles can call (the privileges tests list every function
-- they can). A GIN index calls its operator class without any privilege check, so the indexes
-- work for every role. Where pg_trgm already exists, it stays in its schema and is used there.
CREATE SCHEMA IF NOT EXISTS brokerdb_ext;
REVOKE ALL ON SCHEMA brokerdb_ext FROM PUBLIC;
GRANT USAGE ON SCHEMA brokerdb_ext TO brokerdb_owner;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA brokerdb_ext;

SET LOCAL ROLE brokerdb_owner;

-- One index per sort of the users list, each ending with the user_id tie-break, so page 1 and
-- every keyset page are an index range read in order and stopped by LIMIT. Each also carries
-- `enabled` and `created_at` (INCLUDE), so a page without `q` finds its ids, and the capped count
-- counts, from the index alone (an index-only scan), whatever the enabled/range/role filters: the
-- page then reads the 20 users it returns by id. Without the INCLUDE a selective filter (say
-- disabled owners, 0.1 % of users) fetched every visited row from the heap (~20,000 at 1M users).
-- These replace the created_at index of 0004 and its display-name index, which served neither.
CREATE INDEX idx_human_users_tenant_created_sort
    ON human_users (tenant_id, created_at DESC, user_id DESC) INCLUDE (enabled);
DROP INDEX idx_human_users_tenant_created;
CREATE INDEX idx_human_users_tenant_email_sort
    ON human_users (tenant_id, email, user_id) INCLUDE (enabled, created_at);
CREATE INDEX idx_human_users_tenant_display_name_sort
    ON human_users (tenant_id, (COALESCE(display_name, '')), user_id) INCLUDE (enabled, created_at);
DROP INDEX idx_human_users_tenant_display_name;
-- A role filter can be driven from the role index below (the plan for a rare role, and the only
-- sane one for a generic plan, which sizes `LIMIT $n` at 10 % of the matches); this lets each of
-- its users be checked against the other filters and sorted by any sort key without a heap read.
CREATE INDEX idx_human_users_tenant_user_filters
    ON human_users (tenant_id, user_id) INCLUDE (enabled, created_at, email, display_name);

-- `q`: case-insensitive substring of email or display name, with the operator class from the
-- schema pg_trgm is in (a bound name: an identifier from the catalog, quoted by format's %I).
DO $trgm$
DECLARE
    ext_schema text := (SELECT n.nspname FROM pg_catalog.pg_extension e
                          JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pg_trgm');
BEGIN
    EXECUTE format('CREATE INDEX idx_human_users_email_trgm ON human_users USING gin (email %I.gin_trgm_ops)', ext_schema);
    EXECUTE format('CREATE INDEX idx_human_users_display_name_trgm ON human_users USING gin (display_name %I.gin_trgm_ops)', ext_schema);
END
$trgm$;

-- `role`: the users of a tenant with a role, in user_id order (also counts them without touching
-- human_users). Supersedes the role-only index of 0004, which no tenant-scoped query can use.
CREATE INDEX idx_human_user_roles_tenant_role_user ON human_user_roles (tenant_id, role, user_id);
DROP INDEX idx_human_user_roles_role;

-- No parallel plans for these two tables: a list page reads tens of rows, and on a small
-- machine starting workers costs more than the page (tens of ms measured at 1M users, 2 cores);
-- the planner's cost model underrates that start-up and chose Gather Merge for 20-row pages.
ALTER TABLE human_users SET (parallel_workers = 0);
ALTER TABLE human_user_roles SET (parallel_workers = 0);

RESET ROLE;
