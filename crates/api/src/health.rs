//! Liveness, readiness (the database answers) and Prometheus metrics, outside /api/v1.
//!
//! `/metrics` is served on the metrics listener (`RUSREG_METRICS_BIND`, which serves nothing
//! else) and, on the API listener, only to `Authorization: Bearer <RUSREG_METRICS_TOKEN>`; with
//! neither configured the API listener answers 404, as for a path that does not exist.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// Middleware: counts every request and records its latency.
pub async fn measure(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        let route = res.request().match_pattern().unwrap_or_else(|| "(unmatched)".into());
        let method = res.request().method().as_str().to_owned();
        state.metrics.observe(&method, &route, res.status().as_str(), start.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "live"}))
}

/// The database answers.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200), (status = 503, body = crate::error::Problem)))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.run_db(|conn| persistence::pool::ping(conn).map_err(|_| ApiError::Unavailable)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

/// The local address of the metrics listener (app data, when `RUSREG_METRICS_BIND` is set).
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener(pub std::net::SocketAddr);

fn on_metrics_listener(req: &HttpRequest) -> bool {
    req.app_data::<MetricsListener>().is_some_and(|m| req.app_config().local_addr() == m.0)
}

/// Whether the request carries `Authorization: Bearer <token>` (compared as SHA-256 digests, so
/// the time taken says nothing about how much of the token matched).
fn bearer_matches(req: &HttpRequest, token: &str) -> bool {
    let sent = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    Sha256::digest(sent.as_bytes()) == Sha256::digest(token.as_bytes())
}

/// Middleware: the metrics listener serves `/metrics` and nothing else (404).
pub async fn metrics_listener_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    if on_metrics_listener(req.request()) && req.path() != "/metrics" {
        let res = actix_web::ResponseError::error_response(&ApiError::NotFound);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Prometheus text format. Holds no personal data: counts and latencies by route pattern. On the
/// API listener it needs the metrics token (`RUSREG_METRICS_TOKEN`), and is 404 without one
/// configured; the metrics listener (`RUSREG_METRICS_BIND`) serves it without a token.
#[utoipa::path(get, path = "/metrics", tag = "health", security(("metrics_token" = [])),
    responses((status = 200, content_type = "text/plain"), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !on_metrics_listener(&req) {
        match &state.settings.metrics_token {
            None => return Err(ApiError::NotFound),
            Some(token) if !bearer_matches(&req, token) => {
                return Err(ApiError::Unauthenticated("the metrics token is missing or wrong"))
            }
            Some(_) => {}
        }
    }
    let buf = state.metrics.text().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(buf))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}
