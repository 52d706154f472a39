//! The reservation list: pseudonyms of people who reserved against registration. Reserving
//! deletes every row about the person (the patient row cascades to pathways, transfers, status
//! history, forms, their typed rows, substances and history) and keeps only the pseudonym.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{patients, reservations};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reservations, check_for_backend(diesel::pg::Pg))]
pub struct ReservationRow {
    pub id: Uuid,
    pub pseudonym: Vec<u8>,
    pub received_date: NaiveDate,
    pub letter_sent_at: Option<DateTime<Utc>>,
    pub letter_sent_by: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = reservations)]
pub struct NewReservationRow {
    pub id: Uuid,
    pub pseudonym: Vec<u8>,
    pub received_date: NaiveDate,
    pub created_by: Uuid,
}

/// Serialises, for the rest of the transaction, every registration and reservation of the person
/// with this pseudonym (a transaction-scoped advisory lock keyed by the pseudonym): a
/// registration that starts while a reservation is being written waits for it, then sees it.
pub fn lock_person(conn: &mut PgConnection, pseudonym: &[u8]) -> Result<(), RepoError> {
    let mut key = [0u8; 4];
    for (k, b) in key.iter_mut().zip(pseudonym) {
        *k = *b;
    }
    diesel::sql_query("SELECT pg_advisory_xact_lock(7367, $1)")
        .bind::<diesel::sql_types::Integer, _>(i32::from_be_bytes(key))
        .execute(conn)?;
    Ok(())
}

/// Whether this pseudonym is on the reservation list.
pub fn is_reserved(conn: &mut PgConnection, pseudonym: &[u8]) -> Result<bool, RepoError> {
    Ok(diesel::select(diesel::dsl::exists(reservations::table.filter(reservations::pseudonym.eq(pseudonym))))
        .get_result(conn)?)
}

/// Puts the pseudonym on the list and deletes the patient with that pseudonym and everything
/// about them. Returns the reservation and the deleted patient's id, if there was one. Run it in
/// a transaction; a pseudonym already on the list is `UniqueViolation("reservations_pseudonym_key")`.
pub fn reserve(conn: &mut PgConnection, new: &NewReservationRow) -> Result<(ReservationRow, Option<Uuid>), RepoError> {
    let row = diesel::insert_into(reservations::table)
        .values(new)
        .returning(ReservationRow::as_returning())
        .get_result(conn)?;
    // The import keys that name the person's patient, pathways and forms (a sender's key would
    // otherwise still say that rusreg knew the person) go first, while the rows they name exist.
    diesel::sql_query(
        "DELETE FROM import_keys k USING patients p \
          WHERE p.pseudonym = $1 AND (k.target_id = p.id \
             OR k.target_id IN (SELECT w.id FROM pathways w WHERE w.patient_id = p.id) \
             OR k.target_id IN (SELECT f.id FROM forms f JOIN pathways w ON f.pathway_id = w.id \
                                 WHERE w.patient_id = p.id))",
    )
    .bind::<diesel::sql_types::Bytea, _>(&new.pseudonym)
    .execute(conn)?;
    let deleted: Option<Uuid> = diesel::delete(patients::table.filter(patients::pseudonym.eq(&new.pseudonym)))
        .returning(patients::id)
        .get_result(conn)
        .optional()?;
    Ok((row, deleted))
}

/// Lists reservations, letters still to send first (oldest first), then the sent ones.
pub fn list(
    conn: &mut PgConnection,
    pending_only: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ReservationRow>, i64), RepoError> {
    let build = || {
        let mut q = reservations::table.into_boxed();
        if pending_only {
            q = q.filter(reservations::letter_sent_at.is_null());
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let rows = build()
        .order((
            reservations::letter_sent_at.is_not_null().asc(),
            reservations::received_date.asc(),
            reservations::id.asc(),
        ))
        .limit(limit)
        .offset(offset)
        .select(ReservationRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Marks the confirmation letter sent (once; a second call keeps the first time).
pub fn mark_letter_sent(conn: &mut PgConnection, id: Uuid, by: Uuid) -> Result<ReservationRow, RepoError> {
    let updated: Option<ReservationRow> = diesel::update(reservations::table.find(id))
        .filter(reservations::letter_sent_at.is_null())
        .set((reservations::letter_sent_at.eq(diesel::dsl::now), reservations::letter_sent_by.eq(by)))
        .returning(ReservationRow::as_returning())
        .get_result(conn)
        .optional()?;
    match updated {
        Some(r) => Ok(r),
        None => Ok(reservations::table.find(id).select(ReservationRow::as_select()).first(conn)?),
    }
}
