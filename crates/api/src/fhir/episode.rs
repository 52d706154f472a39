//! `EpisodeOfCare`: a pathway (pakkeforløp), through the same use cases as
//! `/api/v1/pathways` (`app::pathways::read` and `list`, with their scope rule and audit rows).
//!
//! Status: the register's treatment status 1 (active) is `active`; 2–7 (transferred outside,
//! broken off, ended by agreement, and the three follow-up outcomes) are `finished`. The exact
//! code is kept in the extension [`TREATMENT_STATUS_EXTENSION`]. `statusHistory` has one period
//! per status the pathway has had (from the register's status history).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use app::pathways::{ListQuery, PathwayDetail, PathwayView};
use domain::pathways::PathwayId;
use fhirbolt::model::r4::resources::{EpisodeOfCare, EpisodeOfCareStatusHistory};
use fhirbolt::model::r4::types::{CodeableConcept, Extension, ExtensionValue, Period, Reference};
use fhirbolt::model::r4::Resource;
use persistence::pathways::{PathwayRow, StatusChangeRow};
use uuid::Uuid;

use super::questionnaire::{code_list, coding};
use super::{respond, searchset, SearchQuery};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The register's treatment status (code 1–7, CodeSystem `treatment-status`).
pub const TREATMENT_STATUS_EXTENSION: &str = "https://rusreg.example/fhir/StructureDefinition/treatment-status";

/// The EpisodeOfCare status of a treatment status code.
pub fn status(code: i16) -> &'static str {
    if code == 1 {
        "active"
    } else {
        "finished"
    }
}

fn reference(r: String) -> Box<Reference> {
    Box::new(Reference { reference: Some(r.into()), ..Default::default() })
}

fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The EpisodeOfCare of a pathway; with `history`, its status history as periods.
pub fn episode(row: &PathwayRow, history: &[StatusChangeRow]) -> EpisodeOfCare {
    let statuses = code_list(domain::forms::codes::TREATMENT_STATUS);
    let levels = code_list(domain::forms::codes::TREATMENT_LEVEL);
    let mut status_history = Vec::new();
    for (i, change) in history.iter().enumerate() {
        let end = history.get(i + 1).map(|next| instant(next.changed_at).into());
        status_history.push(EpisodeOfCareStatusHistory {
            status: status(change.to_status).into(),
            period: Box::new(Period { start: Some(instant(change.changed_at).into()), end, ..Default::default() }),
            ..Default::default()
        });
    }
    // The end of a finished pathway: the change into its current, final status.
    let end = (row.status != 1)
        .then(|| history.iter().rev().find(|h| h.to_status == row.status))
        .flatten()
        .map(|h| instant(h.changed_at).into());
    EpisodeOfCare {
        id: Some(row.id.to_string().into()),
        extension: statuses
            .map(|d| Extension {
                url: TREATMENT_STATUS_EXTENSION.into(),
                value: Some(ExtensionValue::Coding(Box::new(coding(d, row.status)))),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        status: status(row.status).into(),
        status_history,
        r#type: levels
            .map(|d| CodeableConcept { coding: vec![coding(d, row.treatment_level)], ..Default::default() })
            .into_iter()
            .collect(),
        patient: reference(format!("Patient/{}", row.patient_id)),
        managing_organization: Some(reference(format!("Organization/{}", row.unit_id))),
        period: Some(Box::new(Period { start: Some(row.start_date.to_string().into()), end, ..Default::default() })),
        ..Default::default()
    }
}

fn from_detail(d: &PathwayDetail) -> EpisodeOfCare {
    episode(&d.pathway.row, &d.status_history)
}

/// `GET /fhir/EpisodeOfCare/{id}`: 404 when missing or outside the caller's scope, alike.
pub async fn read(state: web::Data<AppState>, user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let caller = user.caller();
    let detail = state.run_db(move |conn| Ok(app::pathways::read(conn, &caller, PathwayId(id))?)).await?;
    respond(StatusCode::OK, &from_detail(&detail))
}

fn bad(name: &str, code: &str, message: &str) -> ApiError {
    ApiError::InvalidQuery(vec![domain::FieldError::new(name, code, message)])
}

/// `GET /fhir/EpisodeOfCare?...`: `_id`, `status` (`active` or `finished`), `treatment-status`
/// (the register's code, 1–7), `organization` (the owning unit's id) and `date` (the start date:
/// `geYYYY-MM-DD`, `leYYYY-MM-DD` or a day). Only pathways in the caller's scope; a unit outside
/// it, like one that does not exist, gives an empty Bundle.
pub async fn search(state: web::Data<AppState>, user: AuthUser, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("EpisodeOfCare"))?;
    let caller = user.caller();
    let path = "/fhir/EpisodeOfCare";
    if let Some(raw) = query.get("_id") {
        let id = Uuid::parse_str(raw).ok();
        let found = match id {
            Some(id) if query.page == 1 => {
                state
                    .run_db(move |conn| match app::pathways::read(conn, &caller, PathwayId(id)) {
                        Ok(d) => Ok(Some(from_detail(&d))),
                        Err(app::Error::Hidden | app::Error::NotFound) => Ok(None),
                        Err(e) => Err(e.into()),
                    })
                    .await?
            }
            _ => None,
        };
        let entries: Vec<(String, Resource)> =
            found.map(|e| (format!("{path}/{raw}"), Resource::EpisodeOfCare(Box::new(e)))).into_iter().collect();
        return respond(StatusCode::OK, &searchset(path, &query, entries.len(), entries));
    }
    let mut q = ListQuery {
        page: Some(i64::try_from(query.page).unwrap_or(i64::MAX)),
        per_page: Some(i64::try_from(query.count).unwrap_or(i64::MAX)),
        ..Default::default()
    };
    let mut finished_only = false;
    match query.get("status") {
        None => {}
        Some("active") => q.status = Some(1),
        Some("finished") => finished_only = true,
        Some(_) => return Err(bad("status", "code_list", "is active or finished")),
    }
    if let Some(raw) = query.get("treatment-status") {
        let code = raw.parse::<i16>().ok().filter(|c| (1..=7).contains(c));
        let code = code.ok_or_else(|| bad("treatment-status", "code_list", "is a code from 1 to 7"))?;
        if q.status.is_some_and(|s| s != code) || (finished_only && code == 1) {
            // Contradicting criteria match nothing.
            return respond(StatusCode::OK, &searchset(path, &query, 0, Vec::new()));
        }
        q.status = Some(code);
        finished_only = false;
    }
    if finished_only {
        // `finished` is six register statuses; the use case filters on one: the FHIR status
        // `finished` is answered by `treatment-status`, which the client must give.
        return Err(bad(
            "status",
            "not_supported",
            "status=finished needs treatment-status (2 to 7): the register keeps six finished statuses",
        ));
    }
    if let Some(raw) = query.get("organization") {
        let raw = raw.strip_prefix("Organization/").unwrap_or(raw);
        q.unit = Some(raw.parse::<i64>().map_err(|_| bad("organization", "format", "must be an Organization id"))?);
    }
    if let Some(raw) = query.get("date") {
        let (prefix, day) = raw.split_at(raw.len().min(2));
        match prefix {
            "ge" => q.from = Some(super::organization::date_param("date", day)?),
            "le" => q.to = Some(super::organization::date_param("date", day)?),
            _ => {
                let d = super::organization::date_param("date", raw)?;
                q.from = Some(d);
                q.to = Some(d);
            }
        }
    }
    let found = state
        .run_db(move |conn| match app::pathways::list(conn, &caller, &q) {
            Ok(paged) => Ok(Some(paged)),
            // A unit outside the caller's scope (or none at all): no match, as for any filter.
            Err(app::Error::Forbidden) if q.unit.is_some() => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await?;
    let (total, items): (usize, Vec<PathwayView>) = match found {
        Some(p) => (usize::try_from(p.total).unwrap_or(0), p.items),
        None => (0, Vec::new()),
    };
    let entries = items
        .iter()
        .map(|v| (format!("{path}/{}", v.row.id), Resource::EpisodeOfCare(Box::new(episode(&v.row, &[])))))
        .collect();
    respond(StatusCode::OK, &searchset(path, &query, total, entries))
}
