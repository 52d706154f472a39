//! Pathways: opening (one active per patient), the scoped list, one pathway with its forms and
//! history, transfers (the sending unit keeps read access), access and bad input.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

use crate::patients::{call, open, register, IDS};

#[actix_web::test]
async fn a_second_active_pathway_is_refused_with_409() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    let patient = register(&app, &token, IDS[0]).await;
    open(&app, &token, &patient, unit.0, "2026-01-05", 1).await;
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/pathways",
        Some(&json!({"patient_id": patient, "unit_id": unit.0, "start_date": "2026-02-01", "treatment_level": 3})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "conflict");
    assert_eq!(app.count("pathways"), 1);
    // The opening, and the refusal (it tells that the patient is in treatment: audited as denied).
    assert_eq!(app.audit_count("pathway.open"), 2);
}

#[actix_web::test]
async fn bad_pathway_input_gets_field_errors_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    let patient = register(&app, &token, IDS[0]).await;
    let entity = app.entity_of(unit);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"patient_id": patient, "unit_id": unit.0, "start_date": "2099-01-01", "treatment_level": 9}),
            vec!["start_date", "treatment_level"],
        ),
        (
            json!({"patient_id": uuid::Uuid::nil(), "unit_id": 999_999, "start_date": "2026-01-01", "treatment_level": 1}),
            vec!["unit_id", "patient_id"],
        ),
        (
            json!({"patient_id": patient, "unit_id": entity.0, "start_date": "2026-01-01", "treatment_level": 1}),
            vec!["unit_id"],
        ),
        (
            json!({"patient_id": patient, "unit_id": unit.0, "start_date": "1999-12-31", "treatment_level": 1}),
            vec!["start_date"],
        ),
        (
            json!({"patient_id": "nope", "unit_id": unit.0, "start_date": "2026-01-01", "treatment_level": 1}),
            vec!["patient_id"],
        ),
        (json!({"patient_id": patient, "unit_id": unit.0, "start_date": "2026-01-01"}), vec!["treatment_level"]),
    ];
    for (body, fields) in cases {
        let (status, problem) = call(&app, "POST", "/api/v1/pathways", Some(&body), Some(&token)).await;
        assert_eq!(status, 422, "{body}: {problem}");
        let got: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(got, fields, "{body}");
    }
    assert_eq!(app.count("pathways"), 0);
    assert_eq!(app.count("pathway_status_history"), 0);
    // Bad list filters.
    let (status, problem) =
        call(&app, "GET", "/api/v1/pathways?status=9&from=2026-02-01&to=2026-01-01&per_page=0", None, Some(&token))
            .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3);
    assert_eq!(call(&app, "GET", "/api/v1/pathways?colour=red", None, Some(&token)).await.0, 400);
    // Bad transfers.
    let pathway = open(&app, &token, &patient, unit.0, "2026-01-05", 1).await;
    let path = format!("/api/v1/pathways/{pathway}/transfers");
    let (status, problem) =
        call(&app, "POST", &path, Some(&json!({"to_unit_id": unit.0, "date": "2025-12-01"})), Some(&token)).await;
    assert_eq!(status, 422);
    let got: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(got, ["date", "to_unit_id"]);
    let (status, _) =
        call(&app, "POST", &path, Some(&json!({"to_unit_id": 999_999, "date": "2026-01-06"})), Some(&token)).await;
    assert_eq!(status, 422);
    assert_eq!(app.count("pathway_transfers"), 0);
}

#[actix_web::test]
async fn pathway_endpoints_follow_the_access_matrix() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let other = app.unit(UNIT_ST_OLAV);
    let tokens = app.tokens_around(unit).await;
    let registrar = tokens[0].1.clone();
    let outsiders = vec![
        (Role::Registrar, app.token_for(Role::Registrar, other).await),
        (Role::UnitContact, app.token_for(Role::UnitContact, other).await),
    ];
    let mut patients = Vec::new();
    for id in &IDS[..4] {
        patients.push(register(&app, &registrar, *id).await);
    }
    let pathway = open(&app, &registrar, &patients[0], unit.0, "2026-01-05", 1).await;
    let open_body = |i: usize| json!({"patient_id": patients[i], "unit_id": unit.0, "start_date": "2026-01-05", "treatment_level": 1});
    for path in ["/api/v1/pathways".to_owned(), format!("/api/v1/pathways/{pathway}")] {
        assert_eq!(call(&app, "GET", &path, None, None).await.0, 401);
    }
    assert_eq!(call(&app, "POST", "/api/v1/pathways", Some(&open_body(1)), None).await.0, 401);
    let mut next = 1;
    for (role, token) in &tokens {
        let unit_role = matches!(role, Role::Registrar | Role::UnitContact);
        let (status, list) = call(&app, "GET", "/api/v1/pathways", None, Some(token)).await;
        assert_eq!(status, if unit_role { 200 } else { 403 }, "list as {role:?}");
        if unit_role {
            assert!(list["total"].as_i64().unwrap() >= 1);
        }
        let (status, _) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(token)).await;
        assert_eq!(status, if unit_role { 200 } else { 404 }, "get as {role:?}");
        let (status, _) = call(&app, "POST", "/api/v1/pathways", Some(&open_body(next)), Some(token)).await;
        assert_eq!(status, if unit_role { 201 } else { 403 }, "open as {role:?}");
        if unit_role {
            next += 1;
        }
    }
    for (role, token) in &outsiders {
        let (_, list) = call(&app, "GET", "/api/v1/pathways", None, Some(token)).await;
        assert_eq!(list["total"], 0, "list as outside {role:?}");
        assert_eq!(call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(token)).await.0, 404);
        assert_eq!(call(&app, "GET", &format!("/api/v1/pathways?unit={}", unit.0), None, Some(token)).await.0, 403);
        assert_eq!(call(&app, "POST", "/api/v1/pathways", Some(&open_body(next)), Some(token)).await.0, 403);
        let (status, _) = call(
            &app,
            "POST",
            &format!("/api/v1/pathways/{pathway}/transfers"),
            Some(&json!({"to_unit_id": other.0, "date": "2026-01-06"})),
            Some(token),
        )
        .await;
        assert_eq!(status, 404, "transfer as outside {role:?}");
    }
    for (role, token) in &tokens {
        if !matches!(role, Role::Registrar | Role::UnitContact) {
            let (status, _) = call(
                &app,
                "POST",
                &format!("/api/v1/pathways/{pathway}/transfers"),
                Some(&json!({"to_unit_id": other.0, "date": "2026-01-06"})),
                Some(token),
            )
            .await;
            assert_eq!(status, 404, "transfer as {role:?}");
        }
    }
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/api/v1/pathways/{pathway}/transfers"),
            Some(&json!({"to_unit_id": other.0, "date": "2026-01-06"})),
            None
        )
        .await
        .0,
        401
    );
    crate::patients::assert_no_national_id_in_audit(&app);
}

/// After a transfer the sending unit keeps read access to what it registered, and sees the
/// pathway as it was when it left: the status, the status history up to the transfer and the
/// treatment level at the transfer — nothing the receiving unit recorded later.
#[actix_web::test]
async fn the_sending_unit_sees_the_pathway_as_it_was_when_it_left() {
    use crate::fixtures::{complete, completed_baseline, create, discharge, measurement};
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let alesund = app.unit(integration_tests::UNIT_ALESUND);
    let sender = app.token_for(Role::Registrar, molde).await;
    let receiver = app.token_for(Role::Registrar, alesund).await;
    let patient = register(&app, &sender, IDS[0]).await;
    let pathway = open(&app, &sender, &patient, molde.0, "2026-01-05", 1).await;
    completed_baseline(&app, &sender, &pathway, "2026-01-10").await;
    let transfer = json!({"to_unit_id": alesund.0, "date": "2026-01-20"});
    let (status, moved) =
        call(&app, "POST", &format!("/api/v1/pathways/{pathway}/transfers"), Some(&transfer), Some(&sender)).await;
    assert_eq!(status, 201, "{moved}");

    // Ålesund carries on: inpatient from the first measurement, then a discharge.
    let mut point = measurement("2026-02-01");
    point["treatment_level"] = json!(3);
    let (m, _) = create(&app, &receiver, &pathway, "measurement", &point).await;
    complete(&app, &receiver, &m).await;
    let (d, _) = create(&app, &receiver, &pathway, "discharge", &discharge("2026-03-01")).await;
    complete(&app, &receiver, &d).await;
    let (_, now) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&receiver)).await;
    assert_eq!(now["current_treatment_level"], 3);
    let later_status = now["status"].as_i64().unwrap();
    assert_ne!(later_status, 1, "{now}");
    assert_eq!(now["status_history"].as_array().unwrap().len(), 2);

    let (status, seen) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&sender)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["writable"], false);
    assert_eq!((seen["status"].as_i64(), seen["current_treatment_level"].as_i64()), (Some(1), Some(1)), "{seen}");
    let history = seen["status_history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "up to the transfer: {seen}");
    assert_eq!(history[0]["event"], "opened");
    assert_eq!(seen["transfers"].as_array().unwrap().len(), 1);

    let (_, list) = call(&app, "GET", "/api/v1/pathways", None, Some(&sender)).await;
    let listed = &list["items"][0];
    assert_eq!((listed["status"].as_i64(), listed["current_treatment_level"].as_i64()), (Some(1), Some(1)), "{list}");
    let (_, by_later) =
        call(&app, "GET", &format!("/api/v1/pathways?status={later_status}"), None, Some(&sender)).await;
    assert_eq!(by_later["total"], 0, "the later status cannot be probed by the filter: {by_later}");
    let (_, by_then) = call(&app, "GET", "/api/v1/pathways?status=1", None, Some(&sender)).await;
    assert_eq!(by_then["total"], 1, "{by_then}");

    let (_, person) = call(&app, "GET", &format!("/api/v1/patients/{patient}"), None, Some(&sender)).await;
    assert_eq!(person["pathways"][0]["status"], 1, "{person}");
}
