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
-- (the database's owner or anyone with CREATE on it may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

SET LOCAL ROLE brokerdb_owner;

-- One index per sort of the users list, each ending with the user_id tie-break, so page 1 and
-- every keyset page are an index range read in order and stopped by LIMIT. created_at already has
-- idx_human_users_tenant_created (0004); the email index went with the old unique constraint
-- (0011), and display name sorts by COALESCE(display_name, ''), which the 0004 index does not
-- serve.
CREATE INDEX idx_human_users_tenant_email ON human_users (tenant_id, email, user_id);
CREATE INDEX idx_human_users_tenant_display_name_sort
    ON human_users (tenant_id, (COALESCE(display_name, '')), user_id);
DROP INDEX idx_human_users_tenant_display_name;

-- `q`: case-insensitive substring of email or display name.
CREATE INDEX idx_human_users_email_trgm ON human_users USING gin (email public.gin_trgm_ops);
CREATE INDEX idx_human_users_display_name_trgm ON human_users USING gin (display_name public.gin_trgm_ops);

-- `role`: the users of a tenant with a role, in user_id order (also counts them without touching
-- human_users). Supersedes the role-only index of 0004, which no tenant-scoped query can use.
CREATE INDEX idx_human_user_roles_tenant_role_user ON human_user_roles (tenant_id, role, user_id);
DROP INDEX idx_human_user_roles_role;

RESET ROLE;
