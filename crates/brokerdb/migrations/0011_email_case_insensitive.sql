-- 0011 user emails are unique per tenant regardless of case.
--
-- `Carol@example.com` and `carol@example.com` are one mailbox for every provider that matters,
-- so two users of one tenant may not hold them both. The address is stored as given (display),
-- and uniqueness is on its lower-case form. A tenant that already holds two such users makes
-- this migration fail: merge or rename one of them first.
SET LOCAL ROLE brokerdb_owner;

ALTER TABLE human_users DROP CONSTRAINT uq_human_users_tenant_email;
CREATE UNIQUE INDEX uq_human_users_tenant_email ON human_users (tenant_id, lower(email));

RESET ROLE;
