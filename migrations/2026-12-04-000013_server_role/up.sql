-- The server's own database role, `rusreg_server`, and exactly what it may do.
--
-- Migrations run as the owner of the schema (`rusreg_owner` in the managed cluster and in deploy/);
-- the API server connects as `rusreg_server`, which owns nothing, is not superuser, and gets only
-- the privileges below. It can therefore neither disable a trigger (ALTER TABLE needs the owner)
-- nor set `session_replication_role` (superuser only), and the append-only tables (audit log,
-- releases, release cells, completeness snapshots) give it no UPDATE (but for publishing a
-- release's status), DELETE or TRUNCATE. A table added by a later migration gives the server
-- nothing until that migration grants it; tests/tests/api/roles.rs holds the expected matrix.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rusreg_server') THEN
    BEGIN
      CREATE ROLE rusreg_server NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION 'the role rusreg_server does not exist and the migrating role may not create it: '
        'create it first (docs/operations.md, "Database roles")';
    END;
  END IF;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM rusreg_server;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM rusreg_server;
GRANT USAGE ON SCHEMA public TO rusreg_server;

-- The organisation tree, users and grants (administration).
GRANT SELECT, INSERT, UPDATE ON org_nodes, org_links, users TO rusreg_server;
GRANT SELECT, INSERT, DELETE ON grants TO rusreg_server;
-- Registration. Patients are deleted when the person reserves themselves (the pathways and forms
-- go with them by the foreign keys' cascade, which runs with the owner's rights).
GRANT SELECT, INSERT, DELETE ON patients TO rusreg_server;
GRANT SELECT, INSERT, UPDATE ON reservations, pathways, forms TO rusreg_server;
GRANT SELECT, INSERT ON pathway_transfers, pathway_status_history, form_history TO rusreg_server;
GRANT SELECT, INSERT, UPDATE, DELETE ON baseline_forms, measurement_forms, discharge_forms, follow_up_forms
  TO rusreg_server;
GRANT SELECT, INSERT, DELETE ON form_substances TO rusreg_server;
-- Reports: NPR counts are replaced on re-import.
GRANT SELECT, INSERT, UPDATE ON npr_counts TO rusreg_server;
-- Append-only: the audit log, release cells and completeness snapshots; a release's status,
-- publisher and time are the only columns the server may change (the trigger allows only
-- draft -> published).
GRANT SELECT, INSERT ON audit_log, release_cells, completeness_snapshots, releases TO rusreg_server;
GRANT UPDATE (status, published_by, published_at) ON releases TO rusreg_server;
-- The migration table: read by the readiness check.
GRANT SELECT ON __diesel_schema_migrations TO rusreg_server;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO rusreg_server;

-- `SET rusreg.bulk_load = 'on'` switches the facts triggers off for a bulk load; anyone may set a
-- custom setting, so it now holds only for a member of the tables' owner (the loader).
CREATE FUNCTION rusreg_bulk_load() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT current_setting('rusreg.bulk_load', true) IS NOT DISTINCT FROM 'on'
     AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'public.forms'::regclass), 'USAGE')
$$;

DO $$
DECLARE
  t record;
  old_condition constant text := $c$(current_setting('rusreg.bulk_load'::text, true) IS DISTINCT FROM 'on'::text)$c$;
BEGIN
  FOR t IN
    SELECT tgname, tgrelid::regclass AS rel, pg_get_triggerdef(oid) AS def FROM pg_trigger
    WHERE NOT tgisinternal AND pg_get_triggerdef(oid) LIKE '%rusreg.bulk_load%'
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
    EXECUTE replace(t.def, old_condition, '(NOT rusreg_bulk_load())');
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE NOT tgisinternal AND pg_get_triggerdef(oid) LIKE '%rusreg.bulk_load%') THEN
    RAISE EXCEPTION 'a facts trigger still reads rusreg.bulk_load directly';
  END IF;
END
$$;
