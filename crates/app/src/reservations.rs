//! Reservations against registration (register staff): record one — every row about the person
//! is deleted in the same transaction and only the keyed pseudonym is kept, which blocks
//! registering them again — list them with the deadline of the confirmation letter, and record
//! that the letter was sent. Audited by pseudonym only; the national id is read from the input
//! and never stored, returned or logged.

use chrono::{Days, NaiveDate};
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::national_id::{IdKey, NationalId};
use domain::FieldError;
use persistence::reservations::{self, NewReservationRow, ReservationRow};
use persistence::{audit, in_transaction, patients, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::paging::{PageRequest, Paged};
use crate::patients::ID_RULES;
use crate::{Caller, Conflict, Error};

/// Days from receiving a reservation to the confirmation letter's deadline.
pub const LETTER_DAYS: u64 = 30;

/// A reservation to record. Its `Debug` leaves the national id out.
pub struct ReservationInput {
    pub national_id: String,
    /// The day the reservation reached the register (not in the future).
    pub received_date: NaiveDate,
}

impl std::fmt::Debug for ReservationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReservationInput").field("received_date", &self.received_date).finish_non_exhaustive()
    }
}

/// A reservation with its letter deadline as of `today`.
#[derive(Debug, Clone)]
pub struct ReservationView {
    pub row: ReservationRow,
    /// `received_date` + [`LETTER_DAYS`].
    pub letter_due: NaiveDate,
    /// The letter is not sent and the deadline has passed.
    pub overdue: bool,
}

impl ReservationView {
    pub fn new(row: ReservationRow, today: NaiveDate) -> Self {
        let letter_due = row.received_date.checked_add_days(Days::new(LETTER_DAYS)).unwrap_or(row.received_date);
        let overdue = row.letter_sent_at.is_none() && today > letter_due;
        Self { row, letter_due, overdue }
    }
}

/// A recorded reservation, and whether registered data about the person was deleted.
#[derive(Debug, Clone)]
pub struct Reserved {
    pub view: ReservationView,
    pub deleted_patient_data: bool,
}

/// Records a reservation. Every field error at once; [`Conflict::AlreadyReserved`] when the
/// person is on the list already.
pub fn reserve(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    input: ReservationInput,
    today: NaiveDate,
) -> Result<Reserved, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let mut errors = Vec::new();
    let id = NationalId::parse_field(&input.national_id, &ID_RULES).map_err(|e| errors.push(e)).ok();
    if input.received_date > today {
        errors.push(FieldError::new("received_date", "date_order", "must not be in the future"));
    }
    let Some(id) = id.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors)) };
    let pseudonym = key.pseudonym(&id).to_vec();
    let entry = caller.audit(Action::CreateReservation, Outcome::Success).role(Some("register_staff"));
    in_transaction(conn, |conn| {
        reservations::lock_person(conn, &pseudonym)?;
        // Open questionnaire orders are cancelled first (their codes die), then deleted with the
        // patient's other rows and any answers.
        let new = NewReservationRow {
            id: Uuid::now_v7(),
            pseudonym: pseudonym.clone(),
            received_date: input.received_date,
            created_by: caller.actor.user_id,
        };
        let (cancelled_orders, research_notices) = match patients::find_by_pseudonym(conn, &pseudonym)? {
            Some(patient) => (
                crate::orders::cancel_all_of_patient(conn, patient.id, caller.actor.user_id)?,
                // Every research project that received the patient's data gets a notice (under
                // its own pseudonym of the patient) before the links go with the patient.
                crate::research::record_reservation_notices(conn, patient.id, new.id)?.len(),
            ),
            None => (0, 0),
        };
        let (row, deleted) = reservations::reserve(conn, &new).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Conflict::AlreadyReserved.into(),
            e => Error::from(e),
        })?;
        let deleted_patient_data = deleted.is_some();
        let entry = entry.target("reservation", row.id).patient(None, Some(pseudonym.clone())).detail(json!({
            "deleted_patient_data": deleted_patient_data,
            "cancelled_orders": cancelled_orders,
            "research_notices": research_notices,
        }));
        audit::record(conn, &entry)?;
        Ok(Reserved { view: ReservationView::new(row, today), deleted_patient_data })
    })
}

/// Reservations, letters still to send first (oldest first); `pending` keeps only those.
pub fn list(
    conn: &mut PgConnection,
    caller: &Caller,
    pending: bool,
    page: PageRequest,
    today: NaiveDate,
) -> Result<Paged<ReservationView>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let paging = page.paging()?;
    let (rows, total) = reservations::list(conn, pending, paging.limit, paging.offset)?;
    // One row for the request, carrying the listed people's pseudonyms (found by each one's log).
    let listed = rows.iter().map(|r| r.pseudonym.clone()).collect();
    let entry = caller.audit(Action::ListReservations, Outcome::Success).role(Some("register_staff"));
    audit::record(conn, &entry.pseudonyms(listed))?;
    Ok(Paged::new(rows.into_iter().map(|r| ReservationView::new(r, today)).collect(), paging, total))
}

/// Records that the confirmation letter was sent (idempotent: the first time is kept).
pub fn mark_letter_sent(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    today: NaiveDate,
) -> Result<ReservationView, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let entry = caller
        .audit(Action::RecordReservationLetter, Outcome::Success)
        .role(Some("register_staff"))
        .target("reservation", id);
    in_transaction(conn, |conn| {
        let row = reservations::mark_letter_sent(conn, id, caller.actor.user_id)?;
        audit::record(conn, &entry.patient(None, Some(row.pseudonym.clone())))?;
        Ok(ReservationView::new(row, today))
    })
}
