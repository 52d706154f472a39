DROP TABLE import_keys;
DROP TABLE import_errors;
DROP TABLE import_jobs;
