-- The days whose unit digests are all written (docs/patient-channel.md, Unit digests). A pass
-- that finds its day here skips the digest step, so the recipients and each unit's worklist are
-- read once a day instead of on every tick of the scheduler. The day is written after its last
-- digest, so a pass that stops half-way leaves the rest of the day's digests to the next pass.
CREATE TABLE digest_days (
    day date PRIMARY KEY,
    digests integer NOT NULL CHECK (digests >= 0),
    finished_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON digest_days TO rusreg_server;
