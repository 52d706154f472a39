//! Reservations: every row about the patient is deleted, the id cannot be registered again, the
//! letter deadline is listed, only register staff may use them, bad input stores nothing.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};

use crate::patients::{assert_no_national_id_in_audit, call, open, register, IDS};

const PATIENT_TABLES: &[&str] = &[
    "patients",
    "pathways",
    "pathway_transfers",
    "pathway_status_history",
    "forms",
    "baseline_forms",
    "measurement_forms",
    "discharge_forms",
    "follow_up_forms",
    "form_substances",
    "form_history",
    "orders",
    "order_status_history",
    "order_access_codes",
];

#[actix_web::test]
async fn a_reservation_deletes_every_row_about_the_patient_and_blocks_registration() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let patient = register(&app, &registrar, IDS[0]).await;
    let pathway = open(&app, &registrar, &patient, unit.0, "2025-01-05", 1).await;
    let body = json!({"event_date": "2025-01-10", "substance_use": {"substances": [{"substance": 1}]}});
    let (status, _) =
        call(&app, "POST", &format!("/api/v1/pathways/{pathway}/forms/baseline"), Some(&body), Some(&registrar)).await;
    assert_eq!(status, 201);
    let alesund = app.unit(integration_tests::UNIT_ALESUND);
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/pathways/{pathway}/transfers"),
        Some(&json!({"to_unit_id": alesund.0, "date": "2025-02-01"})),
        Some(&registrar),
    )
    .await;
    assert_eq!(status, 201);
    // Another patient stays.
    let other = register(&app, &registrar, IDS[1]).await;
    for t in PATIENT_TABLES {
        assert!(app.count(t) >= 1 || *t != "patients", "{t}");
    }
    let (status, res) = call(
        &app,
        "POST",
        "/api/v1/reservations",
        Some(&json!({"national_id": IDS[0].0, "received_date": "2026-01-02"})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    assert_eq!(res["deleted_patient_data"], true);
    assert_eq!(res["letter_due"], "2026-02-01");
    assert!(!res.to_string().contains(IDS[0].0));
    assert_eq!(app.count("patients"), 1);
    for t in &PATIENT_TABLES[1..] {
        assert_eq!(app.count(t), 0, "{t} after the reservation");
    }
    assert_eq!(call(&app, "GET", &format!("/api/v1/patients/{other}"), None, Some(&registrar)).await.0, 200);
    // Registering the id again is refused with `reserved`, and nothing is stored.
    let (status, problem) = call(
        &app,
        "POST",
        "/api/v1/patients",
        Some(&json!({"national_id": IDS[0].0, "sex": 2, "birth_year": IDS[0].1})),
        Some(&registrar),
    )
    .await;
    assert_eq!((status, problem["code"].clone()), (409, json!("reserved")));
    assert_eq!(app.count("patients"), 1);
    // A second reservation is a conflict.
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/reservations",
        Some(&json!({"national_id": IDS[0].0, "received_date": "2026-01-02"})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 409);
    // The list shows the deadline and flags it overdue; marking the letter sent clears the flag.
    let (status, list) = call(&app, "GET", "/api/v1/reservations?pending=true", None, Some(&staff)).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["overdue"], true);
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, sent) =
        call(&app, "POST", &format!("/api/v1/reservations/{id}/letter-sent"), None, Some(&staff)).await;
    assert_eq!(status, 200);
    assert_eq!(sent["overdue"], false);
    let (_, list) = call(&app, "GET", "/api/v1/reservations?pending=true", None, Some(&staff)).await;
    assert_eq!(list["total"], 0);
    // The patient's access log, by national id in the body, still covers everything.
    let (status, log) =
        call(&app, "POST", "/api/v1/audit/patient-log", Some(&json!({"national_id": IDS[0].0})), Some(&staff)).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["patient.register", "pathway.open", "form.create", "reservation.create", "reservation.letter_sent"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    assert!(!log.to_string().contains(IDS[0].0));
    let (status, _) =
        call(&app, "POST", "/api/v1/audit/patient-log", Some(&json!({"national_id": IDS[0].0})), Some(&registrar))
            .await;
    assert_eq!(status, 403);
    let (status, _) =
        call(&app, "POST", "/api/v1/audit/patient-log", Some(&json!({"national_id": "123"})), Some(&staff)).await;
    assert_eq!(status, 422);
    assert_no_national_id_in_audit(&app);
}

#[actix_web::test]
async fn reservations_are_for_register_staff_only_and_bad_input_stores_nothing() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let tokens = app.tokens_around(unit).await;
    let body = json!({"national_id": IDS[2].0, "received_date": "2026-01-02"});
    assert_eq!(call(&app, "POST", "/api/v1/reservations", Some(&body), None).await.0, 401);
    assert_eq!(call(&app, "GET", "/api/v1/reservations", None, None).await.0, 401);
    let nil = uuid::Uuid::nil();
    for (role, token) in &tokens {
        if *role == Role::RegisterStaff {
            continue;
        }
        assert_eq!(call(&app, "POST", "/api/v1/reservations", Some(&body), Some(token)).await.0, 403, "{role:?}");
        assert_eq!(call(&app, "GET", "/api/v1/reservations", None, Some(token)).await.0, 403, "{role:?}");
        let path = format!("/api/v1/reservations/{nil}/letter-sent");
        assert_eq!(call(&app, "POST", &path, None, Some(token)).await.0, 403, "{role:?}");
    }
    let staff = &tokens.iter().find(|(r, _)| *r == Role::RegisterStaff).unwrap().1;
    let (status, problem) = call(
        &app,
        "POST",
        "/api/v1/reservations",
        Some(&json!({"national_id": "15076500575", "received_date": "2999-01-01"})),
        Some(staff),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["national_id", "received_date"]);
    let (status, _) =
        call(&app, "POST", "/api/v1/reservations", Some(&json!({"national_id": IDS[2].0})), Some(staff)).await;
    assert_eq!(status, 422);
    assert_eq!(app.count("reservations"), 0);
    assert_eq!(call(&app, "POST", &format!("/api/v1/reservations/{nil}/letter-sent"), None, Some(staff)).await.0, 404);
    let (status, _) = call(&app, "POST", "/api/v1/reservations", Some(&body), Some(staff)).await;
    assert_eq!(status, 201);
}
