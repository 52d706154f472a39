-- Import jobs belong to the sender's organisation, not only to the user who sent them: the
-- nodes the sender registered for when the job was submitted (a unit, or a legal entity for a
-- record system's client). A registrar who covers every one of those units reads the job
-- (docs/api.md, Imports). Finished jobs are deleted by the import worker after
-- RUSREG_IMPORT_RETENTION_DAYS (their error rows go with them).
ALTER TABLE import_jobs ADD COLUMN owner_nodes bigint[] NOT NULL DEFAULT '{}';
CREATE INDEX import_jobs_finished ON import_jobs (finished_at) WHERE finished_at IS NOT NULL;
GRANT DELETE ON import_jobs TO rusreg_server;
