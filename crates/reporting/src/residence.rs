//! Results by where patients live (docs/residence.md): pathways started by adults, by the
//! catchment trust, region and nation of their residence, with crude and directly age- and
//! sex-standardised rates per 1,000 inhabitants aged 18 and over. Every count comes from a
//! stored release (the residence tables are cells of its linked model, suppressed and audited
//! with everything else); the population is public reference data. A rate is shown only when
//! every count it is computed from is published, so it gives nothing away that the published
//! counts do not.

use std::collections::{BTreeMap, HashMap};

use domain::indicators::{ReportLevel, SEXES};
use domain::organisations::NodeKind;
use domain::residence::{crude_rate, standardised_rate, Rate, Stratum, ADULT_AGE_GROUPS, POPULATION_SEXES};
use persistence::residence::PopulationSum;
use serde::Serialize;

use crate::releases::{ReleaseView, RESIDENCE, RESIDENCE_UNKNOWN};
use crate::tree::OrgTree;

/// The adult population of a year by catchment trust (`None`: the nation, the standard), sex
/// (1, 2) and age group (index into `ADULT_AGE_GROUPS`).
#[derive(Debug, Clone, Default)]
pub struct Populations {
    persons: HashMap<(Option<i64>, i16, i16), i64>,
    /// Whether the year's population is synthetic (the demo's); `None` without one.
    pub synthetic: Option<bool>,
}

impl Populations {
    pub fn new(rows: &[PopulationSum], synthetic: Option<bool>) -> Self {
        let mut persons = HashMap::new();
        for r in rows {
            *persons.entry((r.trust_id, r.sex, r.age_group)).or_insert(0) += r.persons;
        }
        Populations { persons, synthetic }
    }

    /// The population of the catchment areas of `trusts` (`None`: the nation), for sex `sex`
    /// (0 = both) and release age group `age` (1..=5; 0 = all adults). `None` when there is no
    /// population at all (unknown sex, or no population imported for the year).
    fn of(&self, trusts: &[Option<i64>], sex: i16, age: i16) -> Option<i64> {
        let sexes: Vec<i16> = if sex == 0 { POPULATION_SEXES.to_vec() } else { vec![sex] };
        let ages: Vec<i16> = if age == 0 { (0..ADULT_AGE_GROUPS.len() as i16).collect() } else { vec![age - 1] };
        let mut sum = None;
        for t in trusts {
            for s in &sexes {
                for a in &ages {
                    if let Some(n) = self.persons.get(&(*t, *s, *a)) {
                        *sum.get_or_insert(0) += n;
                    }
                }
            }
        }
        sum
    }
}

/// One sex × age group of a row: the count as published (`None`: withheld), the population and
/// the crude rate (shown when the count is published and there is a population).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResidenceStratum {
    pub sex: &'static str,
    /// `all`, or an adult age group (`18-24` … `55+`).
    pub age_group: &'static str,
    pub pathways_started: Option<i64>,
    pub population: Option<i64>,
    pub rate: Option<Rate>,
}

/// Pathways started by adults living in a catchment trust's area (or a region's, or anywhere
/// in a catchment area: the nation).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResidenceRow {
    pub level: ReportLevel,
    pub node_id: i64,
    pub name: String,
    /// The region of a catchment trust, the nation of a region; `None` for the nation.
    pub parent_id: Option<i64>,
    pub pathways_started: Option<i64>,
    /// Inhabitants aged 18 and over on 1 January (both sexes).
    pub population: Option<i64>,
    /// Pathways per 1,000 inhabitants with the exact Poisson 95 % interval.
    pub crude: Option<Rate>,
    /// Directly standardised to the national population of the year by sex (male, female) and
    /// age group, with the Fay–Feuer 95 % interval; only when every stratum is published.
    pub standardised: Option<Rate>,
    pub strata: Vec<ResidenceStratum>,
}

/// The residence tables of a release.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResidenceTable {
    /// Whether the population the rates are computed from is synthetic (the demo's; its rates
    /// mean nothing); `None` when no population of the year is imported (no rates).
    pub population_synthetic: Option<bool>,
    pub rows: Vec<ResidenceRow>,
    /// The nation's node id (the node of `without_residence`).
    pub nation_id: i64,
    /// Adults' pathways started without a residence in any catchment area, nationally.
    pub without_residence: Vec<ResidenceStratum>,
}

fn sexes() -> impl Iterator<Item = (i16, &'static str)> {
    std::iter::once((0i16, "all")).chain(SEXES.iter().copied())
}

fn ages() -> impl Iterator<Item = (i16, &'static str)> {
    std::iter::once((0i16, "all")).chain(ADULT_AGE_GROUPS.iter().enumerate().map(|(i, a)| (i as i16 + 1, *a)))
}

/// The residence tables of a release at `levels` (legal entity = catchment trust, region,
/// nation), placed as on `day`.
pub fn residence_table(
    view: &ReleaseView,
    tree: &OrgTree,
    year: i32,
    day: chrono::NaiveDate,
    populations: &Populations,
    levels: &[ReportLevel],
) -> ResidenceTable {
    let nodes = view.nodes_of(RESIDENCE);
    let nation = tree.nation();
    let trusts: Vec<i64> = nodes
        .iter()
        .copied()
        .filter(|n| *n != nation && tree.node(*n).is_some_and(|x| x.kind == NodeKind::LegalEntity))
        .collect();
    let mut of_region: BTreeMap<i64, Vec<Option<i64>>> = BTreeMap::new();
    for t in &trusts {
        if let Some(r) = tree.residence_region(*t, year, day) {
            of_region.entry(r).or_default().push(Some(*t));
        }
    }
    let mut rows = Vec::new();
    for level in levels {
        let members: Vec<(i64, Vec<Option<i64>>, Option<i64>)> = match level {
            ReportLevel::LegalEntity => {
                trusts.iter().map(|t| (*t, vec![Some(*t)], tree.residence_region(*t, year, day))).collect()
            }
            ReportLevel::Region => of_region
                .iter()
                .filter(|(r, _)| nodes.contains(r))
                .map(|(r, ts)| (*r, ts.clone(), Some(nation)))
                .collect(),
            ReportLevel::Nation if nodes.contains(&nation) => {
                vec![(nation, trusts.iter().map(|t| Some(*t)).collect(), None)]
            }
            _ => Vec::new(),
        };
        for (node, members, parent_id) in members {
            rows.push(row(view, tree, populations, *level, node, &members, parent_id));
        }
    }
    let without_residence = sexes()
        .flat_map(|(s, sex)| ages().map(move |(a, age)| (s, sex, a, age)))
        .map(|(s, sex, a, age)| ResidenceStratum {
            sex,
            age_group: age,
            pathways_started: view.published(RESIDENCE_UNKNOWN, nation, s, a, "total"),
            population: None,
            rate: None,
        })
        .collect();
    ResidenceTable { population_synthetic: populations.synthetic, rows, nation_id: nation, without_residence }
}

fn row(
    view: &ReleaseView,
    tree: &OrgTree,
    populations: &Populations,
    level: ReportLevel,
    node: i64,
    members: &[Option<i64>],
    parent_id: Option<i64>,
) -> ResidenceRow {
    let mut strata = Vec::new();
    for (s, sex) in sexes() {
        for (a, age) in ages() {
            let cases = view.published(RESIDENCE, node, s, a, "total");
            let population = populations.of(members, s, a);
            let rate = cases.zip(population).and_then(|(c, p)| crude_rate(c, p));
            strata.push(ResidenceStratum { sex, age_group: age, pathways_started: cases, population, rate });
        }
    }
    let total = &strata[0];
    // Direct standardisation over male and female by adult age group, to the nation's
    // population of the year; every stratum's count must be published.
    let standard: Option<Vec<Stratum>> = POPULATION_SEXES
        .iter()
        .flat_map(|s| (1..=ADULT_AGE_GROUPS.len() as i16).map(move |a| (*s, a)))
        .map(|(s, a)| {
            let cases = view.published(RESIDENCE, node, s, a, "total")?;
            Some(Stratum {
                cases,
                population: populations.of(members, s, a).unwrap_or(0),
                standard: populations.of(&[None], s, a)?,
            })
        })
        .collect();
    ResidenceRow {
        level,
        node_id: node,
        name: tree.name(node).to_owned(),
        parent_id,
        pathways_started: total.pathways_started,
        population: total.population,
        crude: total.rate,
        standardised: standard.and_then(|s| standardised_rate(&s)),
        strata,
    }
}
