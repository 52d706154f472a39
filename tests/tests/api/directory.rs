//! The TSB service directory: the public list with its filters, recording a unit's facts and the
//! history of periods, the CSV import (dry run, one bad line refuses the file, a repeated file
//! changes nothing), who may do what, bad input, and the public page.

use domain::access::Role;
use integration_tests::{json, TestApp};
use serde_json::Value;

const DEMO_CSV: &str = include_str!("../../../seeds/directory-demo.csv");

async fn import(app: &TestApp, token: &str, body: &str, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("/api/v1/directory/import{query}")))
        .header("content-type", "text/csv")
        .bearer_auth(token)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn directory(app: &TestApp, query: &str) -> (u16, Value) {
    let res = app.get(&format!("/api/v1/directory{query}")).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn facts() -> Value {
    json!({
        "valid_from": "2026-01-01",
        "treatment_levels": ["outpatient", "inpatient"],
        "beds": 12,
        "special_functions": ["lar", "youth"],
        "municipality_number": "0301",
        "municipality_name": "Oslo",
        "address": "Testveien 1",
        "postal_code": "0150",
        "postal_place": "Oslo",
        "referral": "Henvisning fra fastlege.",
        "demo": true
    })
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn the_import_fills_the_public_directory_and_its_filters_narrow_it() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    // A dry run checks and stores nothing.
    let res = import(&app, &staff, DEMO_CSV, "?dry_run=true").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["rows"].as_i64(), body["created"].as_i64(), body["dry_run"].as_bool()),
        (Some(29), Some(29), Some(true))
    );
    assert_eq!(app.count("service_facts"), 0);
    let res = import(&app, &staff, DEMO_CSV, "").await;
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["created"].as_i64(), body["unchanged"].as_i64()), (Some(29), Some(0)));
    assert_eq!(app.count("service_facts"), 29);
    assert_eq!(app.audit_count("directory.import"), 1);
    assert_eq!(app.audit_count("directory.record"), 29);
    // The same file again changes nothing.
    let body: Value = import(&app, &staff, DEMO_CSV, "").await.json().await.unwrap();
    assert_eq!((body["created"].as_i64(), body["unchanged"].as_i64()), (Some(0), Some(29)));
    assert_eq!(app.count("service_facts"), 29);

    // Public, no token; ordered by region, entity and unit; placed in the tree.
    let (status, all) = directory(&app, "?per_page=500").await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 29);
    let items = all["items"].as_array().unwrap();
    assert!(items.iter().all(|s| s["facts"]["demo"] == true && s["region"]["id"].is_i64()));
    let keys: Vec<(String, String, String)> = items
        .iter()
        .map(|s| {
            (
                s["region"]["name"].as_str().unwrap().to_owned(),
                s["legal_entity"]["name"].as_str().unwrap().to_owned(),
                s["unit"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // Each filter gives exactly the items that match it.
    let check = |query: &str, keep: &dyn Fn(&Value) -> bool| {
        let expected: Vec<i64> = items.iter().filter(|s| keep(s)).map(|s| s["unit"]["id"].as_i64().unwrap()).collect();
        (query.to_owned(), expected)
    };
    let region = items[0]["region"]["id"].as_i64().unwrap();
    let entity = items[0]["legal_entity"]["id"].as_i64().unwrap();
    let cases = [
        check(&format!("region={region}"), &|s| s["region"]["id"] == region),
        check(&format!("entity={entity}"), &|s| s["legal_entity"]["id"] == entity),
        check("municipality=0301", &|s| s["facts"]["municipality_number"] == "0301"),
        check("level=detoxification", &|s| {
            s["facts"]["treatment_levels"].as_array().unwrap().contains(&json!("detoxification"))
        }),
        check("function=prison", &|s| s["facts"]["special_functions"].as_array().unwrap().contains(&json!("prison"))),
        check(&format!("region={region}&level=inpatient"), &|s| {
            s["region"]["id"] == region
                && s["facts"]["treatment_levels"].as_array().unwrap().contains(&json!("inpatient"))
        }),
    ];
    for (query, expected) in cases {
        assert!(!expected.is_empty(), "{query}: the demo data has a match");
        let (status, page) = directory(&app, &format!("?per_page=500&{query}")).await;
        assert_eq!(status, 200);
        let got: Vec<i64> =
            page["items"].as_array().unwrap().iter().map(|s| s["unit"]["id"].as_i64().unwrap()).collect();
        assert_eq!(got, expected, "{query}");
    }
    // Paging.
    let (_, page2) = directory(&app, "?per_page=10&page=3").await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 9);
    assert_eq!(page2["items"][0]["unit"]["id"], items[20]["unit"]["id"]);
    // A day before any period: nothing.
    let (_, before) = directory(&app, "?on=2024-06-01").await;
    assert_eq!(before["total"], 0);
    // Bad filters: every one named, nothing else.
    let (status, problem) =
        directory(&app, &format!("?level=spa&function=golf&municipality=abcd&region={entity}")).await;
    assert_eq!(status, 422);
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(got, ["function", "level", "municipality", "region"]);
    let (status, problem) = directory(&app, "?region=north").await;
    assert_eq!(status, 400);
    assert_eq!(fields(&problem), ["region"]);
}

#[actix_web::test]
async fn register_staff_record_periods_and_everyone_else_is_refused() {
    let app = TestApp::spawn().await;
    let unit = app.unit(9000019);
    let path = format!("/api/v1/directory/{}", unit.0);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    // Who may: register staff only.
    for (role, token) in app.tokens_around(unit).await {
        if role == Role::RegisterStaff {
            continue;
        }
        let res = reqwest::Client::new().put(app.url(&path)).bearer_auth(&token).json(&facts()).send().await.unwrap();
        assert_eq!(res.status(), 403, "{role:?}");
        let res = app.get(&format!("{path}/history")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 403, "{role:?} history");
        let res = import(&app, &token, DEMO_CSV, "").await;
        assert_eq!(res.status(), 403, "{role:?} import");
    }
    let res = reqwest::Client::new().put(app.url(&path)).json(&facts()).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.count("service_facts"), 0);

    let put = |body: Value, path: String| {
        let token = staff.clone();
        let url = app.url(&path);
        async move { reqwest::Client::new().put(url).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    let res = put(facts(), path.clone()).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["result"], "created");
    // The same facts again: unchanged.
    let res = put(facts(), path.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["result"], "unchanged");
    // A correction from the same day, then a new period.
    let mut corrected = facts();
    corrected["beds"] = json!(14);
    assert_eq!(put(corrected.clone(), path.clone()).await.status(), 201);
    let mut later = corrected.clone();
    later["valid_from"] = json!("2026-06-01");
    later["treatment_levels"] = json!(["outpatient"]);
    later["beds"] = Value::Null;
    assert_eq!(put(later, path.clone()).await.status(), 201);
    let history: Value =
        app.get(&format!("{path}/history")).bearer_auth(&staff).send().await.unwrap().json().await.unwrap();
    let periods: Vec<(String, Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["valid_from"].as_str().unwrap().to_owned(), p["valid_to"].clone(), p["beds"].clone()))
        .collect();
    assert_eq!(
        periods,
        [
            ("2026-01-01".to_owned(), json!("2026-01-01"), json!(12)),
            ("2026-01-01".to_owned(), json!("2026-06-01"), json!(14)),
            ("2026-06-01".to_owned(), Value::Null, Value::Null),
        ],
        "the corrected period is kept, empty"
    );
    assert_eq!(app.audit_count("directory.record"), 3);
    // The public list shows the period of the day asked for.
    let (_, march) = directory(&app, "?on=2026-03-01").await;
    assert_eq!(march["items"][0]["facts"]["beds"], 14);
    let (_, july) = directory(&app, "?on=2026-07-01").await;
    assert_eq!(july["items"][0]["facts"]["treatment_levels"], json!(["outpatient"]));

    // Bad input: every field at once, nothing stored.
    let before = app.count("service_facts");
    let mut bad = facts();
    bad["valid_from"] = json!("2025-01-01");
    let res = put(bad, path.clone()).await;
    assert_eq!(res.status(), 422);
    assert_eq!(fields(&res.json().await.unwrap()), ["valid_from"], "not before the open period");
    let bad = json!({
        "valid_from": "2026-09-01", "treatment_levels": [], "beds": -3, "special_functions": ["golf"],
        "municipality_number": "12", "municipality_name": "", "address": "x", "postal_code": "abc",
        "referral": "r"
    });
    let res = put(bad, path.clone()).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        fields(&res.json().await.unwrap()),
        ["treatment_levels", "special_functions", "beds", "municipality_number", "municipality_name", "postal_code"]
    );
    let res = put(json!({"treatment_levels": "outpatient"}), path.clone()).await;
    assert_eq!(res.status(), 422);
    let res = put(facts(), format!("/api/v1/directory/{}", app.entity_of(unit).0)).await;
    assert_eq!(res.status(), 404, "a legal entity has no services of its own");
    let res = put(facts(), "/api/v1/directory/999999999".into()).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.count("service_facts"), before);
}

#[actix_web::test]
async fn one_bad_line_refuses_the_file_with_every_bad_line_named() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let mut lines: Vec<String> = DEMO_CSV.lines().map(str::to_owned).collect();
    lines[3] = lines[3].replacen("9000003", "1234567", 1); // line 4: no such unit
    lines[5] = lines[5].replace("outpatient|day", "outpatient|spa"); // line 6
    lines[7] = lines[7].replace("2025-01-01", "01.01.2025"); // line 8
    lines.push(lines[1].clone()); // line 31: the first unit again, same day
    let file = lines.join("\n");
    for query in ["", "?dry_run=true"] {
        let res = import(&app, &staff, &file, query).await;
        assert_eq!(res.status(), 422);
        let problem: Value = res.json().await.unwrap();
        assert_eq!(
            fields(&problem),
            ["rows[4].resh_id", "rows[6].treatment_levels", "rows[8].valid_from", "rows[31].resh_id"],
            "{problem}"
        );
        assert!(!problem.to_string().contains("1234567"), "no submitted value in the answer");
    }
    assert_eq!(app.count("service_facts"), 0);
    // Not CSV, an empty file, a header of another file.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/directory/import"))
        .header("content-type", "application/json")
        .bearer_auth(&staff)
        .body(DEMO_CSV)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(import(&app, &staff, "resh_id,valid_from\n", "").await.status(), 422);
    assert_eq!(import(&app, &staff, "resh_id,year,pathways\n9000001,2025,3\n", "").await.status(), 422);
    assert_eq!(import(&app, &staff, DEMO_CSV, "?dry_run=maybe").await.status(), 400);
    assert_eq!(app.count("service_facts"), 0);
    assert_eq!(app.audit_count("directory.import"), 0);
}

#[actix_web::test]
async fn the_page_lists_and_filters_the_services_with_their_published_results() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(import(&app, &staff, DEMO_CSV, "").await.status(), 200);
    let page = |path: &str| {
        let url = app.url(path);
        async move {
            let res = reqwest::get(url).await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // Before any publication the page lists the services, without results.
    let (status, html) = page("/results/tjenester").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(html.matches("<article class=\"service\"").count(), 29);
    assert!(html.contains("29 tjenester") && html.contains("(oppdiktet)"));
    assert!(html.contains("Helse Nord RHF") && html.contains("<h3>Oslo universitetssykehus HF</h3>"));
    // A filter: units with detoxification only.
    let (_, api) = directory(&app, "?level=detoxification&per_page=500").await;
    let (_, html) = page("/results/tjenester?level=detoxification&region=&entity=").await;
    let shown = html.matches("<article class=\"service\"").count();
    assert_eq!(shown as i64, api["total"].as_i64().unwrap());
    for s in api["items"].as_array().unwrap() {
        assert!(html.contains(&format!("data-unit=\"{}\"", s["unit"]["id"])));
    }
    assert!(html.contains("<option value=\"detoxification\" selected>"));
    // English.
    let (status, en) = page("/results/tjenester?lang=en").await;
    assert_eq!(status, 200);
    assert!(en.contains("<html lang=\"en\">") && en.contains("29 services") && en.contains("(made up)"));
    // Bad filters.
    assert_eq!(page("/results/tjenester?level=spa").await.0, 422);
    assert_eq!(page("/results/tjenester?region=x").await.0, 422);
    assert_eq!(page("/results/tjenester?lang=xx").await.0, 404);
}

/// After a publication each unit carries its results from the release: the same numbers as the
/// public JSON's unit rows, withheld ones as withheld.
#[actix_web::test]
async fn each_unit_carries_its_published_results() {
    let app = crate::results::published().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(import(&app, &staff, DEMO_CSV, "").await.status(), 200);
    let public: Value = app.get("/api/v1/public/indicators").send().await.unwrap().json().await.unwrap();
    let (_, listed) = directory(&app, "?per_page=500").await;
    let mut compared = 0;
    let mut withheld = 0;
    for s in listed["items"].as_array().unwrap() {
        let unit = &s["unit"]["id"];
        for i in s["indicators"].as_array().unwrap() {
            let table = public["indicators"].as_array().unwrap().iter().find(|t| t["id"] == i["id"]).unwrap();
            let row = table["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["node_id"] == *unit && r["level"] == "unit")
                .unwrap();
            assert_eq!(
                (&i["numerator"], &i["denominator"], &i["share"]),
                (&row["numerator"], &row["denominator"], &row["share"])
            );
            assert_eq!(s["release_id"], public["metadata"]["release_id"]);
            compared += 1;
            withheld += usize::from(i["share"].is_null());
        }
    }
    assert!(compared > 0 && withheld > 0, "the data set has published and withheld unit results");
    let html = reqwest::get(app.url("/results/tjenester")).await.unwrap().text().await.unwrap();
    assert_eq!(html.matches("<td class=\"num withheld\">*</td>").count(), withheld);
}
