//! Primary suppression: the frequency rule `0 < n < k` (zeros optional), singleton marks of
//! inner cells, and the extra primaries of the strict policy (sums of primary siblings below k).

use std::collections::{HashMap, HashSet};

use super::table::{CellRole, Model};
use super::SuppressionError;

/// The minimum-frequency rule: a count is primary when `0 < n < k`, and also when `n == 0`
/// if zeros are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryRule {
    /// k: the smallest count that is published (`RUSREG_MIN_CELL`).
    pub min_cell: u32,
    /// Whether zeros are primary too.
    pub protect_zeros: bool,
}

impl Default for PrimaryRule {
    fn default() -> Self {
        PrimaryRule { min_cell: Self::DEFAULT_MIN_CELL, protect_zeros: false }
    }
}

impl From<u32> for PrimaryRule {
    fn from(k: u32) -> Self {
        PrimaryRule::new(k)
    }
}

impl PrimaryRule {
    /// Default k.
    pub const DEFAULT_MIN_CELL: u32 = 5;
    /// The smallest k a release may use.
    pub const RELEASE_FLOOR: u32 = 3;

    /// `0 < n < k`, zeros published. Any k (the reference files use k = 2).
    pub fn new(min_cell: u32) -> Self {
        PrimaryRule { min_cell, protect_zeros: false }
    }

    /// The rule for a release: fails when `k` is below [`PrimaryRule::RELEASE_FLOOR`].
    pub fn for_release(min_cell: u32, protect_zeros: bool) -> Result<Self, SuppressionError> {
        if min_cell < Self::RELEASE_FLOOR {
            return Err(SuppressionError::invalid(format!(
                "minimum cell size {min_cell} is below the floor of {}",
                Self::RELEASE_FLOOR
            )));
        }
        Ok(PrimaryRule { min_cell, protect_zeros })
    }

    /// The R parameterisation: primary iff `n <= max_n` (and `n > 0` unless zeros protected).
    pub fn from_max_n(max_n: u32, protect_zeros: bool) -> Self {
        PrimaryRule { min_cell: max_n.saturating_add(1), protect_zeros }
    }

    /// Whether a count is primary.
    pub fn is_primary(&self, n: i64) -> bool {
        (n > 0 && n < i64::from(self.min_cell)) || (self.protect_zeros && n == 0)
    }

    /// SingletonDefault: inner cells with count 1, or count 0 when zeros are protected.
    pub fn is_singleton(&self, n: i64) -> bool {
        if self.protect_zeros {
            n == 0
        } else {
            n == 1
        }
    }
}

/// Primary flags of every output cell by the rule (published and protected cells alike).
pub fn primary_cells(model: &Model, rule: &PrimaryRule) -> Vec<bool> {
    model.freq().iter().map(|&n| rule.is_primary(n)).collect()
}

/// The insider rule (the frequency-table form of a dominance rule): a cell is primary when,
/// for one insider group that contributes to it, the rest of the cell — what the group learns
/// of everyone else by subtracting its own part — is a count from 1 to k−1 (0 counts too when
/// zeros are protected and the rest is not empty).
pub fn insider_dominated(model: &Model, rule: &PrimaryRule, groups: &[Vec<u32>]) -> Vec<bool> {
    let x = model.matrix();
    let y = model.inner().freq();
    let mut group_of = vec![u32::MAX; x.nrows()];
    for (g, rows) in groups.iter().enumerate() {
        for &r in rows {
            if let Some(slot) = group_of.get_mut(r as usize) {
                *slot = g as u32;
            }
        }
    }
    let freq = model.freq();
    let mut part: HashMap<u32, (i64, usize)> = HashMap::new();
    (0..model.ncells())
        .map(|j| {
            part.clear();
            for &r in x.col(j) {
                let g = group_of[r as usize];
                if g != u32::MAX {
                    let e = part.entry(g).or_insert((0, 0));
                    e.0 += y[r as usize];
                    e.1 += 1;
                }
            }
            let len = x.col(j).len();
            part.values().any(|&(own, rows)| rows > 0 && rows < len && rule.is_primary(freq[j] - own))
        })
        .collect()
}

/// An extra primary that is not an output cell: a sum of cells that must not be derivable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraPrimary {
    /// Inner cells (sorted) with their coefficients.
    pub rows: Vec<u32>,
    /// Coefficients (positive; 2 where children overlap in a non-tree hierarchy).
    pub vals: Vec<i64>,
    /// The value of the sum.
    pub freq: i64,
    /// The cells summed.
    pub cells: Vec<usize>,
}

/// Strict policy: for every additivity relation `parent = Σ children`, the sum of the
/// primary children when there are at least two, not all children are primary, and the sum
/// is itself primary by the rule. Deduplicated; sums equal to an existing cell are skipped.
pub fn strict_extra_primaries(model: &Model, primary: &[bool], rule: &PrimaryRule) -> Vec<ExtraPrimary> {
    let x = model.matrix();
    let mut seen: HashSet<Vec<u32>> = HashSet::new();
    // Existing columns (as 0/1 sets) are never added again.
    let existing: HashSet<&[u32]> = (0..model.ncells()).map(|j| x.col(j)).collect();
    let mut out = Vec::new();
    for rel in model.relations() {
        let prim: Vec<usize> = rel.children.iter().copied().filter(|&c| primary[c]).collect();
        if prim.len() < 2 || prim.len() == rel.children.len() {
            continue;
        }
        let sum: i64 = prim.iter().map(|&c| model.freq()[c]).sum();
        if !rule.is_primary(sum) {
            continue;
        }
        let (rows, vals) = sum_of_columns(x, &prim);
        if rows.is_empty() {
            continue;
        }
        if vals.iter().all(|&v| v == 1) && existing.contains(rows.as_slice()) {
            continue;
        }
        let mut key = rows.clone();
        key.extend(vals.iter().map(|&v| v as u32 | 0x8000_0000));
        if seen.insert(key) {
            out.push(ExtraPrimary { rows, vals, freq: sum, cells: prim });
        }
    }
    out
}

/// The sum of columns `cells` of X as a sparse column: its rows and, per row, how many of the
/// columns hold it.
fn sum_of_columns(x: &super::table::ModelMatrix, cells: &[usize]) -> (Vec<u32>, Vec<i64>) {
    let mut entries: Vec<u32> = cells.iter().flat_map(|&c| x.col(c).iter().copied()).collect();
    entries.sort_unstable();
    let mut rows = Vec::with_capacity(entries.len());
    let mut vals: Vec<i64> = Vec::with_capacity(entries.len());
    for r in entries {
        if rows.last() == Some(&r) {
            if let Some(v) = vals.last_mut() {
                *v += 1;
            }
        } else {
            rows.push(r);
            vals.push(1);
        }
    }
    (rows, vals)
}

/// The given sums of cells as extra primaries (see `SuppressOptions::extra_sums`), built as the
/// strict policy's sums; sums of fewer than two cells or equal to an existing cell are left out
/// (a cell is protected as a cell).
pub fn given_extra_primaries(model: &Model, sums: &[Vec<usize>]) -> Vec<ExtraPrimary> {
    let x = model.matrix();
    let existing: HashSet<&[u32]> = (0..model.ncells()).map(|j| x.col(j)).collect();
    let mut seen: HashSet<Vec<u32>> = HashSet::new();
    let mut out = Vec::new();
    for cells in sums {
        let mut cells: Vec<usize> = cells.iter().copied().filter(|&c| c < model.ncells()).collect();
        cells.sort_unstable();
        cells.dedup();
        if cells.len() < 2 {
            continue;
        }
        let (rows, vals) = sum_of_columns(x, &cells);
        if rows.is_empty() || (vals.iter().all(|&v| v == 1) && existing.contains(rows.as_slice())) {
            continue;
        }
        let mut key = rows.clone();
        key.extend(vals.iter().map(|&v| v as u32 | 0x8000_0000));
        if seen.insert(key) {
            let freq = cells.iter().map(|&c| model.freq()[c]).sum();
            out.push(ExtraPrimary { rows, vals, freq, cells });
        }
    }
    out
}

/// Whether a cell takes part as a candidate by default (published cells do; protected
/// cells are never candidates).
pub fn is_candidate_role(role: CellRole) -> bool {
    role == CellRole::Published
}
