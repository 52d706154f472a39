//! Patients: stored by pseudonym (keyed hash) with the national id encrypted; sex and birth year
//! for reporting. Also the scope query (which patients a set of units may see) and a batch
//! writer for audit rows about many patients.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::patients::PatientId;
use uuid::Uuid;

use crate::schema::{pathway_transfers, pathways, patients};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = patients, check_for_backend(diesel::pg::Pg))]
pub struct PatientRow {
    pub id: Uuid,
    pub pseudonym: Vec<u8>,
    pub national_id_enc: Vec<u8>,
    pub sex: i16,
    pub birth_year: i16,
    pub registered_by: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A new patient row: the caller computes the pseudonym and the ciphertext with
/// `domain::national_id::IdKey` (never store the clear id).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = patients)]
pub struct NewPatientRow {
    pub id: Uuid,
    pub pseudonym: Vec<u8>,
    pub national_id_enc: Vec<u8>,
    pub sex: i16,
    pub birth_year: i16,
    pub registered_by: Uuid,
}

/// Inserts the patient unless one with the same pseudonym exists. Returns the stored row and
/// whether it was created now (`false`: the existing patient, unchanged). Safe under concurrent
/// registration of the same id.
pub fn insert_or_find(conn: &mut PgConnection, new: &NewPatientRow) -> Result<(PatientRow, bool), RepoError> {
    let inserted: Option<PatientRow> = diesel::insert_into(patients::table)
        .values(new)
        .on_conflict(patients::pseudonym)
        .do_nothing()
        .returning(PatientRow::as_returning())
        .get_result(conn)
        .optional()?;
    match inserted {
        Some(row) => Ok((row, true)),
        None => Ok((find_by_pseudonym(conn, &new.pseudonym)?.ok_or(RepoError::NotFound)?, false)),
    }
}

/// Inserts many patients at once (bulk loaders); fails on a duplicate pseudonym.
pub fn insert_many(conn: &mut PgConnection, rows: &[NewPatientRow]) -> Result<usize, RepoError> {
    Ok(diesel::insert_into(patients::table).values(rows).execute(conn)?)
}

pub fn find(conn: &mut PgConnection, PatientId(id): PatientId) -> Result<PatientRow, RepoError> {
    Ok(patients::table.find(id).select(PatientRow::as_select()).first(conn)?)
}

pub fn find_by_pseudonym(conn: &mut PgConnection, pseudonym: &[u8]) -> Result<Option<PatientRow>, RepoError> {
    Ok(patients::table
        .filter(patients::pseudonym.eq(pseudonym))
        .select(PatientRow::as_select())
        .first(conn)
        .optional()?)
}

/// The pseudonym of a patient (for audit rows).
pub fn pseudonym_of(conn: &mut PgConnection, id: Uuid) -> Result<Vec<u8>, RepoError> {
    Ok(patients::table.find(id).select(patients::pseudonym).first(conn)?)
}

/// Whether the patient is in the scope of a caller who registered at `units` (user `user`): the
/// caller registered the patient, or the patient has a pathway that one of `units` owns or
/// transferred away.
pub fn in_scope(
    conn: &mut PgConnection,
    PatientId(id): PatientId,
    user: Uuid,
    units: &[i64],
) -> Result<bool, RepoError> {
    let registered: bool = diesel::select(diesel::dsl::exists(
        patients::table.filter(patients::id.eq(id)).filter(patients::registered_by.eq(user)),
    ))
    .get_result(conn)?;
    if registered {
        return Ok(true);
    }
    let owns: bool = diesel::select(diesel::dsl::exists(
        pathways::table.filter(pathways::patient_id.eq(id)).filter(pathways::unit_id.eq_any(units)),
    ))
    .get_result(conn)?;
    if owns {
        return Ok(true);
    }
    Ok(diesel::select(diesel::dsl::exists(
        pathway_transfers::table
            .inner_join(pathways::table)
            .filter(pathways::patient_id.eq(id))
            .filter(pathway_transfers::from_unit_id.eq_any(units)),
    ))
    .get_result(conn)?)
}

/// The pseudonyms of these patients, as `(id, pseudonym)` (patients that no longer exist are left out).
pub fn pseudonyms_of(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<u8>)>, RepoError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(patients::table.filter(patients::id.eq_any(ids)).select((patients::id, patients::pseudonym)).load(conn)?)
}
