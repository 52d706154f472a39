//! Measure per indicator and MeasureReport from a published release only: exactly the cells of
//! the JSON download for the same caller, suppressed cells masked (data-absent-reason), never a
//! draft; audited as a download. Every resource is checked by fhir.resources.

use domain::access::Role;
use integration_tests::{TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::{json, Value};

use crate::fhir::{assert_outcome, fhir, validate};

const DAR: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

#[actix_web::test]
async fn measures_are_the_indicators() {
    let app = TestApp::spawn().await;
    let (status, _, bundle) = fhir(&app, "GET", "/fhir/Measure", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(bundle["total"], domain::indicators::INDICATORS.len());
    let (status, _, m) = fhir(&app, "GET", "/fhir/Measure/treatment-plan-early", None, None).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["scoring"]["coding"][0]["code"], "proportion");
    assert_eq!(m["improvementNotation"]["coding"][0]["code"], "increase");
    let codes: Vec<&str> = m["group"][0]["population"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["initial-population", "denominator", "numerator"]);
    let (status, ct, body) = fhir(&app, "GET", "/fhir/Measure/treatment_plan_early", None, None).await;
    assert_outcome(status, &ct, &body, 404);
    validate(&[bundle, m, body]);
}

/// The value of a MeasureReport population count: `Some(n)`, or `None` when masked.
fn count(report: &Value, code: &str) -> Option<i64> {
    let p = report["group"][0]["population"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"]["coding"][0]["code"] == code)
        .unwrap();
    match p["count"].as_i64() {
        Some(n) => Some(n),
        None => {
            assert_eq!(p["_count"]["extension"][0]["url"], DAR, "{p}");
            assert_eq!(p["_count"]["extension"][0]["valueCode"], "masked");
            None
        }
    }
}

#[actix_web::test]
async fn measure_reports_show_the_downloads_cells_of_a_published_release_only() {
    let app = TestApp::spawn().await;
    crate::reports::staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let hmr = app.entity_of(app.unit(UNIT_MOLDE)).0;
    let other = app.entity_of(app.unit(UNIT_ST_OLAV)).0;
    let contact = app.token_for(Role::RegisterContact, domain::organisations::NodeId(hmr)).await;
    let res =
        app.post("/api/v1/releases", &json!({"year": 2025, "min_cell": 3})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let search = format!("/fhir/MeasureReport?period=2025&entity={hmr}&_count=200");
    // A draft is never shown, not even to register staff.
    for token in [&contact, &staff] {
        let (status, _, bundle) = fhir(&app, "GET", &search, None, Some(token)).await;
        assert_eq!((status, bundle["total"].as_i64()), (200, Some(0)), "{bundle}");
    }
    let res = app.post(&format!("/api/v1/releases/{id}/publish"), &json!({})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // The same cells as the JSON download for the same caller.
    let download: Value = app
        .get(&format!("/api/v1/releases/{id}/download?entity={hmr}&format=json"))
        .bearer_auth(&contact)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = app.audit_count("release.download");
    let mut reports = Vec::new();
    let mut url = search.clone();
    let mut emitted = Vec::new();
    loop {
        let (status, _, bundle) = fhir(&app, "GET", &url, None, Some(&contact)).await;
        assert_eq!(status, 200, "{bundle}");
        reports
            .extend(bundle["entry"].as_array().cloned().unwrap_or_default().into_iter().map(|e| e["resource"].clone()));
        let next = bundle["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").cloned();
        emitted.push(bundle);
        match next {
            Some(n) => url = n["url"].as_str().unwrap().to_owned(),
            None => break,
        }
    }
    assert!(app.audit_count("release.download") > before, "audited as a download");
    let mut expected = 0;
    let mut masked = 0;
    for table in download["indicators"].as_array().unwrap() {
        let measure =
            format!("https://rusreg.example/fhir/Measure/{}", table["id"].as_str().unwrap().replace('_', "-"));
        for row in table["rows"].as_array().unwrap() {
            expected += 1;
            let node = row["node_id"].as_i64().unwrap();
            let r = reports
                .iter()
                .find(|r| {
                    r["measure"] == measure.as_str() && r["subject"]["reference"] == format!("Organization/{node}")
                })
                .unwrap_or_else(|| panic!("no report for {measure} {node}"));
            assert_eq!(count(r, "numerator"), row["numerator"].as_i64(), "{measure} {node}");
            assert_eq!(count(r, "denominator"), row["denominator"].as_i64(), "{measure} {node}");
            match row["share"].as_f64() {
                Some(share) => {
                    assert!((r["group"][0]["measureScore"]["value"].as_f64().unwrap() - share).abs() < 1e-12)
                }
                None => {
                    masked += 1;
                    assert!(r["group"][0]["measureScore"].get("value").is_none(), "{r}");
                    assert_eq!(r["group"][0]["measureScore"]["_value"]["extension"][0]["valueCode"], "masked");
                }
            }
        }
    }
    assert_eq!(reports.len(), expected, "no more and no fewer cells than the download");
    assert!(masked > 0, "the data set has suppressed cells");
    // Another legal entity's slice is refused, as the download refuses it.
    let (status, ct, body) =
        fhir(&app, "GET", &format!("/fhir/MeasureReport?period=2025&entity={other}"), None, Some(&contact)).await;
    assert_outcome(status, &ct, &body, 403);
    emitted.push(body);
    // A registrar has no downloads; no token is 401.
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let (status, ct, body) = fhir(&app, "GET", &search, None, Some(&registrar)).await;
    assert_outcome(status, &ct, &body, 403);
    let (status, ct, body) = fhir(&app, "GET", &search, None, None).await;
    assert_outcome(status, &ct, &body, 401);
    for bad in ["period=20x5", "measure=nope", "subject=x", "entity=x", "reporter=x"] {
        let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/MeasureReport?{bad}"), None, Some(&contact)).await;
        assert_outcome(status, &ct, &body, 400);
        emitted.push(body);
    }
    validate(&emitted);
}
