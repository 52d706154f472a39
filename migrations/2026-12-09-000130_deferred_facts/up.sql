-- Pathway facts once per pathway and transaction (docs/architecture.md, "Pathway facts"): the
-- facts triggers of migration 000008 recomputed a pathway's facts for every form row and typed
-- row written — four to six times for one form created and completed, and as often again in a
-- bulk import's transaction of 500 rows. Now the row triggers (same names, same `WHEN` clauses,
-- so `rusreg_bulk_load()` still switches them off for the owner's loader) only mark the pathway
-- as changed by this transaction in `pathway_facts_dirty`, and a deferred constraint trigger on
-- that table recomputes each marked pathway once, at commit, with the same function as before.
--
-- Every writer alike, without trusting it: the row triggers run for every role (the server's
-- role can neither disable a trigger nor set `session_replication_role`), and every row inserted
-- into `pathway_facts_dirty` — by a trigger or by hand — queues its own recomputation, which
-- runs even if the row is deleted again, so the server's rights on the table (it must insert
-- and delete them, the triggers run as the writer) cannot make a change skip its recomputation.
-- `SET CONSTRAINTS ... IMMEDIATE` only runs the recomputations earlier (at the end of each
-- statement); a pathway changed again after that is marked again.
--
-- Within the transaction that changes a pathway's forms, its facts are stale until commit. A
-- reader in that transaction that needs them calls `rusreg_refresh_dirty_pathway_facts(p)`
-- first (persistence::pathways::refresh_dirty_facts).

-- The pathways whose forms a transaction changed, until it commits (rows of a transaction
-- rolled back go with it). Unlogged: no row outlives its transaction, so a crash loses nothing.
CREATE UNLOGGED TABLE pathway_facts_dirty (
    txid bigint NOT NULL DEFAULT txid_current(),
    pathway_id uuid NOT NULL,
    PRIMARY KEY (txid, pathway_id)
);
GRANT SELECT, INSERT, DELETE ON pathway_facts_dirty TO rusreg_server;

CREATE OR REPLACE FUNCTION rusreg_forms_pathway_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO pathway_facts_dirty (pathway_id) VALUES (OLD.pathway_id) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.pathway_id <> OLD.pathway_id) THEN
        INSERT INTO pathway_facts_dirty (pathway_id) VALUES (NEW.pathway_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

-- A typed row holds the values; only a completed form's count, and a completed form's typed row
-- is read-only, so this marks a pathway only when a loader writes a completed form before its
-- typed row.
CREATE OR REPLACE FUNCTION rusreg_typed_forms_pathway_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    form uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.form_id ELSE NEW.form_id END;
    pathway uuid;
BEGIN
    SELECT f.pathway_id INTO pathway FROM forms f WHERE f.id = form AND f.status = 'completed';
    IF pathway IS NOT NULL THEN
        INSERT INTO pathway_facts_dirty (pathway_id) VALUES (pathway) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

-- At commit (or at the end of the statement under SET CONSTRAINTS ... IMMEDIATE): the marked
-- pathway's facts, recomputed from the forms as the transaction leaves them. The mark goes
-- first, so a change after an early recomputation marks the pathway again.
CREATE FUNCTION rusreg_pathway_facts_dirty_refresh() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    DELETE FROM pathway_facts_dirty WHERE txid = NEW.txid AND pathway_id = NEW.pathway_id;
    PERFORM rusreg_refresh_pathway_facts(NEW.pathway_id);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER pathway_facts_dirty_refresh AFTER INSERT ON pathway_facts_dirty
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION rusreg_pathway_facts_dirty_refresh();

-- For a reader of pathway `p`'s facts inside the transaction that changed its forms: the facts
-- recomputed now if this transaction marked it (its mark stays, so the commit recomputes them
-- once more with whatever changes after this).
CREATE FUNCTION rusreg_refresh_dirty_pathway_facts(p uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE AS
$$
BEGIN
    IF EXISTS (SELECT 1 FROM pathway_facts_dirty WHERE txid = txid_current_if_assigned() AND pathway_id = p) THEN
        PERFORM rusreg_refresh_pathway_facts(p);
    END IF;
END
$$;
