//! Synthetic register-shaped tables for benchmarks and tests: units nested in legal entities
//! and regions × years × sex × five-year age groups nested in broad groups, with skewed counts
//! (negative binomial around log-normal unit sizes). Deterministic for a given seed.

use super::table::{Dimension, Model, TableBuilder};
use super::SuppressionError;

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Uniform integer in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    /// Poisson(λ): multiplication method for small λ, rounded normal otherwise.
    pub fn poisson(&mut self, lambda: f64) -> i64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let l = (-lambda).exp();
            let mut k = 0i64;
            let mut p = 1.0;
            loop {
                p *= self.uniform();
                if p <= l {
                    return k;
                }
                k += 1;
            }
        }
        (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as i64
    }
    /// Negative binomial with mean `mu` and size 3 (gamma–Poisson mixture).
    pub fn neg_binomial3(&mut self, mu: f64) -> i64 {
        let g = -(self.uniform() * self.uniform() * self.uniform()).ln() / 3.0;
        self.poisson(mu * g)
    }
}

/// Shape of a register-shaped table.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterShape {
    /// Regions.
    pub regions: usize,
    /// Legal entities (0: units sit directly under regions).
    pub entities: usize,
    /// Units (trusts, departments).
    pub units: usize,
    /// Years.
    pub years: usize,
    /// Five-year age groups (18 in the reference), nested in `age_broad` broad groups.
    pub age5: usize,
    /// Broad age groups.
    pub age_broad: usize,
    /// Mean log unit size (per unit and year, before the age and sex split).
    pub meanlog: f64,
    /// Standard deviation of log unit size.
    pub sdlog: f64,
    /// Seed.
    pub seed: u64,
}

impl RegisterShape {
    /// The reference shape: `units` trusts in `regions` regions × 10 years × sex × 18 age
    /// groups in 6 broad groups.
    pub fn reference(units: usize, regions: usize) -> Self {
        RegisterShape {
            regions,
            entities: 0,
            units,
            years: 10,
            age5: 18,
            age_broad: 6,
            meanlog: 6.3,
            sdlog: 1.0,
            seed: 2024,
        }
    }

    /// Number of inner cells.
    pub fn inner_cells(&self) -> usize {
        self.units * self.years * 2 * self.age5
    }
}

/// The formula publishing every crossing of every level (a full cross).
pub const FULL_CROSS: &str = "org*year*sex*age";

/// Linked tables like the reference's `trust*year*sex + trust*year*ageBroad +
/// region*year*sex*age5`.
pub const LINKED: &str = "unit*year*sex + unit*year*ageBroad + region*year*sex*age5";

/// Builds the table and publishes `formula` over the dimensions `org` (levels `unit`,
/// `entity`, `region`), `year`, `sex` and `age` (levels `age5`, `ageBroad`).
pub fn register_table(shape: &RegisterShape, formula: &str) -> Result<Model, SuppressionError> {
    let mut rng = Rng::new(shape.seed);
    let regions: Vec<String> = (0..shape.regions).map(|r| format!("R{:02}", r + 1)).collect();
    let entities: Vec<String> = (0..shape.entities).map(|e| format!("E{:03}", e + 1)).collect();
    let units: Vec<String> = (0..shape.units).map(|u| format!("U{:04}", u + 1)).collect();
    let mut org: Vec<(String, Vec<String>)> = vec![("Nation".to_owned(), regions.clone())];
    let parents: &[String] = if entities.is_empty() { &regions } else { &entities };
    if !entities.is_empty() {
        for (r, reg) in regions.iter().enumerate() {
            let kids: Vec<String> = entities
                .iter()
                .enumerate()
                .filter(|(e, _)| e * shape.regions / shape.entities == r)
                .map(|(_, e)| e.clone())
                .collect();
            org.push((reg.clone(), kids));
        }
    }
    for (p, par) in parents.iter().enumerate() {
        let kids: Vec<String> = units
            .iter()
            .enumerate()
            .filter(|(u, _)| u * parents.len() / shape.units == p)
            .map(|(_, u)| u.clone())
            .collect();
        org.push((par.clone(), kids));
    }
    let org_dim = Dimension::new("org", "Nation", &org)?.level("unit", &units)?.level("region", &regions)?;
    let org_dim = if entities.is_empty() { org_dim } else { org_dim.level("entity", &entities)? };
    let years: Vec<String> = (0..shape.years).map(|y| format!("{}", 2015 + y)).collect();
    let year_dim = Dimension::flat("year", "Total", &years)?;
    let sex_dim = Dimension::flat("sex", "Total", &["F", "M"])?;
    let age5: Vec<String> = (0..shape.age5).map(|a| format!("A{:02}", a)).collect();
    let broad: Vec<String> = (0..shape.age_broad).map(|b| format!("B{b}")).collect();
    let mut age_h: Vec<(String, Vec<String>)> = vec![("Total".to_owned(), broad.clone())];
    for (b, name) in broad.iter().enumerate() {
        let kids: Vec<String> = age5
            .iter()
            .enumerate()
            .filter(|(a, _)| a * shape.age_broad / shape.age5 == b)
            .map(|(_, a)| a.clone())
            .collect();
        age_h.push((name.clone(), kids));
    }
    let age_dim = Dimension::new("age", "Total", &age_h)?.level("age5", &age5)?.level("ageBroad", &broad)?;

    let mut b = TableBuilder::new();
    b.dimension(org_dim).dimension(year_dim).dimension(sex_dim).dimension(age_dim);
    // Age profile: more patients in older groups.
    let age_w: Vec<f64> = (0..shape.age5).map(|a| 0.2 + (a as f64 / shape.age5 as f64).powi(2) * 2.0).collect();
    let age_sum: f64 = age_w.iter().sum();
    for u in &units {
        let size = (shape.meanlog + shape.sdlog * rng.normal()).exp();
        for (yi, y) in years.iter().enumerate() {
            let trend = 0.95 + 0.01 * yi as f64;
            for s in ["F", "M"] {
                for (ai, a) in age5.iter().enumerate() {
                    let mu = size * trend * 0.5 * age_w[ai] / age_sum;
                    let n = rng.neg_binomial3(mu);
                    if n > 0 {
                        b.count(&[u, y, s, a], n)?;
                    }
                }
            }
        }
    }
    b.publish(formula)?;
    b.build()
}
