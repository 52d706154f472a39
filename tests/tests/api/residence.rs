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

/// The demo's residence reference data through the imports, and a synthetic population of the
/// last three years (marked synthetic).
pub async fn reference_data(app: &TestApp, year: i32) {
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    assert_eq!(import(app, &staff, "areas", AREAS, "").await.0, 200);
    assert_eq!(import(app, &staff, "catchment", CATCHMENT, "").await.0, 200);
    let areas = persistence::residence::all_areas(&mut app.conn()).unwrap();
    let csv = persistence::synthetic::population::demo_population_csv(&areas, year - 2..=year, 7);
    let mut conn = app.conn();
    let staff_id = app.user_with("residence-reference-staff", Role::RegisterStaff, app.nation());
    let actor = app::access::actor_of(&mut conn, staff_id, None).unwrap().unwrap();
    let caller = app::Caller::new(actor, None);
    app::residence::import(&mut conn, &caller, app::residence::Table::Population, csv.as_bytes(), false, true).unwrap();
}

async fn get_residence(app: &TestApp, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(app.url(&format!("/api/v1/reports/residence{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn results_by_residence_come_from_the_published_release_with_crude_and_standardised_rates() {
    let app = TestApp::spawn().await;
    let year = chrono::Datelike::year(&domain::clock::today()) - 1;
    reference_data(&app, year).await;
    let key = domain::national_id::IdKey::from_bytes(&integration_tests::TEST_ID_KEY);
    let settings = persistence::synthetic::SyntheticSettings::builtin().unwrap();
    let options = persistence::synthetic::LoadOptions { writers: 1, batch_pathways: 2_000 };
    persistence::synthetic::load(&app.db.url, &key, 20_000, 1, &settings, &options, |_| {}).unwrap();
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let clinician = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;

    // Before a release of the year is published: nothing to show.
    let (status, _) = get_residence(&app, Some(&clinician), &format!("?year={year}")).await;
    assert_eq!(status, 404);
    // k = 3: at the demo's size (about 2,500 pathways a year) the strata of a k = 5 release are
    // too often withheld for a standardised rate to show anywhere.
    let res =
        app.post("/api/v1/releases", &json!({"year": year, "min_cell": 3})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
    let release: Value = res.json().await.unwrap();
    let id = release["id"].as_i64().unwrap();
    assert_eq!(release["audit"]["passed"], true, "{release}");
    let res = app.post(&format!("/api/v1/releases/{id}/publish"), &json!({})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // The residence cells are cells of the release, suppressed with the rest.
    let cells = persistence::releases::release_cells(&mut app.conn(), id, None).unwrap();
    let residence: Vec<_> = cells.iter().filter(|c| c.measure == "residence").collect();
    assert!(residence.len() > 100, "{} residence cells", residence.len());
    assert!(residence.iter().any(|c| c.status != "published"), "some residence cell is withheld");
    assert!(residence.iter().all(|c| c.status != "published" || c.value == 0 || c.value >= 3));

    // Any signed-in user reads them; the trusts by default.
    let (status, body) = get_residence(&app, Some(&clinician), &format!("?year={year}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["level"].as_str(), body["metadata"]["release_id"].as_i64()), (Some("legal_entity"), Some(id)));
    assert_eq!(body["population_synthetic"], true);
    let rows = body["rows"].as_array().unwrap();
    assert!(rows.len() >= 10, "{} trusts", rows.len());
    let (_, regions) = get_residence(&app, Some(&staff), &format!("?year={year}&level=region")).await;
    let (_, nation) = get_residence(&app, Some(&staff), &format!("?year={year}&level=nation")).await;
    let mut standardised = 0;
    for r in rows.iter().chain(regions["rows"].as_array().unwrap()).chain(nation["rows"].as_array().unwrap()) {
        let strata = r["strata"].as_array().unwrap();
        assert_eq!(strata.len(), 4 * 6);
        // A rate only beside a published count; the standardised rate only when all ten
        // strata of men and women by adult age group are published.
        for s in strata {
            assert_eq!(s["rate"].is_null(), s["pathways_started"].is_null() || s["population"].is_null(), "{s}");
        }
        let all_ten = strata
            .iter()
            .filter(|s| (s["sex"] == "male" || s["sex"] == "female") && s["age_group"] != "all")
            .all(|s| s["pathways_started"].is_i64());
        assert_eq!(r["standardised"].is_object(), all_ten, "{r}");
        if let Some(st) = r["standardised"].as_object() {
            standardised += 1;
            let (v, lo, hi) =
                (st["per_1000"].as_f64().unwrap(), st["ci_low"].as_f64().unwrap(), st["ci_high"].as_f64().unwrap());
            assert!(lo < v && v < hi, "{st:?}");
        }
        // Where the sexes are all published, they add up to the total; the crude rate is the
        // count per 1,000 of the population.
        if let Some(total) = r["pathways_started"].as_i64() {
            let by_sex: Option<i64> = ["male", "female", "unknown"]
                .iter()
                .map(|sex| {
                    strata
                        .iter()
                        .find(|s| s["sex"] == *sex && s["age_group"] == "all")
                        .and_then(|s| s["pathways_started"].as_i64())
                })
                .sum();
            if let Some(sum) = by_sex {
                assert_eq!(sum, total);
            }
            let crude = r["crude"]["per_1000"].as_f64().unwrap();
            let population = r["population"].as_i64().unwrap();
            assert!((crude - 1000.0 * total as f64 / population as f64).abs() < 1e-9);
        }
    }
    assert!(rows.iter().all(|r| r["level"] == "legal_entity"));
    assert!(standardised > 0, "some row has every stratum published");

    // The nation's count is the sum of the regions' when all are published.
    let sum: Option<i64> = regions["rows"].as_array().unwrap().iter().map(|r| r["pathways_started"].as_i64()).sum();
    let national = nation["rows"][0]["pathways_started"].as_i64();
    if let (Some(s), Some(n)) = (sum, national) {
        assert_eq!(s, n);
    }
    assert_eq!(nation["without_residence"].as_array().unwrap().len(), 4 * 6);

    // Downloads carry the same tables: JSON, CSV rows and an XLSX sheet.
    let download =
        |format: &str| app.get(&format!("/api/v1/releases/{id}/download?format={format}")).bearer_auth(&staff).send();
    let json_doc: Value = download("json").await.unwrap().json().await.unwrap();
    assert_eq!(
        json_doc["residence"]["rows"].as_array().unwrap().len(),
        rows.len() + regions["rows"].as_array().unwrap().len() + 1
    );
    let csv = download("csv").await.unwrap().text().await.unwrap();
    assert!(csv.lines().next().unwrap().ends_with("standardised_ci_high"));
    assert!(csv.lines().filter(|l| l.contains(",residence,legal_entity,")).count() == rows.len() * 24);
    let xlsx = download("xlsx").await.unwrap().bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let mut workbook = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut workbook).unwrap();
    assert!(workbook.contains("name=\"residence\""), "{workbook}");
    // The public results too.
    let public: Value =
        reqwest::get(app.url(&format!("/api/v1/public/indicators?year={year}"))).await.unwrap().json().await.unwrap();
    assert_eq!(public["residence"]["rows"], json_doc["residence"]["rows"]);
}

#[actix_web::test]
async fn results_by_residence_refuse_strangers_and_bad_queries() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    assert_eq!(get_residence(&app, None, "?year=2025").await.0, 401);
    let (status, problem) = get_residence(&app, Some(&token), "?year=2025&level=unit").await;
    assert_eq!((status, fields(&problem)), (422, vec!["level:code_list".to_owned()]), "{problem}");
    let (status, problem) = get_residence(&app, Some(&token), "?year=2025&level=county").await;
    assert_eq!((status, fields(&problem)), (422, vec!["level:code_list".to_owned()]), "{problem}");
    let (status, problem) = get_residence(&app, Some(&token), "?year=1999").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), vec!["year:range".to_owned()]);
    // A query that does not parse is a 400, like every query of the API.
    assert_eq!(get_residence(&app, Some(&token), "?year=abc").await.0, 400);
    assert_eq!(get_residence(&app, Some(&token), "?level=region").await.0, 400);
    assert_eq!(get_residence(&app, Some(&token), "?year=2025").await.0, 404);
}
