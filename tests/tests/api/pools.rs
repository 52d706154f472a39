//! A request that finds no free connection in time is 503 with `Retry-After`, on the primary
//! pool and on the reports pool.

use std::net::TcpListener;
use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool};
use diesel::PgConnection;
use domain::access::Role;
use integration_tests::{json, TestDb, TEST_ID_KEY, TEST_JWT_SECRET, TEST_PASSWORD, UNIT_MOLDE};
use serde_json::Value;

fn small_pool(url: &str) -> persistence::DbPool {
    Pool::builder()
        .max_size(1)
        .connection_timeout(Duration::from_millis(300))
        .build(ConnectionManager::<PgConnection>::new(url))
        .unwrap()
}

#[actix_web::test]
async fn a_pool_timeout_is_503_with_retry_after() {
    let db = TestDb::new();
    let (pool, reports_pool) = (small_pool(&db.url), small_pool(&db.url));
    let mut settings = api::config::Settings::defaults();
    settings.jwt_secret = Some(TEST_JWT_SECRET.to_vec());
    let id_key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    let state = api::build_state(settings, pool.clone(), reports_pool.clone(), TEST_JWT_SECRET, id_key).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let _served = integration_tests::Served::start(state, listener);
    let client = reqwest::Client::new();

    {
        let mut conn = db.conn();
        let unit = persistence::organisations::find_by_resh_id(&mut conn, UNIT_MOLDE).unwrap().unwrap().id;
        app::users::ensure_user_with_grant(
            &mut conn,
            "pool-probe",
            "pool-probe",
            TEST_PASSWORD,
            Role::Registrar,
            domain::organisations::NodeId(unit),
        )
        .unwrap();
    }
    let login: Value = client
        .post(format!("{addr}/api/v1/auth/token"))
        .json(&json!({"username": "pool-probe", "password": TEST_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(client.get(format!("{addr}/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), 200);

    // The primary pool's one connection is taken: the next request waits 300 ms and gives up.
    let held = pool.get().unwrap();
    let res = client.get(format!("{addr}/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let retry: u64 = res.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "unavailable");
    drop(held);
    assert_eq!(client.get(format!("{addr}/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), 200);

    // The same on the reports pool (the public results read there).
    let held = reports_pool.get().unwrap();
    let res = client.get(format!("{addr}/api/v1/public/indicators")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    drop(held);
}
