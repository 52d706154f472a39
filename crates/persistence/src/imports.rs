//! Import jobs, their rejected rows, and the senders' keys: the bookkeeping of bulk import
//! (`app::imports`). The objects themselves are written by the registration use cases.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{import_errors, import_jobs, import_keys};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_jobs, check_for_backend(diesel::pg::Pg))]
pub struct ImportJobRow {
    pub id: Uuid,
    pub created_by: Uuid,
    pub format: String,
    pub csv_kind: Option<String>,
    pub dry_run: bool,
    pub all_or_nothing: bool,
    pub status: String,
    pub total_lines: i32,
    pub next_line: i32,
    pub created_count: i32,
    pub updated_count: i32,
    pub unchanged_count: i32,
    pub rejected_count: i32,
    pub batch: Option<Vec<u8>>,
    pub claim: Option<Uuid>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The nodes the sender registered for when the job was submitted: its organisation.
    pub owner_nodes: Vec<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = import_jobs)]
pub struct NewImportJobRow {
    pub id: Uuid,
    pub created_by: Uuid,
    pub format: String,
    pub csv_kind: Option<String>,
    pub dry_run: bool,
    pub all_or_nothing: bool,
    pub total_lines: i32,
    pub batch: Vec<u8>,
    /// `queued`, or `running` for a job its submitter runs at once (with its `claim`).
    pub status: String,
    pub claim: Option<Uuid>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub owner_nodes: Vec<i64>,
}

/// What a chunk of lines adds to a job's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub rejected: i32,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = import_errors, check_for_backend(diesel::pg::Pg))]
pub struct ImportErrorRow {
    pub job_id: Uuid,
    pub line: i32,
    pub field: String,
    pub code: String,
    pub message: String,
}

pub fn insert_job(conn: &mut PgConnection, new: &NewImportJobRow) -> Result<ImportJobRow, RepoError> {
    Ok(diesel::insert_into(import_jobs::table).values(new).returning(ImportJobRow::as_returning()).get_result(conn)?)
}

pub fn find_job(conn: &mut PgConnection, id: Uuid) -> Result<ImportJobRow, RepoError> {
    Ok(import_jobs::table.find(id).select(ImportJobRow::as_select()).first(conn)?)
}

/// Claims one job for a worker: a queued one, or a running one whose heartbeat is older than
/// `lease_seconds` (its worker is gone), oldest first; or `only` that job when given. The row is
/// locked `FOR UPDATE SKIP LOCKED`, so two workers never claim one job.
pub fn claim_job(
    conn: &mut PgConnection,
    claim: Uuid,
    lease_seconds: i32,
    only: Option<Uuid>,
) -> Result<Option<ImportJobRow>, RepoError> {
    let candidate = diesel::sql_query(
        "SELECT id FROM import_jobs \
         WHERE (status = 'queued' OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $1))) \
           AND ($2::uuid IS NULL OR id = $2) \
         ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind::<diesel::sql_types::Integer, _>(lease_seconds)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(only)
    .get_result::<JobId>(conn)
    .optional()?;
    let Some(JobId { id }) = candidate else { return Ok(None) };
    Ok(Some(
        diesel::update(import_jobs::table.find(id))
            .set((
                import_jobs::status.eq("running"),
                import_jobs::claim.eq(claim),
                import_jobs::heartbeat_at.eq(diesel::dsl::now),
            ))
            .returning(ImportJobRow::as_returning())
            .get_result(conn)?,
    ))
}

#[derive(QueryableByName)]
struct JobId {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// Locks a job's row for the rest of the transaction: a worker's claim skips it meanwhile.
pub fn lock_job(conn: &mut PgConnection, id: Uuid) -> Result<(), RepoError> {
    import_jobs::table.find(id).select(import_jobs::id).for_update().first::<Uuid>(conn)?;
    Ok(())
}

/// Moves a job held by `claim` on to `next_line`, adding `counts`, with the heartbeat renewed.
/// `false` (nothing changed) when another worker holds the job now: the caller rolls back.
pub fn advance(
    conn: &mut PgConnection,
    id: Uuid,
    claim: Uuid,
    next_line: i32,
    counts: Counts,
) -> Result<bool, RepoError> {
    let n = diesel::update(import_jobs::table.find(id).filter(import_jobs::claim.eq(claim)))
        .set((
            import_jobs::next_line.eq(next_line),
            import_jobs::created_count.eq(import_jobs::created_count + counts.created),
            import_jobs::updated_count.eq(import_jobs::updated_count + counts.updated),
            import_jobs::unchanged_count.eq(import_jobs::unchanged_count + counts.unchanged),
            import_jobs::rejected_count.eq(import_jobs::rejected_count + counts.rejected),
            import_jobs::heartbeat_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Ends a job held by `claim` with `status`; the stored batch is dropped.
pub fn finish(conn: &mut PgConnection, id: Uuid, claim: Uuid, status: &str) -> Result<bool, RepoError> {
    let n = diesel::update(import_jobs::table.find(id).filter(import_jobs::claim.eq(claim)))
        .set((
            import_jobs::status.eq(status),
            import_jobs::batch.eq(None::<Vec<u8>>),
            import_jobs::claim.eq(None::<Uuid>),
            import_jobs::finished_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Replaces a job's counts and errors (an all-or-nothing or dry run reports them all at its end).
pub fn set_counts(conn: &mut PgConnection, id: Uuid, next_line: i32, counts: Counts) -> Result<(), RepoError> {
    diesel::update(import_jobs::table.find(id))
        .set((
            import_jobs::next_line.eq(next_line),
            import_jobs::created_count.eq(counts.created),
            import_jobs::updated_count.eq(counts.updated),
            import_jobs::unchanged_count.eq(counts.unchanged),
            import_jobs::rejected_count.eq(counts.rejected),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn add_errors(conn: &mut PgConnection, rows: &[ImportErrorRow]) -> Result<(), RepoError> {
    for chunk in rows.chunks(5000) {
        diesel::insert_into(import_errors::table).values(chunk).execute(conn)?;
    }
    Ok(())
}

/// A job's rejected rows in line order, at most `limit` from `offset`.
pub fn errors(conn: &mut PgConnection, job: Uuid, limit: i64, offset: i64) -> Result<Vec<ImportErrorRow>, RepoError> {
    Ok(import_errors::table
        .filter(import_errors::job_id.eq(job))
        .order((import_errors::line, import_errors::id))
        .limit(limit)
        .offset(offset)
        .select(ImportErrorRow::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = import_keys, check_for_backend(diesel::pg::Pg))]
pub struct ImportKeyRow {
    pub owner: Uuid,
    pub kind: String,
    pub sender_key: String,
    pub target_id: Uuid,
    pub content_hash: Vec<u8>,
}

pub fn find_key(
    conn: &mut PgConnection,
    owner: Uuid,
    kind: &str,
    key: &str,
) -> Result<Option<ImportKeyRow>, RepoError> {
    Ok(import_keys::table.find((owner, kind, key)).select(ImportKeyRow::as_select()).first(conn).optional()?)
}

/// Deletes the jobs that ended before `before`, with their error rows; returns how many.
pub fn delete_finished(conn: &mut PgConnection, before: DateTime<Utc>) -> Result<usize, RepoError> {
    Ok(diesel::delete(import_jobs::table.filter(import_jobs::finished_at.lt(before))).execute(conn)?)
}

/// The owner's keys of `kind` among `keys` (one statement for a chunk's keys).
pub fn find_keys(
    conn: &mut PgConnection,
    owner: Uuid,
    kind: &str,
    keys: &[String],
) -> Result<Vec<ImportKeyRow>, RepoError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(import_keys::table
        .filter(import_keys::owner.eq(owner))
        .filter(import_keys::kind.eq(kind))
        .filter(import_keys::sender_key.eq_any(keys))
        .select(ImportKeyRow::as_select())
        .load(conn)?)
}

/// Records (or moves) sender keys as [`put_key`] does, in one statement; a key may be given
/// once only.
pub fn put_keys(conn: &mut PgConnection, rows: &[ImportKeyRow]) -> Result<(), RepoError> {
    use diesel::upsert::excluded;
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(import_keys::table)
        .values(rows)
        .on_conflict((import_keys::owner, import_keys::kind, import_keys::sender_key))
        .do_update()
        .set((
            import_keys::target_id.eq(excluded(import_keys::target_id)),
            import_keys::content_hash.eq(excluded(import_keys::content_hash)),
            import_keys::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records (or moves) a sender key to `target_id` with the object's hash.
pub fn put_key(conn: &mut PgConnection, row: &ImportKeyRow) -> Result<(), RepoError> {
    diesel::insert_into(import_keys::table)
        .values(row)
        .on_conflict((import_keys::owner, import_keys::kind, import_keys::sender_key))
        .do_update()
        .set((
            import_keys::target_id.eq(&row.target_id),
            import_keys::content_hash.eq(&row.content_hash),
            import_keys::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}
