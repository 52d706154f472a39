//! The FHIR facade's records: Organization, Patient, EpisodeOfCare and QuestionnaireResponse,
//! through the same use cases as the JSON API: access in and out of scope (a search never tells
//! a hidden record from a missing one), the same audit rows, paging, the round trip of a form
//! between the two APIs, concurrency by If-Match, and bad input (OperationOutcome, nothing
//! stored). Every resource emitted is checked by fhir.resources (`crate::fhir::validate`).

use domain::access::Role;
use integration_tests::{TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::{json, Value};

use crate::fhir::{assert_outcome, fhir, validate};
use crate::fixtures::{baseline, call, pathway_for_new_patient, IDS};

fn total(bundle: &Value) -> u64 {
    bundle["total"].as_u64().unwrap_or_else(|| panic!("no total: {bundle}"))
}

#[actix_web::test]
async fn organizations_carry_resh_and_org_number_and_their_parent() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let unit = app.unit(UNIT_MOLDE).0;
    let entity = app.entity_of(app.unit(UNIT_MOLDE)).0;
    let (status, ct, org) = fhir(&app, "GET", &format!("/fhir/Organization/{unit}"), None, Some(&token)).await;
    assert_eq!(status, 200, "{org}");
    assert!(ct.starts_with("application/fhir+json"));
    assert_eq!(org["identifier"][0]["system"], "urn:oid:2.16.578.1.12.4.1.4.102");
    assert_eq!(org["identifier"][0]["value"], UNIT_MOLDE.to_string());
    assert_eq!(org["partOf"]["reference"], format!("Organization/{entity}"));
    let mut emitted = vec![org];
    for (q, expected) in [
        (format!("identifier=urn:oid:2.16.578.1.12.4.1.4.102|{UNIT_MOLDE}"), Some(1)),
        (format!("identifier={UNIT_MOLDE}"), Some(1)),
        ("identifier=urn:oid:2.16.578.1.12.4.1.4.102|1".to_owned(), Some(0)),
        (format!("_id={unit}"), Some(1)),
        (format!("_id={unit}&type=region"), Some(0)),
        (format!("partof={entity}&type=unit"), None),
        ("type=nation".to_owned(), Some(1)),
    ] {
        let (status, _, bundle) = fhir(&app, "GET", &format!("/fhir/Organization?{q}"), None, Some(&token)).await;
        assert_eq!(status, 200, "{q}: {bundle}");
        if let Some(n) = expected {
            assert_eq!(total(&bundle), n, "{q}");
        } else {
            let ids: Vec<&Value> = bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]["id"]).collect();
            assert!(ids.contains(&&json!(unit.to_string())), "{q}: {ids:?}");
        }
        emitted.push(bundle);
    }
    // The tree pages with _count and next links.
    let (_, _, page1) = fhir(&app, "GET", "/fhir/Organization?_count=2", None, Some(&token)).await;
    assert!(total(&page1) > 2);
    assert!(page1["link"].as_array().unwrap().iter().any(|l| l["relation"] == "next"));
    emitted.push(page1);
    for bad in ["type=clinic", "partof=x", "date=yesterday", "name=x"] {
        let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/Organization?{bad}"), None, Some(&token)).await;
        assert_outcome(status, &ct, &body, 400);
        emitted.push(body);
    }
    let (status, ct, body) = fhir(&app, "GET", "/fhir/Organization", None, None).await;
    assert_outcome(status, &ct, &body, 401);
    assert_eq!(body["issue"][0]["code"], "login");
    emitted.push(body);
    let (status, ct, body) = fhir(&app, "GET", "/fhir/Organization/99999999", None, Some(&token)).await;
    assert_outcome(status, &ct, &body, 404);
    validate(&emitted);
}

#[actix_web::test]
async fn patients_and_episodes_in_scope_only_with_the_json_apis_audit() {
    let app = TestApp::spawn().await;
    let molde = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let st_olav = app.token_for(Role::Registrar, app.unit(UNIT_ST_OLAV)).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let unit = app.unit(UNIT_MOLDE).0;
    let pathway = pathway_for_new_patient(&app, &molde, unit, IDS[0], 10, 1).await;
    let (_, p) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&molde)).await;
    let patient = p["patient_id"].as_str().unwrap().to_owned();
    let mut emitted = Vec::new();

    // Patient: in scope, audited as the JSON API's read; never the national id.
    let before = app.audit_count("patient.read");
    let (status, _, pat) = fhir(&app, "GET", &format!("/fhir/Patient/{patient}"), None, Some(&molde)).await;
    assert_eq!(status, 200, "{pat}");
    assert_eq!(pat["gender"], "female");
    assert_eq!(pat["birthDate"], IDS[0].1.to_string());
    assert!(!pat.to_string().contains(IDS[0].0), "no national id");
    assert_eq!(app.audit_count("patient.read"), before + 1);
    emitted.push(pat);
    // Out of scope and missing read alike: 404 on read, the same empty Bundle on search.
    let missing = uuid::Uuid::new_v4();
    for token in [&st_olav, &staff] {
        let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/Patient/{patient}"), None, Some(token)).await;
        assert_outcome(status, &ct, &body, 404);
        let (_, _, missing_body) = fhir(&app, "GET", &format!("/fhir/Patient/{missing}"), None, Some(token)).await;
        assert_eq!(body, missing_body);
        for (q, miss) in [
            (format!("_id={patient}"), format!("_id={missing}")),
            (
                format!("identifier=https://rusreg.example/fhir/sid/patient-id|{patient}"),
                format!("identifier=https://rusreg.example/fhir/sid/patient-id|{missing}"),
            ),
        ] {
            let (s1, _, hidden) = fhir(&app, "GET", &format!("/fhir/Patient?{q}"), None, Some(token)).await;
            let (s2, _, absent) = fhir(&app, "GET", &format!("/fhir/Patient?{miss}"), None, Some(token)).await;
            assert_eq!((s1, s2), (200, 200), "{hidden}");
            assert_eq!((total(&hidden), total(&absent)), (0, 0));
            assert_eq!(hidden.get("entry"), absent.get("entry"));
            emitted.push(hidden);
        }
    }
    let (_, _, found) = fhir(&app, "GET", &format!("/fhir/Patient?_id={patient}"), None, Some(&molde)).await;
    assert_eq!(total(&found), 1);
    emitted.push(found);
    // The register is never searched by a national id (nor is one echoed in a link).
    let (status, ct, body) =
        fhir(&app, "GET", "/fhir/Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|15076500565", None, Some(&molde))
            .await;
    assert_outcome(status, &ct, &body, 400);
    assert!(!body.to_string().contains("15076500565"));
    emitted.push(body);
    let (status, ct, body) = fhir(&app, "GET", "/fhir/Patient", None, Some(&molde)).await;
    assert_outcome(status, &ct, &body, 400);
    emitted.push(body);

    // EpisodeOfCare: read with its status history, audited as pathway.read.
    let before = app.audit_count("pathway.read");
    let (status, _, eoc) = fhir(&app, "GET", &format!("/fhir/EpisodeOfCare/{pathway}"), None, Some(&molde)).await;
    assert_eq!(status, 200, "{eoc}");
    assert_eq!(eoc["status"], "active");
    assert_eq!(eoc["patient"]["reference"], format!("Patient/{patient}"));
    assert_eq!(eoc["managingOrganization"]["reference"], format!("Organization/{unit}"));
    assert_eq!(eoc["statusHistory"].as_array().unwrap().len(), 1);
    assert_eq!(app.audit_count("pathway.read"), before + 1);
    emitted.push(eoc);
    let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/EpisodeOfCare/{pathway}"), None, Some(&st_olav)).await;
    assert_outcome(status, &ct, &body, 404);
    // Search: in scope, audited as pathway.list; a unit outside the scope reads like a missing one.
    let before = app.audit_count("pathway.list");
    let (_, _, mine) =
        fhir(&app, "GET", &format!("/fhir/EpisodeOfCare?organization={unit}&status=active"), None, Some(&molde)).await;
    assert_eq!(total(&mine), 1, "{mine}");
    assert_eq!(app.audit_count("pathway.list"), before + 1);
    emitted.push(mine);
    let (s1, _, hidden) =
        fhir(&app, "GET", &format!("/fhir/EpisodeOfCare?organization={unit}"), None, Some(&st_olav)).await;
    let (s2, _, absent) = fhir(&app, "GET", "/fhir/EpisodeOfCare?organization=99999999", None, Some(&st_olav)).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!((total(&hidden), total(&absent)), (0, 0));
    let (_, _, hidden_id) =
        fhir(&app, "GET", &format!("/fhir/EpisodeOfCare?_id={pathway}"), None, Some(&st_olav)).await;
    assert_eq!(total(&hidden_id), 0);
    emitted.push(hidden);
    for bad in ["status=planned", "treatment-status=9", "date=notadate", "organization=x", "patient=x"] {
        let (status, ct, body) = fhir(&app, "GET", &format!("/fhir/EpisodeOfCare?{bad}"), None, Some(&molde)).await;
        assert_outcome(status, &ct, &body, 400);
        emitted.push(body);
    }
    validate(&emitted);
}

/// The QuestionnaireResponse of a form read through FHIR, without the server's own elements.
fn as_new(qr: &Value, pathway: &str) -> Value {
    let mut qr = qr.clone();
    let o = qr.as_object_mut().unwrap();
    o.remove("id");
    o.remove("meta");
    o.remove("authored");
    o.insert("subject".into(), json!({"reference": format!("EpisodeOfCare/{pathway}")}));
    qr
}

async fn put_qr(app: &TestApp, token: &str, id: &str, if_match: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app
        .client
        .put(app.url(&format!("/fhir/QuestionnaireResponse/{id}")))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(serde_json::to_vec(body).unwrap());
    if let Some(v) = if_match {
        req = req.header("if-match", v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_questionnaire_response_round_trips_through_both_apis() {
    let app = TestApp::spawn().await;
    let molde = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let st_olav = app.token_for(Role::Registrar, app.unit(UNIT_ST_OLAV)).await;
    let unit = app.unit(UNIT_MOLDE).0;
    let first = pathway_for_new_patient(&app, &molde, unit, IDS[1], 30, 1).await;
    let second = pathway_for_new_patient(&app, &molde, unit, IDS[2], 30, 1).await;
    let date = (domain::clock::today() - chrono::Duration::days(5)).to_string();
    // A draft through the JSON API, read through FHIR: the template.
    let (status, form) =
        call(&app, "POST", &format!("/api/v1/pathways/{first}/forms/baseline"), Some(&baseline(&date)), Some(&molde))
            .await;
    assert_eq!(status, 201, "{form}");
    let (status, _, template) =
        fhir(&app, "GET", &format!("/fhir/QuestionnaireResponse/{}", form["id"].as_str().unwrap()), None, Some(&molde))
            .await;
    assert_eq!(status, 200, "{template}");
    assert_eq!(template["status"], "in-progress");
    assert_eq!(template["meta"]["versionId"], "1");
    let mut emitted = vec![template.clone()];

    // Created through FHIR on the other pathway: reads back identically through both APIs.
    let forms_before = app.count("forms");
    let (status, _, created) =
        fhir(&app, "POST", "/fhir/QuestionnaireResponse", Some(&as_new(&template, &second)), Some(&molde)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(app.count("forms"), forms_before + 1);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["item"], template["item"]);
    let (_, json_form) = call(&app, "GET", &format!("/api/v1/forms/{id}"), None, Some(&molde)).await;
    assert_eq!(json_form["data"], form["data"], "the JSON API reads the same fields");
    assert_eq!(json_form["kind"], "baseline");
    assert_eq!(json_form["pathway_id"], second.as_str());
    let before = app.audit_count("form.read");
    let (_, _, read) = fhir(&app, "GET", &format!("/fhir/QuestionnaireResponse/{id}"), None, Some(&molde)).await;
    assert_eq!(read["item"], template["item"]);
    assert_eq!(read, created);
    assert_eq!(app.audit_count("form.read"), before + 1);
    emitted.push(read.clone());

    // Search by pathway, questionnaire, status and date; each form found is read (audited).
    let q = format!(
        "subject=EpisodeOfCare/{second}&questionnaire=https://rusreg.example/fhir/Questionnaire/baseline&status=in-progress&authored={date}"
    );
    let before = app.audit_count("form.read");
    let (status, _, bundle) = fhir(&app, "GET", &format!("/fhir/QuestionnaireResponse?{q}"), None, Some(&molde)).await;
    assert_eq!((status, total(&bundle)), (200, 1), "{bundle}");
    assert_eq!(app.audit_count("form.read"), before + 1);
    emitted.push(bundle);
    for q in [
        format!("subject=EpisodeOfCare/{second}&status=completed"),
        format!("subject=EpisodeOfCare/{second}&questionnaire=discharge"),
    ] {
        let (_, _, b) = fhir(&app, "GET", &format!("/fhir/QuestionnaireResponse?{q}"), None, Some(&molde)).await;
        assert_eq!(total(&b), 0, "{q}");
    }
    // Out of scope: read 404, search an empty Bundle like a missing pathway, write 404.
    let (status, ct, body) =
        fhir(&app, "GET", &format!("/fhir/QuestionnaireResponse/{id}"), None, Some(&st_olav)).await;
    assert_outcome(status, &ct, &body, 404);
    let (_, _, hidden) =
        fhir(&app, "GET", &format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{second}"), None, Some(&st_olav))
            .await;
    let missing = uuid::Uuid::new_v4();
    let (_, _, absent) = fhir(
        &app,
        "GET",
        &format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{missing}"),
        None,
        Some(&st_olav),
    )
    .await;
    assert_eq!((total(&hidden), total(&absent)), (0, 0));
    let forms_before = app.count("forms");
    let (status, ct, body) =
        fhir(&app, "POST", "/fhir/QuestionnaireResponse", Some(&as_new(&template, &first)), Some(&st_olav)).await;
    assert_outcome(status, &ct, &body, 404);
    assert_eq!(app.count("forms"), forms_before);

    // Update: If-Match required (428), stale (409), then accepted; the version moves on.
    let mut changed = read.clone();
    changed["item"].as_array_mut().unwrap().retain(|i| i["linkId"] != "audit_score");
    let (status, body) = put_qr(&app, &molde, &id, None, &changed).await;
    assert_eq!(status, 428, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome");
    let (status, body) = put_qr(&app, &molde, &id, Some("W/\"7\""), &changed).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = put_qr(&app, &molde, &id, Some("W/\"1\""), &changed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["versionId"], "2");
    let (_, json_form) = call(&app, "GET", &format!("/api/v1/forms/{id}"), None, Some(&molde)).await;
    assert_eq!(json_form["data"]["audit_score"], Value::Null);
    assert_eq!(json_form["version"], 2);
    emitted.push(body.clone());

    // Completing with a missing date fails on the item, and nothing is stored.
    let mut incomplete = body.clone();
    incomplete["status"] = json!("completed");
    incomplete["item"].as_array_mut().unwrap().retain(|i| i["linkId"] != "event_date");
    let (status, outcome) = put_qr(&app, &molde, &id, Some("W/\"2\""), &incomplete).await;
    assert_eq!(status, 422, "{outcome}");
    let expressions: Vec<&str> =
        outcome["issue"].as_array().unwrap().iter().filter_map(|i| i["expression"][0].as_str()).collect();
    assert!(expressions.contains(&"QuestionnaireResponse.item.where(linkId='event_date')"), "{expressions:?}");
    let (_, json_form) = call(&app, "GET", &format!("/api/v1/forms/{id}"), None, Some(&molde)).await;
    assert_eq!((json_form["version"].as_i64(), json_form["status"].as_str()), (Some(2), Some("draft")));
    assert_eq!(json_form["data"]["event_date"], date.as_str(), "the update was not stored either");
    emitted.push(outcome);

    // Completing as it is: the JSON API sees a completed form; it cannot change any more.
    let mut complete = body.clone();
    complete["status"] = json!("completed");
    let (status, done) = put_qr(&app, &molde, &id, Some("W/\"2\""), &complete).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    let (_, json_form) = call(&app, "GET", &format!("/api/v1/forms/{id}"), None, Some(&molde)).await;
    assert_eq!(json_form["status"], "completed");
    let (status, body) = put_qr(&app, &molde, &id, Some(&format!("W/\"{}\"", json_form["version"])), &complete).await;
    assert_eq!(status, 409, "{body}");
    emitted.push(done);
    validate(&emitted);
}

#[actix_web::test]
async fn bad_questionnaire_responses_are_outcomes_and_store_nothing() {
    let app = TestApp::spawn().await;
    let molde = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let unit = app.unit(UNIT_MOLDE).0;
    let pathway = pathway_for_new_patient(&app, &molde, unit, IDS[3], 30, 1).await;
    let subject = json!({"reference": format!("EpisodeOfCare/{pathway}")});
    let q = "https://rusreg.example/fhir/Questionnaire/measurement";
    let item = |link: &str, answer: Value| json!({"linkId": link, "answer": [answer]});
    let coding = |cs: &str, code: &str| json!({"valueCoding": {"system": format!("https://rusreg.example/fhir/CodeSystem/{cs}"), "code": code}});
    let forms_before = app.count("forms");
    let audit_before = app.count("audit_log");
    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        // Not a QuestionnaireResponse, or not valid R4.
        (json!({"resourceType": "Patient"}), 400, None),
        (json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "bogus": 1}), 400, None),
        // Not one of the register's Questionnaires, or a status the register has no use for.
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "subject": subject,
                "questionnaire": "https://example.org/Questionnaire/x"}),
            422,
            Some("QuestionnaireResponse.questionnaire"),
        ),
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "amended", "subject": subject, "questionnaire": q}),
            422,
            Some("QuestionnaireResponse.status"),
        ),
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "questionnaire": q}),
            422,
            Some("QuestionnaireResponse.subject"),
        ),
        // Items: unknown linkId, wrong answer type, a code outside the list, a foreign system.
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "subject": subject, "questionnaire": q,
                "item": [item("no_such_item", json!({"valueInteger": 1}))]}),
            422,
            Some("QuestionnaireResponse.item[0]"),
        ),
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "subject": subject, "questionnaire": q,
                "item": [item("benefit", json!({"valueString": "4"}))]}),
            422,
            Some("QuestionnaireResponse.item.where(linkId='benefit').answer[0].value"),
        ),
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "subject": subject, "questionnaire": q,
                "item": [item("housing", coding("housing", "99"))]}),
            422,
            Some("QuestionnaireResponse.item.where(linkId='housing')"),
        ),
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "subject": subject, "questionnaire": q,
                "item": [item("housing", coding("occupation", "1"))]}),
            422,
            Some("QuestionnaireResponse.item.where(linkId='housing').answer[0].value.system"),
        ),
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "in-progress", "subject": subject, "questionnaire": q,
                "item": [item("benefit", json!({"valueInteger": 9}))]}),
            422,
            Some("QuestionnaireResponse.item.where(linkId='benefit')"),
        ),
        // Completed at once, with the required fields missing: every field an issue.
        (
            json!({"resourceType": "QuestionnaireResponse", "status": "completed", "subject": subject, "questionnaire": q}),
            422,
            Some("QuestionnaireResponse.item.where(linkId='event_date')"),
        ),
    ];
    let mut emitted = Vec::new();
    for (body, expected, expression) in cases {
        let (status, ct, outcome) = fhir(&app, "POST", "/fhir/QuestionnaireResponse", Some(&body), Some(&molde)).await;
        assert_outcome(status, &ct, &outcome, expected);
        if let Some(e) = expression {
            let all: Vec<&str> =
                outcome["issue"].as_array().unwrap().iter().filter_map(|i| i["expression"][0].as_str()).collect();
            assert!(all.contains(&e), "{body}: {all:?}");
        }
        emitted.push(outcome);
    }
    // Wrong media type, unreadable JSON.
    let res = app
        .client
        .post(app.url("/fhir/QuestionnaireResponse"))
        .bearer_auth(&molde)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    emitted.push(res.json().await.unwrap());
    let res = app
        .client
        .post(app.url("/fhir/QuestionnaireResponse"))
        .bearer_auth(&molde)
        .header("content-type", "application/fhir+json")
        .body("{\"resourceType\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    emitted.push(res.json().await.unwrap());
    let (status, ct, outcome) = fhir(&app, "GET", "/fhir/QuestionnaireResponse", None, Some(&molde)).await;
    assert_outcome(status, &ct, &outcome, 400);
    assert_eq!(app.count("forms"), forms_before, "nothing stored");
    // Refusals and failed validations write no audit row of a change.
    assert_eq!(app.audit_count("form.create"), 0);
    assert!(app.count("audit_log") >= audit_before);
    // No token: 401 as an OperationOutcome.
    let (status, ct, outcome) = fhir(&app, "POST", "/fhir/QuestionnaireResponse", Some(&json!({})), None).await;
    assert_outcome(status, &ct, &outcome, 401);
    emitted.push(outcome);
    validate(&emitted);
}

/// Every search parameter of the identifiable resources, in and out of scope: the caller who
/// may read the record finds it; a caller of another unit gets exactly what a search for a
/// record that does not exist gives (200, an empty Bundle), never a refusal that tells the two
/// apart.
#[actix_web::test]
async fn every_search_parameter_finds_in_scope_and_hides_out_of_scope_alike() {
    let app = TestApp::spawn().await;
    let molde = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let st_olav = app.token_for(Role::Registrar, app.unit(UNIT_ST_OLAV)).await;
    let unit = app.unit(UNIT_MOLDE).0;
    let pathway = pathway_for_new_patient(&app, &molde, unit, IDS[4], 20, 1).await;
    let (_, p) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&molde)).await;
    let patient = p["patient_id"].as_str().unwrap().to_owned();
    let start = p["start_date"].as_str().unwrap().to_owned();
    let date = (domain::clock::today() - chrono::Duration::days(5)).to_string();
    let (status, _) =
        call(&app, "POST", &format!("/api/v1/pathways/{pathway}/forms/baseline"), Some(&baseline(&date)), Some(&molde))
            .await;
    assert_eq!(status, 201);
    let missing = uuid::Uuid::new_v4();
    let qr = |extra: &str| format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{pathway}{extra}");
    // (search that finds the record, the same search for a record that does not exist)
    let searches = [
        (format!("/fhir/Patient?_id={patient}"), format!("/fhir/Patient?_id={missing}")),
        (format!("/fhir/Patient?identifier={patient}"), format!("/fhir/Patient?identifier={missing}")),
        (format!("/fhir/EpisodeOfCare?_id={pathway}"), format!("/fhir/EpisodeOfCare?_id={missing}")),
        (format!("/fhir/EpisodeOfCare?organization={unit}"), "/fhir/EpisodeOfCare?organization=99999999".to_owned()),
        (
            format!("/fhir/EpisodeOfCare?organization={unit}&status=active"),
            "/fhir/EpisodeOfCare?organization=99999999&status=active".to_owned(),
        ),
        (
            format!("/fhir/EpisodeOfCare?organization={unit}&treatment-status=1"),
            "/fhir/EpisodeOfCare?organization=99999999&treatment-status=1".to_owned(),
        ),
        (
            format!("/fhir/EpisodeOfCare?organization={unit}&date={start}"),
            format!("/fhir/EpisodeOfCare?organization=99999999&date={start}"),
        ),
        (qr(""), format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{missing}")),
        (
            qr("&questionnaire=baseline"),
            format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{missing}&questionnaire=baseline"),
        ),
        (
            qr("&status=in-progress"),
            format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{missing}&status=in-progress"),
        ),
        (
            qr(&format!("&authored=ge{date}")),
            format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{missing}&authored=ge{date}"),
        ),
    ];
    let mut emitted = Vec::new();
    for (found, absent) in &searches {
        let (status, _, mine) = fhir(&app, "GET", found, None, Some(&molde)).await;
        assert_eq!(status, 200, "{found}: {mine}");
        assert!(total(&mine) >= 1, "{found} finds the record in scope: {mine}");
        let (s1, _, hidden) = fhir(&app, "GET", found, None, Some(&st_olav)).await;
        let (s2, _, none) = fhir(&app, "GET", absent, None, Some(&st_olav)).await;
        assert_eq!((s1, s2), (200, 200), "{found}");
        assert_eq!((total(&hidden), total(&none)), (0, 0), "{found}");
        assert_eq!(hidden.get("entry"), none.get("entry"));
        assert_eq!(hidden["type"], none["type"]);
        emitted.extend([mine, hidden]);
    }
    validate(&emitted);
}
