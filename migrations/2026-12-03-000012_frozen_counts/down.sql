DROP TABLE completeness_snapshots;
DROP FUNCTION rusreg_snapshots_append_only();
