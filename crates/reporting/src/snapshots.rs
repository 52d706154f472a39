//! Completeness snapshots (docs/suppression.md §0): register contacts, who get small counts
//! withheld, are never shown live completeness counts. They read a snapshot — the counts of
//! both completeness reports of a year frozen on a day, with the counts to withhold found once
//! by [`crate::small_counts::protect`] and stored with them:
//!
//! * the snapshot of the year's latest published release, taken when the release was built:
//!   every count the release shares with completeness ([`crate::releases::SHARED`]) takes the
//!   release's status, so one pattern covers both outputs;
//! * otherwise the snapshot of the current month (`YYYY-MM`), taken by the first request of the
//!   month that needs it.
//!
//! Every snapshot is protected with what the earlier publications of its year showed
//! ([`crate::history`]): earlier snapshots, and the counts published releases share with
//! completeness, so two snapshots (or a snapshot and a release) cannot be differenced.

use chrono::NaiveDate;
use persistence::releases::{NewSnapshot, ReleaseCellRow, SnapshotRow};
use persistence::reports::CountSettings;
use persistence::{PgConnection, RepoError};

use crate::completeness::{CompletenessCounts, FrozenCounts, VariableCounts};
use crate::history::History;
use crate::releases::{load_publications, AuditSummary, Protection, Publication, StoredPublication, SHARED};
use crate::small_counts::{protect, How, ShownCell, Withheld};
use crate::suppression::SuppressionError;
use crate::tree::OrgTree;

/// Why a snapshot could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Suppression(#[from] SuppressionError),
    #[error("stored snapshot: {0}")]
    Stored(String),
}

/// A snapshot, ready to show.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: i64,
    pub period: String,
    pub taken_on: NaiveDate,
    pub release_id: Option<i64>,
    pub completeness: CompletenessCounts,
    pub variables: VariableCounts,
    pub withheld: Withheld,
    pub audit: AuditSummary,
}

impl TryFrom<SnapshotRow> for Snapshot {
    type Error = SnapshotError;

    fn try_from(row: SnapshotRow) -> Result<Self, SnapshotError> {
        let bad = |e: serde_json::Error| SnapshotError::Stored(e.to_string());
        let frozen: FrozenCounts = serde_json::from_value(row.counts).map_err(bad)?;
        let cells: Vec<ShownCell> = serde_json::from_value(row.cells).map_err(bad)?;
        let audit: AuditSummary = serde_json::from_value(row.audit).map_err(bad)?;
        let (completeness, variables) = frozen.thaw();
        Ok(Snapshot {
            id: row.id,
            period: row.period,
            taken_on: row.taken_on,
            release_id: row.release_id,
            completeness,
            variables,
            withheld: Withheld::from_cells(&cells),
            audit,
        })
    }
}

/// What the publications of a year showed of each completeness count, by `(node, measure)`:
/// earlier snapshots, and the counts releases share with completeness (`also`: a release being
/// made, the latest).
fn completeness_history(publications: &[Publication<'_>]) -> History<(i64, String)> {
    let mut history = History::default();
    for p in publications {
        history.next_publication();
        match p {
            Publication::Snapshot(cells) => {
                for c in cells.iter() {
                    history.record((c.node, c.measure.clone()), c.value, !c.withheld);
                }
            }
            Publication::Release(cells) => {
                for c in cells.iter().filter(|c| c.sex == 0 && c.age_group == 0) {
                    let Some((measure, _, _)) = SHARED.iter().find(|(_, m, o)| *m == c.measure && *o == c.outcome)
                    else {
                        continue;
                    };
                    history.record((c.node_id, (*measure).to_owned()), i64::from(c.value), c.status == "published");
                }
            }
        }
    }
    history
}

/// Reads the counts of `year` as registered, protects them against the year's history and
/// returns the snapshot to store.
fn take(
    conn: &mut PgConnection,
    tree: &OrgTree,
    year: i32,
    settings: &CountSettings,
    k: u32,
    period: String,
    release: Option<(i64, &[ReleaseCellRow])>,
) -> Result<NewSnapshot, SnapshotError> {
    let settings = CountSettings { as_of_today: false, ..*settings };
    let completeness = CompletenessCounts::load(conn, tree, year, &settings)?;
    let variables = VariableCounts::load(conn, tree, year, None, &settings)?;
    let (_, stored) = load_publications(conn, year)?;
    let mut publications: Vec<Publication<'_>> = stored.iter().map(StoredPublication::as_publication).collect();
    if let Some((_, cells)) = release {
        publications.push(Publication::Release(cells));
    }
    let history = completeness_history(&publications);
    let how = How { k, history: &history, protection: Protection::InsiderSafe };
    let protected = protect(tree, year, settings.today, &completeness, &variables, &how)?;
    let json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| SnapshotError::Stored(e.to_string()));
    Ok(NewSnapshot {
        year: i16::try_from(year).map_err(|_| SnapshotError::Stored("year out of range".into()))?,
        period,
        release_id: release.map(|(id, _)| id),
        taken_on: settings.today,
        min_cell: i16::try_from(k).map_err(|_| SnapshotError::Stored("k out of range".into()))?,
        counts: json(serde_json::to_value(FrozenCounts::freeze(&completeness, &variables)))?,
        cells: json(serde_json::to_value(&protected.cells))?,
        audit: json(serde_json::to_value(&protected.audit))?,
    })
}

/// Takes and stores the snapshot of a release being made (in the transaction that stores the
/// release, on the primary): every count it shares with the release takes the release's status.
pub fn store_for_release(
    conn: &mut PgConnection,
    tree: &OrgTree,
    year: i32,
    settings: &CountSettings,
    k: u32,
    release_id: i64,
    cells: &[ReleaseCellRow],
) -> Result<SnapshotRow, SnapshotError> {
    let new = take(conn, tree, year, settings, k, format!("release-{release_id}"), Some((release_id, cells)))?;
    Ok(persistence::releases::insert_snapshot(conn, &new)?)
}

/// The snapshot register contacts read for `year` (on the primary: it may be made now): the
/// snapshot of the latest published release of the year, else the one of the current month,
/// taken now if there is none yet.
pub fn current(
    conn: &mut PgConnection,
    tree: &OrgTree,
    year: i32,
    settings: &CountSettings,
    k: u32,
) -> Result<Snapshot, SnapshotError> {
    let y = i16::try_from(year).map_err(|_| SnapshotError::Stored("year out of range".into()))?;
    if let Some(r) = persistence::releases::latest_published(conn, Some(y))? {
        if let Some(row) = persistence::releases::find_snapshot(conn, y, &format!("release-{}", r.id))? {
            return row.try_into();
        }
    }
    let period = settings.today.format("%Y-%m").to_string();
    if let Some(row) = persistence::releases::find_snapshot(conn, y, &period)? {
        return row.try_into();
    }
    let row = persistence::in_transaction(conn, |conn| {
        persistence::releases::lock_snapshots(conn, y)?;
        if let Some(row) = persistence::releases::find_snapshot(conn, y, &period)? {
            return Ok(row);
        }
        let new = take(conn, tree, year, settings, k, period.clone(), None)?;
        Ok::<_, SnapshotError>(persistence::releases::insert_snapshot(conn, &new)?)
    })?;
    row.try_into()
}
