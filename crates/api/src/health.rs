//! Liveness, readiness (the database answers) and Prometheus metrics, outside /api/v1.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

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

/// Prometheus text format. Holds no personal data: counts and latencies by route pattern.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let buf = state.metrics.text().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(buf))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}
