//! The realistic organisation tree of `rusreg seed --tree realistic`: the reference tree of
//! seeds/organisations.json (4 regions, 19 health trusts, 3 demo private institutions, 29 demo
//! units) grown to `units` units, `trusts` health trusts and `private_institutions` private
//! institutions in all (seeds/synthetic.json, `realistic_tree`), so that a large population
//! still leaves many units small.
//!
//! Every node it adds is made up and marked so, like the demo nodes of the reference data:
//! `is_demo` set; names "Syntetisk …" ending in " (synthetic)" (units and trusts) or
//! " (synthetic private institution)"; RESH-ids from [`FIRST_RESH_ID`] (9,100,001; the demo units
//! have 9,000,001–9,000,029); organisation numbers `191nnnnnC` (trusts) and `192nnnnnC` (private
//! institutions): a running number and a valid mod-11 check digit, but never a real number, as
//! real Norwegian organisation numbers begin with 8 or 9.
//!
//! The shape: made-up trusts only to make up `trusts` (the reference's 19 real trusts count),
//! made-up private institutions to make up `private_institutions` (the reference's 3 demo ones
//! count), each under a region drawn with weight its number of real trusts, directly under the
//! region as the demo private institutions are. Units to make up `units` (the demo units count):
//! first one for each legal entity without a unit, then the rest to legal entities drawn with
//! weight `trust_unit_weight` for a trust and 1 for a private institution; RESH-ids run in the
//! order of the legal entities (the reference's in file order, then the made-up trusts, then the
//! made-up private institutions).
//!
//! The tree depends only on the seed and the settings: it is drawn from its own stream of the
//! seeded generator, so adding it leaves the population's stream as it was. It is loaded like
//! the reference data: nodes that exist (by RESH-id or organisation number) are left as they
//! are, so loading it again adds nothing, and a load with another seed keeps the tree that is
//! there and adds only what is missing.

use diesel::PgConnection;
use domain::organisations::OrgNumber;
use rand::distributions::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::weighted;
use crate::seeds::{self, SeedEntity, SeedSummary, SeedTree, SeedUnit};
use crate::RepoError;

/// The shape of the realistic tree and its unit sizes (seeds/synthetic.json, `realistic_tree`).
#[derive(Debug, Clone, Deserialize)]
pub struct RealisticTreeSettings {
    /// Units in all, the reference data's demo units included.
    pub units: usize,
    /// Health trusts in all: the reference data's, then made-up ones up to this number.
    pub trusts: usize,
    /// Private institutions in all: the reference data's demo ones, then made-up ones.
    pub private_institutions: usize,
    /// How many times as likely a trust is as a private institution to get each further unit.
    pub trust_unit_weight: f64,
    /// Unit sizes: the unit of rank r (1, 2, … in a seeded shuffle of every unit of the
    /// register) gets weight 1/(r + `size_offset`)^`size_skew`.
    pub size_skew: f64,
    pub size_offset: f64,
}

/// RESH-id of the first made-up unit; the others follow it.
pub const FIRST_RESH_ID: i64 = 9_100_001;
/// The first digits of the made-up trusts' organisation numbers.
pub const TRUST_ORG_PREFIX: &str = "191";
/// The first digits of the made-up private institutions' organisation numbers.
pub const PRIVATE_ORG_PREFIX: &str = "192";
/// The tree's stream of the seeded generator (the population uses stream 0, the ids their own).
const STREAM: u64 = u64::MAX;

const TRUST_UNIT_KINDS: [&str; 8] = [
    "DPS Rus",
    "TSB-poliklinikk",
    "avrusningsenhet",
    "døgnenhet rus",
    "LAR-poliklinikk",
    "ungdomsteam rus",
    "ambulant rusteam",
    "rus- og psykiatripoliklinikk",
];
const PRIVATE_UNIT_KINDS: [&str; 4] = ["behandlingssenter, døgn", "kollektiv", "familieenhet", "poliklinikk rus"];
const PRIVATE_KINDS: [&str; 3] = ["stiftelse", "behandlingssenter", "rusinstitusjon"];

/// Loads the reference data when it is missing, then the made-up nodes drawn from `seed`
/// (idempotent); says how many made-up nodes were added and how many nodes of the tree were
/// there.
pub fn load(conn: &mut PgConnection, seed: u64, settings: &RealisticTreeSettings) -> Result<SeedSummary, RepoError> {
    let reference = seeds::reference()?;
    seeds::load_tree(conn, &reference)?;
    seeds::load_tree(conn, &plan(reference, seed, settings)?)
}

/// `tree` (the reference tree) with the made-up legal entities and units added.
pub(crate) fn plan(mut tree: SeedTree, seed: u64, settings: &RealisticTreeSettings) -> Result<SeedTree, RepoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(STREAM);
    // Every legal entity as (region, position in it, is a trust); the reference data's demo
    // legal entities are its private institutions.
    let mut entities: Vec<(usize, usize, bool)> = tree
        .regions
        .iter()
        .enumerate()
        .flat_map(|(r, region)| region.entities.iter().enumerate().map(move |(e, entity)| (r, e, !entity.demo)))
        .collect();
    let region_pick = weighted(tree.regions.iter().map(|r| r.entities.iter().filter(|e| !e.demo).count()))?;
    for trust in [true, false] {
        let (wanted, prefix) = if trust {
            (settings.trusts, TRUST_ORG_PREFIX)
        } else {
            (settings.private_institutions, PRIVATE_ORG_PREFIX)
        };
        let have = entities.iter().filter(|e| e.2 == trust).count();
        for (i, org_number) in made_up_org_numbers(prefix).take(wanted.saturating_sub(have)).enumerate() {
            let name = if trust {
                format!("Syntetisk helseforetak {:02} HF (synthetic)", i + 1)
            } else {
                let kind = PRIVATE_KINDS[rng.gen_range(0..PRIVATE_KINDS.len())];
                format!("Syntetisk {kind} {:02} (synthetic private institution)", i + 1)
            };
            let r = region_pick.sample(&mut rng);
            entities.push((r, tree.regions[r].entities.len(), trust));
            tree.regions[r].entities.push(SeedEntity { name, org_number, demo: true, units: Vec::new() });
        }
    }
    let units_of = |tree: &SeedTree, (r, e, _): (usize, usize, bool)| tree.regions[r].entities[e].units.len();
    let have: usize = entities.iter().map(|&entity| units_of(&tree, entity)).sum();
    let mut left = settings.units.saturating_sub(have);
    let mut new_units = vec![0usize; entities.len()];
    for (i, &entity) in entities.iter().enumerate() {
        if left > 0 && units_of(&tree, entity) == 0 {
            new_units[i] = 1;
            left -= 1;
        }
    }
    let entity_pick = weighted(entities.iter().map(|e| if e.2 { settings.trust_unit_weight } else { 1.0 }))?;
    for _ in 0..left {
        new_units[entity_pick.sample(&mut rng)] += 1;
    }
    let mut resh_id = FIRST_RESH_ID;
    for (&(r, e, trust), n) in entities.iter().zip(new_units) {
        let kinds: &[&str] = if trust { &TRUST_UNIT_KINDS } else { &PRIVATE_UNIT_KINDS };
        for _ in 0..n {
            let kind = kinds[rng.gen_range(0..kinds.len())];
            let name = format!("Syntetisk {kind} {:03} (synthetic)", resh_id - FIRST_RESH_ID + 1);
            tree.regions[r].entities[e].units.push(SeedUnit { name, resh_id, org_number: None, demo: true });
            resh_id += 1;
        }
    }
    Ok(tree)
}

/// Made-up organisation numbers: `prefix`, a running number of five digits and the mod-11 check
/// digit (a running number without a valid check digit is skipped).
fn made_up_org_numbers(prefix: &'static str) -> impl Iterator<Item = String> {
    (1..100_000u32)
        .filter_map(move |n| (0..=9).map(|d| format!("{prefix}{n:05}{d}")).find(|c| OrgNumber::parse(c).is_ok()))
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::collections::HashSet;

    use domain::organisations::NewNode;

    use super::*;
    use crate::synthetic::SyntheticSettings;

    fn planned(seed: u64) -> SeedTree {
        plan(seeds::reference().unwrap(), seed, &SyntheticSettings::builtin().unwrap().realistic_tree).unwrap()
    }

    #[test]
    fn the_realistic_tree_has_its_shape_and_every_added_node_is_made_up() {
        let reference = seeds::reference().unwrap();
        let known_orgs: HashSet<&str> =
            reference.regions.iter().flat_map(|r| &r.entities).map(|e| e.org_number.as_str()).collect();
        let known_units: HashSet<i64> =
            reference.regions.iter().flat_map(|r| &r.entities).flat_map(|e| &e.units).map(|u| u.resh_id).collect();
        let tree = planned(1);
        assert_eq!(tree.regions.len(), reference.regions.len(), "no region is added");
        let entities: Vec<&SeedEntity> = tree.regions.iter().flat_map(|r| &r.entities).collect();
        let trusts = entities.iter().filter(|e| !e.demo || e.org_number.starts_with(TRUST_ORG_PREFIX)).count();
        assert_eq!((trusts, entities.len() - trusts), (20, 40), "trusts and private institutions in all");
        assert!(entities.iter().all(|e| !e.units.is_empty()), "every legal entity has a unit");
        let units: Vec<&SeedUnit> = entities.iter().flat_map(|e| &e.units).collect();
        assert_eq!(units.len(), 250);

        let added_entities: Vec<&&SeedEntity> =
            entities.iter().filter(|e| !known_orgs.contains(e.org_number.as_str())).collect();
        assert_eq!(added_entities.len(), 1 + 37, "one made-up trust, 37 made-up private institutions");
        for e in added_entities {
            assert!(e.demo && e.name.starts_with("Syntetisk "), "{e:?}");
            let (suffix, prefix) = if e.name.ends_with(" HF (synthetic)") {
                (" HF (synthetic)", TRUST_ORG_PREFIX)
            } else {
                (" (synthetic private institution)", PRIVATE_ORG_PREFIX)
            };
            assert!(e.name.ends_with(suffix) && e.org_number.starts_with(prefix), "{e:?}");
            assert!(NewNode::parse("legal_entity", &e.name, Some(&e.org_number), None, true).is_ok(), "{e:?}");
        }
        let added_units: Vec<&&SeedUnit> = units.iter().filter(|u| !known_units.contains(&u.resh_id)).collect();
        let mut resh: Vec<i64> = added_units.iter().map(|u| u.resh_id).collect();
        resh.sort_unstable();
        assert_eq!(resh, (FIRST_RESH_ID..FIRST_RESH_ID + 221).collect::<Vec<_>>(), "RESH-ids run from 9100001");
        for u in added_units {
            assert!(u.demo && u.name.starts_with("Syntetisk ") && u.name.ends_with(" (synthetic)"), "{u:?}");
            assert!(NewNode::parse("unit", &u.name, None, Some(u.resh_id), true).is_ok(), "{u:?}");
        }
        let names: HashSet<&str> =
            entities.iter().map(|e| e.name.as_str()).chain(units.iter().map(|u| u.name.as_str())).collect();
        assert_eq!(names.len(), entities.len() + units.len(), "names are unique");
    }

    #[test]
    fn the_tree_depends_only_on_the_seed() {
        assert_eq!(planned(7), planned(7));
        assert_ne!(planned(7), planned(8));
    }

    #[test]
    fn a_tree_smaller_than_the_reference_adds_nothing() {
        let reference = seeds::reference().unwrap();
        let settings = RealisticTreeSettings {
            units: 10,
            trusts: 5,
            private_institutions: 1,
            trust_unit_weight: 1.0,
            size_skew: 1.0,
            size_offset: 0.0,
        };
        assert_eq!(plan(reference.clone(), 1, &settings).unwrap(), reference);
    }
}
