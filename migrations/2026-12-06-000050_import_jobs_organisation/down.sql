REVOKE DELETE ON import_jobs FROM rusreg_server;
DROP INDEX import_jobs_finished;
ALTER TABLE import_jobs DROP COLUMN owner_nodes;
