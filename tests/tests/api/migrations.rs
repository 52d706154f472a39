//! Migrations: every down.sql and then every up.sql again; each down.sql gives back exactly the
//! schema before its up.sql; schema.rs matches the migrated database; the audit log refuses
//! changes.

use diesel::RunQueryDsl;
use integration_tests::{TestApp, TestDb};

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The `name` column of every row of `sql`.
fn lines(conn: &mut diesel::PgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql).load::<Name>(conn).unwrap().into_iter().map(|n| n.name).collect()
}

fn tables(conn: &mut diesel::PgConnection) -> Vec<String> {
    lines(
        conn,
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
}

#[test]
fn every_migration_goes_down_and_up_again() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let before = tables(&mut conn);
    assert!(before.contains(&"audit_log".to_owned()));
    let reverted = persistence::migrations::revert_all(&mut conn).unwrap();
    assert!(!reverted.is_empty());
    assert!(tables(&mut conn).is_empty(), "down.sql leaves no table behind");
    let applied = persistence::migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied.len(), reverted.len());
    assert_eq!(tables(&mut conn), before);
}

/// Everything a migration can create in the public schema, one line per object, sorted: tables
/// with their columns in order (type, nullability, default), constraints, indexes, functions
/// (their whole definition), triggers and views. A constraint's validity is left out: a down.sql
/// may put a CHECK back `NOT VALID` where rows the newer schema accepted may remain (000005).
fn schema_snapshot(conn: &mut diesel::PgConnection) -> Vec<String> {
    lines(
        conn,
        "SELECT 'column ' || c.relname || ' ' || string_agg(format('%s %s%s%s', a.attname, \
                    format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, \
                    coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')), ', ' ORDER BY a.attnum) AS name \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm') AND c.relname <> '__diesel_schema_migrations' \
         GROUP BY c.relname \
         UNION ALL \
         SELECT format('constraint %s %s %s', r.conrelid::regclass, r.conname, \
                       replace(pg_get_constraintdef(r.oid), ' NOT VALID', '')) \
         FROM pg_constraint r JOIN pg_namespace n ON n.oid = r.connamespace \
         WHERE n.nspname = 'public' AND r.conrelid <> 0 \
           AND r.conrelid::regclass::text <> '__diesel_schema_migrations' \
         UNION ALL \
         SELECT format('index %s', indexdef) FROM pg_indexes \
         WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations' \
         UNION ALL \
         SELECT format('function %s', pg_get_functiondef(p.oid)) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' AND p.prokind = 'f' \
         UNION ALL \
         SELECT format('trigger %s', pg_get_triggerdef(t.oid)) \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND NOT t.tgisinternal \
         UNION ALL \
         SELECT format('view %s %s', viewname, definition) FROM pg_views WHERE schemaname = 'public' \
         ORDER BY 1",
    )
}

#[test]
fn each_down_sql_restores_exactly_the_schema_before_its_up_sql() {
    let db = TestDb::new();
    let mut conn = db.conn();
    persistence::migrations::revert_all(&mut conn).unwrap();
    // Up one at a time, the schema after each.
    let mut snapshots = vec![("(none)".to_owned(), schema_snapshot(&mut conn))];
    assert!(snapshots[0].1.is_empty(), "{:#?}", snapshots[0].1);
    while let Some(version) = persistence::migrations::run_next(&mut conn).unwrap() {
        snapshots.push((version, schema_snapshot(&mut conn)));
    }
    assert!(snapshots.len() > 8, "every migration applied");
    // Down one at a time: each down.sql gives back the schema of the migration before it.
    while let Some(version) = persistence::migrations::revert_last(&mut conn).unwrap() {
        let (applied, _) = snapshots.pop().unwrap();
        assert_eq!(version, applied);
        let (before, expected) = snapshots.last().unwrap();
        let now = schema_snapshot(&mut conn);
        let missing: Vec<_> = expected.iter().filter(|l| !now.contains(l)).collect();
        let extra: Vec<_> = now.iter().filter(|l| !expected.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "reverting {version} does not give back the schema of {before}:\nmissing {missing:#?}\nleft over {extra:#?}"
        );
    }
    assert_eq!(snapshots.len(), 1);
    persistence::migrations::run_pending(&mut conn).unwrap();
}

/// The PostgreSQL type (`format_type`) a column type of schema.rs stands for, and whether it
/// may be NULL.
fn pg_type_of(diesel_type: &str) -> (String, bool) {
    let (inner, nullable) = match diesel_type.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
        Some(inner) => (inner, true),
        None => (diesel_type, false),
    };
    if let Some(element) = inner.strip_prefix("Array<").and_then(|t| t.strip_suffix('>')) {
        let element = element.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')).unwrap_or(element);
        return (format!("{}[]", pg_type_of(element).0), nullable);
    }
    let pg = match inner {
        "Int2" => "smallint",
        "Int4" => "integer",
        "Int8" => "bigint",
        "Bool" => "boolean",
        "Text" => "text",
        "Uuid" => "uuid",
        "Date" => "date",
        "Timestamptz" => "timestamp with time zone",
        "Bytea" => "bytea",
        "Jsonb" => "jsonb",
        other => panic!("schema.rs uses {other}: add it to pg_type_of"),
    };
    (pg.to_owned(), nullable)
}

/// The tables of crates/persistence/src/schema.rs as lines `table (primary key): column type
/// [not null], ...`, read from the file's `diesel::table!` blocks.
fn tables_of_schema_rs() -> Vec<String> {
    let text = include_str!("../../../crates/persistence/src/schema.rs");
    let mut tables = Vec::new();
    for block in text.split("diesel::table! {").skip(1) {
        let mut rows = block.lines().map(str::trim).filter(|l| !l.is_empty());
        let head = rows.next().unwrap().trim_end_matches(" {");
        let (name, key) = head.split_once(' ').unwrap();
        let mut columns = Vec::new();
        for line in rows.take_while(|l| *l != "}") {
            let (column, ty) = line.trim_end_matches(',').split_once(" -> ").unwrap();
            let (pg, nullable) = pg_type_of(ty);
            columns.push(format!("{column} {pg}{}", if nullable { "" } else { " not null" }));
        }
        tables.push(format!("{name} {}: {}", key.replace(", ", ","), columns.join(", ")));
    }
    tables.sort();
    tables
}

/// The same lines for the tables of the migrated database.
fn tables_of_database(conn: &mut diesel::PgConnection) -> Vec<String> {
    lines(
        conn,
        "SELECT format('%s (%s): %s', c.relname, \
                       (SELECT string_agg(k.attname, ',' ORDER BY array_position(i.indkey, k.attnum)) \
                        FROM pg_index i JOIN pg_attribute k ON k.attrelid = c.oid AND k.attnum = ANY (i.indkey) \
                        WHERE i.indrelid = c.oid AND i.indisprimary), \
                       string_agg(format('%s %s%s', a.attname, format_type(a.atttypid, a.atttypmod), \
                                         CASE WHEN a.attnotnull THEN ' not null' ELSE '' END), \
                                  ', ' ORDER BY a.attnum)) AS name \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '__diesel_schema_migrations' \
         GROUP BY c.oid, c.relname ORDER BY 1",
    )
}

/// schema.rs is what `diesel print-schema` would write for the migrated database: the same
/// tables, primary keys, columns in order, types and nullability (CI has no diesel_cli).
#[test]
fn schema_rs_matches_the_migrated_database() {
    let db = TestDb::new();
    let database = tables_of_database(&mut db.conn());
    let schema_rs = tables_of_schema_rs();
    assert!(schema_rs.len() >= 20, "{schema_rs:#?}");
    let missing: Vec<_> = database.iter().filter(|t| !schema_rs.contains(t)).collect();
    let stale: Vec<_> = schema_rs.iter().filter(|t| !database.contains(t)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "schema.rs differs from the database:\nin the database {missing:#?}\nin schema.rs {stale:#?}"
    );
}

#[test]
fn migration_000009_backfills_the_treatment_levels_of_forms_already_there() {
    let db = TestDb::new();
    let mut conn = db.conn();
    for version in [
        "20261204000016",
        "20261204000015",
        "20261204000014",
        "20261203000012",
        "20261201000011",
        "20261201000010",
        "20261201000009",
    ] {
        assert_eq!(persistence::migrations::revert_last(&mut conn).unwrap().as_deref(), Some(version));
    }
    // At 000008: a pathway opened inpatient (3) with a baseline and three completed points at
    // levels 3, 1 and 1 (the last two on the same day), a draft point at level 3 after them, and
    // a pathway with one point whose typed row has no level.
    let sql = "
        INSERT INTO users (id, username, display_name, password_hash)
            VALUES ('00000000-0000-4000-8000-00000000000a', 'backfill', 'Backfill', '-');
        INSERT INTO patients (id, pseudonym, national_id_enc, sex, birth_year, registered_by)
            SELECT ('00000000-0000-4000-8000-0000000001' || n)::uuid, sha256(n::text::bytea),
                   decode(repeat('00', 39), 'hex'), 1, 1980, '00000000-0000-4000-8000-00000000000a'
            FROM unnest(ARRAY['01', '02']) n;
        INSERT INTO pathways (id, patient_id, unit_id, opened_unit_id, start_date, treatment_level, status, created_by)
            SELECT ('00000000-0000-4000-8000-0000000002' || n)::uuid, ('00000000-0000-4000-8000-0000000001' || n)::uuid,
                   u.id, u.id, '2025-01-01', 3, 1, '00000000-0000-4000-8000-00000000000a'
            FROM unnest(ARRAY['01', '02']) n,
                 (SELECT id FROM org_nodes WHERE kind = 'unit' ORDER BY id LIMIT 1) u;
        INSERT INTO forms (id, pathway_id, kind, unit_id, event_date, status, created_by, updated_by, completed_by,
                           completed_at)
            SELECT ('00000000-0000-4000-8000-0000000003' || f.n)::uuid, ('00000000-0000-4000-8000-0000000002' || f.p)::uuid,
                   f.kind, p.unit_id, f.day::date, f.status, p.created_by, p.created_by,
                   CASE WHEN f.status = 'completed' THEN p.created_by END,
                   CASE WHEN f.status = 'completed' THEN now() END
            FROM (VALUES ('01', '01', 'baseline', '2025-01-05', 'completed'),
                         ('02', '01', 'measurement', '2025-02-01', 'completed'),
                         ('03', '01', 'measurement', '2025-03-20', 'completed'),
                         ('04', '01', 'measurement', '2025-03-20', 'completed'),
                         ('05', '01', 'measurement', '2025-04-01', 'draft'),
                         ('06', '02', 'measurement', '2025-02-01', 'completed')) f (n, p, kind, day, status)
            JOIN pathways p ON p.id = ('00000000-0000-4000-8000-0000000002' || f.p)::uuid;
        INSERT INTO baseline_forms (form_id) VALUES ('00000000-0000-4000-8000-000000000301');
        INSERT INTO measurement_forms (form_id, treatment_level)
            VALUES ('00000000-0000-4000-8000-000000000302', 3), ('00000000-0000-4000-8000-000000000303', 1),
                   ('00000000-0000-4000-8000-000000000304', 1), ('00000000-0000-4000-8000-000000000305', 3),
                   ('00000000-0000-4000-8000-000000000306', NULL);";
    diesel::connection::SimpleConnection::batch_execute(&mut conn, sql).unwrap();
    while persistence::migrations::run_next(&mut conn).unwrap().is_some() {}
    let mismatches = integration_tests::report_facts_mismatches(&mut conn);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let levels = lines(
        &mut conn,
        "SELECT format('pathway %s: %s', right(id::text, 2), current_treatment_level) AS name FROM pathways \
         UNION ALL \
         SELECT format('form %s: %s', right(id::text, 2), previous_treatment_level) FROM forms \
         WHERE kind = 'measurement' ORDER BY 1",
    );
    assert_eq!(
        levels,
        [
            // the first point counts from the opening level; the same-day points from each other
            // (gap 0) and the draft from the higher id of them
            "form 02: ",
            "form 03: 1",
            "form 04: 1",
            "form 05: 1",
            "form 06: ",
            "pathway 01: 1",
            "pathway 02: ",
        ]
    );
}

#[actix_web::test]
async fn the_audit_log_refuses_update_delete_and_truncate() {
    let app = TestApp::spawn().await;
    // A failed login writes a row.
    let res = app
        .post("/api/v1/auth/token", &serde_json::json!({"username": "x-y-z", "password": "nope nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.count("audit_log"), 1);
    let mut conn = app.conn();
    for sql in ["UPDATE audit_log SET outcome = 'success'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = diesel::sql_query(sql).execute(&mut conn).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(app.count("audit_log"), 1);
}
