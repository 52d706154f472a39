//! What reports read: set-based counts for indicators, completeness and
//! variable completeness (each one SQL statement, grouped down to a few thousand rows), the
//! organisation tree and NPR reference counts. Stored releases and snapshots are `crate::releases`.
//!
//! The SQL of the counts sits next to this file (`facts.sql`, `completeness.sql`,
//! `variables.sql`); the rules it encodes are described in docs/indicators.md.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Integer, Nullable, SmallInt, Text};
use domain::pathways::TreatmentLevel;
use domain::worklist::WorklistConfig;
use uuid::Uuid;

use crate::organisations::{OrgLinkRow, OrgNodeRow};
use crate::schema::{npr_counts, org_links, org_nodes};
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
    /// 0 not split by residence (every population but pathways started), 1 under 18 in the
    /// year, 2 aged 18 or over (docs/residence.md).
    #[diesel(sql_type = SmallInt)]
    pub residence_kind: i16,
    /// For an adult: the health trust of the catchment area of the residence on the start date.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub residence_trust_id: Option<i64>,
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
            .bind::<Integer, _>(domain::residence::ADULT_AGE)
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

/// The last day of a year, for "as registered at the end of the year" lookups.
pub fn year_end(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 12, 31)
}
