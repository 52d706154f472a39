-- Foundation: organisation tree, users, grants and the append-only audit log.

CREATE TABLE org_nodes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('nation', 'region', 'legal_entity', 'unit')),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    org_number text UNIQUE CHECK (org_number ~ '^[0-9]{9}$'),
    resh_id bigint UNIQUE CHECK (resh_id BETWEEN 1 AND 999999999),
    is_demo boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'unit' OR resh_id IS NOT NULL),
    CHECK (kind NOT IN ('region', 'legal_entity') OR org_number IS NOT NULL)
);
-- There is exactly one nation.
CREATE UNIQUE INDEX org_nodes_one_nation ON org_nodes (kind) WHERE kind = 'nation';

-- child -> parent, valid from valid_from (inclusive) to valid_to (exclusive; NULL = still valid).
CREATE TABLE org_links (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id bigint NOT NULL REFERENCES org_nodes (id),
    parent_id bigint NOT NULL REFERENCES org_nodes (id),
    valid_from date NOT NULL,
    valid_to date,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (child_id <> parent_id),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
-- At most one open link per node; closed links are kept as history.
CREATE UNIQUE INDEX org_links_one_open ON org_links (child_id) WHERE valid_to IS NULL;
CREATE INDEX org_links_parent ON org_links (parent_id);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{3,64}$'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    -- Bumped on password change and on disabling: tokens carry it, so older tokens stop working.
    token_generation integer NOT NULL DEFAULT 1,
    disabled boolean NOT NULL DEFAULT false,
    failed_logins integer NOT NULL DEFAULT 0,
    failure_window_start timestamptz,
    locked_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grants (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('registrar', 'unit_contact', 'register_contact', 'register_staff', 'admin')),
    node_id bigint NOT NULL REFERENCES org_nodes (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, role, node_id)
);

-- Who did what, when, and with what outcome. Patients appear by pseudonym (keyed hash) only.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    user_id uuid,
    username text,
    role text,
    unit_id bigint,
    action text NOT NULL,
    target_kind text,
    target_id text,
    patient_id uuid,
    patient_pseudonym bytea,
    outcome text NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    request_id text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user_at ON audit_log (user_id, at);
CREATE INDEX audit_log_patient_at ON audit_log (patient_id, at) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_pseudonym_at ON audit_log (patient_pseudonym, at) WHERE patient_pseudonym IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
