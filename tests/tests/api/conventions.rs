//! API conventions: problem documents, bad input on every endpoint that takes a body (nothing
//! stored), the body limit, request ids, health, metrics, OpenAPI and Swagger UI.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};
use serde_json::Value;

/// Every endpoint with a JSON body, the tables it would write, and a body whose one field
/// has the wrong type.
fn body_endpoints(
    unit: i64,
    entity: i64,
    user: uuid::Uuid,
) -> Vec<(&'static str, String, Value, &'static [&'static str])> {
    vec![
        ("POST", "/api/v1/auth/token".into(), json!({"username": 7, "password": "x"}), &["users"]),
        ("POST", "/api/v1/me/password".into(), json!({"current_password": 1, "new_password": "x"}), &["users"]),
        (
            "POST",
            "/api/v1/org-units".into(),
            json!({"kind": "unit", "name": "X", "resh_id": "many", "parent_id": entity}),
            &["org_nodes", "org_links"],
        ),
        ("PATCH", format!("/api/v1/org-units/{unit}"), json!({"name": 12}), &["org_nodes"]),
        (
            "POST",
            format!("/api/v1/org-units/{unit}/links"),
            json!({"parent_id": entity, "valid_from": "not a date"}),
            &["org_links"],
        ),
        (
            "POST",
            "/api/v1/users".into(),
            json!({"username": ["x"], "display_name": "X", "password": "a long enough password"}),
            &["users"],
        ),
        ("PATCH", format!("/api/v1/users/{user}"), json!({"disabled": "yes"}), &["users"]),
        ("POST", format!("/api/v1/users/{user}/grants"), json!({"role": "registrar", "node_id": "one"}), &["grants"]),
        (
            "POST",
            format!("/api/v1/users/{user}/identities"),
            json!({"issuer": "https://issuer.example", "subject": 5}),
            &["user_identities"],
        ),
        (
            "POST",
            "/api/v1/clients".into(),
            json!({"client_id": "journal", "display_name": "Journal", "legal_entity_id": "one"}),
            &["oidc_clients", "users", "grants"],
        ),
    ]
}

#[actix_web::test]
async fn bad_bodies_get_a_clear_4xx_and_store_nothing() {
    let app = TestApp::spawn_with(|s| s.body_limit = 4096).await;
    let unit = app.unit(UNIT_MOLDE);
    let entity = app.entity_of(unit);
    let user = app.user_with("someone", Role::Registrar, unit);
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let tables = ["org_nodes", "org_links", "users", "grants", "user_identities", "oidc_clients"];
    let counts = |app: &TestApp| tables.map(|t| app.count(t));
    let before = counts(&app);
    let before_hashes: Vec<String> =
        persistence::users::list(&mut app.conn(), 100, 0).unwrap().0.into_iter().map(|u| u.password_hash).collect();
    for (method, path, wrong_type, _writes) in body_endpoints(unit.0, entity.0, user) {
        let send = |body: reqwest::Body, content_type: &str| {
            let req = match method {
                "POST" => app.client.post(app.url(&path)),
                _ => app.client.patch(app.url(&path)),
            };
            req.bearer_auth(&admin).header("content-type", content_type.to_owned()).body(body).send()
        };
        // Malformed JSON: 400.
        let res = send("{,".into(), "application/json").await.unwrap();
        assert_eq!(res.status(), 400, "{method} {path} malformed");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.json::<Value>().await.unwrap()["code"], "malformed_json");
        // Wrong type: 422 naming the field.
        let res = send(wrong_type.to_string().into(), "application/json").await.unwrap();
        assert_eq!(res.status(), 422, "{method} {path} wrong type");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "type", "{method} {path}: {body}");
        // Unknown field: 422 naming it.
        let mut with_extra = wrong_type.clone();
        with_extra.as_object_mut().unwrap().insert("surprise".into(), json!(1));
        let res = send(json!({"surprise": 1}).to_string().into(), "application/json").await.unwrap();
        assert_eq!(res.status(), 422, "{method} {path} unknown field");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["errors"].as_array().unwrap().iter().any(|e| e["field"] == "surprise" || e["code"] == "required"),
            "{body}"
        );
        // Oversized body: 413.
        let big = json!({"name": "x".repeat(10_000)}).to_string();
        let res = send(big.into(), "application/json").await.unwrap();
        assert_eq!(res.status(), 413, "{method} {path} oversized");
        // Not JSON: 415.
        let res = send("name=x".into(), "application/x-www-form-urlencoded").await.unwrap();
        assert_eq!(res.status(), 415, "{method} {path} form body");
    }
    assert_eq!(counts(&app), before, "nothing was stored");
    let after_hashes: Vec<String> =
        persistence::users::list(&mut app.conn(), 100, 0).unwrap().0.into_iter().map(|u| u.password_hash).collect();
    assert_eq!(before_hashes, after_hashes, "no password changed");
}

#[actix_web::test]
async fn invalid_organisation_numbers_and_levels_are_422_with_every_field() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let region = persistence::organisations::find_by_org_number(&mut app.conn(), "983658776").unwrap().unwrap();
    let before = (app.count("org_nodes"), app.count("org_links"));
    let res = app
        .post(
            "/api/v1/org-units",
            &json!({"kind": "legal_entity", "name": "", "org_number": "983974881", "parent_id": region.id}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "org_number"]);
    // A unit directly under a region breaks the levels of the tree.
    let res = app
        .post(
            "/api/v1/org-units",
            &json!({"kind": "unit", "name": "Misplaced", "resh_id": 9_200_000, "parent_id": region.id}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "parent_id");
    // A duplicate organisation number is a conflict.
    let res = app
        .post(
            "/api/v1/org-units",
            &json!({"kind": "legal_entity", "name": "Copy", "org_number": "883974832", "parent_id": region.id}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!((app.count("org_nodes"), app.count("org_links")), before);
}

#[actix_web::test]
async fn bad_query_and_path_parameters_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let res = app.get("/api/v1/audit?from=yesterday").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_query");
    let res = app.get("/api/v1/audit?per_page=100000").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res = app.get("/api/v1/org-units?kind=planet").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res = app.get("/api/v1/org-units/not-a-number").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = app.get("/api/v1/org-units/999999").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = app.get("/api/v1/nothing-here").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/api/v1/me", "/nowhere"] {
        let res = app.get(path).send().await.unwrap();
        let id = res.headers().get("x-request-id").expect("x-request-id").to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{path}: {id}");
    }
}

#[actix_web::test]
async fn health_metrics_and_docs_are_served() {
    let token = "metrics-token-0123456789-abcdefghijklmnop";
    let app = TestApp::spawn_with(|s| s.metrics_token = Some(token.into())).await;
    assert_eq!(app.get("/health/live").send().await.unwrap().status(), 200);
    let ready = app.get("/health/ready").send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = app.get("/metrics").bearer_auth(token).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("rusreg_http_requests_total"), "{metrics}");
    let doc: Value = app.get("/api/v1/openapi.json").send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/auth/token", "/api/v1/me", "/api/v1/org-units", "/api/v1/users", "/api/v1/audit"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let ui = app.get("/docs/").send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"), "Swagger UI is served from the binary");
    let index = app.get("/docs/swagger-ui.css").send().await.unwrap();
    assert_eq!(index.status(), 200);
}
