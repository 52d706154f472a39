-- Sign-in through an OpenID Connect provider (HelseID; docs/operations.md, "OpenID Connect"):
-- the provider identities of people linked to rusreg users, and the record systems registered
-- as clients (client credentials). Grants stay in rusreg. No national id is stored in clear: a
-- person's id is kept only as its keyed hash (`IdKey::person_tag`, a sub-key of its own, so it
-- cannot be matched against the patients' pseudonyms). Links and registrations are revoked,
-- never deleted: they are part of who could act as whom.

-- A person at the provider (`issuer`), linked to a rusreg user: by the token's subject, by the
-- keyed hash of the national id of HelseID's pid claim, or by both (either then finds the user).
CREATE TABLE user_identities (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    subject text CHECK (length(subject) BETWEEN 1 AND 500),
    pid_tag bytea CHECK (length(pid_tag) = 32),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_by uuid REFERENCES users (id),
    revoked_at timestamptz,
    CONSTRAINT user_identities_subject_or_pid CHECK (subject IS NOT NULL OR pid_tag IS NOT NULL),
    -- No admin links or unlinks an identity of its own account.
    CONSTRAINT user_identities_not_by_the_user CHECK (created_by IS NULL OR created_by <> user_id),
    CONSTRAINT user_identities_not_revoked_by_the_user CHECK (revoked_by IS NULL OR revoked_by <> user_id),
    CONSTRAINT user_identities_revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
-- A subject, and a national id, finds at most one user of an issuer at a time.
CREATE UNIQUE INDEX user_identities_one_subject ON user_identities (issuer, subject)
    WHERE revoked_at IS NULL AND subject IS NOT NULL;
CREATE UNIQUE INDEX user_identities_one_pid ON user_identities (issuer, pid_tag)
    WHERE revoked_at IS NULL AND pid_tag IS NOT NULL;
CREATE INDEX user_identities_user ON user_identities (user_id);

-- A record system (client credentials) of a legal entity: its tokens carry the entity's
-- organisation number, and it acts as its own user (`user_id`), which holds a registrar grant at
-- the entity, so the access rules of people apply to it unchanged.
CREATE TABLE oidc_clients (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 200),
    user_id uuid NOT NULL UNIQUE REFERENCES users (id),
    legal_entity_id bigint NOT NULL REFERENCES org_nodes (id),
    created_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_by uuid REFERENCES users (id),
    revoked_at timestamptz,
    CONSTRAINT oidc_clients_revoked_after_created CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE UNIQUE INDEX oidc_clients_one_current ON oidc_clients (issuer, client_id) WHERE revoked_at IS NULL;

-- The server's role: links and registrations are added and revoked, never changed otherwise or
-- deleted.
GRANT SELECT, INSERT ON user_identities, oidc_clients TO rusreg_server;
GRANT UPDATE (revoked_by, revoked_at) ON user_identities, oidc_clients TO rusreg_server;
