//! Migrations: every down.sql and then every up.sql again; the audit log refuses changes.

use diesel::RunQueryDsl;
use integration_tests::{TestApp, TestDb};

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

fn tables(conn: &mut diesel::PgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
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
