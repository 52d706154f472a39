//! Reports over HTTP (docs/indicators.md): indicators, completeness, variable completeness, NPR
//! reference counts for coverage, releases (build, list, read, publish, download) and the
//! public results.
//!
//! Reports and downloads read through the reports pool (`RUSREG_REPORTS_DATABASE_URL`, a
//! streaming replica when configured); audit rows, NPR imports and releases are written to the
//! primary. Who sees what:
//! - indicators: register staff every node unsuppressed; registrars and unit contacts their
//!   own units unsuppressed (level `unit`); everyone else the latest published release;
//! - completeness: register staff nationally, unit contacts their unit, register contacts
//!   their legal entity (counts only);
//! - coverage import and releases: register staff; downloads: register contacts (their own
//!   legal entity, published releases) and register staff; public results: anyone.

use std::collections::BTreeSet;

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use domain::access::{allows, Actor, Permission};
use domain::audit::{Action, Outcome};
use domain::indicators::{parse_year, Grouping, ReportLevel};
use domain::organisations::NodeKind;
use domain::FieldError;
use persistence::reports::{self as repo, CountSettings, ReleaseRow};
use persistence::{audit, in_transaction, PgConnection, RepoError};
use reporting::completeness::{CompletenessCounts, CompletenessRow, VariableCompleteness, VariableCounts};
use reporting::exports::{self, ReleaseMeta, ReleaseSlice};
use reporting::indicators::{IndicatorResult, IndicatorTable};
use reporting::releases::ReleaseView;
use reporting::snapshots;
use reporting::tree::OrgTree;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

fn settings(state: &AppState, grouping: Option<Grouping>) -> CountSettings {
    CountSettings {
        today: state.today(),
        as_of_today: grouping.unwrap_or_default() == Grouping::AsOfToday,
        limits: state.settings.worklist,
    }
}

fn year_of(raw: i32, state: &AppState) -> Result<i32, ApiError> {
    Ok(parse_year(raw, state.today().year())?)
}

fn level_of(raw: Option<&str>, default: ReportLevel) -> Result<ReportLevel, ApiError> {
    raw.map_or(Ok(default), |l| Ok(ReportLevel::parse(l)?))
}

/// The day a year's tree is read on: its last day, or today for the current year.
fn tree_day(year: i32, today: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 12, 31).map_or(today, |end| end.min(today))
}

/// Whether the actor may see `node` under `permission` (a grant on the node's path today).
fn in_scope(actor: &Actor, tree: &OrgTree, permission: Permission, node: i64, today: NaiveDate) -> bool {
    allows(&actor.grants, permission, &tree.path_on(node, today))
}

/// Writes one audit row on the primary.
async fn record(state: &AppState, entry: persistence::audit::AuditEntry) -> Result<(), ApiError> {
    state.run_db(move |conn| Ok(audit::record(conn, &entry)?)).await
}

// ---------------------------------------------------------------------------------------------
// Indicators

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IndicatorQuery {
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
    query: web::Query<IndicatorQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let year = year_of(q.year, &state)?;
    let level = level_of(q.level.as_deref(), ReportLevel::Nation)?;
    let actor = user.actor();
    let national = allows(&actor.grants, Permission::Oversight, &[actor.nation]);
    let own_units = level == ReportLevel::Unit && !actor.nodes_for(Permission::Register).is_empty();
    let s = settings(&state, q.grouping);
    let today = s.today;
    let response = if national || own_units {
        let who = actor.clone();
        let tables = state
            .run_reports(move |conn| {
                let tree = OrgTree::load(conn)?;
                let counts = reporting::indicators::load_counts(conn, &tree, year - 1, year, &s)?;
                Ok(reporting::indicators::results(&counts, &tree, year, level, today, |n| {
                    national || in_scope(&who, &tree, Permission::Register, n, today)
                }))
            })
            .await?;
        IndicatorsResponse {
            year,
            level: level.as_str().into(),
            grouping: if s.as_of_today { "as_of_today" } else { "as_registered" }.into(),
            source: "internal".into(),
            release_id: None,
            indicators: tables,
        }
    } else {
        let who = actor.clone();
        let (release, tables) = state
            .run_reports(move |conn| {
                let tree = OrgTree::load(conn)?;
                let release = repo::latest_published(conn, i16::try_from(year).ok())?.ok_or(ApiError::NotFound)?;
                let view = ReleaseView::new(&repo::release_cells(conn, release.id, None)?);
                let previous = previous_year_view(conn, year)?;
                let day = tree_day(year, today);
                let mut nodes = exports::level_nodes(&tree, &view, year, day, level);
                // Published unit results go to the units' legal entities (as downloads do);
                // everyone else reads entity, region and nation results, as the public does.
                if level == ReportLevel::Unit {
                    nodes.retain(|n| in_scope(&who, &tree, Permission::EntityDownloads, n.node_id, today));
                    if nodes.is_empty() {
                        return Err(ApiError::Forbidden);
                    }
                }
                let slice = exports::slice(&view, previous.as_ref(), meta(&release, None), &nodes, false);
                Ok((release.id, tables_of(slice)))
            })
            .await?;
        IndicatorsResponse {
            year,
            level: level.as_str().into(),
            grouping: "as_registered".into(),
            source: "release".into(),
            release_id: Some(release),
            indicators: tables,
        }
    };
    record(
        &state,
        user.audit(Action::ReadIndicators, Outcome::Success)
            .detail(serde_json::json!({"year": year, "level": level.as_str(), "source": response.source})),
    )
    .await?;
    Ok(HttpResponse::Ok().json(response))
}

fn tables_of(slice: ReleaseSlice) -> Vec<IndicatorTable> {
    slice
        .indicators
        .into_iter()
        .map(|t| IndicatorTable::new(t.id, t.rows.into_iter().map(|r| r.result).collect::<Vec<IndicatorResult>>()))
        .collect()
}

fn previous_year_view(conn: &mut PgConnection, year: i32) -> Result<Option<ReleaseView>, ApiError> {
    let Some(prev) = repo::latest_published(conn, i16::try_from(year - 1).ok())? else { return Ok(None) };
    Ok(Some(ReleaseView::new(&repo::release_cells(conn, prev.id, None)?)))
}

fn meta(r: &ReleaseRow, entity: Option<i64>) -> ReleaseMeta {
    ReleaseMeta {
        release_id: r.id,
        year: i32::from(r.year),
        status: r.status.clone(),
        published_at: r.published_at,
        min_cell: i32::from(r.min_cell),
        audit: serde_json::from_value(r.audit.clone()).unwrap_or_default(),
        entity_id: entity,
        suppressed_marker: exports::SUPPRESSED,
    }
}

// ---------------------------------------------------------------------------------------------
// Completeness

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CompletenessQuery {
    pub year: i32,
    /// unit (default), legal_entity, region or nation.
    pub level: Option<String>,
    /// Only nodes at or below this node id.
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
    /// completed, measurements completed / late / missing / overdue, discharges, follow-ups due / done /
    /// followed up / not reached / declined / missing, NPR pathways, coverage and low_coverage.
    /// A count the caller may not see is null (docs/indicators.md, "Small counts").
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<CompletenessRow>,
}

/// Resolves the scope of a completeness request: the `keep` test of nodes. 403 without any
/// completeness grant or for a `unit` out of scope; 404 for an unknown `unit`.
fn completeness_scope<'t>(
    actor: &Actor,
    tree: &'t OrgTree,
    unit: Option<i64>,
    today: NaiveDate,
) -> Result<impl Fn(i64) -> bool + use<'t>, ApiError> {
    if actor.nodes_for(Permission::Completeness).is_empty() {
        return Err(ApiError::Forbidden);
    }
    if let Some(u) = unit {
        if tree.node(u).is_none() {
            return Err(ApiError::NotFound);
        }
        if !in_scope(actor, tree, Permission::Completeness, u, today) {
            return Err(ApiError::Forbidden);
        }
    }
    let actor = actor.clone();
    Ok(move |n: i64| {
        in_scope(&actor, tree, Permission::Completeness, n, today)
            && unit.is_none_or(|u| tree.path_on(n, today).iter().any(|p| p.0 == u))
    })
}

/// Whether any node of `level` (units linked in the year, placed at its end) is in the caller's
/// completeness scope.
fn tree_has_scope(actor: &Actor, tree: &OrgTree, level: ReportLevel, year: i32, today: NaiveDate) -> bool {
    tree.nodes_at(year, tree_day(year, today), level)
        .into_iter()
        .any(|n| in_scope(actor, tree, Permission::Completeness, n, today))
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
    query: web::Query<CompletenessQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let year = year_of(q.year, &state)?;
    let level = level_of(q.level.as_deref(), ReportLevel::Unit)?;
    let actor = user.actor();
    let s = settings(&state, q.grouping);
    let k = state.settings.min_cell;
    let who = actor.clone();
    let live = state
        .run_reports(move |conn| {
            let tree = OrgTree::load(conn)?;
            let keep = completeness_scope(&who, &tree, q.unit, s.today)?;
            let small = SmallCounts { actor: &who, tree: &tree, year, today: s.today };
            if !small.sees_all(level, &keep) {
                // Small counts are protected in one grouping: two patterns of the same year (as
                // registered and as of today) could together give away a withheld count.
                if s.as_of_today {
                    return Err(ApiError::invalid(
                        "grouping",
                        "not_available",
                        "counts with small counts withheld are given as registered only",
                    ));
                }
                return Ok(None);
            }
            let rows = CompletenessCounts::load(conn, &tree, year, &s)?.rows(&tree, level, keep);
            if rows.is_empty() && !allows(&who.grants, Permission::Oversight, &[who.nation]) {
                return Err(ApiError::Forbidden);
            }
            Ok(Some(rows))
        })
        .await?;
    let (rows, snapshot) = match live {
        Some(rows) => (rows, None),
        None => {
            let who = actor.clone();
            state
                .run_db(move |conn| {
                    let tree = OrgTree::load(conn)?;
                    let keep = completeness_scope(&who, &tree, q.unit, s.today)?;
                    let snap = snapshots::current(conn, &tree, year, &s, k).map_err(ApiError::internal)?;
                    let mut rows = snap.completeness.rows(&tree, level, keep);
                    if rows.is_empty() {
                        return Err(ApiError::Forbidden);
                    }
                    let small = SmallCounts { actor: &who, tree: &tree, year, today: s.today };
                    let sees = small.sees();
                    for r in rows.iter_mut().filter(|r| !sees(r.node_id)) {
                        snap.withheld.apply(r);
                    }
                    Ok((rows, Some(SnapshotMeta::from(&snap))))
                })
                .await?
        }
    };
    record(
        &state,
        user.audit(Action::ReadCompleteness, Outcome::Success).unit(q.unit).detail(
            serde_json::json!({"year": year, "level": level.as_str(), "rows": rows.len(), "snapshot": snapshot.as_ref().map(|m| m.id)}),
        ),
    )
    .await?;
    Ok(HttpResponse::Ok().json(CompletenessResponse { year, level: level.as_str().into(), snapshot, rows }))
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

impl From<&snapshots::Snapshot> for SnapshotMeta {
    fn from(s: &snapshots::Snapshot) -> Self {
        SnapshotMeta { id: s.id, period: s.period.clone(), taken_on: s.taken_on, release_id: s.release_id }
    }
}

/// Small counts of the completeness figures (docs/indicators.md, "Small counts"): register staff
/// and a unit (for itself: it sees its patients anyway) see every count, live; anyone else — a
/// register contact, for its legal entity and the entity's units — reads a completeness snapshot
/// of the year (`reporting::snapshots`) with the counts it withholds from both reports withheld.
struct SmallCounts<'a> {
    actor: &'a Actor,
    tree: &'a OrgTree,
    year: i32,
    today: NaiveDate,
}

impl SmallCounts<'_> {
    /// Whether the caller sees a node's counts in full (national oversight, or a node it
    /// registers for).
    fn sees(&self) -> impl Fn(i64) -> bool + use<'_> {
        let (actor, tree, today) = (self.actor, self.tree, self.today);
        let national = allows(&actor.grants, Permission::Oversight, &[actor.nation]);
        move |node: i64| national || in_scope(actor, tree, Permission::Register, node, today)
    }

    /// Whether the caller sees every node of `level` in its scope in full.
    fn sees_all(&self, level: ReportLevel, keep: &impl Fn(i64) -> bool) -> bool {
        let sees = self.sees();
        self.tree.nodes_at(self.year, tree_day(self.year, self.today), level).into_iter().filter(|n| keep(*n)).all(sees)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VariableQuery {
    pub year: i32,
    /// baseline, measurement, discharge or follow-up (default: all).
    pub form: Option<String>,
    /// unit, legal_entity, region or nation (default nation).
    pub level: Option<String>,
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
    query: web::Query<VariableQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let year = year_of(q.year, &state)?;
    let level = level_of(q.level.as_deref(), ReportLevel::Nation)?;
    if let Some(f) = q.form.as_deref() {
        if !["baseline", "measurement", "discharge", "follow-up"].contains(&f) {
            return Err(ApiError::invalid(
                "form",
                "code_list",
                "form is one of baseline, measurement, discharge, follow-up",
            ));
        }
    }
    let actor = user.actor();
    let s = settings(&state, None);
    let form = q.form.clone();
    let k = state.settings.min_cell;
    let who = actor.clone();
    let live_form = form.clone();
    let live = state
        .run_reports(move |conn| {
            let tree = OrgTree::load(conn)?;
            let keep = completeness_scope(&who, &tree, q.unit, s.today)?;
            let national = allows(&who.grants, Permission::Oversight, &[who.nation]);
            if !national && !tree_has_scope(&who, &tree, level, year, s.today) {
                return Err(ApiError::Forbidden);
            }
            let small = SmallCounts { actor: &who, tree: &tree, year, today: s.today };
            if !small.sees_all(level, &keep) {
                return Ok(None);
            }
            let counts = VariableCounts::load(conn, &tree, year, live_form.as_deref(), &s)?;
            Ok(Some(counts.rows(&tree, level, live_form.as_deref(), keep)))
        })
        .await?;
    let (rows, snapshot) = match live {
        Some(rows) => (rows, None),
        None => {
            state
                .run_db(move |conn| {
                    let tree = OrgTree::load(conn)?;
                    let keep = completeness_scope(&actor, &tree, q.unit, s.today)?;
                    let snap = snapshots::current(conn, &tree, year, &s, k).map_err(ApiError::internal)?;
                    let mut rows = snap.variables.rows(&tree, level, form.as_deref(), keep);
                    let small = SmallCounts { actor: &actor, tree: &tree, year, today: s.today };
                    let sees = small.sees();
                    for r in rows.iter_mut().filter(|r| !sees(r.node_id)) {
                        snap.withheld.apply_variable(r);
                    }
                    Ok((rows, Some(SnapshotMeta::from(&snap))))
                })
                .await?
        }
    };
    record(
        &state,
        user.audit(Action::ReadVariableCompleteness, Outcome::Success)
            .unit(q.unit)
            .detail(serde_json::json!({"year": year, "level": level.as_str(), "form": q.form})),
    )
    .await?;
    Ok(HttpResponse::Ok().json(VariableResponse { year, level: level.as_str().into(), snapshot, rows }))
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
    user.actor.require_national(Permission::Oversight)?;
    let csv_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|t| t == "text/csv" || t == "application/csv");
    if !csv_type {
        return Err(ApiError::UnsupportedMediaType);
    }
    let this_year = state.today().year();
    let by = user.actor.user_id;
    let entry = user.audit(Action::ImportCoverage, Outcome::Success).role(Some("register_staff"));
    let res = state
        .run_db(move |conn| {
            let tree = OrgTree::load(conn)?;
            let unit_of = |resh: i64| tree.unit_by_resh(resh);
            let rows = reporting::coverage::parse_npr_csv(&body, this_year, unit_of).map_err(|errors| {
                ApiError::Invalid(
                    errors
                        .into_iter()
                        .map(|e| FieldError::new(format!("rows[{}].{}", e.line, e.field), "csv_row", e.message))
                        .collect(),
                )
            })?;
            let years: BTreeSet<i16> = rows.iter().map(|r| r.year).collect();
            let stored: Vec<repo::NprCount> = rows
                .iter()
                .map(|r| repo::NprCount { unit_id: r.unit_id, year: r.year, pathways: r.pathways, imported_by: by })
                .collect();
            in_transaction(conn, |conn| {
                let n = repo::upsert_npr_counts(conn, &stored)?;
                audit::record(conn, &entry.detail(serde_json::json!({"rows": n, "years": years})))?;
                Ok::<_, ApiError>(ImportResponse { imported: n, years: years.into_iter().collect() })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(res))
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
/// with any disclosure is refused with 409 `release_refused`) and stored as a draft.
#[utoipa::path(post, path = "/api/v1/releases", tag = "releases", security(("bearer" = [])),
    request_body = ReleaseRequest,
    responses((status = 201, body = ReleaseResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_release(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<ReleaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = app::releases::ReleaseInput { year: body.year, min_cell: body.min_cell };
    let settings =
        app::releases::ReleaseSettings { default_min_cell: state.settings.min_cell, counts: settings(&state, None) };
    let caller = user.caller();
    let (primary, reports) = (state.pool.clone(), state.reports_pool.clone());
    let row = web::block(move || {
        let db = app::releases::Databases { primary: &primary, reports: &reports };
        app::releases::create(db, &caller, input, &settings)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(HttpResponse::Created().json(ReleaseResponse::from(row)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReleaseListQuery {
    pub year: Option<i16>,
}

/// Lists releases, newest first.
#[utoipa::path(get, path = "/api/v1/releases", tag = "releases", security(("bearer" = [])), params(ReleaseListQuery),
    responses((status = 200, body = Vec<ReleaseResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_releases(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ReleaseListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Oversight)?;
    let year = query.into_inner().year;
    let rows = state.run_reports(move |conn| Ok(repo::list_releases(conn, year)?)).await?;
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
    user.actor.require_national(Permission::Oversight)?;
    let id = id.into_inner();
    let row = state.run_reports(move |conn| Ok(repo::find_release(conn, id)?)).await?;
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The legal entity (node id). Register contacts must give their own; register staff may
    /// leave it out for every node of the release.
    pub entity: Option<i64>,
    /// csv, xlsx or json (default json).
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
    Json,
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
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let q = query.into_inner();
    let format = match q.format.as_deref().unwrap_or("json") {
        "csv" => Format::Csv,
        "xlsx" => Format::Xlsx,
        "json" => Format::Json,
        _ => return Err(ApiError::invalid("format", "code_list", "format is one of csv, xlsx, json")),
    };
    let actor = user.actor();
    if actor.nodes_for(Permission::EntityDownloads).is_empty() {
        return Err(ApiError::Forbidden);
    }
    let national = allows(&actor.grants, Permission::Oversight, &[actor.nation]);
    if q.entity.is_none() && !national {
        return Err(ApiError::invalid("entity", "required", "entity (the legal entity's node id) is required"));
    }
    let today = state.today();
    let slice = state
        .run_reports(move |conn| {
            let tree = OrgTree::load(conn)?;
            if let Some(e) = q.entity {
                match tree.node(e) {
                    None => return Err(ApiError::NotFound),
                    Some(n) if n.kind != NodeKind::LegalEntity => {
                        return Err(ApiError::invalid("entity", "hierarchy", "entity is a legal entity's node id"))
                    }
                    Some(_) => {}
                }
                if !in_scope(&actor, &tree, Permission::EntityDownloads, e, today) {
                    return Err(ApiError::Forbidden);
                }
            }
            let release = match repo::find_release(conn, id) {
                Ok(r) if r.status == "published" || national => r,
                Ok(_) | Err(RepoError::NotFound) => return Err(ApiError::NotFound),
                Err(e) => return Err(e.into()),
            };
            let year = i32::from(release.year);
            let view = ReleaseView::new(&repo::release_cells(conn, release.id, None)?);
            let previous = previous_year_view(conn, year)?;
            let day = tree_day(year, today);
            let nodes = match q.entity {
                Some(e) => exports::entity_nodes(&tree, &view, e, year, day),
                None => {
                    let mut all = Vec::new();
                    for level in ReportLevel::ALL {
                        all.extend(exports::level_nodes(&tree, &view, year, day, level));
                    }
                    all
                }
            };
            Ok(exports::slice(&view, previous.as_ref(), meta(&release, q.entity), &nodes, true))
        })
        .await?;
    let ext = match format {
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
        Format::Json => "json",
    };
    let body = match format {
        Format::Csv => exports::to_csv(&slice).map_err(ApiError::internal)?,
        Format::Xlsx => exports::to_xlsx(&slice).map_err(ApiError::internal)?,
        Format::Json => exports::to_json(&slice).map_err(ApiError::internal)?,
    };
    record(
        &state,
        user.audit(Action::DownloadRelease, Outcome::Success)
            .target("release", id)
            .unit(q.entity)
            .detail(serde_json::json!({"entity": q.entity, "format": ext, "bytes": body.len()})),
    )
    .await?;
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Format::Json => "application/json",
    };
    let name = match q.entity {
        Some(e) => format!("rusreg-release-{id}-entity-{e}.{ext}"),
        None => format!("rusreg-release-{id}.{ext}"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .body(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PublicQuery {
    /// The year (default: the latest published release of any year).
    pub year: Option<i32>,
}

/// The latest published release at legal entity, region and nation level: no login.
#[utoipa::path(get, path = "/api/v1/public/indicators", tag = "public", params(PublicQuery),
    responses((status = 200, description = "the release's indicator tables with its metadata"),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn public_indicators(
    state: web::Data<AppState>,
    query: web::Query<PublicQuery>,
) -> Result<HttpResponse, ApiError> {
    let year = query.into_inner().year.map(|y| year_of(y, &state)).transpose()?;
    let today = state.today();
    let slice = state
        .run_reports(move |conn| {
            let tree = OrgTree::load(conn)?;
            let release =
                repo::latest_published(conn, year.and_then(|y| i16::try_from(y).ok()))?.ok_or(ApiError::NotFound)?;
            let year = i32::from(release.year);
            let view = ReleaseView::new(&repo::release_cells(conn, release.id, None)?);
            let previous = previous_year_view(conn, year)?;
            let nodes = exports::public_nodes(&tree, &view, year, tree_day(year, today));
            Ok(exports::slice(&view, previous.as_ref(), meta(&release, None), &nodes, false))
        })
        .await?;
    Ok(HttpResponse::Ok().json(slice))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/indicators", web::get().to(get_indicators))
        .route("/reports/completeness", web::get().to(get_completeness))
        .route("/reports/variable-completeness", web::get().to(get_variable_completeness))
        .route("/coverage/reference-counts", web::post().to(import_reference_counts))
        .route("/releases", web::post().to(create_release))
        .route("/releases", web::get().to(list_releases))
        .route("/releases/{id}", web::get().to(get_release))
        .route("/releases/{id}/publish", web::post().to(publish_release))
        .route("/releases/{id}/download", web::get().to(download_release))
        .route("/public/indicators", web::get().to(public_indicators));
}
