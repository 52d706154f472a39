//! The synthetic-data generator: a realistic, reproducible population of patients, pathways and
//! forms (`rusreg seed --pathways N --seed S`, and a small one for `rusreg demo`), loaded in bulk
//! with PostgreSQL COPY over parallel connections ([`LoadOptions`]).
//!
//! Everything is made up. National ids are random fødselsnumre valid by both check digits; they
//! are stored like real ones (keyed pseudonym + AES-GCM). Every generated form goes through the
//! domain's validation (`validate_complete` with the pathway's context for completed forms,
//! `validate_draft` for drafts) before it is written: a form the rules refuse stops the load.
//!
//! The shape (seeds/synthetic.json): units of skewed size (weight 1/rank^skew over the units of
//! the register; with [`Tree::Realistic`] the made-up tree of [`tree`] is added first and the
//! weight is 1/(rank + offset)^skew with its own parameters), pathway starts
//! spread evenly from `first_start` to today, treatment levels by weight, a late baseline for a
//! share of pathways, measurement points every 6–10 weeks while active with some missing,
//! pathway length exponential with a mean of `mean_pathway_days`, discharge endings and
//! follow-up outcomes by weight, drafts left unfinished, some transfers and second pathways;
//! pathways on inpatient limits step down to outpatient treatment at a measurement point by
//! `step_down_share` (the point records the new level).

use std::time::Duration;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Deserialize;

use crate::RepoError;

mod copy;
mod generate;
mod load;
pub mod population;
pub mod tree;

use generate::weighted;
pub use load::load;

/// The generator's settings, built into the binary from seeds/synthetic.json.
pub const SETTINGS_JSON: &str = include_str!("../../../../seeds/synthetic.json");

#[derive(Debug, Clone, Deserialize)]
pub struct SyntheticSettings {
    pub first_start: NaiveDate,
    /// With the demo tree, the unit of rank r (in a seeded shuffle) gets weight 1/r^skew.
    pub unit_size_skew: f64,
    pub second_pathway_share: f64,
    pub transfer_share: f64,
    pub treatment_level_weights: [u32; 6],
    /// At each completed measurement point of a pathway on inpatient limits (inpatient, day,
    /// detoxification), the chance that it goes on as outpatient treatment from there.
    pub step_down_share: f64,
    pub baseline_registered: f64,
    pub baseline_completed: f64,
    pub baseline_late_share: f64,
    pub measurement_registered: f64,
    pub measurement_completed: f64,
    pub mean_pathway_days: f64,
    pub discharge_registered: f64,
    pub discharge_completed: f64,
    /// Weights of endings 2, 3, 4.
    pub ending_weights: [u32; 3],
    pub contact_consent_yes: f64,
    pub follow_up_registered: f64,
    /// Weights of outcomes 5, 6, 7.
    pub outcome_weights: [u32; 3],
    /// The shape and unit sizes of the realistic tree.
    pub realistic_tree: tree::RealisticTreeSettings,
    /// The tree the pathways are spread over: chosen by the caller (`rusreg seed --tree`), not
    /// in the file; the demo tree unless set.
    #[serde(skip)]
    pub tree: Tree,
}

/// The organisation tree a load spreads its pathways over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tree {
    /// The units in the register (with the reference data alone, its 29 demo units), of weight
    /// 1/rank^`unit_size_skew`.
    #[default]
    Demo,
    /// The made-up tree of [`tree`] (about 250 units, 20 trusts, 40 private institutions) is
    /// added first (idempotent, drawn from the seed); then every unit in the register, the
    /// demo units among them, of weight 1/(rank + `size_offset`)^`size_skew` (`realistic_tree`),
    /// which leaves many units small even in a population of a million pathways.
    Realistic,
}

/// The weights of unit sizes: the unit of rank r (1, 2, …) gets weight 1/(r + offset)^skew.
#[derive(Debug, Clone, Copy, PartialEq)]
struct UnitSizes {
    skew: f64,
    offset: f64,
}

impl UnitSizes {
    fn weight(self, rank: usize) -> f64 {
        1.0 / (rank as f64 + self.offset).powf(self.skew)
    }
}

impl SyntheticSettings {
    pub fn builtin() -> Result<Self, RepoError> {
        serde_json::from_str(SETTINGS_JSON).map_err(|e| RepoError::Other(format!("seeds/synthetic.json: {e}")))
    }

    fn unit_sizes(&self) -> UnitSizes {
        match self.tree {
            Tree::Demo => UnitSizes { skew: self.unit_size_skew, offset: 0.0 },
            Tree::Realistic => {
                UnitSizes { skew: self.realistic_tree.size_skew, offset: self.realistic_tree.size_offset }
            }
        }
    }
}

/// What a load wrote, and how long it took.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    pub patients: usize,
    pub pathways: usize,
    pub forms: usize,
    pub completed_forms: usize,
    pub substances: usize,
    pub transfers: usize,
    /// Organisation nodes of the realistic tree added by this load (none with the demo tree).
    pub org_nodes_added: usize,
    pub elapsed: Duration,
}

/// How a load writes: over how many COPY connections, in batches of how many pathways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Connections that COPY batches in parallel (each batch is one transaction on one of them).
    pub writers: usize,
    /// Pathways per batch (with their patients, forms and history).
    pub batch_pathways: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { writers: 2, batch_pathways: 10_000 }
    }
}

/// Number of pathways in the register (the demo loads its population only into an empty one).
pub fn pathway_count(conn: &mut PgConnection) -> Result<i64, RepoError> {
    use crate::schema::pathways;
    Ok(pathways::table.count().get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::unwrap_used, reason = "tests")]
    fn unit_sizes_of_each_tree() {
        let mut settings = SyntheticSettings::builtin().unwrap();
        // The demo tree keeps its weights (and so its populations): 1/rank^unit_size_skew.
        let demo = settings.unit_sizes();
        for rank in 1..=29 {
            assert_eq!(demo.weight(rank), 1.0 / (rank as f64).powf(settings.unit_size_skew));
        }
        // The realistic tree leaves many units small at 1,000,000 pathways over 8 years, while
        // the largest start thousands a year.
        settings.tree = Tree::Realistic;
        let sizes = settings.unit_sizes();
        let units = settings.realistic_tree.units;
        let weights: Vec<f64> = (1..=units).map(|rank| sizes.weight(rank)).collect();
        let total: f64 = weights.iter().sum();
        let per_year: Vec<f64> = weights.iter().map(|w| 1_000_000.0 / 8.0 * w / total).collect();
        let small = per_year.iter().filter(|&&n| n < 20.0).count();
        assert!(3 * small >= units, "{small} of {units} units start fewer than 20 a year");
        assert!((2_000.0..20_000.0).contains(&per_year[0]), "the largest unit starts {:.0} a year", per_year[0]);
        let smallest_half: f64 = per_year[units / 2..].iter().sum::<f64>() / per_year.iter().sum::<f64>();
        assert!(smallest_half < 0.05, "the smallest half of the units holds {smallest_half:.3} of the pathways");
    }
}
