//! Reports: indicators, completeness, variable completeness and coverage on a small hand-made
//! data set whose every figure is computed by hand below; releases, downloads and public
//! results, with a disclosure check of everything a release hands out (by the auditor, and by
//! brute force on the indicator tables); the access matrix; bad input; the reports pool.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, Months};
use diesel::{PgConnection, RunQueryDsl};
use domain::access::Role;
use domain::indicators::IndicatorId;
use domain::organisations::NodeId;
use integration_tests::{json, TestApp, TestDb, UNIT_ALESUND, UNIT_MOLDE, UNIT_ST_OLAV};
use reporting::suppression::{audit_flags, AuditOptions, PrimaryRule};
use reporting::tree::OrgTree;
use serde_json::Value;
use uuid::Uuid;

/// Inserts rows directly (the rules of registration are tested elsewhere; here the data must be
/// exactly what the hand computation below assumes).
pub(crate) struct Fixture {
    conn: PgConnection,
    user: Uuid,
    n: u128,
}

impl Fixture {
    /// A fixture writing through `conn`, with a user of its own there (no grants, no login).
    pub(crate) fn new(conn: PgConnection) -> Self {
        let user = Uuid::new_v4();
        let mut fx = Fixture { conn, user, n: 0 };
        fx.exec(&format!(
            "INSERT INTO users (id, username, display_name, password_hash) VALUES ('{user}', 'fixture-{}', 'Fixture', '-')",
            user.simple()
        ));
        fx
    }

    fn exec(&mut self, sql: &str) {
        diesel::sql_query(sql).execute(&mut self.conn).unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    fn next(&mut self) -> Uuid {
        self.n += 1;
        Uuid::from_u128(0x7e57_0000_0000 + self.n)
    }

    /// A patient and a pathway opened at `unit`.
    fn pathway(&mut self, unit: i64, sex: i16, birth_year: i32, start: &str, level: i16, status: i16) -> Uuid {
        let (patient, pathway, user) = (self.next(), self.next(), self.user);
        self.exec(&format!(
            "INSERT INTO patients (id, pseudonym, national_id_enc, sex, birth_year, registered_by) \
             VALUES ('{patient}', sha256('{patient}'::bytea), decode(repeat('00', 39), 'hex'), {sex}, {birth_year}, '{user}')"
        ));
        self.exec(&format!(
            "INSERT INTO pathways (id, patient_id, unit_id, opened_unit_id, start_date, treatment_level, status, created_by) \
             VALUES ('{pathway}', '{patient}', {unit}, {unit}, '{start}', {level}, {status}, '{user}')"
        ));
        pathway
    }

    /// A form of `kind` with the typed fields `set` (SQL assignments, may be empty).
    fn form(&mut self, pathway: Uuid, kind: &str, unit: i64, date: &str, completed: bool, set: &str) -> Uuid {
        let (form, user) = (self.next(), self.user);
        let (status, at, by) = if completed {
            ("completed", "now()".to_owned(), format!("'{user}'"))
        } else {
            ("draft", "NULL".into(), "NULL".into())
        };
        self.exec(&format!(
            "INSERT INTO forms (id, pathway_id, kind, unit_id, event_date, status, created_by, updated_by, completed_by, completed_at) \
             VALUES ('{form}', '{pathway}', '{kind}', {unit}, '{date}', '{status}', '{user}', '{user}', {by}, {at})"
        ));
        let table = match kind {
            "baseline" => "baseline_forms",
            "measurement" => "measurement_forms",
            "discharge" => "discharge_forms",
            _ => "follow_up_forms",
        };
        self.exec(&format!("INSERT INTO {table} (form_id) VALUES ('{form}')"));
        if !set.is_empty() {
            self.exec(&format!("UPDATE {table} SET {set} WHERE form_id = '{form}'"));
        }
        form
    }
}

/// Node ids of the hand-made data set.
pub(crate) struct Nodes {
    molde: i64,
    alesund: i64,
    st_olav: i64,
    hmr: i64,
    st_olavs_hf: i64,
    region: i64,
    nation: i64,
}

pub(crate) fn nodes(app: &TestApp) -> Nodes {
    let molde = app.unit(UNIT_MOLDE);
    let st_olav = app.unit(UNIT_ST_OLAV);
    let hmr = app.entity_of(molde);
    let mut conn = app.conn();
    let region = persistence::organisations::path_of(&mut conn, hmr.0, domain::clock::today()).unwrap()[1];
    Nodes {
        molde: molde.0,
        alesund: app.unit(UNIT_ALESUND).0,
        st_olav: st_olav.0,
        hmr: hmr.0,
        st_olavs_hf: app.entity_of(st_olav).0,
        region: region.0,
        nation: app.nation().0,
    }
}

/// The data set of 2025 (and 2024 for trends), described pathway by pathway in the comments;
/// the expected figures are computed by hand in the tests.
pub(crate) fn hand_made(mut fx: Fixture, n: &Nodes) {
    let (m, a, s) = (n.molde, n.alesund, n.st_olav);
    // p1, Molde, man born 1990, outpatient, started 2025-01-01: baseline on time (01-10,
    // somatic yes), measurements 03-01 (plan yes, crisis no, benefit 5) and 05-01 (plan no,
    // crisis missing; 61 days after the last: late), discharge 08-01 ending 4, agreed GP.
    let p1 = fx.pathway(m, 1, 1990, "2025-01-01", 1, 4);
    fx.form(p1, "baseline", m, "2025-01-10", true, "somatic_health_assessed = 1");
    fx.form(p1, "measurement", m, "2025-03-01", true, "treatment_plan = 1, crisis_plan = 2, benefit = 5");
    fx.form(p1, "measurement", m, "2025-05-01", true, "treatment_plan = 2, benefit = 3");
    fx.form(p1, "discharge", m, "2025-08-01", true, "ending = 4, agreed_follow_up = '{1,2}', contact_consent_1y = 1");
    // p2, Molde, woman born 2000, inpatient, started 2025-01-01: baseline late (01-20 > start + 7,
    // somatic unknown), measurement 04-01 (plan unknown, crisis yes, benefit 4; 71 days after the
    // baseline: late for inpatient), discharge 09-01 ending 3, agreed none.
    let p2 = fx.pathway(m, 2, 2000, "2025-01-01", 3, 3);
    fx.form(p2, "baseline", m, "2025-01-20", true, "somatic_health_assessed = 3");
    fx.form(p2, "measurement", m, "2025-04-01", true, "treatment_plan = 3, crisis_plan = 1, benefit = 4");
    fx.form(
        p2,
        "discharge",
        m,
        "2025-09-01",
        true,
        "ending = 3, agreed_follow_up = '{7}', municipality_informed = 1, contact_consent_1y = 1",
    );
    // p3, Ålesund, started 2024-11-01: first measurement 2024-12-01 (plan yes), another 2025-02-01
    // (62 days later: late) — its first measurement counts in 2024, not 2025.
    let p3 = fx.pathway(a, 1, 1970, "2024-11-01", 1, 1);
    fx.form(p3, "measurement", a, "2024-12-01", true, "treatment_plan = 1, crisis_plan = 1, benefit = 5");
    fx.form(p3, "measurement", a, "2025-02-01", true, "treatment_plan = 1, crisis_plan = 1, benefit = 5");
    // p4, Ålesund, man born 1960, outpatient, started 2025-04-01: baseline late (05-01 > 04-22,
    // somatic missing), measurement 06-01 (plan yes, crisis yes, benefit 2), discharge 10-01
    // ending 2 (transferred: outside the discharge indicators).
    let p4 = fx.pathway(a, 1, 1960, "2025-04-01", 1, 2);
    fx.form(p4, "baseline", a, "2025-05-01", true, "");
    fx.form(p4, "measurement", a, "2025-06-01", true, "treatment_plan = 1, crisis_plan = 1, benefit = 2");
    fx.form(p4, "discharge", a, "2025-10-01", true, "ending = 2, contact_consent_1y = 2");
    // p5, St. Olav, woman born 2005, started 2025-01-15: baseline on time (02-01, somatic yes),
    // a draft measurement and a draft discharge (neither counts as completed).
    let p5 = fx.pathway(s, 2, 2005, "2025-01-15", 1, 1);
    fx.form(p5, "baseline", s, "2025-02-01", true, "somatic_health_assessed = 1");
    fx.form(p5, "measurement", s, "2025-06-01", false, "treatment_plan = 1");
    fx.form(p5, "discharge", s, "2025-07-01", false, "");
    // p6, St. Olav, man born 1985, started 2025-01-05, no baseline (overdue); discharge 03-01
    // ending 4 with no agreed follow-up answered and no consent.
    let p6 = fx.pathway(s, 1, 1985, "2025-01-05", 1, 4);
    fx.form(p6, "discharge", s, "2025-03-01", true, "ending = 4, contact_consent_1y = 2");
    // Follow-up windows closing in 2025 (discharge + 14 months): p7 Molde (followed up),
    // p8 Molde (no follow-up: missing), p9 Ålesund (no consent: not due), p10 Ålesund (declined).
    let p7 = fx.pathway(m, 1, 1980, "2023-10-01", 1, 5);
    fx.form(p7, "discharge", m, "2024-01-15", true, "ending = 4, agreed_follow_up = '{2}', contact_consent_1y = 1");
    fx.form(p7, "follow-up", m, "2025-01-20", true, "outcome = 5");
    let p8 = fx.pathway(m, 2, 1981, "2023-10-01", 1, 3);
    fx.form(
        p8,
        "discharge",
        m,
        "2024-02-10",
        true,
        "ending = 3, agreed_follow_up = '{2}', municipality_informed = 1, contact_consent_1y = 1",
    );
    let p9 = fx.pathway(a, 1, 1982, "2023-10-01", 1, 4);
    fx.form(p9, "discharge", a, "2024-03-01", true, "ending = 4, agreed_follow_up = '{2}', contact_consent_1y = 2");
    let p10 = fx.pathway(a, 2, 1983, "2023-10-01", 1, 7);
    fx.form(p10, "discharge", a, "2024-05-01", true, "ending = 4, agreed_follow_up = '{2}', contact_consent_1y = 1");
    fx.form(p10, "follow-up", a, "2025-04-01", true, "outcome = 7");
    // After the year: p3 measured again on 2026-01-15 and p5 moved to Molde on 2026-02-01. On
    // 2025-12-31 p3's last point was still 2025-02-01 (overdue, found in the forms) and p5 was
    // still St. Olav's (overdue there, its only point the baseline of 2025-02-01).
    fx.form(p3, "measurement", a, "2026-01-15", true, "treatment_plan = 1, crisis_plan = 1, benefit = 5");
    let user = fx.user;
    fx.exec(&format!("UPDATE pathways SET unit_id = {m} WHERE id = '{p5}'"));
    fx.exec(&format!(
        "INSERT INTO pathway_transfers (pathway_id, from_unit_id, to_unit_id, transfer_date, created_by) \
         VALUES ('{p5}', {s}, {m}, '2026-02-01', '{user}')"
    ));
}

pub(crate) fn staff_and_data(app: &TestApp) -> Nodes {
    let n = nodes(app);
    hand_made(Fixture::new(app.conn()), &n);
    // The data set is written straight in SQL (forms before their typed rows, as a loader would):
    // the triggers keep the report facts the counts read.
    let mismatches = integration_tests::report_facts_mismatches(&mut app.conn());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    n
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(path).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}: {}", res.text().await.unwrap_or_default());
    res.json().await.unwrap()
}

/// (numerator, denominator) of an indicator at a node in an indicators or download response.
fn ratio(doc: &Value, id: &str, node: i64) -> (Value, Value) {
    let table = doc["indicators"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap();
    let row = table["rows"].as_array().unwrap().iter().find(|r| r["node_id"] == node);
    row.map_or((Value::Null, Value::Null), |r| (r["numerator"].clone(), r["denominator"].clone()))
}

fn row(doc: &Value, node: i64) -> &Value {
    doc["rows"].as_array().unwrap().iter().find(|r| r["node_id"] == node).unwrap_or(&Value::Null)
}

#[actix_web::test]
async fn indicators_match_the_hand_computed_figures_at_every_level() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let at = |level: &str| format!("/api/v1/reports/indicators?year=2025&level={level}");
    let unit = get_json(&app, &staff, &at("unit")).await;
    let entity = get_json(&app, &staff, &at("legal_entity")).await;
    let region = get_json(&app, &staff, &at("region")).await;
    let nation = get_json(&app, &staff, &at("nation")).await;
    assert_eq!(unit["source"], "internal");
    // (indicator, Molde, Ålesund, St. Olav, HMR, St. Olavs HF, region = nation), as (num, den).
    #[rustfmt::skip]
    let expected: [(&str, [(i64, i64); 6]); 8] = [
        ("treatment_plan_early", [(1, 2), (1, 1), (0, 0), (2, 3), (0, 0), (2, 3)]),
        ("crisis_plan_early",    [(1, 2), (1, 1), (0, 0), (2, 3), (0, 0), (2, 3)]),
        ("large_benefit",        [(2, 2), (0, 1), (0, 0), (2, 3), (0, 0), (2, 3)]),
        ("mutual_ending",        [(1, 2), (0, 0), (1, 1), (1, 2), (1, 1), (2, 3)]),
        ("follow_up_agreed",     [(1, 2), (0, 0), (0, 1), (1, 2), (0, 1), (1, 3)]),
        ("follow_up_reached",    [(1, 2), (0, 1), (0, 0), (1, 3), (0, 0), (1, 3)]),
        ("somatic_assessed",     [(1, 2), (0, 1), (1, 1), (1, 3), (1, 1), (2, 4)]),
        ("baseline_on_time",     [(1, 2), (0, 1), (1, 2), (1, 3), (1, 2), (2, 5)]),
    ];
    for (id, v) in expected {
        let pair = |(a, b): (i64, i64)| (json!(a), json!(b));
        assert_eq!(ratio(&unit, id, n.molde), pair(v[0]), "{id} Molde");
        assert_eq!(ratio(&unit, id, n.alesund), pair(v[1]), "{id} Ålesund");
        assert_eq!(ratio(&unit, id, n.st_olav), pair(v[2]), "{id} St. Olav");
        assert_eq!(ratio(&entity, id, n.hmr), pair(v[3]), "{id} HMR");
        assert_eq!(ratio(&entity, id, n.st_olavs_hf), pair(v[4]), "{id} St. Olavs HF");
        assert_eq!(ratio(&region, id, n.region), pair(v[5]), "{id} region");
        assert_eq!(ratio(&nation, id, n.nation), pair(v[5]), "{id} nation");
    }
    // Wilson interval, level and trend of one result: somatic_assessed nation 2/4 = 50 %:
    // z = 1.96: centre 0.5, half-width 0.4004 ... → [0.1500, 0.8500]; target 90/70 → low.
    let table = nation["indicators"].as_array().unwrap().iter().find(|t| t["id"] == "somatic_assessed").unwrap();
    let r = &table["rows"][0];
    assert!((r["share"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!((r["ci_low"].as_f64().unwrap() - 0.1500).abs() < 1e-4, "{r}");
    assert!((r["ci_high"].as_f64().unwrap() - 0.8500).abs() < 1e-4, "{r}");
    assert_eq!(r["target_level"], "low");
    // Trends against 2024: Ålesund's treatment plan 1/1 both years → unchanged; Molde's mutual
    // ending 1/2 in 2025 against 2024 (p7 ending 4, p8 ending 3: 1/2) → unchanged; HMR's
    // mutual ending 1/2 against 2024's 3/4 (p7, p9, p10 ending 4, p8 ending 3) → worse.
    let trend = |doc: &Value, id: &str, node: i64| {
        let t = doc["indicators"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
        t["rows"].as_array().unwrap().iter().find(|r| r["node_id"] == node).unwrap()["trend"].clone()
    };
    assert_eq!(trend(&unit, "treatment_plan_early", n.alesund), "unchanged");
    assert_eq!(trend(&unit, "mutual_ending", n.molde), "unchanged");
    assert_eq!(trend(&entity, "mutual_ending", n.hmr), "worse");
    assert_eq!(trend(&unit, "mutual_ending", n.alesund), Value::Null, "no discharges 3/4 in 2025 at Ålesund");
    // Reads are audited.
    assert!(app.audit_count("report.indicators") >= 4);
}

#[actix_web::test]
async fn completeness_variables_and_coverage_match_the_hand_computed_figures() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    // NPR counts: Molde 4 (coverage 2/4 = 50 %: low), Ålesund 1 (1/1); St. Olav none.
    let csv = "resh_id,year,pathways\n9000008,2025,4\n9000009,2025,1\n";
    let res = app
        .client
        .post(app.url("/api/v1/coverage/reference-counts"))
        .bearer_auth(&staff)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["imported"], 2);
    assert_eq!(app.count("npr_counts"), 2);

    let c = |level: &str| format!("/api/v1/reports/completeness?year=2025&level={level}");
    let units = get_json(&app, &staff, &c("unit")).await;
    let m = row(&units, n.molde);
    assert_eq!(m["pathways_started"], 2);
    assert_eq!(m["baseline"], json!({"expected": 2, "completed": 2}));
    // Overdue at the end of 2025: every Molde pathway of 2025 is discharged.
    assert_eq!(
        m["measurements"],
        json!({"completed": 3, "taken_overdue": 2, "taken_after_missed": 0, "missed_at_year_end": 0,
        "late": 2, "missing": 0, "overdue": 0})
    );
    assert_eq!(m["discharge"], json!({"expected": 2, "completed": 2}));
    assert_eq!(
        m["follow_up"],
        json!({"due": 2, "done": 1, "followed_up": 1, "not_reached": 0, "declined": 0, "missing": 1})
    );
    assert_eq!(m["npr_pathways"], 4);
    assert_eq!(m["coverage"], 0.5);
    assert_eq!(m["low_coverage"], true);
    let a = row(&units, n.alesund);
    assert_eq!(a["pathways_started"], 1);
    assert_eq!(a["baseline"], json!({"expected": 1, "completed": 1}));
    // p3 is still active on 2025-12-31, its last measurement 2025-02-01: overdue.
    assert_eq!(
        a["measurements"],
        json!({"completed": 2, "taken_overdue": 1, "taken_after_missed": 0, "missed_at_year_end": 1,
        "late": 1, "missing": 0, "overdue": 1})
    );
    assert_eq!(a["discharge"], json!({"expected": 1, "completed": 1}));
    assert_eq!(
        a["follow_up"],
        json!({"due": 1, "done": 1, "followed_up": 0, "not_reached": 0, "declined": 1, "missing": 0})
    );
    assert_eq!((a["coverage"].as_f64(), a["low_coverage"].as_bool()), (Some(1.0), Some(false)));
    let s = row(&units, n.st_olav);
    assert_eq!(s["pathways_started"], 2);
    assert_eq!(s["baseline"], json!({"expected": 2, "completed": 1}));
    // p5 is active with only its baseline of 2025-02-01: overdue; p6 has no baseline or
    // measurement at all (its baseline is what is missing).
    assert_eq!(
        s["measurements"],
        json!({"completed": 0, "taken_overdue": 0, "taken_after_missed": 0, "missed_at_year_end": 1,
        "late": 0, "missing": 0, "overdue": 1})
    );
    assert_eq!(s["discharge"], json!({"expected": 2, "completed": 1}));
    assert_eq!((s["npr_pathways"].clone(), s["coverage"].clone()), (Value::Null, Value::Null));

    let entities = get_json(&app, &staff, &c("legal_entity")).await;
    let hmr = row(&entities, n.hmr);
    assert_eq!(hmr["units"], 2, "Molde and Ålesund");
    assert_eq!(hmr["units_reporting"], 2);
    assert_eq!(hmr["pathways_started"], 3);
    assert_eq!(
        hmr["measurements"],
        json!({"completed": 5, "taken_overdue": 3, "taken_after_missed": 0, "missed_at_year_end": 1,
        "late": 3, "missing": 0, "overdue": 1})
    );
    assert_eq!(hmr["follow_up"]["due"], 3);
    assert_eq!(hmr["npr_pathways"], 5);
    // (2 + 1) / (4 + 1) = 60 %: not low (the flag is below 60 %).
    assert!((hmr["coverage"].as_f64().unwrap() - 0.6).abs() < 1e-12);
    assert_eq!(hmr["low_coverage"], false);
    let nation = get_json(&app, &staff, &c("nation")).await;
    let all = row(&nation, n.nation);
    assert_eq!(all["pathways_started"], 5);
    assert_eq!(all["baseline"], json!({"expected": 5, "completed": 4}));
    assert_eq!(all["measurements"]["overdue"], 2);
    assert_eq!(all["measurements"]["missed_at_year_end"], 2, "the new name of the deprecated `overdue`");
    assert_eq!(all["units_reporting"], 3);
    assert_eq!(all["units"].as_i64(), Some(count_units(&app)));
    assert!((all["coverage"].as_f64().unwrap() - 0.6).abs() < 1e-12, "St. Olav has no NPR count: left out");

    // Variable completeness: measurements at Molde: treatment_plan unknown 1 of 3 (p2),
    // crisis_plan missing 1 of 3 (p1's second); baselines at Ålesund: somatic missing 1 of 1.
    let v = get_json(&app, &staff, "/api/v1/reports/variable-completeness?year=2025&level=unit&form=measurement").await;
    let var = |doc: &Value, node: i64, name: &str| {
        doc["rows"].as_array().unwrap().iter().find(|r| r["node_id"] == node && r["variable"] == name).cloned().unwrap()
    };
    let tp = var(&v, n.molde, "treatment_plan");
    assert_eq!((tp["forms"].clone(), tp["missing"].clone(), tp["unknown"].clone()), (json!(3), json!(0), json!(1)));
    let cp = var(&v, n.molde, "crisis_plan");
    assert_eq!((cp["forms"].clone(), cp["missing"].clone()), (json!(3), json!(1)));
    assert!(v["rows"].as_array().unwrap().iter().all(|r| r["form"] == "measurement"));
    let b = get_json(&app, &staff, "/api/v1/reports/variable-completeness?year=2025&level=unit&form=baseline").await;
    let so = var(&b, n.alesund, "somatic_health_assessed");
    assert_eq!(
        (so["forms"].clone(), so["missing"].clone(), so["missing_share"].clone()),
        (json!(1), json!(1), json!(1.0))
    );
}

fn count_units(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM org_nodes WHERE kind = 'unit'")
        .get_result::<N>(&mut app.conn())
        .unwrap()
        .n
}

#[actix_web::test]
async fn a_unit_that_moved_during_the_year_has_its_coverage_counted_once_where_it_ended() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let res = app
        .client
        .post(app.url("/api/v1/coverage/reference-counts"))
        .bearer_auth(&staff)
        .header("content-type", "text/csv")
        .body("resh_id,year,pathways\n9000008,2025,4\n9000009,2025,1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Ålesund moves from Helse Møre og Romsdal to St. Olavs hospital on 2025-07-01; its one
    // pathway of 2025 (p4, started 2025-04-01) stays where it was registered.
    let res = app
        .post(
            &format!("/api/v1/org-units/{}/links", n.alesund),
            &json!({"parent_id": n.st_olavs_hf, "valid_from": "2025-07-01"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let entities = get_json(&app, &staff, "/api/v1/reports/completeness?year=2025&level=legal_entity").await;
    let hmr = row(&entities, n.hmr);
    assert_eq!(hmr["pathways_started"], 3, "as registered: p4 counts at HMR");
    // Coverage is Ålesund's (1 started of 1 in NPR), counted once, under St. Olavs hospital
    // where it ended the year; HMR keeps Molde's 2 of 4.
    assert_eq!((hmr["npr_pathways"].clone(), hmr["coverage"].clone()), (json!(4), json!(0.5)));
    let so = row(&entities, n.st_olavs_hf);
    assert_eq!((so["npr_pathways"].clone(), so["coverage"].clone()), (json!(1), json!(1.0)));
    let nation = get_json(&app, &staff, "/api/v1/reports/completeness?year=2025&level=nation").await;
    let all = row(&nation, n.nation);
    assert!((all["coverage"].as_f64().unwrap() - 0.6).abs() < 1e-12, "(2 + 1) / (4 + 1) nationally");
}

#[actix_web::test]
async fn follow_ups_and_baselines_not_yet_due_are_never_missing() {
    let app = TestApp::spawn().await;
    let n = nodes(&app);
    let today = domain::clock::today();
    let mut fx = Fixture::new(app.conn());
    // Started today without a baseline: not due yet, so outside baseline_on_time.
    fx.pathway(n.molde, 1, 1990, &today.to_string(), 1, 1);
    // A discharge whose follow-up window closes tomorrow, with no follow-up: not yet missing.
    let discharge = today.checked_sub_months(Months::new(14)).unwrap() + Duration::days(1);
    let p = fx.pathway(n.molde, 2, 1990, &(discharge - Duration::days(60)).to_string(), 1, 4);
    fx.form(
        p,
        "discharge",
        n.molde,
        &discharge.to_string(),
        true,
        "ending = 4, agreed_follow_up = '{1}', contact_consent_1y = 1",
    );
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let doc = get_json(&app, &staff, &format!("/api/v1/reports/indicators?year={}&level=unit", today.year())).await;
    assert_eq!(ratio(&doc, "baseline_on_time", n.molde), (json!(0), json!(0)));
    let close = discharge.checked_add_months(Months::new(14)).unwrap();
    if close.year() == today.year() {
        assert_eq!(ratio(&doc, "follow_up_reached", n.molde), (json!(0), json!(0)));
        let c = get_json(&app, &staff, &format!("/api/v1/reports/completeness?year={}&level=unit", today.year())).await;
        assert_eq!(row(&c, n.molde)["follow_up"]["due"], 0);
        assert_eq!(row(&c, n.molde)["baseline"]["expected"], 0);
    }
}

#[actix_web::test]
async fn a_measurement_is_late_by_the_treatment_level_in_force_at_the_point_before_it() {
    let app = TestApp::spawn().await;
    let n = nodes(&app);
    let mut fx = Fixture::new(app.conn());
    let point = "treatment_plan = 1, crisis_plan = 1, benefit = 4";
    // Opened inpatient 2025-01-01 (inpatient limit 42 days). p1 steps down to outpatient at its
    // point of 02-01 (level 1): the next point, 50 days later, is within the outpatient 56 days.
    let p1 = fx.pathway(n.molde, 1, 1990, "2025-01-01", 3, 1);
    fx.form(p1, "measurement", n.molde, "2025-02-01", true, &format!("{point}, treatment_level = 1"));
    fx.form(p1, "measurement", n.molde, "2025-03-23", true, &format!("{point}, treatment_level = 1"));
    // p2 stays inpatient (level 3 at 02-01): the same 50 days are late.
    let p2 = fx.pathway(n.molde, 2, 1990, "2025-01-01", 3, 1);
    fx.form(p2, "measurement", n.molde, "2025-02-01", true, &format!("{point}, treatment_level = 3"));
    fx.form(p2, "measurement", n.molde, "2025-03-23", true, &format!("{point}, treatment_level = 3"));
    // p3 at Ålesund, opened outpatient, goes inpatient at 02-01: 45 days later is late (over 42,
    // within the outpatient 56).
    let p3 = fx.pathway(n.alesund, 1, 1970, "2025-01-01", 1, 1);
    fx.form(p3, "measurement", n.alesund, "2025-02-01", true, &format!("{point}, treatment_level = 3"));
    fx.form(p3, "measurement", n.alesund, "2025-03-18", true, &format!("{point}, treatment_level = 1"));
    // The first points count from the start (31 days): late for none. By the opening levels
    // Molde would have 2 late and Ålesund none.
    let mismatches = integration_tests::report_facts_mismatches(&mut app.conn());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let c = get_json(&app, &staff, "/api/v1/reports/completeness?year=2025&level=unit").await;
    assert_eq!(row(&c, n.molde)["measurements"]["completed"], 4);
    assert_eq!(row(&c, n.molde)["measurements"]["late"], 1);
    assert_eq!(row(&c, n.alesund)["measurements"]["completed"], 2);
    assert_eq!(row(&c, n.alesund)["measurements"]["late"], 1);
}

/// Published values of every download and of the public results, by cell key.
type Seen = BTreeMap<(String, i64, String, String, String), i64>;

fn collect_json(doc: &Value, seen: &mut Seen) {
    for t in doc["indicators"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap().to_owned();
        for r in t["rows"].as_array().unwrap() {
            let node = r["node_id"].as_i64().unwrap();
            for (field, outcome) in [("numerator", "yes"), ("denominator", "total")] {
                if let Some(v) = r[field].as_i64() {
                    let key = (id.clone(), node, "all".to_owned(), "all".to_owned(), outcome.to_owned());
                    assert_eq!(*seen.entry(key).or_insert(v), v, "two downloads disagree");
                }
            }
        }
    }
    // The residence tables (their youngest age group, 18–24, is the release's first).
    let age = |raw: &str| if raw == "18-24" { AGES[1].to_owned() } else { raw.to_owned() };
    let residence = &doc["residence"];
    let nation = residence["nation_id"].as_i64();
    let rows =
        residence["rows"].as_array().into_iter().flatten().map(|r| ("residence", r["node_id"].as_i64(), &r["strata"]));
    for (measure, node, strata) in
        rows.chain(std::iter::once(("residence_unknown", nation, &residence["without_residence"])))
    {
        for st in strata.as_array().into_iter().flatten() {
            if let Some(v) = st["pathways_started"].as_i64() {
                let sex = st["sex"].as_str().unwrap().to_owned();
                let key = (
                    measure.to_owned(),
                    node.unwrap(),
                    sex,
                    age(st["age_group"].as_str().unwrap()),
                    "total".to_owned(),
                );
                assert_eq!(*seen.entry(key).or_insert(v), v, "two downloads disagree");
            }
        }
    }
    for r in doc["activity"].as_array().into_iter().flatten() {
        if let Some(v) = r["pathways_started"].as_i64() {
            let key = (
                "activity".to_owned(),
                r["node_id"].as_i64().unwrap(),
                r["sex"].as_str().unwrap().to_owned(),
                r["age_group"].as_str().unwrap().to_owned(),
                "total".to_owned(),
            );
            assert_eq!(*seen.entry(key).or_insert(v), v, "two downloads disagree");
        }
    }
}

fn collect_csv(body: &str, seen: &mut Seen) {
    let mut lines = body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..5], &["release_id", "year", "min_cell", "audit", "table"]);
    let mut reader = csv_reader(body);
    for rec in reader.records() {
        let rec = rec.unwrap();
        let (table, node, sex, age) = (&rec[4], rec[6].parse::<i64>().unwrap(), &rec[8], &rec[9]);
        // A residence row's numerator is its count (the denominator is the population).
        let residence = table.starts_with("residence");
        let age = if age == "18-24" { AGES[1] } else { age };
        let columns: &[(usize, &str)] = if residence { &[(10, "total")] } else { &[(10, "yes"), (12, "total")] };
        for &(col, outcome) in columns {
            if rec[col].is_empty() {
                continue;
            }
            if &rec[col] == "*" {
                continue;
            }
            let v: i64 = rec[col].parse().unwrap();
            let key = (table.to_owned(), node, sex.to_owned(), age.to_owned(), outcome.to_owned());
            assert_eq!(seen.get(&key), Some(&v), "CSV and JSON disagree on {key:?}");
        }
    }
}

fn csv_reader(body: &str) -> csv::Reader<&[u8]> {
    csv::Reader::from_reader(body.as_bytes())
}

const SEXES: [&str; 4] = ["all", "male", "female", "unknown"];
const AGES: [&str; 6] = ["all", "0-24", "25-34", "35-44", "45-54", "55+"];

fn key_of(c: &persistence::releases::ReleaseCellRow) -> (String, i64, String, String, String) {
    (
        c.measure.clone(),
        c.node_id,
        SEXES[match c.sex {
            0 => 0,
            1 => 1,
            2 => 2,
            _ => 3,
        }]
        .to_owned(),
        AGES[c.age_group as usize].to_owned(),
        c.outcome.clone(),
    )
}

#[actix_web::test]
async fn a_release_is_suppressed_audited_published_and_downloaded_without_disclosure() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let res =
        app.post("/api/v1/releases", &json!({"year": 2025, "min_cell": 3})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let release: Value = res.json().await.unwrap();
    let id = release["id"].as_i64().unwrap();
    assert_eq!(release["status"], "draft");
    assert_eq!(release["audit"]["passed"], true);
    assert_eq!(release["audit"]["disclosures"], 0);
    assert!(release["primary_cells"].as_i64().unwrap() > 0, "the small counts are primary");
    assert_eq!(app.count("release_cells"), release["cells"].as_i64().unwrap());
    // Register contacts cannot download a draft (it does not exist for them); the public sees nothing yet.
    let contact = app.token_for(Role::RegisterContact, domain::organisations::NodeId(n.hmr)).await;
    let url = |e: i64, f: &str| format!("/api/v1/releases/{id}/download?entity={e}&format={f}");
    assert_eq!(app.get(&url(n.hmr, "json")).bearer_auth(&contact).send().await.unwrap().status(), 404);
    assert_eq!(app.get("/api/v1/public/indicators?year=2025").send().await.unwrap().status(), 404);
    let res = app.post(&format!("/api/v1/releases/{id}/publish"), &json!({})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.post(&format!("/api/v1/releases/{id}/publish"), &json!({})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 409);

    // Every legal entity's download in JSON and CSV, the XLSX of one, and the public results.
    let mut conn = app.conn();
    let tree = OrgTree::load(&mut conn).unwrap();
    let today = domain::clock::today();
    let entities: BTreeSet<i64> = tree.units_in_year(2025, today).iter().filter_map(|p| p.entity).collect();
    let mut seen = Seen::new();
    for e in &entities {
        let doc = get_json(&app, &staff, &url(*e, "json")).await;
        assert_eq!(doc["metadata"]["release_id"], id);
        assert_eq!(doc["metadata"]["min_cell"], 3);
        assert_eq!(doc["metadata"]["audit"]["disclosures"], 0);
        collect_json(&doc, &mut seen);
    }
    for e in &entities {
        let res = app.get(&url(*e, "csv")).bearer_auth(&staff).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        collect_csv(&res.text().await.unwrap(), &mut seen);
    }
    let public: Value = app.get("/api/v1/public/indicators?year=2025").send().await.unwrap().json().await.unwrap();
    assert_eq!(public["metadata"]["release_id"], id);
    // The public slice has the units, and every public row is exactly the row of some legal
    // entity's download: the public view shows no cell that the downloads do not.
    let mut downloaded = BTreeSet::new();
    for e in &entities {
        let doc = get_json(&app, &staff, &url(*e, "json")).await;
        for t in doc["indicators"].as_array().unwrap() {
            for r in t["rows"].as_array().unwrap() {
                downloaded.insert((
                    t["id"].to_string(),
                    r["node_id"].to_string(),
                    r["numerator"].to_string(),
                    r["denominator"].to_string(),
                ));
            }
        }
    }
    assert!(public["indicators"][0]["rows"].as_array().unwrap().iter().any(|r| r["level"] == "unit"));
    for t in public["indicators"].as_array().unwrap() {
        for r in t["rows"].as_array().unwrap() {
            let key = (
                t["id"].to_string(),
                r["node_id"].to_string(),
                r["numerator"].to_string(),
                r["denominator"].to_string(),
            );
            assert!(downloaded.contains(&key), "public row {key:?} is in a download");
        }
    }
    collect_json(&public, &mut seen);
    // The register contact of HMR gets the same slice in all three formats.
    let mine = get_json(&app, &contact, &url(n.hmr, "json")).await;
    let levels: BTreeSet<&str> =
        mine["indicators"][0]["rows"].as_array().unwrap().iter().map(|r| r["level"].as_str().unwrap()).collect();
    assert_eq!(levels, BTreeSet::from(["unit", "legal_entity", "region", "nation"]));
    let xlsx = app.get(&url(n.hmr, "xlsx")).bearer_auth(&contact).send().await.unwrap();
    assert_eq!(xlsx.status(), 200);
    assert_eq!(
        xlsx.headers()["content-type"].to_str().unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let xlsx = xlsx.bytes().await.unwrap();
    assert_eq!(&xlsx[..2], b"PK", "an XLSX is a zip file");
    // A native chart per indicator sheet: percent columns with the interval as error bars and the
    // two target levels as lines, over the labels that mark withheld rows with "*".
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let charts: Vec<String> =
        zip.file_names().map(|f| f.unwrap().into_owned()).filter(|f| f.starts_with("xl/charts/chart")).collect();
    assert_eq!(charts.len(), IndicatorId::ALL.len(), "{charts:?}");
    let mut sheets_charted = BTreeSet::new();
    for name in charts {
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(&name).unwrap(), &mut xml).unwrap();
        assert!(xml.contains("<c:barChart>") && xml.contains("<c:lineChart>"), "{name}");
        assert!(xml.contains("<c:errBars>") && xml.contains("<c:errBarType val=\"both\"/>"), "{name}");
        let sheet = IndicatorId::ALL.iter().find(|id| xml.contains(&format!("<c:f>{}!$G$2:", id.as_str()))).unwrap();
        assert!(xml.contains(&format!("<c:f>{}!$N$2:", sheet.as_str())), "{name}: labels from the chart columns");
        sheets_charted.insert(sheet.as_str());
    }
    assert_eq!(sheets_charted.len(), IndicatorId::ALL.len(), "each indicator sheet has its own chart");
    assert!(app.audit_count("release.download") >= 2 * entities.len() as i64 + 2);

    // What was handed out is exactly the release's published cells, unchanged.
    let cells = persistence::releases::release_cells(&mut conn, id, None).unwrap();
    let stored: HashMap<_, _> = cells.iter().map(|c| (key_of(c), c)).collect();
    for (key, v) in &seen {
        let c = stored.get(key).unwrap_or_else(|| panic!("{key:?} not in the release"));
        assert_eq!(c.status, "published", "{key:?} was handed out but is {}", c.status);
        assert_eq!(i64::from(c.value), *v);
    }
    let handed_out: BTreeSet<_> = seen.keys().cloned().collect();
    for c in cells.iter().filter(|c| c.status == "published") {
        assert!(handed_out.contains(&key_of(c)), "published cell {:?} is in no download", key_of(c));
    }

    // The auditor, on the linked table rebuilt from the database, with every cell not handed
    // out counted as suppressed: nothing primary can be computed from all downloads together.
    let settings = persistence::reports::CountSettings { today, as_of_today: false, limits: Default::default() };
    let counts = reporting::indicators::load_counts(&mut conn, &tree, 2025, 2025, &settings).unwrap();
    let table = reporting::releases::linked_table(&counts, &tree, 2025, today).unwrap();
    let mut suppressed = vec![true; table.model.ncells()];
    for ((key, _), &j) in table.keys.iter().zip(&table.index) {
        let k = (
            key.0.clone(),
            key.1,
            SEXES[match key.2 {
                0 => 0,
                1 => 1,
                2 => 2,
                _ => 3,
            }]
            .to_owned(),
            AGES[key.3 as usize].to_owned(),
            key.4.to_owned(),
        );
        assert_eq!(table.model.freq()[j], i64::from(stored[&k].value), "the release stored {k:?} unchanged");
        suppressed[j] = !handed_out.contains(&k);
    }
    let rule = PrimaryRule::for_release(3, false).unwrap();
    let report = audit_flags(
        &table.model,
        &suppressed,
        &AuditOptions { rule, strict: true, insider: true, extra_primary: vec![], ..Default::default() },
    );
    assert!(report.primary > 0);
    assert!(report.passes(), "{report}");
    assert!(report.disclosures.is_empty());

    // Brute force, independent of the algebra: for each indicator, every non-negative integer
    // table (numerator and complement per unit) that agrees with all published cells; every
    // suppressed primary must take at least two values over those tables.
    let units: Vec<(i64, i64, i64)> =
        tree.units_in_year(2025, today).iter().map(|p| (p.unit, p.entity.unwrap(), p.region.unwrap())).collect();
    let checked: usize = IndicatorId::ALL.iter().map(|id| brute_force(id.as_str(), &units, n.nation, &stored)).sum();
    assert!(checked >= 8, "every indicator has small cells in this data set: {checked} checked");
    assert!(handed_out.len() > 100, "zeros and larger counts are published: {}", handed_out.len());
}

/// Enumerates numerator/complement tables per unit consistent with the published cells of one
/// indicator, and checks that no suppressed primary cell has a single possible value.
fn brute_force(
    measure: &str,
    units: &[(i64, i64, i64)],
    nation: i64,
    stored: &HashMap<(String, i64, String, String, String), &persistence::releases::ReleaseCellRow>,
) -> usize {
    let cell = |node: i64, outcome: &str| {
        stored.get(&(measure.to_owned(), node, "all".into(), "all".into(), outcome.to_owned())).copied()
    };
    let published =
        |node: i64, outcome: &str| cell(node, outcome).filter(|c| c.status == "published").map(|c| i64::from(c.value));
    // Variables: (unit, yes) and (unit, no); a unit whose published denominator is 0 is known.
    let mut vars: Vec<(i64, &str)> = Vec::new();
    for &(u, _, _) in units {
        if published(u, "total") != Some(0) {
            vars.push((u, "yes"));
            vars.push((u, "no"));
        }
    }
    let bound = cell(nation, "total").map_or(0, |c| i64::from(c.value)) + 5;
    // Constraints: every published cell of every node is a sum of variables.
    let under = |node: i64, u: &(i64, i64, i64)| node == nation || node == u.0 || node == u.1 || node == u.2;
    let mut nodes: BTreeSet<i64> = BTreeSet::from([nation]);
    for u in units {
        nodes.extend([u.0, u.1, u.2]);
    }
    let mut constraints: Vec<(Vec<usize>, i64)> = Vec::new();
    for &node in &nodes {
        let in_node: Vec<&(i64, i64, i64)> = units.iter().filter(|u| under(node, u)).collect();
        for outcome in ["yes", "total"] {
            if let Some(v) = published(node, outcome) {
                let idx = vars
                    .iter()
                    .enumerate()
                    .filter(|(_, (u, o))| in_node.iter().any(|x| x.0 == *u) && (outcome == "total" || *o == "yes"))
                    .map(|(i, _)| i)
                    .collect();
                constraints.push((idx, v));
            }
        }
    }
    let mut solutions: Vec<Vec<i64>> = Vec::new();
    let mut assign = vec![0i64; vars.len()];
    enumerate(0, &mut assign, bound, &constraints, &mut solutions);
    assert!(!solutions.is_empty(), "{measure}: the true table must be a solution");
    // Every suppressed primary cell (including protected complements) of every node.
    let mut checked = 0;
    for &node in &nodes {
        for outcome in ["yes", "total", "no"] {
            let Some(c) = cell(node, outcome).filter(|c| c.status == "primary") else { continue };
            let values: BTreeSet<i64> = solutions
                .iter()
                .map(|s| {
                    vars.iter()
                        .zip(s)
                        .filter(|((u, o), _)| {
                            units.iter().any(|x| x.0 == *u && under(node, x)) && (outcome == "total" || *o == outcome)
                        })
                        .map(|(_, v)| v)
                        .sum()
                })
                .collect();
            assert!(values.contains(&i64::from(c.value)), "{measure} {node} {outcome}: the true value is possible");
            assert!(values.len() >= 2, "{measure}: suppressed {outcome} of node {node} is disclosed: only {values:?}");
            checked += 1;
        }
    }
    checked
}

fn enumerate(i: usize, assign: &mut Vec<i64>, bound: i64, constraints: &[(Vec<usize>, i64)], out: &mut Vec<Vec<i64>>) {
    // Prune: a constraint whose variables are all assigned must hold; a partial sum must not
    // exceed its value.
    for (idx, v) in constraints {
        let sum: i64 = idx.iter().filter(|&&k| k < i).map(|&k| assign[k]).sum();
        let complete = idx.iter().all(|&k| k < i);
        if sum > *v || (complete && sum != *v) {
            return;
        }
    }
    if i == assign.len() {
        out.push(assign.clone());
        return;
    }
    for value in 0..=bound {
        assign[i] = value;
        enumerate(i + 1, assign, bound, constraints, out);
    }
    assign[i] = 0;
}

#[actix_web::test]
async fn a_later_release_of_the_year_keeps_what_the_first_published() {
    let app = TestApp::spawn().await;
    staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let first: Value = app
        .post("/api/v1/releases", &json!({"year": 2025, "min_cell": 3}))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id1 = first["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/releases/{id1}/publish"), &json!({})).bearer_auth(&staff).send().await.unwrap();
    let res =
        app.post("/api/v1/releases", &json!({"year": 2025, "min_cell": 3})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    let id2 = second["id"].as_i64().unwrap();
    assert_eq!(second["previous_release_id"], id1);
    let mut conn = app.conn();
    let a: HashMap<_, _> = persistence::releases::release_cells(&mut conn, id1, None)
        .unwrap()
        .into_iter()
        .map(|c| (key_of(&c), c.status))
        .collect();
    let b: HashMap<_, _> = persistence::releases::release_cells(&mut conn, id2, None)
        .unwrap()
        .into_iter()
        .map(|c| (key_of(&c), c.status))
        .collect();
    for (k, s) in &a {
        match s.as_str() {
            "published" => assert_eq!(b[k], "published", "{k:?}"),
            "primary" | "secondary" => assert_eq!(b[k], "primary", "{k:?} stays suppressed, as a primary"),
            _ => {}
        }
    }
    // Stored releases never change.
    let err = diesel::sql_query(format!("UPDATE release_cells SET value = value + 1 WHERE release_id = {id1}"))
        .execute(&mut conn);
    assert!(err.is_err());
    let err = diesel::sql_query(format!("DELETE FROM releases WHERE id = {id1}")).execute(&mut conn);
    assert!(err.is_err());
}

#[actix_web::test]
async fn access_matrix_of_the_report_endpoints() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let molde = domain::organisations::NodeId(n.molde);
    let tokens = app.tokens_around(molde).await;
    let token = |r: Role| tokens.iter().find(|(x, _)| *x == r).unwrap().1.clone();
    let other_contact = app.token_for(Role::RegisterContact, domain::organisations::NodeId(n.st_olavs_hf)).await;
    let status = |t: String, path: String| {
        let req = app.get(&path).bearer_auth(t);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let ind_unit = "/api/v1/reports/indicators?year=2025&level=unit".to_owned();
    let ind_nation = "/api/v1/reports/indicators?year=2025&level=nation".to_owned();
    // Indicators: staff and unit roles internal; others need a published release (none yet).
    assert_eq!(status(token(Role::RegisterStaff), ind_nation.clone()).await, 200);
    for r in [Role::Registrar, Role::UnitContact] {
        let doc = get_json(&app, &token(r), &ind_unit).await;
        assert_eq!(doc["source"], "internal");
        let nodes: BTreeSet<i64> =
            doc["indicators"][0]["rows"].as_array().unwrap().iter().map(|x| x["node_id"].as_i64().unwrap()).collect();
        assert_eq!(nodes, BTreeSet::from([n.molde]), "{r:?} sees only its own unit");
        assert_eq!(status(token(r), ind_nation.clone()).await, 404, "no published release yet");
    }
    for r in [Role::RegisterContact, Role::Admin] {
        assert_eq!(status(token(r), ind_unit.clone()).await, 404, "{r:?}: no published release yet");
    }
    assert_eq!(app.get(&ind_nation).send().await.unwrap().status(), 401);
    // Completeness: unit contact its unit, register contact its entity, staff all.
    let comp = |level: &str, unit: Option<i64>| {
        format!(
            "/api/v1/reports/completeness?year=2025&level={level}{}",
            unit.map(|u| format!("&unit={u}")).unwrap_or_default()
        )
    };
    assert_eq!(status(token(Role::RegisterStaff), comp("nation", None)).await, 200);
    assert_eq!(status(token(Role::Registrar), comp("unit", None)).await, 403);
    assert_eq!(status(token(Role::Admin), comp("unit", None)).await, 403);
    let uc = get_json(&app, &token(Role::UnitContact), &comp("unit", None)).await;
    assert_eq!(uc["rows"].as_array().unwrap().len(), 1);
    assert_eq!(uc["rows"][0]["node_id"], n.molde);
    assert_eq!(status(token(Role::UnitContact), comp("legal_entity", None)).await, 403);
    assert_eq!(status(token(Role::UnitContact), comp("unit", Some(n.alesund))).await, 403);
    let rc = get_json(&app, &token(Role::RegisterContact), &comp("legal_entity", None)).await;
    assert_eq!(
        rc["rows"].as_array().unwrap().iter().map(|r| r["node_id"].as_i64().unwrap()).collect::<Vec<_>>(),
        vec![n.hmr]
    );
    assert_eq!(status(token(Role::RegisterContact), comp("unit", Some(n.alesund))).await, 200);
    assert_eq!(status(other_contact.clone(), comp("unit", Some(n.molde))).await, 403);
    // Small counts are protected as registered only: a caller who gets counts withheld cannot
    // ask for a second pattern as of today (422 naming the field); callers who see every
    // count can.
    let today = |path: String| format!("{path}&grouping=as_of_today");
    for level in ["unit", "legal_entity"] {
        let res = app.get(&today(comp(level, None))).bearer_auth(token(Role::RegisterContact)).send().await.unwrap();
        assert_eq!(res.status(), 422, "{level}");
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["errors"][0]["field"], "grouping", "{doc}");
        assert_eq!(doc["errors"][0]["code"], "not_available", "{doc}");
    }
    assert_eq!(status(token(Role::RegisterStaff), today(comp("unit", None))).await, 200);
    assert_eq!(status(token(Role::UnitContact), today(comp("unit", None))).await, 200);
    assert_eq!(status(token(Role::RegisterContact), comp("region", None)).await, 403);
    let vc = "/api/v1/reports/variable-completeness?year=2025&level=unit".to_owned();
    assert_eq!(status(token(Role::UnitContact), vc.clone()).await, 200);
    assert_eq!(status(token(Role::Registrar), vc.clone()).await, 403);
    // Coverage import and releases: register staff only.
    let mut id = 0;
    for (r, t) in &tokens {
        let res = app
            .client
            .post(app.url("/api/v1/coverage/reference-counts"))
            .bearer_auth(t)
            .header("content-type", "text/csv")
            .body("resh_id,year,pathways\n9000008,2025,4\n")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), if *r == Role::RegisterStaff { 200 } else { 403 }, "{r:?}");
        let res = app.post("/api/v1/releases", &json!({"year": 2025})).bearer_auth(t).send().await.unwrap();
        assert_eq!(res.status(), if *r == Role::RegisterStaff { 201 } else { 403 }, "{r:?}");
        if *r == Role::RegisterStaff {
            id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        }
        assert_eq!(
            status(t.clone(), "/api/v1/releases".into()).await,
            if *r == Role::RegisterStaff { 200 } else { 403 }
        );
    }
    let rel = |path: &str| format!("/api/v1/releases/{id}{path}");
    assert_eq!(status(token(Role::RegisterStaff), rel("")).await, 200);
    assert_eq!(status(token(Role::RegisterContact), rel("")).await, 403);
    let res = app.post(&rel("/publish"), &json!({})).bearer_auth(token(Role::UnitContact)).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = app.post(&rel("/publish"), &json!({})).bearer_auth(token(Role::RegisterStaff)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Downloads: the register contact of the entity and register staff; nobody else.
    let dl = |e: i64| rel(&format!("/download?entity={e}&format=json"));
    assert_eq!(status(token(Role::RegisterContact), dl(n.hmr)).await, 200);
    assert_eq!(status(token(Role::RegisterStaff), dl(n.hmr)).await, 200);
    assert_eq!(status(other_contact.clone(), dl(n.hmr)).await, 403);
    assert_eq!(status(other_contact, dl(n.st_olavs_hf)).await, 200);
    for r in [Role::Registrar, Role::UnitContact, Role::Admin] {
        assert_eq!(status(token(r), dl(n.hmr)).await, 403, "{r:?}");
    }
    assert_eq!(app.get(&dl(n.hmr)).send().await.unwrap().status(), 401);
    // After publishing, everyone logged in reads indicators from the release; the public too.
    let doc = get_json(&app, &token(Role::Admin), &ind_nation).await;
    assert_eq!(doc["source"], "release");
    // Published unit results only for the units of one's own legal entity.
    let doc = get_json(&app, &token(Role::RegisterContact), &ind_unit).await;
    let units: BTreeSet<i64> =
        doc["indicators"][0]["rows"].as_array().unwrap().iter().map(|x| x["node_id"].as_i64().unwrap()).collect();
    assert_eq!(units, BTreeSet::from([n.molde, n.alesund]));
    assert_eq!(status(token(Role::Admin), ind_unit.clone()).await, 403);
    assert_eq!(app.get("/api/v1/public/indicators").send().await.unwrap().status(), 200);
    // Refusals are audited.
    assert!(app.audit_count("access.refused") > 0);
}

#[actix_web::test]
async fn bad_input_gets_a_clear_4xx_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let problem = |path: String, expected: u16, field: Option<&'static str>| {
        let req = app.get(&path).bearer_auth(staff.clone());
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), expected, "{path}");
            let doc: Value = res.json().await.unwrap();
            if let Some(f) = field {
                assert!(doc["errors"].as_array().unwrap().iter().any(|e| e["field"] == f), "{path}: {doc}");
            }
        }
    };
    let next_year = domain::clock::today().year() + 1;
    problem("/api/v1/reports/indicators?year=1999".into(), 422, Some("year")).await;
    problem(format!("/api/v1/reports/indicators?year={next_year}"), 422, Some("year")).await;
    problem("/api/v1/reports/indicators?year=2025&level=county".into(), 422, Some("level")).await;
    problem("/api/v1/reports/indicators?year=abc".into(), 400, None).await;
    problem("/api/v1/reports/indicators".into(), 400, None).await;
    problem("/api/v1/reports/completeness?year=2025&colour=red".into(), 400, None).await;
    problem("/api/v1/reports/completeness?year=2025&unit=999999999".into(), 404, None).await;
    problem("/api/v1/reports/variable-completeness?year=2025&form=intake".into(), 422, Some("form")).await;
    problem("/api/v1/public/indicators?year=1999".into(), 422, Some("year")).await;
    // Releases: k below 3, a future year, unknown fields, wrong types: 422, nothing stored.
    for (body, field) in [
        (json!({"year": 2025, "min_cell": 2}), "min_cell"),
        (json!({"year": next_year}), "year"),
        (json!({"year": 2025, "k": 5}), "k"),
        (json!({"year": "2025"}), "year"),
    ] {
        let res = app.post("/api/v1/releases", &body).bearer_auth(&staff).send().await.unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let doc: Value = res.json().await.unwrap();
        assert!(doc["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{doc}");
    }
    assert_eq!(app.count("releases"), 0);
    assert_eq!(
        app.post("/api/v1/releases/12345/publish", &json!({})).bearer_auth(&staff).send().await.unwrap().status(),
        404
    );
    // NPR counts: every bad row named by its line, nothing stored; not CSV: 415.
    let bad = "resh_id,year,pathways\n9000008,2025,4\n123,2025,1\n9000009,1999,x\n9000008,2025,5\n";
    let res = app
        .client
        .post(app.url("/api/v1/coverage/reference-counts"))
        .bearer_auth(&staff)
        .header("content-type", "text/csv")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let doc: Value = res.json().await.unwrap();
    let fields: Vec<&str> = doc["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["rows[3].resh_id", "rows[4].year", "rows[4].pathways", "rows[5].resh_id"]);
    assert_eq!(app.count("npr_counts"), 0);
    let res =
        app.post("/api/v1/coverage/reference-counts", &json!({"resh_id": 1})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(app.count("npr_counts"), 0);
    // Downloads: bad format, an entity that is a unit, an unknown release.
    let res = app.post("/api/v1/releases", &json!({"year": 2025})).bearer_auth(&staff).send().await.unwrap();
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    problem(format!("/api/v1/releases/{id}/download?entity={}&format=pdf", n.hmr), 422, Some("format")).await;
    problem(format!("/api/v1/releases/{id}/download?entity={}&format=csv", n.molde), 422, Some("entity")).await;
    problem(format!("/api/v1/releases/{}/download?entity={}", id + 100, n.hmr), 404, None).await;
    assert_eq!(app.audit_count("release.download"), 0, "no download happened");
}

#[actix_web::test]
async fn reports_read_through_the_reports_pool() {
    // The reports pool points at a second database holding the data; the primary has none.
    let replica = TestDb::new();
    let url = replica.server_url.clone();
    let app = TestApp::spawn_with(move |s| s.reports_database_url = Some(url)).await;
    let n = nodes(&app);
    hand_made(Fixture::new(replica.conn()), &n);
    assert_eq!(app.count("pathways"), 0);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let doc = get_json(&app, &staff, "/api/v1/reports/completeness?year=2025&level=nation").await;
    assert_eq!(row(&doc, n.nation)["pathways_started"], 5, "counted on the reports database");
    let doc = get_json(&app, &staff, "/api/v1/reports/indicators?year=2025&level=nation").await;
    assert_eq!(ratio(&doc, "baseline_on_time", n.nation), (json!(2), json!(5)));
    // The audit row of the read went to the primary.
    assert_eq!(app.audit_count("report.completeness"), 1);
}

/// Reports and releases on a real streaming standby (a base backup of the test cluster in hot
/// standby) while writes go to the primary: what they read when the standby is up to date, when
/// its replay lags (the last replayed state, older than the primary), and when it is down (503
/// problem+json from the reports pool, while registration on the primary goes on).
#[actix_web::test]
async fn reports_and_releases_read_on_a_streaming_standby() {
    let Some(mut standby) = integration_tests::Standby::start() else {
        eprintln!("skipped: TEST_DATABASE_URL is set, so there is no managed cluster to stream from");
        return;
    };
    let db = TestDb::new();
    let url = standby.server_url(&db.name);
    let name = db.name.clone();
    standby.catch_up(&name);
    let app = TestApp::spawn_on(db, move |s| s.reports_database_url = Some(url)).await;
    let n = nodes(&app);
    hand_made(Fixture::new(app.conn()), &n);
    let pathways = app.count("pathways");
    standby.catch_up(&name);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let completeness = "/api/v1/reports/completeness?year=2025&level=nation";
    let doc = get_json(&app, &staff, completeness).await;
    assert_eq!(row(&doc, n.nation)["pathways_started"], 5, "read on the standby, replayed");
    let res = app.post("/api/v1/releases", &json!({"year": 2025})).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201, "a release reads its counts on the standby and stores its cells on the primary");
    assert!(app.count("release_cells") > 0);

    // Replay paused: a pathway registered on the primary is not in the reports yet.
    let mut admin = standby.admin_conn(&name);
    diesel::sql_query("SELECT pg_wal_replay_pause()").execute(&mut admin).unwrap();
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let patient = crate::fixtures::register(&app, &registrar, ("15076500565", 1965)).await;
    crate::fixtures::open(&app, &registrar, &patient, n.molde, "2025-06-01", 1).await;
    let doc = get_json(&app, &staff, completeness).await;
    assert_eq!(row(&doc, n.nation)["pathways_started"], 5, "a lagging standby answers with its replayed state");
    diesel::sql_query("SELECT pg_wal_replay_resume()").execute(&mut admin).unwrap();
    drop(admin);
    standby.catch_up(&name);
    let doc = get_json(&app, &staff, completeness).await;
    assert_eq!(row(&doc, n.nation)["pathways_started"], 6, "caught up");

    // Standby down: reports answer 503 problem+json; registration goes on.
    standby.stop();
    let res = app.get(completeness).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let patient = crate::fixtures::register(&app, &registrar, ("12038010008", 1980)).await;
    crate::fixtures::open(&app, &registrar, &patient, n.molde, "2025-07-01", 1).await;
    assert_eq!(app.count("pathways"), pathways + 2, "writes go to the primary");
}

/// Polls a release job until it has ended (done, refused or failed).
async fn job_ended(app: &TestApp, token: &str, location: &str) -> Value {
    for _ in 0..600 {
        let job = get_json(app, token, location).await;
        if !["queued", "running"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the release job at {location} did not end within a minute");
}

/// `Prefer: respond-async`: the request is checked at once (role, year, threshold: 403, 422 with
/// the field, nothing queued), then answered 202 with the job; the server's worker builds the
/// release as the caller (the same use case: counts kept, audited), and the job links the draft.
/// A job left running by a stopped server (an old heartbeat) is taken over and finished.
#[actix_web::test]
async fn a_release_built_in_the_background_is_checked_queued_built_and_linked() {
    let app = TestApp::spawn().await;
    let n = staff_and_data(&app);
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let post = |token: &str, body: Value| {
        app.post("/api/v1/releases", &body).bearer_auth(token).header("Prefer", "respond-async").send()
    };

    // Refused before anything is queued.
    for (role, node) in [
        (Role::Registrar, NodeId(n.molde)),
        (Role::RegisterContact, app.entity_of(NodeId(n.molde))),
        (Role::Admin, app.nation()),
    ] {
        let token = app.token_for(role, node).await;
        assert_eq!(post(&token, json!({"year": 2025})).await.unwrap().status(), 403, "{role:?}");
    }
    let res =
        app.post("/api/v1/releases", &json!({"year": 2025})).header("Prefer", "respond-async").send().await.unwrap();
    assert_eq!(res.status(), 401);
    for (body, field) in [(json!({"year": 1999}), "year"), (json!({"year": 2025, "min_cell": 2}), "min_cell")] {
        let res = post(&staff, body.clone()).await.unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{problem}");
    }
    assert_eq!(app.count("release_jobs"), 0, "nothing queued for a refused request");

    // Queued, built, linked.
    let res = post(&staff, json!({"year": 2025, "min_cell": 3})).await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(res.headers()["preference-applied"], "respond-async");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let queued: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/releases/jobs/{}", queued["id"].as_str().unwrap()));
    let job = job_ended(&app, &staff, &location).await;
    assert_eq!(job["status"], "done", "{job}");
    let release = job["release_id"].as_i64().unwrap();
    assert_eq!(job["release"], format!("/api/v1/releases/{release}"));
    let stored = get_json(&app, &staff, &format!("/api/v1/releases/{release}")).await;
    assert_eq!(stored["status"], "draft");
    assert_eq!(stored["year"], 2025);
    assert!(app.count("release_counts") > 0, "the counts are kept with the release");
    assert_eq!(app.audit_count("release.queue"), 1);
    assert_eq!(app.audit_count("release.create"), 1, "built by the same use case, as the caller");

    // The job is the register staff's to read; others are refused, a wrong id is 422 or 404.
    for (role, node) in [(Role::Registrar, NodeId(n.molde)), (Role::RegisterContact, app.entity_of(NodeId(n.molde)))] {
        let token = app.token_for(role, node).await;
        assert_eq!(app.get(&location).bearer_auth(&token).send().await.unwrap().status(), 403, "{role:?}");
    }
    assert_eq!(app.get(&location).send().await.unwrap().status(), 401);
    let res = app.get("/api/v1/releases/jobs/not-a-uuid").bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res = app.get(&format!("/api/v1/releases/jobs/{}", Uuid::new_v4())).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // A job a stopped server left running is taken over once its heartbeat is old.
    let staff_id = app.user_with("release-job-staff", Role::RegisterStaff, app.nation());
    let left = Uuid::new_v4();
    diesel::sql_query(format!(
        "INSERT INTO release_jobs (id, year, min_cell, status, created_by, started_at, heartbeat_at, attempts) \
         VALUES ('{left}', 2025, 3, 'running', '{staff_id}', now() - interval '1 hour', now() - interval '1 hour', 1)"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let job = job_ended(&app, &staff, &format!("/api/v1/releases/jobs/{left}")).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["attempts"], 2);
}
