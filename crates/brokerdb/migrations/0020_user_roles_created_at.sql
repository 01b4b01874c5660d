-- 0020 the users list's role filter with a creation-time range, at scale.
--
-- `role = admin` with `created_at` in a month is ~0.3 % of a million users, but neither index of
-- 0012 finds it: the role index (tenant_id, role, user_id) yields all ~70,000 admins, each then
-- looked up for its creation time, and the creation-time index yields the month's ~43,000 users,
-- each then looked up for the role (44–114 ms a page, and as much for its capped count). So a
-- role row carries its user's creation time, `user_created_at`, and the index
-- (tenant_id, role, user_created_at, user_id) reads exactly the users of a role created in a
-- range, in creation order (backwards: newest first, as the list's default sort).
--
-- The copy is kept by the database, whoever writes the rows:
--   * a role row takes its user's `created_at` on insert, and again when its tenant, user or the
--     copy itself is updated (BEFORE trigger; a value the writer gives is overwritten);
--   * a user whose `created_at` changes passes it on to its role rows (AFTER UPDATE OF
--     created_at, so updates of other columns do not fire it). No brokerdb code changes it.
-- Both functions run as the writing role (no SECURITY DEFINER): under row-level security a role
-- row's user is in the writer's tenant, which is the only one it can see. A role row whose user
-- does not exist keeps NULL here and is then refused by its foreign key, as before.
SET LOCAL ROLE brokerdb_owner;

ALTER TABLE human_user_roles ADD COLUMN user_created_at TIMESTAMPTZ;

CREATE FUNCTION brokerdb_user_role_created_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    NEW.user_created_at := (SELECT u.created_at FROM public.human_users u
                             WHERE u.tenant_id = NEW.tenant_id AND u.user_id = NEW.user_id);
    RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION brokerdb_user_role_created_at() FROM PUBLIC;
CREATE TRIGGER trg_human_user_roles_user_created_at
    BEFORE INSERT OR UPDATE OF tenant_id, user_id, user_created_at ON human_user_roles
    FOR EACH ROW EXECUTE FUNCTION brokerdb_user_role_created_at();

CREATE FUNCTION brokerdb_user_created_at_to_roles() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    UPDATE public.human_user_roles r SET user_created_at = NEW.created_at
     WHERE r.tenant_id = NEW.tenant_id AND r.user_id = NEW.user_id;
    RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION brokerdb_user_created_at_to_roles() FROM PUBLIC;
CREATE TRIGGER trg_human_users_created_at_to_roles
    AFTER UPDATE OF created_at ON human_users
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION brokerdb_user_created_at_to_roles();

-- The existing rows. The owner is subject to row-level security on both tables (FORCE); for this
-- transaction it reads and updates every tenant's rows. ALTER TABLE holds an ACCESS EXCLUSIVE
-- lock until commit, so nobody else ever sees the tables without FORCE.
ALTER TABLE human_users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE human_user_roles NO FORCE ROW LEVEL SECURITY;
UPDATE human_user_roles r SET user_created_at = u.created_at
  FROM human_users u
 WHERE u.tenant_id = r.tenant_id AND u.user_id = r.user_id;
ALTER TABLE human_users FORCE ROW LEVEL SECURITY;
ALTER TABLE human_user_roles FORCE ROW LEVEL SECURITY;

CREATE INDEX idx_human_user_roles_tenant_role_created
    ON human_user_roles (tenant_id, role, user_created_at, user_id);

RESET ROLE;
