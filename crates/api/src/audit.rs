//! The audit log over HTTP (`GET /audit`, register staff) and the middleware that writes a row
//! for every refused request (401 for a bad token, 403, and 404s that hide an out-of-scope target).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use app::audit_log::{AuditSearch, Refusal};
use chrono::{DateTime, Utc};
use persistence::audit::AuditRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::{AuthInfo, AuthUser};
use crate::error::{ApiError, Refused};
use crate::extract::Query;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<Uuid>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub unit_id: Option<i64>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// The internal patient id, when the action concerned a patient.
    pub patient_id: Option<Uuid>,
    /// success, denied or failed.
    pub outcome: String,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
    /// The patients (internal ids) a list read showed: one row per request carries them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_ids: Option<Vec<Uuid>>,
}

impl From<AuditRow> for AuditEntryResponse {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            at: r.at,
            user_id: r.user_id,
            username: r.username,
            role: r.role,
            unit_id: r.unit_id,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            patient_id: r.patient_id,
            outcome: r.outcome,
            request_id: r.request_id,
            detail: r.detail,
            patient_ids: r.patient_ids.map(|ids| ids.into_iter().flatten().collect()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries by this user.
    pub user: Option<Uuid>,
    /// Only entries about this patient (internal id).
    pub patient: Option<Uuid>,
    /// Only this action, e.g. `auth.login`.
    pub action: Option<String>,
    /// From this moment (inclusive), RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// Until this moment (exclusive), RFC 3339.
    pub to: Option<DateTime<Utc>>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// Lists audit entries, newest first (register staff). Reading the log is itself audited.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditEntryResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_audit(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageParams { page: q.page, per_page: q.per_page }.request();
    let search = AuditSearch { user: q.user, patient: q.patient, action: q.action, from: q.from, to: q.to };
    let caller = user.caller();
    let listed = state.run_db(move |conn| Ok(app::audit_log::search(conn, &caller, search, page)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(AuditEntryResponse::from))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientLogRequest {
    /// The patient's national id (in the body: national ids never go in a URL). Never returned.
    pub national_id: String,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// A patient's full access log, newest first (register staff), found by the pseudonym of the
/// national id, so it also covers a patient deleted by a reservation. Reading it is audited.
#[utoipa::path(post, path = "/api/v1/audit/patient-log", tag = "audit", security(("bearer" = [])),
    request_body = PatientLogRequest,
    responses((status = 200, body = Page<AuditEntryResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get_patient_log(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::extract::JsonBody<PatientLogRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let page = PageParams { page: body.page, per_page: body.per_page };
    keyed_search(&state, &user, body.national_id, page, app::audit_log::patient_log).await
}

/// A use case that finds audit rows by a secret sent in the body (a national id, a typed
/// username), which it hashes with the register's key.
type KeyedSearch = fn(
    &mut persistence::PgConnection,
    &app::Caller,
    &domain::national_id::IdKey,
    &str,
    app::paging::PageRequest,
) -> Result<app::paging::Paged<AuditRow>, app::Error>;

/// Runs a keyed search of the audit log for `user` and answers with the page.
async fn keyed_search(
    state: &AppState,
    user: &AuthUser,
    secret: String,
    page: PageParams,
    search: KeyedSearch,
) -> Result<HttpResponse, ApiError> {
    let (caller, key, page) = (user.caller(), state.id_key.clone(), page.request());
    let listed = state.run_db(move |conn| Ok(search(conn, &caller, &key, &secret, page)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(AuditEntryResponse::from))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginFailuresRequest {
    /// The username as typed at login (in the body: typed usernames never go in a URL). Hashed
    /// with the register's key to find the rows; never stored or returned.
    pub username: String,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// The failed logins typed with a username, newest first (register staff). Failed logins keep the
/// typed username only as its keyed hash (`attempted_username_tag`); the username sent here is
/// hashed the same way. Reading it is audited.
#[utoipa::path(post, path = "/api/v1/audit/login-failures", tag = "audit", security(("bearer" = [])),
    request_body = LoginFailuresRequest,
    responses((status = 200, body = Page<AuditEntryResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get_login_failures(
    state: web::Data<AppState>,
    user: AuthUser,
    body: crate::extract::JsonBody<LoginFailuresRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let page = PageParams { page: body.page, per_page: body.per_page };
    keyed_search(&state, &user, body.username, page, app::audit_log::login_failures).await
}

/// Middleware: after the response is built, a refusal (marked by `Refused`) is written to the
/// audit log with the user (if the token was good), the route pattern, the status and the
/// route's `{id}` (`app::audit_log::record_refusal` adds the target's patient where known).
pub async fn record_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.response().extensions().get::<Refused>().is_none() {
        return Ok(res);
    }
    let request = res.request();
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res);
    };
    let info = request.extensions().get::<AuthInfo>().cloned();
    let refusal = Refusal {
        user: info.map(|i| (i.user_id, i.username)),
        request_id: crate::auth::request_id(request),
        method: request.method().as_str().to_owned(),
        route: request.match_pattern().unwrap_or_else(|| "(unmatched)".into()),
        status: res.status().as_u16(),
        target_id: request.match_info().get("id").map(str::to_owned),
    };
    // Writing the refusal must not turn the refusal into a 500: a failure is logged instead.
    if let Err(e) = state.run_db(move |conn| Ok(app::audit_log::record_refusal(conn, refusal)?)).await {
        tracing::error!(error = %e, "could not write the audit row of a refusal");
    }
    Ok(res)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list_audit));
    cfg.route("/audit/patient-log", web::post().to(get_patient_log));
    cfg.route("/audit/login-failures", web::post().to(get_login_failures));
}
