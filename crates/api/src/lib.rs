//! rusreg HTTP API: routes, extractors (the authenticated user), access checks, DTOs, the
//! OpenAPI document and Swagger UI, and the mapping of every error to a problem document.
//!
//! `app_config` mounts every feature; `serve` runs it on a listener. The binary and the tests
//! start the same app.

pub mod audit;
pub mod auth;
pub mod background;
pub mod config;
pub mod directory;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod forms;
pub mod health;
pub mod identities;
pub mod imports;
pub mod login_limits;
pub mod metrics;
pub mod oidc;
pub mod openapi;
pub mod orders;
pub mod organisations;
pub mod pagination;
pub mod pathways;
pub mod patient_pages;
pub mod patients;
pub mod reports;
pub mod research;
pub mod reservations;
pub mod residence;
pub mod results;
pub mod state;
pub mod tokens;
pub mod users;
pub mod worklist;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, ErrorHandlers, Next};
use actix_web::{web, App, HttpMessage, HttpServer};
use persistence::DbPool;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder, TracingLogger};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::Tokens;
use crate::config::Settings;
use crate::error::ApiError;
use crate::state::AppState;

/// Builds the shared state: pools, settings, token keys and the dummy hash.
pub fn build_state(
    settings: Settings,
    pool: DbPool,
    reports_pool: DbPool,
    jwt_secret: &[u8],
    id_key: domain::national_id::IdKey,
) -> Result<AppState, ApiError> {
    let dummy_hash = auth::hash_password(&uuid::Uuid::new_v4().to_string())?;
    let tokens = Tokens::new(jwt_secret, settings.token_minutes);
    let metrics = metrics::Metrics::new().map_err(ApiError::internal)?;
    let login_limits =
        login_limits::LoginLimits::new(settings.login_limit_per_address, settings.login_limit_per_username);
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    let oidc = settings.oidc.clone().map(oidc::Provider::new).transpose()?.map(Arc::new);
    Ok(AppState {
        oidc,
        login_limits: Arc::new(login_limits),
        patient_limits: Arc::new(login_limits::LoginLimits::new(settings.login_limit_per_address, 0)),
        patient_sessions: Arc::new(patient_pages::PatientSessions::new(jwt_secret)),
        login_slots: Arc::new(tokio::sync::Semaphore::new((cores / 2).max(1))),
        public_cache: Arc::default(),
        pool,
        reports_pool,
        settings: Arc::new(settings),
        tokens,
        dummy_hash,
        metrics,
        id_key: Arc::new(id_key),
        import_wake: Arc::default(),
        release_wake: Arc::default(),
    })
}

/// Sends the request id (from TracingLogger) back as `x-request-id`.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().map(|r| r.to_string());
    let mut res = next.call(req).await?;
    if let Some(v) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

/// The root span of each request: tracing-actix-web's fields, but the target is the route
/// pattern (`/api/v1/pathways/{id}`), never the path and query the client sent, which may hold
/// anything (a national id in a path or query is then never logged).
pub struct RouteSpan;

impl RootSpanBuilder for RouteSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "(unmatched)".into());
        let method = request.method().as_str().to_owned();
        let request_id = request.extensions().get::<RequestId>().map(|r| r.to_string()).unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.target = %route,
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Mounts every route of the API under /api/v1, plus health, metrics and the docs (`doc`: the
/// OpenAPI document, [`openapi::document`]).
pub fn app_config(
    cfg: &mut web::ServiceConfig,
    body_limit: usize,
    import_body_limit: usize,
    doc: utoipa::openapi::OpenApi,
) {
    extract::configure(cfg, body_limit);
    // The docs first: their /api/v1/openapi.json route must match before the /api/v1 scope.
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", doc))
        .service(web::redirect("/docs", "/docs/"))
        .configure(health::configure)
        .configure(results::configure)
        .configure(directory::configure_page)
        .configure(patient_pages::configure)
        .configure(fhir::configure)
        .service(
            web::scope("/api/v1")
                .configure(auth::configure)
                .configure(organisations::configure)
                .configure(users::configure)
                .configure(identities::configure)
                .configure(audit::configure)
                .configure(patients::configure)
                .configure(pathways::configure)
                .configure(forms::configure)
                .configure(|cfg| imports::configure(cfg, import_body_limit))
                .configure(|cfg| residence::configure(cfg, import_body_limit))
                .configure(reservations::configure)
                .configure(research::configure)
                .configure(orders::configure)
                .configure(worklist::configure)
                .configure(reports::configure)
                .configure(directory::configure),
        )
        .default_service(web::to(not_found));
}

/// Runs the app on `listener` with `workers` threads (None: one per core), and on the metrics
/// listener `RUSREG_METRICS_BIND` when it is set.
pub fn serve(state: AppState, listener: TcpListener, workers: Option<usize>) -> std::io::Result<Server> {
    let metrics = state.settings.metrics_bind.as_deref().map(TcpListener::bind).transpose()?;
    serve_with_metrics(state, listener, metrics, workers)
}

/// Runs the app on `listener`, and on `metrics` (which serves only `/metrics`, without a token).
pub fn serve_with_metrics(
    state: AppState,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let (body_limit, import_body_limit) = (state.settings.body_limit, state.settings.import_body_limit);
    let doc = openapi::document(state.settings.oidc.as_ref());
    let metrics_addr = metrics.as_ref().map(TcpListener::local_addr).transpose()?.map(health::MetricsListener);
    let state = web::Data::new(state);
    // The import worker runs until the last handle of the state is dropped with the server.
    imports::spawn_worker(std::sync::Arc::downgrade(&state.clone().into_inner()));
    reports::spawn_release_worker(std::sync::Arc::downgrade(&state.clone().into_inner()));
    let mut server = HttpServer::new(move || {
        let mut app = App::new().app_data(state.clone());
        if let Some(m) = metrics_addr {
            app = app.app_data(m);
        }
        app.wrap(ErrorHandlers::new().default_handler(error::problem_for_plain_errors))
            .wrap(from_fn(audit::record_refusals))
            .wrap(from_fn(health::measure))
            .wrap(from_fn(health::metrics_listener_only))
            .wrap(from_fn(request_id_header))
            .wrap(TracingLogger::<RouteSpan>::new())
            .configure(|cfg| app_config(cfg, body_limit, import_body_limit, doc.clone()))
    })
    // The binary handles SIGINT and SIGTERM itself (both stop gracefully); actix's own handler
    // would treat SIGINT as a forced stop that cuts requests in flight.
    .disable_signals()
    .listen(listener)?;
    if let Some(m) = metrics {
        server = server.listen(m)?;
    }
    if let Some(w) = workers {
        server = server.workers(w);
    }
    Ok(server.run())
}
