//! Secondary suppression by Gaussian elimination (after SSBtools `GaussSuppression`, singleton
//! method `anySum`): exact integer elimination with a row → columns index, a hash of the
//! canonical primary columns for the proportionality test, duplicate column and row removal,
//! forced cells, the early stop at full rank, and zero propagation (published zeros and other
//! non-negativity consequences are known to the attacker, so they are taken into account).
//!
//! The module is split by concern; the public API (this file) is unchanged:
//!
//! * [`problem`]: from a model and the options to the column problem (primaries, forced and
//!   hidden cells, candidate order, singleton marks, strict and virtual primaries, duplicate
//!   columns and rows merged) and back from the engine's decisions to cell statuses.
//! * [`rule`]: the policy — what makes a candidate secondary (GaussSuppression's decision:
//!   R's one-time singleton allowance, the proportionality test against the primary columns,
//!   and the zero-propagation acceptance test).
//! * [`elimination`]: the elimination engine — exact sparse columns, the row → columns index,
//!   pivots (column updates in parallel when a pivot touches many columns), reduction by the
//!   stored pivot vectors.
//! * [`zeros`]: what an attacker learns by non-negativity when a candidate is published
//!   (zero propagation).

use std::time::{Duration, Instant};

use super::exact::Promotions;
use super::primary::{ExtraPrimary, PrimaryRule};
use super::table::Model;
use super::SuppressionError;

mod elimination;
mod problem;
mod rule;
mod zeros;

/// Which inner cells are singletons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Singletons {
    /// SingletonDefault: count 1 (count 0 when zeros are protected).
    #[default]
    Default,
    /// No singleton handling (kernel variants A and B of the reference).
    None,
    /// One flag per inner cell.
    Given(Vec<bool>),
}

/// The order in which cells are tried for publication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CandidateOrder {
    /// `CandidatesDefault` (see [`default_order`]).
    #[default]
    Default,
    /// Cells in this order; published cells not listed follow in default order.
    Given(Vec<usize>),
}

/// Settings of one suppression run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressOptions {
    /// The primary rule.
    pub rule: PrimaryRule,
    /// Strict policy: sums of primary siblings below k become extra primaries.
    pub strict: bool,
    /// Cells that must be published (already published in an earlier release).
    pub forced: Vec<usize>,
    /// Cells that are primary whatever their count (suppressed in an earlier release).
    pub extra_primary: Vec<usize>,
    /// Published cells that are neither published nor protected.
    pub hidden: Vec<usize>,
    /// Singleton marking of inner cells.
    pub singletons: Singletons,
    /// Candidate order.
    pub order: CandidateOrder,
    /// Whether zeros may become secondary like any other cell (default false: zeros first).
    pub secondary_zeros: bool,
    /// Take published zeros (and other non-negativity consequences) into account.
    pub zero_propagation: bool,
    /// Merge identical inner cells before elimination.
    pub dedup_rows: bool,
    /// Pivot row choice.
    pub pivot: PivotRule,
    /// Groups of inner cells each known to one insider (all inner cells of one unit): the
    /// pattern is made safe against every group on its own as well as against outsiders (see
    /// [`super::insider`]). Empty: outsiders only, as the reference method.
    pub insiders: Vec<Vec<u32>>,
    /// Extra primaries that insiders may compute: cells kept withheld only because an earlier
    /// publication withheld them (not small by the rule now, nor changed by a small amount).
    pub insider_exempt: Vec<usize>,
    /// Sums of cells that must not be derivable whatever their value (each a set of cells):
    /// sums of siblings whose changes since an earlier publication add up to 1..k−1
    /// (`crate::history`), protected against outsiders like the strict policy's sums.
    pub extra_sums: Vec<Vec<usize>>,
}

/// Which row of a published candidate is eliminated from the other columns. The pattern does
/// not depend on it (publication decisions depend only on spans), except for R's one-time
/// allowance of a non-constant combination of singletons (`subUsed`), which looks at the
/// reduced representation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PivotRule {
    /// The first row, as GaussSuppression (reproduces R's representation exactly).
    First,
    /// The row contained in the fewest live columns (non-singleton rows first): less work and
    /// less fill-in.
    #[default]
    Sparse,
}

impl Default for SuppressOptions {
    fn default() -> Self {
        SuppressOptions {
            rule: PrimaryRule::default(),
            strict: false,
            forced: Vec::new(),
            extra_primary: Vec::new(),
            hidden: Vec::new(),
            singletons: Singletons::Default,
            order: CandidateOrder::Default,
            secondary_zeros: false,
            zero_propagation: true,
            dedup_rows: true,
            pivot: PivotRule::default(),
            insiders: Vec::new(),
            insider_exempt: Vec::new(),
            extra_sums: Vec::new(),
        }
    }
}

impl SuppressOptions {
    /// Default options with this rule.
    pub fn with_rule(rule: PrimaryRule) -> Self {
        SuppressOptions { rule, ..Default::default() }
    }
}

/// Final status of an output cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellStatus {
    /// Published.
    Published,
    /// Suppressed by the primary rule (or an extra primary).
    Primary,
    /// Suppressed to protect primaries.
    Secondary,
    /// Not published and not protected (hidden, or a protected cell that is not small).
    Hidden,
}

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Inner cells of the model.
    pub inner_cells: usize,
    /// Rows left after dropping unused rows and merging duplicates.
    pub rows: usize,
    /// Output cells of the model.
    pub cells: usize,
    /// Distinct columns after merging duplicates.
    pub columns: usize,
    /// Candidate columns.
    pub candidates: usize,
    /// Primary columns protected by the elimination.
    pub primary_columns: usize,
    /// Extra primaries from the strict policy.
    pub strict_extra: usize,
    /// Virtual primaries (`subSum`, only with forced cells).
    pub virtual_primaries: usize,
    /// Pivots performed.
    pub pivots: usize,
    /// Candidates left when the elimination stopped at full rank.
    pub stopped_with_remaining: usize,
    /// Inner cells learned to be zero by non-negativity and added to the span.
    pub zero_rows: usize,
    /// Candidates suppressed because of zero propagation.
    pub zero_secondaries: usize,
    /// Entries of the stored pivot vectors (kept for zero propagation).
    pub basis_entries: usize,
    /// Entries of the primary columns at the end (fill-in).
    pub primary_entries: usize,
    /// Column promotions on overflow.
    pub promotions: Promotions,
    /// Insider groups whose view needed more suppression.
    pub insider_groups_fixed: usize,
    /// Secondary cells added for insiders.
    pub insider_secondaries: usize,
    /// Wall time of the elimination (after the model was built), insider passes included.
    pub elapsed: Duration,
}

/// The result: one status per output cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Status per output cell.
    pub status: Vec<CellStatus>,
    /// Primary flag per output cell (includes forced primaries, which are published).
    pub primary: Vec<bool>,
    /// Primary cells that forced cells disclose (published or derivable): unsafe.
    pub unsafe_cells: Vec<usize>,
    /// Unsafe extra/virtual primaries.
    pub unsafe_extra: usize,
    /// Extra primaries of the strict policy.
    pub extra_primaries: Vec<ExtraPrimary>,
    /// 1-based position of each published cell in the candidate order (0 = no candidate).
    pub candidate_rank: Vec<u32>,
    /// Counters.
    pub stats: EngineStats,
}

impl Pattern {
    /// Whether cell `j` is suppressed (not published).
    pub fn is_suppressed(&self, j: usize) -> bool {
        self.status[j] != CellStatus::Published
    }
    /// Number of primary cells.
    pub fn n_primary(&self) -> usize {
        self.status.iter().filter(|s| **s == CellStatus::Primary).count()
    }
    /// Number of secondary cells.
    pub fn n_secondary(&self) -> usize {
        self.status.iter().filter(|s| **s == CellStatus::Secondary).count()
    }
    /// Number of published cells.
    pub fn n_published(&self) -> usize {
        self.status.iter().filter(|s| **s == CellStatus::Published).count()
    }
}

/// Runs primary and secondary suppression on one model (one release = one model), then, when
/// insider groups are given, adds the secondaries each insider's view needs.
pub fn suppress(model: &Model, opts: &SuppressOptions) -> Result<Pattern, SuppressionError> {
    let start = Instant::now();
    let pattern = problem::suppress_outsider(model, opts)?;
    if opts.insiders.is_empty() {
        return Ok(pattern);
    }
    let mut pattern = super::insider::protect(model, opts, pattern)?;
    pattern.stats.elapsed = start.elapsed();
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suppression::synthetic::{register_table, RegisterShape, FULL_CROSS, LINKED};

    fn with_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("thread pool: {e}")).install(f)
    }

    fn units(model: &Model) -> Vec<Vec<u32>> {
        let mut by_unit: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
        for r in 0..model.inner().len() {
            by_unit.entry(model.inner().codes(r)[0]).or_default().push(r as u32);
        }
        by_unit.into_values().collect()
    }

    /// The pattern (and every counter but the time) is the same on one thread and on two:
    /// parallel column updates record their fill-in in the order one thread would.
    #[test]
    fn the_pattern_does_not_depend_on_the_number_of_threads() {
        let mut shape = RegisterShape::reference(14, 2);
        shape.years = 3;
        let rule = PrimaryRule::from_max_n(4, false);
        for (formula, strict, insiders) in [(FULL_CROSS, false, false), (LINKED, true, false), (LINKED, false, true)] {
            let model = register_table(&shape, formula).unwrap_or_else(|e| panic!("{e}"));
            let groups = if insiders { units(&model) } else { Vec::new() };
            let opts = SuppressOptions { rule, strict, insiders: groups, ..Default::default() };
            let run = |n: usize| {
                let mut p = with_threads(n, || suppress(&model, &opts)).unwrap_or_else(|e| panic!("{e}"));
                p.stats.elapsed = Duration::ZERO;
                p
            };
            let one = run(1);
            let two = run(2);
            assert!(one.n_secondary() > 0, "{formula}: the table needs secondaries");
            assert_eq!(one, two, "{formula}: one thread and two threads differ");
        }
    }

    /// A sum of cells given as an extra primary (two siblings whose changes since an earlier
    /// release add up to a small count) is kept from being derivable, and the auditor reports
    /// it when it is derivable.
    #[test]
    fn a_given_sum_of_cells_is_kept_from_being_derivable_and_audited() {
        use crate::suppression::{audit_flags, AuditOptions, Dimension, TableBuilder};
        let mut b = TableBuilder::new();
        b.dimension(Dimension::flat("unit", "E", &["A", "B", "C", "D"]).unwrap_or_else(|e| panic!("{e}")));
        for (u, n) in [("A", 11), ("B", 13), ("C", 25), ("D", 25)] {
            b.count(&[u], n).unwrap_or_else(|e| panic!("{e}"));
        }
        b.publish("unit").unwrap_or_else(|e| panic!("{e}"));
        let model = b.build().unwrap_or_else(|e| panic!("{e}"));
        let cell = |c: &str| {
            let id = model.dims()[0].code(c).unwrap_or_else(|e| panic!("{e}"));
            model.find_cell(&[id]).unwrap_or_else(|| panic!("{c}"))
        };
        let (a, b) = (cell("A"), cell("B"));
        let rule = PrimaryRule::for_release(5, false).unwrap_or_else(|e| panic!("{e}"));
        let flags = |p: &Pattern| (0..model.ncells()).map(|j| p.is_suppressed(j)).collect::<Vec<bool>>();
        let check = AuditOptions {
            rule,
            strict: true,
            extra_primary: vec![a, b],
            extra_sums: vec![vec![a, b]],
            ..Default::default()
        };
        // A and B withheld: the total less C and D gives A + B.
        let plain = SuppressOptions { strict: true, extra_primary: vec![a, b], ..SuppressOptions::with_rule(rule) };
        let p = suppress(&model, &plain).unwrap_or_else(|e| panic!("{e}"));
        let report = audit_flags(&model, &flags(&p), &check);
        assert_eq!(report.sum_disclosures, vec![vec![a, b]]);
        assert!(!report.passes());
        // With the sum as an extra primary, one more cell is withheld.
        let with = SuppressOptions { extra_sums: vec![vec![a, b]], ..plain };
        let q = suppress(&model, &with).unwrap_or_else(|e| panic!("{e}"));
        let report = audit_flags(&model, &flags(&q), &check);
        assert!(report.sum_disclosures.is_empty() && report.passes(), "{report}");
        assert_eq!(q.n_secondary(), p.n_secondary() + 1);
    }
}
