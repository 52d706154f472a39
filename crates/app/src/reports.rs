//! Reports (docs/indicators.md): indicators, completeness and variable completeness, the NPR
//! reference counts for coverage, reading releases, downloading a legal entity's slice of one,
//! and the public results.
//!
//! Counts are read through the reports pool (a streaming replica when configured); audit rows,
//! NPR imports and completeness snapshots are written to the primary. Who sees what:
//! - indicators: register staff every node unsuppressed; registrars and unit contacts their own
//!   units unsuppressed (level `unit`); everyone else the latest published release;
//! - completeness: register staff nationally, unit contacts their unit, register contacts their
//!   legal entity — with small counts withheld, from a frozen snapshot of the year
//!   (`domain::access::Actor::sees_small_counts`, docs/suppression.md);
//! - coverage import and release lists: register staff; downloads: register contacts (their own
//!   legal entity, published releases) and register staff; public results: anyone.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use domain::access::{Actor, Permission};
use domain::audit::{Action, Outcome};
use domain::indicators::{parse_year, Grouping, ReportLevel};
use domain::organisations::{NodeId, NodeKind};
use domain::FieldError;
use persistence::releases as stored;
use persistence::releases::ReleaseRow;
use persistence::reports::{self as repo, CountSettings};
use persistence::{audit, in_transaction, PgConnection, RepoError};
use reporting::completeness::{CompletenessCounts, CompletenessRow, VariableCompleteness, VariableCounts};
use reporting::exports::{self, ReleaseMeta, ReleaseSlice};
use reporting::indicators::{IndicatorResult, IndicatorTable};
use reporting::releases::ReleaseView;
use reporting::residence::{residence_table, Populations, ResidenceTable};
use reporting::snapshots::{self, Snapshot};
use reporting::tree::OrgTree;
use serde_json::json;

use crate::{connection, Caller, Databases, Error};

/// What every report is computed with: today, the due-date limits, and the threshold k that
/// protects small counts.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub today: NaiveDate,
    pub limits: domain::worklist::WorklistConfig,
    pub min_cell: u32,
}

impl ReportSettings {
    fn counts(&self, grouping: Option<Grouping>) -> CountSettings {
        CountSettings {
            today: self.today,
            as_of_today: grouping.unwrap_or_default() == Grouping::AsOfToday,
            limits: self.limits,
        }
    }
}

fn year_of(raw: i32, today: NaiveDate) -> Result<i32, Error> {
    Ok(parse_year(raw, today.year())?)
}

/// The first day of `year` and of the next.
pub(crate) fn year_days(year: i32) -> Result<(NaiveDate, NaiveDate), Error> {
    match (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year + 1, 1, 1)) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(Error::invalid("year", "range", "not a calendar year")),
    }
}

fn level_of(raw: Option<&str>, default: ReportLevel) -> Result<ReportLevel, Error> {
    raw.map_or(Ok(default), |l| Ok(ReportLevel::parse(l)?))
}

/// The day a year's tree is read on: its last day, or today for the current year.
fn tree_day(year: i32, today: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, 12, 31).map_or(today, |end| end.min(today))
}

/// Whether a grant of the actor's allows `permission` on `node` (its path today).
fn in_scope(actor: &Actor, tree: &OrgTree, permission: Permission, node: i64, today: NaiveDate) -> bool {
    domain::access::allows(&actor.grants, permission, &tree.path_on(node, today))
}

fn record(db: Databases<'_>, entry: &audit::AuditEntry) -> Result<(), Error> {
    let mut conn = connection(db.primary)?;
    Ok(audit::record(&mut conn, entry)?)
}

// ---------------------------------------------------------------------------------------------
// Indicators

/// An indicator request as the caller sent it.
#[derive(Debug, Clone, Default)]
pub struct IndicatorRequest {
    pub year: i32,
    /// unit, legal_entity, region or nation (default nation).
    pub level: Option<String>,
    /// Internal results only.
    pub grouping: Option<Grouping>,
}

/// Where indicator results come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Computed now, unsuppressed (register staff; a unit's own staff for their units).
    Internal,
    /// The latest published release of the year.
    Release(i64),
}

/// Indicator results of a year at a level.
#[derive(Debug, Clone)]
pub struct Indicators {
    pub year: i32,
    pub level: ReportLevel,
    pub as_of_today: bool,
    pub source: Source,
    pub tables: Vec<IndicatorTable>,
}

/// Indicator results of a year at a level, in the caller's scope.
pub fn indicators(
    db: Databases<'_>,
    caller: &Caller,
    req: IndicatorRequest,
    settings: &ReportSettings,
) -> Result<Indicators, Error> {
    let year = year_of(req.year, settings.today)?;
    let level = level_of(req.level.as_deref(), ReportLevel::Nation)?;
    let actor = &caller.actor;
    let national = actor.is_national();
    let own_units = level == ReportLevel::Unit && !actor.nodes_for(Permission::Register).is_empty();
    let s = settings.counts(req.grouping);
    let today = s.today;
    let conn = &mut connection(db.reports)?;
    let tree = OrgTree::load(conn)?;
    let result = if national || own_units {
        let counts = reporting::indicators::load_counts(conn, &tree, year - 1, year, &s)?;
        let tables = reporting::indicators::results(&counts, &tree, year, level, today, |n| {
            national || in_scope(actor, &tree, Permission::Register, n, today)
        });
        Indicators { year, level, as_of_today: s.as_of_today, source: Source::Internal, tables }
    } else {
        let release = stored::latest_published(conn, i16::try_from(year).ok())?.ok_or(Error::NotFound)?;
        let (view, previous) = views(conn, &release)?;
        let mut nodes = exports::level_nodes(&tree, &view, year, tree_day(year, today), level);
        // Published unit results go to the units' legal entities (as downloads do); everyone
        // else reads entity, region and nation results, as the public does.
        if level == ReportLevel::Unit {
            nodes.retain(|n| in_scope(actor, &tree, Permission::EntityDownloads, n.node_id, today));
            if nodes.is_empty() {
                return Err(Error::Forbidden);
            }
        }
        let slice = exports::slice(&view, previous.as_ref(), meta(&release, None), &nodes, false);
        Indicators { year, level, as_of_today: false, source: Source::Release(release.id), tables: tables_of(slice) }
    };
    let source = match result.source {
        Source::Internal => "internal",
        Source::Release(_) => "release",
    };
    let entry = caller
        .audit(Action::ReadIndicators, Outcome::Success)
        .detail(json!({"year": year, "level": level.as_str(), "source": source}));
    record(db, &entry)?;
    Ok(result)
}

fn tables_of(slice: ReleaseSlice) -> Vec<IndicatorTable> {
    slice
        .indicators
        .into_iter()
        .map(|t| IndicatorTable::new(t.id, t.rows.into_iter().map(|r| r.result).collect::<Vec<IndicatorResult>>()))
        .collect()
}

/// A release's cells, and those of the latest published release of the year before (for trends).
fn views(conn: &mut PgConnection, release: &ReleaseRow) -> Result<(ReleaseView, Option<ReleaseView>), Error> {
    let view = ReleaseView::new(&stored::release_cells(conn, release.id, None)?);
    let year = i32::from(release.year);
    let previous = match stored::latest_published(conn, i16::try_from(year - 1).ok())? {
        Some(prev) => Some(ReleaseView::new(&stored::release_cells(conn, prev.id, None)?)),
        None => None,
    };
    Ok((view, previous))
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

/// A completeness request as the caller sent it.
#[derive(Debug, Clone, Default)]
pub struct CompletenessRequest {
    pub year: i32,
    /// unit (default for completeness; nation for variable completeness), legal_entity, region
    /// or nation.
    pub level: Option<String>,
    /// Only nodes at or below this node.
    pub unit: Option<i64>,
    /// Completeness only; a caller who gets small counts withheld gets them as registered only.
    pub grouping: Option<Grouping>,
}

/// The frozen snapshot a report with small counts withheld was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: i64,
    /// `release-<id>` (the snapshot of a published release) or `YYYY-MM` (a monthly one).
    pub period: String,
    /// The day the counts were read.
    pub taken_on: NaiveDate,
    pub release_id: Option<i64>,
}

impl From<&Snapshot> for SnapshotInfo {
    fn from(s: &Snapshot) -> Self {
        Self { id: s.id, period: s.period.clone(), taken_on: s.taken_on, release_id: s.release_id }
    }
}

/// Completeness rows of a year at a level, and the snapshot they were read from when small
/// counts are withheld from the caller.
#[derive(Debug, Clone)]
pub struct Completeness<R> {
    pub year: i32,
    pub level: ReportLevel,
    pub snapshot: Option<SnapshotInfo>,
    pub rows: Vec<R>,
}

/// The caller's completeness scope in the tree: 403 without any completeness grant or for a
/// `unit` out of scope, 404 for an unknown `unit`.
fn completeness_scope<'t>(
    actor: &Actor,
    tree: &'t OrgTree,
    unit: Option<i64>,
    today: NaiveDate,
) -> Result<impl Fn(i64) -> bool + use<'t>, Error> {
    if actor.nodes_for(Permission::Completeness).is_empty() {
        return Err(Error::Forbidden);
    }
    if let Some(u) = unit {
        if tree.node(u).is_none() {
            return Err(Error::NotFound);
        }
        if !actor.completeness_covers(&tree.path_on(u, today), None) {
            return Err(Error::Forbidden);
        }
    }
    let actor = actor.clone();
    Ok(move |n: i64| actor.completeness_covers(&tree.path_on(n, today), unit.map(NodeId)))
}

/// Whether the caller sees in full every node of `level` in scope (`keep`).
fn sees_all(
    actor: &Actor,
    tree: &OrgTree,
    year: i32,
    today: NaiveDate,
    level: ReportLevel,
    keep: impl Fn(i64) -> bool,
) -> bool {
    tree.nodes_at(year, tree_day(year, today), level)
        .into_iter()
        .filter(|n| keep(*n))
        .all(|n| actor.sees_small_counts(&tree.path_on(n, today)))
}

/// The current snapshot of the year (taken now on the first request of a month), on the
/// primary, with the caller's scope.
fn snapshot(
    db: Databases<'_>,
    actor: &Actor,
    year: i32,
    unit: Option<i64>,
    s: &CountSettings,
    k: u32,
    read: impl FnOnce(&OrgTree, &Snapshot, &dyn Fn(i64) -> bool) -> Result<(), Error>,
) -> Result<SnapshotInfo, Error> {
    let conn = &mut connection(db.primary)?;
    let tree = OrgTree::load(conn)?;
    let keep = completeness_scope(actor, &tree, unit, s.today)?;
    let snap = snapshots::current(conn, &tree, year, s, k).map_err(Error::internal)?;
    read(&tree, &snap, &keep)?;
    Ok(SnapshotInfo::from(&snap))
}

/// Completeness per node of a level for a year: live and in full for those who see every count
/// in scope, else from the year's snapshot with the withheld counts blanked.
pub fn completeness(
    db: Databases<'_>,
    caller: &Caller,
    req: CompletenessRequest,
    settings: &ReportSettings,
) -> Result<Completeness<CompletenessRow>, Error> {
    let year = year_of(req.year, settings.today)?;
    let level = level_of(req.level.as_deref(), ReportLevel::Unit)?;
    let actor = &caller.actor;
    let s = settings.counts(req.grouping);
    let live = {
        let conn = &mut connection(db.reports)?;
        let tree = OrgTree::load(conn)?;
        let keep = completeness_scope(actor, &tree, req.unit, s.today)?;
        if sees_all(actor, &tree, year, s.today, level, &keep) {
            let mut rows = CompletenessCounts::load(conn, &tree, year, &s)?.rows(&tree, level, keep);
            if rows.is_empty() && !actor.is_national() {
                return Err(Error::Forbidden);
            }
            let (from, to) = year_days(year)?;
            let orders = persistence::orders::counts_by_unit(conn, "follow_up", from, to)?;
            reporting::completeness::add_follow_up_orders(&mut rows, &tree, level, year, s.today, &orders);
            Some(rows)
        } else if s.as_of_today {
            // Small counts are protected in one grouping: two patterns of the same year (as
            // registered and as of today) could together give away a withheld count.
            return Err(Error::invalid(
                "grouping",
                "not_available",
                "counts with small counts withheld are given as registered only",
            ));
        } else {
            None
        }
    };
    let (rows, snapshot) = match live {
        Some(rows) => (rows, None),
        None => {
            let mut rows = Vec::new();
            let info = snapshot(db, actor, year, req.unit, &s, settings.min_cell, |tree, snap, keep| {
                rows = snap.completeness.rows(tree, level, keep);
                if rows.is_empty() {
                    return Err(Error::Forbidden);
                }
                for r in rows.iter_mut().filter(|r| !actor.sees_small_counts(&tree.path_on(r.node_id, s.today))) {
                    snap.withheld.apply(r);
                }
                Ok(())
            })?;
            (rows, Some(info))
        }
    };
    let detail =
        json!({"year": year, "level": level.as_str(), "rows": rows.len(), "snapshot": snapshot.as_ref().map(|m| m.id)});
    record(db, &caller.audit(Action::ReadCompleteness, Outcome::Success).unit(req.unit).detail(detail))?;
    Ok(Completeness { year, level, snapshot, rows })
}

/// The form kinds variable completeness can be asked for.
pub const FORM_KINDS: [&str; 4] = ["baseline", "measurement", "discharge", "follow-up"];

/// The share of missing values of every variable an indicator uses, per node, form and
/// variable; `form` narrows it to one kind.
pub fn variable_completeness(
    db: Databases<'_>,
    caller: &Caller,
    req: CompletenessRequest,
    form: Option<String>,
    settings: &ReportSettings,
) -> Result<Completeness<VariableCompleteness>, Error> {
    let year = year_of(req.year, settings.today)?;
    let level = level_of(req.level.as_deref(), ReportLevel::Nation)?;
    if form.as_deref().is_some_and(|f| !FORM_KINDS.contains(&f)) {
        return Err(Error::invalid("form", "code_list", "form is one of baseline, measurement, discharge, follow-up"));
    }
    let actor = &caller.actor;
    let s = settings.counts(None);
    let live = {
        let conn = &mut connection(db.reports)?;
        let tree = OrgTree::load(conn)?;
        let keep = completeness_scope(actor, &tree, req.unit, s.today)?;
        let any_in_scope = tree
            .nodes_at(year, tree_day(year, s.today), level)
            .into_iter()
            .any(|n| actor.completeness_covers(&tree.path_on(n, s.today), None));
        if !actor.is_national() && !any_in_scope {
            return Err(Error::Forbidden);
        }
        if sees_all(actor, &tree, year, s.today, level, &keep) {
            let counts = VariableCounts::load(conn, &tree, year, form.as_deref(), &s)?;
            Some(counts.rows(&tree, level, form.as_deref(), keep))
        } else {
            None
        }
    };
    let (rows, snapshot) = match live {
        Some(rows) => (rows, None),
        None => {
            let mut rows = Vec::new();
            let info = snapshot(db, actor, year, req.unit, &s, settings.min_cell, |tree, snap, keep| {
                rows = snap.variables.rows(tree, level, form.as_deref(), keep);
                for r in rows.iter_mut().filter(|r| !actor.sees_small_counts(&tree.path_on(r.node_id, s.today))) {
                    snap.withheld.apply_variable(r);
                }
                Ok(())
            })?;
            (rows, Some(info))
        }
    };
    let detail = json!({"year": year, "level": level.as_str(), "form": form});
    record(db, &caller.audit(Action::ReadVariableCompleteness, Outcome::Success).unit(req.unit).detail(detail))?;
    Ok(Completeness { year, level, snapshot, rows })
}

// ---------------------------------------------------------------------------------------------
// Coverage

/// An import of NPR reference counts: rows stored, and the years they cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub imported: usize,
    pub years: Vec<i16>,
}

/// Imports NPR reference counts (register staff): CSV with the columns resh_id, year, pathways.
/// One bad row refuses the file, with every bad row as `rows[<line>].<column>`. `is_csv` says
/// whether the caller declared the body as CSV ([`Error::UnsupportedFormat`] otherwise).
pub fn import_reference_counts(
    conn: &mut PgConnection,
    caller: &Caller,
    body: &[u8],
    is_csv: bool,
    today: NaiveDate,
) -> Result<Imported, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    if !is_csv {
        return Err(Error::UnsupportedFormat);
    }
    let tree = OrgTree::load(conn)?;
    let rows =
        reporting::coverage::parse_npr_csv(body, today.year(), |resh| tree.unit_by_resh(resh)).map_err(|errors| {
            Error::Invalid(
                errors
                    .into_iter()
                    .map(|e| FieldError::new(format!("rows[{}].{}", e.line, e.field), "csv_row", e.message))
                    .collect(),
            )
        })?;
    let years: BTreeSet<i16> = rows.iter().map(|r| r.year).collect();
    let by = caller.actor.user_id;
    let counts: Vec<repo::NprCount> = rows
        .iter()
        .map(|r| repo::NprCount { unit_id: r.unit_id, year: r.year, pathways: r.pathways, imported_by: by })
        .collect();
    in_transaction(conn, |conn| {
        let n = repo::upsert_npr_counts(conn, &counts)?;
        let entry = caller.audit(Action::ImportCoverage, Outcome::Success).role(Some("register_staff"));
        audit::record(conn, &entry.detail(json!({"rows": n, "years": years})))?;
        Ok(Imported { imported: n, years: years.iter().copied().collect() })
    })
}

// ---------------------------------------------------------------------------------------------
// Releases: reading, downloading, the public results

/// Releases, newest first, of one year or all (register staff).
pub fn list_releases(conn: &mut PgConnection, caller: &Caller, year: Option<i16>) -> Result<Vec<ReleaseRow>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    Ok(stored::list_releases(conn, year)?)
}

/// One release with its audit result and build figures (register staff).
pub fn read_release(conn: &mut PgConnection, caller: &Caller, id: i64) -> Result<ReleaseRow, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    Ok(stored::find_release(conn, id)?)
}

/// The file formats of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Json,
}

impl ExportFormat {
    /// `csv`, `xlsx` or `json` (the default).
    pub fn parse(raw: Option<&str>) -> Result<Self, Error> {
        match raw.unwrap_or("json") {
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            "json" => Ok(Self::Json),
            _ => Err(Error::invalid("format", "code_list", "format is one of csv, xlsx, json")),
        }
    }

    /// The slice in this format.
    pub fn render(self, slice: &ReleaseSlice) -> Result<Vec<u8>, Error> {
        match self {
            ExportFormat::Csv => exports::to_csv(slice).map_err(Error::internal),
            ExportFormat::Xlsx => exports::to_xlsx(slice).map_err(Error::internal),
            ExportFormat::Json => exports::to_json(slice).map_err(Error::internal),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
            Self::Json => "json",
        }
    }
}

/// A download: the file and what it is.
#[derive(Debug, Clone)]
pub struct Download {
    pub format: ExportFormat,
    pub bytes: Vec<u8>,
}

/// A legal entity's slice of a release — its units, itself, its region and the nation, every
/// table, with the release id, threshold and audit result — or, for register staff without an
/// entity, every node of the release. Register contacts download published releases of their
/// own entity. Every download is audited.
pub fn download(
    db: Databases<'_>,
    caller: &Caller,
    id: i64,
    entity: Option<i64>,
    format: Option<&str>,
    today: NaiveDate,
) -> Result<Download, Error> {
    let format = ExportFormat::parse(format)?;
    let slice = entity_slice(db, caller, ReleaseChoice::Id(id), entity, today)?;
    let bytes = format.render(&slice)?;
    let entry = caller
        .audit(Action::DownloadRelease, Outcome::Success)
        .target("release", id)
        .unit(entity)
        .detail(json!({"entity": entity, "format": format.extension(), "bytes": bytes.len()}));
    record(db, &entry)?;
    Ok(Download { format, bytes })
}

/// Which release a slice is cut from.
#[derive(Debug, Clone, Copy)]
pub enum ReleaseChoice {
    /// This release: published, or any status for register staff (the download's rule).
    Id(i64),
    /// The latest published release of the year (of any year when `None`); never a draft.
    LatestPublished(Option<i32>),
}

/// The caller's slice of a release, by the download's rules of who sees which entity.
fn entity_slice(
    db: Databases<'_>,
    caller: &Caller,
    choice: ReleaseChoice,
    entity: Option<i64>,
    today: NaiveDate,
) -> Result<ReleaseSlice, Error> {
    let actor = &caller.actor;
    if actor.nodes_for(Permission::EntityDownloads).is_empty() {
        return Err(Error::Forbidden);
    }
    let national = actor.is_national();
    if entity.is_none() && !national {
        return Err(Error::invalid("entity", "required", "entity (the legal entity's node id) is required"));
    }
    let conn = &mut connection(db.reports)?;
    let tree = OrgTree::load(conn)?;
    if let Some(e) = entity {
        match tree.node(e) {
            None => return Err(Error::NotFound),
            Some(n) if n.kind != NodeKind::LegalEntity => {
                return Err(Error::invalid("entity", "hierarchy", "entity is a legal entity's node id"))
            }
            Some(_) => {}
        }
        if !in_scope(actor, &tree, Permission::EntityDownloads, e, today) {
            return Err(Error::Forbidden);
        }
    }
    let release = match choice {
        ReleaseChoice::Id(id) => match stored::find_release(conn, id) {
            Ok(r) if r.status() == domain::releases::ReleaseStatus::Published || national => r,
            Ok(_) | Err(RepoError::NotFound) => return Err(Error::NotFound),
            Err(e) => return Err(e.into()),
        },
        ReleaseChoice::LatestPublished(year) => {
            let year = year.map(|y| i16::try_from(y).map_err(|_| Error::NotFound)).transpose()?;
            stored::latest_published(conn, year)?.ok_or(Error::NotFound)?
        }
    };
    let year = i32::from(release.year);
    let (view, previous) = views(conn, &release)?;
    let day = tree_day(year, today);
    let nodes = match entity {
        Some(e) => exports::entity_nodes(&tree, &view, e, year, day),
        None => ReportLevel::ALL
            .into_iter()
            .flat_map(|level| exports::level_nodes(&tree, &view, year, day, level))
            .collect(),
    };
    let mut slice = exports::slice(&view, previous.as_ref(), meta(&release, entity), &nodes, true);
    slice.residence = residence_of(conn, &tree, &release, &view, &RESIDENCE_LEVELS, today)?;
    Ok(slice)
}

/// The caller's slice of the latest **published** release of a year, as the FHIR MeasureReports
/// show it: the same cells, suppressed alike, as the download of that release gives the same
/// caller (its rules of who sees which entity), never a draft; `None` when no release of the
/// year is published. Audited as a download (`format` `fhir`).
pub fn published_slice(
    db: Databases<'_>,
    caller: &Caller,
    year: Option<i32>,
    entity: Option<i64>,
    today: NaiveDate,
) -> Result<Option<ReleaseSlice>, Error> {
    let published = {
        let conn = &mut connection(db.reports)?;
        match year.map(i16::try_from).transpose() {
            Ok(y) => stored::latest_published(conn, y)?,
            Err(_) => None,
        }
    };
    // The access checks first: a caller without downloads learns nothing of what is published.
    if caller.actor.nodes_for(Permission::EntityDownloads).is_empty() {
        return Err(Error::Forbidden);
    }
    if published.is_none() {
        return Ok(None);
    }
    let slice = entity_slice(db, caller, ReleaseChoice::LatestPublished(year), entity, today)?;
    let id = slice.metadata.release_id;
    let entry = caller
        .audit(Action::DownloadRelease, Outcome::Success)
        .target("release", id)
        .unit(entity)
        .detail(json!({"entity": entity, "format": "fhir"}));
    record(db, &entry)?;
    Ok(Some(slice))
}

fn public_slice(conn: &mut PgConnection, release: &ReleaseRow, today: NaiveDate) -> Result<ReleaseSlice, Error> {
    let tree = OrgTree::load(conn)?;
    let year = i32::from(release.year);
    let (view, previous) = views(conn, release)?;
    let nodes = exports::public_nodes(&tree, &view, year, tree_day(year, today));
    let mut slice = exports::slice(&view, previous.as_ref(), meta(release, None), &nodes, false);
    slice.residence = residence_of(conn, &tree, release, &view, &RESIDENCE_LEVELS, today)?;
    Ok(slice)
}

// ---------------------------------------------------------------------------------------------
// Residence

/// The levels of the residence tables: catchment trusts, their regions, the nation.
const RESIDENCE_LEVELS: [ReportLevel; 3] = [ReportLevel::LegalEntity, ReportLevel::Region, ReportLevel::Nation];

/// The residence tables of a stored release at `levels`, with the adult population of its year
/// (`None` for a release made before the residence was recorded).
fn residence_of(
    conn: &mut PgConnection,
    tree: &OrgTree,
    release: &ReleaseRow,
    view: &ReleaseView,
    levels: &[ReportLevel],
    today: NaiveDate,
) -> Result<Option<ResidenceTable>, Error> {
    if view.nodes_of(reporting::releases::RESIDENCE_UNKNOWN).is_empty() {
        return Ok(None);
    }
    let year = i32::from(release.year);
    let populations = Populations::new(
        &persistence::residence::adult_population(conn, release.year)?,
        persistence::residence::population_is_synthetic(conn, release.year)?,
    );
    Ok(Some(residence_table(view, tree, year, tree_day(year, today), &populations, levels)))
}

/// Results by residence as published: the latest published release of the year.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ResidenceResults {
    pub metadata: ReleaseMeta,
    pub level: ReportLevel,
    #[serde(flatten)]
    pub table: ResidenceTable,
}

/// Pathways started by where the patients lived (catchment trust, region or nation; default
/// legal_entity), with crude and standardised rates, from the latest published release of the
/// year (docs/residence.md). The numbers are published ones: any signed-in user may read them.
pub fn residence_results(
    db: Databases<'_>,
    _caller: &Caller,
    year: i32,
    level: Option<&str>,
    today: NaiveDate,
) -> Result<ResidenceResults, Error> {
    let year = year_of(year, today)?;
    let level = level_of(level, ReportLevel::LegalEntity)?;
    if level == ReportLevel::Unit {
        return Err(Error::invalid(
            "level",
            "code_list",
            "level is one of legal_entity (the catchment trusts), region, nation: residence has no unit level",
        ));
    }
    let conn = &mut connection(db.reports)?;
    let y = i16::try_from(year).map_err(|_| Error::NotFound)?;
    let release = stored::latest_published(conn, Some(y))?.ok_or(Error::NotFound)?;
    let tree = OrgTree::load(conn)?;
    let view = ReleaseView::new(&stored::release_cells(conn, release.id, None)?);
    let table = residence_of(conn, &tree, &release, &view, &[level], today)?.ok_or(Error::NotFound)?;
    Ok(ResidenceResults { metadata: meta(&release, None), level, table })
}

/// What a public slice is built from: the release, the latest published release of the year
/// before (the trend) and the day.
type PublicKey = (i64, Option<i64>, NaiveDate);

/// Public slices already built, by what they were built from: a published release never
/// changes, so its slice stays right while it is the latest of its year, the latest of the year
/// before (the trend) is the same, and the day is the same (the tree's day for the current year).
#[derive(Debug, Default)]
pub struct PublicCache {
    slices: std::sync::Mutex<std::collections::HashMap<PublicKey, std::sync::Arc<ReleaseSlice>>>,
}

/// The public results: the latest published release (of `year`, when given) at unit, legal
/// entity, region and nation level; no login, not audited. Built through `cache`: two small lookups (the latest published release of the
/// year and of the year before) decide whether the slice built before still stands; only a new
/// publication or a new day builds it again. The results pages and the public JSON share it.
pub fn public_results_cached(
    conn: &mut PgConnection,
    cache: &PublicCache,
    year: Option<i32>,
    today: NaiveDate,
) -> Result<std::sync::Arc<ReleaseSlice>, Error> {
    let year = year.map(|y| year_of(y, today)).transpose()?;
    let release = stored::latest_published(conn, year.and_then(|y| i16::try_from(y).ok()))?.ok_or(Error::NotFound)?;
    let previous = stored::latest_published(conn, i16::try_from(i32::from(release.year) - 1).ok())?.map(|r| r.id);
    let key = (release.id, previous, today);
    let lock = || cache.slices.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(slice) = lock().get(&key) {
        return Ok(slice.clone());
    }
    let slice = std::sync::Arc::new(public_slice(conn, &release, today)?);
    let mut slices = lock();
    slices.retain(|(_, _, day), _| *day == today); // yesterday's slices are never asked for again
    slices.insert(key, slice.clone());
    Ok(slice)
}
