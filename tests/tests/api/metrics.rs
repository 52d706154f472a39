//! `/metrics` is no public endpoint: on the API listener it needs the metrics token (404 when none
//! is configured); a separate metrics listener serves it, and nothing else, without a token.

use integration_tests::TestApp;
use serde_json::Value;

const TOKEN: &str = "metrics-token-0123456789-abcdefghijklmnop";

#[actix_web::test]
async fn metrics_are_not_served_on_the_api_listener_without_configuration() {
    let app = TestApp::spawn().await;
    let res = app.get("/metrics").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app.get("/metrics").bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn metrics_on_the_api_listener_need_the_right_token() {
    let app = TestApp::spawn_with(|s| s.metrics_token = Some(TOKEN.into())).await;
    assert_eq!(app.get("/health/live").send().await.unwrap().status(), 200);
    let res = app.get("/metrics").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "unauthenticated");
    let res = app.get("/metrics").bearer_auth(format!("{TOKEN}x")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = app.get("/metrics").bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("rusreg_http_requests_total"), "{text}");
}

#[actix_web::test]
async fn a_separate_metrics_listener_serves_metrics_and_nothing_else() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::spawn_with(|s| s.metrics_bind = Some(format!("127.0.0.1:{port}"))).await;
    let metrics = format!("http://127.0.0.1:{port}");
    assert_eq!(app.get("/health/live").send().await.unwrap().status(), 200);
    let res = app.client.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("rusreg_http_requests_total"));
    for path in ["/health/live", "/api/v1/me", "/docs/", "/api/v1/openapi.json"] {
        let res = app.client.get(format!("{metrics}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path} on the metrics listener");
    }
    // The API listener still refuses it (no token configured).
    assert_eq!(app.get("/metrics").send().await.unwrap().status(), 404);
    assert_eq!(app.get("/health/live").send().await.unwrap().status(), 200);
}
