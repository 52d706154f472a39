//! Patients over HTTP: `POST /patients` (register, or find the already registered patient) and
//! `GET /patients/{id}` in the caller's scope. The national id is only ever read from a request
//! body: it is never returned, logged or written to the audit log (which gets the pseudonym).
//!
//! Scope (our choice): a registrar or unit contact sees a patient they registered themselves, or
//! one with a pathway that a unit they cover owns or transferred away. Anyone else gets 404, so
//! existence does not leak.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::access::{Actor, Permission};
use domain::audit::{Action, Outcome};
use domain::national_id::IdRules;
use domain::patients::{NewPatient, NewPatientInput};
use persistence::patients::{self, NewPatientRow};
use persistence::{audit, in_transaction, pathways, reservations, PgConnection};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

/// The check-digit rules applied to new national ids. The 2032 rule is off until it is needed
/// (numbers issued from 2032); turning it on here accepts both rules.
pub const ID_RULES: IdRules = IdRules::CLASSIC;

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

/// The role string for audit rows of a registering caller.
pub(crate) fn register_role(actor: &Actor) -> Option<&'static str> {
    actor
        .grants
        .iter()
        .find(|g| matches!(g.role, domain::access::Role::Registrar | domain::access::Role::UnitContact))
        .map(|g| g.role.as_str())
}

/// Every unit the caller may register at (grants at a legal entity cover its units).
pub(crate) fn register_units(conn: &mut PgConnection, actor: &Actor) -> Result<Vec<i64>, ApiError> {
    let nodes: Vec<i64> = actor.nodes_for(Permission::Register).iter().map(|n| n.0).collect();
    Ok(pathways::units_under(conn, &nodes, Utc::now().date_naive())?)
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
    let role = register_role(&user.actor).ok_or(ApiError::Forbidden)?;
    let body = body.into_inner();
    let input = NewPatientInput { national_id: body.national_id, sex: body.sex, birth_year: body.birth_year };
    let new = NewPatient::parse(&input, &ID_RULES, state.today())?;
    drop(input);
    let key = state.id_key.clone();
    let pseudonym = key.pseudonym(&new.national_id).to_vec();
    let encrypted = key.encrypt(&new.national_id)?;
    let user_id = user.actor.user_id;
    let entry = user.audit(Action::Other("patient.register"), Outcome::Success).role(Some(role));
    let (id, created) = state
        .run_db(move |conn| {
            if reservations::is_reserved(conn, &pseudonym)? {
                let denied = AuditEntryExt::denied(entry, &pseudonym);
                audit::record(conn, &denied)?;
                return Err(ApiError::Conflict {
                    code: "reserved",
                    message: "the person has reserved against registration".into(),
                });
            }
            in_transaction(conn, |conn| {
                let row = NewPatientRow {
                    id: Uuid::now_v7(),
                    pseudonym: pseudonym.clone(),
                    national_id_enc: encrypted,
                    sex: new.sex.code(),
                    birth_year: i16::try_from(new.birth_year.get()).map_err(ApiError::internal)?,
                    registered_by: user_id,
                };
                let (patient, created) = patients::insert_or_find(conn, &row)?;
                audit::record(
                    conn,
                    &entry
                        .target("patient", patient.id)
                        .patient(Some(patient.id), Some(patient.pseudonym.clone()))
                        .detail(serde_json::json!({ "created": created })),
                )?;
                Ok((patient.id, created))
            })
        })
        .await?;
    let body = RegisterPatientResponse { id, created };
    Ok(if created { HttpResponse::Created().json(body) } else { HttpResponse::Ok().json(body) })
}

/// An entry marked as refused because of a reservation, by pseudonym only.
struct AuditEntryExt;

impl AuditEntryExt {
    fn denied(mut entry: audit::AuditEntry, pseudonym: &[u8]) -> audit::AuditEntry {
        entry.outcome = Outcome::Denied.as_str().to_owned();
        entry.patient(None, Some(pseudonym.to_vec())).detail(serde_json::json!({ "reason": "reserved" }))
    }
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
    let id = id.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let actor = user.actor();
    let entry = user.audit(Action::Other("patient.read"), Outcome::Success).role(Some(role)).target("patient", id);
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let units = register_units(conn, &actor)?;
                let patient = match patients::find(conn, id) {
                    Ok(p) => p,
                    Err(persistence::RepoError::NotFound) => return Err(ApiError::Hidden),
                    Err(e) => return Err(e.into()),
                };
                if !patients::in_scope(conn, id, actor.user_id, &units)? {
                    return Err(ApiError::Hidden);
                }
                let mut visible = Vec::new();
                for p in pathways::of_patient(conn, id)? {
                    let held: Vec<i64> = pathways::transfers(conn, p.id)?.iter().map(|t| t.from_unit_id).collect();
                    if units.contains(&p.unit_id) || held.iter().any(|u| units.contains(u)) {
                        visible.push(PatientPathwaySummary {
                            id: p.id,
                            unit_id: p.unit_id,
                            start_date: p.start_date,
                            status: p.status,
                        });
                    }
                }
                audit::record(conn, &entry.patient(Some(patient.id), Some(patient.pseudonym.clone())))?;
                Ok(PatientResponse {
                    id: patient.id,
                    sex: patient.sex,
                    birth_year: patient.birth_year,
                    created_at: patient.created_at,
                    pathways: visible,
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(res))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/patients", web::post().to(register_patient)).route("/patients/{id}", web::get().to(get_patient));
}
