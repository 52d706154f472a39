//! The unit contacts' daily digests (docs/patient-channel.md, Unit digests): who gets one for
//! which unit, the count of patients' answers waiting for review, and the digest message itself
//! in the outbox (one per user, unit and day).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::RepoError;

/// A unit contact with an e-mail address and a unit their grant covers.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DigestRecipient {
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = BigInt)]
    pub unit_id: i64,
}

/// Whether the digests of `day` are all written (a pass got to its end that day).
pub fn day_done(conn: &mut PgConnection, day: NaiveDate) -> Result<bool, RepoError> {
    use crate::schema::digest_days;
    Ok(diesel::select(diesel::dsl::exists(digest_days::table.find(day))).get_result(conn)?)
}

/// Records that the digests of `day` are all written (`digests` by this pass); a second pass that
/// gets there too changes nothing.
pub fn mark_day_done(conn: &mut PgConnection, day: NaiveDate, digests: usize) -> Result<(), RepoError> {
    use crate::schema::digest_days;
    diesel::insert_into(digest_days::table)
        .values((digest_days::day.eq(day), digest_days::digests.eq(i32::try_from(digests).unwrap_or(i32::MAX))))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// Unit contacts (grant in effect, user not disabled, with an e-mail address) and the unit of
/// each of their unit-contact grants (a unit contact is granted at a unit) that have no digest
/// of `day` yet; by unit.
pub fn recipients_without_digest(conn: &mut PgConnection, day: NaiveDate) -> Result<Vec<DigestRecipient>, RepoError> {
    Ok(diesel::sql_query(
        "SELECT DISTINCT u.id AS user_id, u.email, n.id AS unit_id
         FROM grants g
         JOIN users u ON u.id = g.user_id
         JOIN org_nodes n ON n.id = g.node_id AND n.kind = 'unit'
         WHERE g.role = 'unit_contact' AND g.valid_from IS NOT NULL AND g.revoked_at IS NULL
           AND NOT u.disabled AND u.email IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM outbox_messages m
                           WHERE m.purpose = 'digest' AND m.digest_user_id = u.id
                             AND m.digest_unit_id = n.id AND m.digest_day = $1)
         ORDER BY n.id, u.id",
    )
    .bind::<Date, _>(day)
    .load(conn)?)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Orders answered by the patient whose form is still a draft, of pathways the unit owns now:
/// answers waiting for a clinician's review.
pub fn answers_waiting(conn: &mut PgConnection, unit: i64) -> Result<i64, RepoError> {
    let c: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM orders o
         JOIN pathways p ON p.id = o.pathway_id
         JOIN forms f ON f.id = o.form_id
         WHERE p.unit_id = $1 AND o.status = 'answered' AND f.status = 'draft'",
    )
    .bind::<BigInt, _>(unit)
    .get_result(conn)?;
    Ok(c.n)
}

/// Adds the digest of `day` for a user and a unit unless it is there already; whether it was
/// added.
pub fn add_digest(
    conn: &mut PgConnection,
    recipient: &DigestRecipient,
    day: NaiveDate,
    subject: &str,
    body: &str,
) -> Result<bool, RepoError> {
    let n = diesel::sql_query(
        "INSERT INTO outbox_messages (channel, purpose, recipient, subject, body, digest_user_id, digest_unit_id, digest_day)
         VALUES ('email', 'digest', $1, $2, $3, $4, $5, $6)
         ON CONFLICT (digest_user_id, digest_unit_id, digest_day) WHERE purpose = 'digest' DO NOTHING",
    )
    .bind::<Text, _>(&recipient.email)
    .bind::<Text, _>(subject)
    .bind::<Text, _>(body)
    .bind::<SqlUuid, _>(recipient.user_id)
    .bind::<BigInt, _>(recipient.unit_id)
    .bind::<Date, _>(day)
    .execute(conn)?;
    Ok(n == 1)
}
