//! The worklist: due and overdue forms with due dates, for the unit's registrars and unit
//! contacts only.

use chrono::{Duration, Utc};
use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

/// Opens a pathway started `days_ago` days ago at `unit` for a new patient; returns its id.
async fn open_pathway(
    app: &TestApp,
    token: &str,
    unit: i64,
    (national_id, birth_year): (&str, i32),
    days_ago: i64,
    level: i16,
) -> String {
    let res = app
        .post("/api/v1/patients", &json!({"national_id": national_id, "sex": 1, "birth_year": birth_year}))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "patient: {}", res.status());
    let patient = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let start = (Utc::now().date_naive() - Duration::days(days_ago)).to_string();
    let res = app
        .post(
            "/api/v1/pathways",
            &json!({"patient_id": patient, "unit_id": unit, "start_date": start, "treatment_level": level}),
        )
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn the_worklist_lists_due_and_overdue_baselines_with_due_dates() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    // Outpatient, started 5 days ago: baseline due at start + 21.
    let due = open_pathway(&app, &registrar, unit.0, ("15076500565", 1965), 5, 1).await;
    // Inpatient, started 30 days ago: baseline overdue (start + 7).
    let overdue = open_pathway(&app, &registrar, unit.0, ("12038010008", 1980), 30, 3).await;
    let res = app.get(&format!("/api/v1/units/{}/worklist", unit.0)).bearer_auth(&registrar).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    let find = |p: &str| items.iter().find(|i| i["pathway_id"] == p).cloned().unwrap_or(Value::Null);
    let today = Utc::now().date_naive();
    let a = find(&due);
    assert_eq!(a["kind"], "baseline_due");
    assert_eq!(a["form"], "baseline");
    assert_eq!(a["due_date"], (today + Duration::days(16)).to_string());
    assert_eq!(a["overdue"], false);
    let b = find(&overdue);
    assert_eq!(b["kind"], "baseline_overdue");
    assert_eq!(b["due_date"], (today - Duration::days(23)).to_string());
    assert_eq!(b["overdue"], true);
    // Filters.
    let only: Value = app
        .get(&format!("/api/v1/units/{}/worklist?overdue=true", unit.0))
        .bearer_auth(&registrar)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(only["items"].as_array().unwrap().iter().all(|i| i["overdue"] == true));
    assert_eq!(only["total"], 1);
    // No national id in the response; the read is audited.
    let text = app
        .get(&format!("/api/v1/units/{}/worklist", unit.0))
        .bearer_auth(&registrar)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("15076500565") && !text.contains("12038010008"));
    assert_eq!(app.audit_count("worklist.read"), 3);
}

#[actix_web::test]
async fn the_worklist_follows_the_access_matrix() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let other = app.unit(UNIT_ST_OLAV);
    let path = format!("/api/v1/units/{}/worklist", unit.0);
    assert_eq!(app.get(&path).send().await.unwrap().status(), 401);
    for (role, token) in app.tokens_around(unit).await {
        let status = app.get(&path).bearer_auth(&token).send().await.unwrap().status();
        let allowed = matches!(role, Role::Registrar | Role::UnitContact);
        assert_eq!(status, if allowed { 200 } else { 403 }, "{role:?}");
    }
    // Unit roles of another unit are refused; the refusal is audited.
    let before = app.audit_count("access.refused");
    for role in [Role::Registrar, Role::UnitContact] {
        let token = app.token_for(role, other).await;
        assert_eq!(app.get(&path).bearer_auth(&token).send().await.unwrap().status(), 403, "{role:?} elsewhere");
    }
    assert_eq!(app.audit_count("access.refused"), before + 2);
    // A registrar granted at the legal entity covers its units.
    let entity_registrar = app.token_for(Role::Registrar, app.entity_of(unit)).await;
    assert_eq!(app.get(&path).bearer_auth(&entity_registrar).send().await.unwrap().status(), 200);
    // Bad input: not a unit, unknown unit, bad filters.
    let registrar = app.token_for(Role::Registrar, unit).await;
    let entity = app.entity_of(unit).0;
    for (p, status) in [
        (format!("/api/v1/units/{entity}/worklist"), 404),
        ("/api/v1/units/99999999/worklist".to_owned(), 404),
        ("/api/v1/units/abc/worklist".to_owned(), 404),
        (format!("{path}?kind=everything"), 400),
        (format!("{path}?per_page=0"), 422),
        (format!("{path}?colour=red"), 400),
    ] {
        assert_eq!(app.get(&p).bearer_auth(&registrar).send().await.unwrap().status(), status, "{p}");
    }
}
