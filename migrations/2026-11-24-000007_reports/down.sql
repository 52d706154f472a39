DROP TABLE release_cells;
DROP FUNCTION rusreg_release_cells_append_only();
DROP FUNCTION rusreg_release_cells_with_release();
DROP TABLE releases;
DROP FUNCTION rusreg_releases_frozen();
DROP TABLE npr_counts;
