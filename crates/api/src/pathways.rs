//! Pathways over HTTP: open (`POST /pathways`), the scoped list, one pathway with its forms,
//! transfers and status history, and transfers to another unit. Also the access rule every
//! registration endpoint shares: [`pathway_access`].
//!
//! Access: the unit that owns a pathway (and a registrar of its legal entity) has full access;
//! a unit that owned it before a transfer (or opened it) keeps read access to the pathway and to
//! the forms it registered. Anyone else gets 404, so existence does not leak.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{Actor, Permission};
use domain::audit::{Action, Outcome};
use domain::organisations::NodeId;
use domain::pathways::{
    check_no_active_pathway, validate_transfer, NewPathway, OpenPathwayInput, TransferFacts, TransferInput,
    TreatmentStatus,
};
use domain::patients::PatientId;
use persistence::audit::AuditEntry;
use persistence::pathways::{self, NewPathwayRow, NewTransferRow, PathwayFilter, PathwayRow};
use persistence::{audit, forms, in_transaction, organisations, patients, PgConnection, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::pagination::{Page, PageParams};
use crate::patients::{register_role, register_units};
use crate::state::AppState;

/// What the caller may do with a pathway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathwayAccess {
    /// The owning unit is covered: read and write everything.
    Full,
    /// A unit that held the pathway before is covered: read the pathway and the forms
    /// registered at these units.
    ReadOwn(Vec<i64>),
}

/// The caller's access to `p`, or `Hidden` (404) when there is none.
pub fn pathway_access(conn: &mut PgConnection, actor: &Actor, p: &PathwayRow) -> Result<PathwayAccess, ApiError> {
    let units = register_units(conn, actor)?;
    if units.contains(&p.unit_id) {
        return Ok(PathwayAccess::Full);
    }
    let mut held: Vec<i64> = pathways::transfers(conn, p.id)?.iter().map(|t| t.from_unit_id).collect();
    held.push(p.opened_unit_id);
    let own: Vec<i64> = held.into_iter().filter(|u| units.contains(u)).collect();
    if own.is_empty() {
        Err(ApiError::Hidden)
    } else {
        Ok(PathwayAccess::ReadOwn(own))
    }
}

/// Loads a pathway (optionally locked) or 404.
pub fn load_pathway(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<PathwayRow, ApiError> {
    let found = if lock { pathways::find_for_update(conn, id) } else { pathways::find(conn, id) };
    match found {
        Ok(p) => Ok(p),
        Err(RepoError::NotFound) => Err(ApiError::Hidden),
        Err(e) => Err(e.into()),
    }
}

/// Writes `entry` about the pathway's patient (patient id and pseudonym, the owning unit).
pub fn record_for_patient(conn: &mut PgConnection, entry: AuditEntry, p: &PathwayRow) -> Result<(), ApiError> {
    let pseudonym = patients::pseudonym_of(conn, p.patient_id)?;
    audit::record(conn, &entry.unit(Some(p.unit_id)).patient(Some(p.patient_id), Some(pseudonym)))?;
    Ok(())
}

/// Checks that `unit` exists and is a unit; a field error on `field` otherwise.
fn require_unit(conn: &mut PgConnection, unit: i64, field: &str) -> Result<Vec<NodeId>, ApiError> {
    let today = Utc::now().date_naive();
    let node = match organisations::find_node(conn, unit, today) {
        Ok(n) => n,
        Err(RepoError::NotFound) => return Err(ApiError::invalid(field, "not_found", "no such unit")),
        Err(e) => return Err(e.into()),
    };
    if node.node.kind != "unit" {
        return Err(ApiError::invalid(field, "hierarchy", "must be a unit (behandlingsenhet)"));
    }
    Ok(organisations::path_of(conn, unit, today)?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenPathwayRequest {
    pub patient_id: Uuid,
    pub unit_id: i64,
    /// The pakkeforløp start date: not in the future, not before 2000.
    pub start_date: NaiveDate,
    /// 1 outpatient, 2 day, 3 inpatient, 4 ambulant, 5 detoxification, 6 assessment.
    pub treatment_level: i16,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathwayResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// The unit that owns the pathway now.
    pub unit_id: i64,
    /// The unit where it was opened.
    pub opened_unit_id: i64,
    pub start_date: NaiveDate,
    /// The treatment level the pathway was opened with (1–6, DOMAIN §4).
    pub treatment_level: i16,
    /// The treatment level in force: the one recorded by the latest completed measurement
    /// point, else `treatment_level`. The worklist's time limits (inpatient or outpatient)
    /// follow it.
    pub current_treatment_level: i16,
    /// treatment_status 1–7 (DOMAIN §4).
    pub status: i16,
    pub created_at: DateTime<Utc>,
    /// `false` when the caller only keeps read access after a transfer.
    pub writable: bool,
}

impl PathwayResponse {
    fn new(p: &PathwayRow, writable: bool) -> Self {
        Self {
            id: p.id,
            patient_id: p.patient_id,
            unit_id: p.unit_id,
            opened_unit_id: p.opened_unit_id,
            start_date: p.start_date,
            treatment_level: p.treatment_level,
            current_treatment_level: p.treatment_level_in_force(),
            status: p.status,
            created_at: p.created_at,
            writable,
        }
    }
}

/// Opens a pathway at a unit the caller registers for. 409 when the patient has an active one.
#[utoipa::path(post, path = "/api/v1/pathways", tag = "pathways", security(("bearer" = [])),
    request_body = OpenPathwayRequest,
    responses((status = 201, body = PathwayResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn open_pathway(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<OpenPathwayRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = OpenPathwayInput {
        patient_id: PatientId(body.patient_id),
        unit_id: NodeId(body.unit_id),
        start_date: body.start_date,
        treatment_level: body.treatment_level,
    };
    let today = state.today();
    let actor = user.actor();
    let entry = user.audit(Action::Other("pathway.open"), Outcome::Success);
    let created = state
        .run_db(move |conn| {
            let mut errors = match NewPathway::parse(&input, today) {
                Ok(_) => Vec::new(),
                Err(domain::DomainError::Invalid(e)) => e,
                Err(e) => return Err(e.into()),
            };
            let path = match require_unit(conn, input.unit_id.0, "unit_id") {
                Ok(path) => Some(path),
                Err(ApiError::Invalid(e)) => {
                    errors.extend(e);
                    None
                }
                Err(e) => return Err(e),
            };
            let patient = match patients::find(conn, input.patient_id.0) {
                Ok(p) => Some(p),
                Err(RepoError::NotFound) => {
                    errors.push(domain::FieldError::new("patient_id", "not_found", "no such patient"));
                    None
                }
                Err(e) => return Err(e.into()),
            };
            let (Some(path), Some(patient), true) = (path, patient, errors.is_empty()) else {
                return Err(ApiError::Invalid(errors));
            };
            let role = actor.role_for(Permission::Register, &path).ok_or(ApiError::Forbidden)?;
            let new = NewPathway::parse(&input, today)?;
            in_transaction(conn, |conn| {
                check_no_active_pathway(pathways::has_active(conn, patient.id)?)?;
                let row = NewPathwayRow {
                    id: Uuid::now_v7(),
                    patient_id: patient.id,
                    unit_id: new.unit.0,
                    opened_unit_id: new.unit.0,
                    start_date: new.start_date.date(),
                    treatment_level: new.treatment_level.code(),
                    status: NewPathway::STATUS.code(),
                    created_by: actor.user_id,
                };
                let p = pathways::insert(conn, &row).map_err(|e| match e {
                    RepoError::UniqueViolation(_) => {
                        ApiError::from(domain::DomainError::conflict("the patient already has an active pathway"))
                    }
                    other => other.into(),
                })?;
                let entry = entry.role(Some(role.as_str())).target("pathway", p.id);
                audit::record(conn, &entry.unit(Some(p.unit_id)).patient(Some(patient.id), Some(patient.pseudonym)))?;
                Ok(PathwayResponse::new(&p, true))
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PathwayQuery {
    /// Only pathways owned by this unit now.
    pub unit: Option<i64>,
    /// Only this treatment_status (1–7).
    pub status: Option<i16>,
    /// Start date from (inclusive).
    pub from: Option<NaiveDate>,
    /// Start date to (inclusive).
    pub to: Option<NaiveDate>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Lists the pathways in the caller's scope (owned by, or transferred away from, a unit the
/// caller registers for), newest start first. Every listed pathway is an audited read.
#[utoipa::path(get, path = "/api/v1/pathways", tag = "pathways", security(("bearer" = [])), params(PathwayQuery),
    responses((status = 200, body = Page<PathwayResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_pathways(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<PathwayQuery>,
) -> Result<HttpResponse, ApiError> {
    let role = register_role(&user.actor).ok_or(ApiError::Forbidden)?;
    let q = query.into_inner();
    let mut errors = Vec::new();
    if q.status.is_some_and(|s| TreatmentStatus::from_code(s).is_none()) {
        errors.push(domain::FieldError::new("status", "code_list", "must be a code from 1 to 7"));
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if to < from {
            errors.push(domain::FieldError::new("to", "date_order", "must not be before from"));
        }
    }
    let paging = match (PageParams { page: q.page, per_page: q.per_page }).limit_offset() {
        Ok(p) => p,
        Err(ApiError::Invalid(e)) => {
            errors.extend(e);
            (0, 0)
        }
        Err(e) => return Err(e),
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let actor = user.actor();
    let template = user.audit(Action::Other("pathway.list"), Outcome::Success).role(Some(role));
    let (items, total) = state
        .run_db(move |conn| {
            let units = register_units(conn, &actor)?;
            if q.unit.is_some_and(|u| !units.contains(&u)) {
                return Err(ApiError::Forbidden);
            }
            let filter = PathwayFilter {
                visible_units: units.clone(),
                unit: q.unit,
                status: q.status,
                from: q.from,
                to: q.to,
                limit: paging.0,
                offset: paging.1,
            };
            in_transaction(conn, |conn| {
                let (rows, total) = pathways::list(conn, &filter)?;
                let entries: Vec<AuditEntry> = rows
                    .iter()
                    .map(|(p, pseudonym)| {
                        template
                            .clone()
                            .unit(Some(p.unit_id))
                            .target("pathway", p.id)
                            .patient(Some(p.patient_id), Some(pseudonym.clone()))
                    })
                    .collect();
                patients::record_audit_batch(conn, &entries)?;
                let items =
                    rows.iter().map(|(p, _)| PathwayResponse::new(p, units.contains(&p.unit_id))).collect::<Vec<_>>();
                Ok((items, total))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, paging, total)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormSummary {
    pub id: Uuid,
    /// baseline, measurement, discharge or follow-up.
    pub kind: String,
    pub unit_id: i64,
    pub event_date: Option<NaiveDate>,
    /// draft or completed.
    pub status: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

impl From<&forms::FormRow> for FormSummary {
    fn from(f: &forms::FormRow) -> Self {
        Self {
            id: f.id,
            kind: f.kind.clone(),
            unit_id: f.unit_id,
            event_date: f.event_date,
            status: f.status.clone(),
            version: f.version,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    pub from_status: Option<i16>,
    pub to_status: i16,
    /// opened, discharge_completed, follow_up_completed, discharge_reopened, follow_up_reopened.
    pub event: String,
    pub form_id: Option<Uuid>,
    pub changed_by: Uuid,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    pub from_unit_id: i64,
    pub to_unit_id: i64,
    pub date: NaiveDate,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathwayDetail {
    #[serde(flatten)]
    pub pathway: PathwayResponse,
    /// The forms the caller may read (all of them for the owning unit).
    pub forms: Vec<FormSummary>,
    pub status_history: Vec<StatusChange>,
    pub transfers: Vec<TransferResponse>,
}

/// One pathway with its forms, status history and transfers.
#[utoipa::path(get, path = "/api/v1/pathways/{id}", tag = "pathways", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Pathway id")),
    responses((status = 200, body = PathwayDetail), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_pathway(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let actor = user.actor();
    let entry = user.audit(Action::Other("pathway.read"), Outcome::Success).role(Some(role)).target("pathway", id);
    let detail = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let p = load_pathway(conn, id, false)?;
                let access = pathway_access(conn, &actor, &p)?;
                let forms = forms::of_pathway(conn, id)?
                    .iter()
                    .filter(|f| match &access {
                        PathwayAccess::Full => true,
                        PathwayAccess::ReadOwn(units) => units.contains(&f.unit_id),
                    })
                    .map(FormSummary::from)
                    .collect();
                let status_history = pathways::status_history(conn, id)?
                    .into_iter()
                    .map(|h| StatusChange {
                        from_status: h.from_status,
                        to_status: h.to_status,
                        event: h.event,
                        form_id: h.form_id,
                        changed_by: h.changed_by,
                        changed_at: h.changed_at,
                    })
                    .collect();
                let transfers = pathways::transfers(conn, id)?
                    .into_iter()
                    .map(|t| TransferResponse {
                        from_unit_id: t.from_unit_id,
                        to_unit_id: t.to_unit_id,
                        date: t.transfer_date,
                        created_at: t.created_at,
                    })
                    .collect();
                record_for_patient(conn, entry, &p)?;
                Ok(PathwayDetail {
                    pathway: PathwayResponse::new(&p, access == PathwayAccess::Full),
                    forms,
                    status_history,
                    transfers,
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The receiving unit (within the register).
    pub to_unit_id: i64,
    /// The day of the transfer: not before the start or the previous transfer, not in the future.
    pub date: NaiveDate,
}

/// Moves an active pathway to another unit; the receiving unit carries on, the sending unit keeps
/// read access to what it registered. Only the owning unit may transfer.
#[utoipa::path(post, path = "/api/v1/pathways/{id}/transfers", tag = "pathways", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Pathway id")), request_body = TransferRequest,
    responses((status = 201, body = PathwayResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_transfer(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<TransferRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let role = register_role(&user.actor).ok_or(ApiError::Hidden)?;
    let actor = user.actor();
    let today = state.today();
    let entry = user.audit(Action::Other("pathway.transfer"), Outcome::Success).role(Some(role)).target("pathway", id);
    let updated = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let p = load_pathway(conn, id, true)?;
                if pathway_access(conn, &actor, &p)? != PathwayAccess::Full {
                    return Err(ApiError::Forbidden);
                }
                require_unit(conn, body.to_unit_id, "to_unit_id")?;
                let status =
                    TreatmentStatus::from_code(p.status).ok_or_else(|| ApiError::Internal("bad status".into()))?;
                let last = pathways::transfers(conn, id)?.last().map(|t| t.transfer_date);
                let facts = TransferFacts {
                    status,
                    start_date: p.start_date,
                    owning_unit: NodeId(p.unit_id),
                    last_transfer_date: last,
                };
                validate_transfer(
                    &facts,
                    &TransferInput { to_unit_id: NodeId(body.to_unit_id), date: body.date },
                    today,
                )?;
                pathways::transfer(
                    conn,
                    &NewTransferRow {
                        pathway_id: id,
                        from_unit_id: p.unit_id,
                        to_unit_id: body.to_unit_id,
                        transfer_date: body.date,
                        created_by: actor.user_id,
                    },
                )?;
                let entry = entry.detail(serde_json::json!({"from_unit_id": p.unit_id, "to_unit_id": body.to_unit_id}));
                record_for_patient(conn, entry, &p)?;
                let p = pathways::find(conn, id)?;
                Ok(PathwayResponse::new(&p, false))
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(updated))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pathways", web::post().to(open_pathway))
        .route("/pathways", web::get().to(list_pathways))
        .route("/pathways/{id}", web::get().to(get_pathway))
        .route("/pathways/{id}/transfers", web::post().to(create_transfer));
}
