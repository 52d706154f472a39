//! Auditing a release together with the earlier releases of its year (docs/suppression.md,
//! "The audit over time").
//!
//! The rules of `crate::history` tie a later release to the earlier ones cell by cell (and by
//! sums of siblings' changes). This module proves the result the way the auditor proves a single
//! release: the counts of every earlier published release of the year and the counts of the new
//! one are the inner cells of ONE model with a `time` dimension, each release's cells are cells
//! of their own epoch (published as they were published), and every change of a cell between an
//! earlier release and the new one that is 1..k−1 in absolute value, and every sum of siblings'
//! changes that is, must stay unknown — to an outsider and to the staff of any one unit, who know
//! their own unit's counts at both times. Any cell of either release that the pair gives away is
//! a finding too. The independent auditor (`crate::suppression::auditor`) solves that model
//! exactly, with the changes as signed combinations.

use std::collections::{BTreeSet, HashMap};

use domain::indicators::Population;
use persistence::releases::{ReleaseCellRow, ReleaseCountRow};

use crate::indicators::PlacedCount;
use crate::releases::{linked_table_of, CellKey};
use crate::suppression::{audit_flags, AuditOptions, PrimaryRule, SuppressionError};
use crate::tree::{OrgTree, Placement};

/// A published release of the year with the counts it was built from.
#[derive(Debug, Clone)]
pub struct EarlierRelease {
    pub id: i64,
    pub cells: Vec<ReleaseCellRow>,
    pub counts: Vec<PlacedCount>,
}

/// What a finding of the audit over time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A withheld cell of the new or an earlier release can be computed.
    Cell,
    /// The change of a cell since an earlier release (1..k−1) can be computed.
    Change,
    /// A sum of siblings' changes (1..k−1) can be computed.
    ChangeSum,
}

/// One finding: the cells of the new release it involves, against which earlier release, and
/// the unit whose staff could work it out (`None`: anyone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub cells: Vec<CellKey>,
    pub against: i64,
    pub insider_unit: Option<i64>,
}

/// The result of the audit over time.
#[derive(Debug, Clone, Default)]
pub struct OverTimeReport {
    /// Earlier releases audited together with the new one.
    pub releases: usize,
    /// Changes (and sums of changes) of 1..k−1 that were checked.
    pub small_changes: usize,
    pub findings: Vec<Finding>,
}

impl OverTimeReport {
    /// The cells of the new release to withhold so that the findings go away: every new cell a
    /// finding involves.
    pub fn to_withhold(&self) -> BTreeSet<CellKey> {
        self.findings.iter().flat_map(|f| f.cells.iter().cloned()).collect()
    }
}

/// Audits the new release (its counts and its cells, as they would be stored) together with the
/// earlier published releases of the year.
pub fn audit_over_time(
    earlier: &[EarlierRelease],
    counts: &[PlacedCount],
    cells: &[ReleaseCellRow],
    tree: &OrgTree,
    year: i32,
    today: chrono::NaiveDate,
    min_cell: u32,
) -> Result<OverTimeReport, SuppressionError> {
    let rule = PrimaryRule::for_release(min_cell, false)?;
    let mut epochs: Vec<Vec<&PlacedCount>> =
        earlier.iter().map(|r| r.counts.iter().filter(|c| c.year == year).collect()).collect();
    epochs.push(counts.iter().filter(|c| c.year == year).collect());
    let last = epochs.len() - 1;
    let (table, epoch_of) = linked_table_of(&epochs, tree, year, today)?;
    let model = &table.model;
    let freq = model.freq();

    // What each release showed: a column is published when its release published it.
    let statuses: Vec<HashMap<CellKey, &str>> = earlier
        .iter()
        .map(|r| r.cells.as_slice())
        .chain(std::iter::once(cells))
        .map(|cs| cs.iter().map(|c| (key_of(c), c.status.as_str())).collect())
        .collect();
    let mut suppressed = vec![true; model.ncells()];
    let mut column: HashMap<(usize, &CellKey), usize> = HashMap::new();
    let mut key_at: HashMap<usize, (usize, &CellKey)> = HashMap::new();
    for (((key, _), &j), &e) in table.keys.iter().zip(&table.index).zip(&epoch_of) {
        if statuses[e].get(key) == Some(&"published") {
            suppressed[j] = false;
        }
        column.insert((e, key), j);
        key_at.entry(j).or_insert((e, key));
    }

    // The changes since each earlier release that must stay unknown, and the sums of siblings'
    // changes (the strict rule on the differences).
    let small = |d: i64| d != 0 && rule.is_primary(d.abs());
    let mut combinations: Vec<Vec<(usize, i64)>> = Vec::new();
    let mut meta: Vec<(FindingKind, usize, Vec<usize>)> = Vec::new();
    let mut seen: BTreeSet<Vec<(usize, i64)>> = BTreeSet::new();
    let new_cells: Vec<(&CellKey, usize)> = table
        .keys
        .iter()
        .zip(&table.index)
        .zip(&epoch_of)
        .filter(|(_, &e)| e == last)
        .map(|(((k, _), &j), _)| (k, j))
        .collect();
    for (a, earlier_status) in statuses.iter().enumerate().take(last) {
        let mut change: HashMap<usize, (usize, i64)> = HashMap::new();
        for &(key, j) in &new_cells {
            // A cell the earlier release did not have (the residence tables of a release made
            // before residence was recorded) has no change to protect.
            let Some(&i) = column.get(&(a, key)).filter(|_| earlier_status.contains_key(key)) else { continue };
            let d = freq[j] - freq[i];
            change.insert(j, (i, d));
            if small(d) {
                let terms = vec![(i, -1), (j, 1)];
                if seen.insert(terms.clone()) {
                    combinations.push(terms);
                    meta.push((FindingKind::Change, a, vec![j]));
                }
            }
        }
        for rel in model.relations() {
            if !change.contains_key(&rel.parent) {
                continue;
            }
            let moved: Vec<(usize, usize, i64)> = rel
                .children
                .iter()
                .filter_map(|c| change.get(c).map(|&(i, d)| (*c, i, d)))
                .filter(|&(_, _, d)| small(d))
                .collect();
            let sum: i64 = moved.iter().map(|m| m.2).sum();
            if moved.len() < 2 || moved.len() == rel.children.len() || !small(sum) {
                continue;
            }
            let mut terms: Vec<(usize, i64)> = moved.iter().flat_map(|&(j, i, _)| [(i, -1), (j, 1)]).collect();
            terms.sort_unstable();
            if seen.insert(terms.clone()) {
                combinations.push(terms);
                meta.push((FindingKind::ChangeSum, a, moved.iter().map(|m| m.0).collect()));
            }
        }
    }

    let report = audit_flags(
        model,
        &suppressed,
        &AuditOptions {
            rule,
            strict: true,
            insider: false,
            extra_primary: Vec::new(),
            insiders: table.insiders.clone(),
            insider_exempt: Vec::new(),
            extra_sums: Vec::new(),
            extra_combinations: combinations.clone(),
        },
    );

    // The new release's cell of a column (for a column of an earlier release: the same cell now).
    let new_key = |j: usize| -> Option<CellKey> { key_at.get(&j).map(|(_, k)| (*k).clone()) };
    let against_of = |j: usize| key_at.get(&j).and_then(|(e, _)| earlier.get(*e)).map_or(0, |r| r.id);
    let mut findings = Vec::new();
    let unit_of = |g: usize| table.insider_units.get(g).copied();
    for d in &report.disclosures {
        findings.push(Finding {
            kind: FindingKind::Cell,
            cells: new_key(d.cell).into_iter().collect(),
            against: against_of(d.cell),
            insider_unit: None,
        });
    }
    for d in &report.group_disclosures {
        findings.push(Finding {
            kind: FindingKind::Cell,
            cells: d.cells.iter().filter_map(|&c| new_key(c)).collect(),
            against: against_of(d.parent),
            insider_unit: None,
        });
    }
    for f in &report.unit_insider {
        findings.push(Finding {
            kind: FindingKind::Cell,
            cells: new_key(f.cell).into_iter().collect(),
            against: against_of(f.cell),
            insider_unit: unit_of(f.group),
        });
    }
    let combination = |i: usize, unit: Option<i64>| {
        let (kind, a, new) = &meta[i];
        Finding {
            kind: *kind,
            cells: new.iter().filter_map(|&j| new_key(j)).collect(),
            against: earlier[*a].id,
            insider_unit: unit,
        }
    };
    findings.extend(report.combination_disclosures.iter().map(|&i| combination(i, None)));
    findings.extend(report.combination_insider.iter().map(|&(g, i)| combination(i, unit_of(g))));
    Ok(OverTimeReport { releases: earlier.len(), small_changes: combinations.len(), findings })
}

fn key_of(c: &ReleaseCellRow) -> CellKey {
    (c.measure.clone(), c.node_id, c.sex, c.age_group, crate::releases::outcome_str(&c.outcome))
}

/// The rows to store for a release's counts.
pub fn count_rows(counts: &[PlacedCount]) -> Vec<ReleaseCountRow> {
    counts
        .iter()
        .map(|c| ReleaseCountRow {
            population: c.population.as_str().to_owned(),
            unit_id: c.place.unit,
            entity_id: c.place.entity,
            region_id: c.place.region,
            sex: c.sex,
            age_group: c.age_group,
            o1: c.outcomes[0],
            o2: c.outcomes[1],
            o3: c.outcomes[2],
            n: c.n,
            residence_kind: c.residence.stored().0,
            residence_trust_id: c.residence.stored().1,
        })
        .collect()
}

/// The published releases of `year` whose counts are kept, oldest first, with their cells.
pub fn load_earlier(
    conn: &mut persistence::PgConnection,
    year: i32,
) -> Result<Vec<EarlierRelease>, persistence::RepoError> {
    let y = i16::try_from(year).map_err(|_| persistence::RepoError::Other("year out of range".into()))?;
    let mut out = Vec::new();
    let mut releases = persistence::releases::list_releases(conn, Some(y))?;
    releases.sort_by_key(|r| r.id);
    for r in releases.into_iter().filter(|r| r.published_at.is_some()) {
        let rows = persistence::releases::release_counts(conn, r.id)?;
        if rows.is_empty() {
            continue;
        }
        let counts = rows
            .into_iter()
            .map(|c| {
                let population = Population::parse(&c.population)
                    .ok_or_else(|| persistence::RepoError::Other("unknown population in release counts".into()))?;
                Ok(PlacedCount {
                    population,
                    year,
                    place: Placement { unit: c.unit_id, entity: c.entity_id, region: c.region_id },
                    sex: c.sex,
                    age_group: c.age_group,
                    outcomes: [c.o1, c.o2, c.o3],
                    residence: crate::indicators::Residence::from_stored(c.residence_kind, c.residence_trust_id),
                    n: c.n,
                })
            })
            .collect::<Result<Vec<_>, persistence::RepoError>>()?;
        let cells = persistence::releases::release_cells(conn, r.id, None)?;
        out.push(EarlierRelease { id: r.id, cells, counts });
    }
    Ok(out)
}
