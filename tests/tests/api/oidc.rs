//! Sign-in through an OpenID provider, against a real one: tests/oidc/provider.mjs (the certified
//! `oidc-provider` package under Node) started by each test, with HelseID's claims. A person
//! signs in through the authorization-code flow with PKCE and works with their rusreg grants; a
//! record system gets a client-credentials token and submits for the units of its own legal
//! entity only; keys rotate without a restart; tokens of another issuer or audience, expired
//! ones, ones of a refused algorithm or without the scope, a too-low security level and DPoP
//! misuse are refused.

use diesel::RunQueryDsl;
use domain::access::Role;
use domain::organisations::NodeId;
use integration_tests::oidc::{
    client, payload, person, DpopKey, Provider, Spec, ORG_CHILD, ORG_PARENT, OTHER_RESOURCE, OTHER_SCOPE, RESOURCE,
    SCOPE,
};
use integration_tests::{json, TestApp, TestDb, TEST_ID_KEY, UNIT_ALESUND, UNIT_MOLDE, UNIT_ST_OLAV};
use serde_json::Value;

use crate::fixtures::{call, IDS};

/// The organisation numbers of the test: the demo units get numbers of their own (the seeds
/// give units none).
struct Orgs {
    molde: NodeId,
    alesund: NodeId,
    st_olav: NodeId,
    /// Helse Møre og Romsdal HF, over Molde and Ålesund.
    entity: NodeId,
    entity_org: String,
    /// St. Olavs hospital HF.
    other_entity_org: String,
}

const ALESUND_ORG: &str = "999100009";
const ST_OLAV_UNIT_ORG: &str = "999100007";

fn orgs(db: &TestDb) -> Orgs {
    let mut conn = db.conn();
    diesel::sql_query(format!(
        "UPDATE org_nodes SET org_number = CASE resh_id WHEN {UNIT_ALESUND} THEN '{ALESUND_ORG}' \
         WHEN {UNIT_ST_OLAV} THEN '{ST_OLAV_UNIT_ORG}' END WHERE resh_id IN ({UNIT_ALESUND}, {UNIT_ST_OLAV})"
    ))
    .execute(&mut conn)
    .unwrap();
    let today = domain::clock::today();
    let unit = |resh| NodeId(persistence::organisations::find_by_resh_id(&mut db.conn(), resh).unwrap().unwrap().id);
    let parent = |unit: NodeId| {
        let view = persistence::organisations::find_node(&mut db.conn(), unit.0, today).unwrap();
        persistence::organisations::find_node(&mut db.conn(), view.parent_id.unwrap(), today).unwrap().node
    };
    let (molde, alesund, st_olav) = (unit(UNIT_MOLDE), unit(UNIT_ALESUND), unit(UNIT_ST_OLAV));
    let entity = parent(molde);
    Orgs {
        molde,
        alesund,
        st_olav,
        entity: NodeId(entity.id),
        entity_org: entity.org_number.unwrap(),
        other_entity_org: parent(st_olav).org_number.unwrap(),
    }
}

/// The people of the tests (HelseID pid and security level).
const ALICE_PID: &str = "15076500565";
const BOB_PID: &str = "70019950032";
const CAROL_PID: &str = "01410199935";

/// The provider of most tests: keys for RS256, ES256 and PS256; people; a web client; record
/// systems with their organisation numbers.
fn spec(o: &Orgs) -> Spec {
    let parent = &o.entity_org;
    let mut short = client("journal-short", "client_credentials", "RS256", json!({ORG_PARENT: parent}));
    short["ttl"] = json!(1);
    Spec {
        keys: json!([{"kid": "rs-1", "alg": "RS256"}, {"kid": "es-1", "alg": "ES256"}, {"kid": "ps-1", "alg": "PS256"}]),
        accounts: json!({
            "alice": person(ALICE_PID, "4"),
            "bob": person(BOB_PID, "3"),
            "carol": person(CAROL_PID, "4"),
            "dave": {"claims": {"helseid://claims/identity/security_level": "4"}},
        }),
        clients: vec![
            client("web", "authorization_code", "RS256", Value::Null),
            client("journal", "client_credentials", "ES256", json!({ORG_PARENT: parent})),
            client("journal-rs", "client_credentials", "RS256", json!({ORG_PARENT: parent})),
            client(
                "journal-alesund",
                "client_credentials",
                "RS256",
                json!({ORG_PARENT: parent, ORG_CHILD: ALESUND_ORG}),
            ),
            client(
                "journal-foreign-child",
                "client_credentials",
                "RS256",
                json!({ORG_PARENT: parent, ORG_CHILD: ST_OLAV_UNIT_ORG}),
            ),
            client("journal-foreign-parent", "client_credentials", "RS256", json!({ORG_PARENT: o.other_entity_org})),
            client("journal-unregistered", "client_credentials", "RS256", json!({ORG_PARENT: parent})),
            client("journal-ps", "client_credentials", "PS256", json!({ORG_PARENT: parent})),
            client("journal-no-org", "client_credentials", "RS256", json!({})),
            short,
        ],
    }
}

struct World {
    provider: Provider,
    app: TestApp,
    orgs: Orgs,
    /// An admin's rusreg token (password sign-in).
    admin: String,
}

async fn world(tweak: impl FnOnce(&mut api::config::Settings)) -> World {
    let db = TestDb::new();
    let orgs = orgs(&db);
    let provider = Provider::start(spec(&orgs));
    let oidc = provider.settings();
    let app = TestApp::spawn_on(db, |s| {
        s.oidc = Some(oidc);
        tweak(s);
    })
    .await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    World { provider, app, orgs, admin }
}

/// Links an identity to `user` as the admin; (status, body).
async fn link(w: &World, user: uuid::Uuid, body: Value) -> (u16, Value) {
    call(&w.app, "POST", &format!("/api/v1/users/{user}/identities"), Some(&body), Some(&w.admin)).await
}

/// Registers `client_id` for the legal entity `entity` as the admin; the client's JSON.
async fn register(w: &World, client_id: &str, entity: NodeId) -> Value {
    let body = json!({"client_id": client_id, "display_name": format!("Journal {client_id}"),
                      "legal_entity_id": entity.0, "reason": "the entity's record system"});
    let (status, body) = call(&w.app, "POST", "/api/v1/clients", Some(&body), Some(&w.admin)).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// GET /me with `token`; (status, body).
async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    call(app, "GET", "/api/v1/me", None, Some(token)).await
}

/// Registers a patient and opens a pathway at `unit` with `token`; the status of the opening.
async fn submit(app: &TestApp, token: &str, patient: (&str, i32), unit: NodeId) -> (u16, Value) {
    let body = json!({"national_id": patient.0, "sex": 2, "birth_year": patient.1});
    let (status, registered) = call(app, "POST", "/api/v1/patients", Some(&body), Some(token)).await;
    assert!(status == 201 || status == 200, "register: {status} {registered}");
    let start = (domain::clock::today() - chrono::Duration::days(10)).to_string();
    let body = json!({"patient_id": registered["id"], "unit_id": unit.0, "start_date": start, "treatment_level": 1});
    call(app, "POST", "/api/v1/pathways", Some(&body), Some(token)).await
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[actix_web::test]
async fn a_person_signs_in_through_the_authorization_code_flow_and_works_with_their_rusreg_grants() {
    let w = world(|_| {}).await;
    let alice = w.app.user_with("alice", Role::Registrar, w.orgs.molde);
    // Linked by the national id of the pid claim: only its keyed hash is stored.
    let (status, identity) = link(&w, alice, json!({"national_id": ALICE_PID})).await;
    assert_eq!(status, 201, "{identity}");
    assert_eq!(identity["national_id"], true);
    assert_eq!(identity["issuer"], w.provider.issuer.as_str());
    assert!(!identity.to_string().contains(ALICE_PID), "the id is never sent back");
    #[derive(diesel::QueryableByName)]
    struct Tag {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Bytea>)]
        pid_tag: Option<Vec<u8>>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        subject: Option<String>,
    }
    let stored: Tag =
        diesel::sql_query("SELECT pid_tag, subject FROM user_identities").get_result(&mut w.app.conn()).unwrap();
    let key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    assert_eq!(stored.pid_tag.as_deref(), Some(key.person_tag(ALICE_PID).as_slice()));
    assert_eq!(stored.subject, None);

    let token = w.provider.sign_in("web", "alice", RESOURCE, SCOPE).await;
    let claims = payload(&token);
    assert_eq!(claims["helseid://claims/identity/pid"], ALICE_PID, "a HelseID-like token: {claims}");
    let (status, me_body) = me(&w.app, &token).await;
    assert_eq!(status, 200, "{me_body}");
    assert_eq!(me_body["username"], "alice");
    assert_eq!(me_body["grants"][0]["role"], "registrar");
    // Her registrar grant at Molde: she registers there, not at St. Olavs.
    let (status, body) = submit(&w.app, &token, IDS[0], w.orgs.molde).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = submit(&w.app, &token, IDS[1], w.orgs.st_olav).await;
    assert_eq!(status, 403);
    // The audit log names her.
    #[derive(diesel::QueryableByName)]
    struct By {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        username: Option<String>,
    }
    let by: By =
        diesel::sql_query("SELECT username FROM audit_log WHERE action = 'pathway.open' AND outcome = 'success'")
            .get_result(&mut w.app.conn())
            .unwrap();
    assert_eq!(by.username.as_deref(), Some("alice"));

    // Linked by the provider's subject.
    let dave = w.app.user_with("dave", Role::Registrar, w.orgs.alesund);
    let (status, _) = link(&w, dave, json!({"subject": "dave"})).await;
    assert_eq!(status, 201);
    let dave_token = w.provider.sign_in("web", "dave", RESOURCE, SCOPE).await;
    assert_eq!(me(&w.app, &dave_token).await.1["username"], "dave");

    // A person no one linked: genuine, but not a rusreg user.
    let carol_token = w.provider.sign_in("web", "carol", RESOURCE, SCOPE).await;
    let (status, body) = me(&w.app, &carol_token).await;
    assert_eq!((status, code(&body)), (403, "identity_not_linked"));

    // Unlinking stops the token at once; the admin's changes are audited.
    let (_, list) = call(&w.app, "GET", &format!("/api/v1/users/{alice}/identities"), None, Some(&w.admin)).await;
    let iid = list[0]["id"].as_i64().unwrap();
    let res = w.app.delete(&format!("/api/v1/users/{alice}/identities/{iid}")).bearer_auth(&w.admin).send().await;
    assert_eq!(res.unwrap().status(), 204);
    let (status, body) = me(&w.app, &token).await;
    assert_eq!((status, code(&body)), (403, "identity_not_linked"));
    assert_eq!(w.app.audit_count("identity.add"), 2);
    assert_eq!(w.app.audit_count("identity.remove"), 1);
}

#[actix_web::test]
async fn identities_are_linked_by_another_admin_to_one_user_only() {
    let w = world(|_| {}).await;
    let alice = w.app.user_with("alice", Role::Registrar, w.orgs.molde);
    let bob = w.app.user_with("bob", Role::Registrar, w.orgs.molde);
    assert_eq!(link(&w, alice, json!({"national_id": ALICE_PID, "subject": "alice"})).await.0, 201);
    // The same person to a second user: refused either way.
    let (status, body) = link(&w, bob, json!({"national_id": ALICE_PID})).await;
    assert_eq!((status, code(&body)), (409, "identity_taken"));
    let (status, body) = link(&w, bob, json!({"subject": "alice"})).await;
    assert_eq!((status, code(&body)), (409, "identity_taken"));
    // Bad input, never echoed.
    let (status, body) = link(&w, bob, json!({"national_id": "1507650056x"})).await;
    assert_eq!(status, 422);
    assert!(!body.to_string().contains("1507650056x"));
    assert_eq!(link(&w, bob, json!({})).await.0, 422);
    // The admin's own account: another admin must.
    let admin_id = w.app.user_with("second-admin", Role::Admin, w.app.nation());
    let (status, body) = link(&w, admin_id, json!({"subject": "x"})).await;
    assert_eq!(status, 201, "another admin's account: {body}");
    let me_id: uuid::Uuid = me(&w.app, &w.admin).await.1["id"].as_str().unwrap().parse().unwrap();
    let (status, body) = link(&w, me_id, json!({"subject": "mine"})).await;
    assert_eq!((status, code(&body)), (403, "own_identity"));
    // Not for anyone but admins.
    let registrar = w.app.token_for(Role::Registrar, w.orgs.molde).await;
    let path = format!("/api/v1/users/{bob}/identities");
    let (status, _) = call(&w.app, "POST", &path, Some(&json!({"subject": "b"})), Some(&registrar)).await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn a_too_low_security_level_is_refused_identifiable_data_with_its_own_code() {
    let w = world(|_| {}).await;
    let bob = w.app.user_with("bob", Role::Registrar, w.orgs.molde);
    assert_eq!(link(&w, bob, json!({"national_id": BOB_PID})).await.0, 201);
    let token = w.provider.sign_in("web", "bob", RESOURCE, SCOPE).await;
    assert_eq!(payload(&token)["helseid://claims/identity/security_level"], "3");
    // His own account and the organisation tree: fine at level 3.
    assert_eq!(me(&w.app, &token).await.0, 200);
    assert_eq!(call(&w.app, "GET", "/api/v1/org-units", None, Some(&token)).await.0, 200);
    // Patients, pathways, the worklist: level 4 only.
    let body = json!({"national_id": IDS[2].0, "sex": 2, "birth_year": IDS[2].1});
    let (status, problem) = call(&w.app, "POST", "/api/v1/patients", Some(&body), Some(&token)).await;
    assert_eq!((status, code(&problem)), (403, "security_level"), "{problem}");
    let (status, problem) = call(&w.app, "GET", "/api/v1/pathways", None, Some(&token)).await;
    assert_eq!((status, code(&problem)), (403, "security_level"));
    let worklist = format!("/api/v1/units/{}/worklist", w.orgs.molde.0);
    assert_eq!(code(&call(&w.app, "GET", &worklist, None, Some(&token)).await.1), "security_level");
    assert_eq!(w.app.count("patients"), 0);
    // The refusal is audited with his name.
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N =
        diesel::sql_query("SELECT count(*) AS n FROM audit_log WHERE action = 'access.refused' AND username = 'bob'")
            .get_result(&mut w.app.conn())
            .unwrap();
    assert_eq!(n.n, 3);
}

/// Research projects and their pseudonymised extracts need security level 4 (IDENTIFIABLE_ROUTES;
/// docs/research.md, Who may): register staff signed in at level 3 get 403 `security_level`.
#[actix_web::test]
async fn research_projects_need_security_level_4() {
    let w = world(|_| {}).await;
    let bob = w.app.user_with("bob", Role::RegisterStaff, w.app.nation());
    assert_eq!(link(&w, bob, json!({"national_id": BOB_PID})).await.0, 201);
    let carol = w.app.user_with("carol", Role::RegisterStaff, w.app.nation());
    assert_eq!(link(&w, carol, json!({"national_id": CAROL_PID})).await.0, 201);
    let low = w.provider.sign_in("web", "bob", RESOURCE, SCOPE).await;
    let high = w.provider.sign_in("web", "carol", RESOURCE, SCOPE).await;
    let (status, problem) = call(&w.app, "GET", "/api/v1/research/projects", None, Some(&low)).await;
    assert_eq!((status, code(&problem)), (403, "security_level"), "{problem}");
    // A body that reads (the body is read alongside the token: a bad one may answer first).
    let key = age::x25519::Identity::generate().to_public().to_string();
    let body = json!({"title": "T", "approval_ref": "REK 1", "legal_basis": "§ 19 b",
        "recipient": {"organisation": "UiO", "contact": "PI", "public_keys": [key]},
        "variables": ["sex"], "period": {"from": "2025-01-01", "to": "2025-12-31"},
        "approved_on": "2026-01-05", "expires_on": "2099-01-01", "dates": "month"});
    let (status, problem) = call(&w.app, "POST", "/api/v1/research/projects", Some(&body), Some(&low)).await;
    assert_eq!((status, code(&problem)), (403, "security_level"), "{problem}");
    assert_eq!(w.app.count("research_projects"), 0);
    assert_eq!(call(&w.app, "POST", "/api/v1/research/projects", Some(&body), Some(&high)).await.0, 201);
    assert_eq!(call(&w.app, "GET", "/api/v1/research/projects", None, Some(&high)).await.0, 200);
}

/// The FHIR routes that show identifiable data need security level 4 too (IDENTIFIABLE_ROUTES);
/// the definitions and the organisation tree do not. The refusal is an OperationOutcome.
#[actix_web::test]
async fn fhir_routes_with_identifiable_data_need_security_level_4() {
    let w = world(|_| {}).await;
    let bob = w.app.user_with("bob", Role::Registrar, w.orgs.molde);
    assert_eq!(link(&w, bob, json!({"national_id": BOB_PID})).await.0, 201);
    let token = w.provider.sign_in("web", "bob", RESOURCE, SCOPE).await;
    assert_eq!(payload(&token)["helseid://claims/identity/security_level"], "3");
    for open in ["/fhir/metadata", "/fhir/Questionnaire/baseline", "/fhir/Organization", "/fhir/Measure"] {
        assert_eq!(call(&w.app, "GET", open, None, Some(&token)).await.0, 200, "{open}");
    }
    let id = uuid::Uuid::new_v4();
    for identifiable in [
        format!("/fhir/Patient/{id}"),
        format!("/fhir/Patient?_id={id}"),
        format!("/fhir/EpisodeOfCare/{id}"),
        "/fhir/EpisodeOfCare".to_owned(),
        format!("/fhir/QuestionnaireResponse/{id}"),
        format!("/fhir/QuestionnaireResponse?subject=EpisodeOfCare/{id}"),
    ] {
        let res = w.app.get(&identifiable).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 403, "{identifiable}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/fhir+json"));
        let outcome: Value = res.json().await.unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(outcome["issue"][0]["details"]["coding"][0]["code"], "security_level", "{outcome}");
    }
}

#[actix_web::test]
async fn a_record_system_submits_for_the_units_of_its_own_legal_entity_only() {
    let w = world(|_| {}).await;
    for id in ["journal", "journal-alesund", "journal-foreign-child", "journal-foreign-parent", "journal-no-org"] {
        register(&w, id, w.orgs.entity).await;
    }
    let listed = call(&w.app, "GET", "/api/v1/clients", None, Some(&w.admin)).await.1;
    assert_eq!(listed["total"], 5);
    let registered = &listed["items"].as_array().unwrap().iter().find(|c| c["client_id"] == "journal").unwrap().clone();
    assert_eq!(registered["org_number"], w.orgs.entity_org.as_str());
    assert_eq!(registered["grants"][0]["role"], "registrar");
    assert_eq!(registered["grants"][0]["node_id"], w.orgs.entity.0);
    assert_eq!(w.app.audit_count("client.register"), 5);

    // A machine token (ES256): every unit of its entity, no other.
    let token = w.provider.system_token("journal").await;
    assert_eq!(payload(&token)[ORG_PARENT], w.orgs.entity_org.as_str());
    let (status, me_body) = me(&w.app, &token).await;
    assert_eq!(status, 200, "{me_body}");
    assert!(me_body["username"].as_str().unwrap().starts_with("system.journal."));
    assert_eq!(submit(&w.app, &token, IDS[0], w.orgs.molde).await.0, 201);
    assert_eq!(submit(&w.app, &token, IDS[1], w.orgs.alesund).await.0, 201);
    let (status, body) = submit(&w.app, &token, IDS[2], w.orgs.st_olav).await;
    assert_eq!(status, 403, "another entity's unit: {body}");

    // A child organisation number of one of its units narrows it to that unit.
    let token = w.provider.system_token("journal-alesund").await;
    assert_eq!(submit(&w.app, &token, IDS[3], w.orgs.alesund).await.0, 201);
    assert_eq!(submit(&w.app, &token, IDS[4], w.orgs.molde).await.0, 403);

    // HelseID does not check the child number: a unit of another entity is refused here.
    let token = w.provider.system_token("journal-foreign-child").await;
    let (status, body) = me(&w.app, &token).await;
    assert_eq!((status, code(&body)), (403, "organisation_mismatch"));
    // Another entity's number as the parent, or none.
    for id in ["journal-foreign-parent", "journal-no-org"] {
        let token = w.provider.system_token(id).await;
        let (status, body) = me(&w.app, &token).await;
        assert_eq!((status, code(&body)), (403, "organisation_mismatch"), "{id}");
    }
    // A client rusreg does not know.
    let token = w.provider.system_token("journal-unregistered").await;
    let (status, body) = me(&w.app, &token).await;
    assert_eq!((status, code(&body)), (403, "client_not_registered"));

    // No password for a system's user; revoking the client stops its tokens at once.
    let user = registered["user_id"].as_str().unwrap();
    let res = w
        .app
        .patch(&format!("/api/v1/users/{user}"), &json!({"password": "a long enough password"}))
        .bearer_auth(&w.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let token = w.provider.system_token("journal").await;
    let id = registered["id"].as_i64().unwrap();
    let (status, revoked) = {
        let res = w.app.delete(&format!("/api/v1/clients/{id}")).bearer_auth(&w.admin).send().await.unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["grants"], json!([]));
    let (status, body) = me(&w.app, &token).await;
    assert_eq!((status, code(&body)), (403, "client_not_registered"));
    assert_eq!(w.app.audit_count("client.revoke"), 1);
    // Registered again later: a new user of its own.
    let again = register(&w, "journal", w.orgs.entity).await;
    assert_ne!(again["user_id"], registered["user_id"]);
    assert_eq!(me(&w.app, &token).await.0, 200);
}

#[actix_web::test]
async fn the_providers_keys_rotate_without_a_restart_of_rusreg() {
    let db = TestDb::new();
    let orgs = orgs(&db);
    let mut spec = spec(&orgs);
    spec.keys = json!([{"kid": "rs-1", "alg": "RS256"}, {"kid": "es-1", "alg": "ES256"}]);
    let provider = Provider::start(spec);
    let mut oidc = provider.settings();
    oidc.jwks_max_age_seconds = 2;
    let app = TestApp::spawn_on(db, |s| s.oidc = Some(oidc)).await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let mut w = World { provider, app, orgs, admin };
    register(&w, "journal-rs", w.orgs.entity).await;
    let old = w.provider.system_token("journal-rs").await;
    assert_eq!(me(&w.app, &old).await.0, 200);

    // A new key is published and signs from now on; the old one is still published.
    w.provider.restart_with_keys(json!([{"kid": "rs-2", "alg": "RS256"}, {"kid": "rs-1", "alg": "RS256"}]));
    let new = w.provider.system_token("journal-rs").await;
    assert_ne!(
        jsonwebtoken::decode_header(&new).unwrap().kid,
        jsonwebtoken::decode_header(&old).unwrap().kid,
        "signed with the new key"
    );
    assert_eq!(me(&w.app, &new).await.0, 200, "an unknown key id fetches the key set again");
    assert_eq!(me(&w.app, &old).await.0, 200);

    // The old key is withdrawn: once rusreg's cached set is older than its maximum age, tokens
    // signed with it are refused.
    w.provider.restart_with_keys(json!([{"kid": "rs-2", "alg": "RS256"}]));
    assert_eq!(w.provider.jwks().await["keys"].as_array().unwrap().len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, body) = me(&w.app, &old).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(me(&w.app, &new).await.0, 200);
}

#[actix_web::test]
async fn while_the_provider_is_down_its_tokens_get_503_until_its_keys_are_held_and_passwords_still_work() {
    let mut w = world(|_| {}).await;
    register(&w, "journal", w.orgs.entity).await;
    let token = w.provider.system_token("journal").await;
    // Down before rusreg ever fetched its keys: the token cannot be checked.
    w.provider.stop();
    let res = w.app.get("/api/v1/me").bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "provider_unavailable");
    assert_eq!(me(&w.app, &w.admin).await.0, 200, "rusreg's own tokens do not need the provider");
    // Back: the keys are fetched; down again: the keys held are used.
    w.provider.restart_with_keys(json!([{"kid": "rs-1", "alg": "RS256"}, {"kid": "es-1", "alg": "ES256"}]));
    assert_eq!(me(&w.app, &token).await.0, 200);
    w.provider.stop();
    assert_eq!(me(&w.app, &token).await.0, 200);
}

#[actix_web::test]
async fn tokens_of_another_issuer_or_audience_expired_or_of_a_refused_algorithm_are_refused() {
    let w = world(|s| {
        if let Some(o) = s.oidc.as_mut() {
            o.leeway_seconds = 0;
        }
    })
    .await;
    for id in ["journal", "journal-ps", "journal-short"] {
        register(&w, id, w.orgs.entity).await;
    }
    let good = w.provider.system_token("journal").await;
    assert_eq!(me(&w.app, &good).await.0, 200);
    let refused = |detail: &'static str| {
        move |(status, body): (u16, Value)| {
            assert_eq!(status, 401, "{body}");
            assert!(body["detail"].as_str().unwrap().contains(detail), "{detail}: {body}");
        }
    };

    // Another issuer with the very same keys: the signature holds, the issuer does not.
    let twin = w.provider.twin();
    assert_ne!(twin.issuer, w.provider.issuer);
    let foreign = twin.system_token("journal").await;
    refused("another issuer")(me(&w.app, &foreign).await);

    // A token for another API of the provider.
    let other = w.provider.client_credentials("journal", OTHER_SCOPE, OTHER_RESOURCE, None).await;
    refused("another audience")(me(&w.app, other["access_token"].as_str().unwrap()).await);

    // Expired (a one-second token, no leeway).
    let short = w.provider.system_token("journal-short").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    refused("expired")(me(&w.app, &short).await);

    // PS256 is not among the algorithms pinned for this provider (RS256, ES256).
    let ps = w.provider.system_token("journal-ps").await;
    assert_eq!(jsonwebtoken::decode_header(&ps).unwrap().alg, jsonwebtoken::Algorithm::PS256);
    refused("algorithm")(me(&w.app, &ps).await);

    // Without rusreg's scope.
    let answer = w.provider.client_credentials("journal", "", RESOURCE, None).await;
    let token = answer["access_token"].as_str().unwrap();
    assert!(payload(token).get("scope").is_none());
    refused("scope")(me(&w.app, token).await);

    // The provider's token with its signature changed, and a token forged with the provider's
    // public key as an HS256 secret (algorithm confusion): both refused.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_eq!(me(&w.app, &parts.join(".")).await.0, 401);
    let jwks = w.provider.jwks().await;
    let public = serde_json::to_vec(&jwks["keys"][0]).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("rs-1".into());
    let forged =
        jsonwebtoken::encode(&header, &payload(&good), &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();
    assert_eq!(me(&w.app, &forged).await.0, 401);
    // Refusals are audited.
    assert!(w.app.audit_count("access.refused") >= 6);
}

#[actix_web::test]
async fn a_dpop_proof_taken_by_one_instance_is_refused_by_another_on_the_same_database() {
    // Two rusreg instances behind one public address, over one database (what a load balancer
    // in front of two processes gives). Before the proofs were recorded in PostgreSQL, each
    // process remembered its own, and the second instance accepted the replay.
    let public = "https://rusreg.test";
    let w = world(|s| s.public_url = Some(public.to_owned())).await;
    let oidc = w.provider.settings();
    let other = w.app.serve_another(|s| {
        s.oidc = Some(oidc);
        s.public_url = Some(public.to_owned());
    });
    register(&w, "journal", w.orgs.entity).await;
    let key = DpopKey::generate();
    let answer = w.provider.client_credentials("journal", SCOPE, RESOURCE, Some(&key)).await;
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let htu = format!("{public}/api/v1/me");
    let send = |base: String, proof: String| {
        let req = w
            .app
            .client
            .get(format!("{base}/api/v1/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("DPoP", proof);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let proof = key.proof("GET", &htu, Some(&token));
    assert_eq!(send(w.app.addr.clone(), proof.clone()).await, 200);
    assert_eq!(send(other.clone(), proof.clone()).await, 401, "replayed at the other instance");
    assert_eq!(send(w.app.addr.clone(), proof).await, 401, "replayed at the first");
    // A fresh proof is taken at either.
    assert_eq!(send(other, key.proof("GET", &htu, Some(&token))).await, 200);
    // What is stored is a hash with its end, nothing of the proof itself.
    use diesel::prelude::*;
    let keys: Vec<String> = persistence::schema::dpop_proofs::table
        .select(persistence::schema::dpop_proofs::key)
        .load(&mut w.app.conn())
        .unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.len() == 64 && k.chars().all(|c| c.is_ascii_hexdigit())));
}

#[actix_web::test]
async fn dpop_bound_tokens_need_a_fresh_proof_of_their_key_for_the_request() {
    let w = world(|_| {}).await;
    register(&w, "journal", w.orgs.entity).await;
    let key = DpopKey::generate();
    let answer = w.provider.client_credentials("journal", SCOPE, RESOURCE, Some(&key)).await;
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    let token = answer["access_token"].as_str().unwrap().to_owned();
    assert!(payload(&token)["cnf"]["jkt"].is_string(), "bound to the key");
    let url = w.app.url("/api/v1/me");
    let send = |scheme: &str, proof: Option<String>| {
        let mut req = w.app.client.get(&url).header("authorization", format!("{scheme} {token}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(send("DPoP", Some(key.proof("GET", &url, Some(&token)))).await.0, 200);
    // As a bearer token, without a proof, with a proof used before, for another URL or method,
    // of another key, without the token's hash, or too old: refused.
    assert_eq!(send("Bearer", None).await.0, 401);
    assert_eq!(send("DPoP", None).await.0, 401);
    let proof = key.proof("GET", &url, Some(&token));
    assert_eq!(send("DPoP", Some(proof.clone())).await.0, 200);
    assert_eq!(send("DPoP", Some(proof)).await.0, 401, "replayed");
    assert_eq!(send("DPoP", Some(key.proof("GET", &w.app.url("/api/v1/org-units"), Some(&token)))).await.0, 401);
    assert_eq!(send("DPoP", Some(key.proof("POST", &url, Some(&token)))).await.0, 401);
    assert_eq!(send("DPoP", Some(DpopKey::generate().proof("GET", &url, Some(&token)))).await.0, 401);
    assert_eq!(send("DPoP", Some(key.proof("GET", &url, None))).await.0, 401);
    let old = chrono::Utc::now().timestamp() - 600;
    assert_eq!(send("DPoP", Some(key.proof_at("GET", &url, Some(&token), old))).await.0, 401);
    // A write with a proof of its own.
    let body = json!({"national_id": IDS[0].0, "sex": 2, "birth_year": IDS[0].1});
    let patients = w.app.url("/api/v1/patients");
    let res = w
        .app
        .client
        .post(&patients)
        .header("authorization", format!("DPoP {token}"))
        .header("DPoP", key.proof("POST", &patients, Some(&token)))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[actix_web::test]
async fn when_dpop_is_required_a_bearer_token_of_the_provider_is_refused() {
    let w = world(|s| {
        if let Some(o) = s.oidc.as_mut() {
            o.require_dpop = true;
        }
    })
    .await;
    register(&w, "journal", w.orgs.entity).await;
    let bearer = w.provider.system_token("journal").await;
    let (status, body) = me(&w.app, &bearer).await;
    assert_eq!(status, 401);
    assert!(body["detail"].as_str().unwrap().contains("DPoP"), "{body}");
    let key = DpopKey::generate();
    let bound = w.provider.client_credentials("journal", SCOPE, RESOURCE, Some(&key)).await;
    let token = bound["access_token"].as_str().unwrap();
    let url = w.app.url("/api/v1/me");
    let res = w
        .app
        .client
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("DPoP", key.proof("GET", &url, Some(token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn with_passwords_switched_off_only_the_providers_tokens_open_rusreg() {
    let db = TestDb::new();
    let orgs = orgs(&db);
    let provider = Provider::start(spec(&orgs));
    let oidc = provider.settings();
    let app = TestApp::spawn_on(db, |s| {
        s.oidc = Some(oidc);
        s.password_login = false;
    })
    .await;
    // The operator's admin signs in through the provider too (linked here directly).
    let admin = app.user_with("admin-alice", Role::Admin, app.nation());
    let other_admin = app.user_with("admin-other", Role::Admin, app.nation());
    {
        let mut conn = app.conn();
        let actor = app::access::actor_of(&mut conn, other_admin, None).unwrap().unwrap();
        let caller = app::Caller::new(actor, None);
        let key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
        let input = app::identities::NewIdentity {
            issuer: provider.issuer.clone(),
            subject: None,
            national_id: Some(ALICE_PID.into()),
        };
        app::identities::add_identity(&mut conn, &caller, &key, admin, input).unwrap();
    }
    let res = app
        .post("/api/v1/auth/token", &json!({"username": "admin-alice", "password": integration_tests::TEST_PASSWORD}));
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "password_login_disabled");
    // A token of rusreg's own (as password sign-in would have issued) is refused too.
    let generation = persistence::users::find(&mut app.conn(), admin).unwrap().token_generation;
    let tokens = api::tokens::Tokens::new(integration_tests::TEST_JWT_SECRET, 15);
    let own = tokens.issue(admin, generation, chrono::Utc::now()).unwrap();
    assert_eq!(me(&app, &own).await.0, 401);
    let token = provider.sign_in("web", "alice", RESOURCE, SCOPE).await;
    let (status, body) = me(&app, &token).await;
    assert_eq!((status, body["username"].as_str()), (200, Some("admin-alice")));
    // She administers through the provider: registers a record system.
    let body = json!({"client_id": "journal", "display_name": "Journal", "legal_entity_id": orgs.entity.0});
    let (status, client) = call(&app, "POST", "/api/v1/clients", Some(&body), Some(&token)).await;
    assert_eq!(status, 201, "{client}");
    let system = provider.system_token("journal").await;
    assert_eq!(submit(&app, &system, IDS[0], orgs.molde).await.0, 201);
}

#[actix_web::test]
async fn the_openapi_document_describes_the_providers_tokens_and_the_new_endpoints() {
    let w = world(|_| {}).await;
    let doc: Value = w.app.get("/api/v1/openapi.json").send().await.unwrap().json().await.unwrap();
    let scheme = &doc["components"]["securitySchemes"]["oidc"];
    assert_eq!(scheme["type"], "openIdConnect");
    assert_eq!(scheme["openIdConnectUrl"], format!("{}/.well-known/openid-configuration", w.provider.issuer));
    assert!(scheme["description"].as_str().unwrap().contains("DPoP"));
    let me_security = &doc["paths"]["/api/v1/me"]["get"]["security"];
    assert!(me_security.as_array().unwrap().iter().any(|s| s.get("oidc").is_some()), "{me_security}");
    for path in [
        "/api/v1/users/{id}/identities",
        "/api/v1/users/{id}/identities/{iid}",
        "/api/v1/clients",
        "/api/v1/clients/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    // Without a provider the scheme is still described (as a bearer JWT).
    let plain = TestApp::spawn().await;
    let doc: Value = plain.get("/api/v1/openapi.json").send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["components"]["securitySchemes"]["oidc"]["type"], "http");
}
