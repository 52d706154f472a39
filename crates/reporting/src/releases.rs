//! Releases (docs/indicators.md, docs/suppression.md): every table of a year — indicator numerators,
//! complements and denominators at every level, pathways started by sex and age group at every
//! level — built as ONE linked table over shared inner cells, suppressed together by the
//! engine, checked by the independent auditor (a release with any disclosure is refused) and
//! stored unchanged. Downloads and public results are slices of a stored release.
//!
//! The linked table has eight dimensions: population (pathways started, first measurements,
//! discharges with ending 3 or 4, follow-up windows, baselines), org (inner codes are the
//! placements unit / legal entity / region of the counts; units, entities, regions and the
//! nation are published), sex, age group, three yes/no outcomes whose meaning depends on the
//! population (`IndicatorId::counted_in`), and residence (adults' pathways started by the
//! catchment trust of their residence, under its region; docs/residence.md): the residence
//! tables are a second grouping of the same pathways, so they are cells of the same model.
//! Indicators of the same population share its inner cells, so a shared denominator is one cell
//! of the model and the engine and the auditor see every relation between the tables. Indicator cells publish `yes` (numerator) and `total`
//! (denominator); `no` (complement) is protected when small but not itself published. The
//! activity table is the `started` population by sex and age group; the residence tables are
//! the same population at the nation by residence, sex and age group.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use domain::indicators::{IndicatorId, Population, AGE_GROUPS, SEXES};
use persistence::releases::ReleaseCellRow;
use serde::Serialize;

use crate::history::{Fixed, History};
use crate::indicators::{PlacedCount, Residence, ACTIVITY};
use crate::small_counts::ShownCell;
use crate::suppression::Model;
use crate::suppression::{
    audit_flags, suppress, AuditOptions, AuditReport, CellRole, CellStatus, Dimension, PrimaryRule, SuppressOptions,
    SuppressionError, TableBuilder,
};
use crate::tree::{OrgTree, Placement};

/// Why a release was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{0}")]
    Invalid(String),
    /// The auditor found a disclosure (or forced cells made the pattern unsafe): nothing stored.
    #[error("the release failed the disclosure audit")]
    Refused(AuditSummary),
}

impl From<SuppressionError> for ReleaseError {
    fn from(e: SuppressionError) -> Self {
        ReleaseError::Invalid(e.to_string())
    }
}

/// The audit result stored with a release and printed in every download (the default, for a
/// stored result that cannot be read, is a failed audit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AuditSummary {
    pub passed: bool,
    pub strict: bool,
    pub cells: usize,
    pub published: usize,
    pub primary: usize,
    pub secondary: usize,
    /// Suppressed primary cells an outsider can compute: 0 in every stored release.
    pub disclosures: usize,
    /// Derivable sums of suppressed primaries below k (strict policy: 0 in a stored release).
    pub group_disclosures: usize,
    /// Primary cells that the staff of one unit, knowing all of the unit's records, could
    /// compute (the per-unit insider audit): 0 in every stored release.
    pub insider_findings: usize,
    /// Units audited as insiders.
    #[serde(default)]
    pub insider_units: usize,
    /// For information: (singleton, cell) pairs where a person alone in an inner cell could
    /// compute another small cell.
    #[serde(default)]
    pub singleton_findings: usize,
    /// Primary cells that cells forced by an earlier publication of the year would disclose
    /// (a value that changed by 1..k-1 is withheld instead of forced, so it is not counted here).
    pub unsafe_forced: usize,
    /// Earlier releases of the year this release was audited together with, as one model
    /// (releases stored before their counts were kept are not among them).
    #[serde(default)]
    pub over_time_releases: usize,
    /// What that audit over time found (0 in every stored release).
    #[serde(default)]
    pub over_time_findings: usize,
}

impl AuditSummary {
    pub(crate) fn new(report: &AuditReport, unsafe_forced: usize) -> Self {
        AuditSummary {
            passed: report.passes() && unsafe_forced == 0,
            strict: report.strict,
            cells: report.cells,
            published: report.published,
            primary: report.primary,
            secondary: report.secondary,
            disclosures: report.disclosures.len() + report.sum_disclosures.len(),
            group_disclosures: report.group_disclosures.len(),
            insider_findings: report.unit_insider.len(),
            insider_units: report.insider_groups,
            singleton_findings: report.insider.len(),
            unsafe_forced,
            over_time_releases: 0,
            over_time_findings: 0,
        }
    }

    /// One line for CSV metadata and logs.
    pub fn line(&self) -> String {
        let over_time = if self.over_time_releases > 0 {
            format!(
                "; audited with {} earlier release(s) of the year: {} findings",
                self.over_time_releases, self.over_time_findings
            )
        } else {
            String::new()
        };
        format!(
            "{}: {} cells, {} published, {} primary, {} secondary suppressions; {} disclosures, {} group disclosures, {} insider findings over {} units{over_time}",
            if self.passed { "passed" } else { "FAILED" },
            self.cells,
            self.published,
            self.primary,
            self.secondary,
            self.disclosures,
            self.group_disclosures,
            self.insider_findings,
            self.insider_units
        )
    }
}

/// The key of a release cell: measure, node, sex (0 = all), age group (0 = all), outcome.
pub type CellKey = (String, i64, i16, i16, &'static str);

/// A built release, ready to store.
#[derive(Debug, Clone)]
pub struct BuiltRelease {
    pub cells: Vec<ReleaseCellRow>,
    pub audit: AuditSummary,
    pub published: usize,
    pub primary: usize,
    pub secondary: usize,
    pub stats: serde_json::Value,
    /// The inner counts of the year the release was built from (stored with it, for auditing
    /// later releases of the year together with it).
    pub counts: Vec<PlacedCount>,
}

impl BuiltRelease {
    /// The release row to store for this build.
    pub fn new_release(
        &self,
        year: i32,
        min_cell: u32,
        previous_release_id: Option<i64>,
        created_by: uuid::Uuid,
    ) -> Result<persistence::releases::NewRelease, ReleaseError> {
        let small = |v: usize| i32::try_from(v).map_err(|_| ReleaseError::Invalid("too many cells".into()));
        Ok(persistence::releases::NewRelease {
            year: i16::try_from(year).map_err(|_| ReleaseError::Invalid("year out of range".into()))?,
            min_cell: i16::try_from(min_cell).map_err(|_| ReleaseError::Invalid("min_cell out of range".into()))?,
            previous_release_id,
            cells: small(self.cells.len())?,
            published_cells: small(self.published)?,
            primary_cells: small(self.primary)?,
            secondary_cells: small(self.secondary)?,
            audit: serde_json::to_value(&self.audit).map_err(|e| ReleaseError::Invalid(e.to_string()))?,
            stats: self.stats.clone(),
            created_by,
        })
    }
}

/// What the earlier publications of the same year fix (docs/suppression.md §0): the latest
/// published release (the one a new release is built on), and the history of every cell shown
/// so far — every published release of the year and, for the counts a release shares with
/// completeness, every completeness snapshot of the year.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    pub release_id: Option<i64>,
    /// The published releases of the year whose counts are kept, oldest first: a new release is
    /// audited together with them (`crate::over_time`).
    pub earlier: Vec<crate::over_time::EarlierRelease>,
    pub history: History<CellKey>,
    pub over_time: OverTime,
}

/// How a later release of a year is tied to the earlier publications of the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverTime {
    /// Cell by cell (unchanged values forced, withheld values kept withheld, a value that moved
    /// by 1..k−1 withheld), a value whose change less one unit's own change is 1..k−1 withheld,
    /// and no sum of siblings whose changes add up to 1..k−1 derivable (what rusreg publishes).
    #[default]
    WithInsiders,
    /// Without the sums of siblings' changes: kept to measure what they add (the attack test).
    WithoutChangeSums,
    /// Cell by cell only: what rusreg did before the insider rule on changes. Never published;
    /// kept to reproduce the old leaks in the attack test.
    CellByCell,
}

/// One earlier publication of a year, as stored.
pub enum Publication<'a> {
    Release(&'a [ReleaseCellRow]),
    Snapshot(&'a [ShownCell]),
}

/// The counts a release shares with completeness by definition: (completeness measure, release
/// measure, release outcome), at every unit and legal entity.
pub const SHARED: [(&str, &str, &str); 4] = [
    ("pathways_started", ACTIVITY, "total"),
    ("baseline.expected", "baseline_on_time", "total"),
    ("follow_up.due", "follow_up_reached", "total"),
    ("follow_up.followed_up", "follow_up_reached", "yes"),
];

/// The release cell of a completeness count that a release shares (see [`SHARED`]).
pub fn shared_key(node: i64, completeness_measure: &str) -> Option<CellKey> {
    SHARED
        .iter()
        .find(|(c, _, _)| *c == completeness_measure)
        .map(|(_, m, o)| ((*m).to_owned(), node, 0, 0, outcome_str(o)))
}

impl Previous {
    /// The history of the publications of a year, oldest first.
    pub fn new(release_id: Option<i64>, publications: &[Publication<'_>]) -> Self {
        let mut history = History::default();
        for p in publications {
            history.next_publication();
            match p {
                Publication::Release(cells) => record_release(&mut history, cells),
                Publication::Snapshot(cells) => {
                    for c in cells.iter() {
                        if let Some(key) = shared_key(c.node, &c.measure) {
                            history.record(key, c.value, !c.withheld);
                        }
                    }
                }
            }
        }
        Previous { release_id, history, over_time: OverTime::default(), earlier: Vec::new() }
    }

    /// The history of `year` as stored (see [`load_publications`]).
    pub fn load(conn: &mut persistence::PgConnection, year: i32) -> Result<Self, persistence::RepoError> {
        let (latest, stored) = load_publications(conn, year)?;
        let publications: Vec<Publication<'_>> = stored.iter().map(StoredPublication::as_publication).collect();
        let mut previous = Previous::new(latest, &publications);
        previous.earlier = crate::over_time::load_earlier(conn, year)?;
        Ok(previous)
    }
}

/// An earlier publication of a year, read from the database.
pub enum StoredPublication {
    Release(Vec<ReleaseCellRow>),
    Snapshot(Vec<ShownCell>),
}

impl StoredPublication {
    pub fn as_publication(&self) -> Publication<'_> {
        match self {
            StoredPublication::Release(c) => Publication::Release(c),
            StoredPublication::Snapshot(c) => Publication::Snapshot(c),
        }
    }
}

/// The latest published release of `year` and every publication of the year in the order they
/// became visible: published releases (at publication) and completeness snapshots (when taken).
pub fn load_publications(
    conn: &mut persistence::PgConnection,
    year: i32,
) -> Result<(Option<i64>, Vec<StoredPublication>), persistence::RepoError> {
    let y = i16::try_from(year).map_err(|_| persistence::RepoError::Other("year out of range".into()))?;
    let latest = persistence::releases::latest_published(conn, Some(y))?;
    let mut timed: Vec<(chrono::DateTime<chrono::Utc>, StoredPublication)> = Vec::new();
    for r in persistence::releases::list_releases(conn, Some(y))? {
        if let Some(at) = r.published_at {
            timed.push((at, StoredPublication::Release(persistence::releases::release_cells(conn, r.id, None)?)));
        }
    }
    for s in persistence::releases::snapshots_of_year(conn, y)? {
        let cells: Vec<ShownCell> = serde_json::from_value(s.cells)
            .map_err(|e| persistence::RepoError::Other(format!("stored snapshot cells: {e}")))?;
        timed.push((s.created_at, StoredPublication::Snapshot(cells)));
    }
    timed.sort_by_key(|(at, _)| *at);
    Ok((latest.map(|r| r.id), timed.into_iter().map(|(_, p)| p).collect()))
}

/// Records a release's cells: published values as shown, primary and secondary cells as
/// withheld, and a complement as shown when its numerator and denominator were both published.
fn record_release(history: &mut History<CellKey>, cells: &[ReleaseCellRow]) {
    let key = |c: &ReleaseCellRow| (c.measure.clone(), c.node_id, c.sex, c.age_group, outcome_str(&c.outcome));
    let published: HashMap<CellKey, i64> =
        cells.iter().filter(|c| c.status == "published").map(|c| (key(c), i64::from(c.value))).collect();
    for c in cells {
        let k = key(c);
        match c.status.as_str() {
            "published" => history.record(k, i64::from(c.value), true),
            "primary" | "secondary" => history.record(k, i64::from(c.value), false),
            _ if k.4 == "no" => {
                let yes = published.get(&(k.0.clone(), k.1, k.2, k.3, "yes"));
                let total = published.get(&(k.0.clone(), k.1, k.2, k.3, "total"));
                if let (Some(y), Some(t)) = (yes, total) {
                    history.record(k, t - y, true);
                } else {
                    history.record_truth(k, i64::from(c.value));
                }
            }
            _ => {}
        }
    }
}

const OUTCOMES: [&str; 3] = ["total", "yes", "no"];

/// The outcome dimensions of the linked table (see [`IndicatorId::counted_in`]).
const OUTCOME_DIMS: [&str; 3] = ["o1", "o2", "o3"];

pub(crate) fn outcome_str(raw: &str) -> &'static str {
    OUTCOMES.into_iter().find(|o| *o == raw).unwrap_or("total")
}

/// Org codes of a linked table (a release, or the completeness figures of
/// [`crate::small_counts`]).
pub(crate) struct OrgCodes {
    pub(crate) dim: Dimension,
    /// (code, node id) of every node: nation `n`, regions `r…`, entities `e…`, units `u…`.
    pub(crate) published: Vec<(String, i64)>,
    /// Leaf code of each placement.
    pub(crate) leaf: HashMap<Placement, String>,
}

/// The org dimension over `places`: a leaf per placement, units, entities, regions and the
/// nation as the sums of their placements.
pub(crate) fn org_dimension(tree: &OrgTree, places: &BTreeSet<Placement>) -> Result<OrgCodes, SuppressionError> {
    let leaf: HashMap<Placement, String> = places.iter().enumerate().map(|(i, p)| (*p, format!("t{i}"))).collect();
    let mut units: BTreeMap<i64, BTreeSet<Placement>> = BTreeMap::new();
    let mut entities: BTreeMap<i64, BTreeSet<Placement>> = BTreeMap::new();
    let mut regions: BTreeMap<i64, BTreeSet<Placement>> = BTreeMap::new();
    for p in places {
        units.entry(p.unit).or_default().insert(*p);
        if let Some(e) = p.entity {
            entities.entry(e).or_default().insert(*p);
        }
        if let Some(r) = p.region {
            regions.entry(r).or_default().insert(*p);
        }
    }
    let mut hierarchy: Vec<(String, Vec<String>)> = Vec::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    // A parent lists a child node when all of the child's placements are under it, else the
    // child's placements under it one by one (a unit that moved during the year).
    let mut children = |parent: String,
                        mine: &BTreeSet<Placement>,
                        kids: &BTreeMap<i64, BTreeSet<Placement>>,
                        prefix: &str,
                        hierarchy: &mut Vec<(String, Vec<String>)>| {
        let mut list = Vec::new();
        let mut covered: BTreeSet<Placement> = BTreeSet::new();
        for (id, theirs) in kids {
            if theirs.is_subset(mine) {
                let code = format!("{prefix}{id}");
                listed.insert(code.clone());
                list.push(code);
                covered.extend(theirs.iter().copied());
            }
        }
        list.extend(mine.difference(&covered).map(|p| leaf[p].clone()));
        hierarchy.push((parent, list));
    };
    for (u, mine) in &units {
        hierarchy.push((format!("u{u}"), mine.iter().map(|p| leaf[p].clone()).collect()));
    }
    for (e, mine) in &entities {
        children(format!("e{e}"), mine, &units, "u", &mut hierarchy);
    }
    for (r, mine) in &regions {
        children(format!("r{r}"), mine, &entities, "e", &mut hierarchy);
    }
    let all: BTreeSet<Placement> = places.iter().copied().collect();
    children("n".to_owned(), &all, &regions, "r", &mut hierarchy);
    let orphans: Vec<String> = units
        .keys()
        .map(|u| format!("u{u}"))
        .chain(entities.keys().map(|e| format!("e{e}")))
        .filter(|c| !listed.contains(c))
        .collect();
    if !orphans.is_empty() {
        hierarchy.push(("n".to_owned(), orphans));
    }
    let dim = Dimension::new("org", "n", &hierarchy)?;
    let mut published = vec![("n".to_owned(), tree.nation())];
    published.extend(regions.keys().map(|r| (format!("r{r}"), *r)));
    published.extend(entities.keys().map(|e| (format!("e{e}"), *e)));
    published.extend(units.keys().map(|u| (format!("u{u}"), *u)));
    Ok(OrgCodes { dim, published, leaf })
}

/// The measure of adults' pathways started by the catchment trust of their residence (at a
/// trust, its region or the nation: every residence in some catchment area), by sex and age
/// group (docs/residence.md).
pub const RESIDENCE: &str = "residence";
/// The measure of adults' pathways started without a residence in any catchment area (not
/// recorded, or not mapped), at the nation.
pub const RESIDENCE_UNKNOWN: &str = "residence_unknown";
/// The residence code of inner cells outside the residence tables: other populations, minors,
/// and counts kept before the residence was recorded.
const RESIDENCE_NOT_SPLIT: &str = "x";

/// The residence dimension of a linked table: all → not split (`x`) and adults; adults →
/// unknown (`unk`) and known; known → catchment regions `R…` → catchment trusts `c…` (a trust
/// without a region directly under known).
pub(crate) struct ResidenceCodes {
    pub(crate) dim: Dimension,
    /// (measure, code, node) of every published residence total.
    pub(crate) published: Vec<(&'static str, String, i64)>,
    codes: HashMap<i64, String>,
}

impl ResidenceCodes {
    fn code_of(&self, r: Residence) -> &str {
        match r {
            Residence::NotSplit | Residence::Minor => RESIDENCE_NOT_SPLIT,
            Residence::Adult(None) => "unk",
            Residence::Adult(Some(t)) => self.codes.get(&t).map_or("unk", String::as_str),
        }
    }
}

/// The residence dimension over the catchment trusts of `year` and every trust in the counts.
pub(crate) fn residence_dimension(
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
    epochs: &[Vec<&PlacedCount>],
) -> Result<ResidenceCodes, SuppressionError> {
    let mut trusts = tree.catchment_trusts(year);
    trusts.extend(epochs.iter().flatten().filter_map(|c| match c.residence {
        Residence::Adult(t) => t,
        _ => None,
    }));
    let mut regions: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut known: Vec<String> = Vec::new();
    let codes: HashMap<i64, String> = trusts.iter().map(|t| (*t, format!("c{t}"))).collect();
    for t in &trusts {
        match tree.residence_region(*t, year, today) {
            Some(r) => regions.entry(r).or_default().push(codes[t].clone()),
            None => known.push(codes[t].clone()),
        }
    }
    known.extend(regions.keys().map(|r| format!("R{r}")));
    let mut hierarchy: Vec<(String, Vec<String>)> = vec![
        ("all".to_owned(), vec![RESIDENCE_NOT_SPLIT.to_owned(), "adult".to_owned()]),
        (
            "adult".to_owned(),
            if known.is_empty() { vec!["unk".to_owned()] } else { vec!["unk".to_owned(), "known".to_owned()] },
        ),
    ];
    let mut published = vec![(RESIDENCE_UNKNOWN, "unk".to_owned(), tree.nation())];
    if !known.is_empty() {
        hierarchy.push(("known".to_owned(), known));
        published.push((RESIDENCE, "known".to_owned(), tree.nation()));
    }
    for (r, kids) in regions {
        published.push((RESIDENCE, format!("R{r}"), r));
        hierarchy.push((format!("R{r}"), kids));
    }
    published.extend(trusts.iter().map(|t| (RESIDENCE, codes[t].clone(), *t)));
    Ok(ResidenceCodes { dim: Dimension::new("residence", "all", &hierarchy)?, published, codes })
}

/// The linked table of a year: the model, and for each release cell its key and its column.
pub struct LinkedTable {
    pub model: Model,
    pub keys: Vec<(CellKey, CellRole)>,
    /// Column of the model of each key.
    pub index: Vec<usize>,
    pub placements: usize,
    /// The inner cells of each unit (all its placements): what the unit's staff know.
    pub insiders: Vec<Vec<u32>>,
    /// The unit of each insider group.
    pub insider_units: Vec<i64>,
}

/// Builds the linked table of `year` from its counts (`counts` may hold other years; they are
/// ignored). Units linked in the year without counts get zero cells.
pub fn linked_table(
    counts: &[PlacedCount],
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
) -> Result<LinkedTable, SuppressionError> {
    let counts: Vec<&PlacedCount> = counts.iter().filter(|c| c.year == year).collect();
    Ok(linked_table_of(&[counts], tree, year, today)?.0)
}

/// The linked table of `year` over one set of counts, or over several sets at once (the counts
/// of earlier releases of the year and of the one being made: one model with a `time`
/// dimension, in which every release's cells are cells of their own epoch). With several
/// epochs, the second value gives each key's epoch.
pub(crate) fn linked_table_of(
    epochs: &[Vec<&PlacedCount>],
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
) -> Result<(LinkedTable, Vec<usize>), SuppressionError> {
    let over_time = epochs.len() > 1;
    let mut places: BTreeSet<Placement> = tree.units_in_year(year, today).into_iter().collect();
    places.extend(epochs.iter().flatten().map(|c| c.place));
    let org = org_dimension(tree, &places)?;

    let residence = residence_dimension(tree, year, today, epochs)?;

    let sex_codes: Vec<String> = SEXES.iter().map(|(c, _)| c.to_string()).collect();
    let age_codes: Vec<String> = (1..=AGE_GROUPS.len()).map(|a| a.to_string()).collect();
    let time_codes: Vec<String> = (0..epochs.len()).map(|e| format!("t{e}")).collect();
    let populations: Vec<&str> = Population::ALL.iter().map(|p| p.as_str()).collect();
    let mut b = TableBuilder::new();
    b.extend0(false)
        .dimension(Dimension::flat("population", "all", &populations)?)
        .dimension(org.dim.clone())
        .dimension(Dimension::flat("sex", "0", &sex_codes)?)
        .dimension(Dimension::flat("age", "0", &age_codes)?);
    for o in OUTCOME_DIMS {
        b.dimension(Dimension::flat(o, "all", &["yes", "no"])?);
    }
    b.dimension(residence.dim.clone());
    if over_time {
        b.dimension(Dimension::flat("time", "all", &time_codes)?);
    }
    let yn = |v: bool| if v { "yes" } else { "no" };
    let age_of = |c: &PlacedCount| (c.age_group.clamp(0, AGE_GROUPS.len() as i16 - 1) + 1).to_string();
    // The inner cells are listed here rather than crossed by the builder: every combination of
    // placement, sex, age group and outcomes a population can have (outcomes a population does
    // not have are always yes; a baseline not yet due is not on time), with a count or zero.
    // Pathways started by adults are split by residence: only the residences that occur at the
    // placement, sex and age group are cells (the others are known zeros; a model that knows more
    // zeros than an attacker protects at least as well), so the split stays near the size of the
    // data instead of multiplying the table by the number of catchment trusts.
    let mut split: BTreeMap<(Placement, i16, String), BTreeSet<&str>> = BTreeMap::new();
    for c in epochs.iter().flatten() {
        if c.population == Population::Started {
            split.entry((c.place, c.sex, age_of(c))).or_default().insert(residence.code_of(c.residence));
        }
    }
    let not_split = [RESIDENCE_NOT_SPLIT];
    for time in time_codes.iter().map(|t| over_time.then_some(t.as_str())) {
        for p in Population::ALL {
            let combos: Vec<[bool; 3]> = (0..8u8)
                .map(|m| [m & 1 != 0, m & 2 != 0, m & 4 != 0])
                .filter(|o| (p.outcomes()..3).all(|i| o[i]))
                .filter(|o| p != Population::Started || !o[0] || o[1])
                .collect();
            for place in &places {
                let leaf = org.leaf[place].as_str();
                for (sex, s) in SEXES.iter().map(|(c, _)| *c).zip(&sex_codes) {
                    for a in &age_codes {
                        let residences = match split.get(&(*place, sex, a.clone())) {
                            Some(r) if p == Population::Started => r.iter().copied().collect(),
                            _ => not_split.to_vec(),
                        };
                        for [o1, o2, o3] in &combos {
                            for r in &residences {
                                let mut codes = vec![p.as_str(), leaf, s, a, yn(*o1), yn(*o2), yn(*o3), r];
                                codes.extend(time);
                                b.count(&codes, 0)?;
                            }
                        }
                    }
                }
            }
        }
    }
    for (e, counts) in epochs.iter().enumerate() {
        for c in counts {
            let sex = c.sex.to_string();
            let age = age_of(c);
            let leaf = org.leaf[&c.place].as_str();
            let [o1, o2, o3] = c.outcomes;
            let r =
                if c.population == Population::Started { residence.code_of(c.residence) } else { RESIDENCE_NOT_SPLIT };
            let mut codes = vec![c.population.as_str(), leaf, &sex, &age, yn(o1), yn(o2), yn(o3), r];
            if over_time {
                codes.push(&time_codes[e]);
            }
            b.count(&codes, c.n)?;
        }
    }
    // Every cell of the release, by key, with its codes; indicators sharing a population share
    // its denominator cell (one column of the model).
    let mut keys: Vec<(CellKey, Vec<&str>, CellRole)> = Vec::new();
    let mut epoch_of: Vec<usize> = Vec::new();
    let started = Population::Started.as_str();
    for (e, time) in time_codes.iter().enumerate() {
        let first = keys.len();
        for (code, node) in &org.published {
            for s in std::iter::once("0").chain(sex_codes.iter().map(String::as_str)) {
                for a in std::iter::once("0").chain(age_codes.iter().map(String::as_str)) {
                    let key = (ACTIVITY.to_owned(), *node, s.parse().unwrap_or(0), a.parse().unwrap_or(0), "total");
                    keys.push((key, vec![started, code, s, a, "all", "all", "all", "all"], CellRole::Published));
                }
            }
            for id in IndicatorId::ALL {
                let (population, outcome, filter) = id.counted_in();
                for (o, role) in
                    [("total", CellRole::Published), ("yes", CellRole::Published), ("no", CellRole::Protected)]
                {
                    let mut codes = vec![population.as_str(), code, "0", "0", "all", "all", "all", "all"];
                    if let Some(f) = filter {
                        codes[4 + f] = "yes";
                    }
                    if o != "total" {
                        codes[4 + outcome] = o;
                    }
                    keys.push(((id.as_str().to_owned(), *node, 0, 0, o), codes, role));
                }
            }
        }
        // The residence tables: adults' pathways started by the catchment trust (and region, and
        // the nation) of their residence, and those without one, by sex and age group — for
        // counts split by residence only (counts kept with a release made before residence was
        // recorded are not).
        let split = epochs[e].iter().any(|c| c.population == Population::Started && c.residence != Residence::NotSplit);
        for (measure, code, node) in residence.published.iter().filter(|_| split) {
            for s in std::iter::once("0").chain(sex_codes.iter().map(String::as_str)) {
                for a in std::iter::once("0").chain(age_codes.iter().map(String::as_str)) {
                    let key = ((*measure).to_owned(), *node, s.parse().unwrap_or(0), a.parse().unwrap_or(0), "total");
                    keys.push((key, vec![started, "n", s, a, "all", "all", "all", code.as_str()], CellRole::Published));
                }
            }
        }
        if over_time {
            for (_, codes, _) in &mut keys[first..] {
                codes.push(time.as_str());
            }
        }
        epoch_of.resize(keys.len(), e);
    }
    for (_, codes, role) in &keys {
        match role {
            CellRole::Published => b.publish_cell(codes)?,
            CellRole::Protected => b.protect_cell(codes)?,
        };
    }
    let model = b.build()?;
    let index: Vec<usize> = keys
        .iter()
        .map(|(_, codes, _)| {
            let ids: Vec<u32> =
                model.dims().iter().zip(codes).map(|(d, c)| d.code(c)).collect::<Result<_, SuppressionError>>()?;
            model.find_cell(&ids).ok_or_else(|| SuppressionError::invalid("a release cell is missing from the model"))
        })
        .collect::<Result<_, SuppressionError>>()?;
    let (insiders, insider_units) = unit_groups(&model, 1, &org.leaf);
    let table = LinkedTable {
        model,
        keys: keys.into_iter().map(|(k, _, r)| (k, r)).collect(),
        index,
        placements: places.len(),
        insiders,
        insider_units,
    };
    Ok((table, epoch_of))
}

/// The inner cells of each unit of a linked table whose dimension `org_dim` has a leaf per
/// placement: one insider group per unit (in unit order), and the units.
pub(crate) fn unit_groups(
    model: &Model,
    org_dim: usize,
    leaf: &HashMap<Placement, String>,
) -> (Vec<Vec<u32>>, Vec<i64>) {
    let dim = &model.dims()[org_dim];
    let unit_of_code: HashMap<u32, i64> =
        leaf.iter().filter_map(|(p, code)| dim.code(code).ok().map(|c| (c, p.unit))).collect();
    let mut by_unit: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    for r in 0..model.inner().len() {
        if let Some(&u) = unit_of_code.get(&model.inner().codes(r)[org_dim]) {
            by_unit.entry(u).or_default().push(r as u32);
        }
    }
    let units = by_unit.keys().copied().collect();
    (by_unit.into_values().collect(), units)
}

/// How a table is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protection {
    /// Against outsiders and the staff of every unit (what rusreg publishes).
    #[default]
    InsiderSafe,
    /// Against outsiders only, the reference method: what rusreg did before insider-safe
    /// suppression. Never published; kept to measure the price of insider safety
    /// (docs/benchmarks.md) and to reproduce the old leaks in the attack test.
    OutsiderOnly,
}

/// Builds, suppresses and audits the release of `year` from its counts.
pub fn build_release(
    counts: &[PlacedCount],
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
    min_cell: u32,
    previous: &Previous,
) -> Result<BuiltRelease, ReleaseError> {
    build_release_with(counts, tree, year, today, min_cell, previous, Protection::InsiderSafe)
}

/// [`build_release`] with a choice of protection.
pub fn build_release_with(
    counts: &[PlacedCount],
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
    min_cell: u32,
    previous: &Previous,
    protection: Protection,
) -> Result<BuiltRelease, ReleaseError> {
    let started = Instant::now();
    let rule = PrimaryRule::for_release(min_cell, false)?;
    let LinkedTable { model, keys, index, placements, mut insiders, insider_units: _ } =
        linked_table(counts, tree, year, today)?;
    if protection == Protection::OutsiderOnly {
        insiders.clear();
    }
    let built_in = started.elapsed();

    // Earlier publications of the year: a value shown before and unchanged is forced; a value
    // withheld before, or changed by 1..k-1 since any earlier value, is primary (its new value
    // is withheld, with the secondaries it needs).
    let cells_now =
        keys.iter().zip(&index).map(|((key, role), &j)| (key, j, model.freq()[j], *role == CellRole::Published));
    let Fixed { forced, extra_primary, insider_exempt, changed_small, moved_for_an_insider } = match previous.over_time
    {
        OverTime::CellByCell => previous.history.fix(cells_now, min_cell),
        OverTime::WithInsiders | OverTime::WithoutChangeSums => {
            // The same cell at each unit under a cell's node.
            let units = units_under(tree, year, today);
            // The residence tables have no per-unit parts among the release's cells (the audit
            // over time covers what a unit's staff know of them).
            previous.history.fix_with_parts(cells_now, min_cell, |key: &CellKey| {
                if key.0 == RESIDENCE || key.0 == RESIDENCE_UNKNOWN {
                    return Vec::new();
                }
                units
                    .get(&key.1)
                    .map_or_else(Vec::new, |us| us.iter().map(|u| (key.0.clone(), *u, key.2, key.3, key.4)).collect())
            })
        }
    };
    // Sums of siblings whose changes add up to 1..k-1 must not be derivable either.
    let extra_sums = match previous.over_time {
        OverTime::CellByCell | OverTime::WithoutChangeSums => Vec::new(),
        OverTime::WithInsiders => {
            let relations = model.relations();
            previous.history.small_change_sums(
                keys.iter().zip(&index).map(|((key, _), &j)| (key, j, model.freq()[j])),
                relations.iter().map(|r| r.children.as_slice()),
                min_cell,
            )
        }
    };
    // Cells withheld because the release, audited together with the earlier releases of the
    // year, would give something away (see `audit_over_time`); grows round by round.
    let mut withheld_over_time: BTreeSet<usize> = BTreeSet::new();
    let mut rounds_over_time = 0usize;
    let mut unforced = 0usize;
    let mut forced_now = forced.clone();
    loop {
        let mut primaries = extra_primary.clone();
        primaries.extend(withheld_over_time.iter().copied().filter(|j| !extra_primary.contains(j)));
        forced_now.retain(|j| !withheld_over_time.contains(j));
        let mut opts = SuppressOptions {
            strict: true,
            forced: forced_now.clone(),
            extra_primary: primaries.clone(),
            insiders: insiders.clone(),
            insider_exempt: insider_exempt.clone(),
            extra_sums: extra_sums.clone(),
            ..SuppressOptions::with_rule(rule)
        };
        let t = Instant::now();
        let mut pattern = suppress(&model, &opts)?;
        // Forcing unchanged values keeps what users saw, but no forced value may give a withheld
        // count away (to an outsider or to one unit's staff). When forced cells would, the values
        // shown before at the nodes around the cells they expose are no longer forced (withholding
        // a value shown before is safe: the attacker cannot know it did not change), and the table
        // is suppressed again; a release is refused only if that does not help.
        for _ in 0..3 {
            if pattern.unsafe_cells.is_empty() || opts.forced.is_empty() {
                break;
            }
            let around = nodes_around(
                tree,
                year,
                today,
                pattern.unsafe_cells.iter().filter_map(|j| node_of_cell(&keys, &index, *j)),
            );
            let before = opts.forced.len();
            opts.forced.retain(|j| node_of_cell(&keys, &index, *j).is_none_or(|n| !around.contains(&n)));
            unforced += before - opts.forced.len();
            pattern = suppress(&model, &opts)?;
        }
        forced_now = opts.forced.clone();
        let suppress_time = t.elapsed();
        let t = Instant::now();
        let suppressed: Vec<bool> = (0..model.ncells()).map(|j| pattern.is_suppressed(j)).collect();
        let report = audit_flags(
            &model,
            &suppressed,
            &AuditOptions {
                rule,
                strict: true,
                insider: true,
                extra_primary: primaries.clone(),
                insiders: insiders.clone(),
                insider_exempt: insider_exempt.clone(),
                extra_sums: extra_sums.clone(),
                extra_combinations: Vec::new(),
            },
        );
        let audit_time = t.elapsed();
        let mut summary = AuditSummary::new(&report, pattern.unsafe_cells.len() + pattern.unsafe_extra);
        if !summary.passed {
            return Err(ReleaseError::Refused(summary));
        }
        let freq = model.freq();
        let mut cells = Vec::with_capacity(keys.len());
        for ((key, _), &j) in keys.iter().zip(&index) {
            let status = match pattern.status[j] {
                CellStatus::Published => "published",
                CellStatus::Primary => "primary",
                CellStatus::Secondary => "secondary",
                CellStatus::Hidden => "protected",
            };
            cells.push(ReleaseCellRow {
                release_id: 0,
                measure: key.0.clone(),
                node_id: key.1,
                sex: key.2,
                age_group: key.3,
                outcome: key.4.to_owned(),
                value: i32::try_from(freq[j]).map_err(|_| ReleaseError::Invalid("a count above i32".into()))?,
                status: status.to_owned(),
            });
        }
        // The release together with every earlier release of the year whose counts are kept.
        let t = Instant::now();
        let year_counts: Vec<PlacedCount> = counts.iter().filter(|c| c.year == year).cloned().collect();
        // Only what rusreg publishes is audited over time; the older ways of tying releases are
        // kept to reproduce what they leaked.
        let over_time = if previous.earlier.is_empty()
            || protection == Protection::OutsiderOnly
            || previous.over_time != OverTime::WithInsiders
        {
            None
        } else {
            Some(crate::over_time::audit_over_time(
                &previous.earlier,
                &year_counts,
                &cells,
                tree,
                year,
                today,
                min_cell,
            )?)
        };
        let over_time_ms = t.elapsed().as_millis() as u64;
        if let Some(ot) = &over_time {
            summary.over_time_releases = ot.releases;
            summary.over_time_findings = ot.findings.len();
            if !ot.findings.is_empty() {
                let column: HashMap<&CellKey, usize> = keys.iter().zip(&index).map(|((k, _), &j)| (k, j)).collect();
                let more: BTreeSet<usize> = ot
                    .to_withhold()
                    .iter()
                    .filter_map(|k| column.get(k).copied())
                    .filter(|j| pattern.status[*j] == CellStatus::Published)
                    .collect();
                if more.is_empty() || rounds_over_time == 3 {
                    summary.passed = false;
                    return Err(ReleaseError::Refused(summary));
                }
                rounds_over_time += 1;
                withheld_over_time.extend(more);
                continue;
            }
        }
        let count = |s: &str| cells.iter().filter(|c| c.status == s).count();
        let stats = serde_json::json!({
            "inner_cells": model.inner().len(),
            "model_cells": model.ncells(),
            "nonzeros": model.matrix().nnz(),
            "placements": placements,
            "forced_from_previous": forced_now.len(),
            "kept_primary_from_previous": extra_primary.len(),
            "withheld_for_a_small_change": changed_small,
            "withheld_for_a_small_change_besides_one_unit": moved_for_an_insider,
            "sums_of_small_changes_protected": extra_sums.len(),
            "no_longer_forced": unforced,
            "withheld_after_the_audit_over_time": withheld_over_time.len(),
            "over_time_rounds": rounds_over_time,
            "pivots": pattern.stats.pivots,
            "insider_units": report.insider_groups,
            "insider_units_fixed": pattern.stats.insider_groups_fixed,
            "insider_secondaries": pattern.stats.insider_secondaries,
            "build_ms": built_in.as_millis() as u64,
            "suppress_ms": suppress_time.as_millis() as u64,
            "audit_ms": audit_time.as_millis() as u64,
            "audit_over_time_ms": over_time_ms,
        });
        return Ok(BuiltRelease {
            published: count("published"),
            primary: count("primary"),
            secondary: count("secondary"),
            cells,
            audit: summary,
            stats,
            counts: year_counts,
        });
    }
}

/// A stored release's cells by key; only published values are ever handed out.
#[derive(Debug, Clone, Default)]
pub struct ReleaseView {
    cells: HashMap<CellKey, (i64, bool)>,
}

impl ReleaseView {
    pub fn new(cells: &[ReleaseCellRow]) -> Self {
        ReleaseView {
            cells: cells
                .iter()
                .map(|c| {
                    (
                        (c.measure.clone(), c.node_id, c.sex, c.age_group, outcome_str(&c.outcome)),
                        (i64::from(c.value), c.status == "published"),
                    )
                })
                .collect(),
        }
    }

    /// The published value of a cell; `None` when it is suppressed (whatever the reason) or
    /// not in the release.
    pub fn published(&self, measure: &str, node: i64, sex: i16, age: i16, outcome: &'static str) -> Option<i64> {
        self.cells.get(&(measure.to_owned(), node, sex, age, outcome)).and_then(|(v, p)| p.then_some(*v))
    }

    /// The nodes the release has cells of `measure` for.
    pub fn nodes_of(&self, measure: &str) -> BTreeSet<i64> {
        self.cells.keys().filter(|k| k.0 == measure).map(|k| k.1).collect()
    }

    /// Whether the release has cells for this node.
    pub fn has_node(&self, node: i64) -> bool {
        self.cells.contains_key(&(ACTIVITY.to_owned(), node, 0, 0, "total"))
    }

    /// Numerator and denominator of an indicator at a node, as published.
    pub fn indicator(&self, id: IndicatorId, node: i64) -> (Option<i64>, Option<i64>) {
        (self.published(id.as_str(), node, 0, 0, "yes"), self.published(id.as_str(), node, 0, 0, "total"))
    }
}

/// The node of a release cell, by its column in the model.
fn node_of_cell(keys: &[(CellKey, CellRole)], index: &[usize], j: usize) -> Option<i64> {
    keys.iter().zip(index).find(|(_, &c)| c == j).map(|((k, _), _)| k.1)
}

/// The units under each node of the year's tree (a unit: itself).
pub(crate) fn units_under(tree: &OrgTree, year: i32, today: chrono::NaiveDate) -> HashMap<i64, Vec<i64>> {
    let mut out: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for p in tree.units_in_year(year, today) {
        for n in [Some(p.unit), p.entity, p.region, Some(tree.nation())].into_iter().flatten() {
            out.entry(n).or_default().insert(p.unit);
        }
    }
    out.into_iter().map(|(n, us)| (n, us.into_iter().collect())).collect()
}

/// The nodes that share a unit with any of `nodes` (the nodes themselves, the units and nodes
/// below them and the nodes above them).
fn nodes_around(
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
    nodes: impl Iterator<Item = i64>,
) -> BTreeSet<i64> {
    let nodes: BTreeSet<i64> = nodes.collect();
    let mut out = BTreeSet::new();
    for p in tree.units_in_year(year, today) {
        let path = [Some(p.unit), p.entity, p.region, Some(tree.nation())];
        if path.iter().flatten().any(|n| nodes.contains(n)) {
            out.extend(path.iter().flatten().copied());
        }
    }
    out
}

/// Stores a built release (a draft) with its completeness snapshot, in the caller's transaction
/// on the primary: the API's `POST /releases` and `rusreg demo` both store releases this way.
#[expect(clippy::too_many_arguments, reason = "the release, where it goes and who stores it")]
pub fn store(
    conn: &mut persistence::PgConnection,
    tree: &OrgTree,
    year: i32,
    settings: &persistence::reports::CountSettings,
    min_cell: u32,
    built: &BuiltRelease,
    previous_release_id: Option<i64>,
    by: uuid::Uuid,
) -> Result<persistence::releases::ReleaseRow, crate::snapshots::SnapshotError> {
    let new = built
        .new_release(year, min_cell, previous_release_id, by)
        .map_err(|e| crate::snapshots::SnapshotError::Stored(e.to_string()))?;
    let row = persistence::releases::insert_release(conn, &new, &built.cells)?;
    persistence::releases::insert_release_counts(conn, row.id, &crate::over_time::count_rows(&built.counts))?;
    let cells: Vec<ReleaseCellRow> =
        built.cells.iter().map(|c| ReleaseCellRow { release_id: row.id, ..c.clone() }).collect();
    crate::snapshots::store_for_release(conn, tree, year, settings, min_cell, row.id, &cells)?;
    Ok(row)
}
