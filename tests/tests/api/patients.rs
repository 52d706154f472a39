//! Patients: registering (the same id twice gives the same patient), reading in scope only,
//! field-level errors, and no national id in any response body nor in the audit log.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

pub use crate::fixtures::{call, open, register, IDS};

/// No national id of `IDS` (nor the examples of docs/domain.md, National ids) appears anywhere in
/// the audit table.
pub fn assert_no_national_id_in_audit(app: &TestApp) {
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    use diesel::RunQueryDsl;
    let rows: Vec<T> =
        diesel::sql_query("SELECT row_to_json(a)::text AS t FROM audit_log a").load(&mut app.conn()).unwrap();
    for r in rows {
        for (id, _) in IDS.iter().chain(&[("15076500565", 1965), ("70019950032", 1999), ("01410199935", 1999)]) {
            assert!(!r.t.contains(id), "a national id in the audit log: {}", r.t);
        }
    }
}

#[actix_web::test]
async fn registering_the_same_id_twice_returns_the_same_patient_and_never_echoes_the_id() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let body = json!({"national_id": "15076500565", "sex": 2, "birth_year": 1965});
    let res = app.post("/api/v1/patients", &body).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(!text.contains("15076500565"));
    let first: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(first["created"], true);
    let res = app.post("/api/v1/patients", &body).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["created"], false);
    assert_eq!(app.count("patients"), 1);
    assert_eq!(app.audit_count("patient.register"), 2);
    // H-numbers are accepted too.
    register(&app, &token, ("01410199935", 2001)).await;
    // The registering user reads the patient (no pathway yet); the read is audited with the pseudonym.
    let (status, got) =
        call(&app, "GET", &format!("/api/v1/patients/{}", first["id"].as_str().unwrap()), None, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(got["sex"], 2);
    assert_eq!(got["birth_year"], 1965);
    assert!(!got.to_string().contains("15076500565"));
    assert_eq!(app.audit_count("patient.read"), 1);
    let (status, log) = call(
        &app,
        "GET",
        &format!("/api/v1/audit?patient={}", first["id"].as_str().unwrap()),
        None,
        Some(&app.token_for(Role::RegisterStaff, app.nation()).await),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(log["total"], 3);
    assert_no_national_id_in_audit(&app);
}

#[actix_web::test]
async fn every_valid_domain_example_registers_with_the_year_in_the_id() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    // The examples of docs/domain.md, National ids; the century from the individual number by the
    // standard table.
    for (id, year) in [("15076500565", 1965), ("70019950032", 1899), ("01410199935", 2001), ("88888888831", 1980)] {
        let body = json!({"national_id": id, "sex": 9, "birth_year": year});
        let (status, res) = call(&app, "POST", "/api/v1/patients", Some(&body), Some(&token)).await;
        assert_eq!(status, 201, "{id}: {res}");
    }
    // The H-number is born in 2001: 1999 contradicts it.
    let body = json!({"national_id": "01410199935", "sex": 9, "birth_year": 1999});
    let (status, problem) = call(&app, "POST", "/api/v1/patients", Some(&body), Some(&token)).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "birth_year");
    assert_eq!(app.count("patients"), 4);
}

#[actix_web::test]
async fn bad_patient_input_gets_field_errors_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"national_id": "15076500575", "sex": 4, "birth_year": 1850}), vec!["national_id", "sex", "birth_year"]),
        (json!({"national_id": "15076500565", "sex": 1, "birth_year": 1966}), vec!["birth_year"]),
        (json!({"national_id": "1507650056", "sex": 1, "birth_year": 1965}), vec!["national_id"]),
        (json!({"national_id": "15076500565", "sex": 1}), vec!["birth_year"]),
        (json!({"national_id": "15076500565", "sex": "x", "birth_year": 1965}), vec!["sex"]),
        (json!({"national_id": "15076500565", "sex": 1, "birth_year": 1965, "name": "Kari"}), vec!["name"]),
    ];
    for (body, fields) in cases {
        let (status, problem) = call(&app, "POST", "/api/v1/patients", Some(&body), Some(&token)).await;
        assert_eq!(status, 422, "{body}");
        let got: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(got, fields, "{body}");
        assert!(!problem.to_string().contains("1507650056"), "the id is not echoed: {problem}");
    }
    let res = app
        .client
        .post(app.url("/api/v1/patients"))
        .bearer_auth(&token)
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.count("patients"), 0);
    assert_eq!(app.audit_count("patient.register"), 0);
}

#[actix_web::test]
async fn patient_endpoints_follow_the_access_matrix() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let other = app.unit(UNIT_ST_OLAV);
    let tokens = app.tokens_around(unit).await;
    let registrar = &tokens[0].1;
    let patient = register(&app, registrar, IDS[0]).await;
    open(&app, registrar, &patient, unit.0, "2026-01-05", 1).await;
    let outsiders = vec![
        (Role::Registrar, app.token_for(Role::Registrar, other).await),
        (Role::UnitContact, app.token_for(Role::UnitContact, other).await),
    ];
    let path = format!("/api/v1/patients/{patient}");
    assert_eq!(call(&app, "GET", &path, None, None).await.0, 401);
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/patients",
            Some(&json!({"national_id": IDS[1].0, "sex": 1, "birth_year": IDS[1].1})),
            None
        )
        .await
        .0,
        401
    );
    for (role, token) in &tokens {
        let in_scope = matches!(role, Role::Registrar | Role::UnitContact);
        let before = app.audit_count("access.refused");
        let (status, _) = call(&app, "GET", &path, None, Some(token)).await;
        assert_eq!(status, if in_scope { 200 } else { 404 }, "GET patient as {role:?}");
        assert_eq!(app.audit_count("access.refused"), before + i64::from(!in_scope));
        let (status, _) = call(
            &app,
            "POST",
            "/api/v1/patients",
            Some(&json!({"national_id": IDS[1].0, "sex": 1, "birth_year": IDS[1].1})),
            Some(token),
        )
        .await;
        let expected = if !in_scope {
            403
        } else if *role == Role::Registrar {
            201
        } else {
            200
        };
        assert_eq!(status, expected, "POST patient as {role:?}");
    }
    for (role, token) in &outsiders {
        assert_eq!(call(&app, "GET", &path, None, Some(token)).await.0, 404, "GET patient as outside {role:?}");
    }
    assert_eq!(
        call(&app, "GET", &format!("/api/v1/patients/{}", uuid::Uuid::nil()), None, Some(registrar)).await.0,
        404
    );
    assert_no_national_id_in_audit(&app);
}

/// A registrar of another unit can learn that a person is registered (`created: false`) and in
/// treatment elsewhere (409 on opening a pathway). The workflow stays, but every such probe is
/// in the patient's access log (found by the pseudonym of the national id).
#[actix_web::test]
async fn probing_whether_a_person_is_in_treatment_elsewhere_shows_in_the_patients_access_log() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let st_olav = app.unit(UNIT_ST_OLAV);
    let home = app.token_for(Role::Registrar, molde).await;
    let patient = register(&app, &home, IDS[0]).await;
    open(&app, &home, &patient, molde.0, "2025-01-05", 1).await;

    let prober = app.user_with("prober", Role::Registrar, st_olav);
    let token = app.login("prober", integration_tests::TEST_PASSWORD).await;
    let body = json!({"national_id": IDS[0].0, "sex": 1, "birth_year": IDS[0].1});
    let (status, again) = call(&app, "POST", "/api/v1/patients", Some(&body), Some(&token)).await;
    assert_eq!((status, again["created"].as_bool()), (200, Some(false)), "{again}");
    let body = json!({"patient_id": patient, "unit_id": st_olav.0, "start_date": "2025-02-01", "treatment_level": 1});
    assert_eq!(call(&app, "POST", "/api/v1/pathways", Some(&body), Some(&token)).await.0, 409);

    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let (status, log) = call(
        &app,
        "POST",
        "/api/v1/audit/patient-log",
        Some(&json!({"national_id": IDS[0].0, "per_page": 500})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let by_prober: Vec<&Value> =
        log["items"].as_array().unwrap().iter().filter(|e| e["user_id"] == prober.to_string()).collect();
    let seen = |action: &str, outcome: &str| by_prober.iter().any(|e| e["action"] == action && e["outcome"] == outcome);
    assert!(seen("patient.register", "success"), "the registration that found the person: {by_prober:#?}");
    assert!(seen("pathway.open", "denied"), "the refused opening: {by_prober:#?}");
    let denied = by_prober.iter().find(|e| e["action"] == "pathway.open").unwrap();
    assert_eq!(denied["detail"]["reason"], "active_pathway");
    assert_eq!(denied["unit_id"], st_olav.0);
    assert_no_national_id_in_audit(&app);
}

/// The patient's access log (by the pseudonym of `id`), as register staff read it.
async fn patient_log(app: &TestApp, staff: &str, id: &str) -> Vec<Value> {
    let body = json!({"national_id": id, "per_page": 500});
    let (status, log) = call(app, "POST", "/api/v1/audit/patient-log", Some(&body), Some(staff)).await;
    assert_eq!(status, 200, "{log}");
    log["items"].as_array().unwrap().clone()
}

/// Lists that show patients (the worklist, the pathway list, the reservation list) write one
/// audit row per request carrying every listed patient, found by each patient's access log; a
/// refusal of a target that belongs to a patient is in that patient's log too.
#[actix_web::test]
async fn list_reads_and_refusals_are_in_the_access_log_of_every_patient_concerned() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, molde).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let start = (domain::clock::today() - chrono::Duration::days(5)).to_string();
    let mut pathways = Vec::new();
    for id in &IDS[..2] {
        let patient = register(&app, &registrar, *id).await;
        pathways.push(open(&app, &registrar, &patient, molde.0, &start, 1).await);
    }

    let (status, worklist) =
        call(&app, "GET", &format!("/api/v1/units/{}/worklist", molde.0), None, Some(&registrar)).await;
    assert_eq!(status, 200, "{worklist}");
    let (status, list) = call(&app, "GET", "/api/v1/pathways", None, Some(&registrar)).await;
    assert_eq!((status, list["total"].as_i64()), (200, Some(2)));
    assert_eq!(app.audit_count("pathway.list"), 1, "one row for the request");
    assert_eq!(app.audit_count("worklist.read"), 1);
    for id in &IDS[..2] {
        let log = patient_log(&app, &staff, id.0).await;
        for action in ["worklist.read", "pathway.list"] {
            assert!(log.iter().any(|e| e["action"] == action), "{action} in the log of a listed patient: {log:#?}");
        }
    }

    // A refusal of a form of the first patient (404 for another unit) is in that patient's log.
    let (form, _) = crate::fixtures::create(&app, &registrar, &pathways[0], "baseline", &json!({})).await;
    let outsider = app.token_for(Role::Registrar, app.unit(UNIT_ST_OLAV)).await;
    assert_eq!(call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&outsider)).await.0, 404);
    let log = patient_log(&app, &staff, IDS[0].0).await;
    let refusal = log.iter().find(|e| e["action"] == "access.refused").expect("the refusal in the patient's log");
    assert_eq!((refusal["target_kind"].as_str(), refusal["target_id"].as_str()), (Some("form"), Some(form.as_str())));
    assert!(!patient_log(&app, &staff, IDS[1].0).await.iter().any(|e| e["action"] == "access.refused"));

    // The reservation list shows people by their reservation: in their log too.
    let reservation = json!({"national_id": IDS[1].0, "received_date": "2026-01-02"});
    assert_eq!(call(&app, "POST", "/api/v1/reservations", Some(&reservation), Some(&staff)).await.0, 201);
    assert_eq!(call(&app, "GET", "/api/v1/reservations", None, Some(&staff)).await.0, 200);
    let log = patient_log(&app, &staff, IDS[1].0).await;
    assert!(log.iter().any(|e| e["action"] == "reservation.list"), "{log:#?}");
    assert_no_national_id_in_audit(&app);
}
