-- 0020 the users list's role filter combined with the other filters, at scale.
--
-- `role = admin` with `created_at` in a month is ~0.3 % of a million users, but neither index of
-- 0012 finds it: the role index (tenant_id, role, user_id) yields all ~70,000 admins, each then
-- looked up for its creation time, and the creation-time index yields the month's ~43,000 users,
-- each then looked up for the role (21–39 ms a page, most of it the capped count). Likewise
-- `role = owner` with `enabled = false` (0.09 %) was counted by reading 10,000 owners' users, or
-- by a sequential scan of the tenant.
--
-- So a role row carries copies of its user's `created_at` and `enabled` (`user_created_at`,
-- `user_enabled`), and two indexes read them:
--   * (tenant_id, role, user_created_at, user_id) INCLUDE (user_enabled): exactly the users of a
--     role created in a range, in creation order (backwards: newest first, the list's default);
--   * (tenant_id, role, user_id) INCLUDE (user_enabled), replacing 0012's role index: a role's
--     users with their enabled flag, from the index alone.
--
-- The copies are kept by the database, whoever writes the rows:
--   * a role row takes its user's values on insert, and again when its tenant, user or a copy is
--     updated (BEFORE trigger; values the writer gives are overwritten; an update by a writer
--     that cannot see the user keeps the copies it had);
--   * a user whose `created_at` or `enabled` changes passes them on to its role rows (AFTER
--     UPDATE OF those columns, so updates of other columns do not fire it).
-- Both functions run as the writing role (no SECURITY DEFINER): under row-level security a role
-- row's user is in the writer's tenant, which is the only one it can see. A role row whose user
-- does not exist keeps NULLs here and is then refused by its foreign key, as before.
SET LOCAL ROLE brokerdb_owner;

ALTER TABLE human_user_roles
    ADD COLUMN user_created_at TIMESTAMPTZ,
    ADD COLUMN user_enabled BOOLEAN;

-- The existing rows, before the triggers exist (the table is locked from the ALTER TABLE above to
-- commit, so no row can be written in between; with the triggers in place, each row's update
-- would look its user up a second time). The owner is subject to row-level security on both
-- tables (FORCE); for this transaction it reads and updates every tenant's rows. ALTER TABLE
-- holds an ACCESS EXCLUSIVE lock until commit, so nobody else ever sees the tables without FORCE.
ALTER TABLE human_users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE human_user_roles NO FORCE ROW LEVEL SECURITY;
UPDATE human_user_roles r SET user_created_at = u.created_at, user_enabled = u.enabled
  FROM human_users u
 WHERE u.tenant_id = r.tenant_id AND u.user_id = r.user_id;
ALTER TABLE human_users FORCE ROW LEVEL SECURITY;
ALTER TABLE human_user_roles FORCE ROW LEVEL SECURITY;

CREATE FUNCTION brokerdb_user_role_copies() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
DECLARE
    created timestamptz;
    active boolean;
BEGIN
    SELECT u.created_at, u.enabled INTO created, active
      FROM public.human_users u
     WHERE u.tenant_id = NEW.tenant_id AND u.user_id = NEW.user_id;
    IF FOUND THEN
        NEW.user_created_at := created;
        NEW.user_enabled := active;
    ELSIF TG_OP = 'UPDATE' THEN
        -- The user is not visible to this writer: keep the copies rather than blank them.
        NEW.user_created_at := OLD.user_created_at;
        NEW.user_enabled := OLD.user_enabled;
    ELSE
        -- No such user: the foreign key refuses the row.
        NEW.user_created_at := NULL;
        NEW.user_enabled := NULL;
    END IF;
    RETURN NEW;
END
$fn$;
REVOKE EXECUTE ON FUNCTION brokerdb_user_role_copies() FROM PUBLIC;
CREATE TRIGGER trg_human_user_roles_copies
    BEFORE INSERT OR UPDATE OF tenant_id, user_id, user_created_at, user_enabled ON human_user_roles
    FOR EACH ROW EXECUTE FUNCTION brokerdb_user_role_copies();

CREATE FUNCTION brokerdb_user_copies_to_roles() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $fn$
BEGIN
    UPDATE public.human_user_roles r
       SET user_created_at = NEW.created_at, user_enabled = NEW.enabled
     WHERE r.tenant_id = NEW.tenant_id AND r.user_id = NEW.user_id;
    RETURN NULL;
END
$fn$;
REVOKE EXECUTE ON FUNCTION brokerdb_user_copies_to_roles() FROM PUBLIC;
CREATE TRIGGER trg_human_users_copies_to_roles
    AFTER UPDATE OF created_at, enabled ON human_users
    FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
                       OR OLD.enabled IS DISTINCT FROM NEW.enabled)
    EXECUTE FUNCTION brokerdb_user_copies_to_roles();

CREATE INDEX idx_human_user_roles_tenant_role_created
    ON human_user_roles (tenant_id, role, user_created_at, user_id) INCLUDE (user_enabled);
DROP INDEX idx_human_user_roles_tenant_role_user;
CREATE INDEX idx_human_user_roles_tenant_role_user
    ON human_user_roles (tenant_id, role, user_id) INCLUDE (user_enabled);

RESET ROLE;
