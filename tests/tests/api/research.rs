//! Research projects and extracts: only register staff, field errors that store nothing, and a
//! delivery end to end — decrypted with the recipient's age identity made here, the manifest's
//! checksums, the CSV and the Parquet file read back, only the approved variables and period,
//! pseudonyms per project, shifted and coarsened dates, no class below k, the delivery in the
//! patient's access log, and a reservation afterwards noticed on both projects.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;

use chrono::{Datelike, NaiveDate};
use diesel::RunQueryDsl;
use domain::access::Role;
use domain::national_id::{IdKey, IdRules, NationalId};
use domain::research::ProjectKey;
use integration_tests::{json, TestApp, TEST_ID_KEY, UNIT_ALESUND, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fixtures::{call, completed_baseline, create};

/// A valid fødselsnummer for the birth date (individual numbers 000-499: born 1900-1999).
fn national_id(day: u32, month: u32, year: i32) -> String {
    for individual in 100..500u32 {
        let base = format!("{day:02}{month:02}{:02}{individual:03}", year % 100);
        let d: Vec<u32> = base.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
        let k1 = (11 - d.iter().zip(w1).map(|(a, b)| a * b).sum::<u32>() % 11) % 11;
        if k1 == 10 {
            continue;
        }
        let w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
        let k2 = (11 - d.iter().chain([k1].iter()).zip(w2).map(|(a, b)| a * b).sum::<u32>() % 11) % 11;
        if k2 == 10 {
            continue;
        }
        return format!("{base}{k1}{k2}");
    }
    panic!("no valid id for {day}.{month}.{year}");
}

/// One registered patient with one pathway.
#[derive(Debug, Clone)]
struct Person {
    national_id: String,
    patient_id: String,
    sex: i64,
    birth_year: i32,
    start: NaiveDate,
    /// The date of the completed baseline, for the first six.
    baseline: Option<NaiveDate>,
}

/// 36 patients: 30 with a pathway started in 2025 (the period), 6 in 2024 (outside it), at
/// Molde, Ålesund (one trust) and St. Olav (another), with birth years spread over 40 years.
async fn population(app: &TestApp) -> Vec<Person> {
    let units = [app.unit(UNIT_MOLDE), app.unit(UNIT_ALESUND), app.unit(UNIT_ST_OLAV)];
    let mut tokens = Vec::new();
    for u in units {
        tokens.push(app.token_for(Role::Registrar, u).await);
    }
    let mut people = Vec::new();
    for i in 0..36u32 {
        let birth_year = 1960 + ((i * 7) % 40) as i32;
        let id = national_id(1 + i % 28, 1 + i % 12, birth_year);
        let sex = if i % 3 == 0 { 2 } else { 1 };
        let which = (i % 3) as usize;
        let (status, p) = call(
            app,
            "POST",
            "/api/v1/patients",
            Some(&json!({"national_id": id, "sex": sex, "birth_year": birth_year})),
            Some(&tokens[which]),
        )
        .await;
        assert_eq!(status, 201, "{p}");
        let year = if i < 30 { 2025 } else { 2024 };
        let start = NaiveDate::from_ymd_opt(year, 1 + i % 12, 1 + (i * 5) % 28).unwrap();
        let patient_id = p["id"].as_str().unwrap().to_owned();
        let (status, w) = call(
            app,
            "POST",
            "/api/v1/pathways",
            Some(&json!({"patient_id": patient_id, "unit_id": units[which].0, "start_date": start,
                         "treatment_level": 1 + (i % 3)})),
            Some(&tokens[which]),
        )
        .await;
        assert_eq!(status, 201, "{w}");
        let baseline = (i < 6).then(|| start + chrono::Duration::days(3));
        let pathway = w["id"].as_str().unwrap();
        if let Some(date) = baseline {
            completed_baseline(app, &tokens[which], pathway, &date.to_string()).await;
        } else if i == 6 {
            // A draft baseline: never delivered.
            let date = (start + chrono::Duration::days(3)).to_string();
            create(app, &tokens[which], pathway, "baseline", &crate::fixtures::baseline(&date)).await;
        }
        people.push(Person { national_id: id, patient_id, sex, birth_year, start, baseline });
    }
    people
}

fn project_body(title: &str, keys: &[String], variables: &[&str], dates: Value) -> Value {
    let mut body = json!({
        "title": title,
        "approval_ref": "REK 2026/4711",
        "legal_basis": "Helseregisterloven § 19 b, with REK approval",
        "recipient": {"organisation": "Universitetet i Oslo", "contact": "Prosjektleder", "public_keys": keys},
        "variables": variables,
        "period": {"from": "2025-01-01", "to": "2025-12-31"},
        "approved_on": "2026-03-25",
        "expires_on": "2099-12-31",
    });
    for (k, v) in dates.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The files of a decrypted container by name.
fn open_container(identity: &age::x25519::Identity, encrypted: &[u8]) -> HashMap<String, Vec<u8>> {
    let plain = age::decrypt(identity, encrypted).expect("decrypts with the recipient's identity");
    let mut archive = tar::Archive::new(plain.as_slice());
    let mut files = HashMap::new();
    for entry in archive.entries().unwrap() {
        let mut e = entry.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    files
}

/// The CSV as (header, rows of strings).
fn read_csv(data: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(data);
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r.records().map(|rec| rec.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// The Parquet file read back with the parquet crate: (column names, rows as strings; dates
/// ISO 8601, nulls empty).
fn read_parquet(data: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    let path = std::env::temp_dir().join(format!("rusreg-extract-{}.parquet", uuid::Uuid::new_v4()));
    std::fs::write(&path, data).unwrap();
    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let names =
        reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.name().to_owned()).collect();
    let mut rows = Vec::new();
    for row in reader.get_row_iter(None).unwrap() {
        let row = row.unwrap();
        rows.push(
            row.get_column_iter()
                .map(|(_, f)| match f {
                    Field::Null => String::new(),
                    Field::Str(s) => s.clone(),
                    Field::Long(n) => n.to_string(),
                    Field::Int(n) => n.to_string(),
                    Field::Date(days) => (NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                        + chrono::Duration::days(i64::from(*days)))
                    .to_string(),
                    other => panic!("unexpected parquet field {other:?}"),
                })
                .collect(),
        );
    }
    std::fs::remove_file(&path).ok();
    (names, rows)
}

/// Delivers an extract and returns the container's files, checked against the manifest.
async fn deliver(
    app: &TestApp,
    staff: &str,
    project: &str,
    identity: &age::x25519::Identity,
) -> HashMap<String, Vec<u8>> {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/research/projects/{project}/extracts")))
        .bearer_auth(staff)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let container_sha = res.headers()["rusreg-container-sha256"].to_str().unwrap().to_owned();
    let body = res.bytes().await.unwrap();
    assert_eq!(hex(&Sha256::digest(&body)), container_sha);
    let files = open_container(identity, &body);
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for f in listed {
        let name = f["name"].as_str().unwrap();
        assert_eq!(f["sha256"].as_str().unwrap(), hex(&Sha256::digest(&files[name])), "{name}");
    }
    files
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn project_pseudonym(project: &str, national_id: &str) -> (ProjectKey, Vec<u8>) {
    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let registry = key.pseudonym(&NationalId::parse(national_id, &IdRules::WITH_2032).unwrap()).to_vec();
    (ProjectKey::derive(&key, uuid::Uuid::parse_str(project).unwrap()), registry)
}

#[actix_web::test]
async fn extracts_are_pseudonymised_per_project_k_anonymous_encrypted_logged_and_noticed_after_a_reservation() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let people = population(&app).await;
    let identity = age::x25519::Identity::generate();
    let keys = vec![identity.to_public().to_string()];

    // Project A: exact birth years, trusts and shifted dates; project B: age groups and months.
    let a_vars = ["sex", "birth_year", "health_trust", "start_date", "treatment_level"];
    let body = project_body("A", &keys, &a_vars, json!({"dates": "shift", "shift_days": 30}));
    let res = app.post("/api/v1/research/projects", &body).bearer_auth(&staff).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let a: Value = res.json().await.unwrap();
    let a_id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/research/projects/{a_id}"));
    // Approved Wednesday 25 March 2026: 30 working days, the Easter holidays and 1 May skipped.
    assert_eq!(a["delivery_deadline"], "2026-05-12");
    assert_eq!(a["k"], 5);
    let b_vars = ["sex", "age_at_start", "start_date", "discharge_date", "baseline_date", "main_substance", "housing"];
    let body = project_body("B", &keys, &b_vars, json!({"dates": "month", "age_groups": true, "k": 3}));
    let (status, b) = call(&app, "POST", "/api/v1/research/projects", Some(&body), Some(&staff)).await;
    assert_eq!(status, 201, "{b}");
    let b_id = b["id"].as_str().unwrap().to_owned();
    let (status, list) = call(&app, "GET", "/api/v1/research/projects", None, Some(&staff)).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 2);

    // The dry run reports classes below k in the raw data and none after; nothing is stored.
    let (status, risk) =
        call(&app, "POST", &format!("/api/v1/research/projects/{a_id}/extracts?dry_run=true"), None, Some(&staff))
            .await;
    assert_eq!(status, 200, "{risk}");
    assert!(risk["risk"]["before"]["classes_below_k"].as_u64().unwrap() > 0, "{risk}");
    assert_eq!(risk["risk"]["after"]["classes_below_k"], 0, "{risk}");
    assert!(!risk["risk"]["changes"].as_array().unwrap().is_empty());
    assert_eq!(app.count("research_deliveries"), 0);

    let first = deliver(&app, &staff, &a_id, &identity).await;
    let second = deliver(&app, &staff, &a_id, &identity).await;
    let from_b = deliver(&app, &staff, &b_id, &identity).await;

    // Only the approved variables, the pseudonym first; the Parquet file holds the same table.
    let (header, rows) = read_csv(&first["extract.csv"]);
    let mut expected: Vec<String> = vec!["patient".into()];
    expected.extend(a_vars.iter().map(|v| (*v).to_owned()));
    assert_eq!(header, expected);
    let (names, parquet_rows) = read_parquet(&first["extract.parquet"]);
    assert_eq!(names, expected);
    assert_eq!(parquet_rows, rows, "the Parquet file and the CSV hold the same rows");
    let codebook = read_csv(&first["codebook.csv"]);
    assert_eq!(codebook.0, ["name", "type", "description", "codes"]);
    assert_eq!(codebook.1.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), expected);
    // Nothing identifying: no national id, internal patient id or registry pseudonym.
    for files in [&first, &second, &from_b] {
        for (name, data) in files.iter().filter(|(n, _)| n.ends_with(".csv") || n.ends_with(".json")) {
            let text = String::from_utf8_lossy(data);
            for p in &people {
                assert!(!text.contains(&p.national_id), "{name}");
                assert!(!text.contains(&p.patient_id), "{name}");
                let (_, registry) = project_pseudonym(&a_id, &p.national_id);
                assert!(!text.contains(&hex(&registry)), "{name}");
            }
        }
    }

    // Only the period's pathways (30 of 36), less any suppressed rows; each row's date is the
    // patient's real start moved by the patient's own shift in this project.
    let pos = |h: &[String], n: &str| h.iter().position(|c| c == n).unwrap();
    let by_pseudonym: HashMap<String, Vec<String>> = rows.iter().map(|r| (r[0].clone(), r.clone())).collect();
    assert_eq!(by_pseudonym.len(), rows.len(), "one pathway per patient");
    assert!(rows.len() <= 30 && rows.len() >= 28, "{} rows", rows.len());
    let mut matched = 0;
    for p in &people {
        let (key, registry) = project_pseudonym(&a_id, &p.national_id);
        let pseudonym = key.pseudonym(&registry);
        let Some(row) = by_pseudonym.get(&pseudonym) else {
            continue;
        };
        assert!(p.start.year() == 2025, "a pathway outside the period was delivered");
        let shift = key.date_shift(&registry, 30);
        assert!(shift != 0 && shift.abs() <= 30);
        assert_eq!(row[pos(&header, "start_date")], (p.start + chrono::Duration::days(shift)).to_string());
        let sex = &row[pos(&header, "sex")];
        assert!(sex.is_empty() || *sex == p.sex.to_string());
        matched += 1;
    }
    assert_eq!(matched, rows.len(), "every row is a patient of the period");

    // Stable within a project across deliveries; different between projects.
    let a1: BTreeSet<String> = rows.iter().map(|r| r[0].clone()).collect();
    let a2: BTreeSet<String> = read_csv(&second["extract.csv"]).1.iter().map(|r| r[0].clone()).collect();
    assert_eq!(a1, a2);
    let (b_header, b_rows) = read_csv(&from_b["extract.csv"]);
    let b_set: BTreeSet<String> = b_rows.iter().map(|r| r[0].clone()).collect();
    assert!(a1.is_disjoint(&b_set), "the same patients get other pseudonyms in another project");
    // B: dates as year-month of the real start; ages in groups.
    for p in people.iter().filter(|p| p.start.year() == 2025) {
        let (key, registry) = project_pseudonym(&b_id, &p.national_id);
        if let Some(row) = b_rows.iter().find(|r| r[0] == key.pseudonym(&registry)) {
            assert_eq!(row[pos(&b_header, "start_date")], format!("{:04}-{:02}", p.start.year(), p.start.month()));
            assert_eq!(row[pos(&b_header, "discharge_date")], "", "open pathways have no discharge");
            let age = &row[pos(&b_header, "age_at_start")];
            assert!(age.is_empty() || age.contains('-'), "an age group: {age}");
            // The completed baseline's month, main substance and housing (fixtures: 1 and 2).
            let expected = match p.baseline {
                Some(d) => [format!("{:04}-{:02}", d.year(), d.month()), "1".into(), "2".into()],
                None => [String::new(), String::new(), String::new()],
            };
            let got = ["baseline_date", "main_substance", "housing"].map(|c| row[pos(&b_header, c)].clone());
            assert_eq!(got, expected);
        }
    }
    assert_eq!(
        b_rows.iter().filter(|r| !r[pos(&b_header, "main_substance")].is_empty()).count(),
        people.iter().filter(|p| p.baseline.is_some()).count(),
        "every completed baseline of the period, none other"
    );

    // No class of the delivered quasi-identifiers (sex, birth year, trust) below k = 5.
    let qi = [pos(&header, "sex"), pos(&header, "birth_year"), pos(&header, "health_trust")];
    let mut classes: HashMap<Vec<String>, HashSet<String>> = HashMap::new();
    for r in &rows {
        classes.entry(qi.iter().map(|i| r[*i].clone()).collect()).or_default().insert(r[0].clone());
    }
    assert!(classes.values().all(|c| c.len() >= 5), "{classes:?}");
    let manifest: Value = serde_json::from_slice(&first["manifest.json"]).unwrap();
    assert_eq!(manifest["risk"]["after"]["classes_below_k"], 0);
    assert!(manifest["risk"]["before"]["classes_below_k"].as_u64().unwrap() > 0);

    // The project shows its deliveries; the delivery is in the patient's access log.
    let (status, got) = call(&app, "GET", &format!("/api/v1/research/projects/{a_id}"), None, Some(&staff)).await;
    assert_eq!(status, 200);
    assert_eq!(got["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(got["deliveries"][0]["row_count"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(got["pending_notices"], json!([]));
    // A patient delivered in both projects.
    let target = people
        .iter()
        .find(|p| {
            let (ka, ra) = project_pseudonym(&a_id, &p.national_id);
            let (kb, rb) = project_pseudonym(&b_id, &p.national_id);
            a1.contains(&ka.pseudonym(&ra)) && b_set.contains(&kb.pseudonym(&rb))
        })
        .expect("a patient in both extracts")
        .clone();
    let (status, log) = call(
        &app,
        "POST",
        "/api/v1/audit/patient-log",
        Some(&json!({"national_id": target.national_id, "per_page": 500})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let deliveries: Vec<&Value> =
        log["items"].as_array().unwrap().iter().filter(|e| e["action"] == "research_extract.deliver").collect();
    assert_eq!(deliveries.len(), 3, "two deliveries of A and one of B: {log:#}");
    assert!(deliveries.iter().any(|e| e["target_id"] == a_id.as_str()));
    assert!(deliveries.iter().any(|e| e["target_id"] == b_id.as_str()));

    // A reservation after delivery: a notice on both projects, with each project's pseudonym.
    let (status, res) = call(
        &app,
        "POST",
        "/api/v1/reservations",
        Some(&json!({"national_id": target.national_id, "received_date": "2026-01-02"})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    for (project, _) in [(&a_id, "A"), (&b_id, "B")] {
        let (_, got) = call(&app, "GET", &format!("/api/v1/research/projects/{project}"), None, Some(&staff)).await;
        let (key, registry) = project_pseudonym(project, &target.national_id);
        let notices = got["pending_notices"].as_array().unwrap();
        assert_eq!(notices.len(), 1, "{got:#}");
        assert_eq!(notices[0]["project_pseudonym"], key.pseudonym(&registry));
    }
    // Staff record that the recipient was told: the notice moves from pending to told, once.
    let (_, got) = call(&app, "GET", &format!("/api/v1/research/projects/{a_id}"), None, Some(&staff)).await;
    let notice = got["pending_notices"][0]["id"].as_i64().unwrap();
    let told = format!("/api/v1/research/projects/{a_id}/notices/{notice}/told");
    let (status, first_told) = call(&app, "POST", &told, None, Some(&staff)).await;
    assert_eq!(status, 200, "{first_told}");
    assert!(first_told["told_at"].is_string());
    let (status, again) = call(&app, "POST", &told, None, Some(&staff)).await;
    assert_eq!((status, &again["told_at"]), (200, &first_told["told_at"]), "the first time is kept");
    let (_, got) = call(&app, "GET", &format!("/api/v1/research/projects/{a_id}"), None, Some(&staff)).await;
    assert_eq!(got["pending_notices"], json!([]));
    assert_eq!(got["told_notices"].as_array().unwrap().len(), 1);
    // B's notice is still pending; A's notice is not B's.
    let (_, got_b) = call(&app, "GET", &format!("/api/v1/research/projects/{b_id}"), None, Some(&staff)).await;
    assert_eq!(got_b["pending_notices"].as_array().unwrap().len(), 1);
    let wrong = format!("/api/v1/research/projects/{b_id}/notices/{notice}/told");
    assert_eq!(call(&app, "POST", &wrong, None, Some(&staff)).await.0, 404);
    assert_eq!(app.audit_count("research_notice.told"), 2);

    // The links went with the patient; a later extract leaves the reserved patient out.
    let third = deliver(&app, &staff, &a_id, &identity).await;
    let (key, registry) = project_pseudonym(&a_id, &target.national_id);
    let after: BTreeSet<String> = read_csv(&third["extract.csv"]).1.iter().map(|r| r[0].clone()).collect();
    assert!(!after.contains(&key.pseudonym(&registry)));
    assert!(!after.is_empty());
    let _ = target.birth_year;
    let _ = target.patient_id;
}

#[actix_web::test]
async fn research_endpoints_are_for_register_staff_only() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let identity = age::x25519::Identity::generate();
    let keys = vec![identity.to_public().to_string()];
    let body = project_body("Access", &keys, &["sex"], json!({"dates": "month"}));
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let (status, p) = call(&app, "POST", "/api/v1/research/projects", Some(&body), Some(&staff)).await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    let get = format!("/api/v1/research/projects/{id}");
    let extract = format!("/api/v1/research/projects/{id}/extracts");
    let dry = format!("{extract}?dry_run=true");
    let told = format!("/api/v1/research/projects/{id}/notices/1/told");
    let endpoints: [(&str, &str, Option<&Value>); 6] = [
        ("POST", "/api/v1/research/projects", Some(&body)),
        ("GET", "/api/v1/research/projects", None),
        ("GET", &get, None),
        ("POST", &dry, None),
        ("POST", &extract, None),
        ("POST", &told, None),
    ];
    for (method, path, b) in endpoints {
        assert_eq!(call(&app, method, path, b, None).await.0, 401, "{method} {path} without a token");
    }
    let refusals_before = app.audit_count("access.refused");
    let mut refused = 0;
    for (role, token) in app.tokens_around(unit).await {
        for (method, path, b) in endpoints {
            let (status, _) = call(&app, method, path, b, Some(&token)).await;
            if role == Role::RegisterStaff {
                // Allowed (the project has no notice yet: 404 for the last).
                let ok = if path == told {
                    404
                } else if method == "POST" && !path.ends_with("true") {
                    201
                } else {
                    200
                };
                assert_eq!(status, ok, "{role:?} {method} {path}");
            } else {
                assert_eq!(status, 403, "{role:?} {method} {path}");
                refused += 1;
            }
        }
    }
    assert_eq!(app.audit_count("access.refused") - refusals_before, refused, "every refusal is audited");
    assert_eq!(app.count("research_projects"), 2, "only the staff's two");
    assert_eq!(app.count("research_deliveries"), 1, "only the staff's one");
    assert_eq!(
        call(&app, "GET", "/api/v1/research/projects/00000000-0000-0000-0000-000000000000", None, Some(&staff)).await.0,
        404
    );
}

#[actix_web::test]
async fn bad_project_input_gets_field_errors_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let identity = age::x25519::Identity::generate();
    let keys = vec![identity.to_public().to_string()];
    let good = project_body("Bad", &keys, &["sex", "start_date"], json!({"dates": "shift", "shift_days": 10}));
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"variables": ["sex", "national_id"]}), "variables.1", "unknown_variable"),
        (json!({"variables": []}), "variables", "required"),
        (json!({"period": {"from": "1999-01-01", "to": "2025-01-01"}}), "period.from", "outside_data"),
        (json!({"period": {"from": "2025-01-01", "to": "2099-01-01"}}), "period.to", "outside_data"),
        (json!({"period": {"from": "2025-06-01", "to": "2025-01-01"}}), "period.to", "date_order"),
        (
            json!({"recipient": {"organisation": "X", "contact": "Y", "public_keys": ["age1notakey"]}}),
            "recipient.public_keys.0",
            "invalid_key",
        ),
        (
            json!({"recipient": {"organisation": "X", "contact": "Y", "public_keys": []}}),
            "recipient.public_keys",
            "count",
        ),
        (json!({"shift_days": null}), "shift_days", "out_of_range"),
        (json!({"dates": "week"}), "dates", "invalid_code"),
        (json!({"k": 1}), "k", "out_of_range"),
        (json!({"title": " "}), "title", "required"),
        (json!({"expires_on": "2020-01-01"}), "expires_on", "date_order"),
    ];
    for (change, field, code) in cases {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, problem) = call(&app, "POST", "/api/v1/research/projects", Some(&body), Some(&staff)).await;
        assert_eq!(status, 422, "{change}: {problem}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(errors.iter().any(|e| e["field"] == field && e["code"] == code), "{change}: {problem}");
    }
    // An unknown field is refused too.
    let mut body = good.clone();
    body["national_ids"] = json!(true);
    assert_eq!(call(&app, "POST", "/api/v1/research/projects", Some(&body), Some(&staff)).await.0, 422);
    assert_eq!(app.count("research_projects"), 0);
    assert_eq!(app.audit_count("research_project.create"), 0);

    // An expired project delivers nothing: 409, and no delivery stored.
    let (status, p) = call(&app, "POST", "/api/v1/research/projects", Some(&good), Some(&staff)).await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap();
    diesel::sql_query(format!(
        "UPDATE research_projects SET approved_on = '2025-01-01', expires_on = '2025-06-30' WHERE id = '{id}'"
    ))
    .execute(&mut app.conn())
    .unwrap();
    let (status, problem) =
        call(&app, "POST", &format!("/api/v1/research/projects/{id}/extracts"), None, Some(&staff)).await;
    assert_eq!((status, problem["code"].clone()), (409, json!("project_expired")), "{problem}");
    let (_, got) = call(&app, "GET", &format!("/api/v1/research/projects/{id}"), None, Some(&staff)).await;
    assert_eq!(got["expired"], true);
    assert_eq!(app.count("research_deliveries"), 0);
    assert_eq!(app.count("research_delivery_patients"), 0);
    assert_eq!(app.audit_count("research_extract.deliver"), 0);
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/research/projects/00000000-0000-0000-0000-000000000000/extracts",
            None,
            Some(&staff)
        )
        .await
        .0,
        404
    );
}

/// The residence is a quasi-identifier: a municipality with fewer than k patients is generalised
/// to its catchment trust (for every row: the column is recoded as a whole), and the codebook
/// says so.
#[actix_web::test]
async fn a_residence_with_few_patients_is_generalised_to_its_catchment_trust() {
    let app = TestApp::spawn().await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    for (table, body) in [
        ("areas", include_str!("../../../seeds/residence-areas-demo.csv")),
        ("catchment", include_str!("../../../seeds/catchment-demo.csv")),
    ] {
        let res = app
            .client
            .post(app.url(&format!("/api/v1/residence/{table}")))
            .bearer_auth(&staff)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{table}");
    }
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, unit).await;
    // Six patients living in Molde (1506), two in Ålesund (1508): both in Helse Møre og Romsdal's
    // catchment.
    for i in 0..8u32 {
        let birth_year = 1970 + i as i32;
        let id = national_id(1 + i, 1 + i, birth_year);
        let (status, p) = call(
            &app,
            "POST",
            "/api/v1/patients",
            Some(&json!({"national_id": id, "sex": 1, "birth_year": birth_year})),
            Some(&token),
        )
        .await;
        assert_eq!(status, 201, "{p}");
        let code = if i < 6 { "1506" } else { "1508" };
        let body = json!({"patient_id": p["id"], "unit_id": unit.0, "start_date": "2025-03-01", "treatment_level": 1,
                          "residence_code": code});
        let (status, w) = call(&app, "POST", "/api/v1/pathways", Some(&body), Some(&token)).await;
        assert_eq!(status, 201, "{w}");
    }
    let identity = age::x25519::Identity::generate();
    let keys = vec![identity.to_public().to_string()];
    let body = project_body("R", &keys, &["residence"], json!({"dates": "month"}));
    let (status, project) = call(&app, "POST", "/api/v1/research/projects", Some(&body), Some(&staff)).await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_owned();
    let (status, risk) =
        call(&app, "POST", &format!("/api/v1/research/projects/{id}/extracts?dry_run=true"), None, Some(&staff)).await;
    assert_eq!(status, 200, "{risk}");
    assert_eq!(risk["risk"]["before"]["classes_below_k"], 1, "{risk}");
    assert_eq!(risk["risk"]["after"]["classes_below_k"], 0, "{risk}");
    assert!(risk["risk"]["changes"].to_string().contains("residence"), "{risk}");
    let files = deliver(&app, &staff, &id, &identity).await;
    let (header, rows) = read_csv(&files["extract.csv"]);
    assert_eq!(header, ["patient", "residence"]);
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r[1] == "Helse Møre og Romsdal HF"), "{rows:?}");
    let codebook = String::from_utf8(files["codebook.csv"].clone()).unwrap();
    assert!(codebook.contains("delivered as: catchment trust"), "{codebook}");
}
