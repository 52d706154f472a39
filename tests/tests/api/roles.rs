//! The server's database role (`rusreg_server`): the attacks on the append-only tables that
//! worked while the server ran as the tables' owner (a superuser in the managed cluster) fail as
//! the server's role, the bulk-load switch of the facts triggers holds only for the owner, the
//! facts of pathways changed are recomputed at commit whatever the role does in the transaction,
//! and the role has exactly the privileges of the matrix below.

use chrono::Duration;
use diesel::{Connection, PgConnection, RunQueryDsl};
use domain::access::Role;
use integration_tests::{report_facts_mismatches, worklist_facts_mismatches, TestApp, UNIT_MOLDE};

use crate::fixtures::{completed_baseline, pathway_for_new_patient};

/// Runs `sql` in its own transaction (rolled back) and gives the database's error, if any.
fn attempt(conn: &mut PgConnection, sql: &str) -> Option<String> {
    let mut error = None;
    let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            if let Err(e) = diesel::sql_query(statement).execute(conn) {
                error = Some(e.to_string());
                return Err(e);
            }
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    error
}

/// What an attacker holding the server's database connection would try.
const ATTACKS: &[&str] = &[
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete; DELETE FROM audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "SET LOCAL session_replication_role = replica; UPDATE audit_log SET action = 'x'",
    "SET LOCAL session_replication_role = replica; DELETE FROM audit_log",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET action = 'x'",
    "TRUNCATE audit_log",
    "ALTER TABLE release_cells DISABLE TRIGGER release_cells_append_only; DELETE FROM release_cells",
    "SET LOCAL session_replication_role = replica; UPDATE release_cells SET value = 0",
    "DELETE FROM release_cells",
    "TRUNCATE release_cells",
    "ALTER TABLE releases DISABLE TRIGGER releases_frozen; DELETE FROM releases",
    "SET LOCAL session_replication_role = replica; DELETE FROM releases",
    "UPDATE releases SET year = year + 1",
    "DELETE FROM completeness_snapshots",
    "TRUNCATE completeness_snapshots",
    "ALTER TABLE completeness_snapshots DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_no_update_or_delete ON audit_log",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
    "CREATE TABLE audit_log_copy (id bigint)",
    "ALTER ROLE CURRENT_USER SUPERUSER",
];

#[actix_web::test]
async fn the_server_role_cannot_rewrite_the_audit_log_or_the_frozen_releases() {
    let app = TestApp::spawn().await;
    // Something in every append-only table: an audit row (a login), a release with cells.
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let res =
        app.post("/api/v1/releases", &serde_json::json!({"year": 2025})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(app.count("audit_log") > 0 && app.count("release_cells") > 0);
    let mut server = app.db.server_conn();
    for attack in ATTACKS {
        let error = attempt(&mut server, attack);
        assert!(error.is_some(), "as the server's role, this succeeded: {attack}");
    }
    // The role itself: not superuser, owns nothing.
    #[derive(diesel::QueryableByName)]
    struct Facts {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        superuser: bool,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        owned: i64,
    }
    let facts: Facts = diesel::sql_query(
        "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, \
                (SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole) \
              + (SELECT count(*) FROM pg_proc WHERE proowner = current_user::regrole) AS owned",
    )
    .get_result(&mut server)
    .unwrap();
    assert!(!facts.superuser);
    assert_eq!(facts.owned, 0);
}

#[actix_web::test]
async fn the_bulk_load_switch_holds_only_for_the_owner() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let pathway = pathway_for_new_patient(&app, &registrar, unit.0, ("15076500565", 1965), 40, 1).await;
    let date = (domain::clock::today() - Duration::days(30)).to_string();
    completed_baseline(&app, &registrar, &pathway, &date).await;
    assert!(worklist_facts_mismatches(&mut app.conn()).is_empty());
    // The server's role switches the facts triggers "off" and moves the baseline's date: the
    // triggers still run, so the pathway's stored facts follow.
    let mut server = app.db.server_conn();
    diesel::sql_query("SET rusreg.bulk_load = 'on'").execute(&mut server).unwrap();
    diesel::sql_query("UPDATE forms SET event_date = event_date - 1 WHERE kind = 'baseline'")
        .execute(&mut server)
        .unwrap();
    assert_eq!(worklist_facts_mismatches(&mut app.conn()), Vec::<String>::new());
    // The owner (the bulk loader) may switch them off.
    #[derive(diesel::QueryableByName)]
    struct On {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        on: bool,
    }
    let mut owner = app.conn();
    diesel::sql_query("SET rusreg.bulk_load = 'on'").execute(&mut owner).unwrap();
    let on: On = diesel::sql_query("SELECT rusreg_bulk_load() AS on").get_result(&mut owner).unwrap();
    assert!(on.on);
    let on: On = diesel::sql_query("SELECT rusreg_bulk_load() AS on").get_result(&mut server).unwrap();
    assert!(!on.on);
}

/// What the server's role would try, in the transaction that changes a form, to keep the
/// pathway's facts from being recomputed at commit: the first three are allowed (and achieve
/// nothing), the database refuses the rest.
const FACTS_ATTACKS: &[&str] = &[
    "DELETE FROM pathway_facts_dirty",
    "SET CONSTRAINTS pathway_facts_dirty_refresh IMMEDIATE; DELETE FROM pathway_facts_dirty",
    "INSERT INTO pathway_facts_dirty (txid, pathway_id) SELECT txid_current() + 1, id FROM pathways",
    "ALTER TABLE pathway_facts_dirty DISABLE TRIGGER pathway_facts_dirty_refresh",
    "ALTER TABLE pathway_facts_dirty ALTER CONSTRAINT pathway_facts_dirty_refresh NOT DEFERRABLE",
    "SET LOCAL session_replication_role = replica",
    "TRUNCATE pathway_facts_dirty",
    "DROP TRIGGER pathway_facts_dirty_refresh ON pathway_facts_dirty",
    "CREATE OR REPLACE FUNCTION rusreg_pathway_facts_dirty_refresh() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
];

#[actix_web::test]
async fn the_server_role_cannot_keep_changed_facts_from_being_recomputed_at_commit() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let pathway = pathway_for_new_patient(&app, &registrar, unit.0, ("15076500565", 1965), 40, 1).await;
    let date = (domain::clock::today() - Duration::days(30)).to_string();
    completed_baseline(&app, &registrar, &pathway, &date).await;
    let mut server = app.db.server_conn();
    for (i, attack) in FACTS_ATTACKS.iter().enumerate() {
        // The baseline moves a day, then the attack; what the database allows is committed.
        let outcome = server.transaction::<(), diesel::result::Error, _>(|conn| {
            diesel::sql_query("UPDATE forms SET event_date = event_date - 1 WHERE kind = 'baseline'").execute(conn)?;
            for statement in attack.split("; ") {
                diesel::sql_query(statement).execute(conn)?;
            }
            Ok(())
        });
        assert_eq!(outcome.is_ok(), i < 3, "{attack}: {outcome:?}");
        assert_eq!(report_facts_mismatches(&mut app.conn()), Vec::<String>::new(), "{attack}");
        assert_eq!(worklist_facts_mismatches(&mut app.conn()), Vec::<String>::new(), "{attack}");
        assert_eq!(app.count("pathway_facts_dirty"), 0, "{attack}");
    }
}

/// The server's privileges per table: S(elect), I(nsert), U(pdate), D(elete); `releases`,
/// `releases`, `release_jobs`, `grants`, `service_facts`, `user_identities`, `oidc_clients` and the
/// residence reference tables have UPDATE on some columns only (checked below). A new table must be added here (and granted in its migration).
const MATRIX: &[(&str, &str)] = &[
    ("__diesel_schema_migrations", "S"),
    ("audit_log", "SI"),
    ("baseline_forms", "SIUD"),
    ("catchment_areas", "SI"),
    ("completeness_snapshots", "SI"),
    ("digest_days", "SI"),
    ("discharge_forms", "SIUD"),
    ("dpop_proofs", "SIUD"),
    ("follow_up_forms", "SIUD"),
    ("form_history", "SI"),
    ("form_substances", "SID"),
    ("forms", "SIU"),
    ("grants", "SI"),
    ("import_errors", "SI"),
    ("import_jobs", "SIUD"),
    ("import_keys", "SIUD"),
    ("measurement_forms", "SIUD"),
    ("npr_counts", "SIU"),
    ("oidc_clients", "SI"),
    ("order_access_codes", "SIU"),
    ("order_status_history", "SI"),
    ("orders", "SIU"),
    ("org_links", "SIU"),
    ("org_nodes", "SIU"),
    ("outbox_messages", "SIU"),
    ("pathway_facts_dirty", "SID"),
    ("pathway_status_history", "SI"),
    ("pathway_transfers", "SI"),
    ("pathways", "SIU"),
    ("patients", "SID"),
    ("populations", "SI"),
    ("release_cells", "SI"),
    ("release_counts", "SI"),
    ("release_jobs", "SI"),
    ("releases", "SI"),
    ("research_deliveries", "SI"),
    ("research_delivery_patients", "SI"),
    ("research_projects", "SI"),
    ("research_reservation_notices", "SI"),
    ("reservations", "SIU"),
    ("residence_areas", "SI"),
    ("service_facts", "SI"),
    ("user_identities", "SI"),
    ("users", "SIU"),
];

#[test]
fn the_server_role_has_exactly_the_privileges_of_the_matrix() {
    let db = integration_tests::TestDb::new();
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        privileges: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT c.relname::text AS name, \
                concat(CASE WHEN has_table_privilege('rusreg_server', c.oid, 'SELECT') THEN 'S' END, \
                       CASE WHEN has_table_privilege('rusreg_server', c.oid, 'INSERT') THEN 'I' END, \
                       CASE WHEN has_table_privilege('rusreg_server', c.oid, 'UPDATE') THEN 'U' END, \
                       CASE WHEN has_table_privilege('rusreg_server', c.oid, 'DELETE') THEN 'D' END, \
                       CASE WHEN has_table_privilege('rusreg_server', c.oid, 'TRUNCATE') THEN 'T' END, \
                       CASE WHEN has_table_privilege('rusreg_server', c.oid, 'REFERENCES') THEN 'R' END, \
                       CASE WHEN has_table_privilege('rusreg_server', c.oid, 'TRIGGER') THEN 'G' END) AS privileges \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1",
    )
    .load(&mut db.conn())
    .unwrap();
    let expected: Vec<Row> = MATRIX
        .iter()
        .map(|(name, privileges)| Row { name: (*name).into(), privileges: (*privileges).into() })
        .collect();
    assert_eq!(rows, expected);
    // Column privileges: only a release's status, publisher and time can be updated.
    assert_eq!(updatable_columns(&db, "releases"), ["published_at", "published_by", "status"]);
    assert_eq!(
        updatable_columns(&db, "grants"),
        ["approved_by", "revoked_at", "revoked_by", "valid_from"],
        "approval and revocation only"
    );
    assert_eq!(updatable_columns(&db, "service_facts"), ["valid_to"], "a service period can only be closed");
    assert_eq!(
        updatable_columns(&db, "release_jobs"),
        ["attempts", "finished_at", "heartbeat_at", "problem", "release_id", "started_at", "status"],
        "a release job's progress only, never who queued it or what"
    );
    assert_eq!(updatable_columns(&db, "residence_areas"), ["name", "successor", "valid_to"], "corrections only");
    assert_eq!(updatable_columns(&db, "catchment_areas"), ["trust_id", "valid_to"], "corrections only");
    assert_eq!(updatable_columns(&db, "populations"), ["persons", "synthetic"], "a count is replaced, never moved");
    assert_eq!(
        updatable_columns(&db, "research_reservation_notices"),
        ["told_at", "told_by"],
        "a research notice is only ever marked told"
    );
    for table in ["user_identities", "oidc_clients"] {
        assert_eq!(updatable_columns(&db, table), ["revoked_at", "revoked_by"], "{table}: revocation only");
    }
}

/// The columns of `table` the server's role may update (a column-level grant).
fn updatable_columns(db: &integration_tests::TestDb, table: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT column_name::text AS name FROM information_schema.column_privileges \
         WHERE grantee = 'rusreg_server' AND table_name = $1 AND privilege_type = 'UPDATE' ORDER BY 1",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .load::<Column>(&mut db.conn())
    .unwrap()
    .into_iter()
    .map(|c| c.name)
    .collect()
}
