//! Bulk import (`POST /api/v1/imports`): rows go through the registration use cases (access,
//! validation, status machine, history, audit); a dry run stores nothing; a repeated batch
//! changes nothing; a changed draft is updated; CSV of one kind; large batches run as jobs.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

use crate::fixtures::{baseline, measurement, IDS};

/// One NDJSON line of each object: a patient, a pathway at `unit` with a completed baseline
/// and a draft measurement, keyed by `n`.
fn pathway_lines(n: usize, unit: i64) -> Vec<Value> {
    let (id, year) = IDS[n];
    vec![
        json!({"type": "patient", "key": format!("P{n}"), "national_id": id, "sex": 2, "birth_year": year}),
        json!({"type": "pathway", "key": format!("W{n}"), "patient_key": format!("P{n}"), "unit_id": unit,
               "start_date": "2026-06-01", "treatment_level": 1}),
        json!({"type": "form", "key": format!("B{n}"), "pathway_key": format!("W{n}"), "kind": "baseline",
               "status": "completed", "data": baseline("2026-06-02")}),
        json!({"type": "form", "key": format!("M{n}"), "pathway_key": format!("W{n}"), "kind": "measurement",
               "data": measurement("2026-09-01")}),
    ]
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

async fn send(app: &TestApp, token: &str, query: &str, content_type: &str, body: String) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/imports{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn import(app: &TestApp, token: &str, query: &str, lines: &[Value]) -> Value {
    let (status, body) = send(app, token, query, "application/x-ndjson", ndjson(lines)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// (line, field, code) of each rejected row.
fn rejected(job: &Value) -> Vec<(i64, String, String)> {
    job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap().into(), e["code"].as_str().unwrap().into()))
        .collect()
}

fn stored(app: &TestApp) -> Vec<i64> {
    ["patients", "pathways", "forms", "form_history", "pathway_status_history", "import_keys"]
        .iter()
        .map(|t| app.count(t))
        .collect()
}

#[actix_web::test]
async fn an_import_registers_at_the_callers_units_and_is_refused_at_others() {
    let app = TestApp::spawn().await;
    let (molde, st_olav) = (app.unit(UNIT_MOLDE), app.unit(UNIT_ST_OLAV));
    let token = app.token_for(Role::Registrar, molde).await;
    let mut lines = pathway_lines(0, molde.0);
    lines.extend(pathway_lines(1, st_olav.0));
    let job = import(&app, &token, "", &lines).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!((job["rows"].as_i64(), job["rows_done"].as_i64()), (Some(8), Some(8)));
    // The second patient is registered (a registrar may register anyone), their pathway at
    // another unit is refused by the register's access rules, and its forms have no pathway.
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(5), Some(3)), "{job}");
    assert_eq!(
        rejected(&job),
        vec![
            (6, String::new(), "forbidden".into()),
            (7, "pathway_key".into(), "not_found".into()),
            (8, "pathway_key".into(), "not_found".into())
        ]
    );
    assert_eq!(app.count("pathways"), 1);
    assert_eq!(app.count("forms"), 2);
    // The same use cases: their audit rows, the form history and the completed baseline.
    assert_eq!(app.audit_count("patient.register"), 2);
    assert_eq!(app.audit_count("pathway.open"), 1);
    assert_eq!(app.audit_count("form.create"), 2);
    assert_eq!(app.audit_count("form.complete"), 1);
    assert_eq!(app.audit_count("import.create"), 1);
    // Created twice, completed once.
    assert_eq!(app.count("form_history"), 3);
    let (_, detail) = crate::fixtures::call(&app, "GET", "/api/v1/pathways?per_page=10", None, Some(&token)).await;
    let pathway = detail["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, detail) =
        crate::fixtures::call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&token)).await;
    let statuses: Vec<&str> =
        detail["forms"].as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"completed") && statuses.contains(&"draft"), "{detail}");
    // The caller at the other unit imports its own pathway.
    let other = app.token_for(Role::Registrar, st_olav).await;
    let job = import(&app, &other, "", &pathway_lines(1, st_olav.0)).await;
    assert_eq!(
        (job["created"].as_i64(), job["unchanged"].as_i64(), job["rejected"].as_i64()),
        (Some(3), Some(1), Some(0))
    );
}

#[actix_web::test]
async fn a_repeated_batch_changes_nothing_and_a_changed_draft_is_updated() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let lines: Vec<Value> = (0..3).flat_map(|n| pathway_lines(n, molde.0)).collect();
    let first = import(&app, &token, "", &lines).await;
    assert_eq!((first["created"].as_i64(), first["rejected"].as_i64()), (Some(12), Some(0)), "{first}");
    let before = stored(&app);
    let audit_before = app.count("audit_log");
    let again = import(&app, &token, "", &lines).await;
    assert_eq!(
        (again["created"].as_i64(), again["updated"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(0), Some(12))
    );
    assert_eq!(stored(&app), before);
    // Only the new job's own audit row.
    assert_eq!(app.count("audit_log"), audit_before + 1);
    // A changed draft is updated (with history); a changed completed form is refused.
    let mut changed = lines.clone();
    changed[3]["data"]["benefit"] = json!(2);
    changed[2]["data"]["housing"] = json!(3);
    let job = import(&app, &token, "", &changed).await;
    assert_eq!(
        (job["updated"].as_i64(), job["rejected"].as_i64(), job["unchanged"].as_i64()),
        (Some(1), Some(1), Some(10))
    );
    assert_eq!(rejected(&job), vec![(3, String::new(), "form_completed".into())]);
    assert_eq!(app.count("form_history"), before[3] + 1);
    assert_eq!(app.audit_count("form.update"), 1);
    // A sender's version that is not the form's is refused like a stale If-Match.
    changed[3]["data"]["benefit"] = json!(3);
    changed[3]["version"] = json!(1);
    let job = import(&app, &token, "", &changed[3..4]).await;
    assert_eq!(rejected(&job), vec![(1, String::new(), "stale_version".into())]);
}

#[actix_web::test]
async fn a_dry_run_reports_every_bad_row_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let mut lines = pathway_lines(0, molde.0);
    // 5: a national id with a wrong check digit; 6: an unknown field; 7: a measurement with a
    // field out of its code list; 8: a pathway in the future; 9: not JSON.
    lines.push(json!({"type": "patient", "key": "bad", "national_id": "02029404856", "sex": 2, "birth_year": 1994}));
    lines.push(json!({"type": "pathway", "key": "W9", "patient_key": "P0", "unit_id": molde.0,
                      "start_date": "2026-06-01", "treatment_level": 1, "colour": "red"}));
    let mut bad = measurement("2026-09-02");
    bad["benefit"] = json!(42);
    lines.push(json!({"type": "form", "key": "M9", "pathway_key": "W0", "kind": "measurement", "data": bad}));
    lines.push(json!({"type": "pathway", "key": "W8", "patient_key": "P0", "unit_id": molde.0,
                      "start_date": "2099-01-01", "treatment_level": 1}));
    let mut body = ndjson(&lines);
    body.push_str("{\"type\": \"patient\", \"national_id\": \"02029404855\"\n");
    let before = stored(&app);
    let (status, job) = send(&app, &token, "?dry_run=true", "application/x-ndjson", body.clone()).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["dry_run"], true);
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(4), Some(5)), "{job}");
    let errors = rejected(&job);
    let lines_of: Vec<i64> = errors.iter().map(|e| e.0).collect();
    assert_eq!(lines_of, vec![5, 6, 7, 8, 9], "{job}");
    assert!(
        errors.contains(&(5, "national_id".into(), "checksum".into())) || errors[0].1 == "national_id",
        "{errors:?}"
    );
    assert_eq!(errors[1], (6, "colour".into(), "unknown_field".into()));
    assert_eq!(errors[2], (7, "data.benefit".into(), "range".into()));
    assert_eq!(errors[3].1, "start_date");
    assert_eq!(errors[4].2, "malformed_json");
    assert_eq!(stored(&app), before);
    assert_eq!(app.audit_count("patient.register") + app.audit_count("pathway.open"), 0);
    // No submitted value in the answer or the error report.
    let id = job["id"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/imports/{id}/errors")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let report = res.text().await.unwrap();
    assert_eq!(report.lines().count(), 6, "{report}");
    assert!(report.starts_with("line,field,code,message\n5,national_id,"), "{report}");
    for secret in ["02029404856", "02029404855", "red", "42"] {
        assert!(!report.contains(secret) && !job["errors"].to_string().contains(secret), "{secret} in {report}");
    }
    // All or nothing: the same batch stores nothing either, and says so.
    let (_, job) = send(&app, &token, "?all_or_nothing=true", "application/x-ndjson", body).await;
    assert_eq!(job["status"], "rolled_back");
    assert_eq!(job["rejected"].as_i64(), Some(5));
    assert_eq!(stored(&app), before);
    // Without the bad rows it stores everything.
    let job = import(&app, &token, "?all_or_nothing=true", &lines[..4]).await;
    assert_eq!((job["status"].as_str(), job["created"].as_i64()), (Some("completed"), Some(4)));
    assert_eq!(app.count("forms"), 2);
}

#[actix_web::test]
async fn csv_batches_of_pathways_and_forms_go_through_the_same_rules() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let (id0, y0) = IDS[0];
    let (id1, y1) = IDS[1];
    let pathways = format!(
        "key,national_id,sex,birth_year,unit_id,start_date,treatment_level\n\
         W0,{id0},2,{y0},{u},2026-06-01,1\nW1,{id1},1,{y1},{u},2026-06-01,9\n",
        u = molde.0
    );
    let (status, job) = send(&app, &token, "?kind=pathway", "text/csv", pathways.clone()).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(1), Some(1)), "{job}");
    assert_eq!(rejected(&job), vec![(3, "treatment_level".into(), "code_list".into())]);
    let forms = "key,pathway_key,status,event_date,referral_diagnosis,substance_diagnoses,psychiatric_diagnoses,\
                 somatic_diagnoses,somatic_health_assessed,mental_health_assessed,in_lar,individual_plan,\
                 responsibility_group,substance_use.substances,substance_use.main_substance,\
                 substance_use.injected_30d,substance_use.overdose_12m,injected_ever,audit_score,\
                 self_rated_severity,self_rated_life_situation,housing,lives_with,children_under_18,occupation\n\
                 B0,W0,completed,2026-06-02,F10.2,F10.2;F12.1,F32.1,[],1,3,2,1,2,\
                 \"[{\"\"substance\"\":1,\"\"frequency_30d\"\":4,\"\"route\"\":3,\"\"debut_age\"\":15}]\",1,2,0,2,20,4,2,2,1,2,7\n\
                 B1,W1,draft,2026-06-02,,,,,,,,,,,,,,,,,,,,,\n";
    let (status, job) = send(&app, &token, "?kind=baseline", "text/csv", forms.into()).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(1), Some(1)), "{job}");
    assert_eq!(rejected(&job), vec![(3, "pathway_key".into(), "not_found".into())]);
    assert_eq!(app.audit_count("form.complete"), 1);
    // The same CSV again changes nothing.
    let (_, job) = send(&app, &token, "?kind=pathway", "text/csv", pathways).await;
    assert_eq!((job["created"].as_i64(), job["unchanged"].as_i64()), (Some(0), Some(1)));
}

#[actix_web::test]
async fn bad_import_requests_get_problem_documents_and_store_nothing() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let lines = ndjson(&pathway_lines(0, molde.0));
    let res = app.client.post(app.url("/api/v1/imports")).body(lines.clone()).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (status, body) = send(&app, &token, "", "application/json", lines.clone()).await;
    assert_eq!((status, body["code"].as_str()), (415, Some("unsupported_media_type")));
    let (status, body) = send(&app, &token, "", "text/csv", "key\nx\n".into()).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("kind")), "{body}");
    let (status, body) = send(&app, &token, "?kind=baseline", "text/csv", "key,colour\nx,red\n".into()).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("column 2")), "{body}");
    let (status, body) = send(&app, &token, "?kind=nope", "text/csv", "key\nx\n".into()).await;
    assert_eq!((status, body["errors"][0]["code"].as_str()), (422, Some("code_list")), "{body}");
    let (status, body) = send(&app, &token, "", "application/x-ndjson", "\n\n".into()).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("batch")), "{body}");
    let (status, _) = send(&app, &token, "?dry_run=maybe", "application/x-ndjson", lines.clone()).await;
    assert_eq!(status, 400);
    // Roles without registration may not import at all.
    for role in [Role::RegisterStaff, Role::Admin] {
        let other = app.token_for(role, app.nation()).await;
        let (status, body) = send(&app, &other, "", "application/x-ndjson", lines.clone()).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{role:?}");
    }
    assert_eq!(app.count("import_jobs"), 0);
    assert_eq!(app.count("patients"), 0);
    // A job is its organisation's: the sender, another registrar of the same unit and one of its
    // legal entity read it; a registrar of another unit, and roles without registration, get
    // 404, as for a job that does not exist.
    let job = import(&app, &token, "?dry_run=true", &pathway_lines(0, molde.0)).await;
    let id = job["id"].as_str().unwrap();
    let same_unit = app.token_for(Role::Registrar, molde).await;
    let entity = app.token_for(Role::Registrar, app.entity_of(molde)).await;
    let other_unit = app.token_for(Role::Registrar, app.unit(UNIT_ST_OLAV)).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    for path in [format!("/api/v1/imports/{id}"), format!("/api/v1/imports/{id}/errors")] {
        for reader in [&token, &same_unit, &entity] {
            let res = app.get(&path).bearer_auth(reader).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
        }
        for reader in [&other_unit, &staff] {
            let res = app.get(&path).bearer_auth(reader).send().await.unwrap();
            assert_eq!(res.status(), 404, "{path}");
        }
    }
    // A job sent at the legal entity (as a record system's client sends for all its units) is
    // not readable by a registrar of one unit only.
    let job = import(&app, &entity, "?dry_run=true", &pathway_lines(1, molde.0)).await;
    let id = job["id"].as_str().unwrap();
    let res = app.get(&format!("/api/v1/imports/{id}")).bearer_auth(&same_unit).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = app.get(&format!("/api/v1/imports/{}", uuid::Uuid::nil())).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn a_large_batch_runs_as_a_job_with_progress_and_an_error_report() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    // 1,100 rows: more than run in the request. Every 100th is bad.
    let mut body = String::new();
    for n in 0..1100 {
        if n % 100 == 99 {
            body.push_str(&format!("{{\"type\": \"pathway\", \"key\": \"W{n}\", \"patient_key\": \"none\", \"unit_id\": {}, \"start_date\": \"2026-06-01\", \"treatment_level\": 1}}\n", molde.0));
        } else {
            body.push_str(&format!(
                "{{\"type\": \"form\", \"key\": \"F{n}\", \"pathway_key\": \"none\", \"kind\": \"baseline\"}}\n"
            ));
        }
    }
    let (status, job) = send(&app, &token, "", "application/x-ndjson", body).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "queued");
    let id = job["id"].as_str().unwrap().to_owned();
    let mut job = Value::Null;
    for _ in 0..600 {
        let (_, j) = crate::fixtures::call(&app, "GET", &format!("/api/v1/imports/{id}"), None, Some(&token)).await;
        job = j;
        if job["status"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!((job["rows_done"].as_i64(), job["rejected"].as_i64()), (Some(1100), Some(1100)));
    assert_eq!(job["errors"].as_array().unwrap().len(), 100);
    let res = app.get(&format!("/api/v1/imports/{id}/errors")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.text().await.unwrap().lines().count(), 1101);
}

/// Everything stored about one patient, without ids, pseudonyms and times (which differ between
/// two patients by construction): the patient, their pathways, forms with typed rows and
/// substances, form history, and audit rows in order.
fn stored_about(app: &TestApp, patient: &str) -> Value {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct J {
        #[diesel(sql_type = diesel::sql_types::Text)]
        j: String,
    }
    // A row as JSON without the columns that name ids, pseudonyms or times.
    let strip = |t: &str| {
        format!(
            "(SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb({t})) e(k, v) WHERE k NOT IN \
             ('id', 'pathway_id', 'form_id', 'patient_id', 'patient_ids', 'pseudonym', 'patient_pseudonym', \
             'patient_pseudonyms', 'national_id_enc', 'request_id', 'target_id', 'at') AND k NOT LIKE '%\\_at')"
        )
    };
    let sql = format!(
        "WITH p AS (SELECT * FROM patients WHERE id = $1::uuid), \
              w AS (SELECT * FROM pathways WHERE patient_id = $1::uuid), \
              f AS (SELECT forms.* FROM forms JOIN w ON forms.pathway_id = w.id) \
         SELECT jsonb_build_object( \
           'patient', (SELECT jsonb_agg({p}) FROM p), \
           'pathways', (SELECT jsonb_agg({w}) FROM w), \
           'forms', (SELECT jsonb_agg({f} ORDER BY f.kind) FROM f), \
           'baselines', (SELECT jsonb_agg({b}) FROM baseline_forms b JOIN f ON b.form_id = f.id), \
           'measurements', (SELECT jsonb_agg({m}) FROM measurement_forms m JOIN f ON m.form_id = f.id), \
           'substances', (SELECT jsonb_agg({s} ORDER BY f.kind, s.substance) FROM form_substances s \
                          JOIN f ON s.form_id = f.id), \
           'history', (SELECT jsonb_agg({h} ORDER BY f.kind, h.version, h.id) FROM form_history h \
                       JOIN f ON h.form_id = f.id), \
           'status_history', (SELECT jsonb_agg({sh} ORDER BY sh.id) FROM pathway_status_history sh \
                              JOIN w ON sh.pathway_id = w.id), \
           'audit', (SELECT jsonb_agg({a} ORDER BY a.id) FROM audit_log a WHERE a.patient_id = $1::uuid) \
         )::text AS j",
        p = strip("p"),
        w = strip("w"),
        f = strip("f"),
        b = strip("b"),
        m = strip("m"),
        s = strip("s"),
        h = strip("h"),
        sh = strip("sh"),
        a = strip("a"),
    );
    let row: J =
        diesel::sql_query(sql).bind::<diesel::sql_types::Text, _>(patient).get_result(&mut app.conn()).unwrap();
    serde_json::from_str(&row.j).unwrap()
}

#[actix_web::test]
async fn an_imported_pathway_is_stored_exactly_as_through_the_json_api() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    // Patient 0 by import: patient, pathway, completed baseline, draft measurement.
    let job = import(&app, &token, "", &pathway_lines(0, molde.0)).await;
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(4), Some(0)), "{job}");
    // Patient 1, the same data through the JSON API, one call per use case.
    let (id, year) = IDS[1];
    let patient = crate::fixtures::register(&app, &token, (id, year)).await;
    let pathway = crate::fixtures::open(&app, &token, &patient, molde.0, "2026-06-01", 1).await;
    let (b, _) = crate::fixtures::create(&app, &token, &pathway, "baseline", &baseline("2026-06-02")).await;
    crate::fixtures::complete(&app, &token, &b).await;
    crate::fixtures::create(&app, &token, &pathway, "measurement", &measurement("2026-09-01")).await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let imported: Id = diesel::sql_query("SELECT id::text AS id FROM patients WHERE id <> $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&patient)
        .get_result(&mut app.conn())
        .unwrap();
    let (by_import, by_api) = (stored_about(&app, &imported.id), stored_about(&app, &patient));
    assert_eq!(by_import["forms"].as_array().map(Vec::len), Some(2), "{by_import}");
    assert_eq!(by_import["audit"].as_array().map(Vec::len), Some(5), "{by_import}");
    // The patient's birth year differs by construction (two people); everything else is equal.
    let mut a = by_import.clone();
    a["patient"][0]["birth_year"] = by_api["patient"][0]["birth_year"].clone();
    a["pathways"][0]["patient_birth_year"] = by_api["pathways"][0]["patient_birth_year"].clone();
    assert_eq!(a, by_api);
}

#[actix_web::test]
async fn rejected_rows_of_a_chunk_leave_nothing_stored() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let audit_before = app.count("audit_log");
    let mut lines = pathway_lines(0, molde.0);
    // A second person whose pathway starts in the future: the patient is kept (its own line),
    // the pathway is refused, and so are its forms.
    let mut bad = pathway_lines(1, molde.0);
    bad[1]["start_date"] = json!("2999-01-01");
    // A third pathway whose baseline is created but cannot be completed (no event date): the
    // created draft is rolled back with the line.
    let mut half = pathway_lines(2, molde.0);
    half[2]["data"].as_object_mut().unwrap().remove("event_date");
    lines.extend(bad);
    lines.extend(half);
    let job = import(&app, &token, "", &lines).await;
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(8), Some(4)), "{job}");
    let lines_rejected: Vec<i64> = rejected(&job).iter().map(|e| e.0).collect();
    assert_eq!(lines_rejected.first(), Some(&6));
    assert!(lines_rejected.contains(&11), "{job}");
    // Three patients, two pathways; the first pathway's two forms and the third's measurement.
    assert_eq!(app.count("patients"), 3);
    assert_eq!(app.count("pathways"), 2);
    // Each pathway kept has its "opened" status row; the refused one's went with its savepoint.
    assert_eq!(app.count("pathway_status_history"), 2);
    assert_eq!(app.count("forms"), 3);
    // Created three times, completed once.
    assert_eq!(app.count("form_history"), 4);
    assert_eq!(app.count("import_keys"), 8);
    assert_eq!(app.audit_count("form.create"), 3);
    assert_eq!(app.audit_count("form.complete"), 1);
    // patient.register ×3, pathway.open ×2, form.create ×3, form.complete ×1, import.create ×1.
    assert_eq!(app.count("audit_log"), audit_before + 10);
}

#[actix_web::test]
async fn a_reservation_deletes_the_import_keys_that_name_the_person() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let mut lines = pathway_lines(0, molde.0);
    lines.extend(pathway_lines(1, molde.0));
    let job = import(&app, &token, "", &lines).await;
    assert_eq!(job["created"].as_i64(), Some(8), "{job}");
    assert_eq!(app.count("import_keys"), 8);
    let (status, body) = crate::fixtures::call(
        &app,
        "POST",
        "/api/v1/reservations",
        Some(&json!({"national_id": IDS[0].0, "received_date": "2026-01-02"})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // The person's patient, pathway and form keys are gone; the other person's stay.
    assert_eq!(app.count("import_keys"), 4);
    // The same batch again: the reserved person's patient line is refused, and nothing of
    // theirs is stored again.
    let job = import(&app, &token, "", &lines[..4]).await;
    assert_eq!(rejected(&job).first().map(|e| e.2.clone()), Some("reserved".to_owned()), "{job}");
    assert_eq!(app.count("patients"), 1);
}

#[actix_web::test]
async fn finished_jobs_are_deleted_by_the_worker_after_their_retention() {
    let app = TestApp::spawn_with(|s| s.import_retention_days = 0).await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let mut lines = pathway_lines(0, molde.0);
    lines[1]["unit_id"] = json!(-1);
    let job = import(&app, &token, "", &lines).await;
    assert_eq!(job["status"], "completed", "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    // The worker's next idle pass deletes the job and its error rows; the imported rows stay.
    let mut status = 200;
    for _ in 0..50 {
        status = app.get(&format!("/api/v1/imports/{id}")).bearer_auth(&token).send().await.unwrap().status().as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 404);
    assert_eq!((app.count("import_jobs"), app.count("import_errors")), (0, 0));
    assert_eq!(app.count("patients"), 1);
}

#[actix_web::test]
async fn finished_jobs_are_kept_within_their_retention() {
    let app = TestApp::spawn_with(|s| s.import_retention_days = 1).await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let job = import(&app, &token, "", &pathway_lines(0, molde.0)).await;
    let id = job["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let res = app.get(&format!("/api/v1/imports/{id}")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn a_patient_line_that_differs_from_the_stored_patient_is_refused() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::Registrar, molde).await;
    let lines = pathway_lines(0, molde.0);
    let job = import(&app, &token, "", &lines[..1]).await;
    assert_eq!(job["created"].as_i64(), Some(1), "{job}");
    let audit_before = app.count("audit_log");
    // The same person with another sex: refused as the JSON API would not change it either.
    let mut changed = lines[0].clone();
    changed["sex"] = json!(1);
    let job = import(&app, &token, "", &[changed]).await;
    assert_eq!(rejected(&job), vec![(1, String::new(), "patient_changed".into())], "{job}");
    // Nothing changed: the stored patient keeps sex 2, the key its first content; only the
    // job's own audit row is new.
    #[derive(diesel::QueryableByName)]
    struct Sex {
        #[diesel(sql_type = diesel::sql_types::SmallInt)]
        sex: i16,
    }
    let stored: Sex =
        diesel::RunQueryDsl::get_result(diesel::sql_query("SELECT sex FROM patients"), &mut app.conn()).unwrap();
    assert_eq!(stored.sex, 2);
    assert_eq!(app.count("audit_log"), audit_before + 1);
    let again = import(&app, &token, "", &lines[..1]).await;
    assert_eq!(again["unchanged"].as_i64(), Some(1), "{again}");
    // Through the JSON API, a person registered before is not changed either.
    let (status, body) = crate::fixtures::call(
        &app,
        "POST",
        "/api/v1/patients",
        Some(&json!({"national_id": IDS[0].0, "sex": 1, "birth_year": IDS[0].1})),
        Some(&token),
    )
    .await;
    assert_eq!((status, &body["created"]), (200, &json!(false)), "{body}");
    let stored: Sex =
        diesel::RunQueryDsl::get_result(diesel::sql_query("SELECT sex FROM patients"), &mut app.conn()).unwrap();
    assert_eq!(stored.sex, 2);
}
