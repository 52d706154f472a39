-- The worklist index of migration 000006, replaced by `pathways_worklist_level` (000010).
DROP INDEX CONCURRENTLY IF EXISTS pathways_worklist;
