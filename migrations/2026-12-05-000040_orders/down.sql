-- The patient's saves stay in the history as ordinary updates.
UPDATE form_history SET action = 'updated' WHERE action = 'answered_by_patient';
ALTER TABLE form_history DROP CONSTRAINT form_history_action_check;
ALTER TABLE form_history ADD CONSTRAINT form_history_action_check
    CHECK (action IN ('created', 'updated', 'completed', 'reopened'));
DROP TABLE order_access_codes;
DROP TABLE order_status_history;
DROP TABLE orders;
