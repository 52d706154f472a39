//! Forms over HTTP: create a draft of a kind on a pathway, read, update a draft (`If-Match` with
//! the version read; 409 `stale_version` otherwise, 428 without it), complete (every rule, one 422
//! listing every failing field; sets the pathway status with history), reopen with a reason, and
//! the change history (who, when, which fields from what to what).
//!
//! `PUT` replaces the form's fields: a field left out is cleared. Completed forms are read-only
//! until reopened (409 `form_completed`).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{Actor, Permission};
use domain::audit::{Action, Outcome};
use domain::forms::{CompletedDischarge, FormContext, FormData, FormKind};
use domain::pathways::{next_status, DischargeEnding, FollowUpOutcome, StatusEvent, TreatmentStatus};
use persistence::forms::{self, FormRow, NewFormRow, NewHistoryRow, UpdateRefused};
use persistence::pathways::{self, NewStatusChangeRow, PathwayRow};
use persistence::{in_transaction, organisations, PgConnection, RepoError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{parse_json, JsonBody};
use crate::pathways::{load_pathway, pathway_access, record_for_patient, PathwayAccess};
use crate::patients::register_role;
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
    fn new(row: &FormRow, data: &FormData) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id,
            pathway_id: row.pathway_id,
            kind: row.kind.clone(),
            unit_id: row.unit_id,
            status: row.status.clone(),
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
            reopen_reason: row.reopen_reason.clone(),
            data: serde_json::to_value(data).map_err(ApiError::internal)?,
            warnings: Vec::new(),
        })
    }

    fn respond(self, status: actix_web::http::StatusCode) -> HttpResponse {
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

/// Parses the fields of a form of `kind` from a JSON body (empty body: an empty draft).
fn parse_form(kind: FormKind, is_json: bool, body: &[u8]) -> Result<FormData, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(FormData::empty(kind));
    }
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let data = match kind {
        FormKind::Baseline => FormData::Baseline(parse_json(body)?),
        FormKind::Measurement => FormData::Measurement(parse_json(body)?),
        FormKind::Discharge => FormData::Discharge(parse_json(body)?),
        FormKind::FollowUp => FormData::FollowUp(parse_json(body)?),
    };
    data.check_draft()?;
    Ok(data)
}

/// The version in `If-Match` (`3`, `"3"` or `W/"3"`): `None` when absent, 400 when unreadable.
fn if_match(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(v) = req.headers().get(header::IF_MATCH) else { return Ok(None) };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse::<i32>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("invalid_if_match", "If-Match must be the form's version, e.g. \"3\""))
}

/// Field-by-field changes between two versions of a form: `[{field, from, to}]`, dotted paths.
pub fn diff(old: &FormData, new: &FormData) -> Value {
    fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for (i, v) in items.iter().enumerate() {
                    flatten(&format!("{prefix}.{i}"), v, out);
                }
                if items.is_empty() {
                    out.insert(prefix.to_owned(), Value::Array(Vec::new()));
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &serde_json::to_value(old).unwrap_or(Value::Null), &mut a);
    flatten("", &serde_json::to_value(new).unwrap_or(Value::Null), &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let changes: Vec<Value> = keys
        .into_iter()
        .filter_map(|k| {
            let (from, to) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
            (from != to).then(|| serde_json::json!({"field": k, "from": from, "to": to}))
        })
        .collect();
    Value::Array(changes)
}

/// A form and its pathway, with the caller's access to the form: `Ok(true)` full (the owning
/// unit), `Ok(false)` read only (the unit that registered it, after a transfer), 404 otherwise.
fn load_form(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    lock: bool,
) -> Result<(FormRow, PathwayRow, bool), ApiError> {
    let found = if lock {
        forms::find(conn, id).and_then(|f| Ok((pathways::find_for_update(conn, f.pathway_id)?, f)))
    } else {
        forms::find(conn, id).and_then(|f| Ok((pathways::find(conn, f.pathway_id)?, f)))
    };
    let (p, f) = match found {
        Ok(x) => x,
        Err(RepoError::NotFound) => return Err(ApiError::Hidden),
        Err(e) => return Err(e.into()),
    };
    let f = if lock { forms::find_for_update(conn, id)? } else { f };
    match pathway_access(conn, actor, &p)? {
        PathwayAccess::Full => Ok((f, p, true)),
        PathwayAccess::ReadOwn(units) if units.contains(&f.unit_id) => Ok((f, p, false)),
        PathwayAccess::ReadOwn(_) => Err(ApiError::Hidden),
    }
}

fn history_row(form: &FormRow, action: &str, by: Uuid, changes: Value, reason: Option<String>) -> NewHistoryRow {
    NewHistoryRow { form_id: form.id, version: form.version, action: action.into(), changed_by: by, changes, reason }
}

fn completed_conflict() -> ApiError {
    ApiError::Conflict { code: "form_completed", message: "the form is completed; reopen it to change it".into() }
}

fn stale() -> ApiError {
    ApiError::Conflict {
        code: "stale_version",
        message: "the form was changed since you read it; read it again and redo your change".into(),
    }
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
    let kind = FormKind::parse(&kind).ok_or(ApiError::NotFound)?;
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let actor = user.actor();
    let entry = user.audit(Action::Other("form.create"), Outcome::Success).role(Some(role));
    let parsed = parse_form(kind, is_json(&req), &body);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let p = load_pathway(conn, pathway_id, true)?;
                if pathway_access(conn, &actor, &p)? != PathwayAccess::Full {
                    return Err(ApiError::Forbidden);
                }
                let data = parsed?;
                let status =
                    TreatmentStatus::from_code(p.status).ok_or_else(|| ApiError::Internal("bad status".into()))?;
                if !kind.may_start(status) {
                    return Err(ApiError::Conflict {
                        code: "conflict",
                        message: format!("a {kind} form cannot be started on a pathway with status {}", p.status),
                    });
                }
                let new = NewFormRow::draft(Uuid::now_v7(), p.id, p.unit_id, &data, actor.user_id);
                let row = forms::insert(conn, &new, &data).map_err(|e| match e {
                    RepoError::UniqueViolation(_) => ApiError::Conflict {
                        code: "form_exists",
                        message: format!("the pathway already has a {kind} form"),
                    },
                    other => other.into(),
                })?;
                record_for_patient(conn, entry.target("form", row.id).detail(serde_json::json!({"kind": kind})), &p)?;
                FormResponse::new(&row, &data)
            })
        })
        .await?;
    Ok(res.respond(actix_web::http::StatusCode::CREATED))
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
    let id = id.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let actor = user.actor();
    let entry = user.audit(Action::Other("form.read"), Outcome::Success).role(Some(role)).target("form", id);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let (f, p, _) = load_form(conn, &actor, id, false)?;
                let data = forms::load_data(conn, &f)?;
                record_for_patient(conn, entry, &p)?;
                FormResponse::new(&f, &data)
            })
        })
        .await?;
    Ok(res.respond(actix_web::http::StatusCode::OK))
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
    let id = id.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let version = if_match(&req);
    let json = is_json(&req);
    let actor = user.actor();
    let entry = user.audit(Action::Other("form.update"), Outcome::Success).role(Some(role)).target("form", id);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                // Locks the pathway, then the form, like completing and reopening do: a changed
                // date makes the worklist-facts trigger update the pathway row, and one lock
                // order keeps two saves on one pathway from deadlocking.
                let (f, p, writable) = load_form(conn, &actor, id, true)?;
                if !writable {
                    return Err(ApiError::Forbidden);
                }
                let version = version?.ok_or(ApiError::PreconditionRequired)?;
                let data = parse_form(f.kind()?, json, &body)?;
                let old = forms::load_data(conn, &f)?;
                let row = match forms::update_draft(conn, id, version, &data, actor.user_id)? {
                    Ok(row) => row,
                    Err(UpdateRefused::Completed) => return Err(completed_conflict()),
                    Err(UpdateRefused::StaleVersion) => return Err(stale()),
                };
                let changes = diff(&old, &data);
                forms::add_history(conn, &history_row(&row, "updated", actor.user_id, changes.clone(), None))?;
                let fields: Vec<&Value> =
                    changes.as_array().map(|c| c.iter().map(|c| &c["field"]).collect()).unwrap_or_default();
                record_for_patient(conn, entry.detail(serde_json::json!({"fields": fields})), &p)?;
                FormResponse::new(&row, &data)
            })
        })
        .await?;
    Ok(res.respond(actix_web::http::StatusCode::OK))
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
    let id = id.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let version = if_match(&req)?;
    let actor = user.actor();
    let today = state.today();
    let entry = user.audit(Action::Other("form.complete"), Outcome::Success).role(Some(role)).target("form", id);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let (f, p, writable) = load_form(conn, &actor, id, true)?;
                if !writable {
                    return Err(ApiError::Forbidden);
                }
                if f.is_completed() {
                    return Err(completed_conflict());
                }
                if version.is_some_and(|v| v != f.version) {
                    return Err(stale());
                }
                let data = forms::load_data(conn, &f)?;
                let facts = forms::completed_facts(conn, p.id, f.id)?;
                let ctx = FormContext {
                    today,
                    pathway_start: p.start_date,
                    baseline_date: facts.baseline_date,
                    measurement_dates: facts.measurement_dates,
                    discharge: facts.discharge.and_then(|(date, ending, consent)| {
                        Some(CompletedDischarge {
                            date,
                            ending: DischargeEnding::from_code(ending?)?,
                            contact_consent_1y: consent == Some(domain::forms::codes::YES),
                        })
                    }),
                };
                let warnings = data.check_complete(&ctx)?;
                let event = match &data {
                    FormData::Discharge(d) => {
                        d.ending.and_then(DischargeEnding::from_code).map(StatusEvent::DischargeCompleted)
                    }
                    FormData::FollowUp(d) => {
                        d.outcome.and_then(FollowUpOutcome::from_code).map(StatusEvent::FollowUpCompleted)
                    }
                    _ => None,
                };
                if let Some(event) = event {
                    let current =
                        TreatmentStatus::from_code(p.status).ok_or_else(|| ApiError::Internal("bad status".into()))?;
                    let next = next_status(current, event)?;
                    let name = if f.kind == "discharge" { "discharge_completed" } else { "follow_up_completed" };
                    pathways::set_status(
                        conn,
                        &NewStatusChangeRow {
                            pathway_id: p.id,
                            from_status: Some(p.status),
                            to_status: next.code(),
                            event: name,
                            form_id: Some(f.id),
                            changed_by: actor.user_id,
                        },
                    )?;
                }
                let row = forms::mark_completed(conn, id, actor.user_id)?;
                forms::add_history(conn, &history_row(&row, "completed", actor.user_id, serde_json::json!([]), None))?;
                record_for_patient(conn, entry, &p)?;
                let mut res = FormResponse::new(&row, &data)?;
                res.warnings = warnings
                    .into_iter()
                    .map(|w| crate::error::FieldErrorDoc { field: w.field, code: w.code, message: w.message })
                    .collect();
                Ok(res)
            })
        })
        .await?;
    Ok(res.respond(actix_web::http::StatusCode::OK))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// Why the completed form is reopened (1–1000 characters); kept in the form's history.
    pub reason: String,
}

/// Reopens a completed form with a reason (unit contact of the owning unit, register staff).
/// Reopening a discharge or follow-up moves the pathway status back (DOMAIN §4).
#[utoipa::path(post, path = "/api/v1/forms/{id}/reopen", tag = "forms", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Form id")), request_body = ReopenRequest,
    responses((status = 200, body = FormResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn reopen_form(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<ReopenRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let reason = body.into_inner().reason.trim().to_owned();
    let actor = user.actor();
    let entry = user.audit(Action::Other("form.reopen"), Outcome::Success).target("form", id);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let f = forms::find(conn, id).map_err(|e| match e {
                    RepoError::NotFound => ApiError::Hidden,
                    e => e.into(),
                })?;
                let p = load_pathway(conn, f.pathway_id, true)?;
                let path = organisations::path_of(conn, p.unit_id, Utc::now().date_naive())?;
                let Some(role) = actor.role_for(Permission::ReopenForm, &path) else {
                    // A registrar of the unit sees the form but may not reopen it; anyone else
                    // must not learn that it exists.
                    pathway_access(conn, &actor, &p)?;
                    return Err(ApiError::Forbidden);
                };
                if reason.is_empty() || reason.chars().count() > 1000 {
                    return Err(ApiError::invalid("reason", "length", "must have 1 to 1000 characters"));
                }
                let f = forms::find_for_update(conn, id)?;
                if !f.is_completed() {
                    return Err(ApiError::Conflict {
                        code: "not_completed",
                        message: "only a completed form can be reopened".into(),
                    });
                }
                let current =
                    TreatmentStatus::from_code(p.status).ok_or_else(|| ApiError::Internal("bad status".into()))?;
                let event = match f.kind()? {
                    FormKind::Discharge => Some(("discharge_reopened", StatusEvent::DischargeReopened)),
                    FormKind::FollowUp => {
                        let ending = forms::completed_facts(conn, p.id, f.id)?
                            .discharge
                            .and_then(|(_, e, _)| e)
                            .and_then(DischargeEnding::from_code)
                            .ok_or_else(|| ApiError::Internal("follow-up without a completed discharge".into()))?;
                        Some(("follow_up_reopened", StatusEvent::FollowUpReopened { discharge_ending: ending }))
                    }
                    _ => None,
                };
                if let Some((name, event)) = event {
                    let next = next_status(current, event)?;
                    pathways::set_status(
                        conn,
                        &NewStatusChangeRow {
                            pathway_id: p.id,
                            from_status: Some(p.status),
                            to_status: next.code(),
                            event: name,
                            form_id: Some(f.id),
                            changed_by: actor.user_id,
                        },
                    )
                    .map_err(|e| match e {
                        RepoError::UniqueViolation(_) => ApiError::from(domain::DomainError::conflict(
                            "the patient has another active pathway; this one cannot become active again",
                        )),
                        e => e.into(),
                    })?;
                }
                let row = forms::mark_reopened(conn, id, actor.user_id, &reason)?;
                forms::add_history(
                    conn,
                    &history_row(&row, "reopened", actor.user_id, serde_json::json!([]), Some(reason)),
                )?;
                record_for_patient(conn, entry.role(Some(role.as_str())), &p)?;
                let data = forms::load_data(conn, &row)?;
                FormResponse::new(&row, &data)
            })
        })
        .await?;
    Ok(res.respond(actix_web::http::StatusCode::OK))
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
    let id = id.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let actor = user.actor();
    let entry = user.audit(Action::Other("form.history.read"), Outcome::Success).role(Some(role)).target("form", id);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let (_, p, _) = load_form(conn, &actor, id, false)?;
                let rows = forms::history(conn, id)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let username = persistence::users::find(conn, r.changed_by).ok().map(|u| u.username);
                    out.push(FormHistoryEntry {
                        version: r.version,
                        action: r.action,
                        changed_by: r.changed_by,
                        changed_by_username: username,
                        changed_at: r.changed_at,
                        changes: r.changes,
                        reason: r.reason,
                    });
                }
                record_for_patient(conn, entry, &p)?;
                Ok(out)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(res))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pathways/{id}/forms/{kind}", web::post().to(create_form))
        .route("/forms/{id}", web::get().to(get_form))
        .route("/forms/{id}", web::put().to(update_form))
        .route("/forms/{id}/complete", web::post().to(complete_form))
        .route("/forms/{id}/reopen", web::post().to(reopen_form))
        .route("/forms/{id}/history", web::get().to(get_form_history));
}
