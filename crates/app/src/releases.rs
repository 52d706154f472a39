//! Releases of a year's results: build one (every table as one linked table, suppressed with the
//! earlier publications of the year forced, audited; refused when the audit fails) and store it
//! as a draft, then publish it. The API's `POST /releases` and `rusreg demo` call these.

use chrono::{Datelike, NaiveDate};
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::indicators::parse_year;
use domain::releases::{check_publish, PublishFacts, PublishRefusal};
use domain::FieldError;
use persistence::releases as stored;
use persistence::releases::ReleaseRow;
use persistence::reports::CountSettings;
use persistence::{audit, in_transaction, PgConnection};
use reporting::releases::{self, Previous, ReleaseError};
use reporting::tree::OrgTree;
use serde_json::json;

use crate::{connection, Caller, Conflict, Error};

pub use crate::Databases;

/// The lowest and highest suppression threshold a release may use.
pub const MIN_CELL_RANGE: std::ops::RangeInclusive<u32> = 3..=100;

/// A release to build.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseInput {
    pub year: i32,
    /// The suppression threshold k; the register's default when `None`.
    pub min_cell: Option<u32>,
}

/// What a release is built with besides its input.
#[derive(Debug, Clone)]
pub struct ReleaseSettings {
    pub default_min_cell: u32,
    /// The due-date limits the counts follow, and today.
    pub counts: CountSettings,
}

/// Builds a release of a year and stores it as a draft (register staff). Refused with
/// [`Conflict::ReleaseRefused`] (and a failed audit row) when the disclosure audit fails.
pub fn create(
    db: Databases<'_>,
    caller: &Caller,
    input: ReleaseInput,
    settings: &ReleaseSettings,
) -> Result<ReleaseRow, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let today: NaiveDate = settings.counts.today;
    let mut errors = Vec::new();
    if input.min_cell.is_some_and(|k| !MIN_CELL_RANGE.contains(&k)) {
        errors.push(FieldError::new("min_cell", "range", "must be between 3 and 100"));
    }
    if let Err(domain::DomainError::Invalid(e)) = parse_year(input.year, today.year()) {
        errors.extend(e);
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let year = input.year;
    let min_cell = input.min_cell.unwrap_or(settings.default_min_cell);
    // The year's publications are read on the primary (a replica may lag behind them).
    let previous = {
        let mut conn = connection(db.primary)?;
        Previous::load(&mut conn, year)?
    };
    let built = {
        let conn = &mut connection(db.reports)?;
        let tree = OrgTree::load(conn)?;
        let counts = reporting::indicators::load_counts(conn, &tree, year, year, &settings.counts)?;
        releases::build_release(&counts, &tree, year, today, min_cell, &previous)
    };
    let conn = &mut connection(db.primary)?;
    let built = match built {
        Ok(b) => b,
        Err(ReleaseError::Refused(summary)) => {
            let entry =
                caller.audit(Action::CreateRelease, Outcome::Failed).detail(json!({"year": year, "audit": summary}));
            audit::record(conn, &entry)?;
            return Err(Conflict::ReleaseRefused { audit: summary.line() }.into());
        }
        Err(ReleaseError::Invalid(m)) => return Err(Error::invalid("min_cell", "range", m)),
    };
    in_transaction(conn, |conn| {
        let tree = OrgTree::load(conn)?;
        let row = releases::store(
            conn,
            &tree,
            year,
            &settings.counts,
            min_cell,
            &built,
            previous.release_id,
            caller.actor.user_id,
        )
        .map_err(Error::internal)?;
        let entry = caller.audit(Action::CreateRelease, Outcome::Success).role(Some("register_staff"));
        audit::record(conn, &entry.target("release", row.id).detail(json!({"year": year})))?;
        Ok(row)
    })
}

/// Publishes a draft release (register staff) by the rule of `domain::releases::check_publish`.
pub fn publish(conn: &mut PgConnection, caller: &Caller, id: i64) -> Result<ReleaseRow, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    in_transaction(conn, |conn| {
        let current = stored::lock_release(conn, id)?;
        stored::lock_year(conn, current.year)?;
        let own = format!("release-{id}");
        let facts = PublishFacts {
            status: current.status(),
            builds_on: current.previous_release_id,
            latest_published: stored::latest_published(conn, Some(current.year))?.map(|r| r.id),
            snapshot_after: stored::snapshots_of_year(conn, current.year)?
                .iter()
                .any(|s| s.created_at > current.created_at && s.period != own),
        };
        check_publish(&facts).map_err(|r| match r {
            PublishRefusal::AlreadyPublished => Conflict::AlreadyPublished,
            PublishRefusal::Stale => Conflict::StaleRelease,
        })?;
        let row = stored::publish_release(conn, id, caller.actor.user_id)?;
        let entry = caller.audit(Action::PublishRelease, Outcome::Success).role(Some("register_staff"));
        audit::record(conn, &entry.target("release", id))?;
        Ok(row)
    })
}
