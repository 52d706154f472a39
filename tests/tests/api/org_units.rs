//! The organisation tree: reference data, creating, renaming and moving nodes, link history.

use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

#[actix_web::test]
async fn the_reference_tree_has_four_regions_and_their_trusts() {
    let app = TestApp::spawn().await;
    let token = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let regions: Value =
        app.get("/api/v1/org-units?kind=region").bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(regions["total"], 4);
    let midt = regions["items"].as_array().unwrap().iter().find(|r| r["org_number"] == "983658776").unwrap();
    let entities: Value = app
        .get(&format!("/api/v1/org-units?kind=legal_entity&parent={}", midt["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<&str> =
        entities["items"].as_array().unwrap().iter().map(|e| e["org_number"].as_str().unwrap()).collect();
    for n in ["983974791", "883974832", "997005562"] {
        assert!(numbers.contains(&n), "{n} under Helse Midt-Norge");
    }
    // Demo units are marked as such.
    let units: Value = app
        .get("/api/v1/org-units?kind=unit&per_page=500")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(units["items"].as_array().unwrap().iter().all(|u| u["is_demo"] == true));
}

#[actix_web::test]
async fn an_admin_creates_renames_and_moves_a_unit_and_each_change_is_audited() {
    let app = TestApp::spawn().await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let molde_entity = app.entity_of(app.unit(UNIT_MOLDE));
    let st_olav_entity = app.entity_of(app.unit(UNIT_ST_OLAV));
    let res = app
        .post(
            "/api/v1/org-units",
            &json!({"kind": "unit", "name": "Kristiansund poliklinikk (demo)", "resh_id": 9_100_001,
                    "parent_id": molde_entity.0, "valid_from": "2024-01-01", "is_demo": true}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["parent_id"], molde_entity.0);

    let res = app
        .patch(&format!("/api/v1/org-units/{id}"), &json!({"name": "Kristiansund DPS (demo)"}))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["name"], "Kristiansund DPS (demo)");

    let res = app
        .post(
            &format!("/api/v1/org-units/{id}/links"),
            &json!({"parent_id": st_olav_entity.0, "valid_from": "2025-07-01"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let moved: Value = res.json().await.unwrap();
    assert_eq!(moved["parent_id"], st_olav_entity.0);
    let links = moved["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["valid_to"], "2025-07-01");
    assert_eq!(links[1]["valid_to"], Value::Null);
    // As registered on a day before the move, the unit was under the first entity.
    let then: Value = app
        .get(&format!("/api/v1/org-units?kind=unit&parent={}&on=2025-01-01&per_page=500", molde_entity.0))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(then["items"].as_array().unwrap().iter().any(|u| u["id"] == id));
    // A move that starts before the current link is a conflict; to a unit is a level error.
    let res = app
        .post(
            &format!("/api/v1/org-units/{id}/links"),
            &json!({"parent_id": molde_entity.0, "valid_from": "2025-01-01"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = app
        .post(
            &format!("/api/v1/org-units/{id}/links"),
            &json!({"parent_id": app.unit(UNIT_MOLDE).0, "valid_from": "2026-01-01"}),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(app.audit_count("org_unit.create"), 1);
    assert_eq!(app.audit_count("org_unit.update"), 1);
    assert_eq!(app.audit_count("org_link.create"), 1);
}

#[actix_web::test]
async fn every_seeded_unit_has_an_organisation_number_a_client_can_narrow_to() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let missing: N =
        diesel::sql_query("SELECT count(*) AS n FROM org_nodes WHERE kind = 'unit' AND org_number IS NULL")
            .get_result(&mut app.conn())
            .unwrap();
    assert_eq!(missing.n, 0);
    // A record system's client registered for Molde's legal entity, narrowed to the unit by its
    // number as `orgnr_child`: its registrar grant moves down to the unit.
    let today = domain::clock::today();
    let mut conn = app.conn();
    let unit = persistence::organisations::find_node(&mut conn, app.unit(UNIT_MOLDE).0, today).unwrap().node;
    let entity =
        persistence::organisations::find_node(&mut conn, app.entity_of(app.unit(UNIT_MOLDE)).0, today).unwrap().node;
    let admin = app.user_with("seed-admin", Role::Admin, app.nation());
    let caller = app::Caller::new(app::access::actor_of(&mut conn, admin, None).unwrap().unwrap(), None);
    let client = app::identities::NewClient {
        issuer: "https://helseid.example".into(),
        client_id: "record-system".into(),
        display_name: "Record system".into(),
        legal_entity_id: entity.id,
        reason: None,
    };
    app::identities::register_client(&mut conn, &caller, client, today).unwrap();
    let actor = app::identities::client_actor(
        &mut conn,
        "https://helseid.example",
        "record-system",
        entity.org_number.as_deref(),
        unit.org_number.as_deref(),
        today,
    )
    .unwrap()
    .unwrap();
    let nodes: Vec<i64> = actor.grants.iter().map(|g| g.node.0).collect();
    assert_eq!(nodes, vec![unit.id]);
}
