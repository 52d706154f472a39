//! Published results as stored: releases with their cells, and the completeness snapshots of a
//! year (the frozen counts register contacts read). The counts they are built from are
//! `crate::reports`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::SmallInt;
use uuid::Uuid;

use crate::schema::{completeness_snapshots, release_cells, release_jobs, releases};
use crate::RepoError;

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

/// One inner count a release was built from (migration `release_counts`): never shown, kept so
/// that a later release of the year can be audited together with this one.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ReleaseCountRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub population: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub unit_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub entity_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub region_id: Option<i64>,
    #[diesel(sql_type = SmallInt)]
    pub sex: i16,
    #[diesel(sql_type = SmallInt)]
    pub age_group: i16,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub o1: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub o2: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub o3: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
    /// As `reports::CountRow::residence_kind` (0 for counts kept before residence).
    #[diesel(sql_type = SmallInt)]
    pub residence_kind: i16,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub residence_trust_id: Option<i64>,
}

/// Stores the inner counts of a release, in the transaction that creates it (one statement per
/// 20,000 counts, as arrays).
pub fn insert_release_counts(
    conn: &mut PgConnection,
    release_id: i64,
    counts: &[ReleaseCountRow],
) -> Result<(), RepoError> {
    use diesel::sql_types::Integer;
    use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
    for (i, chunk) in counts.chunks(20_000).enumerate() {
        let col = |f: fn(&ReleaseCountRow) -> bool| chunk.iter().map(f).collect::<Vec<bool>>();
        let offset = i32::try_from(i * 20_000).map_err(|_| RepoError::Other("too many release counts".into()))?;
        diesel::sql_query(
            "INSERT INTO release_counts \
             (release_id, row_number, population, unit_id, entity_id, region_id, sex, age_group, o1, o2, o3, n, \
              residence_kind, residence_trust_id) \
             SELECT $1, $12 + u.ord::integer, u.population, u.unit_id, u.entity_id, u.region_id, u.sex, \
                    u.age_group, u.o1, u.o2, u.o3, u.n, u.residence_kind, u.residence_trust_id \
             FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::smallint[], \
                         $7::smallint[], $8::boolean[], $9::boolean[], $10::boolean[], $11::bigint[], \
                         $13::smallint[], $14::bigint[]) \
                  WITH ORDINALITY AS u(population, unit_id, entity_id, region_id, sex, age_group, o1, o2, o3, n, \
                                       residence_kind, residence_trust_id, ord)",
        )
        .bind::<BigInt, _>(release_id)
        .bind::<Array<Text>, _>(chunk.iter().map(|c| c.population.clone()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(chunk.iter().map(|c| c.unit_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(chunk.iter().map(|c| c.entity_id).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(chunk.iter().map(|c| c.region_id).collect::<Vec<_>>())
        .bind::<Array<SmallInt>, _>(chunk.iter().map(|c| c.sex).collect::<Vec<_>>())
        .bind::<Array<SmallInt>, _>(chunk.iter().map(|c| c.age_group).collect::<Vec<_>>())
        .bind::<Array<Bool>, _>(col(|c| c.o1))
        .bind::<Array<Bool>, _>(col(|c| c.o2))
        .bind::<Array<Bool>, _>(col(|c| c.o3))
        .bind::<Array<BigInt>, _>(chunk.iter().map(|c| c.n).collect::<Vec<_>>())
        .bind::<Integer, _>(offset)
        .bind::<Array<SmallInt>, _>(chunk.iter().map(|c| c.residence_kind).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(chunk.iter().map(|c| c.residence_trust_id).collect::<Vec<_>>())
        .execute(conn)?;
    }
    Ok(())
}

/// The inner counts a release was built from (empty for a release stored before they were kept).
pub fn release_counts(conn: &mut PgConnection, release_id: i64) -> Result<Vec<ReleaseCountRow>, RepoError> {
    Ok(diesel::sql_query(
        "SELECT population, unit_id, entity_id, region_id, sex, age_group, o1, o2, o3, n, residence_kind, \
                residence_trust_id FROM release_counts WHERE release_id = $1 ORDER BY row_number",
    )
    .bind::<diesel::sql_types::BigInt, _>(release_id)
    .load(conn)?)
}

/// A release built in the background (migration `release_jobs`).
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = release_jobs, check_for_backend(diesel::pg::Pg))]
pub struct ReleaseJobRow {
    pub id: Uuid,
    pub year: i16,
    pub min_cell: Option<i16>,
    pub status: String,
    pub release_id: Option<i64>,
    pub problem: Option<String>,
    pub created_by: Uuid,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub attempts: i16,
}

/// A release job to queue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = release_jobs)]
pub struct NewReleaseJob {
    pub id: Uuid,
    pub year: i16,
    pub min_cell: Option<i16>,
    pub created_by: Uuid,
    pub request_id: Option<String>,
}

pub fn insert_release_job(conn: &mut PgConnection, job: &NewReleaseJob) -> Result<ReleaseJobRow, RepoError> {
    Ok(diesel::insert_into(release_jobs::table)
        .values(job)
        .returning(ReleaseJobRow::as_returning())
        .get_result(conn)?)
}

pub fn find_release_job(conn: &mut PgConnection, id: Uuid) -> Result<ReleaseJobRow, RepoError> {
    Ok(release_jobs::table.find(id).select(ReleaseJobRow::as_select()).first(conn)?)
}

/// Claims the oldest queued job, or a running one whose heartbeat is older than `stale_secs`
/// (its server stopped): marks it running, counts the attempt. One server gets each job.
pub fn claim_release_job(conn: &mut PgConnection, stale_secs: i32) -> Result<Option<ReleaseJobRow>, RepoError> {
    Ok(diesel::sql_query(
        "UPDATE release_jobs SET status = 'running', started_at = now(), heartbeat_at = now(), \
                attempts = attempts + 1 \
         WHERE id = (SELECT id FROM release_jobs \
                     WHERE status = 'queued' \
                        OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $1)) \
                     ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) \
         RETURNING *",
    )
    .bind::<diesel::sql_types::Integer, _>(stale_secs)
    .get_result(conn)
    .optional()?)
}

/// Marks a running job as alive.
pub fn beat_release_job(conn: &mut PgConnection, id: Uuid) -> Result<(), RepoError> {
    diesel::update(release_jobs::table.find(id).filter(release_jobs::status.eq("running")))
        .set(release_jobs::heartbeat_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

/// Ends a job: `done` with its release, or `refused` / `failed` with the reason.
pub fn finish_release_job(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    release_id: Option<i64>,
    problem: Option<&str>,
) -> Result<ReleaseJobRow, RepoError> {
    Ok(diesel::update(release_jobs::table.find(id))
        .set((
            release_jobs::status.eq(status),
            release_jobs::release_id.eq(release_id),
            release_jobs::problem.eq(problem),
            release_jobs::finished_at.eq(diesel::dsl::now),
        ))
        .returning(ReleaseJobRow::as_returning())
        .get_result(conn)?)
}
