-- Segregation of duties on grants (docs/domain.md, Grants and approvals): who granted a grant
-- and why, the second admin who approved a register_staff or admin grant, when it took effect
-- (NULL while pending), and its revocation. Revoked grants are kept: they are the authorisation
-- register's history.
ALTER TABLE grants
    ADD COLUMN granted_by uuid REFERENCES users (id),
    ADD COLUMN reason text CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 1000),
    ADD COLUMN approved_by uuid REFERENCES users (id),
    ADD COLUMN valid_from timestamptz,
    ADD COLUMN revoked_by uuid REFERENCES users (id),
    ADD COLUMN revoked_at timestamptz;
-- Grants made before this migration took effect when they were made.
UPDATE grants SET valid_from = created_at;
ALTER TABLE grants
    -- No one grants, approves or revokes a grant of their own; the approver is a second admin.
    ADD CONSTRAINT grants_not_granted_by_grantee CHECK (granted_by IS NULL OR granted_by <> user_id),
    ADD CONSTRAINT grants_not_approved_by_grantee CHECK (approved_by IS NULL OR approved_by <> user_id),
    ADD CONSTRAINT grants_not_approved_by_granter CHECK (approved_by IS NULL OR granted_by IS NULL OR approved_by <> granted_by),
    ADD CONSTRAINT grants_not_revoked_by_grantee CHECK (revoked_by IS NULL OR revoked_by <> user_id),
    ADD CONSTRAINT grants_approved_in_effect CHECK (approved_by IS NULL OR valid_from IS NOT NULL),
    ADD CONSTRAINT grants_revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at);
-- One current (not revoked) grant of a role at a node per user; revoked ones stay beside it.
ALTER TABLE grants DROP CONSTRAINT grants_user_id_role_node_id_key;
CREATE UNIQUE INDEX grants_one_current ON grants (user_id, role, node_id) WHERE revoked_at IS NULL;
CREATE INDEX grants_created_at ON grants (created_at);
-- The server's role: grants are revoked, never deleted, and approval and revocation set only
-- their own columns.
REVOKE DELETE ON grants FROM rusreg_server;
GRANT UPDATE (approved_by, valid_from, revoked_by, revoked_at) ON grants TO rusreg_server;
