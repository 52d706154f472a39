//! Builders for the fixtures most tests need, over the real API: a patient, a pathway at a unit,
//! the four forms' bodies, a form created, completed or saved, and a completed baseline.

use chrono::Duration;
use integration_tests::{json, TestApp};
use serde_json::Value;

/// Valid national ids (fødselsnummer) with their birth years, from the check-digit rules.
pub const IDS: &[(&str, i32)] = &[
    ("02029404855", 1994),
    ("12106346508", 1963),
    ("17046204441", 1962),
    ("14076412317", 1964),
    ("03098703046", 1987),
    ("27106748549", 1967),
    ("08119748500", 1997),
    ("02109720375", 1997),
    ("02046228513", 1962),
    ("28037821464", 1978),
];

/// Sends a request and returns (status, body as JSON or Null).
pub async fn call(app: &TestApp, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> (u16, Value) {
    let mut req = match method {
        "GET" => app.get(path),
        "POST" => app.client.post(app.url(path)),
        "PUT" => app.client.put(app.url(path)),
        "PATCH" => app.client.patch(app.url(path)),
        other => panic!("method {other}"),
    };
    if let Some(b) = body {
        req = req.json(b);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Registers a patient and returns the id.
pub async fn register(app: &TestApp, token: &str, (id, year): (&str, i32)) -> String {
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/patients",
        Some(&json!({"national_id": id, "sex": 2, "birth_year": year})),
        Some(token),
    )
    .await;
    assert!(status == 201 || status == 200, "register: {status} {body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Opens a pathway and returns its id.
pub async fn open(app: &TestApp, token: &str, patient: &str, unit: i64, start: &str, level: i16) -> String {
    let (status, body) = call(
        app,
        "POST",
        "/api/v1/pathways",
        Some(&json!({"patient_id": patient, "unit_id": unit, "start_date": start, "treatment_level": level})),
        Some(token),
    )
    .await;
    assert_eq!(status, 201, "open pathway: {body}");
    body["id"].as_str().unwrap().to_owned()
}

pub fn block(baseline: bool) -> Value {
    let mut b = json!({"substances": [{"substance": 1, "frequency_30d": 4, "route": 3},
                                      {"substance": 2, "frequency_30d": 1, "route": 2}],
                       "main_substance": 1, "injected_30d": 2, "overdose_12m": 0});
    if baseline {
        b["substances"][0]["debut_age"] = json!(15);
        b["substances"][1]["debut_age"] = json!(14);
    }
    b
}

pub fn baseline(date: &str) -> Value {
    json!({"event_date": date, "referral_diagnosis": "F10.2", "substance_diagnoses": ["F10.2", "F12.1"],
           "psychiatric_diagnoses": ["F32.1"], "somatic_diagnoses": [], "somatic_health_assessed": 1,
           "mental_health_assessed": 3, "in_lar": 2, "individual_plan": 1, "responsibility_group": 2,
           "substance_use": block(true), "injected_ever": 2, "audit_score": 20, "self_rated_severity": 4,
           "self_rated_life_situation": 2, "housing": 2, "lives_with": 1, "children_under_18": 2, "occupation": 7})
}

pub fn measurement(date: &str) -> Value {
    json!({"event_date": date, "treatment_level": 1, "treatment_plan": 1, "crisis_plan": 3, "benefit": 4,
           "feedback_tool_used": 2, "needs_followed_up": 2, "substance_use": block(false), "housing": 2, "occupation": 2})
}

pub fn discharge(date: &str) -> Value {
    json!({"event_date": date, "ending": 4, "agreed_follow_up": [2, 4], "substance_use": block(false),
           "housing": 2, "occupation": 2, "satisfaction": 5, "contact_consent_1y": 1})
}

pub fn follow_up(date: &str) -> Value {
    json!({"event_date": date, "outcome": 5, "substance_use": block(false), "housing": 1, "occupation": 1,
           "received_follow_up": [2], "self_rated_life_situation": 4})
}

pub async fn create(app: &TestApp, token: &str, pathway: &str, kind: &str, body: &Value) -> (String, i64) {
    let (status, form) =
        call(app, "POST", &format!("/api/v1/pathways/{pathway}/forms/{kind}"), Some(body), Some(token)).await;
    assert_eq!(status, 201, "create {kind}: {form}");
    (form["id"].as_str().unwrap().to_owned(), form["version"].as_i64().unwrap())
}

pub async fn complete(app: &TestApp, token: &str, form: &str) -> Value {
    let (status, body) = call(app, "POST", &format!("/api/v1/forms/{form}/complete"), None, Some(token)).await;
    assert_eq!(status, 200, "complete: {body}");
    body
}

pub async fn put(app: &TestApp, token: &str, form: &str, version: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app.client.put(app.url(&format!("/api/v1/forms/{form}"))).bearer_auth(token).json(body);
    if let Some(v) = version {
        req = req.header("If-Match", v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A new patient (`id`, born `year`) with a pathway at `unit` started `days_ago` days ago at
/// treatment level `level`; returns the pathway's id.
pub async fn pathway_for_new_patient(
    app: &TestApp,
    token: &str,
    unit: i64,
    id: (&str, i32),
    days_ago: i64,
    level: i16,
) -> String {
    let patient = register(app, token, id).await;
    let start = (domain::clock::today() - Duration::days(days_ago)).to_string();
    open(app, token, &patient, unit, &start, level).await
}

/// A baseline dated `date` created and completed on `pathway`; returns the form's id.
pub async fn completed_baseline(app: &TestApp, token: &str, pathway: &str, date: &str) -> String {
    let (form, _) = create(app, token, pathway, "baseline", &baseline(date)).await;
    complete(app, token, &form).await;
    form
}
