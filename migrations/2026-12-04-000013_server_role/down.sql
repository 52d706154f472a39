-- The facts triggers read the bulk-load switch directly again; the server's role loses its
-- grants (the role itself stays: roles belong to the cluster, not to this database).
DO $$
DECLARE
  t record;
  old_condition constant text := $c$(current_setting('rusreg.bulk_load'::text, true) IS DISTINCT FROM 'on'::text)$c$;
BEGIN
  FOR t IN
    SELECT tgname, tgrelid::regclass AS rel, pg_get_triggerdef(oid) AS def FROM pg_trigger
    WHERE NOT tgisinternal AND pg_get_triggerdef(oid) LIKE '%rusreg_bulk_load()%'
  LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
    EXECUTE replace(t.def, '(NOT rusreg_bulk_load())', old_condition);
  END LOOP;
END
$$;
DROP FUNCTION rusreg_bulk_load();

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM rusreg_server;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM rusreg_server;
REVOKE USAGE ON SCHEMA public FROM rusreg_server;
