//! Forms over HTTP: create a draft of a kind on a pathway, read, update a draft (`If-Match` with
//! the version read; 409 `stale_version` otherwise, 428 without it), complete (every rule, one 422
//! listing every failing field; sets the pathway status with history), reopen with a reason, and
//! the change history (who, when, which fields from what to what).
//!
//! `PUT` replaces the form's fields: a field left out is cleared. Completed forms are read-only
//! until reopened (409 `form_completed`).

use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use app::forms::{FormInput, FormView, Reopened};
use chrono::{DateTime, NaiveDate, Utc};
use domain::forms::{FormData, FormId, FormKind};
use domain::pathways::PathwayId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{parse_json, JsonBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct FormResponse {
    pub id: Uuid,
    pub pathway_id: Uuid,
    /// baseline, measurement, discharge or follow-up.
    pub kind: String,
    /// The unit that registered the form.
    pub unit_id: i64,
    /// draft or completed.
    pub status: String,
    /// Send it back in `If-Match` to update (also in the `ETag` header).
    pub version: i32,
    pub event_date: Option<NaiveDate>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_by: Uuid,
    pub updated_at: DateTime<Utc>,
    pub completed_by: Option<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    pub reopened_by: Option<Uuid>,
    pub reopened_at: Option<DateTime<Utc>>,
    pub reopen_reason: Option<String>,
    /// The form's fields (see docs/data-dictionary.md).
    #[schema(value_type = Object)]
    pub data: Value,
    /// Warnings of completion that did not stop it (code `late`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::error::FieldErrorDoc>,
}

impl FormResponse {
    fn new(view: FormView) -> Result<Self, ApiError> {
        let FormView { row, data, warnings } = view;
        Ok(Self {
            id: row.id,
            pathway_id: row.pathway_id,
            kind: row.kind,
            unit_id: row.unit_id,
            status: row.status,
            version: row.version,
            event_date: row.event_date,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
            completed_by: row.completed_by,
            completed_at: row.completed_at,
            reopened_by: row.reopened_by,
            reopened_at: row.reopened_at,
            reopen_reason: row.reopen_reason,
            data: serde_json::to_value(&data).map_err(ApiError::internal)?,
            warnings: warnings
                .into_iter()
                .map(|w| crate::error::FieldErrorDoc { field: w.field, code: w.code, message: w.message })
                .collect(),
        })
    }

    fn respond(self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status).insert_header((header::ETAG, format!("\"{}\"", self.version))).json(self)
    }
}

/// Whether the request says its body is JSON.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
}

/// A form's fields as the API receives them: a JSON body (empty: an empty draft), read once the
/// use case knows the form's kind.
struct JsonForm {
    is_json: bool,
    body: Bytes,
}

impl FormInput for JsonForm {
    fn read(self, kind: FormKind) -> Result<FormData, app::Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(FormData::empty(kind));
        }
        if !self.is_json {
            return Err(app::Error::UnsupportedFormat);
        }
        let body = &self.body[..];
        let data = match kind {
            FormKind::Baseline => FormData::Baseline(parse_json(body)?),
            FormKind::Measurement => FormData::Measurement(parse_json(body)?),
            FormKind::Discharge => FormData::Discharge(parse_json(body)?),
            FormKind::FollowUp => FormData::FollowUp(parse_json(body)?),
        };
        data.read(kind)
    }
}

/// The version in `If-Match` (`3`, `"3"` or `W/"3"`): `None` when absent, 400 when unreadable.
/// The FHIR facade reads a QuestionnaireResponse's version the same way.
pub(crate) fn if_match(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(v) = req.headers().get(header::IF_MATCH) else { return Ok(None) };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse::<i32>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request("invalid_if_match", "If-Match must be the form's version, e.g. \"3\" or W/\"3\"")
        })
}

/// Creates a draft form of `kind` on the pathway (the body: the form's fields, may be partial or
/// empty). At most one baseline, discharge and follow-up per pathway (409 `form_exists`).
#[utoipa::path(post, path = "/api/v1/pathways/{id}/forms/{kind}", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Pathway id"),
           ("kind" = String, Path, description = "baseline, measurement, discharge or follow-up")),
    request_body(content = Object, description = "The form's fields"),
    responses((status = 201, body = FormResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_form(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<(Uuid, String)>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let (pathway_id, kind) = path.into_inner();
    let pathway_id = PathwayId(pathway_id);
    let kind = FormKind::parse(&kind).ok_or(ApiError::NotFound)?;
    let caller = user.caller();
    let input = JsonForm { is_json: is_json(&req), body };
    let view = state.run_db(move |conn| Ok(app::forms::create(conn, &caller, pathway_id, kind, input)?)).await?;
    Ok(FormResponse::new(view)?.respond(StatusCode::CREATED))
}

/// One form with its fields. The `ETag` header carries the version.
#[utoipa::path(get, path = "/api/v1/forms/{id}", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Form id")),
    responses((status = 200, body = FormResponse), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_form(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = FormId(id.into_inner());
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::forms::read(conn, &caller, id)?)).await?;
    Ok(FormResponse::new(view)?.respond(StatusCode::OK))
}

/// Replaces the fields of a draft. Needs `If-Match: <version>` (428 without; 409
/// `stale_version` when someone else changed the form first).
#[utoipa::path(put, path = "/api/v1/forms/{id}", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Form id"), ("If-Match" = String, Header, description = "The version read")),
    request_body(content = Object, description = "The form's fields (all of them: a field left out is cleared)"),
    responses((status = 200, body = FormResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
              (status = 428, body = crate::error::Problem)))]
pub async fn update_form(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = FormId(id.into_inner());
    let version = if_match(&req)?;
    let caller = user.caller();
    let input = JsonForm { is_json: is_json(&req), body };
    let view = state.run_db(move |conn| Ok(app::forms::update(conn, &caller, id, version, input)?)).await?;
    Ok(FormResponse::new(view)?.respond(StatusCode::OK))
}

/// Completes a draft: every rule, one 422 listing every failing field. A discharge or follow-up
/// sets the pathway status (with history). `If-Match` is optional here; when sent it must match.
#[utoipa::path(post, path = "/api/v1/forms/{id}/complete", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Form id")),
    responses((status = 200, body = FormResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn complete_form(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = FormId(id.into_inner());
    let version = if_match(&req)?;
    let caller = user.caller();
    let today = state.today();
    let view = state.run_db(move |conn| Ok(app::forms::complete(conn, &caller, id, version, today)?)).await?;
    Ok(FormResponse::new(view)?.respond(StatusCode::OK))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// Why the completed form is reopened (1–1000 characters); kept in the form's history.
    pub reason: String,
}

/// Reopens a completed form with a reason (unit contact of the owning unit, register staff).
/// Reopening a discharge or follow-up moves the pathway status back (docs/domain.md).
#[utoipa::path(post, path = "/api/v1/forms/{id}/reopen", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Form id")), request_body = ReopenRequest,
    responses((status = 200, description = "the form (FormResponse) to a caller who may read it, else a ReopenReceiptResponse",
               body = FormResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn reopen_form(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<ReopenRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = FormId(id.into_inner());
    let reason = body.into_inner().reason;
    let caller = user.caller();
    let reopened = state.run_db(move |conn| Ok(app::forms::reopen(conn, &caller, id, &reason)?)).await?;
    match reopened {
        Reopened::Form(view) => Ok(FormResponse::new(*view)?.respond(StatusCode::OK)),
        Reopened::Receipt(r) => {
            let receipt = ReopenReceiptResponse {
                id: r.id,
                kind: r.kind,
                status: r.status,
                version: r.version,
                reopened_by: r.reopened_by,
                reopened_at: r.reopened_at,
                reopen_reason: r.reopen_reason,
            };
            Ok(HttpResponse::Ok().insert_header((header::ETAG, format!("\"{}\"", r.version))).json(receipt))
        }
    }
}

/// A reopening as seen by a caller who may not read the form (register staff): the same keys as
/// [`FormResponse`], without the form's content, dates, unit or pathway.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReopenReceiptResponse {
    pub id: Uuid,
    pub kind: String,
    /// draft (reopened).
    pub status: String,
    pub version: i32,
    pub reopened_by: Option<Uuid>,
    pub reopened_at: Option<DateTime<Utc>>,
    pub reopen_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormHistoryEntry {
    /// The version the change produced.
    pub version: i32,
    /// created, updated, completed or reopened.
    pub action: String,
    pub changed_by: Uuid,
    pub changed_by_username: Option<String>,
    pub changed_at: DateTime<Utc>,
    /// `[{"field": ..., "from": ..., "to": ...}]` for updates.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// The reason of a reopening.
    pub reason: Option<String>,
}

/// The change history of a form, oldest first.
#[utoipa::path(get, path = "/api/v1/forms/{id}/history", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Form id")),
    responses((status = 200, body = Vec<FormHistoryEntry>), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_form_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = FormId(id.into_inner());
    let caller = user.caller();
    let rows = state.run_db(move |conn| Ok(app::forms::history(conn, &caller, id)?)).await?;
    let out: Vec<FormHistoryEntry> = rows
        .into_iter()
        .map(|e| FormHistoryEntry {
            version: e.row.version,
            action: e.row.action,
            changed_by: e.row.changed_by,
            changed_by_username: e.username,
            changed_at: e.row.changed_at,
            changes: e.row.changes,
            reason: e.row.reason,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pathways/{id}/forms/{kind}", web::post().to(create_form))
        .route("/forms/{id}", web::get().to(get_form))
        .route("/forms/{id}", web::put().to(update_form))
        .route("/forms/{id}/complete", web::post().to(complete_form))
        .route("/forms/{id}/reopen", web::post().to(reopen_form))
        .route("/forms/{id}/history", web::get().to(get_form_history));
}
