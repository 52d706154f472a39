//! The patient pages in a real browser: Debian's chromium, headless, driven over WebDriver
//! (chromium-driver, with fantoccini) at a phone-sized viewport (390 × 844). A patient signs in
//! with the keyboard, answers by clicking the labels, goes back with the browser's back button and
//! reloads (the answers are still chosen), sees the summary, submits and sees the receipt; a
//! wrong code, an expired order and a used code each get their page. On every page: every input
//! has a label, nothing is wider than the screen, and no script runs. The follow-up from the
//! letter's code: the checkboxes of services received and the substance list's selects, with the
//! domain's errors at their inputs.

use std::time::Duration;

use domain::access::Role;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use integration_tests::{json, TestApp, UNIT_MOLDE};
use serde_json::Value;

use crate::browser::Driver;
use crate::fixtures::{call, create, pathway_for_new_patient, IDS};

async fn ordered_baseline(app: &TestApp, id: (&str, i32)) -> (String, String, String, String) {
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let pathway = pathway_for_new_patient(app, &registrar, unit.0, id, 20, 1).await;
    let date = (domain::clock::today() - chrono::Duration::days(5)).to_string();
    let body = json!({"event_date": date, "referral_diagnosis": "F10.2"});
    let (form, _) = create(app, &registrar, &pathway, "baseline", &body).await;
    let (status, order) = call(app, "POST", "/api/v1/orders", Some(&json!({"form_id": form})), Some(&registrar)).await;
    assert_eq!(status, 201, "{order}");
    (registrar, form, order["id"].as_str().unwrap().to_owned(), order["access_code"].as_str().unwrap().to_owned())
}

/// The checks every page passes: labelled inputs, nothing wider than the phone, no script.
async fn check_page(c: &Client) {
    let facts = c
        .execute(
            "return {
               unlabelled: [...document.querySelectorAll('input:not([type=hidden]), select')].filter(i => i.labels.length === 0).map(i => i.id),
               wide: document.documentElement.scrollWidth > window.innerWidth,
               scripts: document.scripts.length,
               lang: document.documentElement.lang,
               width: window.innerWidth,
             };",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(facts["unlabelled"], json!([]), "every input has a label");
    assert_eq!(facts["wide"], false, "nothing is wider than the screen");
    assert_eq!(facts["scripts"], 0);
    assert_eq!(facts["lang"], "nb");
    assert!(facts["width"].as_i64().is_some_and(|w| w <= 400), "a phone-sized viewport: {facts}");
}

/// The page's path once it is `expected` (a click's navigation may still be under way), or
/// the last one seen after five seconds.
async fn path_of_when(c: &Client, expected: &str) -> String {
    let mut path = String::new();
    for _ in 0..100 {
        path = c.current_url().await.unwrap().path().to_owned();
        let ready = c.execute("return document.readyState", vec![]).await.unwrap();
        if path == expected && ready == "complete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    path
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
}

async fn sign_in_by_keyboard(c: &Client, app: &TestApp, code: &str, born: &str) {
    c.goto(&app.url("/p")).await.unwrap();
    check_page(c).await;
    let input = c.find(Locator::Id("code")).await.unwrap();
    input.send_keys(code).await.unwrap();
    input.send_keys(&Key::Tab.to_string()).await.unwrap();
    let active = c.active_element().await.unwrap();
    assert_eq!(active.attr("id").await.unwrap().as_deref(), Some("birth_date"), "Tab moves to the date of birth");
    active.send_keys(born).await.unwrap();
    active.send_keys(&Key::Enter.to_string()).await.unwrap();
}

async fn choose(c: &Client, id: &str) {
    c.find(Locator::Css(&format!("label[for='{id}']"))).await.unwrap().click().await.unwrap();
}

async fn next(c: &Client) {
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
}

async fn chosen(c: &Client, id: &str) -> bool {
    c.find(Locator::Id(id)).await.unwrap().is_selected().await.unwrap()
}

#[actix_web::test]
async fn on_a_phone_a_patient_signs_in_answers_goes_back_reloads_and_submits() {
    let app = TestApp::spawn_with(|s| s.patient_cookie_secure = false).await;
    let (registrar, form, order, code) = ordered_baseline(&app, IDS[0]).await;
    let driver = Driver::start();
    let c = driver.phone().await;

    sign_in_by_keyboard(&c, &app, &code.to_lowercase(), "02.02.1994").await;
    assert_eq!(path_of_when(&c, "/p/questions/helse").await, "/p/questions/helse");
    check_page(&c).await;
    choose(&c, "self_rated_severity-4").await;
    choose(&c, "self_rated_life_situation-2").await;
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/questions/hverdag").await, "/p/questions/hverdag");
    check_page(&c).await;
    // The browser's back button, then a reload: the answers are still chosen.
    c.back().await.unwrap();
    assert_eq!(path_of_when(&c, "/p/questions/helse").await, "/p/questions/helse");
    c.refresh().await.unwrap();
    assert!(chosen(&c, "self_rated_severity-4").await && chosen(&c, "self_rated_life_situation-2").await);
    assert!(!chosen(&c, "self_rated_severity-3").await);
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/questions/hverdag").await, "/p/questions/hverdag");
    for id in ["housing-2", "lives_with-1", "children_under_18-2", "occupation-7"] {
        choose(&c, id).await;
    }
    next(&c).await;
    // The substance list, each row with the age at first use as a labelled text field.
    assert_eq!(path_of_when(&c, "/p/questions/rusmidler").await, "/p/questions/rusmidler");
    check_page(&c).await;
    c.find(Locator::Css(&by_id("substance-2-frequency_30d"))).await.unwrap().select_by_value("1").await.unwrap();
    c.find(Locator::Css(&by_id("substance-2-route"))).await.unwrap().select_by_value("2").await.unwrap();
    c.find(Locator::Css(&by_id("substance-2-debut_age"))).await.unwrap().send_keys("15").await.unwrap();
    choose(&c, "substance_use.main_substance-2").await;
    choose(&c, "substance_use.injected_30d-2").await;
    c.find(Locator::Css(&by_id("substance_use.overdose_12m"))).await.unwrap().send_keys("0").await.unwrap();
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/questions/rus").await, "/p/questions/rus");
    // A number out of range: the message is next to the field, which is marked invalid.
    choose(&c, "injected_ever-2").await;
    c.find(Locator::Id("audit_score")).await.unwrap().send_keys("50").await.unwrap();
    next(&c).await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("audit_score-error")).await.unwrap();
    let field = c.find(Locator::Id("audit_score")).await.unwrap();
    assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    let described = field.attr("aria-describedby").await.unwrap().unwrap_or_default();
    assert!(described.contains("audit_score-error"));
    let error = c.find(Locator::Id("audit_score-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("fra 0 til 40"), "{error}");
    field.clear().await.unwrap();
    field.send_keys("20").await.unwrap();
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/summary").await, "/p/summary");
    check_page(&c).await;
    let text = body_text(&c).await;
    for shown in [
        "Leier privat",
        "Arbeidsledig",
        "20",
        "Cannabis (hasj, marihuana): Inntil én dag i uken, røyket eller inhalert, første gang som 15-åring",
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    assert!(!c.source().await.unwrap().contains(IDS[0].0), "no national id on a page");
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/receipt").await, "/p/receipt");
    assert!(body_text(&c).await.contains("Takk for svarene"));
    check_page(&c).await;

    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{order}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "answered");
    let (_, read) = call(&app, "GET", &format!("/api/v1/forms/{form}"), None, Some(&registrar)).await;
    assert_eq!(
        (read["data"]["housing"].clone(), read["data"]["audit_score"].clone()),
        (Value::from(2), Value::from(20))
    );

    // The code again: used.
    sign_in_by_keyboard(&c, &app, &code, "02.02.1994").await;
    assert_eq!(path_of_when(&c, "/p/sign-in").await, "/p/sign-in");
    assert!(body_text(&c).await.contains("Skjemaet er lukket"));
    c.close().await.unwrap();
}

#[actix_web::test]
async fn on_a_phone_a_wrong_code_and_an_expired_order_get_their_pages() {
    let app = TestApp::spawn_with(|s| s.patient_cookie_secure = false).await;
    let (_, _, order, code) = ordered_baseline(&app, IDS[1]).await;
    let driver = Driver::start();
    let c = driver.phone().await;

    sign_in_by_keyboard(&c, &app, "AAAA-BBBB-CCCC-DDDD", "12.10.1963").await;
    assert_eq!(path_of_when(&c, "/p/sign-in").await, "/p/sign-in");
    let alert = c.find(Locator::Css("[role=alert]")).await.unwrap().text().await.unwrap();
    assert!(alert.contains("stemmer ikke"), "{alert}");
    check_page(&c).await;

    {
        use diesel::RunQueryDsl;
        diesel::sql_query(
            "UPDATE orders SET remind_on = current_date - 2, expires_on = current_date - 1 WHERE id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(&order).unwrap())
        .execute(&mut app.conn())
        .unwrap();
    }
    sign_in_by_keyboard(&c, &app, &code, "12.10.1963").await;
    assert_eq!(path_of_when(&c, "/p/sign-in").await, "/p/sign-in");
    assert!(body_text(&c).await.contains("Skjemaet er lukket"));
    check_page(&c).await;
    c.close().await.unwrap();
}

/// An element by id, also one with dots in it (`substance_use.main_substance-1`).
fn by_id(id: &str) -> String {
    format!("[id='{id}']")
}

#[actix_web::test]
async fn on_a_phone_a_patient_answers_the_follow_up_with_checkboxes_and_the_substance_list() {
    let app = TestApp::spawn_with(|s| s.patient_cookie_secure = false).await;
    let (registrar, pathway, code) = crate::patient_pages::ordered_follow_up(&app, IDS[2]).await;
    let driver = Driver::start();
    let c = driver.phone().await;

    sign_in_by_keyboard(&c, &app, &code, "17.04.1962").await;
    assert_eq!(path_of_when(&c, "/p/questions/helse").await, "/p/questions/helse");
    check_page(&c).await;
    choose(&c, "self_rated_life_situation-4").await;
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/questions/hverdag").await, "/p/questions/hverdag");
    choose(&c, "housing-1").await;
    choose(&c, "occupation-2").await;
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/questions/oppfolging").await, "/p/questions/oppfolging");
    check_page(&c).await;
    // "None" with a service: the domain's rule, shown at the fieldset.
    choose(&c, "received_follow_up-2").await;
    choose(&c, "received_follow_up-7").await;
    next(&c).await;
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Id("received_follow_up-error")).await.unwrap();
    check_page(&c).await;
    assert!(chosen(&c, "received_follow_up-2").await && chosen(&c, "received_follow_up-7").await);
    choose(&c, "received_follow_up-7").await;
    choose(&c, "received_follow_up-4").await;
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/questions/rus").await, "/p/questions/rus");
    check_page(&c).await;
    // Heroin daily without a route: the message at the route's select, marked invalid.
    c.find(Locator::Css(&by_id("substance-3-frequency_30d"))).await.unwrap().select_by_value("4").await.unwrap();
    choose(&c, "substance_use.main_substance-3").await;
    choose(&c, "substance_use.injected_30d-2").await;
    c.find(Locator::Css(&by_id("substance_use.overdose_12m"))).await.unwrap().send_keys("0").await.unwrap();
    next(&c).await;
    c.wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(&by_id("substance-3-route-error")))
        .await
        .unwrap();
    check_page(&c).await;
    let route = c.find(Locator::Css(&by_id("substance-3-route"))).await.unwrap();
    assert_eq!(route.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    assert!(route.attr("aria-describedby").await.unwrap().unwrap_or_default().contains("substance-3-route-error"));
    route.select_by_value("2").await.unwrap();
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/summary").await, "/p/summary");
    check_page(&c).await;
    let text = body_text(&c).await;
    assert!(text.contains("Heroin: Daglig, røyket eller inhalert") && text.contains("Fastlege, Poliklinisk"), "{text}");
    next(&c).await;
    assert_eq!(path_of_when(&c, "/p/receipt").await, "/p/receipt");
    check_page(&c).await;
    let (_, path) = call(&app, "GET", &format!("/api/v1/pathways/{pathway}"), None, Some(&registrar)).await;
    assert_eq!(path["status"], 5, "completed as followed up: {path}");
    c.close().await.unwrap();
}
