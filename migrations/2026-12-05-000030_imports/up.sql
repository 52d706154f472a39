-- Bulk import from patient-record systems (docs/api.md, "Imports").
--
-- import_jobs: one batch each. The batch itself is kept, sealed with the national-id key
-- (AES-256-GCM), until the job ends, so that a server that restarts resumes a running job from
-- `next_line`, which is committed with the rows it covers. A worker claims a job with
-- `FOR UPDATE SKIP LOCKED` and holds it by `claim` and `heartbeat_at`; a job whose heartbeat is
-- older than the lease is claimed again.
CREATE TABLE import_jobs (
    id uuid PRIMARY KEY,
    created_by uuid NOT NULL REFERENCES users (id),
    format text NOT NULL CHECK (format IN ('ndjson', 'csv')),
    -- For CSV: the kind of object each row is (pathway or a form kind).
    csv_kind text CHECK (csv_kind IN ('pathway', 'baseline', 'measurement', 'discharge', 'follow-up')),
    dry_run boolean NOT NULL,
    all_or_nothing boolean NOT NULL,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'rolled_back', 'failed')),
    total_lines integer NOT NULL CHECK (total_lines >= 0),
    next_line integer NOT NULL DEFAULT 0 CHECK (next_line >= 0 AND next_line <= total_lines),
    created_count integer NOT NULL DEFAULT 0,
    updated_count integer NOT NULL DEFAULT 0,
    unchanged_count integer NOT NULL DEFAULT 0,
    rejected_count integer NOT NULL DEFAULT 0,
    batch bytea,
    claim uuid,
    heartbeat_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK ((format = 'csv') = (csv_kind IS NOT NULL)),
    CHECK ((status IN ('queued', 'running')) = (batch IS NOT NULL))
);
CREATE INDEX import_jobs_open ON import_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX import_jobs_created_by ON import_jobs (created_by, created_at);

-- The rejected rows of a job: line, field, code and message, never the submitted value.
CREATE TABLE import_errors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line integer NOT NULL CHECK (line >= 1),
    field text NOT NULL,
    code text NOT NULL,
    message text NOT NULL
);
CREATE INDEX import_errors_job ON import_errors (job_id, line, id);

-- The sender's own keys (a record system's patient, pathway or form id) of each caller, mapped to
-- rusreg's id, with a keyed hash of the object as last imported: the same object again is a no-op,
-- a changed one updates its draft.
CREATE TABLE import_keys (
    owner uuid NOT NULL REFERENCES users (id),
    kind text NOT NULL CHECK (kind IN ('patient', 'pathway', 'form')),
    sender_key text NOT NULL CHECK (length(sender_key) BETWEEN 1 AND 200),
    target_id uuid NOT NULL,
    content_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, kind, sender_key)
);
CREATE INDEX import_keys_target ON import_keys (target_id);

GRANT SELECT, INSERT, UPDATE ON import_jobs TO rusreg_server;
GRANT SELECT, INSERT ON import_errors TO rusreg_server;
GRANT SELECT, INSERT, UPDATE, DELETE ON import_keys TO rusreg_server;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO rusreg_server;
