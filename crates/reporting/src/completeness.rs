//! Completeness (docs/indicators.md): per unit and year, forms expected against forms completed,
//! late and missing measurement points, follow-ups due / done / not reached / declined, the
//! share of units reporting and the coverage against NPR; and variable completeness: the share
//! of completed forms without a value for every variable an indicator uses. All counts, summed
//! at the level asked for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::AddAssign;

use domain::indicators::{coverage, ReportLevel, LOW_COVERAGE};
use persistence::reports::CountSettings;
use persistence::{PgConnection, RepoError};
use serde::Serialize;

use crate::tree::{OrgTree, Placement};

/// A count as handed out: a number, or withheld (`null` in JSON) when the caller may not see it
/// (a small count, or one from which a small count could be worked out: [`crate::small_counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Count(Option<i64>);

impl Default for Count {
    fn default() -> Self {
        Count(Some(0))
    }
}

impl From<i64> for Count {
    fn from(n: i64) -> Self {
        Count(Some(n))
    }
}

impl AddAssign<i64> for Count {
    fn add_assign(&mut self, n: i64) {
        if let Some(v) = &mut self.0 {
            *v += n;
        }
    }
}

impl Count {
    /// The number, unless withheld.
    pub fn get(self) -> Option<i64> {
        self.0
    }

    /// Withholds the count.
    pub fn withhold(&mut self) {
        self.0 = None;
    }

    pub fn is_withheld(self) -> bool {
        self.0.is_none()
    }
}

/// Done out of expected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Done {
    pub expected: Count,
    pub completed: Count,
}

/// Completed measurement points and how many were taken overdue or after a missed point, in the
/// terms of `domain::worklist::Timing` (docs/domain.md, Lateness). Served under those names, and
/// under the older names `late`, `missing` and `overdue` (deprecated: the same counts). The
/// suppression keys (`measurements.late`, ...) keep the older names: stored snapshots use them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measurements {
    pub completed: Count,
    /// Taken after their due date (the interval, 56 / 42 days, after the last baseline or
    /// measurement): late or after a missed point.
    pub taken_overdue: Count,
    /// Taken more than 90 days after it: a point was missed before this one.
    pub taken_after_missed: Count,
    /// Pathways active at the end of the year (today, in the current year) whose last completed
    /// baseline or measurement is more than 90 days old: a point is missed and none taken since.
    pub missed_at_year_end: Count,
}

impl Serialize for Measurements {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Measurements", 7)?;
        m.serialize_field("completed", &self.completed)?;
        m.serialize_field("taken_overdue", &self.taken_overdue)?;
        m.serialize_field("taken_after_missed", &self.taken_after_missed)?;
        m.serialize_field("missed_at_year_end", &self.missed_at_year_end)?;
        m.serialize_field("late", &self.taken_overdue)?;
        m.serialize_field("missing", &self.taken_after_missed)?;
        m.serialize_field("overdue", &self.missed_at_year_end)?;
        m.end()
    }
}

/// Follow-ups whose window closed in the year (or that are done).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FollowUps {
    pub due: Count,
    pub done: Count,
    pub followed_up: Count,
    pub not_reached: Count,
    pub declined: Count,
    /// Due and not done.
    pub missing: Count,
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
    pub pathways_started: Count,
    /// Baselines of pathways started in the year whose due date has passed (or that are done).
    pub baseline: Done,
    pub measurements: Measurements,
    /// Discharge forms dated (drafts: created) in the year, and those completed.
    pub discharge: Done,
    pub follow_up: FollowUps,
    /// Pathways in NPR for the units under the node (at the end of the year) that have an NPR
    /// count.
    pub npr_pathways: Option<i64>,
    /// Pathways started in the year at those units (wherever they were placed when the pathway
    /// started) / NPR pathways.
    pub coverage: Option<f64>,
    /// Coverage below 60 % (null when there is no coverage).
    pub low_coverage: Option<bool>,
    /// The units whose pathways started make the coverage's numerator.
    #[serde(skip)]
    pub coverage_units: Vec<i64>,
    /// The patient channel's one-year follow-up orders made in the year, by what became of
    /// them; only in the live view (register staff, and a unit's own staff), `null` where the
    /// counts come from a protected snapshot (they are no part of its protected model).
    pub follow_up_orders: Option<FollowUpOrders>,
}

/// One-year follow-up orders of the patient channel made in a year (docs/patient-channel.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FollowUpOrders {
    pub ordered: i64,
    /// With at least one message sent.
    pub sent: i64,
    pub answered: i64,
    pub expired: i64,
    /// Still open.
    pub open: i64,
}

impl AddAssign<&persistence::orders::UnitOrderCounts> for FollowUpOrders {
    fn add_assign(&mut self, c: &persistence::orders::UnitOrderCounts) {
        self.ordered += c.ordered;
        self.sent += c.sent;
        self.answered += c.answered;
        self.expired += c.expired;
        self.open += c.open;
    }
}

/// Adds the follow-up orders of `year` (per unit, by the unit that owned the pathway when the
/// order was made) to the rows of `level`, placing each unit as the completeness counts do (on
/// the year's last day it was linked). Every row gets counts, zero when it has no orders.
pub fn add_follow_up_orders(
    rows: &mut [CompletenessRow],
    tree: &OrgTree,
    level: ReportLevel,
    year: i32,
    today: chrono::NaiveDate,
    counts: &[persistence::orders::UnitOrderCounts],
) {
    let places: HashMap<i64, Placement> = tree.units_in_year(year, today).into_iter().map(|p| (p.unit, p)).collect();
    let mut by_node: HashMap<i64, FollowUpOrders> = HashMap::new();
    for c in counts {
        let place = places.get(&c.unit_id).copied().unwrap_or_else(|| tree.place_on(c.unit_id, today));
        if let Some(n) = tree.node_at(&place, level) {
            *by_node.entry(n).or_default() += c;
        }
    }
    for row in rows {
        row.follow_up_orders = Some(by_node.get(&row.node_id).copied().unwrap_or_default());
    }
}

/// The counts of a completeness row, by the name of the measure as in the JSON
/// (`baseline.expected`, ...): what [`crate::small_counts`] withholds.
pub const MEASURES: [&str; 15] = [
    "pathways_started",
    "baseline.expected",
    "baseline.completed",
    "measurements.completed",
    "measurements.late",
    "measurements.missing",
    "measurements.overdue",
    "discharge.expected",
    "discharge.completed",
    "follow_up.due",
    "follow_up.done",
    "follow_up.followed_up",
    "follow_up.not_reached",
    "follow_up.declined",
    "follow_up.missing",
];

impl CompletenessRow {
    /// The count of a measure of [`MEASURES`].
    pub fn count_mut(&mut self, measure: &str) -> Option<&mut Count> {
        Some(match measure {
            "pathways_started" => &mut self.pathways_started,
            "baseline.expected" => &mut self.baseline.expected,
            "baseline.completed" => &mut self.baseline.completed,
            "measurements.completed" => &mut self.measurements.completed,
            "measurements.late" => &mut self.measurements.taken_overdue,
            "measurements.missing" => &mut self.measurements.taken_after_missed,
            "measurements.overdue" => &mut self.measurements.missed_at_year_end,
            "discharge.expected" => &mut self.discharge.expected,
            "discharge.completed" => &mut self.discharge.completed,
            "follow_up.due" => &mut self.follow_up.due,
            "follow_up.done" => &mut self.follow_up.done,
            "follow_up.followed_up" => &mut self.follow_up.followed_up,
            "follow_up.not_reached" => &mut self.follow_up.not_reached,
            "follow_up.declined" => &mut self.follow_up.declined,
            "follow_up.missing" => &mut self.follow_up.missing,
            _ => return None,
        })
    }

    /// Withholds the given measures.
    pub fn withhold<'a>(&mut self, measures: impl IntoIterator<Item = &'a str>) {
        for m in measures {
            if let Some(c) = self.count_mut(m) {
                c.withhold();
            }
        }
    }

    /// Withholds the coverage (coverage × NPR pathways is the sum of the coverage units'
    /// pathways started).
    pub fn withhold_coverage(&mut self) {
        self.coverage = None;
        self.low_coverage = None;
    }
}

/// Completeness counts of a year per placement of a unit (a unit moved during the year has one
/// entry per placement), as read from the database: `(yes, total)` per measure of
/// completeness.sql.
#[derive(Debug, Clone, Default)]
pub struct CompletenessCounts {
    by_place: BTreeMap<Placement, HashMap<String, (i64, i64)>>,
    npr: HashMap<i64, i64>,
    /// Units linked in the year, placed at its end.
    units: Vec<Placement>,
}

impl CompletenessCounts {
    /// Reads the counts of `year`.
    pub fn load(
        conn: &mut PgConnection,
        tree: &OrgTree,
        year: i32,
        settings: &CountSettings,
    ) -> Result<Self, RepoError> {
        let rows = persistence::reports::completeness_counts(conn, year, settings)?;
        let npr = persistence::reports::npr_counts_for_year(conn, year)?
            .into_iter()
            .map(|(u, n)| (u, i64::from(n)))
            .collect();
        let mut by_place: BTreeMap<Placement, HashMap<String, (i64, i64)>> = BTreeMap::new();
        for r in rows {
            let place =
                tree.complete(Placement { unit: r.unit_id, entity: r.entity_id, region: r.region_id }, settings.today);
            let m = by_place.entry(place).or_default().entry(r.measure).or_default();
            m.0 += r.yes;
            m.1 += r.total;
        }
        Ok(CompletenessCounts { by_place, npr, units: tree.units_in_year(year, settings.today) })
    }

    /// The placements with counts.
    pub fn placements(&self) -> impl Iterator<Item = &Placement> {
        self.by_place.keys()
    }

    /// `(yes, total)` of a measure of completeness.sql at a placement.
    pub fn get(&self, place: &Placement, measure: &str) -> (i64, i64) {
        self.by_place.get(place).and_then(|m| m.get(measure)).copied().unwrap_or_default()
    }

    /// The rows of the nodes of `level` that `keep` accepts.
    pub fn rows(&self, tree: &OrgTree, level: ReportLevel, keep: impl Fn(i64) -> bool) -> Vec<CompletenessRow> {
        summarise(tree, level, self, &keep)
    }
}

/// The counts of both completeness reports of a year, frozen as a snapshot keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct FrozenCounts {
    /// (placement, measure of completeness.sql, yes, total).
    completeness: Vec<(Placement, String, i64, i64)>,
    /// (unit, NPR pathways).
    npr: Vec<(i64, i64)>,
    /// Units linked in the year, placed at its end.
    units: Vec<Placement>,
    /// (placement, form, variable, forms, missing, unknown).
    variables: Vec<(Placement, String, String, i64, i64, i64)>,
}

impl FrozenCounts {
    pub fn freeze(completeness: &CompletenessCounts, variables: &VariableCounts) -> Self {
        let mut c: Vec<(Placement, String, i64, i64)> = completeness
            .by_place
            .iter()
            .flat_map(|(p, m)| m.iter().map(move |(k, (yes, total))| (*p, k.clone(), *yes, *total)))
            .collect();
        c.sort();
        let mut npr: Vec<(i64, i64)> = completeness.npr.iter().map(|(u, n)| (*u, *n)).collect();
        npr.sort_unstable();
        FrozenCounts {
            completeness: c,
            npr,
            units: completeness.units.clone(),
            variables: variables
                .by_place
                .iter()
                .map(|((p, f, v), (a, b, c))| (*p, f.clone(), v.clone(), *a, *b, *c))
                .collect(),
        }
    }

    pub fn thaw(&self) -> (CompletenessCounts, VariableCounts) {
        let mut by_place: BTreeMap<Placement, HashMap<String, (i64, i64)>> = BTreeMap::new();
        for (p, m, yes, total) in &self.completeness {
            by_place.entry(*p).or_default().insert(m.clone(), (*yes, *total));
        }
        let completeness =
            CompletenessCounts { by_place, npr: self.npr.iter().copied().collect(), units: self.units.clone() };
        let variables = VariableCounts {
            by_place: self
                .variables
                .iter()
                .map(|(p, f, v, a, b, c)| ((*p, f.clone(), v.clone()), (*a, *b, *c)))
                .collect(),
        };
        (completeness, variables)
    }
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
    Ok(CompletenessCounts::load(conn, tree, year, settings)?.rows(tree, level, keep))
}

fn summarise(
    tree: &OrgTree,
    level: ReportLevel,
    counts: &CompletenessCounts,
    keep: &impl Fn(i64) -> bool,
) -> Vec<CompletenessRow> {
    let (units, npr) = (&counts.units, &counts.npr);
    let mut out: BTreeMap<i64, CompletenessRow> = BTreeMap::new();
    let mut unit_sets: BTreeMap<i64, (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
    for p in units {
        if let Some(n) = tree.node_at(p, level).filter(|n| keep(*n)) {
            unit_sets.entry(n).or_default().0.insert(p.unit);
            out.entry(n).or_default();
        }
    }
    // Coverage is a unit's: its pathways started in the year against its NPR count, summed
    // over the units placed under the node at the end of the year (a unit that moved during
    // the year counts once, where it ended up).
    let mut started_by_unit: HashMap<i64, i64> = HashMap::new();
    for place in counts.by_place.keys() {
        *started_by_unit.entry(place.unit).or_default() += counts.get(place, "pathways_started").1;
    }
    let mut coverage_of: BTreeMap<i64, (i64, i64, Vec<i64>)> = BTreeMap::new();
    for p in units {
        if let (Some(n), Some(npr)) = (tree.node_at(p, level).filter(|n| keep(*n)), npr.get(&p.unit)) {
            let c = coverage_of.entry(n).or_default();
            c.0 += started_by_unit.get(&p.unit).copied().unwrap_or(0);
            c.1 += npr;
            c.2.push(p.unit);
        }
    }
    for (place, m) in &counts.by_place {
        let Some(n) = tree.node_at(place, level).filter(|n| keep(*n)) else { continue };
        let row = out.entry(n).or_default();
        let get = |k: &str| counts.get(place, k);
        row.pathways_started += get("pathways_started").1;
        let (yes, total) = get("baseline");
        row.baseline.expected += total;
        row.baseline.completed += yes;
        let (late, completed) = get("measurement_late");
        row.measurements.completed += completed;
        row.measurements.taken_overdue += late;
        row.measurements.taken_after_missed += get("measurement_missing").0;
        row.measurements.missed_at_year_end += get("measurement_overdue").1;
        let (yes, total) = get("discharge");
        row.discharge.expected += total;
        row.discharge.completed += yes;
        let (done, due) = get("follow_up");
        row.follow_up.due += due;
        row.follow_up.done += done;
        row.follow_up.missing += due - done;
        row.follow_up.followed_up += get("follow_up_reached").0;
        row.follow_up.not_reached += get("follow_up_not_reached").0;
        row.follow_up.declined += get("follow_up_declined").0;
        let sets = unit_sets.entry(n).or_default();
        sets.0.insert(place.unit);
        if m.values().any(|(yes, total)| *yes > 0 || *total > 0) {
            sets.1.insert(place.unit);
        }
    }
    for (n, row) in out.iter_mut() {
        row.node_id = *n;
        row.name = tree.name(*n).to_owned();
        let (all, reporting) = unit_sets.remove(n).unwrap_or_default();
        row.units = all.len() as i64;
        row.units_reporting = reporting.len() as i64;
        row.units_reporting_share = (row.units > 0).then(|| row.units_reporting as f64 / row.units as f64);
        row.low_coverage = Some(false);
        if let Some((started, npr_total, units)) = coverage_of.remove(n) {
            row.npr_pathways = Some(npr_total);
            row.coverage = coverage(started, npr_total);
            row.low_coverage = Some(row.coverage.is_some_and(|c| c < LOW_COVERAGE));
            row.coverage_units = units;
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
    pub forms: Count,
    pub missing: Count,
    pub unknown: Count,
    pub missing_share: Option<f64>,
    pub unknown_share: Option<f64>,
}

/// The counts of a variable-completeness row, by name: what [`crate::small_counts`] withholds.
pub const VARIABLE_MEASURES: [&str; 3] = ["forms", "missing", "unknown"];

impl VariableCompleteness {
    fn shares(&mut self) {
        let share = |part: Count, of: Count| match (part.get(), of.get()) {
            (Some(p), Some(f)) if f > 0 => Some(p as f64 / f as f64),
            _ => None,
        };
        self.missing_share = share(self.missing, self.forms);
        self.unknown_share = share(self.unknown, self.forms);
    }

    /// Withholds the given counts of [`VARIABLE_MEASURES`] and the shares that derive from them.
    pub fn withhold<'a>(&mut self, measures: impl IntoIterator<Item = &'a str>) {
        for m in measures {
            match m {
                "forms" => self.forms.withhold(),
                "missing" => self.missing.withhold(),
                "unknown" => self.unknown.withhold(),
                _ => {}
            }
        }
        self.shares();
    }
}

/// Variable-completeness counts of a year per placement, form and variable: `(forms, missing,
/// unknown)`.
#[derive(Debug, Clone, Default)]
pub struct VariableCounts {
    by_place: BTreeMap<(Placement, String, String), (i64, i64, i64)>,
}

impl VariableCounts {
    /// Reads the counts of `year`, for one form kind or all.
    pub fn load(
        conn: &mut PgConnection,
        tree: &OrgTree,
        year: i32,
        form: Option<&str>,
        settings: &CountSettings,
    ) -> Result<Self, RepoError> {
        let mut by_place: BTreeMap<(Placement, String, String), (i64, i64, i64)> = BTreeMap::new();
        for r in persistence::reports::variable_counts(conn, year, settings, form)? {
            let place =
                tree.complete(Placement { unit: r.unit_id, entity: r.entity_id, region: r.region_id }, settings.today);
            let v = by_place.entry((place, r.form, r.variable)).or_default();
            v.0 += r.total;
            v.1 += r.missing;
            v.2 += r.unknown;
        }
        Ok(VariableCounts { by_place })
    }

    /// `((placement, form, variable), (forms, missing, unknown))` of every count.
    pub fn iter(&self) -> impl Iterator<Item = (&(Placement, String, String), &(i64, i64, i64))> {
        self.by_place.iter()
    }

    /// The rows of the nodes of `level` that `keep` accepts, for one form kind or all.
    pub fn rows(
        &self,
        tree: &OrgTree,
        level: ReportLevel,
        form: Option<&str>,
        keep: impl Fn(i64) -> bool,
    ) -> Vec<VariableCompleteness> {
        let mut out: BTreeMap<(i64, String, String), VariableCompleteness> = BTreeMap::new();
        for ((place, f, variable), (forms, missing, unknown)) in &self.by_place {
            if form.is_some_and(|k| k != f) {
                continue;
            }
            let Some(n) = tree.node_at(place, level).filter(|n| keep(*n)) else { continue };
            let v = out.entry((n, f.clone(), variable.clone())).or_insert_with(|| VariableCompleteness {
                node_id: n,
                name: tree.name(n).to_owned(),
                form: f.clone(),
                variable: variable.clone(),
                ..Default::default()
            });
            v.forms += *forms;
            v.missing += *missing;
            v.unknown += *unknown;
        }
        out.into_values()
            .map(|mut v| {
                v.shares();
                v
            })
            .collect()
    }
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
    Ok(VariableCounts::load(conn, tree, year, form, settings)?.rows(tree, level, form, keep))
}
