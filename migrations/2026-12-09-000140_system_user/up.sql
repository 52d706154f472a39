-- The system's own user (docs/patient-channel.md, The system user): the author of what rusreg
-- records by itself — a follow-up draft made when a patient signs in with a follow-up order, its
-- completion when the patient submits, and "not reached" when the last follow-up order expired.
-- Forms and their history name a user (NOT NULL foreign keys), so the system is one fixed row:
-- disabled, with a password hash that is no PHC string (nothing ever verifies against it), and
-- never holding a grant. The constraints keep it so whatever the application does.
INSERT INTO users (id, username, display_name, password_hash, disabled)
VALUES ('00000000-0000-0000-0000-000000000001', 'system', 'rusreg (system)', '!', true);

ALTER TABLE users ADD CONSTRAINT users_system_never_signs_in
    CHECK (id <> '00000000-0000-0000-0000-000000000001' OR (disabled AND password_hash = '!'));
ALTER TABLE grants ADD CONSTRAINT grants_not_to_the_system
    CHECK (user_id <> '00000000-0000-0000-0000-000000000001');
ALTER TABLE user_identities ADD CONSTRAINT user_identities_not_the_system
    CHECK (user_id <> '00000000-0000-0000-0000-000000000001');
