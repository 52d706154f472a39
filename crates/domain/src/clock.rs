//! The register's calendar: a date is the date in Norway (Europe/Oslo, with its summer time),
//! where the register's users work. "Today" — for a date that must not be in the future, a
//! form's due date, the scheduler's day, the year of a report — changes at midnight in Norway,
//! not in UTC (one or two hours later), so a clinician can record an event of today at 00:30.
//! Instants are still stored and compared in UTC.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Europe::Oslo;

/// The date in Norway at the instant `t`.
pub fn date_at(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Oslo).date_naive()
}

/// The hour of the day (0–23) in Norway at the instant `t`.
pub fn hour_at(t: DateTime<Utc>) -> u32 {
    t.with_timezone(&Oslo).hour()
}

/// Today's date in Norway.
pub fn today() -> NaiveDate {
    date_at(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_day_changes_at_midnight_in_norway() {
        // Winter (UTC+1): 23:30 UTC is 00:30 the next day in Norway.
        assert_eq!(date_at(at("2026-12-05T22:59:59Z")), date("2026-12-05"));
        assert_eq!(date_at(at("2026-12-05T23:30:00Z")), date("2026-12-06"));
        assert_eq!(hour_at(at("2026-12-05T23:30:00Z")), 0);
        // Summer (UTC+2): 22:30 UTC on 30 June is 00:30 on 1 July.
        assert_eq!(date_at(at("2026-06-30T21:59:59Z")), date("2026-06-30"));
        assert_eq!(date_at(at("2026-06-30T22:30:00Z")), date("2026-07-01"));
        assert_eq!(hour_at(at("2026-06-30T04:00:00Z")), 6);
        // New year: the year of a report turns with Norway's.
        assert_eq!(date_at(at("2026-12-31T23:00:00Z")), date("2027-01-01"));
    }
}
