-- 0008 the chain heads are written only by the link triggers.
--
-- In 0007 the link triggers ran as the appending role, which therefore needed INSERT/UPDATE on
-- the heads: a compromised runtime role could move its tenant's head and make the chain look
-- broken. The link functions now run as their owner (SECURITY DEFINER, owner brokerdb_owner,
-- search_path pinned), and the runtime roles keep only SELECT on the heads.
--
-- Inside the trigger the owner needs the head of NEW.tenant_id whatever the session's tenant
-- setting is (a superuser or the system role may append a tenant's event), so the owner gets a
-- policy of its own on the heads. That is safe because only the link functions act as the
-- owner at run time, and they touch exactly the head of the row being inserted, which the
-- inserting role's own RLS check on audit_events has to accept for the insert to commit.
SET LOCAL ROLE brokerdb_owner;

CREATE POLICY chain_link ON audit_chain_heads TO brokerdb_owner USING (true) WITH CHECK (true);

ALTER FUNCTION brokerdb_audit_chain_link() SECURITY DEFINER SET search_path FROM CURRENT;
ALTER FUNCTION brokerdb_system_audit_chain_link() SECURITY DEFINER SET search_path FROM CURRENT;
REVOKE EXECUTE ON FUNCTION brokerdb_audit_chain_link() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION brokerdb_system_audit_chain_link() FROM PUBLIC;

REVOKE INSERT, UPDATE, DELETE ON audit_chain_heads FROM brokerdb_app, brokerdb_system;
REVOKE INSERT, UPDATE, DELETE ON system_audit_chain_head FROM brokerdb_system;

RESET ROLE;
