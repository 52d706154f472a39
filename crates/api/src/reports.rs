//! Reports over HTTP (docs/indicators.md): indicators, completeness, variable completeness, NPR
//! reference counts for coverage, releases (build, list, read, publish, download) and the
//! public results. The use cases, with who sees what, are `app::reports` and `app::releases`;
//! the handlers here only translate.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};
use app::reports::{CompletenessRequest, ExportFormat, IndicatorRequest, SnapshotInfo, Source};
use chrono::NaiveDate;
use domain::indicators::Grouping;
use persistence::releases::ReleaseRow;
use persistence::reports::CountSettings;
use reporting::completeness::{CompletenessRow, VariableCompleteness};
use reporting::indicators::IndicatorTable;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Query;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Indicators

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct IndicatorQuery {
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = crate::pagination::MIN_YEAR, max = crate::pagination::MAX_YEAR, message = "year is between 2000 and 9999"))]
    pub year: i32,
    /// unit, legal_entity, region or nation (default nation).
    pub level: Option<String>,
    /// as_registered (default) or as_of_today; internal results only.
    #[param(value_type = Option<String>)]
    pub grouping: Option<Grouping>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorsResponse {
    pub year: i32,
    pub level: String,
    pub grouping: String,
    /// `internal` (computed now, unsuppressed) or `release` (the latest published release).
    pub source: String,
    pub release_id: Option<i64>,
    /// One table per indicator: id, titles, targets and a row per node with numerator,
    /// denominator, share, Wilson interval, target level, last year's share and the trend.
    /// Counts suppressed in a release are null.
    #[schema(value_type = Vec<Object>)]
    pub indicators: Vec<IndicatorTable>,
}

/// Indicator results of a year at a level, in the caller's scope.
#[utoipa::path(get, path = "/api/v1/reports/indicators", tag = "reports", security(("bearer" = [])),
    params(IndicatorQuery),
    responses((status = 200, body = IndicatorsResponse), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get_indicators(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<IndicatorQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let req = IndicatorRequest { year: q.year, level: q.level, grouping: q.grouping };
    let caller = user.caller();
    let settings = state.report_settings();
    let r = state.run_reports_use_case(move |db| app::reports::indicators(db, &caller, req, &settings)).await?;
    let (source, release_id) = match r.source {
        Source::Internal => ("internal", None),
        Source::Release(id) => ("release", Some(id)),
    };
    Ok(HttpResponse::Ok().json(IndicatorsResponse {
        year: r.year,
        level: r.level.as_str().into(),
        grouping: if r.as_of_today { "as_of_today" } else { "as_registered" }.into(),
        source: source.into(),
        release_id,
        indicators: r.tables,
    }))
}

// ---------------------------------------------------------------------------------------------
// Residence

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ResidenceQuery {
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = crate::pagination::MIN_YEAR, max = crate::pagination::MAX_YEAR, message = "year is between 2000 and 9999"))]
    pub year: i32,
    /// legal_entity (the catchment trusts, default), region or nation.
    pub level: Option<String>,
}

/// Pathways started by adults by where they lived (the catchment trust, region or nation of
/// their residence), by sex and age group, with crude and age- and sex-standardised rates per
/// 1,000 inhabitants aged 18 and over and their 95 % intervals, from the latest published
/// release of the year (docs/residence.md). Withheld counts are null, and so is every rate
/// computed from one. 404 when no release of the year is published, or the latest was made
/// before residence was recorded.
#[utoipa::path(get, path = "/api/v1/reports/residence", tag = "reports", security(("bearer" = [])),
    params(ResidenceQuery),
    responses((status = 200, description = "metadata (the release), level, population_synthetic, rows (node, pathways_started, population, crude, standardised, strata by sex and age group), without_residence", body = Object),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_residence(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ResidenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let caller = user.caller();
    let today = state.today();
    let r = state
        .run_reports_use_case(move |db| app::reports::residence_results(db, &caller, q.year, q.level.as_deref(), today))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

// ---------------------------------------------------------------------------------------------
// Completeness

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct CompletenessQuery {
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = crate::pagination::MIN_YEAR, max = crate::pagination::MAX_YEAR, message = "year is between 2000 and 9999"))]
    pub year: i32,
    /// unit (default), legal_entity, region or nation.
    pub level: Option<String>,
    /// Only nodes at or below this node id.
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub unit: Option<i64>,
    /// as_registered (default) or as_of_today; a caller who gets small counts withheld (a
    /// register contact) gets them as registered only (422 `grouping` otherwise).
    #[param(value_type = Option<String>)]
    pub grouping: Option<Grouping>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompletenessResponse {
    pub year: i32,
    pub level: String,
    /// Present when small counts may be withheld from the caller: the rows are then read from
    /// this frozen snapshot of the year, never live (docs/indicators.md, "Small counts").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotMeta>,
    /// One row per node: units and units reporting, pathways started, baselines expected and
    /// completed, measurements completed / taken_overdue / taken_after_missed / missed_at_year_end
    /// (deprecated names of the same counts: late / missing / overdue — to be removed in a later
    /// version), discharges, follow-ups due / done / followed up / not reached / declined /
    /// missing, NPR pathways, coverage and low_coverage; `follow_up_orders` (ordered, sent,
    /// answered, expired, open: the patient channel's follow-up orders made in the year), null in
    /// a register contact's snapshot view.
    /// A count the caller may not see is null (docs/indicators.md, "Small counts").
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<CompletenessRow>,
}

/// Completeness per node of a level for a year.
#[utoipa::path(get, path = "/api/v1/reports/completeness", tag = "reports", security(("bearer" = [])),
    params(CompletenessQuery),
    responses((status = 200, body = CompletenessResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_completeness(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<CompletenessQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let req = CompletenessRequest { year: q.year, level: q.level, unit: q.unit, grouping: q.grouping };
    let caller = user.caller();
    let settings = state.report_settings();
    let r = state.run_reports_use_case(move |db| app::reports::completeness(db, &caller, req, &settings)).await?;
    Ok(HttpResponse::Ok().json(CompletenessResponse {
        year: r.year,
        level: r.level.as_str().into(),
        snapshot: r.snapshot.map(SnapshotMeta::from),
        rows: r.rows,
    }))
}

/// The snapshot a response with small counts withheld was read from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SnapshotMeta {
    pub id: i64,
    /// `release-<id>` (the snapshot of a published release) or `YYYY-MM` (a monthly one).
    pub period: String,
    /// The day the counts were read.
    pub taken_on: NaiveDate,
    pub release_id: Option<i64>,
}

impl From<SnapshotInfo> for SnapshotMeta {
    fn from(s: SnapshotInfo) -> Self {
        SnapshotMeta { id: s.id, period: s.period, taken_on: s.taken_on, release_id: s.release_id }
    }
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct VariableQuery {
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = crate::pagination::MIN_YEAR, max = crate::pagination::MAX_YEAR, message = "year is between 2000 and 9999"))]
    pub year: i32,
    /// baseline, measurement, discharge or follow-up (default: all).
    pub form: Option<String>,
    /// unit, legal_entity, region or nation (default nation).
    pub level: Option<String>,
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub unit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VariableResponse {
    pub year: i32,
    pub level: String,
    /// As in the completeness response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotMeta>,
    /// One row per node, form and variable: completed forms, missing and unknown values and
    /// their shares. A count the caller may not see is null (docs/indicators.md, "Small counts").
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<VariableCompleteness>,
}

/// The share of missing values of every variable an indicator uses.
#[utoipa::path(get, path = "/api/v1/reports/variable-completeness", tag = "reports", security(("bearer" = [])),
    params(VariableQuery),
    responses((status = 200, body = VariableResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn get_variable_completeness(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<VariableQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let req = CompletenessRequest { year: q.year, level: q.level, unit: q.unit, grouping: None };
    let caller = user.caller();
    let settings = state.report_settings();
    let r = state
        .run_reports_use_case(move |db| app::reports::variable_completeness(db, &caller, req, q.form, &settings))
        .await?;
    Ok(HttpResponse::Ok().json(VariableResponse {
        year: r.year,
        level: r.level.as_str().into(),
        snapshot: r.snapshot.map(SnapshotMeta::from),
        rows: r.rows,
    }))
}

// ---------------------------------------------------------------------------------------------
// Coverage

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    /// Rows stored (a unit and year already present is replaced).
    pub imported: usize,
    pub years: Vec<i16>,
}

/// Imports NPR reference counts (CSV with the columns resh_id, year, pathways). One bad row
/// refuses the file: 422 lists every bad row as `rows[<line>].<column>` (line 1 is the header).
#[utoipa::path(post, path = "/api/v1/coverage/reference-counts", tag = "reports", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn import_reference_counts(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let is_csv = crate::extract::is_csv(&req);
    let today = state.today();
    let caller = user.caller();
    let imported = state
        .run_db(move |conn| Ok(app::reports::import_reference_counts(conn, &caller, &body, is_csv, today)?))
        .await?;
    Ok(HttpResponse::Ok().json(ImportResponse { imported: imported.imported, years: imported.years }))
}

// ---------------------------------------------------------------------------------------------
// Releases

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub year: i32,
    /// The suppression threshold k, 3 to 100 (default RUSREG_MIN_CELL).
    #[schema(minimum = 3, maximum = 100)]
    pub min_cell: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseResponse {
    pub id: i64,
    pub year: i16,
    pub min_cell: i16,
    /// draft or published.
    pub status: String,
    pub previous_release_id: Option<i64>,
    pub cells: i32,
    pub published_cells: i32,
    pub primary_cells: i32,
    pub secondary_cells: i32,
    #[schema(value_type = Object)]
    pub audit: serde_json::Value,
    #[schema(value_type = Object)]
    pub stats: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ReleaseRow> for ReleaseResponse {
    fn from(r: ReleaseRow) -> Self {
        ReleaseResponse {
            id: r.id,
            year: r.year,
            min_cell: r.min_cell,
            status: r.status,
            previous_release_id: r.previous_release_id,
            cells: r.cells,
            published_cells: r.published_cells,
            primary_cells: r.primary_cells,
            secondary_cells: r.secondary_cells,
            audit: r.audit,
            stats: r.stats,
            created_at: r.created_at,
            published_at: r.published_at,
        }
    }
}

/// Builds a release of a year: every table as one linked table, suppressed, audited (a release
/// with any disclosure is refused with 409 `release_refused`) and stored as a draft. With the
/// header `Prefer: respond-async` the release is built in the background instead: 202 with the
/// job (`Location: /api/v1/releases/jobs/{id}`), the same checks of the request first (403, 422).
#[utoipa::path(post, path = "/api/v1/releases", tag = "releases", security(("bearer" = [])),
    request_body = ReleaseRequest,
    params(("Prefer" = Option<String>, Header, description = "`respond-async`: build in the background and answer 202 with the job")),
    responses((status = 201, body = ReleaseResponse), (status = 202, body = ReleaseJobResponse),
              (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_release(
    state: web::Data<AppState>,
    user: AuthUser,
    req: actix_web::HttpRequest,
    body: JsonBody<ReleaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = app::releases::ReleaseInput { year: body.year, min_cell: body.min_cell };
    let caller = user.caller();
    if prefers_async(&req) {
        let today = state.today();
        let job = state.run_db(move |conn| Ok(app::releases::enqueue(conn, &caller, input, today)?)).await?;
        state.release_wake.notify_one();
        let location = format!("/api/v1/releases/jobs/{}", job.id);
        return Ok(HttpResponse::Accepted()
            .insert_header((actix_web::http::header::LOCATION, location))
            .insert_header(("Preference-Applied", "respond-async"))
            .json(ReleaseJobResponse::from(job)));
    }
    let settings = release_settings(&state);
    let row = state.run_reports_use_case(move |db| app::releases::create(db, &caller, input, &settings)).await?;
    Ok(HttpResponse::Created().json(ReleaseResponse::from(row)))
}

/// Whether the request's `Prefer` header asks for an asynchronous answer (RFC 7240).
fn prefers_async(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get_all("Prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("respond-async")))
}

/// What a release is built with: the register's threshold, the counts as of today.
fn release_settings(state: &AppState) -> app::releases::ReleaseSettings {
    let report = state.report_settings();
    let counts = CountSettings { today: report.today, as_of_today: false, limits: report.limits };
    app::releases::ReleaseSettings { default_min_cell: report.min_cell, counts }
}

/// A release built in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseJobResponse {
    pub id: uuid::Uuid,
    pub year: i16,
    pub min_cell: Option<i16>,
    /// `queued`, `running`, `done` (see `release_id`), `refused` (the disclosure audit found no
    /// safe pattern: `problem` holds its line) or `failed` (`problem`: `forbidden`, `invalid`,
    /// `unavailable` or `internal`).
    pub status: String,
    pub release_id: Option<i64>,
    /// Link to the draft release when done.
    pub release: Option<String>,
    pub problem: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    pub attempts: i16,
}

impl From<persistence::releases::ReleaseJobRow> for ReleaseJobResponse {
    fn from(r: persistence::releases::ReleaseJobRow) -> Self {
        ReleaseJobResponse {
            id: r.id,
            year: r.year,
            min_cell: r.min_cell,
            status: r.status,
            release_id: r.release_id,
            release: r.release_id.map(|id| format!("/api/v1/releases/{id}")),
            problem: r.problem,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            attempts: r.attempts,
        }
    }
}

/// A release job: its status, and the draft release when done (register staff).
#[utoipa::path(get, path = "/api/v1/releases/jobs/{id}", tag = "releases", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The job's id, from the 202 answer")),
    responses((status = 200, body = ReleaseJobResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn get_release_job(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(id) = uuid::Uuid::parse_str(&path.into_inner()) else {
        return Err(app::Error::invalid("id", "format", "a release job id is a UUID").into());
    };
    let caller = user.caller();
    let job = state.run_db(move |conn| Ok(app::releases::job(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok().json(ReleaseJobResponse::from(job)))
}

/// Runs queued release jobs in the background until the last handle of the state is dropped with
/// the server: one at a time per server; several servers share the queue.
pub fn spawn_release_worker(state: std::sync::Weak<AppState>) {
    let spawned = std::thread::Builder::new().name("rusreg-releases".into()).spawn(move || loop {
        let Some(state) = state.upgrade() else { return };
        let wake = state.release_wake.clone();
        let settings = release_settings(&state);
        let ran = match app::releases::run_next_job(
            app::Databases { primary: &state.pool, reports: &state.reports_pool },
            &settings,
        ) {
            Ok(job) => job.is_some(),
            Err(e) => {
                tracing::error!(error = %e, "the release worker could not run a job");
                false
            }
        };
        drop(state);
        if !ran {
            wake.wait_timeout(std::time::Duration::from_secs(2));
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the release worker could not start");
    }
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ReleaseListQuery {
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = 2000, max = 9999, message = "year is between 2000 and 9999"))]
    pub year: Option<i16>,
}

/// Lists releases, newest first.
#[utoipa::path(get, path = "/api/v1/releases", tag = "releases", security(("bearer" = [])), params(ReleaseListQuery),
    responses((status = 200, body = Vec<ReleaseResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_releases(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ReleaseListQuery>,
) -> Result<HttpResponse, ApiError> {
    let year = query.into_inner().year;
    let caller = user.caller();
    let rows = state.run_reports(move |conn| Ok(app::reports::list_releases(conn, &caller, year)?)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(ReleaseResponse::from).collect::<Vec<_>>()))
}

/// One release with its audit result and build figures.
#[utoipa::path(get, path = "/api/v1/releases/{id}", tag = "releases", security(("bearer" = [])),
    responses((status = 200, body = ReleaseResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_release(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let caller = user.caller();
    let row = state.run_reports(move |conn| Ok(app::reports::read_release(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(row)))
}

/// Publishes a draft release (409 `already_published` when it is published).
#[utoipa::path(post, path = "/api/v1/releases/{id}/publish", tag = "releases", security(("bearer" = [])),
    responses((status = 200, body = ReleaseResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn publish_release(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let caller = user.caller();
    let row = state.run_db(move |conn| Ok(app::releases::publish(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok().json(ReleaseResponse::from(row)))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The legal entity (node id). Register contacts must give their own; register staff may
    /// leave it out for every node of the release.
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub entity: Option<i64>,
    /// csv, xlsx or json (default json).
    pub format: Option<String>,
}

/// A legal entity's slice of a release: its units, itself, its region and the nation, every
/// table, with the release id, threshold and audit result. Every download is audited.
#[utoipa::path(get, path = "/api/v1/releases/{id}/download", tag = "releases", security(("bearer" = [])),
    params(DownloadQuery),
    responses((status = 200, description = "CSV, XLSX or JSON"), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn download_release(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<DownloadQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let q = query.into_inner();
    let today = state.today();
    let caller = user.caller();
    let entity = q.entity;
    let file = state
        .run_reports_use_case(move |db| app::reports::download(db, &caller, id, entity, q.format.as_deref(), today))
        .await?;
    let ext = file.format.extension();
    let name = match entity {
        Some(e) => format!("rusreg-release-{id}-entity-{e}.{ext}"),
        None => format!("rusreg-release-{id}.{ext}"),
    };
    Ok(attachment(file.format, name, file.bytes))
}

/// A file to save: its content type by format, and its name.
fn attachment(format: ExportFormat, name: String, bytes: Vec<u8>) -> HttpResponse {
    let content_type = match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ExportFormat::Json => "application/json",
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .body(bytes)
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct PublicQuery {
    /// The year (default: the latest published release of any year).
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = crate::pagination::MIN_YEAR, max = crate::pagination::MAX_YEAR, message = "year is between 2000 and 9999"))]
    pub year: Option<i32>,
    /// `csv`, `xlsx` or `json` as a file to save; without it, the JSON document itself.
    #[param(pattern = "^(csv|xlsx|json)$")]
    pub format: Option<String>,
}

/// The latest published release at unit, legal entity, region and nation level: no login. The
/// results pages under `/results` show the same slice, and link its CSV, XLSX and JSON here.
#[utoipa::path(get, path = "/api/v1/public/indicators", tag = "public", params(PublicQuery),
    responses((status = 200, description = "the release's indicator tables with its metadata (JSON), or the same as a CSV, XLSX or JSON file"),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn public_indicators(
    state: web::Data<AppState>,
    query: Query<PublicQuery>,
) -> Result<HttpResponse, ApiError> {
    let PublicQuery { year, format } = query.into_inner();
    let format = format.as_deref().map(|f| ExportFormat::parse(Some(f))).transpose()?;
    let today = state.today();
    let cache = state.public_cache.clone();
    let slice =
        state.run_reports(move |conn| Ok(app::reports::public_results_cached(conn, &cache, year, today)?)).await?;
    match format {
        None => Ok(HttpResponse::Ok().json(&*slice)),
        Some(format) => {
            let bytes = format.render(&slice)?;
            let name = format!(
                "rusreg-results-{}-release-{}.{}",
                slice.metadata.year,
                slice.metadata.release_id,
                format.extension()
            );
            Ok(attachment(format, name, bytes))
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/indicators", web::get().to(get_indicators))
        .route("/reports/completeness", web::get().to(get_completeness))
        .route("/reports/variable-completeness", web::get().to(get_variable_completeness))
        .route("/reports/residence", web::get().to(get_residence))
        .route("/coverage/reference-counts", web::post().to(import_reference_counts))
        .route("/releases", web::post().to(create_release))
        .route("/releases", web::get().to(list_releases))
        .route("/releases/jobs/{id}", web::get().to(get_release_job))
        .route("/releases/{id}", web::get().to(get_release))
        .route("/releases/{id}/publish", web::post().to(publish_release))
        .route("/releases/{id}/download", web::get().to(download_release))
        .route("/public/indicators", web::get().to(public_indicators));
}
