//! Research projects and extracts over HTTP (register staff; docs/research.md):
//! `POST /research/projects` records a project (201, `Location`), `GET /research/projects` lists
//! them, `GET /research/projects/{id}` shows one with its deliveries, the delivery deadline and
//! the pending notices of reservations after a delivery, and `POST /research/projects/{id}/extracts`
//! delivers the age-encrypted extract as the response body (`?dry_run=true`: the risk report only),
//! and `POST /research/projects/{id}/notices/{notice_id}/told` records that a recipient was told.

use actix_web::{web, HttpResponse};
use app::research::{ExtractOutcome, NewProject, ProjectView};
use chrono::{DateTime, NaiveDate, Utc};
use domain::research::ProjectInput;
use persistence::research::{DeliveryRow, NoticeRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientDto {
    /// The receiving organisation.
    pub organisation: String,
    /// The contact person or function there (no patient data).
    pub contact: String,
    /// The recipient's age x25519 public keys (`age1…`), 1 to 10: the extract is encrypted to
    /// each of them.
    pub public_keys: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodDto {
    /// First pathway start date included.
    pub from: NaiveDate,
    /// Last pathway start date included (not in the future).
    pub to: NaiveDate,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    pub title: String,
    /// The approval's reference, e.g. the REK number.
    #[schema(example = "REK 2026/12345")]
    pub approval_ref: String,
    /// The legal basis of the disclosure.
    pub legal_basis: String,
    pub recipient: RecipientDto,
    /// The approved variables: sex, birth_year, age_at_start, health_trust, start_date,
    /// discharge_date, treatment_level, treatment_status, discharge_ending, baseline_date,
    /// main_substance, housing.
    pub variables: Vec<String>,
    /// The approved period of pathway starts.
    pub period: PeriodDto,
    /// The day the project was approved (the delivery deadline is 30 Norwegian working days later).
    pub approved_on: NaiveDate,
    /// No extract is delivered after this day.
    pub expires_on: NaiveDate,
    /// `shift`: each patient's dates moved by their own number of days, at most `shift_days`
    /// either way; `month`: dates as year and month.
    #[schema(example = "shift")]
    pub dates: String,
    /// 1 to 365 with `shift`; absent with `month`.
    pub shift_days: Option<i64>,
    /// Ages (and birth years) in 5-year groups from the start.
    #[serde(default)]
    pub age_groups: bool,
    /// The smallest class of patients sharing the quasi-identifiers (2 to 100, default 5).
    pub k: Option<i64>,
    /// The share of rows that may be left out whole before generalising further (0 to 100, default 5).
    pub max_suppressed_percent: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub id: Uuid,
    pub delivered_at: DateTime<Utc>,
    pub delivered_by: Uuid,
    pub variables: Vec<String>,
    pub period: PeriodDto,
    pub row_count: i32,
    pub patient_count: i32,
    pub suppressed_rows: i32,
    /// The age public keys it was encrypted to.
    pub recipients: Vec<String>,
    /// The files inside the container with their SHA-256.
    #[schema(value_type = Object)]
    pub files: serde_json::Value,
    /// SHA-256 of the encrypted container as sent.
    pub container_sha256: String,
    /// The re-identification risk report.
    #[schema(value_type = Object)]
    pub risk: serde_json::Value,
}

impl From<DeliveryRow> for DeliveryResponse {
    fn from(d: DeliveryRow) -> Self {
        Self {
            id: d.id,
            delivered_at: d.delivered_at,
            delivered_by: d.delivered_by,
            variables: d.variables,
            period: PeriodDto { from: d.period_from, to: d.period_to },
            row_count: d.row_count,
            patient_count: d.patient_count,
            suppressed_rows: d.suppressed_rows,
            recipients: d.recipients,
            files: d.files,
            container_sha256: d.container_sha256,
            risk: d.risk,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeResponse {
    pub id: i64,
    /// The patient's pseudonym in this project: the recipient deletes the rows with it.
    pub project_pseudonym: String,
    /// The latest delivery that held the patient.
    pub last_delivery_id: Uuid,
    /// When the reservation was recorded.
    pub created_at: DateTime<Utc>,
    /// When the recipient was recorded as told (null: pending).
    pub told_at: Option<DateTime<Utc>>,
    pub told_by: Option<Uuid>,
}

impl From<NoticeRow> for NoticeResponse {
    fn from(n: NoticeRow) -> Self {
        Self {
            id: n.id,
            project_pseudonym: n.project_pseudonym,
            last_delivery_id: n.last_delivery_id,
            created_at: n.created_at,
            told_at: n.told_at,
            told_by: n.told_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectResponse {
    pub id: Uuid,
    pub title: String,
    pub approval_ref: String,
    pub legal_basis: String,
    pub recipient: RecipientDto,
    pub variables: Vec<String>,
    pub period: PeriodDto,
    pub approved_on: NaiveDate,
    /// 30 Norwegian working days after approval (weekends and public holidays skipped).
    pub delivery_deadline: NaiveDate,
    pub expires_on: NaiveDate,
    pub expired: bool,
    pub dates: String,
    pub shift_days: Option<i16>,
    pub age_groups: bool,
    pub k: i16,
    pub max_suppressed_percent: i16,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// Deliveries, oldest first (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<DeliveryResponse>>,
    /// Reservations recorded after a delivery: tell the recipient to delete these patients' rows,
    /// then record it (`POST …/notices/{notice_id}/told`). Not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_notices: Option<Vec<NoticeResponse>>,
    /// Notices the recipient was told of (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub told_notices: Option<Vec<NoticeResponse>>,
}

impl From<ProjectView> for ProjectResponse {
    fn from(v: ProjectView) -> Self {
        let r = v.row;
        let (told, pending): (Option<Vec<NoticeRow>>, Option<Vec<NoticeRow>>) = match v.notices {
            Some(n) => {
                let (told, pending) = n.into_iter().partition(|n| n.told_at.is_some());
                (Some(told), Some(pending))
            }
            None => (None, None),
        };
        Self {
            id: r.id,
            title: r.title,
            approval_ref: r.approval_ref,
            legal_basis: r.legal_basis,
            recipient: RecipientDto {
                organisation: r.recipient_org,
                contact: r.recipient_contact,
                public_keys: r.recipient_keys,
            },
            variables: r.variables,
            period: PeriodDto { from: r.period_from, to: r.period_to },
            approved_on: r.approved_on,
            delivery_deadline: v.delivery_deadline,
            expires_on: r.expires_on,
            expired: v.expired,
            dates: r.dates,
            shift_days: r.shift_days,
            age_groups: r.age_groups,
            k: r.k,
            max_suppressed_percent: r.max_suppressed_percent,
            created_by: r.created_by,
            created_at: r.created_at,
            deliveries: v.deliveries.map(|d| d.into_iter().map(DeliveryResponse::from).collect()),
            pending_notices: pending.map(|n| n.into_iter().map(NoticeResponse::from).collect()),
            told_notices: told.map(|n| n.into_iter().map(NoticeResponse::from).collect()),
        }
    }
}

/// Records a research project.
#[utoipa::path(post, path = "/api/v1/research/projects", tag = "research", security(("bearer" = [])),
    request_body = ProjectRequest,
    responses((status = 201, body = ProjectResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_project(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<ProjectRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let new = NewProject {
        input: ProjectInput {
            title: b.title,
            approval_ref: b.approval_ref,
            legal_basis: b.legal_basis,
            recipient_org: b.recipient.organisation,
            recipient_contact: b.recipient.contact,
            variables: b.variables,
            period_from: b.period.from,
            period_to: b.period.to,
            approved_on: b.approved_on,
            expires_on: b.expires_on,
            dates: b.dates,
            shift_days: b.shift_days,
            age_groups: b.age_groups,
            k: b.k,
            max_suppressed_percent: b.max_suppressed_percent,
        },
        recipient_keys: b.recipient.public_keys,
    };
    let (caller, today) = (user.caller(), state.today());
    let view = state.run_db(move |conn| Ok(app::research::create(conn, &caller, new, today)?)).await?;
    let location = format!("/api/v1/research/projects/{}", view.row.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(ProjectResponse::from(view)))
}

/// Lists research projects, newest first.
#[utoipa::path(get, path = "/api/v1/research/projects", tag = "research", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<ProjectResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_projects(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().request();
    let (caller, today) = (user.caller(), state.today());
    let listed = state.run_db(move |conn| Ok(app::research::list(conn, &caller, page, today)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(ProjectResponse::from))))
}

/// One research project with its deliveries and pending reservation notices.
#[utoipa::path(get, path = "/api/v1/research/projects/{id}", tag = "research", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Project id")),
    responses((status = 200, body = ProjectResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_project(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (caller, today) = (user.caller(), state.today());
    let view = state.run_db(move |conn| Ok(app::research::read(conn, &caller, id, today)?)).await?;
    Ok(HttpResponse::Ok().json(ProjectResponse::from(view)))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExtractQuery {
    /// `true`: only the re-identification risk report; nothing is delivered or stored.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RiskResponse {
    pub dry_run: bool,
    /// Rows (pathways) that would be delivered.
    pub rows: usize,
    pub patients: usize,
    /// Classes before and after, and what was generalised or suppressed.
    #[schema(value_type = Object)]
    pub risk: serde_json::Value,
}

/// Delivers the project's extract: the body is the age-encrypted tar (CSV, Parquet, codebook,
/// manifest); the delivery is logged on the project and in every patient's access log. With
/// `dry_run=true` the answer is the risk report (JSON) and nothing is delivered.
#[utoipa::path(post, path = "/api/v1/research/projects/{id}/extracts", tag = "research", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Project id"), ExtractQuery),
    responses((status = 201, description = "The encrypted extract (application/octet-stream; headers Rusreg-Delivery-Id and Rusreg-Container-Sha256)"),
              (status = 200, body = RiskResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn create_extract(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: Query<ExtractQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, dry_run) = (id.into_inner(), query.dry_run.unwrap_or(false));
    let (caller, today, now, key) = (user.caller(), state.today(), Utc::now(), state.id_key.clone());
    let outcome =
        state.run_db(move |conn| Ok(app::research::extract(conn, &caller, &key, id, dry_run, today, now)?)).await?;
    match outcome {
        ExtractOutcome::Assessed { risk, rows, patients } => Ok(HttpResponse::Ok().json(RiskResponse {
            dry_run: true,
            rows,
            patients,
            risk: serde_json::to_value(risk).unwrap_or_default(),
        })),
        ExtractOutcome::Delivered(d) => {
            let filename = format!("rusreg-research-{}-{}.tar.age", id, d.delivery.id);
            Ok(HttpResponse::Created()
                .content_type("application/octet-stream")
                .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Rusreg-Delivery-Id", d.delivery.id.to_string()))
                .insert_header(("Rusreg-Container-Sha256", d.delivery.container_sha256.clone()))
                .body(d.encrypted))
        }
    }
}

/// Records that the recipient was told of a reservation notice (idempotent: the first time is kept).
#[utoipa::path(post, path = "/api/v1/research/projects/{id}/notices/{notice_id}/told", tag = "research",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Project id"),
           ("notice_id" = i64, Path, description = "Notice id")),
    responses((status = 200, body = NoticeResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn mark_notice_told(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, notice) = path.into_inner();
    let caller = user.caller();
    let row = state.run_db(move |conn| Ok(app::research::mark_notice_told(conn, &caller, id, notice)?)).await?;
    Ok(HttpResponse::Ok().json(NoticeResponse::from(row)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/research/projects", web::post().to(create_project))
        .route("/research/projects", web::get().to(list_projects))
        .route("/research/projects/{id}", web::get().to(get_project))
        .route("/research/projects/{id}/extracts", web::post().to(create_extract))
        .route("/research/projects/{id}/notices/{notice_id}/told", web::post().to(mark_notice_told));
}
