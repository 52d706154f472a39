//! Residence (docs/residence.md): the reference-data imports (areas with validity periods,
//! catchment areas, population in Statistics Norway's layout), who may import, bad files, and the
//! pathway's residence code checked against the areas valid on its start date.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};
use serde_json::Value;

use crate::patients::{call, register, IDS};

const AREAS: &str = include_str!("../../../seeds/residence-areas-demo.csv");
const CATCHMENT: &str = include_str!("../../../seeds/catchment-demo.csv");

async fn import(app: &TestApp, token: &str, table: &str, body: &str, query: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/residence/{table}{query}")))
        .header("content-type", "text/csv")
        .bearer_auth(token)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().map_or_else(Vec::new, |a| {
        a.iter().map(|e| format!("{}:{}", e["field"].as_str().unwrap(), e["code"].as_str().unwrap())).collect()
    })
}

const POPULATION: &str = "\"region\";\"kjønn\";\"alder\";\"år\";\"statistikkvariabel\";\"07459: Befolkning\"\n\
\"4601 Bergen\";\"1 Menn\";\"018 18 år\";\"2025\";\"Personer\";1200\n\
\"4601 Bergen\";\"2 Kvinner\";\"018 18 år\";\"2025\";\"Personer\";1100\n\
\"030101 Gamle Oslo\";\"2 Kvinner\";\"105+ 105 år eller eldre\";\"2025\";\"Personer\";-\n";

#[actix_web::test]
async fn register_staff_import_the_reference_data_and_a_repeat_changes_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let (status, body) = import(&app, &staff, "areas", AREAS, "?dry_run=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["rows"].as_i64(), body["created"].as_i64(), body["dry_run"].as_bool()),
        (Some(167), Some(167), Some(true))
    );
    assert_eq!(app.count("residence_areas"), 0);
    let (status, body) = import(&app, &staff, "areas", AREAS, "").await;
    assert_eq!((status, body["created"].as_i64()), (200, Some(167)));
    let (_, body) = import(&app, &staff, "areas", AREAS, "").await;
    assert_eq!((body["created"].as_i64(), body["unchanged"].as_i64()), (Some(0), Some(167)));
    let (status, body) = import(&app, &staff, "catchment", CATCHMENT, "").await;
    assert_eq!((status, body["created"].as_i64()), (200, Some(166)), "{body}");
    // A correction: a period's end and successor.
    let fix = "code;name;valid_from;valid_to;successor\n4601;Bergen;2020-01-01;2030-01-01;4699\n";
    let (status, body) = import(&app, &staff, "areas", fix, "").await;
    assert_eq!((status, body["changed"].as_i64()), (200, Some(1)), "{body}");
    let (status, body) = import(&app, &staff, "population", POPULATION, "").await;
    assert_eq!((status, body["created"].as_i64()), (200, Some(3)), "{body}");
    assert_eq!(app.count("populations"), 3);
    // Replaced, not added.
    let (_, _) = import(&app, &staff, "population", POPULATION, "").await;
    assert_eq!(app.count("populations"), 3);
    assert_eq!(app.audit_count("residence.import"), 6);
}

#[actix_web::test]
async fn only_register_staff_import_reference_data() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    for (role, token) in app.tokens_around(unit).await.into_iter().filter(|(r, _)| *r != Role::RegisterStaff) {
        for table in ["areas", "catchment", "population"] {
            let (status, _) = import(&app, &token, table, AREAS, "").await;
            assert_eq!(status, 403, "{role:?} {table}");
        }
    }
    // A register contact of the health trust is not register staff either.
    let contact = app.token_for(Role::RegisterContact, app.entity_of(unit)).await;
    assert_eq!(import(&app, &contact, "population", POPULATION, "").await.0, 403);
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/residence/areas"))
        .header("content-type", "text/csv")
        .body(AREAS)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.count("residence_areas"), 0);
}

#[actix_web::test]
async fn bad_reference_files_get_field_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "areas",
            "code;name;valid_from;valid_to;successor\n301;Oslo;2020-01-01;;\n4601;;2020-13-01;;\n4601;Bergen;2020-01-01;2019-01-01;4601\n",
            vec!["rows[2].code:format", "rows[3].name:length", "rows[3].valid_from:format", "rows[4].valid_to:date_order", "rows[4].successor:format"],
        ),
        (
            "areas",
            "code;name;valid_from;valid_to;successor\n4601;Bergen;2020-01-01;;\n4601;Bergen;2021-01-01;;\n",
            vec!["rows[3].valid_from:overlap"],
        ),
        ("areas", "code;name\n4601;Bergen\n", vec!["body:columns"]),
        ("areas", "code;name;valid_from;valid_to;successor\n", vec!["body:empty"]),
        (
            "catchment",
            "area_code;trust_org_number;valid_from;valid_to\n4601;000000000;2020-01-01;\n",
            vec!["rows[2].area_code:unknown", "rows[2].trust_org_number:unknown"],
        ),
        (
            "population",
            "\"region\";\"kjønn\";\"alder\";\"år\";\"x\"\n\"Bergen\";\"3 Annet\";\"abc\";\"1800\";-5\n",
            vec!["rows[2].region:format", "rows[2].kjønn:code_list", "rows[2].alder:format", "rows[2].år:format", "rows[2].value:format"],
        ),
        ("population", "a;b\n1;2\n", vec!["body:columns"]),
    ];
    for (table, body, expected) in cases {
        let (status, problem) = import(&app, &staff, table, body, "").await;
        assert_eq!(status, 422, "{table}: {problem}");
        assert_eq!(fields(&problem), expected, "{table}: {body}");
    }
    // Not CSV, not UTF-8.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/residence/areas"))
        .header("content-type", "application/json")
        .bearer_auth(&staff)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let (status, problem) = import(&app, &staff, "areas", "\u{fffd}", "").await;
    assert_eq!(status, 422, "{problem}");
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/residence/areas"))
        .header("content-type", "text/csv")
        .bearer_auth(&staff)
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    for table in ["residence_areas", "catchment_areas", "populations"] {
        assert_eq!(app.count(table), 0, "{table}");
    }
    assert_eq!(app.audit_count("residence.import"), 0);
}

#[actix_web::test]
async fn a_pathway_records_a_residence_valid_on_its_start_date() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(import(&app, &staff, "areas", AREAS, "").await.0, 200);
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    let patient = register(&app, &token, IDS[0]).await;
    let open = |start: &str, code: &str| json!({"patient_id": patient, "unit_id": unit.0, "start_date": start, "treatment_level": 1, "residence_code": code});
    let cases = [
        // Bergen's number before the 2020 reform, after it.
        (open("2020-02-01", "1201"), "residence_code:validity", "replaced by 4601 from 2020-01-01"),
        (open("2019-06-01", "4601"), "residence_code:validity", "valid from a later date"),
        (open("2026-01-05", "9999"), "residence_code:code_list", ""),
        (open("2026-01-05", "46011"), "residence_code:format", ""),
        // Oslo is recorded by city district.
        (open("2026-01-05", "0301"), "residence_code:district_required", ""),
    ];
    for (body, expected, message) in cases {
        let (status, problem) = call(&app, "POST", "/api/v1/pathways", Some(&body), Some(&token)).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(fields(&problem), [expected], "{body}");
        assert!(problem.to_string().contains(message), "{problem}");
    }
    assert_eq!(app.count("pathways"), 0);
    let (status, pathway) =
        call(&app, "POST", "/api/v1/pathways", Some(&open("2026-01-05", "030102")), Some(&token)).await;
    assert_eq!(status, 201, "{pathway}");
    assert_eq!(pathway["residence_code"], "030102");
    let (_, read) =
        call(&app, "GET", &format!("/api/v1/pathways/{}", pathway["id"].as_str().unwrap()), None, Some(&token)).await;
    assert_eq!(read["residence_code"], "030102");
    // Without a residence, as before.
    let other = register(&app, &token, IDS[1]).await;
    let body = json!({"patient_id": other, "unit_id": unit.0, "start_date": "2026-01-05", "treatment_level": 1});
    let (status, pathway) = call(&app, "POST", "/api/v1/pathways", Some(&body), Some(&token)).await;
    assert_eq!(status, 201);
    assert!(pathway["residence_code"].is_null());
}

#[actix_web::test]
async fn pathways_started_are_counted_by_the_catchment_trust_of_adults_residence() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(import(&app, &staff, "areas", AREAS, "").await.0, 200);
    assert_eq!(import(&app, &staff, "catchment", CATCHMENT, "").await.0, 200);
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    // Molde (1506) is in Helse Møre og Romsdal's catchment; Grünerløkka in Oslo
    // universitetssykehus'; one adult without a residence; one patient under 18 in 2026.
    let cases: [((&str, i32), Option<&str>); 4] =
        [(IDS[0], Some("1506")), (IDS[1], Some("030102")), (IDS[2], None), (("15091250060", 2012), Some("1506"))];
    for (id, code) in cases {
        let patient = register(&app, &token, id).await;
        let mut body =
            json!({"patient_id": patient, "unit_id": unit.0, "start_date": "2026-01-05", "treatment_level": 1});
        if let Some(code) = code {
            body["residence_code"] = json!(code);
        }
        let (status, problem) = call(&app, "POST", "/api/v1/pathways", Some(&body), Some(&token)).await;
        assert_eq!(status, 201, "{problem}");
    }
    let mut conn = app.conn();
    let mut trust = |org: &str| -> i64 {
        use diesel::prelude::*;
        use persistence::schema::org_nodes;
        org_nodes::table.filter(org_nodes::org_number.eq(org)).select(org_nodes::id).first(&mut conn).unwrap()
    };
    let (hmr, ous) = (trust("997005562"), trust("993467049"));
    let today = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let settings = persistence::reports::CountSettings { today, as_of_today: false, limits: Default::default() };
    let rows = persistence::reports::indicator_counts(&mut app.conn(), 2026, 2026, &settings).unwrap();
    let mut started: Vec<(i16, Option<i64>, i64)> = rows
        .iter()
        .filter(|r| r.population == "started")
        .map(|r| (r.residence_kind, r.residence_trust_id, r.n))
        .collect();
    started.sort();
    assert_eq!(started, [(1, None, 1), (2, None, 1), (2, Some(ous.min(hmr)), 1), (2, Some(ous.max(hmr)), 1)]);
    assert!(rows.iter().filter(|r| r.population != "started").all(|r| r.residence_kind == 0));
}

#[actix_web::test]
async fn bulk_import_takes_the_residence_and_refuses_a_replaced_number_on_its_row() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(import(&app, &staff, "areas", AREAS, "").await.0, 200);
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    let lines = [
        json!({"type": "patient", "key": "P0", "national_id": IDS[0].0, "sex": 2, "birth_year": IDS[0].1}),
        json!({"type": "pathway", "key": "W0", "patient_key": "P0", "unit_id": unit.0, "start_date": "2026-01-05",
               "treatment_level": 1, "residence_code": "1506"}),
        json!({"type": "patient", "key": "P1", "national_id": IDS[1].0, "sex": 1, "birth_year": IDS[1].1}),
        // Molde's number before the 2020 reform.
        json!({"type": "pathway", "key": "W1", "patient_key": "P1", "unit_id": unit.0, "start_date": "2026-01-05",
               "treatment_level": 1, "residence_code": "1502"}),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let res = app
        .client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(&token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(3), Some(1)), "{job}");
    assert_eq!(
        (job["errors"][0]["line"].as_i64(), job["errors"][0]["field"].as_str()),
        (Some(4), Some("residence_code"))
    );
    assert_eq!(job["errors"][0]["code"], "validity");
    let stored: Vec<Option<String>> = {
        use diesel::prelude::*;
        persistence::schema::pathways::table
            .select(persistence::schema::pathways::residence_code)
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(stored, [Some("1506".to_owned())]);
    // The CSV layout has the column too (optional: a file without it reads as before).
    let csv = format!(
        "key,national_id,sex,birth_year,unit_id,start_date,treatment_level,residence_code\nC2,{},1,{},{},2026-01-05,1,030101\n",
        IDS[2].0, IDS[2].1, unit.0
    );
    let res = app
        .client
        .post(app.url("/api/v1/imports?kind=pathway"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["rejected"].as_i64(), Some(0), "{job}");
    assert_eq!(app.count("pathways"), 2);
}
