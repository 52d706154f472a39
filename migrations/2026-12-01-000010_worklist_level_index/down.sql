DROP INDEX CONCURRENTLY IF EXISTS pathways_worklist_level;
