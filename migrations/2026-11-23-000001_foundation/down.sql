DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE grants;
DROP TABLE users;
DROP TABLE org_links;
DROP TABLE org_nodes;
