//! Indicator results (docs/indicators.md): numerators and denominators summed at unit, legal
//! entity, region and nation, with the Wilson interval, the level against the targets and the
//! trend against the year before. The counts come from one grouped query
//! (`persistence::reports::indicator_counts`); the definitions from `domain::indicators`.

use std::collections::{BTreeMap, BTreeSet};

use domain::indicators::{IndicatorId, Population, Ratio, ReportLevel, TargetLevel, Trend, YearOf, INDICATORS};
use persistence::reports::{CountRow, CountSettings};
use persistence::{PgConnection, RepoError};
use serde::Serialize;

use crate::tree::{OrgTree, Placement};

/// A grouped count of a population placed in the tree.
#[derive(Debug, Clone)]
pub struct PlacedCount {
    pub population: Population,
    pub year: i32,
    pub place: Placement,
    pub sex: i16,
    /// Index into `domain::indicators::AGE_GROUPS`.
    pub age_group: i16,
    /// The outcomes of the indicators sharing the population ([`IndicatorId::counted_in`]).
    pub outcomes: [bool; 3],
    /// Where the patients lived (pathways started only; docs/residence.md).
    pub residence: Residence,
    pub n: i64,
}

/// Where the patients of a count of pathways started lived when the pathway started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Residence {
    /// Not split by residence: every population but pathways started (and counts kept with a
    /// release made before residence was recorded).
    #[default]
    NotSplit,
    /// Under 18 in the year: outside the residence tables.
    Minor,
    /// Aged 18 or over, with the health trust whose catchment area held the residence (`None`:
    /// not recorded, or not in any catchment area).
    Adult(Option<i64>),
}

impl Residence {
    /// From the stored kind (0, 1, 2) and trust.
    pub fn from_stored(kind: i16, trust: Option<i64>) -> Self {
        match kind {
            1 => Residence::Minor,
            2 => Residence::Adult(trust),
            _ => Residence::NotSplit,
        }
    }

    /// The stored kind and trust.
    pub fn stored(self) -> (i16, Option<i64>) {
        match self {
            Residence::NotSplit => (0, None),
            Residence::Minor => (1, None),
            Residence::Adult(t) => (2, t),
        }
    }
}

impl PlacedCount {
    /// This count's contribution to an indicator: (numerator, denominator).
    pub fn ratio(&self, id: IndicatorId) -> Ratio {
        let (population, outcome, filter) = id.counted_in();
        if population != self.population || filter.is_some_and(|f| !self.outcomes[f]) {
            return Ratio::default();
        }
        Ratio::new(if self.outcomes[outcome] { self.n } else { 0 }, self.n)
    }
}

/// The measure name of pathways started (the activity table of a release).
pub const ACTIVITY: &str = "activity";

/// Reads indicator and activity counts of the years `first..=last`, placed in the tree.
pub fn load_counts(
    conn: &mut PgConnection,
    tree: &OrgTree,
    first: i32,
    last: i32,
    settings: &CountSettings,
) -> Result<Vec<PlacedCount>, RepoError> {
    let rows = persistence::reports::indicator_counts(conn, first, last, settings)?;
    rows.into_iter().map(|r| place(tree, r, settings)).collect()
}

fn place(tree: &OrgTree, r: CountRow, s: &CountSettings) -> Result<PlacedCount, RepoError> {
    let place = tree.complete(Placement { unit: r.unit_id, entity: r.entity_id, region: r.region_id }, s.today);
    let population = Population::parse(&r.population).ok_or_else(|| RepoError::Other("unknown population".into()))?;
    Ok(PlacedCount {
        population,
        year: r.year,
        place,
        sex: r.sex,
        age_group: r.age_group,
        outcomes: [r.o1, r.o2, r.o3],
        residence: Residence::from_stored(r.residence_kind, r.residence_trust_id),
        n: r.n,
    })
}

/// One node's result for one indicator. Counts are `None` where a release suppressed them;
/// the share, interval and level need both counts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorResult {
    pub node_id: i64,
    pub name: String,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub share: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub target_level: Option<TargetLevel>,
    /// The share of the year before (when both its counts are known).
    pub previous_share: Option<f64>,
    pub trend: Option<Trend>,
}

impl IndicatorResult {
    /// A result from counts that may be suppressed, with last year's (also maybe suppressed).
    pub fn new(
        id: IndicatorId,
        node_id: i64,
        name: &str,
        now: (Option<i64>, Option<i64>),
        before: (Option<i64>, Option<i64>),
    ) -> Self {
        let def = id.definition();
        let ratio = match now {
            (Some(n), Some(d)) => Some(Ratio::new(n, d)),
            _ => None,
        };
        let previous = match before {
            (Some(n), Some(d)) => Some(Ratio::new(n, d)),
            _ => None,
        };
        let ci = ratio.and_then(Ratio::wilson);
        IndicatorResult {
            node_id,
            name: name.to_owned(),
            numerator: now.0,
            denominator: now.1,
            share: ratio.and_then(Ratio::share),
            ci_low: ci.map(|c| c.0),
            ci_high: ci.map(|c| c.1),
            target_level: ratio.and_then(|r| def.level(r)),
            previous_share: previous.and_then(Ratio::share),
            trend: ratio.zip(previous).and_then(|(r, p)| def.trend(r, p)),
        }
    }
}

/// One indicator's results at one level.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndicatorTable {
    pub id: IndicatorId,
    pub title_no: &'static str,
    pub title_en: &'static str,
    pub year_of: YearOf,
    pub high: f64,
    pub moderate: f64,
    pub rows: Vec<IndicatorResult>,
}

impl IndicatorTable {
    pub fn new(id: IndicatorId, rows: Vec<IndicatorResult>) -> Self {
        let d = id.definition();
        IndicatorTable {
            id,
            title_no: d.title_no,
            title_en: d.title_en,
            year_of: d.year_of,
            high: d.high,
            moderate: d.moderate,
            rows,
        }
    }
}

/// Sums of one indicator by node at one level and year.
pub fn sums_by_node(
    counts: &[PlacedCount],
    tree: &OrgTree,
    id: IndicatorId,
    year: i32,
    level: ReportLevel,
) -> BTreeMap<i64, Ratio> {
    let mut out: BTreeMap<i64, Ratio> = BTreeMap::new();
    for c in counts.iter().filter(|c| c.year == year) {
        let r = c.ratio(id);
        if r.denominator > 0 {
            if let Some(node) = tree.node_at(&c.place, level) {
                out.entry(node).or_default().add(r);
            }
        }
    }
    out
}

/// Every indicator's results for `year` at `level`, for the nodes `keep` accepts: every node of
/// the level with a unit linked in the year or a count in either year.
pub fn results(
    counts: &[PlacedCount],
    tree: &OrgTree,
    year: i32,
    level: ReportLevel,
    today: chrono::NaiveDate,
    keep: impl Fn(i64) -> bool,
) -> Vec<IndicatorTable> {
    let mut nodes: BTreeSet<i64> = tree.nodes_at(year, today, level);
    nodes.extend(counts.iter().filter(|c| c.year >= year - 1).filter_map(|c| tree.node_at(&c.place, level)));
    nodes.retain(|n| keep(*n));
    INDICATORS
        .iter()
        .map(|def| {
            let now = sums_by_node(counts, tree, def.id, year, level);
            let before = sums_by_node(counts, tree, def.id, year - 1, level);
            let rows = nodes
                .iter()
                .map(|&n| {
                    let r = now.get(&n).copied().unwrap_or_default();
                    let b = before.get(&n).copied().unwrap_or_default();
                    IndicatorResult::new(
                        def.id,
                        n,
                        tree.name(n),
                        (Some(r.numerator), Some(r.denominator)),
                        (Some(b.numerator), Some(b.denominator)),
                    )
                })
                .collect();
            IndicatorTable::new(def.id, rows)
        })
        .collect()
}
