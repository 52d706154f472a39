//! Patients over HTTP: `POST /patients` (register, or find the already registered patient) and
//! `GET /patients/{id}` in the caller's scope. The national id is only ever read from a request
//! body: it is never returned, logged or written to the audit log (which gets the pseudonym).
//!
//! Scope (our choice): a registrar or unit contact sees a patient they registered themselves, or
//! one with a pathway that a unit they cover owns or transferred away. Anyone else gets 404, so
//! existence does not leak.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::patients::{NewPatientInput, PatientId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// The check-digit rules applied to new national ids (see `app::patients::ID_RULES`).
pub use app::patients::ID_RULES;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPatientRequest {
    /// Fødselsnummer, D-, H- or FH-number: 11 digits. Never returned.
    pub national_id: String,
    /// 1 male, 2 female, 9 unknown.
    pub sex: i16,
    /// 1854 to this year; must match the year in the id when it has a date.
    pub birth_year: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterPatientResponse {
    pub id: Uuid,
    /// `false` when the person was registered before (status 200, the stored patient unchanged).
    pub created: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientPathwaySummary {
    pub id: Uuid,
    pub unit_id: i64,
    pub start_date: chrono::NaiveDate,
    pub status: i16,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientResponse {
    pub id: Uuid,
    pub sex: i16,
    pub birth_year: i16,
    pub created_at: DateTime<Utc>,
    /// The patient's pathways that the caller may see.
    pub pathways: Vec<PatientPathwaySummary>,
}

/// Registers a patient; the same national id again returns the same patient (200 instead of 201).
/// 409 `reserved` when the person has reserved against registration.
#[utoipa::path(post, path = "/api/v1/patients", tag = "patients", security(("bearer" = [])),
    request_body = RegisterPatientRequest,
    responses((status = 201, body = RegisterPatientResponse), (status = 200, body = RegisterPatientResponse),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn register_patient(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<RegisterPatientRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewPatientInput { national_id: body.national_id, sex: body.sex, birth_year: body.birth_year };
    let key = state.id_key.clone();
    let caller = user.caller();
    let today = state.today();
    let done = state.run_db(move |conn| Ok(app::patients::register(conn, &caller, &key, input, today)?)).await?;
    let body = RegisterPatientResponse { id: done.id, created: done.created };
    Ok(if done.created { HttpResponse::Created().json(body) } else { HttpResponse::Ok().json(body) })
}

/// A patient in the caller's scope (404 otherwise), with the pathways the caller may see.
#[utoipa::path(get, path = "/api/v1/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Internal patient id")),
    responses((status = 200, body = PatientResponse), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_patient(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = PatientId(id.into_inner());
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::patients::read(conn, &caller, id)?)).await?;
    let p = view.patient;
    Ok(HttpResponse::Ok().json(PatientResponse {
        id: p.id,
        sex: p.sex,
        birth_year: p.birth_year,
        created_at: p.created_at,
        pathways: view
            .pathways
            .into_iter()
            .map(|p| PatientPathwaySummary { id: p.id, unit_id: p.unit_id, start_date: p.start_date, status: p.status })
            .collect(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/patients", web::post().to(register_patient)).route("/patients/{id}", web::get().to(get_patient));
}
