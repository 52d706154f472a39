//! What reports read and what releases write: set-based counts for indicators, completeness and
//! variable completeness (each one SQL statement, grouped down to a few thousand rows), the
//! organisation tree, NPR reference counts, and releases with their cells.
//!
//! The SQL of the counts sits next to this file (`facts.sql`, `completeness.sql`,
//! `variables.sql`); the rules it encodes are described in docs/indicators.md.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Integer, Nullable, SmallInt, Text};
use domain::pathways::TreatmentLevel;
use domain::worklist::WorklistConfig;
use uuid::Uuid;

use crate::organisations::{OrgLinkRow, OrgNodeRow};
use crate::schema::{completeness_snapshots, npr_counts, org_links, org_nodes, release_cells, releases};
use crate::RepoError;

/// The settings the counts depend on.
#[derive(Debug, Clone, Copy)]
pub struct CountSettings {
    pub today: NaiveDate,
    /// Place events in the tree as it is today (else as it was on the event's date).
    pub as_of_today: bool,
    pub limits: WorklistConfig,
}

impl CountSettings {
    fn inpatient_levels() -> Vec<i16> {
        TreatmentLevel::ALL.into_iter().filter(|l| l.uses_inpatient_limits()).map(i16::from).collect()
    }
}

fn days(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// One grouped count of a population (facts.sql): `n` events at a unit with the outcomes
/// `o1..o3` of the indicators sharing the population, with the unit's legal entity and region as
/// placed (NULL when the unit had no link on the day).
#[derive(Debug, Clone, QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = Text)]
    pub population: String,
    #[diesel(sql_type = Integer)]
    pub year: i32,
    #[diesel(sql_type = BigInt)]
    pub unit_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub entity_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub region_id: Option<i64>,
    #[diesel(sql_type = SmallInt)]
    pub sex: i16,
    #[diesel(sql_type = SmallInt)]
    pub age_group: i16,
    #[diesel(sql_type = Bool)]
    pub o1: bool,
    #[diesel(sql_type = Bool)]
    pub o2: bool,
    #[diesel(sql_type = Bool)]
    pub o3: bool,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// The session settings of a report query (also given to the benchmark's plain GROUP BY, so the
/// two are compared on equal terms):
/// - room to hash its groups in memory (PostgreSQL's default work_mem of 4 MB makes the
///   grouping sort on disk: measured 17.0 s against 11.7 s for the indicator counts on
///   1,000,000 pathways, before the report facts);
/// - parallel plans: a report is a few scans of large tables summed into a few thousand rows,
///   which the planner's default start-up costs keep on one core (indicator counts on
///   1,000,000 pathways: 2.4 s serial against 1.5-1.7 s parallel on two cores).
pub const REPORT_SETTINGS: [&str; 3] =
    ["SET LOCAL work_mem = '256MB'", "SET LOCAL parallel_setup_cost = 0", "SET LOCAL parallel_tuple_cost = 0.001"];

/// Runs a report query in its own transaction with [`REPORT_SETTINGS`].
fn with_report_settings<T>(
    conn: &mut PgConnection,
    f: impl FnOnce(&mut PgConnection) -> Result<T, diesel::result::Error>,
) -> Result<T, RepoError> {
    Ok(conn.transaction(|conn| {
        for setting in REPORT_SETTINGS {
            diesel::sql_query(setting).execute(conn)?;
        }
        f(conn)
    })?)
}

const FACTS_SQL: &str = include_str!("facts.sql");
const COMPLETENESS_SQL: &str = include_str!("completeness.sql");
const VARIABLES_SQL: &str = include_str!("variables.sql");

/// The indicator populations with their outcomes, and pathways started, for the years
/// `first..=last`, by unit, sex and age group.
pub fn indicator_counts(
    conn: &mut PgConnection,
    first: i32,
    last: i32,
    s: &CountSettings,
) -> Result<Vec<CountRow>, RepoError> {
    with_report_settings(conn, |conn| {
        diesel::sql_query(FACTS_SQL)
            .bind::<Integer, _>(first)
            .bind::<Integer, _>(last)
            .bind::<Date, _>(s.today)
            .bind::<Bool, _>(s.as_of_today)
            .bind::<Integer, _>(days(s.limits.baseline_due_days_outpatient))
            .bind::<Integer, _>(days(s.limits.baseline_due_days_inpatient))
            .bind::<Array<SmallInt>, _>(CountSettings::inpatient_levels())
            .bind::<Integer, _>(days(s.limits.follow_up_closes_months))
            .bind::<Array<Integer>, _>(domain::indicators::AGE_GROUP_BOUNDS.to_vec())
            .load(conn)
    })
}

/// A completeness count (see completeness.sql for the measures).
#[derive(Debug, Clone, QueryableByName)]
pub struct CompletenessRow {
    #[diesel(sql_type = Text)]
    pub measure: String,
    #[diesel(sql_type = BigInt)]
    pub unit_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub entity_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub region_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub yes: i64,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// Completeness counts of `year` by unit.
pub fn completeness_counts(
    conn: &mut PgConnection,
    year: i32,
    s: &CountSettings,
) -> Result<Vec<CompletenessRow>, RepoError> {
    with_report_settings(conn, |conn| {
        diesel::sql_query(COMPLETENESS_SQL)
            .bind::<Integer, _>(year)
            .bind::<Date, _>(s.today)
            .bind::<Bool, _>(s.as_of_today)
            .bind::<Integer, _>(days(s.limits.baseline_due_days_outpatient))
            .bind::<Integer, _>(days(s.limits.baseline_due_days_inpatient))
            .bind::<Array<SmallInt>, _>(CountSettings::inpatient_levels())
            .bind::<Integer, _>(days(s.limits.measurement_interval_days_outpatient))
            .bind::<Integer, _>(days(s.limits.measurement_interval_days_inpatient))
            .bind::<Integer, _>(days(s.limits.measurement_missing_after_days))
            .bind::<Integer, _>(days(s.limits.follow_up_closes_months))
            .load(conn)
    })
}

/// Missing and unknown values of one variable at one unit.
#[derive(Debug, Clone, QueryableByName)]
pub struct VariableRow {
    #[diesel(sql_type = Text)]
    pub form: String,
    #[diesel(sql_type = Text)]
    pub variable: String,
    #[diesel(sql_type = BigInt)]
    pub unit_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub entity_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub region_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub missing: i64,
    #[diesel(sql_type = BigInt)]
    pub unknown: i64,
}

/// Variable completeness of `year` by unit, for one form kind or all.
pub fn variable_counts(
    conn: &mut PgConnection,
    year: i32,
    s: &CountSettings,
    form: Option<&str>,
) -> Result<Vec<VariableRow>, RepoError> {
    with_report_settings(conn, |conn| {
        diesel::sql_query(VARIABLES_SQL)
            .bind::<Integer, _>(year)
            .bind::<Date, _>(s.today)
            .bind::<Bool, _>(s.as_of_today)
            .bind::<Nullable<Text>, _>(form)
            .load(conn)
    })
}

/// Every node and link of the organisation tree (a few hundred rows).
pub fn org_snapshot(conn: &mut PgConnection) -> Result<(Vec<OrgNodeRow>, Vec<OrgLinkRow>), RepoError> {
    let nodes = org_nodes::table.select(OrgNodeRow::as_select()).order(org_nodes::id).load(conn)?;
    let links = org_links::table.select(OrgLinkRow::as_select()).order(org_links::id).load(conn)?;
    Ok((nodes, links))
}

/// One NPR reference count.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = npr_counts)]
pub struct NprCount {
    pub unit_id: i64,
    pub year: i16,
    pub pathways: i32,
    pub imported_by: Uuid,
}

/// Stores NPR counts; a count for the same unit and year replaces the earlier one.
pub fn upsert_npr_counts(conn: &mut PgConnection, rows: &[NprCount]) -> Result<usize, RepoError> {
    use diesel::upsert::excluded;
    let mut n = 0;
    for chunk in rows.chunks(5_000) {
        n += diesel::insert_into(npr_counts::table)
            .values(chunk)
            .on_conflict((npr_counts::unit_id, npr_counts::year))
            .do_update()
            .set((
                npr_counts::pathways.eq(excluded(npr_counts::pathways)),
                npr_counts::imported_by.eq(excluded(npr_counts::imported_by)),
                npr_counts::imported_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
    }
    Ok(n)
}

/// NPR counts of a year: `(unit_id, pathways)`.
pub fn npr_counts_for_year(conn: &mut PgConnection, year: i32) -> Result<Vec<(i64, i32)>, RepoError> {
    let year = i16::try_from(year).map_err(|_| RepoError::Other("year out of range".into()))?;
    Ok(npr_counts::table
        .filter(npr_counts::year.eq(year))
        .select((npr_counts::unit_id, npr_counts::pathways))
        .order(npr_counts::unit_id)
        .load(conn)?)
}

/// A stored release.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = releases, check_for_backend(diesel::pg::Pg))]
pub struct ReleaseRow {
    pub id: i64,
    pub year: i16,
    pub min_cell: i16,
    pub status: String,
    pub previous_release_id: Option<i64>,
    pub cells: i32,
    pub published_cells: i32,
    pub primary_cells: i32,
    pub secondary_cells: i32,
    pub audit: serde_json::Value,
    pub stats: serde_json::Value,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub published_by: Option<Uuid>,
    pub published_at: Option<DateTime<Utc>>,
}

/// A release to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = releases)]
pub struct NewRelease {
    pub year: i16,
    pub min_cell: i16,
    pub previous_release_id: Option<i64>,
    pub cells: i32,
    pub published_cells: i32,
    pub primary_cells: i32,
    pub secondary_cells: i32,
    pub audit: serde_json::Value,
    pub stats: serde_json::Value,
    pub created_by: Uuid,
}

/// One cell of a release (see the migration for the codes).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = release_cells, check_for_backend(diesel::pg::Pg))]
pub struct ReleaseCellRow {
    pub release_id: i64,
    pub measure: String,
    pub node_id: i64,
    pub sex: i16,
    pub age_group: i16,
    pub outcome: String,
    pub value: i32,
    pub status: String,
}

/// Stores a release and its cells (the caller's transaction makes it all or nothing).
pub fn insert_release(
    conn: &mut PgConnection,
    release: &NewRelease,
    cells: &[ReleaseCellRow],
) -> Result<ReleaseRow, RepoError> {
    let row: ReleaseRow =
        diesel::insert_into(releases::table).values(release).returning(ReleaseRow::as_returning()).get_result(conn)?;
    let cells: Vec<ReleaseCellRow> = cells.iter().map(|c| ReleaseCellRow { release_id: row.id, ..c.clone() }).collect();
    // 8 bind parameters per row; PostgreSQL allows 65,535 per statement.
    for chunk in cells.chunks(8_000) {
        diesel::insert_into(release_cells::table).values(chunk).execute(conn)?;
    }
    Ok(row)
}

/// Releases, newest first, optionally of one year.
pub fn list_releases(conn: &mut PgConnection, year: Option<i16>) -> Result<Vec<ReleaseRow>, RepoError> {
    let mut q = releases::table.select(ReleaseRow::as_select()).order(releases::id.desc()).into_boxed();
    if let Some(y) = year {
        q = q.filter(releases::year.eq(y));
    }
    Ok(q.load(conn)?)
}

impl ReleaseRow {
    /// The release's state; a code the domain does not know reads as a draft (never published).
    pub fn status(&self) -> domain::releases::ReleaseStatus {
        domain::releases::ReleaseStatus::parse(&self.status).unwrap_or(domain::releases::ReleaseStatus::Draft)
    }
}

pub fn find_release(conn: &mut PgConnection, id: i64) -> Result<ReleaseRow, RepoError> {
    Ok(releases::table.find(id).select(ReleaseRow::as_select()).first(conn)?)
}

/// Locks a release row for the rest of the transaction.
pub fn lock_release(conn: &mut PgConnection, id: i64) -> Result<ReleaseRow, RepoError> {
    Ok(releases::table.find(id).select(ReleaseRow::as_select()).for_update().first(conn)?)
}

/// The latest published release of a year (or of the latest year with one), by publication time.
pub fn latest_published(conn: &mut PgConnection, year: Option<i16>) -> Result<Option<ReleaseRow>, RepoError> {
    let mut q = releases::table
        .filter(releases::status.eq(domain::releases::ReleaseStatus::Published.as_str()))
        .select(ReleaseRow::as_select())
        .order((releases::year.desc(), releases::published_at.desc(), releases::id.desc()))
        .into_boxed();
    if let Some(y) = year {
        q = q.filter(releases::year.eq(y));
    }
    Ok(q.first(conn).optional()?)
}

/// Serialises release building and publishing of one year until the transaction ends.
pub fn lock_year(conn: &mut PgConnection, year: i16) -> Result<(), RepoError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7365, $1::int)").bind::<SmallInt, _>(year).execute(conn)?;
    Ok(())
}

/// Marks a draft release published.
pub fn publish_release(conn: &mut PgConnection, id: i64, by: Uuid) -> Result<ReleaseRow, RepoError> {
    Ok(diesel::update(releases::table.find(id))
        .set((
            releases::status.eq(domain::releases::ReleaseStatus::Published.as_str()),
            releases::published_by.eq(Some(by)),
            releases::published_at.eq(Some(Utc::now())),
        ))
        .returning(ReleaseRow::as_returning())
        .get_result(conn)?)
}

/// Every cell of a release, optionally only of some nodes.
pub fn release_cells(
    conn: &mut PgConnection,
    release: i64,
    nodes: Option<&[i64]>,
) -> Result<Vec<ReleaseCellRow>, RepoError> {
    let mut q = release_cells::table
        .filter(release_cells::release_id.eq(release))
        .select(ReleaseCellRow::as_select())
        .order((release_cells::measure, release_cells::node_id, release_cells::sex, release_cells::age_group))
        .into_boxed();
    if let Some(nodes) = nodes {
        q = q.filter(release_cells::node_id.eq_any(nodes.to_vec()));
    }
    Ok(q.load(conn)?)
}

/// A stored completeness snapshot (see migration 000012).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = completeness_snapshots, check_for_backend(diesel::pg::Pg))]
pub struct SnapshotRow {
    pub id: i64,
    pub year: i16,
    pub period: String,
    pub release_id: Option<i64>,
    pub taken_on: NaiveDate,
    pub min_cell: i16,
    pub counts: serde_json::Value,
    pub cells: serde_json::Value,
    pub audit: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A completeness snapshot to store.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = completeness_snapshots)]
pub struct NewSnapshot {
    pub year: i16,
    pub period: String,
    pub release_id: Option<i64>,
    pub taken_on: NaiveDate,
    pub min_cell: i16,
    pub counts: serde_json::Value,
    pub cells: serde_json::Value,
    pub audit: serde_json::Value,
}

/// Stores a snapshot unless one of the same year and period exists; returns the stored one.
pub fn insert_snapshot(conn: &mut PgConnection, snapshot: &NewSnapshot) -> Result<SnapshotRow, RepoError> {
    diesel::insert_into(completeness_snapshots::table)
        .values(snapshot)
        .on_conflict((completeness_snapshots::year, completeness_snapshots::period))
        .do_nothing()
        .execute(conn)?;
    find_snapshot(conn, snapshot.year, &snapshot.period)?.ok_or(RepoError::NotFound)
}

/// The snapshot of a year and period.
pub fn find_snapshot(conn: &mut PgConnection, year: i16, period: &str) -> Result<Option<SnapshotRow>, RepoError> {
    Ok(completeness_snapshots::table
        .filter(completeness_snapshots::year.eq(year).and(completeness_snapshots::period.eq(period)))
        .select(SnapshotRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every snapshot of a year, oldest first.
pub fn snapshots_of_year(conn: &mut PgConnection, year: i16) -> Result<Vec<SnapshotRow>, RepoError> {
    Ok(completeness_snapshots::table
        .filter(completeness_snapshots::year.eq(year))
        .select(SnapshotRow::as_select())
        .order(completeness_snapshots::id)
        .load(conn)?)
}

/// Serialises snapshot making of one year until the transaction ends.
pub fn lock_snapshots(conn: &mut PgConnection, year: i16) -> Result<(), RepoError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7366, $1::int)").bind::<SmallInt, _>(year).execute(conn)?;
    Ok(())
}

/// The last day of a year, for "as registered at the end of the year" lookups.
pub fn year_end(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 12, 31)
}
