ALTER TABLE pathway_transfers
    DROP COLUMN treatment_level_at_transfer,
    DROP COLUMN status_at_transfer;
