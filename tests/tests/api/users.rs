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

async fn send_json(app: &TestApp, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    let req = match method {
        "GET" => app.get(path),
        "POST" => app.post(path, &body.unwrap_or_else(|| json!({}))),
        "DELETE" => app.delete(path),
        "PATCH" => app.patch(path, &body.unwrap_or_else(|| json!({}))),
        other => panic!("method {other}"),
    };
    let res = req.bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

async fn my_id(app: &TestApp, token: &str) -> String {
    send_json(app, "GET", "/api/v1/me", None, token).await.1["id"].as_str().unwrap().to_owned()
}

/// Segregation of duties: an admin may not grant itself a role that reads patients or the audit
/// log, nor remove or approve its own grants.
#[actix_web::test]
async fn an_admin_may_not_add_approve_or_remove_its_own_grants() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let me = my_id(&app, &admin).await;
    let unit = app.unit(UNIT_MOLDE);
    let grants = format!("/api/v1/users/{me}/grants");
    for (role, node) in [("registrar", unit.0), ("register_staff", app.nation().0)] {
        let (status, body) =
            send_json(&app, "POST", &grants, Some(json!({"role": role, "node_id": node})), &admin).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("own_grant")), "{role}: {body}");
    }
    let refusals = app.audit_count("access.refused");
    let own: Value = send_json(&app, "GET", "/api/v1/me", None, &admin).await.1;
    let gid = own["grants"][0]["id"].as_i64().unwrap();
    let (status, body) = send_json(&app, "DELETE", &format!("{grants}/{gid}"), None, &admin).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("own_grant")), "{body}");
    let (status, body) = send_json(&app, "POST", &format!("{grants}/{gid}/approve"), None, &admin).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("own_grant")), "{body}");
    assert_eq!(app.audit_count("access.refused"), refusals + 2, "every refusal audited");
    let own: Value = send_json(&app, "GET", "/api/v1/me", None, &admin).await.1;
    assert_eq!(own["grants"].as_array().unwrap().len(), 1, "nothing added or removed: {own}");
    assert_eq!(app.audit_count("grant.add"), 0);
}

/// `register_staff` and `admin` grants are pending until a second, different admin approves
/// them; a pending grant gives no access at all. Every grant, approval and revocation is audited.
#[actix_web::test]
async fn register_staff_and_admin_grants_take_effect_only_after_a_second_admin_approves() {
    let app = TestApp::spawn().await;
    let nation = app.nation().0;
    let first = app.token_for(Role::Admin, app.nation()).await;
    let second = app.token_for(Role::Admin, app.nation()).await;
    let kari = app.user_with("kari", Role::Registrar, app.unit(UNIT_MOLDE));
    let grants = format!("/api/v1/users/{kari}/grants");

    let body = json!({"role": "register_staff", "node_id": nation, "reason": "new register secretary"});
    let (status, grant) = send_json(&app, "POST", &grants, Some(body), &first).await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!((grant["status"].as_str(), grant["reason"].as_str()), (Some("pending"), Some("new register secretary")));
    let gid = grant["id"].as_i64().unwrap();

    // Pending: kari logs in as before, but the grant gives nothing.
    let token = app.login("kari", TEST_PASSWORD).await;
    assert_eq!(send_json(&app, "GET", "/api/v1/audit", None, &token).await.0, 403);
    assert_eq!(send_json(&app, "GET", "/api/v1/reservations", None, &token).await.0, 403);
    let me = send_json(&app, "GET", "/api/v1/me", None, &token).await.1;
    let pending: Vec<&Value> = me["grants"].as_array().unwrap().iter().filter(|g| g["status"] == "pending").collect();
    assert_eq!(pending.len(), 1, "{me}");

    // The admin who granted it may not approve it; another admin may, once.
    let approve = format!("{grants}/{gid}/approve");
    let (status, body) = send_json(&app, "POST", &approve, None, &first).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("second_admin_required")), "{body}");
    assert_eq!(send_json(&app, "GET", "/api/v1/audit", None, &token).await.0, 403);
    let (status, approved) = send_json(&app, "POST", &approve, None, &second).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "active");
    assert_eq!(send_json(&app, "POST", &approve, None, &second).await.0, 409, "approved already");
    assert_eq!(send_json(&app, "GET", "/api/v1/audit", None, &token).await.0, 200, "the same token, now in effect");

    // A registrar grant needs no approval; an admin grant does.
    let ola = app.user_with("ola", Role::Registrar, app.unit(UNIT_MOLDE));
    let body = json!({"role": "admin", "node_id": nation});
    let (status, grant) = send_json(&app, "POST", &format!("/api/v1/users/{ola}/grants"), Some(body), &first).await;
    assert_eq!((status, grant["status"].as_str()), (201, Some("pending")));
    let ola_token = app.login("ola", TEST_PASSWORD).await;
    assert_eq!(send_json(&app, "GET", "/api/v1/users", None, &ola_token).await.0, 403, "a pending admin");

    // Revoked: access ends at once.
    let (status, _) = send_json(&app, "DELETE", &format!("{grants}/{gid}"), None, &second).await;
    assert_eq!(status, 204);
    assert_eq!(send_json(&app, "GET", "/api/v1/audit", None, &token).await.0, 403);
    assert_eq!(app.audit_count("grant.add"), 2);
    assert_eq!(app.audit_count("grant.approve"), 1);
    assert_eq!(app.audit_count("grant.remove"), 1);
}

/// The authorisation register: every grant with who, role, where, granted by, approved by,
/// from and to (revoked), and the reason; read by admins and register staff, paginated.
#[actix_web::test]
async fn the_authorisation_register_lists_grants_approvals_and_revocations() {
    let app = TestApp::spawn().await;
    let nation = app.nation().0;
    let first = app.token_for(Role::Admin, app.nation()).await;
    let second = app.token_for(Role::Admin, app.nation()).await;
    let (first_id, second_id) = (my_id(&app, &first).await, my_id(&app, &second).await);
    let kari = app.user_with("kari", Role::Registrar, app.unit(UNIT_MOLDE));
    let grants = format!("/api/v1/users/{kari}/grants");
    let body = json!({"role": "register_staff", "node_id": nation, "reason": "new register secretary"});
    let gid = send_json(&app, "POST", &grants, Some(body), &first).await.1["id"].as_i64().unwrap();
    assert_eq!(send_json(&app, "POST", &format!("{grants}/{gid}/approve"), None, &second).await.0, 200);
    assert_eq!(send_json(&app, "DELETE", &format!("{grants}/{gid}"), None, &first).await.0, 204);

    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    for token in [&first, &staff] {
        let (status, page) = send_json(&app, "GET", "/api/v1/authorisations?per_page=2", None, token).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!((page["page"].as_i64(), page["per_page"].as_i64()), (Some(1), Some(2)));
        assert!(page["total"].as_i64().unwrap() >= 5, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
    }
    let (_, page) = send_json(&app, "GET", &format!("/api/v1/authorisations?user={kari}"), None, &staff).await;
    let entry = page["items"].as_array().unwrap().iter().find(|e| e["grant_id"] == gid).unwrap().clone();
    assert_eq!(entry["username"], "kari");
    assert_eq!(entry["role"], "register_staff");
    assert_eq!(entry["node_id"], nation);
    assert_eq!(entry["granted_by"], first_id.as_str());
    assert_eq!(entry["approved_by"], second_id.as_str());
    assert_eq!(entry["revoked_by"], first_id.as_str());
    assert_eq!(entry["reason"], "new register secretary");
    assert_eq!(entry["status"], "revoked");
    assert!(entry["valid_from"].is_string() && entry["revoked_at"].is_string(), "{entry}");

    for role in [Role::Registrar, Role::RegisterContact] {
        let node = if role == Role::Registrar { app.unit(UNIT_MOLDE) } else { app.entity_of(app.unit(UNIT_MOLDE)) };
        let token = app.token_for(role, node).await;
        assert_eq!(send_json(&app, "GET", "/api/v1/authorisations", None, &token).await.0, 403, "{role:?}");
    }
    assert!(app.audit_count("authorisation.read") >= 3);
}

/// Found by schemathesis: a display name holding a NUL character ended in a 500 (PostgreSQL text
/// cannot hold it); now it is a 422 like any bad name, for a user, a record system and a unit.
#[actix_web::test]
async fn a_display_name_with_a_control_character_is_refused_not_a_500() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let unit = app.unit(UNIT_MOLDE);
    let entity = app.entity_of(unit);
    let res = app
        .post(
            "/api/v1/users",
            &json!({"username": "ola.nul", "display_name": "Ola\u{0}Nordmann", "password": "a long enough password"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/api/v1/clients",
            &json!({"client_id": "journal", "display_name": "Journal\u{0}", "legal_entity_id": entity.0,
                    "issuer": "https://helseid-sts.nhn.no"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .patch(&format!("/api/v1/org-units/{}", unit.0), &json!({"name": "Molde\u{0}"}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(app.count("oidc_clients"), 0);
}

/// The system's own user (migration 000140): the author of what rusreg records by itself. No one
/// signs in as it, an admin does not see it among the users, and it gets no grant, password,
/// identity or enabling (409 `system_user`); the database refuses a grant to it as well.
#[actix_web::test]
async fn the_system_user_cannot_sign_in_be_listed_changed_or_given_a_grant() {
    const SYSTEM: &str = "00000000-0000-0000-0000-000000000001";
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    for password in ["!", "a long enough password"] {
        let res =
            app.post("/api/v1/auth/token", &json!({"username": "system", "password": password})).send().await.unwrap();
        assert_eq!(res.status(), 401, "{password:?}");
    }
    let users: Value =
        app.get("/api/v1/users?per_page=500").bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = users["items"].as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    assert!(!names.contains(&"system") && !names.is_empty(), "{names:?}");
    assert_eq!(users["total"].as_i64(), Some(i64::try_from(names.len()).unwrap()), "the total leaves it out too");

    let unit = app.unit(UNIT_MOLDE);
    let grants = format!("/api/v1/users/{SYSTEM}/grants");
    for (role, node) in [("registrar", unit.0), ("admin", app.nation().0)] {
        let (status, body) =
            send_json(&app, "POST", &grants, Some(json!({"role": role, "node_id": node})), &admin).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("system_user")), "{role}: {body}");
    }
    let (status, body) = send_json(
        &app,
        "PATCH",
        &format!("/api/v1/users/{SYSTEM}"),
        Some(json!({"disabled": false, "password": "a long enough password"})),
        &admin,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("system_user")), "{body}");
    let res = app
        .post("/api/v1/auth/token", &json!({"username": "system", "password": "a long enough password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The operator's command line cannot make it a user either.
    let cli = app::users::ensure_user_with_grant(
        &mut app.conn(),
        "system",
        "x",
        "a long enough password",
        Role::Registrar,
        unit,
    );
    assert!(cli.is_err());
    // And the database holds the rule whatever the application does.
    use diesel::RunQueryDsl;
    let direct = diesel::sql_query(format!(
        "INSERT INTO grants (user_id, role, node_id) VALUES ('{SYSTEM}', 'registrar', {})",
        unit.0
    ))
    .execute(&mut app.conn());
    assert!(direct.is_err());
    assert_eq!(app.count(&format!("grants WHERE user_id = '{SYSTEM}'")), 0);
    assert_eq!(app.count(&format!("users WHERE id = '{SYSTEM}' AND disabled")), 1);
}
