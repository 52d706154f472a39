REVOKE UPDATE (approved_by, valid_from, revoked_by, revoked_at) ON grants FROM rusreg_server;
GRANT DELETE ON grants TO rusreg_server;
-- Drops the approval and revocation history: revoked and pending grants are deleted.
DELETE FROM grants WHERE revoked_at IS NOT NULL OR valid_from IS NULL;
DROP INDEX grants_created_at;
DROP INDEX grants_one_current;
ALTER TABLE grants ADD CONSTRAINT grants_user_id_role_node_id_key UNIQUE (user_id, role, node_id);
ALTER TABLE grants
    DROP COLUMN revoked_at,
    DROP COLUMN revoked_by,
    DROP COLUMN valid_from,
    DROP COLUMN approved_by,
    DROP COLUMN reason,
    DROP COLUMN granted_by;
