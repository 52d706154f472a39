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
use persistence::releases::{ReleaseJobRow, ReleaseRow};
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
    check_input(&input, today)?;
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

/// The year must be a past or the current year, `min_cell` within [`MIN_CELL_RANGE`].
fn check_input(input: &ReleaseInput, today: NaiveDate) -> Result<(), Error> {
    let mut errors = Vec::new();
    if input.min_cell.is_some_and(|k| !MIN_CELL_RANGE.contains(&k)) {
        errors.push(FieldError::new("min_cell", "range", "must be between 3 and 100"));
    }
    if let Err(domain::DomainError::Invalid(e)) = parse_year(input.year, today.year()) {
        errors.extend(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// How long a running release job may go without a heartbeat before another server takes it
/// over (its server stopped): two minutes.
pub const JOB_STALE_SECS: i32 = 120;

/// Queues a release to be built in the background (register staff): the same checks as
/// [`create`] now, the build later by [`run_next_job`], as this caller.
pub fn enqueue(
    conn: &mut PgConnection,
    caller: &Caller,
    input: ReleaseInput,
    today: NaiveDate,
) -> Result<ReleaseJobRow, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    check_input(&input, today)?;
    let job = stored::NewReleaseJob {
        id: uuid::Uuid::new_v4(),
        year: i16::try_from(input.year).map_err(|_| Error::invalid("year", "range", "year out of range"))?,
        min_cell: input.min_cell.map(|k| k as i16),
        created_by: caller.actor.user_id,
        request_id: caller.request_id.clone(),
    };
    in_transaction(conn, |conn| {
        let row = stored::insert_release_job(conn, &job)?;
        let entry = caller.audit(Action::QueueRelease, Outcome::Success).role(Some("register_staff"));
        audit::record(conn, &entry.target("release_job", row.id).detail(json!({"year": input.year})))?;
        Ok(row)
    })
}

/// A release job (register staff; any register staff may follow any job: releases are
/// national).
pub fn job(conn: &mut PgConnection, caller: &Caller, id: uuid::Uuid) -> Result<ReleaseJobRow, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    Ok(stored::find_release_job(conn, id)?)
}

/// Claims the next queued release job (or one a stopped server left) and runs it as the user who
/// queued it, with their grants as they are now; returns the finished job, `None` when there was
/// none. The job's heartbeat is written every few seconds while it runs.
pub fn run_next_job(db: Databases<'_>, settings: &ReleaseSettings) -> Result<Option<ReleaseJobRow>, Error> {
    let claimed = {
        let mut conn = connection(db.primary)?;
        stored::claim_release_job(&mut conn, JOB_STALE_SECS)?
    };
    let Some(job) = claimed else { return Ok(None) };
    let done = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let mut ticks = 0u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(250));
                ticks += 1;
                if ticks.is_multiple_of(20) {
                    if let Ok(mut conn) = db.primary.get() {
                        let _ = stored::beat_release_job(&mut conn, job.id);
                    }
                }
            }
        });
        let result = run_job(db, &job, settings);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        result
    });
    let (status, release, problem) = match result {
        Ok(row) => ("done", Some(row.id), None),
        Err(Error::Conflict(Conflict::ReleaseRefused { audit })) => ("refused", None, Some(audit)),
        Err(Error::Forbidden) | Err(Error::Hidden) => ("failed", None, Some("forbidden".to_owned())),
        Err(Error::Invalid(_)) => ("failed", None, Some("invalid".to_owned())),
        Err(Error::Unavailable) => ("failed", None, Some("unavailable".to_owned())),
        Err(e) => {
            tracing::error!(error = %e, "a release job failed");
            ("failed", None, Some("internal".to_owned()))
        }
    };
    let mut conn = connection(db.primary)?;
    Ok(Some(stored::finish_release_job(&mut conn, job.id, status, release, problem.as_deref())?))
}

fn run_job(db: Databases<'_>, job: &ReleaseJobRow, settings: &ReleaseSettings) -> Result<ReleaseRow, Error> {
    let actor = {
        let mut conn = connection(db.primary)?;
        match crate::access::actor_of(&mut conn, job.created_by, None)? {
            Ok(actor) => actor,
            Err(_) => return Err(Error::Forbidden),
        }
    };
    let caller = Caller::new(actor, job.request_id.clone());
    let input = ReleaseInput { year: i32::from(job.year), min_cell: job.min_cell.and_then(|k| u32::try_from(k).ok()) };
    create(db, &caller, input, settings)
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
