//! The patient's pages under /p over real HTTP (no redirects followed, the session cookie carried
//! by hand as a browser would): sign in with the order's code and the date of birth, answer one
//! screen at a time, go back and reload (answers kept), a wrong answer gets a message at the
//! field and saves nothing, summary, submit, receipt; the answers land in the draft and the order
//! is answered. And the failures: a wrong code or date, a used code, an expired order, too many
//! wrong dates (the code dies), too many attempts from one address, a missing CSRF token.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::fixtures::{call, create, pathway_for_new_patient, IDS};

/// A browser-like client: no redirects followed, the session cookie kept by hand.
struct Patient<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
}

impl<'a> Patient<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        Self { app, client, cookie: None }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
        let req = match &self.cookie {
            Some(c) => req.header(COOKIE, c.clone()),
            None => req,
        };
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let location = res.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
        if let Some(set) = res.headers().get(SET_COOKIE) {
            let set = set.to_str().unwrap().to_owned();
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/p"] {
                assert!(set.contains(attribute), "{set}");
            }
            let pair = set.split(';').next().unwrap().to_owned();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        (status, location, res.text().await.unwrap())
    }

    async fn get(&mut self, path: &str) -> (u16, Option<String>, String) {
        let req = self.client.get(self.app.url(path));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let req = self.client.post(self.app.url(path)).form(form);
        self.send(req).await
    }

    async fn sign_in(&mut self, code: &str, birth_date: &str) -> (u16, Option<String>, String) {
        self.post("/p/sign-in", &[("code", code), ("birth_date", birth_date)]).await
    }
}

/// The CSRF token of a page's form.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + 32].to_owned()
}

/// A baseline draft (clinician's part only) at Molde for the patient `id`, ordered; returns
/// (registrar token, form id, order id, code).
async fn ordered_baseline(app: &TestApp, id: (&str, i32)) -> (String, String, String, String) {
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let pathway = pathway_for_new_patient(app, &registrar, unit.0, id, 20, 1).await;
    let date = (domain::clock::today() - chrono::Duration::days(5)).to_string();
    let (form, _) =
        create(app, &registrar, &pathway, "baseline", &json!({"event_date": date, "referral_diagnosis": "F10.2"}))
            .await;
    let (status, order) = call(app, "POST", "/api/v1/orders", Some(&json!({"form_id": form})), Some(&registrar)).await;
    assert_eq!(status, 201, "{order}");
    let code = order["access_code"].as_str().unwrap().to_owned();
    (registrar, form, order["id"].as_str().unwrap().to_owned(), code)
}

/// IDS[0] is 02029404855: born 2 February 1994.
const BORN: &str = "02.02.1994";

#[actix_web::test]
async fn a_patient_signs_in_with_the_code_answers_goes_back_reloads_and_submits() {
    let app = TestApp::spawn().await;
    let (registrar, form, order, code) = ordered_baseline(&app, IDS[0]).await;
    let mut p = Patient::new(&app);

    let (status, _, page) = p.get("/p").await;
    assert_eq!(status, 200);
    assert!(page.contains("<html lang=\"nb\">") && page.contains("<label for=\"code\">"), "{page}");

    // A wrong date of birth: refused like a wrong code, counted against the order.
    let (status, _, page) = p.sign_in(&code, "03.02.1994").await;
    assert_eq!(status, 401);
    assert!(page.contains("stemmer ikke"));
    assert!(p.cookie.is_none());

    // The code as a patient might type it: lower case, spaces for dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let (status, location, _) = p.sign_in(&typed, BORN).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions")));
    assert!(p.cookie.is_some());
    let (status, location, _) = p.get("/p/questions").await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/helse")));
    let (status, _, page) = p.get("/p/questions/helse").await;
    assert_eq!(status, 200);
    assert!(page.contains("Side 1 av 4"), "{page}");
    assert!(page.contains("Egenvurdert alvorlighet av rusproblemet"), "labels from the catalogue");
    let csrf = csrf_of(&page);

    // Without the CSRF token: refused, nothing saved.
    let (status, _, _) = p.post("/p/questions/helse", &[("self_rated_severity", "4")]).await;
    assert_eq!(status, 403);
    // An answer outside the range: the message is at the field, nothing is saved.
    let (status, _, page) = p
        .post(
            "/p/questions/helse",
            &[("csrf", &csrf), ("self_rated_severity", "4"), ("self_rated_life_situation", "9")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"self_rated_life_situation-error\""), "{page}");
    assert!(page.contains("fra 1 til 5"));
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!(read["data"]["self_rated_severity"], Value::Null);
    assert_eq!(read["version"], 1);

    let (status, location, _) = p
        .post(
            "/p/questions/helse",
            &[("csrf", &csrf), ("self_rated_severity", "4"), ("self_rated_life_situation", "2")],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/hverdag")));
    let (_, _, page) = p.get("/p/questions/hverdag").await;
    assert!(page.contains("Leier privat"), "Norwegian answer labels");
    assert!(page.contains("href=\"/p/questions/helse\""), "a way back");
    // Back, and a reload: the answers are there.
    for _ in 0..2 {
        let (status, _, page) = p.get("/p/questions/helse").await;
        assert_eq!(status, 200);
        assert!(
            page.contains("id=\"self_rated_severity-4\" name=\"self_rated_severity\" value=\"4\" checked"),
            "{page}"
        );
        assert!(page.contains("value=\"2\" checked"));
    }
    let (status, location, _) = p
        .post(
            "/p/questions/hverdag",
            &[("csrf", &csrf), ("housing", "2"), ("lives_with", "1"), ("children_under_18", "2"), ("occupation", "7")],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/rusmidler")));
    // The substance list, at the baseline with the age at first use of each substance.
    let (_, _, page) = p.get("/p/questions/rusmidler").await;
    for shown in ["<label for=\"substance-6-debut_age\">Debutalder</label>", "Et tall fra 5 til 90.</p>"] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let substances = |debut: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("substance-1-frequency_30d", "2".to_owned()),
            ("substance-1-route", "3".to_owned()),
            ("substance-1-debut_age", debut.to_owned()),
            ("substance-6-frequency_30d", "0".to_owned()),
            ("substance-6-debut_age", "19".to_owned()),
            ("substance_use.main_substance", "1".to_owned()),
            ("substance_use.injected_30d", "2".to_owned()),
            ("substance_use.overdose_12m", "0".to_owned()),
        ]
    };
    // An age out of range, an age left out (the baseline needs each listed substance's) and no
    // main substance: a message at each, nothing saved.
    let mut wrong = substances("3");
    wrong.retain(|(k, _)| *k != "substance_use.main_substance" && *k != "substance-6-debut_age");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, page) = p.post("/p/questions/rusmidler", &wrong).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"substance-1-debut_age-error\">Svaret må være et tall fra 5 til 90."), "{page}");
    assert!(page.contains("id=\"substance-6-debut_age-error\">Skriv hvor gammel du var første gang"), "{page}");
    assert!(page.contains("aria-invalid=\"true\""));
    assert!(page.contains("id=\"substance_use.main_substance-error\""), "{page}");
    assert!(page.contains("name=\"substance-1-debut_age\" value=\"3\""), "the typed age is kept");
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!(read["data"]["substance_use"]["substances"], Value::Null, "nothing saved: {read}");
    let right = substances("16");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = p.post("/p/questions/rusmidler", &right).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/rus")));
    // A number field: letters and a number out of range are refused with a message each.
    let (status, _, page) =
        p.post("/p/questions/rus", &[("csrf", &csrf), ("injected_ever", "2"), ("audit_score", "tjue")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("helt tall") && page.contains("value=\"tjue\""), "the typed value is kept");
    let (status, _, page) =
        p.post("/p/questions/rus", &[("csrf", &csrf), ("injected_ever", "2"), ("audit_score", "50")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("fra 0 til 40"));
    let (status, location, _) = p
        .post(
            "/p/questions/rus",
            &[("csrf", &csrf), ("injected_ever", "2"), ("audit_score", "20"), ("dudit_score", "")],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/summary")));

    let (status, _, page) = p.get("/p/summary").await;
    assert_eq!(status, 200);
    for shown in [
        "Leier privat",
        "Alene",
        "Arbeidsledig",
        "20",
        "Ikke besvart",
        "Alkohol: 2–3 dager i uken, spist eller drukket, første gang som 16-åring",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains(IDS[0].0), "no national id on any page");
    let (status, location, _) = p.post("/p/submit", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/receipt")));
    assert!(p.cookie.is_none(), "the session ends");
    let (status, _, page) = p.get("/p/receipt").await;
    assert_eq!(status, 200);
    assert!(page.contains("Takk for svarene"));

    // The answers are the patient part of the draft; the clinician's part is untouched.
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "draft");
    assert_eq!(read["data"]["referral_diagnosis"], "F10.2");
    for (field, value) in [
        ("self_rated_severity", 4),
        ("self_rated_life_situation", 2),
        ("housing", 2),
        ("occupation", 7),
        ("audit_score", 20),
    ] {
        assert_eq!(read["data"][field], value, "{field}");
    }
    let listed = &read["data"]["substance_use"]["substances"];
    for (i, (substance, frequency, debut)) in [(1, 2, 16), (6, 0, 19)].into_iter().enumerate() {
        let entry = &listed[i];
        assert_eq!(
            (&entry["substance"], &entry["frequency_30d"], &entry["debut_age"]),
            (&json!(substance), &json!(frequency), &json!(debut)),
            "{listed}"
        );
    }
    assert_eq!(listed[0]["route"], 3);
    assert_eq!(read["data"]["substance_use"]["main_substance"], 1);
    let (_, history) = call(&app, "GET", &format!("/api/v1/forms/{form}/history"), None, Some(&registrar)).await;
    let by_patient = history.as_array().unwrap().iter().filter(|h| h["action"] == "answered_by_patient").count();
    assert_eq!(by_patient, 4);
    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{order}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "answered");
    let moves: Vec<(String, String)> = read["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["to_status"].as_str().unwrap().to_owned(), h["actor"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("ordered", "user"), ("opened", "patient"), ("answered", "patient")];
    assert_eq!(moves, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));

    // The code is used up: signing in again is refused, and so is the old session.
    let mut again = Patient::new(&app);
    let (status, _, page) = again.sign_in(&code, BORN).await;
    assert_eq!(status, 410);
    assert!(page.contains("lukket"));
    assert_eq!(app.audit_count("patient_channel.sign_in"), 3);
    assert_eq!(app.audit_count("patient_channel.answer"), 4);
    assert_eq!(app.audit_count("patient_channel.submit"), 1);
}

#[actix_web::test]
async fn a_measurement_asks_the_substance_use_block_without_debut_ages_and_checks_it_as_answered() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let pathway = pathway_for_new_patient(&app, &registrar, unit.0, IDS[0], 20, 1).await;
    let (form, _) = create(&app, &registrar, &pathway, "measurement", &json!({})).await;
    let (status, order) = call(&app, "POST", "/api/v1/orders", Some(&json!({"form_id": form})), Some(&registrar)).await;
    assert_eq!(status, 201, "{order}");
    let mut p = Patient::new(&app);
    p.sign_in(order["access_code"].as_str().unwrap(), BORN).await;
    let (_, _, page) = p.get("/p/questions/nytte").await;
    assert!(page.contains("Side 1 av 3"), "{page}");
    let csrf = csrf_of(&page);
    let (status, _, page) = p.get("/p/questions/rus").await;
    assert_eq!(status, 200);
    assert!(page.contains("Side 3 av 3") && page.contains("<legend>Kokain</legend>"), "{page}");
    assert!(!page.contains("debut_age"), "the debut age belongs to the baseline");
    // Cocaine sniffed at most weekly, but heroin named as the main substance: refused at the
    // main substance, nothing saved.
    let mut answers = vec![
        ("csrf", csrf.as_str()),
        ("substance-7-frequency_30d", "1"),
        ("substance-7-route", "4"),
        ("substance_use.main_substance", "3"),
        ("substance_use.injected_30d", "2"),
        ("substance_use.overdose_12m", "0"),
    ];
    let (status, _, page) = p.post("/p/questions/rus", &answers).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"substance_use.main_substance-error\">Hovedrusmiddelet må være"), "{page}");
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!(read["version"], 1, "nothing saved: {read}");
    answers[3] = ("substance_use.main_substance", "7");
    let (status, location, _) = p.post("/p/questions/rus", &answers).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/summary")));
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    let block = &read["data"]["substance_use"];
    assert_eq!((&block["main_substance"], &block["substances"][0]["route"]), (&json!(7), &json!(4)), "{read}");
    assert_eq!(block["substances"].as_array().map(Vec::len), Some(1));
}

/// A substance row the clinician's draft holds without a frequency (the draft API allows it,
/// the patient's page does not) is shown in the summary as it is, not left out.
#[actix_web::test]
async fn the_summary_shows_a_drafted_substance_row_without_a_frequency() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let pathway = pathway_for_new_patient(&app, &registrar, unit.0, IDS[0], 20, 1).await;
    let draft = json!({"substance_use": {"substances": [{"substance": 1}, {"substance": 7, "route": 4}]}});
    let (form, _) = create(&app, &registrar, &pathway, "measurement", &draft).await;
    let (status, order) = call(&app, "POST", "/api/v1/orders", Some(&json!({"form_id": form})), Some(&registrar)).await;
    assert_eq!(status, 201, "{order}");
    let mut p = Patient::new(&app);
    p.sign_in(order["access_code"].as_str().unwrap(), BORN).await;
    let (status, _, page) = p.get("/p/summary").await;
    assert_eq!(status, 200);
    assert!(page.contains("Alkohol: hyppighet ikke oppgitt; Kokain: hyppighet ikke oppgitt, sniffet"), "{page}");
}

#[actix_web::test]
async fn wrong_codes_expired_orders_and_dead_codes_are_refused() {
    let app = TestApp::spawn_with(|s| s.orders.max_failed_sign_ins = 3).await;
    let (registrar, _, order, code) = ordered_baseline(&app, IDS[0]).await;
    let mut p = Patient::new(&app);
    // A code that is no order's, and text that is no code.
    for wrong in ["AAAA-BBBB-CCCC-DDDD", "hello", ""] {
        let (status, _, page) = p.sign_in(wrong, BORN).await;
        assert_eq!(status, 401, "{wrong}");
        assert!(page.contains("stemmer ikke"));
    }
    // Three wrong dates kill the code: the right one no longer opens it.
    for _ in 0..3 {
        let (status, _, _) = p.sign_in(&code, "01.01.1990").await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = p.sign_in(&code, BORN).await;
    assert_eq!(status, 410);
    assert!(p.cookie.is_none());
    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{order}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "ordered", "the order stays open for the clinician to cancel and order again");

    // An order past its expiry date expires when its code is tried.
    let (registrar, _, order, code) = ordered_baseline(&app, IDS[1]).await;
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(
            "UPDATE orders SET remind_on = current_date - 2, expires_on = current_date - 1 WHERE id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(&order).unwrap())
        .execute(&mut app.conn())
        .unwrap();
    }
    let (status, _, _) = p.sign_in(&code, "12.10.1963").await;
    assert_eq!(status, 410);
    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{order}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "expired");
    assert_eq!(read["history"][1]["actor"], "system");

    // A cancelled order's code is dead, and so is a session opened before the cancellation.
    let (registrar, _, order, code) = ordered_baseline(&app, IDS[2]).await;
    let (status, _, _) = p.sign_in(&code, "17.04.1962").await;
    assert_eq!(status, 303);
    let (status, _, _) = p.get("/p/questions/helse").await;
    assert_eq!(status, 200);
    let (status, _) =
        call(&app, "POST", &format!("/api/v1/orders/{order}/cancel"), Some(&json!({})), Some(&registrar)).await;
    assert_eq!(status, 200);
    let (status, _, page) = p.get("/p/questions/helse").await;
    assert_eq!(status, 410, "{page}");
    let (status, _, _) = Patient::new(&app).sign_in(&code, "17.04.1962").await;
    assert_eq!(status, 410);

    // No session: the question pages send the patient to sign in.
    let (status, _, page) = Patient::new(&app).get("/p/summary").await;
    assert_eq!(status, 401);
    assert!(page.contains("href=\"/p\""));
    let mut forged = Patient::new(&app);
    forged.cookie = Some("rusreg_patient=eyJhbGciOiJIUzI1NiJ9.e30.x".into());
    let (status, _, _) = forged.get("/p/summary").await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn sign_ins_from_one_address_are_limited() {
    let app = TestApp::spawn_with(|s| s.login_limit_per_address = 3).await;
    let mut p = Patient::new(&app);
    for _ in 0..3 {
        let (status, _, _) = p.sign_in("AAAA-BBBB-CCCC-DDDD", BORN).await;
        assert_eq!(status, 401);
    }
    let (status, _, page) = p.sign_in("AAAA-BBBB-CCCC-DDDD", BORN).await;
    assert_eq!(status, 429);
    assert!(page.contains("For mange forsøk"));
}

/// A pathway of the patient `id` discharged 345 days ago (ending 4, consent yes) and the
/// scheduler's follow-up order for it: (registrar token, pathway id, the letter's code).
pub(crate) async fn ordered_follow_up(app: &TestApp, id: (&str, i32)) -> (String, String, String) {
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let pathway = crate::scheduler::discharged(app, &registrar, id, 345, 4, 1).await;
    let before = app.count("outbox_messages");
    let report = crate::scheduler::pass(app, domain::clock::today());
    assert_eq!(report.follow_ups_ordered, 1);
    assert_eq!(app.count("outbox_messages"), before + 1);
    let letter: String = {
        use diesel::prelude::*;
        use persistence::schema::outbox_messages as m;
        m::table.order(m::id.desc()).select(m::body).first(&mut app.conn()).unwrap()
    };
    let code = letter.lines().map(str::trim).find(|l| l.len() == 19 && l.matches('-').count() == 3).unwrap();
    (registrar, pathway, code.to_owned())
}

/// The follow-up's form id (the sign-in linked the order to it).
fn follow_up_form(app: &TestApp, pathway: &str) -> String {
    use diesel::prelude::*;
    use persistence::schema::forms as f;
    let id: uuid::Uuid = f::table
        .filter(f::pathway_id.eq(uuid::Uuid::parse_str(pathway).unwrap()))
        .filter(f::kind.eq("follow-up"))
        .select(f::id)
        .first(&mut app.conn())
        .unwrap();
    id.to_string()
}

#[actix_web::test]
async fn a_patient_answers_the_follow_up_from_the_letter_and_it_is_completed_as_followed_up() {
    let app = TestApp::spawn().await;
    let (registrar, pathway, code) = ordered_follow_up(&app, IDS[0]).await;
    let mut p = Patient::new(&app);
    let (status, location, _) = p.sign_in(&code, BORN).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions")));
    let form = follow_up_form(&app, &pathway);
    let (_, location, _) = p.get("/p/questions").await;
    assert_eq!(location.as_deref(), Some("/p/questions/helse"));
    let (status, _, page) = p.get("/p/questions/helse").await;
    assert_eq!(status, 200);
    assert!(page.contains("Side 1 av 4") && page.contains("Egenvurdert livssituasjon"), "{page}");
    let csrf = csrf_of(&page);

    // Every question of the follow-up is needed: an empty screen gets a message at the field.
    let (status, _, page) = p.post("/p/questions/helse", &[("csrf", &csrf)]).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"self_rated_life_situation-error\"") && page.contains("Svar på spørsmålet"), "{page}");
    let (status, location, _) =
        p.post("/p/questions/helse", &[("csrf", &csrf), ("self_rated_life_situation", "3")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/hverdag")));
    let (status, location, _) =
        p.post("/p/questions/hverdag", &[("csrf", &csrf), ("housing", "2"), ("occupation", "1")]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/oppfolging")));

    // Services received: checkboxes in a fieldset; "none" excludes the others (the domain's rule).
    let (_, _, page) = p.get("/p/questions/oppfolging").await;
    assert!(page.contains("<legend>Mottatt oppfølging</legend>"), "{page}");
    assert!(
        page.contains("<input type=\"checkbox\" id=\"received_follow_up-2\" name=\"received_follow_up\" value=\"2\">")
    );
    assert!(page.contains("Fastlege") && page.contains("Ingen av disse"));
    let (status, _, page) = p
        .post("/p/questions/oppfolging", &[("csrf", &csrf), ("received_follow_up", "2"), ("received_follow_up", "7")])
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("id=\"received_follow_up-error\"")
            && page.contains("aria-describedby=\"received_follow_up-error\"")
    );
    assert!(page.contains("value=\"2\" checked") && page.contains("value=\"7\" checked"), "the ticks are kept");
    let (status, location, _) = p
        .post("/p/questions/oppfolging", &[("csrf", &csrf), ("received_follow_up", "2"), ("received_follow_up", "3")])
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/questions/rus")));

    // Substances: one row per substance of the code list, each with its frequency and route.
    let (_, _, page) = p.get("/p/questions/rus").await;
    for shown in [
        "<label for=\"substance-1-frequency_30d\">Hyppighet siste 30 dager</label>",
        "<label for=\"substance-12-route\">Inntaksmåte</label>",
        "<legend>Alkohol</legend>",
        "<option value=\"\" selected>Har ikke brukt</option>",
        "Hovedrusmiddel",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    assert!(!page.contains("<script"));
    // Alcohol daily without a route, a main substance not listed: messages at those inputs.
    let wrong = [
        ("csrf", csrf.as_str()),
        ("substance-1-frequency_30d", "4"),
        ("substance-2-frequency_30d", "0"),
        ("substance_use.main_substance", "3"),
        ("substance_use.injected_30d", "2"),
        ("substance_use.overdose_12m", "0"),
    ];
    let (status, _, page) = p.post("/p/questions/rus", &wrong).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"substance-1-route-error\""), "{page}");
    assert!(page.contains("id=\"substance-1-route-error\">Velg hvordan du vanligvis tar rusmiddelet."));
    assert!(page.contains("id=\"substance_use.main_substance-error\">Hovedrusmiddelet må være"));
    assert!(page.contains("<option value=\"4\" selected>Daglig</option>"), "the choices are kept");
    assert!(!page.contains("id=\"substance-2-route-error\""), "no route needed for a substance not used lately");
    let (status, _, page) = p
        .post(
            "/p/questions/rus",
            &[
                ("csrf", csrf.as_str()),
                ("substance-1-frequency_30d", "4"),
                ("substance-1-route", "1"),
                ("substance-2-frequency_30d", "0"),
                ("substance_use.main_substance", "1"),
                ("substance_use.injected_30d", "2"),
                ("substance_use.overdose_12m", "0"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"substance_use.injected_30d-error\""), "injected, so injected_30d must be yes: {page}");
    let (status, location, _) = p
        .post(
            "/p/questions/rus",
            &[
                ("csrf", csrf.as_str()),
                ("substance-1-frequency_30d", "4"),
                ("substance-1-route", "3"),
                ("substance-2-frequency_30d", "0"),
                ("substance_use.main_substance", "1"),
                ("substance_use.injected_30d", "2"),
                ("substance_use.overdose_12m", "1"),
            ],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/summary")));
    let (_, _, page) = p.get("/p/questions/rus").await;
    assert!(page.contains("<option value=\"3\" selected>Spist eller drukket</option>"), "answers shown again");

    let (status, _, page) = p.get("/p/summary").await;
    assert_eq!(status, 200);
    for shown in [
        "Alkohol: Daglig, spist eller drukket",
        "Cannabis (hasj, marihuana): Brukt før",
        "Fastlege, NAV",
        "Leier privat",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let (status, location, _) = p.post("/p/submit", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/p/receipt")));

    // Completed as followed up, today, with the patient's answers; the pathway moves to 5.
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "completed", "{read}");
    let today = domain::clock::today().to_string();
    assert_eq!(
        (read["data"]["outcome"].as_i64(), read["data"]["event_date"].as_str()),
        (Some(5), Some(today.as_str()))
    );
    assert_eq!(read["data"]["received_follow_up"], json!([2, 3]));
    assert_eq!(read["data"]["substance_use"]["substances"].as_array().unwrap().len(), 2);
    assert_eq!(read["data"]["substance_use"]["overdose_12m"], 1);
    let (_, path) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&registrar)).await;
    assert_eq!(path["status"], 5, "{path}");
    let (_, history) = call(&app, "GET", &format!("/api/v1/forms/{form}/history"), None, Some(&registrar)).await;
    let actions: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["action"].as_str().unwrap(), h["changed_by_username"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        actions,
        [
            ("created", "system"),
            ("answered_by_patient", "system"),
            ("answered_by_patient", "system"),
            ("answered_by_patient", "system"),
            ("answered_by_patient", "system"),
            ("answered_by_patient", "system"),
            ("completed", "system"),
        ]
    );
    assert_eq!(app.count("orders WHERE status = 'answered'"), 1);
    assert_eq!(app.count("audit_log WHERE action = 'form.complete' AND role = 'patient'"), 1);
}

#[actix_web::test]
async fn a_follow_up_with_a_screen_left_out_is_not_sent_and_the_summary_says_which() {
    let app = TestApp::spawn().await;
    let (registrar, pathway, code) = ordered_follow_up(&app, IDS[1]).await;
    let mut p = Patient::new(&app);
    let (status, _, _) = p.sign_in(&code, "12.10.1963").await;
    assert_eq!(status, 303);
    let (_, _, page) = p.get("/p/questions/helse").await;
    let csrf = csrf_of(&page);
    for (screen, answers) in [
        ("helse", vec![("self_rated_life_situation", "4")]),
        ("hverdag", vec![("housing", "1"), ("occupation", "2")]),
        ("oppfolging", vec![("received_follow_up", "7")]),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(answers);
        let (status, _, page) = p.post(&format!("/p/questions/{screen}"), &form).await;
        assert_eq!(status, 303, "{screen}: {page}");
    }
    // The substances are skipped: the summary says so, and sending is refused.
    let (status, _, page) = p.get("/p/summary").await;
    assert_eq!(status, 200);
    assert!(page.contains("Ikke besvart"));
    let (status, _, page) = p.post("/p/submit", &[("csrf", &csrf)]).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("role=\"alert\"") && page.contains("<a href=\"/p/questions/rus\">Noen svar mangler"),
        "{page}"
    );
    assert!(!page.contains("<a href=\"/p/questions/helse\">Noen svar mangler"));
    let form = follow_up_form(&app, &pathway);
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!((read["status"].as_str(), read["data"]["outcome"].as_i64()), (Some("draft"), None), "nothing completed");
    let (_, path) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&registrar)).await;
    assert_eq!(path["status"], 4);
    assert_eq!(app.count("orders WHERE status = 'opened'"), 1, "the order stays open");
    assert!(p.cookie.is_some(), "and so does the session");
}
