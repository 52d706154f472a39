//! The backup and restore drill of docs/operations.md: a logical dump (pg_dump, custom format, as
//! the owner role) restored into an empty database (pg_restore, as the owner role) gives the
//! same register: the same rows, the audit log still append-only, the server's role still
//! limited, and the app serving from it with the same id key.

use diesel::RunQueryDsl;
use domain::access::Role;
use integration_tests::{bin_dir, TestApp, TestDb, UNIT_MOLDE};

use crate::fixtures::{completed_baseline, pathway_for_new_patient};

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn counts(conn: &mut diesel::PgConnection) -> Vec<Count> {
    diesel::sql_query(
        "SELECT 'patients' AS name, count(*) AS n FROM patients UNION ALL \
         SELECT 'pathways', count(*) FROM pathways UNION ALL SELECT 'forms', count(*) FROM forms UNION ALL \
         SELECT 'form_history', count(*) FROM form_history UNION ALL SELECT 'audit_log', count(*) FROM audit_log \
         UNION ALL SELECT 'users', count(*) FROM users UNION ALL SELECT 'org_nodes', count(*) FROM org_nodes",
    )
    .load(conn)
    .unwrap()
}

#[actix_web::test]
async fn a_dump_restores_into_an_empty_database_as_the_same_register() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    app.user_with("drill-registrar", Role::Registrar, unit);
    let registrar = app.login("drill-registrar", integration_tests::TEST_PASSWORD).await;
    let pathway = pathway_for_new_patient(&app, &registrar, unit.0, ("15076500565", 1965), 40, 1).await;
    let date = (domain::clock::today() - chrono::Duration::days(30)).to_string();
    completed_baseline(&app, &registrar, &pathway, &date).await;
    let before = counts(&mut app.conn());

    let dump = std::env::temp_dir().join(format!("rusreg-drill-{}.dump", uuid::Uuid::new_v4().simple()));
    let out = std::process::Command::new(bin_dir().join("pg_dump"))
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&app.db.url)
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    let restored = TestDb::empty();
    let out = std::process::Command::new(bin_dir().join("pg_restore"))
        .args(["--exit-on-error", "--no-owner", "--dbname"])
        .arg(&restored.url)
        .arg(&dump)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dump);
    assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));

    assert_eq!(counts(&mut restored.conn()), before);
    let refused = diesel::sql_query("DELETE FROM audit_log").execute(&mut restored.server_conn());
    assert!(refused.is_err(), "the server's role is as limited after the restore");
    let refused = diesel::sql_query("UPDATE audit_log SET action = 'x'").execute(&mut restored.conn());
    assert!(refused.is_err(), "the append-only trigger came back with the restore");

    // The app on the restored database reads the pathway (the same id key decrypts).
    let restored_app = TestApp::spawn_on(restored, |_| {}).await;
    let token = restored_app.login("drill-registrar", integration_tests::TEST_PASSWORD).await;
    let res = restored_app.get(&format!("/api/v1/pathways/{pathway}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
