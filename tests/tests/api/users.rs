//! Users and grants (admin), and the audit log's filters (register staff).

use domain::access::Role;
use integration_tests::{json, TestApp, TEST_PASSWORD, UNIT_MOLDE};
use serde_json::Value;

#[actix_web::test]
async fn an_admin_creates_a_user_grants_a_role_and_the_user_can_work() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let unit = app.unit(UNIT_MOLDE);
    let res = app
        .post(
            "/api/v1/users",
            &json!({"username": "ola.nordmann", "display_name": "Ola Nordmann", "password": "a long enough password"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let user: Value = res.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    assert!(user.get("password_hash").is_none(), "the hash is never sent");
    // The same username again is a conflict.
    let res = app
        .post(
            "/api/v1/users",
            &json!({"username": "ola.nordmann", "display_name": "Other", "password": "a long enough password"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "username_taken");
    // A role at the wrong kind of node is refused; at the right one it is granted.
    let res = app
        .post(&format!("/api/v1/users/{id}/grants"), &json!({"role": "register_contact", "node_id": unit.0}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .post(&format!("/api/v1/users/{id}/grants"), &json!({"role": "unit_contact", "node_id": unit.0}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = app.login("ola.nordmann", "a long enough password").await;
    let me: Value = app.get("/api/v1/me").bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["grants"][0]["role"], "unit_contact");
    let users: Value = app.get("/api/v1/users").bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert!(users["items"].as_array().unwrap().iter().any(|u| u["username"] == "ola.nordmann"));
    assert_eq!(app.audit_count("user.create"), 2, "the test admin (by the harness) and ola");
    assert_eq!(app.audit_count("grant.add"), 1);
}

#[actix_web::test]
async fn bad_user_input_lists_every_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let before = app.count("users");
    let res = app
        .post("/api/v1/users", &json!({"username": "Not Valid", "display_name": "", "password": "short"}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["username", "display_name", "password"]);
    assert_eq!(app.count("users"), before);
    let res = app
        .post(
            &format!("/api/v1/users/{}/grants", uuid::Uuid::new_v4()),
            &json!({"role": "admin", "node_id": app.nation().0}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn the_audit_log_filters_by_user_and_time() {
    let app = TestApp::spawn().await;
    let kari = app.user_with("kari", Role::Registrar, app.unit(UNIT_MOLDE));
    app.login("kari", TEST_PASSWORD).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let page: Value =
        app.get(&format!("/api/v1/audit?user={kari}")).bearer_auth(&staff).send().await.unwrap().json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["user_id"] == kari.to_string()));
    assert!(items.iter().any(|e| e["action"] == "auth.login"));
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let page: Value = app
        .get("/api/v1/audit")
        .query(&[("from", future.as_str())])
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 0);
    let res = app
        .get("/api/v1/audit")
        .query(&[("from", future.as_str()), ("to", "2020-01-01T00:00:00Z")])
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // Reading the log is itself logged.
    assert!(app.audit_count("audit.read") >= 2);
}
