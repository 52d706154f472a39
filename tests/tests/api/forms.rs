//! Forms: a full pathway over the API (baseline, measurements, discharge, follow-up) with every
//! access audited; If-Match (428, 409 stale_version) and two concurrent writers; completion
//! listing every failing field; reopening; the access matrix; bad input stores nothing; and a
//! transfer (the receiving unit carries on, the sender keeps read access to its own forms).

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_ALESUND, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

use crate::patients::{assert_no_national_id_in_audit, call, open, register, IDS};

pub use crate::fixtures::{baseline, complete, create, discharge, follow_up, measurement, put};

async fn pathway_detail(app: &TestApp, token: &str, pathway: &str) -> Value {
    call(app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(token)).await.1
}

#[actix_web::test]
async fn a_full_pathway_runs_from_opening_to_follow_up_with_every_access_audited() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::UnitContact, unit).await;
    let patient = register(&app, &token, IDS[0]).await;
    let pathway = open(&app, &token, &patient, unit.0, "2025-01-05", 1).await;

    // Baseline: a partial draft, then the rest with If-Match, then completion.
    let (b, v) = create(&app, &token, &pathway, "baseline", &json!({"event_date": "2025-01-10", "housing": 3})).await;
    let (status, updated) = put(&app, &token, &b, Some(&format!("\"{v}\"")), &baseline("2025-01-10")).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], v + 1);
    assert_eq!(updated["data"]["housing"], 2);
    assert_eq!(updated["data"]["substance_use"]["substances"][1]["debut_age"], 14);
    complete(&app, &token, &b).await;
    for date in ["2025-03-01", "2025-05-01"] {
        let (m, _) = create(&app, &token, &pathway, "measurement", &measurement(date)).await;
        complete(&app, &token, &m).await;
    }
    // Discharge by mutual agreement: status 4.
    let (d, _) = create(&app, &token, &pathway, "discharge", &discharge("2025-06-01")).await;
    complete(&app, &token, &d).await;
    assert_eq!(pathway_detail(&app, &token, &pathway).await["status"], 4);
    // Follow-up after a year: status 5.
    let (f, _) = create(&app, &token, &pathway, "follow-up", &follow_up("2026-05-01")).await;
    let done = complete(&app, &token, &f).await;
    assert_eq!(done["status"], "completed");
    let detail = pathway_detail(&app, &token, &pathway).await;
    assert_eq!(detail["status"], 5);
    let history: Vec<i64> =
        detail["status_history"].as_array().unwrap().iter().map(|h| h["to_status"].as_i64().unwrap()).collect();
    assert_eq!(history, [1, 4, 5]);
    assert_eq!(detail["forms"].as_array().unwrap().len(), 5);
    assert_eq!(app.count("baseline_forms"), 1);
    assert_eq!(app.count("measurement_forms"), 2);
    assert_eq!(app.count("discharge_forms"), 1);
    assert_eq!(app.count("follow_up_forms"), 1);
    assert_eq!(app.count("form_substances"), 10);
    // The form reads back exactly, and its history names the changed fields.
    let (_, form) = call(&app, "GET", &format!("/api/v1/forms/{b}"), None, Some(&token)).await;
    assert_eq!(form["data"]["substance_diagnoses"], json!(["F10.2", "F12.1"]));
    let (status, hist) = call(&app, "GET", &format!("/api/v1/forms/{b}/history"), None, Some(&token)).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = hist.as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "updated", "completed"]);
    let housing = hist[1]["changes"].as_array().unwrap().iter().find(|c| c["field"] == "housing").unwrap();
    assert_eq!((housing["from"].clone(), housing["to"].clone()), (json!(3), json!(2)));
    // Every access is in the audit log, with the patient.
    for (action, n) in [
        ("patient.register", 1),
        ("pathway.open", 1),
        ("form.create", 5),
        ("form.update", 1),
        ("form.complete", 5),
        ("pathway.read", 2),
        ("form.read", 1),
        ("form.history.read", 1),
    ] {
        assert_eq!(app.audit_count(action), n, "{action}");
    }
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let (_, log) =
        call(&app, "GET", &format!("/api/v1/audit?patient={patient}&per_page=500"), None, Some(&staff)).await;
    assert_eq!(log["total"], 17);
    assert_no_national_id_in_audit(&app);
    // Reopening the discharge while the follow-up is completed is refused; reopen the follow-up first.
    let reopen = |form: &str| format!("/api/v1/forms/{form}/reopen");
    let (status, body) = call(&app, "POST", &reopen(&d), Some(&json!({"reason": "wrong date"})), Some(&token)).await;
    assert_eq!((status, body["code"].clone()), (409, json!("conflict")));
    let (status, body) = call(&app, "POST", &reopen(&f), Some(&json!({"reason": "wrong outcome"})), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "draft");
    assert_eq!(pathway_detail(&app, &token, &pathway).await["status"], 4);
}

#[actix_web::test]
async fn updates_need_the_current_version_and_two_concurrent_writers_cannot_both_win() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    let patient = register(&app, &token, IDS[0]).await;
    let pathway = open(&app, &token, &patient, unit.0, "2025-01-05", 1).await;
    let (m, v) = create(&app, &token, &pathway, "measurement", &json!({})).await;
    let (status, body) = put(&app, &token, &m, None, &json!({"benefit": 3})).await;
    assert_eq!((status, body["code"].clone()), (428, json!("precondition_required")));
    let (status, _) = put(&app, &token, &m, Some("soon"), &json!({"benefit": 3})).await;
    assert_eq!(status, 400);
    let v = v.to_string();
    let (three, five) = (json!({"benefit": 3}), json!({"benefit": 5}));
    let (a, b) = tokio::join!(put(&app, &token, &m, Some(&v), &three), put(&app, &token, &m, Some(&v), &five));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let (winner, loser) = if a.0 == 200 { (&a.1, &b.1) } else { (&b.1, &a.1) };
    assert_eq!(loser["code"], "stale_version");
    let (_, form) = call(&app, "GET", &format!("/api/v1/forms/{m}"), None, Some(&token)).await;
    assert_eq!(form["data"]["benefit"], winner["data"]["benefit"]);
    assert_eq!(form["version"], 2);
    assert_eq!(app.audit_count("form.update"), 1);
    let (status, body) = put(&app, &token, &m, Some(&v), &json!({"benefit": 1})).await;
    assert_eq!((status, body["code"].clone()), (409, json!("stale_version")));
}

#[actix_web::test]
async fn completion_lists_every_failing_field_and_completed_forms_are_read_only_until_reopened() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let contact = app.token_for(Role::UnitContact, unit).await;
    let patient = register(&app, &registrar, IDS[0]).await;
    let pathway = open(&app, &registrar, &patient, unit.0, "2025-01-05", 1).await;
    // A discharge before any baseline or measurement, dated before the start, with missing fields.
    let (d, _) =
        create(&app, &registrar, &pathway, "discharge", &json!({"event_date": "2024-12-01", "ending": 3})).await;
    let (status, problem) = call(&app, "POST", &format!("/api/v1/forms/{d}/complete"), None, Some(&registrar)).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["form", "event_date", "municipality_informed", "housing", "occupation", "contact_consent_1y"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert_eq!(pathway_detail(&app, &registrar, &pathway).await["status"], 1);
    let (b, v) = create(&app, &registrar, &pathway, "baseline", &baseline("2025-01-10")).await;
    let done = complete(&app, &registrar, &b).await;
    assert_eq!(done["version"], v + 1);
    let (status, body) = put(&app, &registrar, &b, Some(&(v + 1).to_string()), &baseline("2025-01-11")).await;
    assert_eq!((status, body["code"].clone()), (409, json!("form_completed")));
    assert_eq!(call(&app, "POST", &format!("/api/v1/forms/{b}/complete"), None, Some(&registrar)).await.0, 409);
    let (status, body) =
        call(&app, "POST", &format!("/api/v1/pathways/{pathway}/forms/baseline"), Some(&json!({})), Some(&registrar))
            .await;
    assert_eq!((status, body["code"].clone()), (409, json!("form_exists")));
    // Reopening: not by a registrar, a reason is required, then the unit contact may.
    let path = format!("/api/v1/forms/{b}/reopen");
    assert_eq!(call(&app, "POST", &path, Some(&json!({"reason": "typo"})), Some(&registrar)).await.0, 403);
    assert_eq!(call(&app, "POST", &path, Some(&json!({"reason": "  "})), Some(&contact)).await.0, 422);
    assert_eq!(call(&app, "POST", &path, Some(&json!({})), Some(&contact)).await.0, 422);
    let (status, reopened) =
        call(&app, "POST", &path, Some(&json!({"reason": "typo in the date"})), Some(&contact)).await;
    assert_eq!(status, 200);
    assert_eq!(reopened["reopen_reason"], "typo in the date");
    let (status, _) = put(&app, &registrar, &b, Some(&reopened["version"].to_string()), &baseline("2025-01-11")).await;
    assert_eq!(status, 200);
    complete(&app, &registrar, &b).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(call(&app, "POST", &path, Some(&json!({"reason": "audit"})), Some(&staff)).await.0, 200);
    assert_eq!(app.audit_count("form.reopen"), 2);
}

#[actix_web::test]
async fn bad_form_input_gets_field_errors_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    let patient = register(&app, &token, IDS[0]).await;
    let pathway = open(&app, &token, &patient, unit.0, "2025-01-05", 1).await;
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "baseline",
            json!({"housing": 11, "substance_diagnoses": ["F10.2", "X"], "audit_score": 41}),
            vec!["audit_score", "housing", "substance_diagnoses.1"],
        ),
        ("measurement", json!({"benefit": "high"}), vec!["benefit"]),
        ("measurement", json!({"ending": 3}), vec!["ending"]),
        (
            "discharge",
            json!({"agreed_follow_up": [1, 9], "substance_use": {"substances": [{"substance": 13}]}}),
            vec!["agreed_follow_up.1", "substance_use.substances.0.substance"],
        ),
        ("follow-up", json!({"event_date": "2025-02-30"}), vec!["event_date"]),
    ];
    for (kind, body, fields) in cases {
        let (status, problem) =
            call(&app, "POST", &format!("/api/v1/pathways/{pathway}/forms/{kind}"), Some(&body), Some(&token)).await;
        assert_eq!(status, 422, "{kind} {body}: {problem}");
        let mut got: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        got.sort();
        assert_eq!(got, fields, "{kind} {body}");
    }
    let path = |kind: &str| format!("/api/v1/pathways/{pathway}/forms/{kind}");
    assert_eq!(call(&app, "POST", &path("intake"), Some(&json!({})), Some(&token)).await.0, 404);
    // A follow-up cannot start on an active pathway.
    assert_eq!(call(&app, "POST", &path("follow-up"), Some(&json!({})), Some(&token)).await.0, 409);
    assert_eq!(app.count("forms"), 0);
    assert_eq!(app.count("form_history"), 0);
    // Bad updates store nothing either.
    let (m, v) = create(&app, &token, &pathway, "measurement", &json!({"benefit": 2})).await;
    let (status, _) = put(&app, &token, &m, Some(&v.to_string()), &json!({"benefit": 9})).await;
    assert_eq!(status, 422);
    let (_, form) = call(&app, "GET", &format!("/api/v1/forms/{m}"), None, Some(&token)).await;
    assert_eq!((form["version"].clone(), form["data"]["benefit"].clone()), (json!(v), json!(2)));
}

#[actix_web::test]
async fn form_endpoints_follow_the_access_matrix() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let other = app.unit(UNIT_ST_OLAV);
    let mut everyone = app.tokens_around(unit).await;
    let registrar = everyone[0].1.clone();
    let patient = register(&app, &registrar, IDS[0]).await;
    let pathway = open(&app, &registrar, &patient, unit.0, "2025-01-05", 1).await;
    let (m, _) = create(&app, &registrar, &pathway, "measurement", &json!({})).await;
    everyone.push((Role::Registrar, app.token_for(Role::Registrar, other).await));
    everyone.push((Role::UnitContact, app.token_for(Role::UnitContact, other).await));
    let reads = [format!("/api/v1/forms/{m}"), format!("/api/v1/forms/{m}/history")];
    let create_path = format!("/api/v1/pathways/{pathway}/forms/measurement");
    for path in &reads {
        assert_eq!(call(&app, "GET", path, None, None).await.0, 401);
    }
    assert_eq!(call(&app, "POST", &create_path, Some(&json!({})), None).await.0, 401);
    assert_eq!(call(&app, "POST", &format!("/api/v1/forms/{m}/complete"), None, None).await.0, 401);
    assert_eq!(
        call(&app, "POST", &format!("/api/v1/forms/{m}/reopen"), Some(&json!({"reason": "x"})), None).await.0,
        401
    );
    assert_eq!(put(&app, "nope", &m, Some("1"), &json!({})).await.0, 401);
    for (i, (role, token)) in everyone.iter().enumerate() {
        let inside = i < 5 && matches!(role, Role::Registrar | Role::UnitContact);
        for path in &reads {
            let want = if inside { 200 } else { 404 };
            assert_eq!(call(&app, "GET", path, None, Some(token)).await.0, want, "{path} as {role:?} #{i}");
        }
        let (status, _) = call(&app, "POST", &create_path, Some(&json!({})), Some(token)).await;
        assert_eq!(status, if inside { 201 } else { 404 }, "create as {role:?} #{i}");
        let (_, form) = call(&app, "GET", &format!("/api/v1/forms/{m}"), None, Some(&registrar)).await;
        let version = form["version"].to_string();
        let (status, _) = put(&app, token, &m, Some(&version), &json!({"benefit": 3})).await;
        assert_eq!(status, if inside { 200 } else { 404 }, "put as {role:?} #{i}");
        // An empty measurement fails validation for the insiders.
        let (status, _) = call(&app, "POST", &format!("/api/v1/forms/{m}/complete"), None, Some(token)).await;
        assert_eq!(status, if inside { 422 } else { 404 }, "complete as {role:?} #{i}");
        // Reopening a draft: unit contact and register staff pass the access check (409).
        let (status, _) =
            call(&app, "POST", &format!("/api/v1/forms/{m}/reopen"), Some(&json!({"reason": "x"})), Some(token)).await;
        let expected = match (i < 5, role) {
            (true, Role::UnitContact) | (_, Role::RegisterStaff) => 409,
            (true, Role::Registrar) => 403,
            _ => 404,
        };
        assert_eq!(status, expected, "reopen as {role:?} #{i}");
    }
    assert_no_national_id_in_audit(&app);
}

#[actix_web::test]
async fn a_transfer_hands_the_pathway_over_and_the_sender_keeps_read_access() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let alesund = app.unit(UNIT_ALESUND);
    let molde_token = app.token_for(Role::Registrar, molde).await;
    let alesund_token = app.token_for(Role::UnitContact, alesund).await;
    let patient = register(&app, &molde_token, IDS[0]).await;
    let pathway = open(&app, &molde_token, &patient, molde.0, "2026-01-05", 1).await;
    let form_path = format!("/api/v1/pathways/{pathway}/forms/baseline");
    let (status, _) =
        call(&app, "POST", &form_path, Some(&json!({"event_date": "2026-01-10"})), Some(&molde_token)).await;
    assert_eq!(status, 201);
    // Ålesund cannot see it yet.
    assert_eq!(call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&alesund_token)).await.0, 404);
    let (status, moved) = call(
        &app,
        "POST",
        &format!("/api/v1/pathways/{pathway}/transfers"),
        Some(&json!({"to_unit_id": alesund.0, "date": "2026-01-20"})),
        Some(&molde_token),
    )
    .await;
    assert_eq!(status, 201, "{moved}");
    assert_eq!(moved["unit_id"], alesund.0);
    // The receiving unit carries on: it reads everything and may add forms.
    let (status, detail) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&alesund_token)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["writable"], true);
    assert_eq!(detail["forms"].as_array().unwrap().len(), 1);
    assert_eq!(detail["transfers"][0]["from_unit_id"], molde.0);
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/pathways/{pathway}/forms/measurement"),
        Some(&json!({})),
        Some(&alesund_token),
    )
    .await;
    assert_eq!(status, 201);
    // The sender reads the pathway and its own form, not Ålesund's, and may not write.
    let (status, detail) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&molde_token)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["writable"], false);
    assert_eq!(detail["forms"].as_array().unwrap().len(), 1);
    assert_eq!(detail["forms"][0]["kind"], "baseline");
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/pathways/{pathway}/forms/measurement"),
        Some(&json!({})),
        Some(&molde_token),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/pathways/{pathway}/transfers"),
        Some(&json!({"to_unit_id": molde.0, "date": "2026-01-21"})),
        Some(&molde_token),
    )
    .await;
    assert_eq!(status, 403);
    // Both lists show it.
    let (_, list) = call(&app, "GET", "/api/v1/pathways", None, Some(&molde_token)).await;
    assert_eq!(list["total"], 1);
    let (_, list) =
        call(&app, "GET", &format!("/api/v1/pathways?unit={}&status=1", alesund.0), None, Some(&alesund_token)).await;
    assert_eq!(list["total"], 1);
    assert_eq!(app.audit_count("pathway.transfer"), 1);
}

/// Register staff may reopen any completed form but may not read it (404 on `GET /forms/{id}`):
/// the reopen's response carries the reopening only, none of the form's clinical content.
#[actix_web::test]
async fn reopen_by_register_staff_returns_no_clinical_content_when_staff_may_not_read_the_form() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let contact = app.token_for(Role::UnitContact, unit).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let patient = register(&app, &contact, IDS[0]).await;
    let pathway = open(&app, &contact, &patient, unit.0, "2025-01-05", 1).await;
    let (b, _) = create(&app, &contact, &pathway, "baseline", &baseline("2025-01-10")).await;
    complete(&app, &contact, &b).await;
    assert_eq!(call(&app, "GET", &format!("/api/v1/forms/{b}"), None, Some(&staff)).await.0, 404);

    let path = format!("/api/v1/forms/{b}/reopen");
    let (status, reopened) = call(&app, "POST", &path, Some(&json!({"reason": "audit finding"})), Some(&staff)).await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!((reopened["id"].as_str(), reopened["status"].as_str()), (Some(b.as_str()), Some("draft")));
    assert_eq!(reopened["reopen_reason"], "audit finding");
    assert!(reopened["version"].is_i64());
    for hidden in ["data", "event_date", "pathway_id", "unit_id", "created_by", "updated_by", "completed_by"] {
        assert!(reopened.get(hidden).is_none(), "{hidden} in {reopened}");
    }
    // The unit contact, who may read the form, still gets all of it.
    complete(&app, &registrar_again(&app, unit).await, &b).await;
    let (status, full) = call(&app, "POST", &path, Some(&json!({"reason": "typo"})), Some(&contact)).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["data"]["event_date"], "2025-01-10");
}

async fn registrar_again(app: &TestApp, unit: domain::organisations::NodeId) -> String {
    app.token_for(Role::Registrar, unit).await
}
