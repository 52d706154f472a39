//! Completeness (DESIGN.md §6): per unit and year, forms expected against forms completed,
//! late and missing measurement points, follow-ups due / done / not reached / declined, the
//! share of units reporting and the coverage against NPR; and variable completeness: the share
//! of completed forms without a value for every variable an indicator uses. All counts, summed
//! at the level asked for.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::indicators::{coverage, ReportLevel, LOW_COVERAGE};
use persistence::reports::CountSettings;
use persistence::{PgConnection, RepoError};
use serde::Serialize;

use crate::tree::{OrgTree, Placement};

/// Done out of expected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Done {
    pub expected: i64,
    pub completed: i64,
}

/// Completed measurement points and how many came late or after a missed point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Measurements {
    pub completed: i64,
    /// Taken more than the interval (56 / 42 days) after the last baseline or measurement.
    pub late: i64,
    /// Taken more than 90 days after it: a point was missed before this one.
    pub missing: i64,
}

/// Follow-ups whose window closed in the year (or that are done).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FollowUps {
    pub due: i64,
    pub done: i64,
    pub followed_up: i64,
    pub not_reached: i64,
    pub declined: i64,
    /// Due and not done.
    pub missing: i64,
}

/// One node's completeness for a year.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompletenessRow {
    pub node_id: i64,
    pub name: String,
    /// Units under the node linked in the year, and those that registered anything in it.
    pub units: i64,
    pub units_reporting: i64,
    pub units_reporting_share: Option<f64>,
    pub pathways_started: i64,
    /// Baselines of pathways started in the year whose due date has passed (or that are done).
    pub baseline: Done,
    pub measurements: Measurements,
    /// Discharge forms dated (drafts: created) in the year, and those completed.
    pub discharge: Done,
    pub follow_up: FollowUps,
    /// Pathways in NPR for the units under the node that have an NPR count.
    pub npr_pathways: Option<i64>,
    /// Pathways started at those units / NPR pathways.
    pub coverage: Option<f64>,
    /// Coverage below 60 %.
    pub low_coverage: bool,
}

/// Per-unit counts, before summing to a level.
#[derive(Debug, Clone, Default)]
struct UnitCounts {
    place: Option<Placement>,
    m: HashMap<String, (i64, i64)>,
}

/// Completeness of `year` at `level`, for the nodes `keep` accepts.
pub fn completeness(
    conn: &mut PgConnection,
    tree: &OrgTree,
    year: i32,
    level: ReportLevel,
    settings: &CountSettings,
    keep: impl Fn(i64) -> bool,
) -> Result<Vec<CompletenessRow>, RepoError> {
    let rows = persistence::reports::completeness_counts(conn, year, settings)?;
    let npr: HashMap<i64, i64> =
        persistence::reports::npr_counts_for_year(conn, year)?.into_iter().map(|(u, n)| (u, i64::from(n))).collect();
    // Counts by (placement) — a unit moved during the year has one entry per placement.
    let mut by_place: BTreeMap<Placement, UnitCounts> = BTreeMap::new();
    for r in rows {
        let place =
            tree.complete(Placement { unit: r.unit_id, entity: r.entity_id, region: r.region_id }, settings.today);
        let e = by_place.entry(place).or_default();
        e.place = Some(place);
        let m = e.m.entry(r.measure).or_default();
        m.0 += r.yes;
        m.1 += r.total;
    }
    let units = tree.units_in_year(year, settings.today);
    Ok(summarise(tree, level, &units, &by_place, &npr, &keep))
}

fn summarise(
    tree: &OrgTree,
    level: ReportLevel,
    units: &[Placement],
    by_place: &BTreeMap<Placement, UnitCounts>,
    npr: &HashMap<i64, i64>,
    keep: &impl Fn(i64) -> bool,
) -> Vec<CompletenessRow> {
    let mut out: BTreeMap<i64, CompletenessRow> = BTreeMap::new();
    let mut unit_sets: BTreeMap<i64, (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
    for p in units {
        if let Some(n) = tree.node_at(p, level).filter(|n| keep(*n)) {
            unit_sets.entry(n).or_default().0.insert(p.unit);
            out.entry(n).or_default();
        }
    }
    let mut started_at_npr_units: BTreeMap<i64, i64> = BTreeMap::new();
    for (place, c) in by_place {
        let Some(n) = tree.node_at(place, level).filter(|n| keep(*n)) else { continue };
        let row = out.entry(n).or_default();
        let get = |k: &str| c.m.get(k).copied().unwrap_or_default();
        let started = get("pathways_started").1;
        row.pathways_started += started;
        let (yes, total) = get("baseline");
        row.baseline.expected += total;
        row.baseline.completed += yes;
        let (late, completed) = get("measurement_late");
        row.measurements.completed += completed;
        row.measurements.late += late;
        row.measurements.missing += get("measurement_missing").0;
        let (yes, total) = get("discharge");
        row.discharge.expected += total;
        row.discharge.completed += yes;
        let (done, due) = get("follow_up");
        row.follow_up.due += due;
        row.follow_up.done += done;
        row.follow_up.followed_up += get("follow_up_reached").0;
        row.follow_up.not_reached += get("follow_up_not_reached").0;
        row.follow_up.declined += get("follow_up_declined").0;
        if npr.contains_key(&place.unit) {
            *started_at_npr_units.entry(n).or_default() += started;
        }
        let sets = unit_sets.entry(n).or_default();
        sets.0.insert(place.unit);
        if c.m.values().any(|(yes, total)| *yes > 0 || *total > 0) {
            sets.1.insert(place.unit);
        }
    }
    for (n, row) in out.iter_mut() {
        row.node_id = *n;
        row.name = tree.name(*n).to_owned();
        let (all, reporting) = unit_sets.remove(n).unwrap_or_default();
        let npr_units: Vec<i64> = all.iter().copied().filter(|u| npr.contains_key(u)).collect();
        row.units = all.len() as i64;
        row.units_reporting = reporting.len() as i64;
        row.units_reporting_share = (row.units > 0).then(|| row.units_reporting as f64 / row.units as f64);
        row.follow_up.missing = row.follow_up.due - row.follow_up.done;
        if !npr_units.is_empty() {
            let npr_total: i64 = npr_units.iter().map(|u| npr[u]).sum();
            row.npr_pathways = Some(npr_total);
            row.coverage = coverage(started_at_npr_units.get(n).copied().unwrap_or(0), npr_total);
            row.low_coverage = row.coverage.is_some_and(|c| c < LOW_COVERAGE);
        }
    }
    out.into_values().collect()
}

/// Missing and unknown values of one variable at one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariableCompleteness {
    pub node_id: i64,
    pub name: String,
    pub form: String,
    pub variable: String,
    /// Completed forms of the kind dated in the year.
    pub forms: i64,
    pub missing: i64,
    pub unknown: i64,
    pub missing_share: Option<f64>,
    pub unknown_share: Option<f64>,
}

/// Variable completeness of `year` at `level`, for one form kind or all.
pub fn variable_completeness(
    conn: &mut PgConnection,
    tree: &OrgTree,
    year: i32,
    level: ReportLevel,
    form: Option<&str>,
    settings: &CountSettings,
    keep: impl Fn(i64) -> bool,
) -> Result<Vec<VariableCompleteness>, RepoError> {
    let rows = persistence::reports::variable_counts(conn, year, settings, form)?;
    let mut out: BTreeMap<(i64, String, String), VariableCompleteness> = BTreeMap::new();
    for r in rows {
        let place =
            tree.complete(Placement { unit: r.unit_id, entity: r.entity_id, region: r.region_id }, settings.today);
        let Some(n) = tree.node_at(&place, level).filter(|n| keep(*n)) else { continue };
        let v = out.entry((n, r.form.clone(), r.variable.clone())).or_insert_with(|| VariableCompleteness {
            node_id: n,
            name: tree.name(n).to_owned(),
            form: r.form,
            variable: r.variable,
            ..Default::default()
        });
        v.forms += r.total;
        v.missing += r.missing;
        v.unknown += r.unknown;
    }
    Ok(out
        .into_values()
        .map(|mut v| {
            v.missing_share = (v.forms > 0).then(|| v.missing as f64 / v.forms as f64);
            v.unknown_share = (v.forms > 0).then(|| v.unknown as f64 / v.forms as f64);
            v
        })
        .collect())
}
