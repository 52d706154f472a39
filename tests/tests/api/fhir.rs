//! The FHIR R4 facade (/fhir, docs/fhir.md): the CapabilityStatement, the Questionnaires,
//! CodeSystems and ValueSets generated from the form catalogue, and OperationOutcome for every
//! error. Every resource the facade emits is checked with an independent R4 implementation
//! (`fhir.resources` on PyPI, through tests/fhir/validate.py and FHIR_RESOURCES_PYTHON, which
//! .ci/run installs): without it these tests fail, they never skip.

use std::io::Write;
use std::process::{Command, Stdio};

use integration_tests::TestApp;
use serde_json::Value;

/// Checks resources with `fhir.resources` (R4 4.0.1); panics with its report on any failure.
pub fn validate(resources: &[Value]) {
    // `.ci/run` installs it and names it in FHIR_RESOURCES_PYTHON; without that, a pinned venv
    // under the tests' target folder (fhir.resources 6.4.0's default models are R4 4.0.1).
    let python = integration_tests::python_tool(
        "FHIR_RESOURCES_PYTHON",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        "fhir-resources-6.4.0",
        &["fhir.resources==6.4.0", "pydantic==1.10.22"],
        "python",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fhir/validate.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the FHIR validator");
    child.stdin.take().unwrap().write_all(serde_json::to_string(resources).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "fhir.resources refused a resource:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A request to the facade: (status, content type, body).
pub async fn fhir(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (u16, String, Value) {
    let mut req = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(b) = body {
        req = req.header("content-type", "application/fhir+json").body(serde_json::to_vec(b).unwrap());
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = res.text().await.unwrap();
    (status, ct, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts an OperationOutcome answer with this status.
pub fn assert_outcome(status: u16, ct: &str, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(ct.starts_with("application/fhir+json"), "content type {ct}");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert!(!body["issue"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn metadata_states_exactly_what_is_served() {
    let app = TestApp::spawn().await;
    let (status, ct, cs) = fhir(&app, "GET", "/fhir/metadata", None, None).await;
    assert_eq!(status, 200, "{cs}");
    assert!(ct.starts_with("application/fhir+json"));
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["format"], serde_json::json!(["application/fhir+json"]));
    validate(std::slice::from_ref(&cs));
    // Every search parameter the statement claims is accepted by the search, and one it does
    // not claim is refused.
    for r in cs["rest"][0]["resource"].as_array().unwrap() {
        let ty = r["type"].as_str().unwrap();
        let public = matches!(ty, "Questionnaire" | "CodeSystem" | "ValueSet");
        if !public {
            continue;
        }
        for p in r["searchParam"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let (status, _, body) = fhir(&app, "GET", &format!("/fhir/{ty}?{name}=x"), None, None).await;
            assert_eq!(status, 200, "{ty}?{name}: {body}");
        }
        let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/{ty}?name-not-claimed=x"), None, None).await;
        assert_outcome(status, &ct, &body, 400);
        assert_eq!(body["issue"][0]["code"], "not-supported");
    }
}

#[actix_web::test]
async fn questionnaires_code_systems_and_value_sets_are_served_and_valid() {
    let app = TestApp::spawn().await;
    let mut emitted = Vec::new();
    for ty in ["Questionnaire", "CodeSystem", "ValueSet"] {
        let (status, _, bundle) = fhir(&app, "GET", &format!("/fhir/{ty}"), None, None).await;
        assert_eq!(status, 200, "{bundle}");
        assert_eq!(bundle["type"], "searchset");
        let entries = bundle["entry"].as_array().unwrap().clone();
        assert_eq!(bundle["total"].as_u64().unwrap() as usize, entries.len());
        for e in &entries {
            let id = e["resource"]["id"].as_str().unwrap();
            let (status, _, one) = fhir(&app, "GET", &format!("/fhir/{ty}/{id}"), None, None).await;
            assert_eq!(status, 200);
            assert_eq!(one, e["resource"], "read and search agree");
            let url = one["url"].as_str().unwrap().to_owned();
            let (_, _, by_url) = fhir(&app, "GET", &format!("/fhir/{ty}?url={}", urlencode(&url)), None, None).await;
            assert_eq!(by_url["total"], 1, "{ty} by url");
        }
        emitted.push(bundle);
    }
    let (_, _, q) = fhir(&app, "GET", "/fhir/Questionnaire/follow-up", None, None).await;
    assert_eq!(q["title"], "Ettårsoppfølging");
    // The follow-up's answers apply only when the outcome is 5 (followed up).
    let housing = q["item"].as_array().unwrap().iter().find(|i| i["linkId"] == "housing").unwrap();
    assert_eq!(housing["enableWhen"][0]["question"], "outcome");
    assert_eq!(housing["enableWhen"][0]["answerCoding"]["code"], "5");
    let (_, _, baseline) = fhir(&app, "GET", "/fhir/Questionnaire/baseline", None, None).await;
    let marked: Vec<&str> = baseline["item"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            i["extension"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["url"].as_str().unwrap().ends_with("patient-part")))
        })
        .map(|i| i["linkId"].as_str().unwrap())
        .collect();
    assert!(marked.contains(&"housing") && !marked.contains(&"referral_diagnosis"), "{marked:?}");
    validate(&emitted);
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn paging_follows_next_and_previous_links() {
    let app = TestApp::spawn().await;
    let (status, _, first) = fhir(&app, "GET", "/fhir/ValueSet?_count=5", None, None).await;
    assert_eq!(status, 200);
    let total = first["total"].as_u64().unwrap() as usize;
    assert!(total > 5);
    let mut seen = Vec::new();
    let mut page = first;
    loop {
        for e in page["entry"].as_array().unwrap() {
            seen.push(e["resource"]["id"].as_str().unwrap().to_owned());
        }
        let next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").cloned();
        let Some(next) = next else { break };
        let (status, _, p) = fhir(&app, "GET", next["url"].as_str().unwrap(), None, None).await;
        assert_eq!(status, 200);
        assert!(p["link"].as_array().unwrap().iter().any(|l| l["relation"] == "previous"));
        page = p;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (total, total), "every entry once");
    for bad in ["_count=0", "_count=201", "_count=x", "_page=0", "_count=5&_count=6"] {
        let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/ValueSet?{bad}"), None, None).await;
        assert_outcome(status, &ct, &body, 400);
        validate(&[body]);
    }
}

#[actix_web::test]
async fn every_error_is_an_operation_outcome() {
    let app = TestApp::spawn().await;
    let mut outcomes = Vec::new();
    for (method, path, expected) in [
        ("GET", "/fhir/Questionnaire/no-such-form", 404),
        ("GET", "/fhir/NoSuchResource", 404),
        ("GET", "/fhir/NoSuchResource/1", 404),
        ("DELETE", "/fhir/Questionnaire/baseline", 405),
        ("POST", "/fhir/metadata", 405),
    ] {
        let (status, ct, body) = fhir(&app, method, path, None, None).await;
        assert_outcome(status, &ct, &body, expected);
        outcomes.push(body);
    }
    // A client that accepts only XML is told so, in JSON.
    let res = app.get("/fhir/metadata").header("accept", "application/fhir+xml").send().await.unwrap();
    assert_eq!(res.status(), 406);
    let res = app.get("/fhir/metadata?_format=xml").send().await.unwrap();
    assert_eq!(res.status(), 406);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/fhir+json"));
    outcomes.push(res.json::<Value>().await.unwrap());
    validate(&outcomes);
}
