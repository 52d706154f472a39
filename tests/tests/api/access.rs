//! The access matrix of the foundation's endpoints: every role (at its home node and at a node
//! of another entity), no token — allowed or refused, and every refusal audited.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Allowed {
    Everyone,
    Only(Role),
}

#[actix_web::test]
async fn every_foundation_endpoint_follows_the_access_matrix() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let other_unit = app.unit(UNIT_ST_OLAV);
    let target_user = app.user_with("target-user", Role::Registrar, unit);
    let mut tokens = app.tokens_around(unit).await;
    // Out of scope: unit roles at a unit of another legal entity.
    tokens.push((Role::Registrar, app.token_for(Role::Registrar, other_unit).await));
    tokens.push((Role::UnitContact, app.token_for(Role::UnitContact, other_unit).await));
    tokens.push((Role::RegisterContact, app.token_for(Role::RegisterContact, app.entity_of(other_unit)).await));

    let entity = app.entity_of(unit);
    type Case = (&'static str, String, Option<Value>, Allowed, u16);
    let cases: Vec<Case> = vec![
        ("GET", "/api/v1/me".into(), None, Allowed::Everyone, 200),
        ("GET", "/api/v1/org-units".into(), None, Allowed::Everyone, 200),
        ("GET", format!("/api/v1/org-units/{}", unit.0), None, Allowed::Everyone, 200),
        (
            "POST",
            "/api/v1/org-units".into(),
            Some(
                json!({"kind": "unit", "name": "New unit (demo)", "resh_id": 9_100_000, "parent_id": entity.0, "is_demo": true}),
            ),
            Allowed::Only(Role::Admin),
            201,
        ),
        (
            "PATCH",
            format!("/api/v1/org-units/{}", unit.0),
            Some(json!({"name": "Molde (renamed, demo)"})),
            Allowed::Only(Role::Admin),
            200,
        ),
        (
            "POST",
            format!("/api/v1/org-units/{}/links", unit.0),
            Some(json!({"parent_id": entity.0, "valid_from": "2025-01-01"})),
            Allowed::Only(Role::Admin),
            201,
        ),
        ("GET", "/api/v1/users".into(), None, Allowed::Only(Role::Admin), 200),
        (
            "POST",
            "/api/v1/users".into(),
            Some(json!({"username": "new-user", "display_name": "New", "password": "a long enough password"})),
            Allowed::Only(Role::Admin),
            201,
        ),
        (
            "PATCH",
            format!("/api/v1/users/{target_user}"),
            Some(json!({"display_name": "Renamed"})),
            Allowed::Only(Role::Admin),
            200,
        ),
        (
            "POST",
            format!("/api/v1/users/{target_user}/grants"),
            Some(json!({"role": "unit_contact", "node_id": unit.0})),
            Allowed::Only(Role::Admin),
            201,
        ),
        ("GET", "/api/v1/audit".into(), None, Allowed::Only(Role::RegisterStaff), 200),
    ];

    for (method, path, body, allowed, ok_status) in &cases {
        // No token.
        let res = send(&app, method, path, body.as_ref(), None).await;
        assert_eq!(res, 401, "{method} {path} without a token");
        let mut allowed_once = false;
        for (role, token) in &tokens {
            let expect_ok = match allowed {
                Allowed::Everyone => true,
                Allowed::Only(r) => r == role,
            };
            // A creating request succeeds once; run the allowed role last so the refusals come first.
            if expect_ok && allowed_once && *method != "GET" {
                continue;
            }
            let before = app.audit_count("access.refused");
            let status = send(&app, method, path, body.as_ref(), Some(token)).await;
            if expect_ok {
                assert_eq!(status, *ok_status, "{method} {path} as {role:?}");
                allowed_once = true;
                assert_eq!(app.audit_count("access.refused"), before, "no refusal row for an allowed call");
            } else {
                assert_eq!(status, 403, "{method} {path} as {role:?}");
                assert_eq!(
                    app.audit_count("access.refused"),
                    before + 1,
                    "a refusal row for {method} {path} as {role:?}"
                );
            }
        }
    }
    // DELETE a grant: refused for everyone but the admin.
    let grant = app.user_with("grant-holder", Role::Registrar, unit);
    let gid = persistence::users::grants_of(&mut app.conn(), grant).unwrap()[0].id;
    let path = format!("/api/v1/users/{grant}/grants/{gid}");
    assert_eq!(send(&app, "DELETE", &path, None, None).await, 401);
    for (role, token) in &tokens {
        if *role != Role::Admin {
            assert_eq!(send(&app, "DELETE", &path, None, Some(token)).await, 403, "DELETE grant as {role:?}");
        }
    }
    let admin = &tokens.iter().find(|(r, _)| *r == Role::Admin).unwrap().1;
    assert_eq!(send(&app, "DELETE", &path, None, Some(admin)).await, 204);
    assert_eq!(send(&app, "DELETE", &path, None, Some(admin)).await, 404, "the grant is gone");
}

async fn send(app: &TestApp, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> u16 {
    let mut req = match method {
        "GET" => app.get(path),
        "POST" => app.post(path, body.unwrap_or(&json!({}))),
        "PATCH" => app.patch(path, body.unwrap_or(&json!({}))),
        "DELETE" => app.delete(path),
        other => panic!("method {other}"),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}
