//! Bad input: numeric query parameters out of their bounds (in code and in the OpenAPI
//! document), 413 and 415 as problem documents, and national ids never echoed — in no response
//! and no log line, whatever the type, field or position they were sent in.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};
use serde_json::Value;

use crate::fixtures::{self, IDS};

/// Every list endpoint with a page, and other numeric query parameters with a value out of
/// bounds: (path and query, the field the error names).
fn out_of_bounds(unit: i64) -> Vec<(String, &'static str)> {
    let huge = i64::MAX;
    let mut v: Vec<(String, &'static str)> = [
        "/api/v1/audit",
        "/api/v1/org-units",
        "/api/v1/pathways",
        "/api/v1/reservations",
        "/api/v1/users",
        "/api/v1/directory",
        &format!("/api/v1/units/{unit}/worklist"),
    ]
    .iter()
    .flat_map(|p| {
        [
            (format!("{p}?page={huge}"), "page"),
            (format!("{p}?page=0"), "page"),
            (format!("{p}?page=1000001"), "page"),
            (format!("{p}?per_page=0"), "per_page"),
            (format!("{p}?per_page={huge}"), "per_page"),
        ]
    })
    .collect();
    v.extend([
        ("/api/v1/org-units?parent=0".to_owned(), "parent"),
        ("/api/v1/pathways?unit=-1".to_owned(), "unit"),
        ("/api/v1/pathways?status=99".to_owned(), "status"),
        ("/api/v1/reports/indicators?year=1".to_owned(), "year"),
        (format!("/api/v1/reports/completeness?year={}", i32::MAX), "year"),
        ("/api/v1/reports/completeness?year=2024&unit=0".to_owned(), "unit"),
        ("/api/v1/reports/variable-completeness?year=2024&unit=-5".to_owned(), "unit"),
        ("/api/v1/releases?year=-3".to_owned(), "year"),
        ("/api/v1/releases/1/download?entity=0".to_owned(), "entity"),
        ("/api/v1/public/indicators?year=1999".to_owned(), "year"),
        ("/api/v1/directory?region=0".to_owned(), "region"),
        (format!("/api/v1/directory?entity={huge}"), "entity"),
    ]);
    v
}

#[actix_web::test]
async fn numeric_query_parameters_out_of_bounds_are_422_with_the_field_and_never_500() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let registrar = app.token_for(Role::Registrar, unit).await;
    for (path, field) in out_of_bounds(unit.0) {
        let token = if path.starts_with("/api/v1/users") {
            &admin
        } else if path.starts_with("/api/v1/pathways") || path.contains("/worklist") {
            &registrar
        } else {
            &staff
        };
        let res = app.get(&path).bearer_auth(token).send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(content_type, "application/problem+json", "{path}");
        assert_eq!(body["code"], "validation_failed", "{path}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{path}: {body}");
    }
    // A number that is no i64 at all: 400 naming the field.
    let res = app.get("/api/v1/audit?page=99999999999999999999").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["errors"][0]["field"].as_str()), (Some("invalid_query"), Some("page")));
    // The largest page is still served.
    let res = app.get("/api/v1/audit?page=1000000&per_page=500").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

/// The bounds the OpenAPI document must give each numeric query parameter.
fn documented_bounds(name: &str) -> (f64, f64) {
    match name {
        "page" => (1.0, app::paging::MAX_PAGE as f64),
        "per_page" => (1.0, app::paging::MAX_PER_PAGE as f64),
        "unit" | "parent" | "entity" | "region" => (1.0, api::pagination::MAX_ID as f64),
        "year" => (f64::from(api::pagination::MIN_YEAR), f64::from(api::pagination::MAX_YEAR)),
        "status" => (1.0, 7.0),
        other => panic!("numeric query parameter {other} has no bounds in this test"),
    }
}

#[actix_web::test]
async fn every_numeric_query_parameter_has_its_bounds_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/v1/openapi.json").send().await.unwrap().json().await.unwrap();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let schema = &param["schema"];
                let is_integer = schema["type"] == "integer"
                    || schema["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "integer"));
                if param["in"] != "query" || !is_integer {
                    continue;
                }
                let name = param["name"].as_str().unwrap();
                let (min, max) = documented_bounds(name);
                assert_eq!(schema["minimum"].as_f64(), Some(min), "{method} {path} {name}: {schema}");
                assert_eq!(schema["maximum"].as_f64(), Some(max), "{method} {path} {name}: {schema}");
                seen += 1;
            }
        }
    }
    assert!(seen >= 20, "only {seen} numeric query parameters found");
}

#[actix_web::test]
async fn too_large_and_wrong_type_bodies_are_problem_documents_on_every_body_endpoint() {
    let app = TestApp::spawn_with(|s| s.body_limit = 4096).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let big = format!("resh_id,year,pathways\n{}", "9000008,2024,1\n".repeat(1000));
    for (content_type, body, status) in
        [("text/csv", big.clone(), 413), ("application/json", "{}".to_owned(), 415), ("text/csv", big, 413)]
    {
        let res = app
            .client
            .post(app.url("/api/v1/coverage/reference-counts"))
            .bearer_auth(&staff)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["status"], status, "{problem}");
        assert!(problem["code"].is_string(), "{problem}");
    }
    // A method a route does not take is a problem document too.
    let res = app.client.delete(app.url("/api/v1/coverage/reference-counts")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/problem+json", "{}", res.status());
}

// ---------------------------------------------------------------------------------------------
// National ids are never echoed

/// The national id sent everywhere (an 11-digit fødselsnummer).
const FNR: &str = "12038840205";

#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test process from now on (JSON, as `RUSREG_LOG_FORMAT=json` writes
/// them; rusreg's own crates at trace level, the rest at info as `RUSREG_LOG` has it by default:
/// actix-web's own debug lines carry the request path, see docs/operations.md).
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Captured(buf.clone());
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,api=trace,app=trace,persistence=trace,domain=trace,tracing_actix_web=trace",
            ))
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only tracing subscriber of this test process");
        buf
    })
    .clone()
}

/// The body `base` with the national id put into `field` (a dotted path) as each JSON type.
fn with_id_everywhere(base: &Value) -> Vec<Value> {
    let n: u64 = FNR.parse().unwrap();
    let kinds =
        [json!(n), json!(FNR), json!([n]), json!([FNR]), json!({"id": n}), json!({FNR: true}), json!(-(n as i64))];
    let mut out = Vec::new();
    let mut paths: Vec<Vec<String>> = Vec::new();
    fn walk(v: &Value, prefix: &mut Vec<String>, paths: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    prefix.push(k.clone());
                    paths.push(prefix.clone());
                    walk(child, prefix, paths);
                    prefix.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate().take(1) {
                    prefix.push(i.to_string());
                    paths.push(prefix.clone());
                    walk(child, prefix, paths);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
    walk(base, &mut Vec::new(), &mut paths);
    for path in &paths {
        for kind in &kinds {
            let mut body = base.clone();
            let mut slot = &mut body;
            for seg in path {
                slot = match slot {
                    Value::Object(m) => m.get_mut(seg).unwrap(),
                    Value::Array(a) => &mut a[seg.parse::<usize>().unwrap()],
                    _ => unreachable!(),
                };
            }
            *slot = kind.clone();
            out.push(body);
        }
    }
    // Unknown fields: the id as the key and as the value.
    for extra in [json!({FNR: 1}), json!({"extra": n}), json!({"extra": FNR})] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        out.push(body);
    }
    out.push(json!(n));
    out.push(json!([FNR]));
    out
}

#[actix_web::test]
async fn national_ids_are_echoed_in_no_response_and_no_log_line() {
    let logs = capture_logs();
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let pathway = fixtures::pathway_for_new_patient(&app, &registrar, unit.0, IDS[0], 60, 1).await;
    let (_, body) = fixtures::call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&registrar)).await;
    let patient = body["patient_id"].as_str().unwrap().to_owned();
    let date = (domain::clock::today() - chrono::Duration::days(30)).to_string();
    let (form, _) = fixtures::create(&app, &registrar, &pathway, "measurement", &json!({})).await;
    let user = app.user_with("leak-probe", Role::Registrar, unit);

    // (method, path, token, base body)
    let endpoints: Vec<(&str, String, &str, Value)> = vec![
        ("POST", "/api/v1/patients".into(), &registrar, json!({"national_id": IDS[1].0, "sex": 2, "birth_year": 1963})),
        (
            "POST",
            "/api/v1/pathways".into(),
            &registrar,
            json!({"patient_id": patient, "unit_id": unit.0, "start_date": date, "treatment_level": 1}),
        ),
        ("POST", format!("/api/v1/pathways/{pathway}/forms/baseline"), &registrar, fixtures::baseline(&date)),
        ("POST", format!("/api/v1/pathways/{pathway}/forms/discharge"), &registrar, fixtures::discharge(&date)),
        ("PUT", format!("/api/v1/forms/{form}"), &registrar, fixtures::measurement(&date)),
        (
            "POST",
            format!("/api/v1/pathways/{pathway}/transfers"),
            &registrar,
            json!({"to_unit_id": unit.0, "date": date}),
        ),
        ("POST", format!("/api/v1/forms/{form}/reopen"), &admin, json!({"reason": "typo"})),
        (
            "POST",
            "/api/v1/users".into(),
            &admin,
            json!({"username": "probe-new", "display_name": "Probe", "password": "a long enough password"}),
        ),
        ("PATCH", format!("/api/v1/users/{user}"), &admin, json!({"display_name": "P", "disabled": false})),
        ("POST", format!("/api/v1/users/{user}/grants"), &admin, json!({"role": "registrar", "node_id": unit.0})),
        ("POST", "/api/v1/auth/token".into(), "", json!({"username": "nobody", "password": "wrong password"})),
        ("POST", "/api/v1/me/password".into(), &registrar, json!({"current_password": "x", "new_password": "y"})),
    ];
    let mut probes: Vec<(String, String, String, Option<Value>)> = Vec::new();
    for (method, path, token, base) in &endpoints {
        for body in with_id_everywhere(base) {
            probes.push((method.to_string(), path.clone(), token.to_string(), Some(body)));
        }
    }
    // Path and query parameters.
    for path in [
        format!("/api/v1/pathways/{FNR}"),
        format!("/api/v1/forms/{FNR}"),
        format!("/api/v1/patients/{FNR}"),
        format!("/api/v1/org-units/{FNR}x"),
        format!("/api/v1/units/{FNR}9999999999/worklist"),
        format!("/api/v1/pathways?unit={FNR}x"),
        format!("/api/v1/pathways?unit={FNR}{FNR}"),
        format!("/api/v1/pathways?from={FNR}"),
        format!("/api/v1/pathways?status={FNR}"),
        format!("/api/v1/pathways?page={FNR}"),
        format!("/api/v1/pathways?{FNR}=1"),
        format!("/api/v1/pathways?extra={FNR}"),
        format!("/api/v1/units/{}/worklist?kind={FNR}", unit.0),
        format!("/api/v1/audit?patient={FNR}"),
        format!("/api/v1/reports/indicators?year={FNR}"),
    ] {
        probes.push(("GET".into(), path, registrar.clone(), None));
    }
    probes.push(("POST".into(), format!("/api/v1/pathways/{pathway}/forms/{FNR}"), registrar.clone(), Some(json!({}))));

    let mut leaks = Vec::new();
    for (method, path, token, body) in probes {
        let mut req = app.client.request(method.parse().unwrap(), app.url(&path));
        if !token.is_empty() {
            req = req.bearer_auth(&token);
        }
        if method == "PUT" {
            req = req.header("If-Match", "1");
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = format!("{:?}", res.headers());
        let text = res.text().await.unwrap();
        // A user's name chosen by an admin is stored and shown; that is no echo of bad input.
        let stored = status < 300 && path.starts_with("/api/v1/users");
        if headers.contains(FNR) || (!stored && text.contains(FNR)) {
            leaks.push(format!("{method} {path} {status} {}: {text}", body.unwrap_or_default()));
        }
    }
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let log_leaks: Vec<&str> = logs.lines().filter(|l| l.contains(FNR)).take(5).collect();
    assert!(
        leaks.is_empty(),
        "{} responses echo the id, e.g.:\n{}",
        leaks.len(),
        leaks[..leaks.len().min(8)].join("\n")
    );
    assert!(log_leaks.is_empty(), "log lines with the id:\n{}", log_leaks.join("\n"));
}
