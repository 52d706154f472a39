DROP TABLE release_counts;
DROP FUNCTION rusreg_release_counts_append_only();
