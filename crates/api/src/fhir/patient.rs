//! `Patient`: the internal id, sex and birth year only. The national id never leaves through
//! FHIR, and no name or address is held. Read and search go through `app::patients::read`, with
//! its scope rule and its audit row (`patient.read`), exactly as `GET /api/v1/patients/{id}`.
//!
//! Search: `_id` or `identifier` (the internal id, system [`PATIENT_ID_SYSTEM`]). A patient
//! outside the caller's scope and a patient that does not exist give the same empty Bundle (200):
//! a search parameter must not reveal what the access filter hides.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::patients::PatientId;
use fhirbolt::model::r4::resources::Patient;
use fhirbolt::model::r4::types::{Date, Identifier};
use fhirbolt::model::r4::Resource;
use uuid::Uuid;

use super::{respond, searchset, SearchQuery};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The system of the patient's internal id (a uuid that reveals nothing).
pub const PATIENT_ID_SYSTEM: &str = "https://rusreg.example/fhir/sid/patient-id";

/// FHIR's administrative gender of the register's sex code: 1 male, 2 female, 9 unknown.
pub fn gender(sex: i16) -> &'static str {
    match sex {
        1 => "male",
        2 => "female",
        _ => "unknown",
    }
}

pub fn patient(p: &persistence::patients::PatientRow) -> Patient {
    Patient {
        id: Some(p.id.to_string().into()),
        identifier: vec![Identifier {
            system: Some(PATIENT_ID_SYSTEM.into()),
            value: Some(p.id.to_string().into()),
            ..Default::default()
        }],
        gender: Some(gender(p.sex).into()),
        // A date of year precision: the register holds the birth year only.
        birth_date: Some(Date::from(format!("{:04}", p.birth_year))),
        ..Default::default()
    }
}

/// Reads one patient through the use case; `None` when hidden or missing (a search's empty match).
async fn find(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Option<Patient>, ApiError> {
    let caller = user.caller();
    let found = state
        .run_db(move |conn| match app::patients::read(conn, &caller, PatientId(id)) {
            Ok(view) => Ok(Some(patient(&view.patient))),
            Err(app::Error::Hidden | app::Error::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await?;
    Ok(found)
}

/// `GET /fhir/Patient/{id}`: 404 when missing or outside the caller's scope, alike.
pub async fn read(state: web::Data<AppState>, user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::patients::read(conn, &caller, PatientId(id))?)).await?;
    respond(StatusCode::OK, &patient(&view.patient))
}

/// `GET /fhir/Patient?_id=...` or `?identifier=...`: one of them is required (the register
/// lists no patients without a pathway; EpisodeOfCare lists the pathways in scope).
pub async fn search(state: web::Data<AppState>, user: AuthUser, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("Patient"))?;
    let raw = match (query.get("_id"), query.get("identifier")) {
        (Some(id), None) => Some(id.to_owned()),
        (None, Some(identifier)) => match identifier.split_once('|') {
            Some((PATIENT_ID_SYSTEM, value)) | Some(("", value)) => Some(value.to_owned()),
            // Another system (a national id, say) is refused: the register is never searched by
            // a national id, and a Bundle's `self` link would echo it.
            Some(_) => {
                return Err(ApiError::InvalidQuery(vec![domain::FieldError::new(
                    "identifier",
                    "unsupported_parameter",
                    "only the internal id (system https://rusreg.example/fhir/sid/patient-id) is searchable",
                )]))
            }
            None => Some(identifier.to_owned()),
        },
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::InvalidQuery(vec![domain::FieldError::new(
                "_id",
                "required",
                "a Patient search needs exactly one of _id and identifier",
            )]))
        }
    };
    let found = match raw.and_then(|r| Uuid::parse_str(&r).ok()) {
        Some(id) if query.page == 1 => find(&state, &user, id).await?,
        _ => None,
    };
    let total = usize::from(found.is_some());
    let entries = found
        .map(|p| {
            let id = p.id.as_ref().and_then(|i| i.value.clone()).unwrap_or_default();
            (format!("/fhir/Patient/{id}"), Resource::Patient(Box::new(p)))
        })
        .into_iter()
        .collect();
    respond(StatusCode::OK, &searchset("/fhir/Patient", &query, total, entries))
}
