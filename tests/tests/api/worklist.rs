//! The worklist: due and overdue forms with due dates, for the unit's registrars and unit
//! contacts only.

use chrono::Duration;
use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_ALESUND, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

use crate::forms::{baseline, complete, create, discharge, follow_up, measurement, put};
use crate::patients::{call, IDS};

/// Opens a pathway started `days_ago` days ago at `unit` for a new patient; returns its id.
async fn open_pathway(
    app: &TestApp,
    token: &str,
    unit: i64,
    patient: (&str, i32),
    days_ago: i64,
    level: i16,
) -> String {
    crate::fixtures::pathway_for_new_patient(app, token, unit, patient, days_ago, level).await
}

#[actix_web::test]
async fn the_worklist_lists_due_and_overdue_baselines_with_due_dates() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    // Outpatient, started 5 days ago: baseline due at start + 21.
    let due = open_pathway(&app, &registrar, unit.0, ("15076500565", 1965), 5, 1).await;
    // Inpatient, started 30 days ago: baseline overdue (start + 7).
    let overdue = open_pathway(&app, &registrar, unit.0, ("12038010008", 1980), 30, 3).await;
    let res = app.get(&format!("/api/v1/units/{}/worklist", unit.0)).bearer_auth(&registrar).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    let find = |p: &str| items.iter().find(|i| i["pathway_id"] == p).cloned().unwrap_or(Value::Null);
    let today = domain::clock::today();
    let a = find(&due);
    assert_eq!(a["kind"], "baseline_due");
    assert_eq!(a["form"], "baseline");
    assert_eq!(a["due_date"], (today + Duration::days(16)).to_string());
    assert_eq!(a["overdue"], false);
    let b = find(&overdue);
    assert_eq!(b["kind"], "baseline_overdue");
    assert_eq!(b["due_date"], (today - Duration::days(23)).to_string());
    assert_eq!(b["overdue"], true);
    // Filters.
    let only: Value = app
        .get(&format!("/api/v1/units/{}/worklist?overdue=true", unit.0))
        .bearer_auth(&registrar)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(only["items"].as_array().unwrap().iter().all(|i| i["overdue"] == true));
    assert_eq!(only["total"], 1);
    // No national id in the response; the read is audited.
    let text = app
        .get(&format!("/api/v1/units/{}/worklist", unit.0))
        .bearer_auth(&registrar)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("15076500565") && !text.contains("12038010008"));
    assert_eq!(app.audit_count("worklist.read"), 3);
}

#[actix_web::test]
async fn the_worklist_follows_the_access_matrix() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let other = app.unit(UNIT_ST_OLAV);
    let path = format!("/api/v1/units/{}/worklist", unit.0);
    assert_eq!(app.get(&path).send().await.unwrap().status(), 401);
    for (role, token) in app.tokens_around(unit).await {
        let status = app.get(&path).bearer_auth(&token).send().await.unwrap().status();
        let allowed = matches!(role, Role::Registrar | Role::UnitContact);
        assert_eq!(status, if allowed { 200 } else { 403 }, "{role:?}");
    }
    // Unit roles of another unit are refused; the refusal is audited.
    let before = app.audit_count("access.refused");
    for role in [Role::Registrar, Role::UnitContact] {
        let token = app.token_for(role, other).await;
        assert_eq!(app.get(&path).bearer_auth(&token).send().await.unwrap().status(), 403, "{role:?} elsewhere");
    }
    assert_eq!(app.audit_count("access.refused"), before + 2);
    // A registrar granted at the legal entity covers its units.
    let entity_registrar = app.token_for(Role::Registrar, app.entity_of(unit)).await;
    assert_eq!(app.get(&path).bearer_auth(&entity_registrar).send().await.unwrap().status(), 200);
    // Bad input: not a unit, unknown unit, bad filters.
    let registrar = app.token_for(Role::Registrar, unit).await;
    let entity = app.entity_of(unit).0;
    for (p, status) in [
        (format!("/api/v1/units/{entity}/worklist"), 404),
        ("/api/v1/units/99999999/worklist".to_owned(), 404),
        ("/api/v1/units/abc/worklist".to_owned(), 404),
        (format!("{path}?kind=everything"), 400),
        (format!("{path}?per_page=0"), 422),
        (format!("{path}?colour=red"), 400),
    ] {
        assert_eq!(app.get(&p).bearer_auth(&registrar).send().await.unwrap().status(), status, "{p}");
    }
}

/// The items of one pathway on a unit's worklist, as (kind, due date).
async fn items_of(app: &TestApp, token: &str, unit: i64, pathway: &str) -> Vec<(String, String)> {
    let page: Value = app
        .get(&format!("/api/v1/units/{unit}/worklist?per_page=500"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["pathway_id"] == pathway)
        .map(|i| (i["kind"].as_str().unwrap().to_owned(), i["due_date"].as_str().unwrap().to_owned()))
        .collect()
}

fn item(kind: &str, due: &str) -> (String, String) {
    (kind.to_owned(), due.to_owned())
}

/// The worklist facts stored on a pathway row, as text.
fn stored_facts(app: &TestApp, pathway: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        facts: String,
    }
    let sql = format!(
        "SELECT (anchor_date, last_form_date, discharge_date, discharge_ending, discharge_contact_consent_1y, \
                 follow_up_done)::text AS facts FROM pathways WHERE id = '{pathway}'"
    );
    diesel::RunQueryDsl::get_result::<Row>(diesel::sql_query(sql), &mut app.conn()).unwrap().facts
}

fn assert_facts_match_the_forms(app: &TestApp) {
    let mismatches = integration_tests::worklist_facts_mismatches(&mut app.conn());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let mismatches = integration_tests::report_facts_mismatches(&mut app.conn());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[actix_web::test]
async fn worklist_items_follow_a_form_through_complete_reopen_update_and_complete_again() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::UnitContact, unit).await;
    let today = domain::clock::today();
    let ago = |n: i64| (today - Duration::days(n)).to_string();
    // Outpatient, started 100 days ago: the baseline was due at start + 21.
    let pathway = open_pathway(&app, &token, unit.0, IDS[0], 100, 1).await;
    assert_eq!(items_of(&app, &token, unit.0, &pathway).await, [item("baseline_overdue", &ago(79))]);
    // A baseline completed 90 days ago: the measurement (anchor + 56) is late.
    let (b, _) = create(&app, &token, &pathway, "baseline", &baseline(&ago(90))).await;
    assert_eq!(items_of(&app, &token, unit.0, &pathway).await, [item("baseline_overdue", &ago(79))], "a draft");
    complete(&app, &token, &b).await;
    assert_eq!(items_of(&app, &token, unit.0, &pathway).await, [item("measurement_late", &ago(34))]);
    assert_facts_match_the_forms(&app);
    // Reopened: the baseline is asked for again.
    let reopen = json!({"reason": "wrong date"});
    let (status, reopened) =
        call(&app, "POST", &format!("/api/v1/forms/{b}/reopen"), Some(&reopen), Some(&token)).await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(items_of(&app, &token, unit.0, &pathway).await, [item("baseline_overdue", &ago(79))]);
    assert_facts_match_the_forms(&app);
    // Moved to 20 days ago, still a draft: only the latest form date moves.
    let version = format!("\"{}\"", reopened["version"]);
    let (status, body) = put(&app, &token, &b, Some(&version), &baseline(&ago(20))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(items_of(&app, &token, unit.0, &pathway).await, [item("baseline_overdue", &ago(79))]);
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(20)));
    // Completed again: the next measurement is due at the new anchor + 56, not listed yet.
    complete(&app, &token, &b).await;
    assert!(items_of(&app, &token, unit.0, &pathway).await.is_empty());
    assert_eq!(stored_facts(&app, &pathway), format!("({},{},,,,f)", ago(20), ago(20)));
    // A completed discharge and its reopening set and clear the discharge facts.
    let (d, _) = create(&app, &token, &pathway, "discharge", &discharge(&ago(2))).await;
    complete(&app, &token, &d).await;
    assert_eq!(stored_facts(&app, &pathway), format!("({},{},{},4,1,f)", ago(20), ago(2), ago(2)));
    let (status, _) = call(&app, "POST", &format!("/api/v1/forms/{d}/reopen"), Some(&reopen), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(stored_facts(&app, &pathway), format!("({},{},,,,f)", ago(20), ago(2)));
    assert_facts_match_the_forms(&app);
}

#[actix_web::test]
async fn the_facts_columns_match_a_recomputation_from_the_forms_after_a_mixed_scenario() {
    let app = TestApp::spawn().await;
    let molde = app.unit(UNIT_MOLDE);
    let alesund = app.unit(UNIT_ALESUND);
    let token = app.token_for(Role::UnitContact, molde).await;
    let alesund_token = app.token_for(Role::UnitContact, alesund).await;
    let today = domain::clock::today();
    let ago = |n: i64| (today - Duration::days(n)).to_string();
    let due = |n: i64| ago(n);

    // A whole pathway: discharged 400 days ago by mutual agreement with consent, so the
    // follow-up is due (discharge + 12 months) until a follow-up is completed.
    let a = open_pathway(&app, &token, molde.0, IDS[1], 730, 1).await;
    crate::fixtures::completed_baseline(&app, &token, &a, &ago(725)).await;
    let (m, _) = create(&app, &token, &a, "measurement", &measurement(&ago(600))).await;
    complete(&app, &token, &m).await;
    create(&app, &token, &a, "measurement", &measurement(&ago(500))).await; // left a draft
    let discharged = today - Duration::days(400);
    let (d, _) = create(&app, &token, &a, "discharge", &discharge(&discharged.to_string())).await;
    complete(&app, &token, &d).await;
    let follow_up_due = (discharged + chrono::Months::new(12)).to_string();
    assert_eq!(items_of(&app, &token, molde.0, &a).await, [item("follow_up_due", &follow_up_due)]);
    let (f, _) = create(&app, &token, &a, "follow-up", &follow_up(&ago(10))).await;
    complete(&app, &token, &f).await;
    assert!(items_of(&app, &token, molde.0, &a).await.is_empty());
    let reopen = json!({"reason": "entered on the wrong patient"});
    let (status, _) = call(&app, "POST", &format!("/api/v1/forms/{f}/reopen"), Some(&reopen), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(items_of(&app, &token, molde.0, &a).await, [item("follow_up_due", &follow_up_due)]);
    assert_facts_match_the_forms(&app);

    // A pathway transferred with a completed measurement: the receiving unit's worklist lists it.
    let t = open_pathway(&app, &token, molde.0, IDS[2], 80, 3).await;
    let (m, _) = create(&app, &token, &t, "measurement", &measurement_at_level(&ago(70), 3)).await;
    complete(&app, &token, &m).await;
    let (status, moved) = call(
        &app,
        "POST",
        &format!("/api/v1/pathways/{t}/transfers"),
        Some(&json!({"to_unit_id": alesund.0, "date": ago(5)})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201, "{moved}");
    // Inpatient limits: anchor 70 days ago + 42 = 28 days ago, late until anchor + 90.
    assert!(items_of(&app, &token, molde.0, &t).await.is_empty());
    assert_eq!(items_of(&app, &alesund_token, alesund.0, &t).await, [item("measurement_late", &due(28))]);

    // Forms written the way a loader would (a completed discharge before its typed row), with
    // the triggers on: the discharge_forms trigger fills in the ending and the consent.
    let l = open_pathway(&app, &token, molde.0, IDS[3], 50, 1).await;
    let mut conn = app.conn();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "WITH u AS (SELECT id FROM users LIMIT 1), \
             b AS (INSERT INTO forms (id, pathway_id, kind, unit_id, event_date, status, created_by, updated_by, \
                                      completed_by, completed_at) \
                   SELECT gen_random_uuid(), '{l}', 'baseline', {unit}, CURRENT_DATE - 40, 'completed', u.id, u.id, \
                          u.id, now() FROM u RETURNING id) \
             INSERT INTO forms (id, pathway_id, kind, unit_id, event_date, status, created_by, updated_by, \
                                completed_by, completed_at) \
             SELECT 'a0000000-0000-4000-8000-000000000001', '{l}', 'discharge', {unit}, CURRENT_DATE - 30, \
                    'completed', u.id, u.id, u.id, now() FROM u",
            unit = molde.0
        )),
        &mut conn,
    )
    .unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "INSERT INTO discharge_forms (form_id, ending, contact_consent_1y) \
             VALUES ('a0000000-0000-4000-8000-000000000001', 3, 1)",
        ),
        &mut conn,
    )
    .unwrap();
    assert_eq!(stored_facts(&app, &l), format!("({},{},{},3,1,f)", ago(40), ago(30), ago(30)));
    assert_facts_match_the_forms(&app);
}

/// A measurement point that records treatment level `level`.
fn measurement_at_level(date: &str, level: i16) -> Value {
    let mut body = measurement(date);
    body["treatment_level"] = json!(level);
    body
}

/// The pathway's treatment levels as its reader sees them: (opened with, in force).
async fn levels_of(app: &TestApp, token: &str, pathway: &str) -> (i64, i64) {
    let (status, body) = call(app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    (body["treatment_level"].as_i64().unwrap(), body["current_treatment_level"].as_i64().unwrap())
}

/// The previous treatment level stored on a measurement form (`forms.previous_treatment_level`).
fn previous_level(app: &TestApp, form: &str) -> Option<i16> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::SmallInt>)]
        level: Option<i16>,
    }
    let sql = format!("SELECT previous_treatment_level AS level FROM forms WHERE id = '{form}'");
    diesel::RunQueryDsl::get_result::<Row>(diesel::sql_query(sql), &mut app.conn()).unwrap().level
}

#[actix_web::test]
async fn the_time_limits_follow_the_treatment_level_of_the_latest_measurement() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::UnitContact, unit).await;
    let today = domain::clock::today();
    let ago = |n: i64| (today - Duration::days(n)).to_string();
    // Opened as inpatient treatment 120 days ago, baseline 118 days ago.
    let p = open_pathway(&app, &token, unit.0, IDS[4], 120, 3).await;
    assert_eq!(levels_of(&app, &token, &p).await, (3, 3));
    crate::fixtures::completed_baseline(&app, &token, &p, &ago(118)).await;
    // A point 100 days ago, still inpatient: inpatient limits (anchor + 42 = 58 days ago), and
    // more than 90 days without a point by now.
    let (m1, _) = create(&app, &token, &p, "measurement", &measurement_at_level(&ago(100), 3)).await;
    complete(&app, &token, &m1).await;
    assert_eq!(items_of(&app, &token, unit.0, &p).await, [item("measurement_missing", &ago(58))]);
    assert_eq!(levels_of(&app, &token, &p).await, (3, 3));
    // A point 50 days ago records outpatient treatment: the next one is due after 56 days
    // (in 6 days; listed 14 days before), where inpatient limits would make it late since 8 days.
    let (m2, _) = create(&app, &token, &p, "measurement", &measurement_at_level(&ago(50), 1)).await;
    assert_eq!(items_of(&app, &token, unit.0, &p).await, [item("measurement_missing", &ago(58))], "a draft");
    complete(&app, &token, &m2).await;
    assert_eq!(items_of(&app, &token, unit.0, &p).await, [item("measurement_due", &ago(-6))]);
    assert_eq!(levels_of(&app, &token, &p).await, (3, 1));
    // Each point's gap counts by the level in force at the point before it.
    assert_eq!((previous_level(&app, &m1), previous_level(&app, &m2)), (None, Some(3)));
    assert_facts_match_the_forms(&app);
    // Reopened: the inpatient point is the latest again.
    let reopen = json!({"reason": "wrong patient"});
    let (status, _) = call(&app, "POST", &format!("/api/v1/forms/{m2}/reopen"), Some(&reopen), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(items_of(&app, &token, unit.0, &p).await, [item("measurement_missing", &ago(58))]);
    assert_eq!(levels_of(&app, &token, &p).await, (3, 3));
    assert_facts_match_the_forms(&app);
}

#[actix_web::test]
async fn concurrent_changes_to_two_forms_of_one_pathway_leave_the_right_facts() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::UnitContact, unit).await;
    let today = domain::clock::today();
    let ago = |n: i64| (today - Duration::days(n)).to_string();
    let pathway = open_pathway(&app, &token, unit.0, IDS[4], 60, 1).await;
    let (a, _) = create(&app, &token, &pathway, "measurement", &measurement(&ago(50))).await;
    let (b, _) = create(&app, &token, &pathway, "measurement", &measurement(&ago(40))).await;
    // Two transactions move the two drafts' dates at the same time, straight in SQL. The facts
    // are recomputed at commit; the first recomputes early (its constraint trigger made
    // immediate) and so holds the pathway's lock: the second's recomputation at its commit waits
    // for it and must then see the first one's change.
    let mut first = app.conn();
    diesel::sql_query("BEGIN").execute(&mut first).unwrap();
    diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 5 WHERE id = '{a}'"))
        .execute(&mut first)
        .unwrap();
    diesel::sql_query("SET CONSTRAINTS pathway_facts_dirty_refresh IMMEDIATE").execute(&mut first).unwrap();
    let mut second = app.conn();
    let b2 = b.clone();
    let waiter = std::thread::spawn(move || {
        diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 10 WHERE id = '{b2}'"))
            .execute(&mut second)
            .unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!waiter.is_finished(), "the second commit waits for the pathway lock");
    diesel::sql_query("COMMIT").execute(&mut first).unwrap();
    waiter.join().unwrap();
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(5)));
    assert_facts_match_the_forms(&app);
    // Both recompute at commit, the later one last: it sees the earlier one's change.
    let (mut first, mut second) = (app.conn(), app.conn());
    diesel::sql_query("BEGIN").execute(&mut first).unwrap();
    diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 20 WHERE id = '{a}'"))
        .execute(&mut first)
        .unwrap();
    diesel::sql_query("BEGIN").execute(&mut second).unwrap();
    diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 30 WHERE id = '{b}'"))
        .execute(&mut second)
        .unwrap();
    diesel::sql_query("COMMIT").execute(&mut second).unwrap();
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(5)), "the first has not committed");
    diesel::sql_query("COMMIT").execute(&mut first).unwrap();
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(20)));
    assert_facts_match_the_forms(&app);
}

#[actix_web::test]
async fn facts_are_recomputed_at_commit_and_on_request_within_the_transaction() {
    use diesel::{Connection, RunQueryDsl};
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let token = app.token_for(Role::UnitContact, unit).await;
    let today = domain::clock::today();
    let ago = |n: i64| (today - Duration::days(n)).to_string();
    let pathway = open_pathway(&app, &token, unit.0, IDS[4], 60, 1).await;
    let (a, _) = create(&app, &token, &pathway, "measurement", &measurement(&ago(50))).await;
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(50)));
    let mut server = app.db.server_conn();
    server
        .transaction::<_, diesel::result::Error, _>(|conn| {
            // Two changes to the pathway's forms: marked once, recomputed not yet.
            diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 45 WHERE id = '{a}'"))
                .execute(conn)?;
            diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 30 WHERE id = '{a}'"))
                .execute(conn)?;
            let read = |conn: &mut diesel::PgConnection| -> String {
                #[derive(diesel::QueryableByName)]
                struct Row {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    facts: String,
                }
                let sql = format!(
                    "SELECT (last_form_date, (SELECT count(*) FROM pathway_facts_dirty))::text AS facts \
                     FROM pathways WHERE id = '{pathway}'"
                );
                diesel::sql_query(sql).get_result::<Row>(conn).unwrap().facts
            };
            assert_eq!(read(conn), format!("({},1)", ago(50)), "stale until commit, one mark");
            // A reader that needs them fresh asks for them.
            let id = domain::pathways::PathwayId(pathway.parse().unwrap());
            persistence::pathways::refresh_dirty_facts(conn, id).unwrap();
            assert_eq!(read(conn), format!("({},1)", ago(30)));
            // A change after that is still recomputed at commit.
            diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 25 WHERE id = '{a}'"))
                .execute(conn)?;
            Ok(())
        })
        .unwrap();
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(25)));
    assert_eq!(app.count("pathway_facts_dirty"), 0, "no mark outlives its transaction");
    assert_facts_match_the_forms(&app);
    // A change rolled back leaves neither facts nor a mark behind.
    let _ = server.transaction::<(), _, _>(|conn| {
        diesel::sql_query(format!("UPDATE forms SET event_date = CURRENT_DATE - 1 WHERE id = '{a}'")).execute(conn)?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert_eq!(stored_facts(&app, &pathway), format!("(,{},,,,f)", ago(25)));
    assert_eq!(app.count("pathway_facts_dirty"), 0);
}

#[test]
fn the_worklist_index_is_built_and_valid() {
    #[derive(diesel::QueryableByName)]
    struct Index {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        valid: bool,
        #[diesel(sql_type = diesel::sql_types::Text)]
        definition: String,
    }
    let db = integration_tests::TestDb::new();
    let rows: Vec<Index> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT c.relname::text AS name, i.indisvalid AS valid, pg_get_indexdef(c.oid) AS definition \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname IN ('pathways_worklist', 'pathways_worklist_level')",
        ),
        &mut db.conn(),
    )
    .unwrap();
    // Only the index with the treatment level in force (migrations 000010, 000011) is left.
    assert_eq!(rows.len(), 1, "one worklist index");
    assert_eq!(rows[0].name, "pathways_worklist_level");
    assert!(rows[0].valid);
    assert!(rows[0].definition.contains("current_treatment_level"), "{}", rows[0].definition);
}
