//! Logins under attack: attempts are limited per source address and per typed username (429 with
//! Retry-After), and a failed login's audit row holds the typed username only as a keyed hash,
//! by which register staff can still find the failures of a known username.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};
use serde_json::Value;

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post("/api/v1/auth/token", &json!({"username": username, "password": password})).send().await.unwrap()
}

/// Audit rows whose detail mentions `text` anywhere (but `user.create`: an admin's new user is
/// named by design).
fn audit_rows_mentioning(app: &TestApp, text: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT action || ' ' || detail::text AS line FROM audit_log WHERE detail::text LIKE $1 AND action <> 'user.create'")
        .bind::<diesel::sql_types::Text, _>(format!("%{text}%"))
        .load::<Row>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.line)
        .collect()
}

#[actix_web::test]
async fn a_failed_login_stores_the_typed_username_only_as_a_keyed_hash() {
    let app = TestApp::spawn().await;
    app.user_with("kari-registrar", Role::Registrar, app.unit(UNIT_MOLDE));
    // A wrong password for a real user, and an unknown name (a national id typed into the
    // username field).
    assert_eq!(login(&app, "kari-registrar", "wrong password!!").await.status(), 401);
    assert_eq!(login(&app, "12038840205", "wrong password!!").await.status(), 401);
    assert_eq!(app.audit_count("auth.login"), 2);
    let clear: Vec<String> =
        ["kari-registrar", "12038840205"].iter().flat_map(|n| audit_rows_mentioning(&app, n)).collect();
    assert!(clear.is_empty(), "typed usernames stored in clear: {clear:?}");
    // Register staff find the failures by the username, which is hashed for the search.
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    for (typed, reason) in [("kari-registrar", "wrong_password"), ("12038840205", "unknown_user")] {
        let res = app
            .post("/api/v1/audit/login-failures", &json!({"username": typed}))
            .bearer_auth(&staff)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        assert_eq!(page["total"], 1, "{typed}: {page}");
        assert_eq!(page["items"][0]["detail"]["reason"], reason, "{page}");
        assert!(!page.to_string().contains(typed), "{page}");
    }
    // Nor is the searched name stored by the search's own audit row.
    assert!(audit_rows_mentioning(&app, "kari-registrar").is_empty());
    // Only register staff search.
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let res = app
        .post("/api/v1/audit/login-failures", &json!({"username": "kari-registrar"}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[actix_web::test]
async fn login_attempts_beyond_the_limit_per_username_are_429_with_retry_after() {
    // The default limit: 10 attempts a minute for one username.
    let app = TestApp::spawn().await;
    for i in 0..10 {
        assert_eq!(login(&app, "guessed-name", "wrong password!!").await.status(), 401, "attempt {i}");
    }
    let res = login(&app, "guessed-name", "wrong password!!").await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "too_many_requests");
    // A refused attempt is not even looked at: no audit row, no lockout counting.
    assert_eq!(app.audit_count("auth.login"), 10);
    // Another username from the same address is still answered.
    assert_eq!(login(&app, "other-name", "wrong password!!").await.status(), 401);
}

#[actix_web::test]
async fn login_attempts_beyond_the_limit_per_address_are_429() {
    let app = TestApp::spawn_with(|s| s.login_limit_per_address = 5).await;
    for i in 0..5 {
        assert_eq!(login(&app, &format!("name-{i}"), "wrong password!!").await.status(), 401);
    }
    let res = login(&app, "name-5", "wrong password!!").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.audit_count("auth.login"), 5);
}
