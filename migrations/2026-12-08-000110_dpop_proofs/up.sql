-- DPoP proofs seen (docs/operations.md, DPoP): one row per proof's key thumbprint and `jti`
-- (stored as the SHA-256 of both, hex), kept until the proof would be refused as too old
-- anyway. Shared by every rusreg process on the database, so a proof is accepted once however
-- many processes serve the address. Rows past their end are removed by the server in small
-- batches; one whose end has passed may be taken again by a new proof with the same key.
CREATE TABLE dpop_proofs (
    key TEXT PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dpop_proofs_expires_at ON dpop_proofs (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON dpop_proofs TO rusreg_server;
