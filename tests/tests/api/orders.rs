//! Questionnaire orders (docs/patient-channel.md): a registrar or unit contact of the pathway's
//! unit orders the patient part of a baseline or measurement draft and sees the access code
//! once; one open order per form; cancel with history; lists per unit, pathway and status; every
//! step audited; access in and out of scope; bad input stores nothing; a reservation cancels
//! the patient's orders and deletes them with the rest.

use chrono::Duration;
use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_ALESUND, UNIT_MOLDE};
use serde_json::Value;

use crate::fixtures::{call, create, discharge, pathway_for_new_patient, IDS};

fn days_ago(n: i64) -> String {
    (domain::clock::today() - Duration::days(n)).to_string()
}

/// A pathway at Molde with a baseline draft holding only the clinician's part; (pathway, form).
async fn baseline_draft(app: &TestApp, token: &str, id: (&str, i32)) -> (String, String) {
    let pathway = pathway_for_new_patient(app, token, app.unit(UNIT_MOLDE).0, id, 20, 1).await;
    let body = json!({"event_date": days_ago(10), "referral_diagnosis": "F10.2"});
    let (form, _) = create(app, token, &pathway, "baseline", &body).await;
    (pathway, form)
}

async fn order(app: &TestApp, token: &str, form: &str) -> (u16, Value) {
    call(app, "POST", "/api/v1/orders", Some(&json!({"form_id": form})), Some(token)).await
}

#[actix_web::test]
async fn a_registrar_orders_the_patient_part_of_a_baseline_and_sees_the_code_once() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let (pathway, form) = baseline_draft(&app, &registrar, IDS[0]).await;

    let (status, created) = order(&app, &registrar, &form).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "ordered");
    assert_eq!(created["questionnaire"], "baseline");
    assert_eq!(created["form_id"], form.as_str());
    assert_eq!(created["pathway_id"], pathway.as_str());
    let today = domain::clock::today();
    assert_eq!(created["remind_on"], (today + Duration::days(15)).to_string());
    assert_eq!(created["expires_on"], (today + Duration::days(30)).to_string());
    let code = created["access_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 19, "four groups of four: {code}");
    assert_eq!(domain::orders::AccessCode::parse(&code).map(|c| c.display()), Some(code.clone()));
    assert_eq!(created["history"][0]["to_status"], "ordered");
    assert_eq!(created["history"][0]["actor"], "user");
    let id = created["id"].as_str().unwrap().to_owned();

    // The code is stored only as its hash, and never shown again.
    let stored: Vec<u8> = {
        use diesel::prelude::*;
        use persistence::schema::order_access_codes as c;
        c::table.select(c::code_hash).first(&mut app.conn()).unwrap()
    };
    assert_eq!(stored, domain::orders::AccessCode::parse(&code).unwrap().hash().to_vec());
    let (status, read) = call(&app, "GET", &format!("/api/v1/orders/{id}"), None, Some(&registrar)).await;
    assert_eq!(status, 200);
    assert!(read.get("access_code").is_none(), "{read}");
    assert!(!read.to_string().contains(&code));

    // One open order per form.
    let (status, again) = order(&app, &registrar, &form).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("order_open")));
    assert_eq!(app.count("orders"), 1);

    // Lists per unit, pathway and status.
    for query in [format!("unit={}", unit.0), format!("pathway={pathway}"), "status=ordered".to_owned(), String::new()]
    {
        let (status, list) = call(&app, "GET", &format!("/api/v1/orders?{query}"), None, Some(&registrar)).await;
        assert_eq!(status, 200, "{query}: {list}");
        assert_eq!(list["total"], 1, "{query}");
        assert_eq!(list["items"][0]["id"], id.as_str());
        assert!(list["items"][0].get("access_code").is_none());
    }
    let (_, list) = call(&app, "GET", "/api/v1/orders?status=answered", None, Some(&registrar)).await;
    assert_eq!(list["total"], 0);

    // Cancel: the history grows, the code dies, a second cancel is refused, a new order may follow.
    let (status, cancelled) = call(
        &app,
        "POST",
        &format!("/api/v1/orders/{id}/cancel"),
        Some(&json!({"reason": "the patient prefers paper"})),
        Some(&registrar),
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["closed_at"].is_string());
    let history = cancelled["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[1]["from_status"].as_str(), history[1]["to_status"].as_str()),
        (Some("ordered"), Some("cancelled"))
    );
    assert_eq!(history[1]["reason"], "the patient prefers paper");
    let spent: i64 = {
        use diesel::prelude::*;
        use persistence::schema::order_access_codes as c;
        c::table.filter(c::spent_at.is_not_null()).count().get_result(&mut app.conn()).unwrap()
    };
    assert_eq!(spent, 1);
    let (status, again) =
        call(&app, "POST", &format!("/api/v1/orders/{id}/cancel"), Some(&json!({})), Some(&registrar)).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("order_closed")));
    let (status, _) = order(&app, &registrar, &form).await;
    assert_eq!(status, 201);

    assert_eq!(app.audit_count("order.create"), 2);
    assert_eq!(app.audit_count("order.read"), 1);
    assert_eq!(app.audit_count("order.cancel"), 1);
    assert_eq!(app.audit_count("order.list"), 5);
}

#[actix_web::test]
async fn orders_are_refused_out_of_scope_and_to_roles_that_do_not_register() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let (_, form) = baseline_draft(&app, &registrar, IDS[1]).await;
    let (_, created) = order(&app, &registrar, &form).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let other_unit = app.token_for(Role::Registrar, app.unit(UNIT_ALESUND)).await;
    let other_contact = app.token_for(Role::UnitContact, app.unit(UNIT_ALESUND)).await;

    for (role, token) in app.tokens_around(unit).await {
        let (status, body) = order(&app, &token, &form).await;
        let (read, _) = call(&app, "GET", &format!("/api/v1/orders/{id}"), None, Some(&token)).await;
        let (list, _) = call(&app, "GET", &format!("/api/v1/orders?unit={}", unit.0), None, Some(&token)).await;
        match role {
            // The form has an open order already: allowed, and refused only for that.
            Role::Registrar | Role::UnitContact => {
                assert_eq!((status, body["code"].as_str()), (409, Some("order_open")), "{role:?}");
                assert_eq!((read, list), (200, 200), "{role:?}");
            }
            _ => {
                assert_eq!(status, 403, "{role:?}: {body}");
                assert_eq!(read, 404, "{role:?}");
                assert_eq!(list, 403, "{role:?}");
            }
        }
    }
    // Another unit's registrar and contact: the form and the order do not exist for them.
    for token in [&other_unit, &other_contact] {
        let (status, _) = order(&app, token, &form).await;
        assert_eq!(status, 404);
        let (status, _) = call(&app, "GET", &format!("/api/v1/orders/{id}"), None, Some(token)).await;
        assert_eq!(status, 404);
        let (status, _) =
            call(&app, "POST", &format!("/api/v1/orders/{id}/cancel"), Some(&json!({})), Some(token)).await;
        assert_eq!(status, 404);
        let (status, _) = call(&app, "GET", &format!("/api/v1/orders?unit={}", unit.0), None, Some(token)).await;
        assert_eq!(status, 403);
        let (status, list) = call(&app, "GET", "/api/v1/orders", None, Some(token)).await;
        assert_eq!((status, list["total"].as_i64()), (200, Some(0)));
    }
    // Without a token.
    let (status, _) = call(&app, "GET", "/api/v1/orders", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = call(&app, "POST", "/api/v1/orders", Some(&json!({"form_id": form})), None).await;
    assert_eq!(status, 401);
    // Nothing changed: one order, still open.
    assert_eq!(app.count("orders"), 1);
    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{id}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "ordered");
}

#[actix_web::test]
async fn bad_order_input_gets_a_clear_4xx_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let (pathway, form) = baseline_draft(&app, &registrar, IDS[2]).await;
    let (discharge_form, _) =
        create(&app, &registrar, &pathway, "discharge", &json!({"event_date": days_ago(1)})).await;

    for (body, expected_status) in [
        (json!({"form_id": "not-a-uuid"}), 422),
        (json!({"form_id": form, "extra": 1}), 422),
        (json!({}), 422),
        (json!([]), 422),
        (json!({"form_id": uuid::Uuid::new_v4()}), 404),
    ] {
        let (status, res) = call(&app, "POST", "/api/v1/orders", Some(&body), Some(&registrar)).await;
        assert!(status == expected_status || (expected_status == 422 && status == 400), "{body}: {status} {res}");
        assert!(res["code"].is_string(), "{res}");
    }
    // A discharge has no part for the patient.
    let (status, res) = order(&app, &registrar, &discharge_form).await;
    assert_eq!(status, 422, "{res}");
    assert_eq!(res["errors"][0]["field"], "form_id");
    assert_eq!(res["errors"][0]["code"], "not_orderable");
    assert_eq!(app.count("orders"), 0);
    assert_eq!(app.count("order_access_codes"), 0);
    assert_eq!(app.count("order_status_history"), 0);
    assert_eq!(app.audit_count("order.create"), 0);

    // A completed form is closed to orders.
    let done_pathway = pathway_for_new_patient(&app, &registrar, unit.0, IDS[3], 40, 1).await;
    let done = crate::fixtures::completed_baseline(&app, &registrar, &done_pathway, &days_ago(30)).await;
    let (status, res) = order(&app, &registrar, &done).await;
    assert_eq!((status, res["code"].as_str()), (409, Some("form_completed")));

    // Lists: a status outside the list, pages out of range, a pathway that is not a uuid.
    for query in ["status=lost", "page=0", "per_page=501", "pathway=x", "unit=abc", "colour=red"] {
        let (status, res) = call(&app, "GET", &format!("/api/v1/orders?{query}"), None, Some(&registrar)).await;
        assert!(status == 422 || status == 400, "{query}: {status} {res}");
        assert!(res["code"].is_string());
    }
    let (_, res) = call(&app, "GET", "/api/v1/orders?status=lost", None, Some(&registrar)).await;
    assert_eq!(res["errors"][0]["field"], "status");

    // Cancel: a reason too long, unknown fields; an unknown order.
    let (_, created) = order(&app, &registrar, &form).await;
    let id = created["id"].as_str().unwrap();
    for body in [json!({"reason": "x".repeat(1001)}), json!({"why": "no"})] {
        let (status, res) =
            call(&app, "POST", &format!("/api/v1/orders/{id}/cancel"), Some(&body), Some(&registrar)).await;
        assert!(status == 422 || status == 400, "{status} {res}");
    }
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/orders/{}/cancel", uuid::Uuid::new_v4()),
        Some(&json!({})),
        Some(&registrar),
    )
    .await;
    assert_eq!(status, 404);
    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{id}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "ordered");
    assert_eq!(read["history"].as_array().map(Vec::len), Some(1));
    let _ = discharge;
}

#[actix_web::test]
async fn a_reservation_cancels_the_patients_open_orders_and_deletes_them() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let (_, form) = baseline_draft(&app, &registrar, IDS[4]).await;
    let (status, _) = order(&app, &registrar, &form).await;
    assert_eq!(status, 201);
    // Another patient's order stays.
    let (_, other_form) = baseline_draft(&app, &registrar, IDS[5]).await;
    let (_, other) = order(&app, &registrar, &other_form).await;
    assert_eq!(app.count("orders"), 2);

    let (status, res) = call(
        &app,
        "POST",
        "/api/v1/reservations",
        Some(&json!({"national_id": IDS[4].0, "received_date": days_ago(1)})),
        Some(&staff),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    assert_eq!(app.count("orders"), 1);
    assert_eq!(app.count("order_access_codes"), 1);
    assert_eq!(app.count("order_status_history"), 1);
    let (_, read) =
        call(&app, "GET", &format!("/api/v1/orders/{}", other["id"].as_str().unwrap()), None, Some(&registrar)).await;
    assert_eq!(read["status"], "ordered");
    #[derive(diesel::QueryableByName)]
    struct Detail {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        detail: Value,
    }
    let row: Detail = {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT detail FROM audit_log WHERE action = 'reservation.create'")
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(row.detail["cancelled_orders"], 1);
}
