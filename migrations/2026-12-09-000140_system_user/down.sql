-- Fails (foreign keys of forms, form_history, pathway status changes) while anything the system
-- recorded remains: such forms must be reassigned or removed first.
ALTER TABLE user_identities DROP CONSTRAINT user_identities_not_the_system;
ALTER TABLE grants DROP CONSTRAINT grants_not_to_the_system;
ALTER TABLE users DROP CONSTRAINT users_system_never_signs_in;
DELETE FROM users WHERE id = '00000000-0000-0000-0000-000000000001';
