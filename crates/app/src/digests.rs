//! The unit contacts' daily digest (docs/patient-channel.md, Unit digests): once a day, each
//! unit contact with an e-mail address gets, for each unit they are unit contact of, the number of
//! forms due and overdue on the unit's worklist and of patients' answers waiting for review —
//! counts only, never a patient, a name or a health detail. Made by the scheduler's pass into
//! the outbox (sent by the e-mail sender like every other message): one per user, unit and day
//! (a unique index), so passes that run at once or again that day never make two. A unit with
//! nothing due and nothing waiting gets no digest. The day is made once: a pass that gets to the
//! end records the day (`digest_days`), and later passes of that day skip the step without
//! reading anything more; the server's scheduler makes them from `RUSREG_DIGEST_HOUR` on
//! ([`digest_due`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::worklist::WorklistConfig;
use persistence::digests::{self, DigestRecipient};
use persistence::{in_transaction, organisations, PgConnection};

use crate::Error;

/// The subject of the digest e-mail.
pub const DIGEST_SUBJECT: &str = "rusreg: daglig oversikt";

/// What one unit's digest says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestCounts {
    pub due: i64,
    pub overdue: i64,
    pub answers_waiting: i64,
}

impl DigestCounts {
    fn is_empty(self) -> bool {
        self.due == 0 && self.overdue == 0 && self.answers_waiting == 0
    }
}

/// The digest's text: the unit, the day and three counts, and where to log in.
pub fn digest_text(unit_name: &str, day: NaiveDate, c: DigestCounts, public_url: &str) -> String {
    format!(
        "Daglig oversikt for {unit_name}, {}:\n\n\
         - Skjema som skal fylles ut: {}\n\
         - Skjema på overtid: {}\n\
         - Svar fra pasienter som venter på gjennomgang: {}\n\n\
         Logg inn i rusreg for å se arbeidslisten: {public_url}\n\n\
         Denne e-posten er sendt automatisk og kan ikke besvares.",
        day.format("%d.%m.%Y"),
        c.due,
        c.overdue,
        c.answers_waiting
    )
}

/// Whether the server's scheduler makes the day's digests on a tick at `now`: from the
/// digest hour on (`RUSREG_DIGEST_HOUR`, 0–23, in Norway like the scheduler's day: `domain::clock`). Before it, the
/// pass does everything else.
pub fn digest_due(now: chrono::DateTime<chrono::Utc>, digest_hour: u32) -> bool {
    domain::clock::hour_at(now) >= digest_hour
}

/// Makes the digests of `today` that are not made yet, unless the day is done; returns how many
/// were added, and records the day as done.
pub fn make_digests(
    conn: &mut PgConnection,
    config: &WorklistConfig,
    public_url: &str,
    today: NaiveDate,
) -> Result<usize, Error> {
    if digests::day_done(conn, today)? {
        return Ok(0);
    }
    let recipients = in_transaction(conn, |conn| Ok::<_, Error>(digests::recipients_without_digest(conn, today)?))?;
    let mut by_unit: BTreeMap<i64, Vec<DigestRecipient>> = BTreeMap::new();
    for r in recipients {
        by_unit.entry(r.unit_id).or_default().push(r);
    }
    let mut added = 0;
    for (unit, recipients) in by_unit {
        // One transaction per unit: its counts are read once and its digests written together.
        added += in_transaction(conn, |conn| {
            let (due, overdue) = crate::worklist::counts_for_unit(conn, unit, today, config)?;
            let counts = DigestCounts { due, overdue, answers_waiting: digests::answers_waiting(conn, unit)? };
            if counts.is_empty() {
                return Ok::<_, Error>(0);
            }
            let name = organisations::find_node(conn, unit, today)?.node.name;
            let body = digest_text(&name, today, counts, public_url);
            let mut n = 0;
            for r in &recipients {
                n += usize::from(digests::add_digest(conn, r, today, DIGEST_SUBJECT, &body)?);
            }
            Ok(n)
        })?;
    }
    digests::mark_day_done(conn, today, added)?;
    Ok(added)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn digests_are_due_from_the_digest_hour_in_norway_to_the_end_of_the_day() {
        // Instants in UTC; Norway is an hour ahead in December and two in July.
        let at = |month: u32, h: u32, m: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, month, 5).unwrap().and_hms_opt(h, m, 0).unwrap().and_utc()
        };
        assert!(!digest_due(at(12, 4, 59), 6)); // 05:59 in Norway
        assert!(digest_due(at(12, 5, 0), 6)); // 06:00
        assert!(digest_due(at(12, 22, 59), 6)); // 23:59
        assert!(!digest_due(at(12, 23, 0), 6)); // 00:00 the next day
        assert!(digest_due(at(12, 23, 0), 0));
        assert!(!digest_due(at(12, 21, 30), 23)); // 22:30
        assert!(!digest_due(at(7, 3, 59), 6)); // 05:59 summer time
        assert!(digest_due(at(7, 4, 0), 6)); // 06:00 summer time
    }
}
