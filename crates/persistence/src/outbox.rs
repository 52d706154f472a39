//! The outbox's senders' statements (docs/patient-channel.md, Senders). Sending is at most once:
//! [`claim_due`] moves due rows to `sending` (attempt counted) in its own transaction, committed
//! before the message leaves; [`mark_sent`], [`mark_retry`] and [`mark_failed`] record the
//! outcome; [`fail_interrupted`] turns rows left in `sending` by a process that died into
//! `failed` instead of sending them again. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so
//! several server instances share the work.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int2, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::RepoError;

/// Adds an addressed message (e-mail or SMS) about an order, unless the order has one for this
/// channel and purpose already. Returns whether it was added.
pub fn add_addressed(
    conn: &mut PgConnection,
    order: Uuid,
    channel: &str,
    purpose: &str,
    recipient: &str,
    subject: Option<&str>,
    body: &str,
) -> Result<bool, RepoError> {
    let n = diesel::sql_query(
        "INSERT INTO outbox_messages (order_id, channel, purpose, recipient, subject, body) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT outbox_messages_one_per_event DO NOTHING",
    )
    .bind::<SqlUuid, _>(order)
    .bind::<Text, _>(channel)
    .bind::<Text, _>(purpose)
    .bind::<Text, _>(recipient)
    .bind::<Nullable<Text>, _>(subject)
    .bind::<Text, _>(body)
    .execute(conn)?;
    Ok(n == 1)
}

/// A message claimed for sending.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedMessage {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub order_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub purpose: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject: Option<String>,
    #[diesel(sql_type = Text)]
    pub body: String,
    /// This attempt's number (1 for the first).
    #[diesel(sql_type = Int2)]
    pub attempts: i16,
}

/// Claims at most `limit` pending messages of `channel` whose next attempt is due at `now`:
/// they move to `sending` with the attempt counted. Run it in a transaction of its own and
/// commit before sending.
pub fn claim_due(
    conn: &mut PgConnection,
    channel: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimedMessage>, RepoError> {
    Ok(diesel::sql_query(
        "WITH due AS (
             SELECT id FROM outbox_messages
             WHERE channel = $1 AND status = 'pending' AND next_attempt_at <= $2 AND recipient IS NOT NULL
             ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         UPDATE outbox_messages m SET status = 'sending', sending_since = now(), attempts = m.attempts + 1
         FROM due WHERE m.id = due.id
         RETURNING m.id, m.order_id, m.purpose, m.recipient, m.subject, m.body, m.attempts",
    )
    .bind::<Text, _>(channel)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)?)
}

/// The message went out.
pub fn mark_sent(conn: &mut PgConnection, id: i64) -> Result<(), RepoError> {
    diesel::sql_query(
        "UPDATE outbox_messages SET status = 'sent', sent_at = now(), sending_since = NULL, last_error = NULL
         WHERE id = $1 AND status = 'sending'",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct DeliveredInvitation {
    #[diesel(sql_type = SqlUuid)]
    order_id: Uuid,
    #[diesel(sql_type = Text)]
    channel: String,
}

/// Up to `limit` orders still `ordered` with an invitation marked `sent` on some channel (by the
/// print service or the SMS gateway, which mark their rows themselves, or by the e-mail sender),
/// locked (`FOR UPDATE SKIP LOCKED`, so passes at once share them): (order, the channel of the
/// invitation sent first).
pub fn claim_delivered_invitations(conn: &mut PgConnection, limit: i64) -> Result<Vec<(Uuid, String)>, RepoError> {
    let rows: Vec<DeliveredInvitation> = diesel::sql_query(
        "SELECT o.id AS order_id,
                (SELECT m.channel FROM outbox_messages m
                  WHERE m.order_id = o.id AND m.purpose = 'invitation' AND m.status = 'sent'
                  ORDER BY m.sent_at NULLS LAST, m.id LIMIT 1) AS channel
         FROM orders o
         WHERE o.status = 'ordered'
           AND EXISTS (SELECT 1 FROM outbox_messages m
                        WHERE m.order_id = o.id AND m.purpose = 'invitation' AND m.status = 'sent')
         ORDER BY o.id
         LIMIT $1
         FOR UPDATE OF o SKIP LOCKED",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.order_id, r.channel)).collect())
}

/// The message did not go out; it is tried again at `next_attempt_at`.
pub fn mark_retry(
    conn: &mut PgConnection,
    id: i64,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> Result<(), RepoError> {
    diesel::sql_query(
        "UPDATE outbox_messages SET status = 'pending', sending_since = NULL, next_attempt_at = $2, last_error = $3
         WHERE id = $1 AND status = 'sending'",
    )
    .bind::<BigInt, _>(id)
    .bind::<Timestamptz, _>(next_attempt_at)
    .bind::<Text, _>(error)
    .execute(conn)?;
    Ok(())
}

/// The message will never go out (refused for good, or out of attempts).
pub fn mark_failed(conn: &mut PgConnection, id: i64, error: &str) -> Result<(), RepoError> {
    diesel::sql_query(
        "UPDATE outbox_messages SET status = 'failed', sending_since = NULL, last_error = $2
         WHERE id = $1 AND status = 'sending'",
    )
    .bind::<BigInt, _>(id)
    .bind::<Text, _>(error)
    .execute(conn)?;
    Ok(())
}

/// Rows of `channel` left in `sending` since before `stale_before` (their sender died between
/// claiming and recording): nobody knows whether they went out, so they are never sent again
/// and become `failed` with the reason `interrupted`. Returns how many.
pub fn fail_interrupted(
    conn: &mut PgConnection,
    channel: &str,
    stale_before: DateTime<Utc>,
) -> Result<usize, RepoError> {
    Ok(diesel::sql_query(
        "UPDATE outbox_messages SET status = 'failed', sending_since = NULL,
             last_error = 'interrupted: the sender stopped after claiming it; it may or may not have gone out'
         WHERE id IN (SELECT id FROM outbox_messages
                      WHERE channel = $1 AND status = 'sending' AND sending_since < $2
                      FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Text, _>(channel)
    .bind::<Timestamptz, _>(stale_before)
    .execute(conn)?)
}

/// Forgets the addresses of messages that are done with (sent, failed or cancelled) once their
/// order is closed; returns how many. An open order keeps its addresses for the reminder.
pub fn forget_addresses(conn: &mut PgConnection) -> Result<usize, RepoError> {
    Ok(diesel::sql_query(
        "UPDATE outbox_messages m SET recipient = NULL
         WHERE m.recipient IS NOT NULL AND m.status IN ('sent', 'failed', 'cancelled')
           AND NOT EXISTS (SELECT 1 FROM orders o
                           WHERE o.id = m.order_id AND o.status IN ('ordered', 'notified', 'opened'))",
    )
    .execute(conn)?)
}

/// Adds a reminder on every addressed channel on which the order's invitation went out, to the
/// same address. Returns how many were added.
pub fn add_addressed_reminders(
    conn: &mut PgConnection,
    order: Uuid,
    email: (&str, &str),
    sms: &str,
) -> Result<usize, RepoError> {
    Ok(diesel::sql_query(
        "INSERT INTO outbox_messages (order_id, channel, purpose, recipient, subject, body)
         SELECT order_id, channel, 'reminder', recipient,
                CASE WHEN channel = 'email' THEN $2 END,
                CASE WHEN channel = 'email' THEN $3 ELSE $4 END
         FROM outbox_messages
         WHERE order_id = $1 AND purpose = 'invitation' AND channel IN ('email', 'sms') AND recipient IS NOT NULL
         ON CONFLICT ON CONSTRAINT outbox_messages_one_per_event DO NOTHING",
    )
    .bind::<SqlUuid, _>(order)
    .bind::<Text, _>(email.0)
    .bind::<Text, _>(email.1)
    .bind::<Text, _>(sms)
    .execute(conn)?)
}
