//! Pathways (forløp): opening, status changes with their history, transfers between units, the
//! scoped list, and the units below a set of grant nodes.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date};
use domain::pathways::{PathwayId, TreatmentStatus};
use domain::patients::PatientId;
use uuid::Uuid;

use crate::schema::{pathway_status_history, pathway_transfers, pathways, patients};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pathways, check_for_backend(diesel::pg::Pg))]
pub struct PathwayRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub unit_id: i64,
    pub opened_unit_id: i64,
    pub start_date: NaiveDate,
    pub treatment_level: i16,
    pub status: i16,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The level of the latest completed measurement point (a fact kept by the database
    /// triggers, migration current_treatment_level); `None` while there is none.
    pub current_treatment_level: Option<i16>,
    /// The residence on the start date (docs/residence.md), when recorded.
    pub residence_code: Option<String>,
}

impl PathwayRow {
    /// This pathway's id, typed.
    pub fn pathway(&self) -> PathwayId {
        PathwayId(self.id)
    }

    /// The pathway's patient.
    pub fn patient(&self) -> PatientId {
        PatientId(self.patient_id)
    }
}

impl PathwayRow {
    /// The treatment level in force: the latest completed measurement's, else the level the
    /// pathway was opened with. The worklist's time limits follow it.
    pub fn treatment_level_in_force(&self) -> i16 {
        self.current_treatment_level.unwrap_or(self.treatment_level)
    }
}

/// A new pathway; `status` is 1 (active) for a pathway opened over the API, a bulk loader may
/// insert historic pathways with any status (the status history then starts with that status).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = pathways)]
pub struct NewPathwayRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub unit_id: i64,
    pub opened_unit_id: i64,
    pub start_date: NaiveDate,
    pub treatment_level: i16,
    pub status: i16,
    pub created_by: Uuid,
    pub residence_code: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pathway_status_history, check_for_backend(diesel::pg::Pg))]
pub struct StatusChangeRow {
    pub id: i64,
    pub pathway_id: Uuid,
    pub from_status: Option<i16>,
    pub to_status: i16,
    pub event: String,
    pub form_id: Option<Uuid>,
    pub changed_by: Uuid,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = pathway_status_history)]
pub struct NewStatusChangeRow {
    pub pathway_id: Uuid,
    pub from_status: Option<i16>,
    pub to_status: i16,
    /// opened, discharge_completed, follow_up_completed, discharge_reopened, follow_up_reopened.
    pub event: &'static str,
    pub form_id: Option<Uuid>,
    pub changed_by: Uuid,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pathway_transfers, check_for_backend(diesel::pg::Pg))]
pub struct TransferRow {
    pub id: i64,
    pub pathway_id: Uuid,
    pub from_unit_id: i64,
    pub to_unit_id: i64,
    pub transfer_date: NaiveDate,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// The pathway's status when it left (`None` for transfers written without it).
    pub status_at_transfer: Option<i16>,
    /// The treatment level in force when it left (`None` likewise).
    pub treatment_level_at_transfer: Option<i16>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = pathway_transfers)]
pub struct NewTransferRow {
    pub pathway_id: Uuid,
    pub from_unit_id: i64,
    pub to_unit_id: i64,
    pub transfer_date: NaiveDate,
    pub created_by: Uuid,
    pub status_at_transfer: i16,
    pub treatment_level_at_transfer: i16,
}

/// Inserts a pathway and the first row of its status history (event `opened`). A second active
/// pathway of the same patient fails with `UniqueViolation("pathways_one_active_per_patient")`.
pub fn insert(conn: &mut PgConnection, new: &NewPathwayRow) -> Result<PathwayRow, RepoError> {
    let row =
        diesel::insert_into(pathways::table).values(new).returning(PathwayRow::as_returning()).get_result(conn)?;
    add_status_change(
        conn,
        &NewStatusChangeRow {
            pathway_id: row.id,
            from_status: None,
            to_status: row.status,
            event: "opened",
            form_id: None,
            changed_by: new.created_by,
        },
    )?;
    Ok(row)
}

pub fn find(conn: &mut PgConnection, PathwayId(id): PathwayId) -> Result<PathwayRow, RepoError> {
    Ok(pathways::table.find(id).select(PathwayRow::as_select()).first(conn)?)
}

/// Like [`find`], locking the row until the transaction ends (status changes, transfers).
pub fn find_for_update(conn: &mut PgConnection, PathwayId(id): PathwayId) -> Result<PathwayRow, RepoError> {
    Ok(pathways::table.find(id).select(PathwayRow::as_select()).for_update().first(conn)?)
}

/// Brings the pathway's facts (worklist and report facts, `current_treatment_level`) up to date
/// now if this transaction changed its forms: the facts triggers recompute them only at commit
/// (migration deferred_facts), so a use case that reads a fact after changing forms in the same
/// transaction calls this first. Nothing when the transaction changed none of its forms.
pub fn refresh_dirty_facts(conn: &mut PgConnection, PathwayId(id): PathwayId) -> Result<(), RepoError> {
    diesel::sql_query("SELECT rusreg_refresh_dirty_pathway_facts($1)")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .execute(conn)?;
    Ok(())
}

/// Whether the patient has an active pathway (status 1).
pub fn has_active(conn: &mut PgConnection, patient: Uuid) -> Result<bool, RepoError> {
    Ok(diesel::select(diesel::dsl::exists(
        pathways::table
            .filter(pathways::patient_id.eq(patient))
            .filter(pathways::status.eq(TreatmentStatus::Active.code())),
    ))
    .get_result(conn)?)
}

/// Pathways of a patient, oldest first.
pub fn of_patient(conn: &mut PgConnection, PatientId(patient): PatientId) -> Result<Vec<PathwayRow>, RepoError> {
    Ok(pathways::table
        .filter(pathways::patient_id.eq(patient))
        .order((pathways::start_date.asc(), pathways::id.asc()))
        .select(PathwayRow::as_select())
        .load(conn)?)
}

/// Sets the status and writes the history row.
pub fn set_status(conn: &mut PgConnection, change: &NewStatusChangeRow) -> Result<(), RepoError> {
    diesel::update(pathways::table.find(change.pathway_id))
        .set((pathways::status.eq(change.to_status), pathways::updated_at.eq(diesel::dsl::now)))
        .execute(conn)?;
    add_status_change(conn, change)
}

/// Writes a row of the status history, or keeps it for the open collection's flush
/// ([`crate::deferred`]).
fn add_status_change(conn: &mut PgConnection, change: &NewStatusChangeRow) -> Result<(), RepoError> {
    if !crate::deferred::status_change(conn, change) {
        diesel::insert_into(pathway_status_history::table).values(change).execute(conn)?;
    }
    Ok(())
}

pub fn status_history(conn: &mut PgConnection, PathwayId(id): PathwayId) -> Result<Vec<StatusChangeRow>, RepoError> {
    Ok(pathway_status_history::table
        .filter(pathway_status_history::pathway_id.eq(id))
        .order(pathway_status_history::id.asc())
        .select(StatusChangeRow::as_select())
        .load(conn)?)
}

/// Moves the pathway to `new.to_unit_id` and records the transfer.
pub fn transfer(conn: &mut PgConnection, new: &NewTransferRow) -> Result<TransferRow, RepoError> {
    diesel::update(pathways::table.find(new.pathway_id))
        .set((pathways::unit_id.eq(new.to_unit_id), pathways::updated_at.eq(diesel::dsl::now)))
        .execute(conn)?;
    Ok(diesel::insert_into(pathway_transfers::table)
        .values(new)
        .returning(TransferRow::as_returning())
        .get_result(conn)?)
}

pub fn transfers(conn: &mut PgConnection, PathwayId(id): PathwayId) -> Result<Vec<TransferRow>, RepoError> {
    Ok(pathway_transfers::table
        .filter(pathway_transfers::pathway_id.eq(id))
        .order((pathway_transfers::transfer_date.asc(), pathway_transfers::id.asc()))
        .select(TransferRow::as_select())
        .load(conn)?)
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Every unit at or below `nodes` in the tree as valid on `on` (a registrar granted at a legal
/// entity covers all its units).
pub fn units_under(conn: &mut PgConnection, nodes: &[i64], on: NaiveDate) -> Result<Vec<i64>, RepoError> {
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<IdRow> = diesel::sql_query(
        "WITH RECURSIVE down(id, depth) AS ( \
             SELECT unnest($1::bigint[]), 0 \
             UNION \
             SELECT l.child_id, down.depth + 1 FROM down JOIN org_links l ON l.parent_id = down.id \
              AND l.valid_from <= $2 AND (l.valid_to IS NULL OR l.valid_to > $2) \
             WHERE down.depth < 8 \
         ) SELECT DISTINCT n.id FROM down JOIN org_nodes n ON n.id = down.id WHERE n.kind = 'unit' ORDER BY 1",
    )
    .bind::<Array<BigInt>, _>(nodes)
    .bind::<Date, _>(on)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// What may be listed: pathways owned by one of `visible_units` or transferred away from one.
#[derive(Debug, Clone, Default)]
pub struct PathwayFilter {
    pub visible_units: Vec<i64>,
    pub unit: Option<i64>,
    pub status: Option<i16>,
    /// Start date from (inclusive).
    pub from: Option<NaiveDate>,
    /// Start date to (inclusive).
    pub to: Option<NaiveDate>,
    pub limit: i64,
    pub offset: i64,
}

/// A listed pathway with its patient's pseudonym.
pub type ListedPathway = (PathwayRow, Vec<u8>);

/// Lists pathways with their patient's pseudonym (for the audit rows), newest start first, and
/// the total for the filter.
pub fn list(conn: &mut PgConnection, f: &PathwayFilter) -> Result<(Vec<ListedPathway>, i64), RepoError> {
    let build = || {
        let transferred_from = pathway_transfers::table
            .filter(pathway_transfers::from_unit_id.eq_any(f.visible_units.clone()))
            .select(pathway_transfers::pathway_id);
        let mut q = pathways::table
            .inner_join(patients::table)
            .filter(pathways::unit_id.eq_any(f.visible_units.clone()).or(pathways::id.eq_any(transferred_from)))
            .into_boxed();
        if let Some(unit) = f.unit {
            q = q.filter(pathways::unit_id.eq(unit));
        }
        if let Some(status) = f.status {
            // A pathway transferred away is filtered by its status when it left the caller's
            // units (what the caller sees), never by the receiving unit's later status.
            let as_left = diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::SmallInt>>(
                "(SELECT COALESCE(t.status_at_transfer, (SELECT h.to_status FROM pathway_status_history h \
                   WHERE h.pathway_id = t.pathway_id AND h.changed_at <= t.created_at ORDER BY h.id DESC LIMIT 1)) \
                  FROM pathway_transfers t WHERE t.pathway_id = pathways.id AND t.from_unit_id = ANY(",
            )
            .bind::<Array<BigInt>, _>(f.visible_units.clone())
            .sql(") ORDER BY t.transfer_date DESC, t.id DESC LIMIT 1)");
            q = q.filter(
                (pathways::unit_id.eq_any(f.visible_units.clone()).and(pathways::status.eq(status)))
                    .or(pathways::unit_id.ne_all(f.visible_units.clone()).and(as_left.eq(status))),
            );
        }
        if let Some(from) = f.from {
            q = q.filter(pathways::start_date.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(pathways::start_date.le(to));
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let rows = build()
        .order((pathways::start_date.desc(), pathways::id.asc()))
        .limit(f.limit)
        .offset(f.offset)
        .select((PathwayRow::as_select(), patients::pseudonym))
        .load(conn)?;
    Ok((rows, total))
}
