//! Pathways over HTTP: open (`POST /pathways`), the scoped list, one pathway with its forms,
//! transfers and status history, and transfers to another unit (use cases in `app::pathways`;
//! the access rule is `domain::access::PathwayAccess`).
//!
//! Access: the unit that owns a pathway (and a registrar of its legal entity) has full access;
//! a unit that owned it before a transfer (or opened it) keeps read access to the pathway and to
//! the forms it registered. Anyone else gets 404, so existence does not leak.

use actix_web::{web, HttpResponse};
use app::pathways::PathwayView;
use chrono::{DateTime, NaiveDate, Utc};
use domain::organisations::NodeId;
use domain::pathways::{OpenPathwayInput, PathwayId, TransferInput};
use domain::patients::PatientId;
use persistence::forms;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Query;
use crate::pagination::Page;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenPathwayRequest {
    pub patient_id: Uuid,
    pub unit_id: i64,
    /// The pakkeforløp start date: not in the future, not before 2000.
    pub start_date: NaiveDate,
    /// 1 outpatient, 2 day, 3 inpatient, 4 ambulant, 5 detoxification, 6 assessment.
    pub treatment_level: i16,
    /// The patient's municipality of residence on the start date (kommunenummer, four digits;
    /// in Oslo the city district, six digits), valid on that date (docs/residence.md).
    #[schema(pattern = "^[0-9]{4}([0-9]{2})?$", example = "4601")]
    pub residence_code: Option<String>,
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
    /// The treatment level the pathway was opened with (1–6, docs/domain.md).
    pub treatment_level: i16,
    /// The treatment level in force: the one recorded by the latest completed measurement
    /// point, else `treatment_level`. The worklist's time limits (inpatient or outpatient)
    /// follow it.
    pub current_treatment_level: i16,
    /// The patient's municipality or Oslo city district of residence on the start date, when
    /// recorded.
    pub residence_code: Option<String>,
    /// treatment_status 1–7 (docs/domain.md).
    pub status: i16,
    pub created_at: DateTime<Utc>,
    /// `false` when the caller only keeps read access after a transfer.
    pub writable: bool,
}

impl PathwayResponse {
    fn new(view: PathwayView) -> Self {
        let p = view.row;
        Self {
            id: p.id,
            patient_id: p.patient_id,
            unit_id: p.unit_id,
            opened_unit_id: p.opened_unit_id,
            start_date: p.start_date,
            treatment_level: p.treatment_level,
            current_treatment_level: p.treatment_level_in_force(),
            residence_code: p.residence_code.clone(),
            status: p.status,
            created_at: p.created_at,
            writable: view.writable,
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
        residence_code: body.residence_code,
    };
    let today = state.today();
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::pathways::open(conn, &caller, &input, today)?)).await?;
    Ok(HttpResponse::Created().json(PathwayResponse::new(view)))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct PathwayQuery {
    /// Only pathways owned by this unit now.
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub unit: Option<i64>,
    /// Only this treatment_status (1–7).
    #[param(minimum = 1, maximum = 7)]
    pub status: Option<i16>,
    /// Start date from (inclusive).
    pub from: Option<NaiveDate>,
    /// Start date to (inclusive).
    pub to: Option<NaiveDate>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
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
    query: Query<PathwayQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let query = app::pathways::ListQuery {
        unit: q.unit,
        status: q.status,
        from: q.from,
        to: q.to,
        page: q.page,
        per_page: q.per_page,
    };
    let caller = user.caller();
    let listed = state.run_db(move |conn| Ok(app::pathways::list(conn, &caller, &query)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(PathwayResponse::new))))
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
    let id = PathwayId(id.into_inner());
    let caller = user.caller();
    let d = state.run_db(move |conn| Ok(app::pathways::read(conn, &caller, id)?)).await?;
    let detail = PathwayDetail {
        pathway: PathwayResponse::new(d.pathway),
        forms: d.forms.iter().map(FormSummary::from).collect(),
        status_history: d
            .status_history
            .into_iter()
            .map(|h| StatusChange {
                from_status: h.from_status,
                to_status: h.to_status,
                event: h.event,
                form_id: h.form_id,
                changed_by: h.changed_by,
                changed_at: h.changed_at,
            })
            .collect(),
        transfers: d
            .transfers
            .into_iter()
            .map(|t| TransferResponse {
                from_unit_id: t.from_unit_id,
                to_unit_id: t.to_unit_id,
                date: t.transfer_date,
                created_at: t.created_at,
            })
            .collect(),
    };
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
    let id = PathwayId(id.into_inner());
    let body = body.into_inner();
    let input = TransferInput { to_unit_id: NodeId(body.to_unit_id), date: body.date };
    let caller = user.caller();
    let today = state.today();
    let view = state.run_db(move |conn| Ok(app::pathways::transfer(conn, &caller, id, &input, today)?)).await?;
    Ok(HttpResponse::Created().json(PathwayResponse::new(view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pathways", web::post().to(open_pathway))
        .route("/pathways", web::get().to(list_pathways))
        .route("/pathways/{id}", web::get().to(get_pathway))
        .route("/pathways/{id}/transfers", web::post().to(create_transfer));
}
