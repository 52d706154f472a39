-- What the sending unit sees after a transfer (docs/domain.md, Transfers): the pathway as it was
-- when it left — its status and the treatment level in force at the transfer, kept on the
-- transfer. NULL for transfers written without them (the synthetic loader): the status is then
-- read from the status history up to the transfer and the level is the opening level.
ALTER TABLE pathway_transfers
    ADD COLUMN status_at_transfer smallint CHECK (status_at_transfer BETWEEN 1 AND 7),
    ADD COLUMN treatment_level_at_transfer smallint CHECK (treatment_level_at_transfer BETWEEN 1 AND 6);

-- Transfers already there: the last status change recorded up to the transfer, and the level of
-- the latest measurement completed by then (latest date, then highest id, as the pathway facts),
-- else the opening level.
UPDATE pathway_transfers t
SET status_at_transfer = (
        SELECT h.to_status FROM pathway_status_history h
        WHERE h.pathway_id = t.pathway_id AND h.changed_at <= t.created_at
        ORDER BY h.id DESC LIMIT 1),
    treatment_level_at_transfer = COALESCE((
        SELECT mm.treatment_level FROM forms f JOIN measurement_forms mm ON mm.form_id = f.id
        WHERE f.pathway_id = t.pathway_id AND f.kind = 'measurement' AND f.status = 'completed'
          AND f.completed_at <= t.created_at AND mm.treatment_level IS NOT NULL
        ORDER BY f.event_date DESC, f.id DESC LIMIT 1),
        (SELECT p.treatment_level FROM pathways p WHERE p.id = t.pathway_id));
