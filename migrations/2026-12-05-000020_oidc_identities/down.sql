-- The identities and client registrations go; the users made for clients stay (disabled ones
-- remain disabled) with their grants.
DROP TABLE oidc_clients;
DROP TABLE user_identities;
