//! The order scheduler against the real database as the server's role: the one-year follow-up is
//! ordered by itself when its window opens (endings 3 or 4 with consent only), with one
//! invitation letter carrying the code and nothing about health; two passes running at once (two
//! connections, as two server instances) make one order and one letter; a pass run again changes
//! nothing; the reminder comes once; an expired follow-up is ordered again while attempts are left.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use domain::access::Role;
use domain::orders::OrderConfig;
use domain::worklist::WorklistConfig;
use integration_tests::{json, TestApp, UNIT_MOLDE};

use crate::fixtures::{call, complete, create, discharge, pathway_for_new_patient, IDS};

const URL: &str = "https://rusreg.example";

pub(crate) fn pass(app: &TestApp, today: NaiveDate) -> app::scheduler::PassReport {
    let mut conn = app.db.server_conn();
    app::scheduler::run_pass(&mut conn, OrderConfig::default(), WorklistConfig::default(), URL, today, 100).unwrap()
}

/// A pathway discharged `days_ago` days ago with `ending` and the consent answer `consent`.
pub(crate) async fn discharged(
    app: &TestApp,
    token: &str,
    id: (&str, i32),
    days_ago: i64,
    ending: i16,
    consent: i16,
) -> String {
    let unit = app.unit(UNIT_MOLDE);
    let pathway = pathway_for_new_patient(app, token, unit.0, id, days_ago + 60, 1).await;
    let baseline = (domain::clock::today() - Duration::days(days_ago + 50)).to_string();
    crate::fixtures::completed_baseline(app, token, &pathway, &baseline).await;
    let date = (domain::clock::today() - Duration::days(days_ago)).to_string();
    let mut body = discharge(&date);
    body["ending"] = json!(ending);
    body["contact_consent_1y"] = json!(consent);
    if ending == 3 {
        body["municipality_informed"] = json!(1);
    }
    let (form, _) = create(app, token, &pathway, "discharge", &body).await;
    complete(app, token, &form).await;
    pathway
}

#[derive(QueryableByName, Debug)]
struct Message {
    #[diesel(sql_type = diesel::sql_types::Text)]
    purpose: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body: String,
}

fn messages(app: &TestApp) -> Vec<Message> {
    diesel::sql_query("SELECT purpose, body FROM outbox_messages ORDER BY id").load(&mut app.conn()).unwrap()
}

#[actix_web::test]
async fn the_follow_up_is_ordered_reminded_and_expired_by_itself_once_whatever_runs_at_once() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let due = discharged(&app, &registrar, IDS[0], 345, 4, 1).await;
    // Not ordered: no consent; ending 2 (not 3 or 4); window not open yet (2 months).
    discharged(&app, &registrar, IDS[1], 345, 4, 2).await;
    discharged(&app, &registrar, IDS[2], 345, 2, 1).await;
    discharged(&app, &registrar, IDS[3], 60, 3, 1).await;
    let today = domain::clock::today();

    // Two passes at once, as two server instances against one database.
    let reports: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| pass(&app, today));
        let b = s.spawn(|| pass(&app, today));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(reports.iter().map(|r| r.follow_ups_ordered).sum::<usize>(), 1, "{reports:?}");
    assert_eq!(app.count("orders"), 1);
    let (_, list) = call(&app, "GET", &format!("/api/v1/orders?pathway={due}"), None, Some(&registrar)).await;
    assert_eq!(list["total"], 1);
    let order = &list["items"][0];
    assert_eq!((order["questionnaire"].as_str(), order["attempt"].as_i64()), (Some("follow_up"), Some(1)));
    assert_eq!(order["ordered_by"], serde_json::Value::Null, "ordered by the system");
    let letters = messages(&app);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].purpose, "invitation");
    // The letter carries a code that is the order's, and nothing about health or the register.
    let code_line = letters[0].body.lines().map(str::trim).find(|l| l.len() == 19 && l.matches('-').count() == 3);
    let code = domain::orders::AccessCode::parse(code_line.unwrap()).unwrap();
    let stored: Vec<u8> = {
        use persistence::schema::order_access_codes as c;
        c::table.select(c::code_hash).first(&mut app.conn()).unwrap()
    };
    assert_eq!(stored, code.hash().to_vec());
    for word in ["rusmidl", "rusbehandling", "TSB", "behandling", "avhengighet", IDS[0].0, "1994"] {
        assert!(!letters[0].body.to_lowercase().contains(&word.to_lowercase()), "{word}: {}", letters[0].body);
    }
    assert!(letters[0].body.contains("https://rusreg.example/p"));

    // The letter's code with the patient's date of birth opens the follow-up questionnaire: the
    // sign-in makes the pathway's follow-up draft (by the system user) and links the order to it.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/p/sign-in"))
        .form(&[("code", code.display().as_str()), ("birth_date", "02.02.1994")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(app.count("orders WHERE status = 'opened' AND form_id IS NOT NULL"), 1);
    assert_eq!(
        app.count("forms WHERE kind = 'follow-up' AND status = 'draft' AND created_by = '00000000-0000-0000-0000-000000000001'"),
        1
    );

    // Again: nothing new.
    assert_eq!(pass(&app, today), app::scheduler::PassReport::default());

    // The reminder, once, after 15 days (two passes at once again).
    let later = today + Duration::days(15);
    let reports: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| pass(&app, later));
        let b = s.spawn(|| pass(&app, later));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(reports.iter().map(|r| r.reminded).sum::<usize>(), 1, "{reports:?}");
    assert_eq!(messages(&app).iter().filter(|m| m.purpose == "reminder").count(), 1);
    assert!(!messages(&app)[1].body.contains(&code.display()), "a reminder carries no code");

    // After 31 days the order expires (code dead, history by the system) and attempt 2 is made.
    let expiry = today + Duration::days(31);
    let report = pass(&app, expiry);
    assert_eq!((report.expired, report.follow_ups_ordered), (1, 1), "{report:?}");
    let (_, list) = call(&app, "GET", &format!("/api/v1/orders?pathway={due}"), None, Some(&registrar)).await;
    let statuses: Vec<(i64, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["attempt"].as_i64().unwrap(), o["status"].as_str().unwrap().to_owned()))
        .collect();
    assert!(statuses.contains(&(1, "expired".into())) && statuses.contains(&(2, "ordered".into())), "{statuses:?}");
    let first = list["items"].as_array().unwrap().iter().find(|o| o["attempt"] == 1).unwrap();
    let (_, read) =
        call(&app, "GET", &format!("/api/v1/orders/{}", first["id"].as_str().unwrap()), None, Some(&registrar)).await;
    let last = read["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["to_status"].as_str(), last["actor"].as_str()), (Some("expired"), Some("system")));

    assert_eq!(report.not_reached, 0, "an earlier attempt expired: ordered again, not \"not reached\"");
    assert_eq!(app.count("forms WHERE kind = 'follow-up' AND status = 'completed'"), 0);

    // The second attempt expires too (two passes at once): attempts (2) are spent, nothing more
    // is ordered, and the follow-up is recorded once as not reached (outcome 6) by the system,
    // dated the order's expiry day. The draft the sign-in made is the one completed.
    let last = expiry + Duration::days(31);
    let reports: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| pass(&app, last));
        let b = s.spawn(|| pass(&app, last));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let sum = |f: fn(&app::scheduler::PassReport) -> usize| reports.iter().map(f).sum::<usize>();
    assert_eq!((sum(|r| r.expired), sum(|r| r.follow_ups_ordered), sum(|r| r.not_reached)), (1, 0, 1), "{reports:?}");
    assert_eq!(app.count("orders"), 2);
    assert_eq!(app.audit_count("order.create"), 2);
    let system = domain::users::SYSTEM_USER_ID;
    let expired_on = (last - Duration::days(1)).to_string();
    assert_eq!(
        app.count(&format!(
            "forms f JOIN follow_up_forms u ON u.form_id = f.id WHERE f.status = 'completed' AND u.outcome = 6 \
             AND f.event_date = '{expired_on}' AND f.completed_by = '{system}' AND f.pathway_id = '{due}'"
        )),
        1
    );
    assert_eq!(app.count("forms WHERE kind = 'follow-up'"), 1);
    let (_, path) = call(&app, "GET", &format!("/api/v1/pathways/{due}"), None, Some(&registrar)).await;
    assert_eq!(path["status"], 6, "{path}");
    assert_eq!(app.count("audit_log WHERE action = 'form.complete' AND role = 'system'"), 1);
    // Again, and later: nothing more.
    assert_eq!(pass(&app, last), app::scheduler::PassReport::default());
    assert_eq!(pass(&app, last + Duration::days(40)).not_reached, 0);
    assert_eq!(app.count("forms WHERE kind = 'follow-up'"), 1);
}

/// A clinician's follow-up draft is the clinician's: the last attempt's expiry leaves it alone.
#[actix_web::test]
async fn a_clinicians_follow_up_draft_is_left_alone_when_the_last_attempt_expires() {
    let app = TestApp::spawn().await;
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let pathway = discharged(&app, &registrar, IDS[0], 345, 3, 1).await;
    let today = domain::clock::today();
    let one = OrderConfig { follow_up_attempts: 1, ..OrderConfig::default() };
    let run = |day| {
        let mut conn = app.db.server_conn();
        app::scheduler::run_pass(&mut conn, one, WorklistConfig::default(), URL, day, 100).unwrap()
    };
    assert_eq!(run(today).follow_ups_ordered, 1);
    let (form, _) = create(&app, &registrar, &pathway, "follow-up", &json!({"outcome": 7})).await;
    let report = run(today + Duration::days(31));
    assert_eq!((report.expired, report.not_reached), (1, 0), "{report:?}");
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!((read["status"].as_str(), read["data"]["outcome"].as_i64()), (Some("draft"), Some(7)));
}

#[actix_web::test]
async fn register_staff_see_follow_up_orders_by_unit_and_completeness_counts_them() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let first = discharged(&app, &registrar, IDS[0], 345, 4, 1).await;
    discharged(&app, &registrar, IDS[1], 340, 3, 1).await;
    discharged(&app, &registrar, IDS[2], 60, 3, 1).await; // window not open yet
    let today = domain::clock::today();
    let year = chrono::Datelike::year(&today);
    let summary = |query: String| {
        let (app, staff) = (&app, staff.clone());
        async move { call(app, "GET", &format!("/api/v1/orders/summary{query}"), None, Some(&staff)).await }
    };

    // Before any pass: two windows open, neither ordered.
    let (status, before) = summary(String::new()).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!((before["year"].as_i64(), before["questionnaire"].as_str()), (Some(i64::from(year)), Some("follow_up")));
    assert_eq!(before["units"].as_array().map(Vec::len), Some(1), "{before}");
    let line = &before["units"][0];
    assert_eq!(line["unit_id"], unit.0);
    assert_eq!((line["window_open"].as_i64(), line["window_without_order"].as_i64()), (Some(2), Some(2)));
    assert_eq!(line["ordered"], 0);

    // The pass orders both; one is cancelled at the unit, one letter is marked sent by the print service.
    assert_eq!(pass(&app, today).follow_ups_ordered, 2);
    let (_, list) = call(&app, "GET", &format!("/api/v1/orders?pathway={first}"), None, Some(&registrar)).await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        call(&app, "POST", &format!("/api/v1/orders/{id}/cancel"), Some(&json!({})), Some(&registrar)).await;
    assert_eq!(status, 200);
    diesel::sql_query(
        "UPDATE outbox_messages SET status = 'sent' WHERE id = (SELECT min(m.id) FROM outbox_messages m
           JOIN orders o ON o.id = m.order_id WHERE o.status = 'ordered')",
    )
    .execute(&mut app.conn())
    .unwrap();
    let (status, after) = summary(format!("?year={year}&questionnaire=follow_up")).await;
    assert_eq!(status, 200, "{after}");
    for line in [&after["units"][0], &after["total"]] {
        let got: Vec<Option<i64>> = ["ordered", "sent", "open", "answered", "expired", "cancelled", "failed"]
            .iter()
            .map(|k| line[*k].as_i64())
            .collect();
        assert_eq!(got, [2, 1, 1, 0, 0, 1, 0].map(Some), "{line}");
        assert_eq!((line["window_open"].as_i64(), line["window_without_order"].as_i64()), (Some(2), Some(1)));
    }
    assert_eq!(after["total"]["unit_id"], app.nation().0);
    // Other questionnaires have no windows; orders of another year are not counted.
    let (_, baseline) = summary("?questionnaire=baseline".into()).await;
    assert_eq!(
        (baseline["units"].as_array().map(Vec::len), &baseline["total"]["window_open"]),
        (Some(0), &json!(null))
    );
    let (_, last_year) = summary(format!("?year={}", year - 1)).await;
    assert_eq!(last_year["units"][0]["ordered"], 0, "{last_year}");
    assert_eq!(app.audit_count("order.summary"), 4);

    // Completeness counts the unit's follow-up orders in the live view (register staff, the
    // unit's own staff); a register contact's protected snapshot view has none.
    let completeness = format!("/api/v1/reports/completeness?year={year}&level=unit");
    let unit_contact = app.token_for(Role::UnitContact, unit).await;
    for token in [&staff, &unit_contact] {
        let (status, c) = call(&app, "GET", &completeness, None, Some(token)).await;
        assert_eq!(status, 200, "{c}");
        let row = c["rows"].as_array().unwrap().iter().find(|r| r["node_id"] == unit.0).unwrap();
        assert_eq!(row["follow_up_orders"], json!({"ordered": 2, "sent": 1, "answered": 0, "expired": 0, "open": 1}));
    }
    let contact = app.token_for(Role::RegisterContact, app.entity_of(unit)).await;
    let (status, c) = call(&app, "GET", &completeness, None, Some(&contact)).await;
    assert_eq!(status, 200, "{c}");
    assert!(c["rows"].as_array().unwrap().iter().all(|r| r["follow_up_orders"].is_null()), "{c}");

    // Access: register staff only; no token is 401.
    for (role, node) in [
        (Role::Registrar, unit),
        (Role::UnitContact, unit),
        (Role::RegisterContact, app.entity_of(unit)),
        (Role::Admin, app.nation()),
    ] {
        let token = app.token_for(role, node).await;
        let (status, body) = call(&app, "GET", "/api/v1/orders/summary", None, Some(&token)).await;
        assert_eq!(status, 403, "{role:?}: {body}");
    }
    let (status, _) = call(&app, "GET", "/api/v1/orders/summary", None, None).await;
    assert_eq!(status, 401);

    // Bad input: a clear 4xx naming the field; nothing is stored and no summary is audited.
    for (query, field) in
        [("?year=1999", "year"), (&format!("?year={}", year + 1), "year"), ("?questionnaire=x", "questionnaire")]
    {
        let (status, body) = summary(query.to_string()).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    for query in ["?year=abc", "?unit=1"] {
        let (status, body) = summary(query.to_string()).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    assert_eq!(app.audit_count("order.summary"), 4);
}

/// The history of an order as the API gives it: (to_status, actor, reason) of each change.
async fn moves(app: &TestApp, token: &str, order: &str) -> Vec<(String, String, Option<String>)> {
    let (status, read) = call(app, "GET", &format!("/api/v1/orders/{order}"), None, Some(token)).await;
    assert_eq!(status, 200, "{read}");
    read["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["to_status"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
                h["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[actix_web::test]
async fn an_invitation_the_print_service_or_the_sms_gateway_marks_sent_moves_its_order_to_notified_once() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let followed = discharged(&app, &registrar, IDS[0], 345, 4, 1).await;
    let today = domain::clock::today();
    assert_eq!(pass(&app, today).follow_ups_ordered, 1);
    let (_, list) = call(&app, "GET", &format!("/api/v1/orders?pathway={followed}"), None, Some(&registrar)).await;
    let letter_order = list["items"][0]["id"].as_str().unwrap().to_owned();
    // A clinician's order of a baseline's patient part, with a mobile number: an SMS invitation.
    let other = pathway_for_new_patient(&app, &registrar, unit.0, IDS[1], 20, 1).await;
    let date = (domain::clock::today() - Duration::days(5)).to_string();
    let (form, _) = create(&app, &registrar, &other, "baseline", &json!({"event_date": date})).await;
    let body = json!({"form_id": form, "phone": "912 34 567"});
    let (status, created) = call(&app, "POST", "/api/v1/orders", Some(&body), Some(&registrar)).await;
    assert_eq!(status, 201, "{created}");
    let sms_order = created["id"].as_str().unwrap().to_owned();

    // Nothing is out yet: both stay `ordered`.
    assert_eq!(pass(&app, today).notified, 0);
    assert_eq!(app.count("orders WHERE status = 'ordered'"), 2);

    // The print service marks the letter sent (in the table, as it does); two passes at once
    // move its order once, by the system, with the channel as the reason.
    let mark = |channel: &str| {
        diesel::sql_query(
            "UPDATE outbox_messages SET status = 'sent', sent_at = now() WHERE channel = $1 AND purpose = 'invitation'",
        )
        .bind::<diesel::sql_types::Text, _>(channel)
        .execute(&mut app.conn())
        .unwrap()
    };
    assert_eq!(mark("letter"), 1);
    let reports: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| pass(&app, today));
        let b = s.spawn(|| pass(&app, today));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(reports.iter().map(|r| r.notified).sum::<usize>(), 1, "{reports:?}");
    let history = moves(&app, &registrar, &letter_order).await;
    assert_eq!(
        history.last().unwrap(),
        &("notified".to_owned(), "system".to_owned(), Some("letter".to_owned())),
        "{history:?}"
    );
    assert_eq!(history.iter().filter(|m| m.0 == "notified").count(), 1);
    assert_eq!(moves(&app, &registrar, &sms_order).await.len(), 1, "the SMS order is still only ordered");

    // The SMS gateway marks its message sent: the clinician's order moves too, once.
    assert_eq!(mark("sms"), 1);
    assert_eq!(pass(&app, today).notified, 1);
    assert_eq!(pass(&app, today).notified, 0);
    let history = moves(&app, &registrar, &sms_order).await;
    assert_eq!(history.last().unwrap(), &("notified".to_owned(), "system".to_owned(), Some("sms".to_owned())));
    assert_eq!(app.count("orders WHERE status = 'notified'"), 2);
}
