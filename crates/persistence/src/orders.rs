//! Questionnaire orders, their status history and their access codes (stored as hashes only).
//! A status moves only from an open status, in one UPDATE guarded by the status read, so two
//! callers (two servers, a clinician and the scheduler) never both move one order.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{order_access_codes, order_status_history, orders};
use crate::RepoError;

/// The statuses in which an order is open (as stored).
pub const OPEN: [&str; 3] = ["ordered", "notified", "opened"];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub pathway_id: Uuid,
    pub unit_id: i64,
    pub form_id: Option<Uuid>,
    pub questionnaire: String,
    pub status: String,
    pub remind_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub attempt: i16,
    pub ordered_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrderRow {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub pathway_id: Uuid,
    pub unit_id: i64,
    pub form_id: Option<Uuid>,
    pub questionnaire: String,
    pub remind_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub attempt: i16,
    pub ordered_by: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_status_history, check_for_backend(diesel::pg::Pg))]
pub struct OrderStatusRow {
    pub id: i64,
    pub order_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_by: Option<Uuid>,
    pub actor: String,
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
}

/// Who moved an order: a user (`changed_by`), the system, or the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    User(Uuid),
    System,
    Patient,
}

impl Mover {
    fn parts(self) -> (Option<Uuid>, &'static str) {
        match self {
            Self::User(id) => (Some(id), "user"),
            Self::System => (None, "system"),
            Self::Patient => (None, "patient"),
        }
    }
}

/// Inserts an order with its access code's hash and the first history entry. A second open
/// order for the form is `UniqueViolation("orders_one_open_per_form")`.
pub fn insert(conn: &mut PgConnection, new: &NewOrderRow, code_hash: &[u8], by: Mover) -> Result<OrderRow, RepoError> {
    let row = diesel::insert_into(orders::table).values(new).returning(OrderRow::as_returning()).get_result(conn)?;
    diesel::insert_into(order_access_codes::table)
        .values((order_access_codes::order_id.eq(row.id), order_access_codes::code_hash.eq(code_hash)))
        .execute(conn)?;
    add_history(conn, row.id, None, &row.status, by, None)?;
    Ok(row)
}

fn add_history(
    conn: &mut PgConnection,
    order: Uuid,
    from: Option<&str>,
    to: &str,
    by: Mover,
    reason: Option<&str>,
) -> Result<(), RepoError> {
    let (changed_by, actor) = by.parts();
    diesel::insert_into(order_status_history::table)
        .values((
            order_status_history::order_id.eq(order),
            order_status_history::from_status.eq(from),
            order_status_history::to_status.eq(to),
            order_status_history::changed_by.eq(changed_by),
            order_status_history::actor.eq(actor),
            order_status_history::reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> Result<OrderRow, RepoError> {
    Ok(orders::table.find(id).select(OrderRow::as_select()).first(conn)?)
}

/// Like [`find`], locking the order until the transaction ends.
pub fn find_for_update(conn: &mut PgConnection, id: Uuid) -> Result<OrderRow, RepoError> {
    Ok(orders::table.find(id).select(OrderRow::as_select()).for_update().first(conn)?)
}

/// Moves an order from `from` to `to` (with its history entry). `Ok(None)` when the order is
/// no longer in `from` (someone else moved it first). A final status kills the access code.
/// Links a follow-up order to the form its answers land in (made when the patient signs in).
pub fn link_form(conn: &mut PgConnection, id: Uuid, form: Uuid) -> Result<OrderRow, RepoError> {
    Ok(diesel::update(orders::table.find(id))
        .set((orders::form_id.eq(Some(form)), orders::updated_at.eq(diesel::dsl::now)))
        .returning(OrderRow::as_returning())
        .get_result(conn)?)
}

pub fn move_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: &str,
    to: &str,
    by: Mover,
    reason: Option<&str>,
) -> Result<Option<OrderRow>, RepoError> {
    let closing = !OPEN.contains(&to);
    let closed_at: Option<DateTime<Utc>> = closing.then(Utc::now);
    let row: Option<OrderRow> = diesel::update(orders::table.find(id))
        .filter(orders::status.eq(from))
        .set((orders::status.eq(to), orders::updated_at.eq(diesel::dsl::now), orders::closed_at.eq(closed_at)))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .optional()?;
    if let Some(row) = &row {
        add_history(conn, row.id, Some(from), to, by, reason)?;
        if closing {
            diesel::update(order_access_codes::table.find(id))
                .filter(order_access_codes::spent_at.is_null())
                .set(order_access_codes::spent_at.eq(diesel::dsl::now))
                .execute(conn)?;
        }
    }
    Ok(row)
}

pub fn history(conn: &mut PgConnection, id: Uuid) -> Result<Vec<OrderStatusRow>, RepoError> {
    Ok(order_status_history::table
        .filter(order_status_history::order_id.eq(id))
        .order(order_status_history::id.asc())
        .select(OrderStatusRow::as_select())
        .load(conn)?)
}

/// What a list of orders keeps: the units the caller may see, and optional filters.
#[derive(Debug, Clone)]
pub struct OrderFilter {
    pub visible_units: Vec<i64>,
    pub unit: Option<i64>,
    pub pathway: Option<Uuid>,
    pub status: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// An order with its patient's pseudonym (for the audit row of a list).
pub type ListedOrder = (OrderRow, Vec<u8>);

/// Orders of the visible units, newest first, with the total.
pub fn list(conn: &mut PgConnection, f: &OrderFilter) -> Result<(Vec<ListedOrder>, i64), RepoError> {
    use crate::schema::patients;
    let build = || {
        let mut q = orders::table.inner_join(patients::table).into_boxed();
        q = q.filter(orders::unit_id.eq_any(f.visible_units.clone()));
        if let Some(unit) = f.unit {
            q = q.filter(orders::unit_id.eq(unit));
        }
        if let Some(pathway) = f.pathway {
            q = q.filter(orders::pathway_id.eq(pathway));
        }
        if let Some(status) = &f.status {
            q = q.filter(orders::status.eq(status.clone()));
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let rows = build()
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(f.limit)
        .offset(f.offset)
        .select((OrderRow::as_select(), patients::pseudonym))
        .load(conn)?;
    Ok((rows, total))
}

/// The open orders of a patient (locked), for a reservation to cancel.
pub fn open_of_patient(conn: &mut PgConnection, patient: Uuid) -> Result<Vec<OrderRow>, RepoError> {
    Ok(orders::table
        .filter(orders::patient_id.eq(patient))
        .filter(orders::status.eq_any(OPEN))
        .select(OrderRow::as_select())
        .for_update()
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_access_codes, check_for_backend(diesel::pg::Pg))]
pub struct AccessCodeRow {
    pub order_id: Uuid,
    pub code_hash: Vec<u8>,
    pub failed_attempts: i16,
    pub created_at: DateTime<Utc>,
    pub spent_at: Option<DateTime<Utc>>,
}

/// The access code with this hash (locked until the transaction ends), if any.
pub fn code_by_hash(conn: &mut PgConnection, hash: &[u8]) -> Result<Option<AccessCodeRow>, RepoError> {
    Ok(order_access_codes::table
        .filter(order_access_codes::code_hash.eq(hash))
        .select(AccessCodeRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// The access code of an order.
pub fn code_of(conn: &mut PgConnection, order: Uuid) -> Result<AccessCodeRow, RepoError> {
    Ok(order_access_codes::table.find(order).select(AccessCodeRow::as_select()).first(conn)?)
}

/// Counts a wrong sign-in; the code dies when it reaches `max`. Returns the new count.
pub fn count_failed_sign_in(conn: &mut PgConnection, order: Uuid, max: i16) -> Result<i16, RepoError> {
    let n: i16 = diesel::update(order_access_codes::table.find(order))
        .set(order_access_codes::failed_attempts.eq(order_access_codes::failed_attempts + 1))
        .returning(order_access_codes::failed_attempts)
        .get_result(conn)?;
    if n >= max {
        spend_code(conn, order)?;
    }
    Ok(n)
}

/// Kills an order's code (once).
pub fn spend_code(conn: &mut PgConnection, order: Uuid) -> Result<(), RepoError> {
    diesel::update(order_access_codes::table.find(order))
        .filter(order_access_codes::spent_at.is_null())
        .set(order_access_codes::spent_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(())
}

/// Orders of one questionnaire made in a period, per unit (the unit that owned the pathway when
/// the order was made) and by what became of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, QueryableByName)]
pub struct UnitOrderCounts {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub unit_id: i64,
    /// Orders made.
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub ordered: i64,
    /// Orders with at least one message sent (e-mail by rusreg; letters and SMS as marked by
    /// the print service and the gateway).
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub sent: i64,
    /// Still open: ordered, notified or opened.
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub open: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub answered: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub expired: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub cancelled: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub failed: i64,
}

/// [`UnitOrderCounts`] of the orders of `questionnaire` made on the days `from..to` (Norwegian
/// time), one row per unit with orders.
pub fn counts_by_unit(
    conn: &mut PgConnection,
    questionnaire: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<UnitOrderCounts>, RepoError> {
    use diesel::sql_types::{Date, Text};
    Ok(diesel::sql_query(
        "SELECT o.unit_id,
                count(*) AS ordered,
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM outbox_messages m
                                               WHERE m.order_id = o.id AND m.status = 'sent')) AS sent,
                count(*) FILTER (WHERE o.status IN ('ordered', 'notified', 'opened')) AS open,
                count(*) FILTER (WHERE o.status = 'answered') AS answered,
                count(*) FILTER (WHERE o.status = 'expired') AS expired,
                count(*) FILTER (WHERE o.status = 'cancelled') AS cancelled,
                count(*) FILTER (WHERE o.status = 'failed') AS failed
         FROM orders o
         WHERE o.questionnaire = $1
           AND o.created_at >= ($2::timestamp AT TIME ZONE 'Europe/Oslo')
           AND o.created_at < ($3::timestamp AT TIME ZONE 'Europe/Oslo')
         GROUP BY o.unit_id
         ORDER BY o.unit_id",
    )
    .bind::<Text, _>(questionnaire)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)?)
}

/// Pathways whose one-year follow-up window is open (discharged with ending 3 or 4, consent to
/// be contacted, discharge date in `(closed_before, opened_by]`, no follow-up done), per unit:
/// `(unit, in the window, of which without an open or answered follow-up order)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, QueryableByName)]
pub struct UnitFollowUpWindow {
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub unit_id: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub window_open: i64,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub without_order: i64,
}

/// [`UnitFollowUpWindow`] per unit that has such pathways.
pub fn follow_up_windows_by_unit(
    conn: &mut PgConnection,
    opened_by: NaiveDate,
    closed_before: NaiveDate,
) -> Result<Vec<UnitFollowUpWindow>, RepoError> {
    use diesel::sql_types::Date;
    Ok(diesel::sql_query(
        "SELECT p.unit_id, count(*) AS window_open,
                count(*) FILTER (WHERE NOT EXISTS (
                    SELECT 1 FROM orders o WHERE o.pathway_id = p.id AND o.questionnaire = 'follow_up'
                      AND o.status IN ('ordered', 'notified', 'opened', 'answered'))) AS without_order
         FROM pathways p
         WHERE p.discharge_ending IN (3, 4) AND p.discharge_contact_consent_1y = 1 AND NOT p.follow_up_done
           AND p.discharge_date <= $1 AND p.discharge_date > $2
         GROUP BY p.unit_id
         ORDER BY p.unit_id",
    )
    .bind::<Date, _>(opened_by)
    .bind::<Date, _>(closed_before)
    .load(conn)?)
}
