//! The scheduler's statements (docs/patient-channel.md, Scheduler): each claims its rows with
//! `FOR UPDATE SKIP LOCKED`, so several server instances may run a pass at once and each row is
//! handled by one of them; the unique indexes of `orders` and `outbox_messages` make every step
//! idempotent, so a pass that runs twice changes nothing the second time.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Int2, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::RepoError;

#[derive(Debug, Clone, QueryableByName)]
pub struct FollowUpCandidate {
    #[diesel(sql_type = SqlUuid)]
    pub pathway_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub patient_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Int8)]
    pub unit_id: i64,
    /// The attempt the new order would be.
    #[diesel(sql_type = Int2)]
    pub attempt: i16,
}

/// Pathways whose follow-up window is open (discharged with ending 3 or 4 and consent to be
/// contacted, discharge date in `(closed_before, opened_by]`, no follow-up done) and that need a
/// follow-up order: none yet, or the last one expired with attempts left. Claimed (locked, skipped
/// by other passes) until the transaction ends.
pub fn claim_follow_up_candidates(
    conn: &mut PgConnection,
    opened_by: NaiveDate,
    closed_before: NaiveDate,
    attempts: i16,
    limit: i64,
) -> Result<Vec<FollowUpCandidate>, RepoError> {
    Ok(diesel::sql_query(
        "SELECT p.id AS pathway_id, p.patient_id, p.unit_id, (coalesce(last.attempt, 0) + 1)::smallint AS attempt
         FROM pathways p
         LEFT JOIN LATERAL (SELECT o.attempt, o.status FROM orders o
                            WHERE o.pathway_id = p.id AND o.questionnaire = 'follow_up'
                            ORDER BY o.attempt DESC LIMIT 1) last ON true
         WHERE p.discharge_ending IN (3, 4) AND p.discharge_contact_consent_1y = 1 AND NOT p.follow_up_done
           AND p.discharge_date <= $1 AND p.discharge_date > $2
           AND (last.attempt IS NULL OR (last.status = 'expired' AND last.attempt < $3))
         ORDER BY p.discharge_date, p.id
         LIMIT $4
         FOR UPDATE OF p SKIP LOCKED",
    )
    .bind::<Date, _>(opened_by)
    .bind::<Date, _>(closed_before)
    .bind::<Int2, _>(attempts)
    .bind::<BigInt, _>(limit)
    .load(conn)?)
}

/// Adds a message to the outbox unless the order has one for this channel and purpose already.
/// Returns whether it was added.
pub fn add_message(
    conn: &mut PgConnection,
    order: Uuid,
    channel: &str,
    purpose: &str,
    body: &str,
) -> Result<bool, RepoError> {
    let n = diesel::sql_query(
        "INSERT INTO outbox_messages (order_id, channel, purpose, body) VALUES ($1, $2, $3, $4)
         ON CONFLICT ON CONSTRAINT outbox_messages_one_per_event DO NOTHING",
    )
    .bind::<SqlUuid, _>(order)
    .bind::<Text, _>(channel)
    .bind::<Text, _>(purpose)
    .bind::<Text, _>(body)
    .execute(conn)?;
    Ok(n == 1)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
}

/// Expires open orders whose expiry date is before `today` (with history, their codes dead and
/// their pending messages cancelled), at most `limit`. Returns the expired orders.
pub fn expire_due(conn: &mut PgConnection, today: NaiveDate, limit: i64) -> Result<Vec<Uuid>, RepoError> {
    let rows: Vec<Claimed> = diesel::sql_query(
        "WITH due AS (
             SELECT id, status FROM orders
             WHERE status IN ('ordered', 'notified', 'opened') AND expires_on < $1
             ORDER BY expires_on, id LIMIT $2 FOR UPDATE SKIP LOCKED),
         moved AS (
             UPDATE orders o SET status = 'expired', closed_at = now(), updated_at = now()
             FROM due WHERE o.id = due.id RETURNING o.id, due.status AS from_status),
         history AS (
             INSERT INTO order_status_history (order_id, from_status, to_status, actor)
             SELECT id, from_status, 'expired', 'system' FROM moved),
         codes AS (
             UPDATE order_access_codes c SET spent_at = now()
             FROM moved WHERE c.order_id = moved.id AND c.spent_at IS NULL),
         messages AS (
             UPDATE outbox_messages m SET status = 'cancelled'
             FROM moved WHERE m.order_id = moved.id AND m.status = 'pending')
         SELECT id FROM moved",
    )
    .bind::<Date, _>(today)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Claims open orders whose reminder is due (`remind_on` reached, not reminded yet) and marks
/// them reminded; at most `limit`. The caller adds the reminder messages in the same transaction.
pub fn claim_reminders(conn: &mut PgConnection, today: NaiveDate, limit: i64) -> Result<Vec<Uuid>, RepoError> {
    let rows: Vec<Claimed> = diesel::sql_query(
        "WITH due AS (
             SELECT id FROM orders
             WHERE status IN ('ordered', 'notified', 'opened') AND remind_on <= $1 AND reminded_at IS NULL
             ORDER BY remind_on, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE orders o SET reminded_at = now(), updated_at = now() FROM due WHERE o.id = due.id
         RETURNING o.id",
    )
    .bind::<Date, _>(today)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
