//! Insider-safe suppression: a pattern that stays safe when one group of inner cells is known
//! (all the inner cells of one unit: its staff hold the patients' records and see the unit's
//! own results unsuppressed).
//!
//! For a group G the attacker's view is the model without G's rows
//! ([`Model::without_rows`]): every published cell then tells the sum of its inner cells
//! outside G. A primary cell with something left outside G must not be computable in that
//! view. This is the contributor generalisation of the Gauss method: each group is a
//! contributor who knows its own part of every cell. The engine
//!
//! 1. suppresses against an outsider (the reference method),
//! 2. finds the groups that can compute a cell they must not, by an exact rank test per group
//!    (the auditor's level (d): reductions against one basis of the published cells, cheap),
//! 3. runs the same elimination on each such group's view, in parallel, with the cells
//!    published so far as candidates in the original candidate order, the cells the group must
//!    not compute as primaries and the cells already withheld hidden; a candidate that a
//!    group's view makes secondary is withheld,
//! 4. repeats 2–3 until no group sees a leak (a view made safe stays safe as others withhold
//!    more; a round rarely finds new groups).
//!
//! Withholding more never makes a pattern less safe (fewer published cells span less), so a
//! group made safe stays safe while later groups add cells, and the outsider's guarantees
//! (including the singleton and strict rules) still hold. The result is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

use super::auditor::{audit_flags, AuditOptions};
use super::primary::PrimaryRule;
use super::secondary::{suppress, CandidateOrder, CellStatus, Pattern, Singletons, SuppressOptions};
use super::table::Model;
use super::SuppressionError;

/// Adds the secondaries that every insider group's view needs to an outsider-safe pattern.
pub(crate) fn protect(
    model: &Model,
    opts: &SuppressOptions,
    mut pattern: Pattern,
) -> Result<Pattern, SuppressionError> {
    let m = model.inner().len();
    for g in &opts.insiders {
        if g.iter().any(|&r| r as usize >= m) {
            return Err(SuppressionError::invalid("an insider group names an inner cell out of range"));
        }
    }
    let mut order: Vec<usize> = (0..model.ncells()).filter(|&j| pattern.candidate_rank[j] > 0).collect();
    order.sort_by_key(|&j| pattern.candidate_rank[j]);
    // Which groups see a leak: an exact rank test per group (cheap: reductions against one
    // basis of the published cells); only those groups' views are eliminated, one after the
    // other in group order, each on the pattern the earlier ones left. A second test confirms.
    let block_of = blocks(model);
    for _ in 0..3 {
        let flagged = groups_that_see_a_leak(model, opts, &pattern, &block_of);
        if flagged.is_empty() {
            break;
        }
        // The first group's view alone, then the rest in parallel on the pattern it left, then
        // the next round checks again: fewer rounds than one at a time, and most groups' views
        // need nothing once their neighbours' are done.
        let flagged: Vec<(usize, BTreeSet<u32>)> = flagged.into_iter().collect();
        let results: Vec<Result<GroupResult, SuppressionError>> = flagged
            .par_iter()
            .map(|(g, leaking)| {
                let only = Blocks { of: &block_of, leaking };
                group_view(model, opts, &pattern, &order, &opts.insiders[*g], &only)
            })
            .collect();
        let mut changed = false;
        for r in results {
            let r = r?;
            if r.secondary.is_empty() && r.unsafe_cells.is_empty() {
                continue;
            }
            changed = true;
            pattern.stats.insider_groups_fixed += 1;
            for j in r.secondary {
                if pattern.status[j] == CellStatus::Published {
                    pattern.status[j] = CellStatus::Secondary;
                    pattern.stats.insider_secondaries += 1;
                }
            }
            for j in r.unsafe_cells {
                if !pattern.unsafe_cells.contains(&j) {
                    pattern.unsafe_cells.push(j);
                }
            }
        }
        if !changed {
            break;
        }
    }
    pattern.unsafe_cells.sort_unstable();
    Ok(pattern)
}

/// The independent blocks of a model: cells that share no inner cell, directly or through
/// other cells, are in different blocks (the release's populations never share a published
/// cell). `u32::MAX` for an empty cell.
fn blocks(model: &Model) -> Vec<u32> {
    let x = model.matrix();
    let mut parent: Vec<u32> = (0..x.nrows() as u32).collect();
    fn find(parent: &mut [u32], mut r: u32) -> u32 {
        while parent[r as usize] != r {
            parent[r as usize] = parent[parent[r as usize] as usize];
            r = parent[r as usize];
        }
        r
    }
    for j in 0..model.ncells() {
        let col = x.col(j);
        if let Some(&first) = col.first() {
            let a = find(&mut parent, first);
            for &r in &col[1..] {
                let b = find(&mut parent, r);
                if a != b {
                    parent[b as usize] = a;
                }
            }
        }
    }
    (0..model.ncells()).map(|j| x.col(j).first().map_or(u32::MAX, |&r| find(&mut parent, r))).collect()
}

/// The blocks a group's view is eliminated in: those holding a cell it leaks.
struct Blocks<'a> {
    of: &'a [u32],
    leaking: &'a BTreeSet<u32>,
}

/// The groups whose view of the pattern lets them compute a cell they must not (the rank test
/// of the auditor's level (d), with the engine's primaries), with the blocks of those cells.
fn groups_that_see_a_leak(
    model: &Model,
    opts: &SuppressOptions,
    pattern: &Pattern,
    block_of: &[u32],
) -> BTreeMap<usize, BTreeSet<u32>> {
    let suppressed: Vec<bool> = (0..model.ncells()).map(|j| pattern.is_suppressed(j)).collect();
    let check = AuditOptions {
        rule: opts.rule,
        strict: false,
        insider: false,
        extra_primary: opts.extra_primary.clone(),
        insiders: opts.insiders.clone(),
        insider_exempt: opts.insider_exempt.clone(),
        extra_sums: Vec::new(),
        extra_combinations: Vec::new(),
    };
    let report = audit_flags(model, &suppressed, &check);
    let mut groups: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
    for f in &report.unit_insider {
        groups.entry(f.group).or_default().insert(block_of[f.cell]);
    }
    groups
}

/// What one group's view adds to a pattern.
struct GroupResult {
    /// Published cells the group's view withholds.
    secondary: Vec<usize>,
    /// Primaries that forced cells disclose to the group.
    unsafe_cells: Vec<usize>,
}

fn group_view(
    model: &Model,
    opts: &SuppressOptions,
    pattern: &Pattern,
    order: &[usize],
    group: &[u32],
    only: &Blocks<'_>,
) -> Result<GroupResult, SuppressionError> {
    // Blocks share no inner cell: the view is eliminated only in the blocks where the group
    // leaks (the same secondaries there as the whole view, at a fraction of the work).
    let inside = |j: usize| only.leaking.contains(&only.of[j]);
    let mut known = vec![false; model.inner().len()];
    for &r in group {
        known[r as usize] = true;
    }
    let view = model.without_rows(&known);
    let freq = view.freq();
    let mut exempt = vec![false; model.ncells()];
    for &j in &opts.insider_exempt {
        if j < exempt.len() && !opts.rule.is_primary(model.freq()[j]) {
            exempt[j] = true;
        }
    }
    let mut is_extra = vec![false; model.ncells()];
    for &j in &opts.extra_primary {
        is_extra[j] = true;
    }
    let mut extra_primary = Vec::new();
    let mut hidden = Vec::new();
    for j in 0..model.ncells() {
        // What the group learns of the others from cell j is its count outside the group: it
        // needs protecting when that is small by the rule (a small cell, or a cell the group
        // dominates), or when the cell is an extra primary with something left outside.
        let rest = freq[j];
        let outside = !view.matrix().col(j).is_empty();
        let sensitive =
            pattern.primary[j] && !exempt[j] && outside && (opts.rule.is_primary(rest) || (is_extra[j] && rest > 0));
        match pattern.status[j] {
            _ if !inside(j) => hidden.push(j),
            CellStatus::Primary | CellStatus::Hidden if sensitive => extra_primary.push(j),
            CellStatus::Published => {}
            _ => hidden.push(j),
        }
    }
    if extra_primary.is_empty() {
        return Ok(GroupResult { secondary: Vec::new(), unsafe_cells: Vec::new() });
    }
    let view_opts = SuppressOptions {
        // No cell is primary by its count in the view: the primaries are the original ones.
        rule: PrimaryRule { min_cell: 0, protect_zeros: false },
        strict: false,
        forced: opts.forced.iter().copied().filter(|&j| inside(j)).collect(),
        extra_primary,
        hidden,
        singletons: Singletons::None,
        order: CandidateOrder::Given(order.to_vec()),
        secondary_zeros: opts.secondary_zeros,
        zero_propagation: true,
        dedup_rows: opts.dedup_rows,
        pivot: opts.pivot,
        insiders: Vec::new(),
        insider_exempt: Vec::new(),
        extra_sums: Vec::new(),
    };
    let seen = suppress(&view, &view_opts)?;
    let secondary = (0..model.ncells())
        .filter(|&j| pattern.status[j] == CellStatus::Published && seen.status[j] == CellStatus::Secondary)
        .collect();
    Ok(GroupResult { secondary, unsafe_cells: seen.unsafe_cells })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suppression::{audit, AuditOptions, Dimension, TableBuilder};

    /// An entity of three units, one of them small: the outsider pattern withholds the small
    /// unit and one sibling, which lets the sibling's staff compute the small count.
    fn entity() -> Model {
        let mut b = TableBuilder::new();
        b.dimension(
            Dimension::new("org", "E", &[("E", vec!["U1", "U2", "U3"])])
                .unwrap_or_else(|e| panic!("{e}"))
                .level("unit", &["U1", "U2", "U3"])
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .dimension(Dimension::flat("sex", "0", &["1", "2"]).unwrap_or_else(|e| panic!("{e}")));
        for (u, a, c) in [("U1", 2, 1), ("U2", 20, 25), ("U3", 30, 31)] {
            b.count(&[u, "1"], a).unwrap_or_else(|e| panic!("{e}"));
            b.count(&[u, "2"], c).unwrap_or_else(|e| panic!("{e}"));
        }
        b.publish("org").unwrap_or_else(|e| panic!("{e}"));
        b.build().unwrap_or_else(|e| panic!("{e}"))
    }

    fn unit_groups(model: &Model) -> Vec<Vec<u32>> {
        let org = &model.dims()[0];
        ["U1", "U2", "U3"]
            .iter()
            .map(|u| {
                let code = org.code(u).unwrap_or_else(|e| panic!("{e}"));
                (0..model.inner().len() as u32).filter(|&r| model.inner().codes(r as usize)[0] == code).collect()
            })
            .collect()
    }

    #[test]
    fn insider_groups_get_a_pattern_no_unit_can_undo() {
        let model = entity();
        let groups = unit_groups(&model);
        let rule = PrimaryRule::new(5);
        let outsider = suppress(&model, &SuppressOptions::with_rule(rule)).unwrap_or_else(|e| panic!("{e}"));
        let opts = AuditOptions { rule, insiders: groups.clone(), ..Default::default() };
        let before = audit(&model, &outsider, opts.clone());
        assert!(before.disclosures.is_empty(), "{before}");
        assert!(!before.unit_insider.is_empty(), "the outsider pattern lets a sibling compute U1: {before}");

        let safe = suppress(&model, &SuppressOptions { insiders: groups, ..SuppressOptions::with_rule(rule) })
            .unwrap_or_else(|e| panic!("{e}"));
        let after = audit(&model, &safe, opts);
        assert!(after.passes(), "{after}");
        assert!(after.unit_insider.is_empty(), "{after}");
        assert!(safe.n_secondary() > outsider.n_secondary());
        assert!(safe.stats.insider_secondaries > 0);
    }
}
