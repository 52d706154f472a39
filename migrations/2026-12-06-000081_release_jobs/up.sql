-- Releases built in the background (`POST /api/v1/releases` with `Prefer: respond-async`): an
-- insider-safe release at national scale takes minutes, longer than an HTTP client waits. A job
-- is claimed by one server (FOR UPDATE SKIP LOCKED) and runs the same use case as the
-- synchronous request, as the user who queued it (their grants read again when it runs).
CREATE TABLE release_jobs (
    id uuid PRIMARY KEY,
    year smallint NOT NULL,
    min_cell smallint,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'refused', 'failed')),
    -- The draft release the job stored (status `done`).
    release_id bigint REFERENCES releases (id),
    -- Why a job was refused or failed: the disclosure audit's line or an error code. Never
    -- identifiable data (a release holds aggregate counts only).
    problem text,
    created_by uuid NOT NULL REFERENCES users (id),
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    -- Written every few seconds while the job runs; a running job whose heartbeat is old was
    -- left by a server that stopped, and is claimed again.
    heartbeat_at timestamptz,
    attempts smallint NOT NULL DEFAULT 0,
    CHECK ((status = 'done') = (release_id IS NOT NULL))
);
CREATE INDEX release_jobs_open ON release_jobs (created_at) WHERE status IN ('queued', 'running');

GRANT SELECT, INSERT ON release_jobs TO rusreg_server;
GRANT UPDATE (status, release_id, problem, started_at, finished_at, heartbeat_at, attempts)
    ON release_jobs TO rusreg_server;
