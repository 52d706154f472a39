DROP TRIGGER discharge_forms_worklist_facts ON discharge_forms;
DROP TRIGGER forms_worklist_facts_update ON forms;
DROP TRIGGER forms_worklist_facts_insert_delete ON forms;
DROP FUNCTION rusreg_discharge_forms_worklist_facts();
DROP FUNCTION rusreg_forms_worklist_facts();
DROP FUNCTION rusreg_refresh_worklist_facts(uuid);
DROP FUNCTION rusreg_worklist_facts(uuid);
ALTER TABLE pathways
    DROP COLUMN anchor_date,
    DROP COLUMN last_form_date,
    DROP COLUMN discharge_date,
    DROP COLUMN discharge_ending,
    DROP COLUMN discharge_contact_consent_1y,
    DROP COLUMN follow_up_done;
