//! From a model and the options to the elimination problem (primaries, forced and hidden
//! cells, candidate order, singleton marks, strict extra and virtual primaries, duplicate
//! columns and rows merged, singleton rows last), and back from the engine's decisions to the
//! status of every cell.

use std::collections::HashMap;
use std::hash::Hasher;
use std::time::Instant;

use super::super::exact::Col;
use super::super::order::default_order;
use super::super::primary::{given_extra_primaries, insider_dominated, strict_extra_primaries};
use super::super::table::{CellRole, Model};
use super::super::SuppressionError;
use super::elimination::Engine;
use super::{CandidateOrder, CellStatus, EngineStats, Pattern, PivotRule, Singletons, SuppressOptions};

/// Primary and secondary suppression against an outsider (the reference method).
pub(super) fn suppress_outsider(model: &Model, opts: &SuppressOptions) -> Result<Pattern, SuppressionError> {
    let start = Instant::now();
    let n = model.ncells();
    let x = model.matrix();
    let y = model.inner().freq();
    for &j in opts.forced.iter().chain(&opts.extra_primary).chain(&opts.hidden) {
        if j >= n {
            return Err(SuppressionError::invalid(format!("cell index {j} out of range")));
        }
    }

    // Primary, forced, hidden, candidates.
    let mut primary: Vec<bool> = model.freq().iter().map(|&f| opts.rule.is_primary(f)).collect();
    for &j in &opts.extra_primary {
        primary[j] = true;
    }
    if !opts.insiders.is_empty() {
        for (p, d) in primary.iter_mut().zip(insider_dominated(model, &opts.rule, &opts.insiders)) {
            *p |= d;
        }
    }
    let mut forced = vec![false; n];
    for &j in &opts.forced {
        forced[j] = true;
    }
    let mut hidden = vec![false; n];
    for &j in &opts.hidden {
        hidden[j] = true;
    }
    let mut extras = if opts.strict { strict_extra_primaries(model, &primary, &opts.rule) } else { Vec::new() };
    extras.extend(given_extra_primaries(model, &opts.extra_sums));

    let order: Vec<usize> = match &opts.order {
        CandidateOrder::Default => default_order(model, opts.secondary_zeros),
        CandidateOrder::Given(given) => {
            let mut seen = vec![false; n];
            let mut out = Vec::with_capacity(n);
            for &j in given {
                if j < n && !seen[j] && model.role(j) == CellRole::Published {
                    seen[j] = true;
                    out.push(j);
                }
            }
            let complete = (0..n).all(|j| seen[j] || model.role(j) != CellRole::Published);
            if !complete {
                for j in default_order(model, opts.secondary_zeros) {
                    if !seen[j] {
                        seen[j] = true;
                        out.push(j);
                    }
                }
            }
            out
        }
    };
    let mut candidate_rank = vec![0u32; n];
    for (i, &j) in order.iter().enumerate() {
        candidate_rank[j] = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }

    // Singleton marks of inner cells.
    let mut singleton: Vec<bool> = match &opts.singletons {
        Singletons::Default => y.iter().map(|&v| opts.rule.is_singleton(v)).collect(),
        Singletons::None => vec![false; y.len()],
        Singletons::Given(v) => {
            if v.len() != y.len() {
                return Err(SuppressionError::invalid("one singleton flag per inner cell needed"));
            }
            v.clone()
        }
    };
    let any_forced = forced.iter().any(|&f| f);
    if any_forced {
        // "Singleton marking of forced cells ignored".
        for j in 0..n {
            if forced[j] && x.col(j).len() == 1 {
                singleton[x.col(j)[0] as usize] = false;
            }
        }
    }
    let any_singleton = singleton.iter().any(|&s| s);

    // Columns: output cells (read from X, not copied), strict extras, and (with forced cells)
    // subSum virtual primaries.
    let mut cols = Columns { x, n, extra: Vec::new() };
    let mut col_primary: Vec<bool> = primary.clone();
    let mut col_forced = forced.clone();
    for e in &extras {
        cols.extra.push(Col::from_parts(e.rows.clone(), e.vals.clone()));
        col_primary.push(true);
        col_forced.push(false);
    }
    let mut n_virtual = 0;
    if any_forced && any_singleton {
        let base = cols.len();
        let mut seen: HashMap<Vec<u32>, ()> = HashMap::new();
        for c in 0..base {
            let rows: Vec<u32> = cols.rows(c).iter().copied().filter(|&r| singleton[r as usize]).collect();
            if rows.len() > 1 && cols.all_positive(c) && seen.insert(rows.clone(), ()).is_none() {
                cols.extra.push(Col::ones(rows));
                col_primary.push(true);
                col_forced.push(false);
                n_virtual += 1;
            }
        }
    }
    let ncol = cols.len();

    // Merge duplicate columns (canonical forms; empty columns are never merged).
    let mut group_of = vec![0u32; ncol];
    let mut groups: Vec<usize> = Vec::new(); // representative column
    {
        let mut by_fp: HashMap<u64, Vec<u32>> = HashMap::new();
        for (c, group) in group_of.iter_mut().enumerate() {
            if cols.rows(c).is_empty() {
                *group = groups.len() as u32;
                groups.push(c);
                continue;
            }
            let list = by_fp.entry(cols.hash(c)).or_default();
            match list.iter().find(|&&g| cols.same(groups[g as usize], c)) {
                Some(&g) => *group = g,
                None => {
                    let g = groups.len() as u32;
                    list.push(g);
                    *group = g;
                    groups.push(c);
                }
            }
        }
    }
    let ng = groups.len();
    let mut g_primary = vec![false; ng];
    let mut g_forced = vec![false; ng];
    for c in 0..ncol {
        let g = group_of[c] as usize;
        g_primary[g] |= col_primary[c];
        g_forced[g] |= col_forced[c];
    }
    // Unsafe: primary cells that are forced (directly or through a duplicate).
    let mut unsafe_group = vec![false; ng];
    for g in 0..ng {
        if g_primary[g] && g_forced[g] {
            unsafe_group[g] = true;
        }
    }
    // Candidate groups in order: forced first (in the given order), then the rest.
    let mut g_cand_pos: Vec<Option<usize>> = vec![None; ng];
    let mut cand_groups: Vec<usize> = Vec::new();
    for &j in &opts.forced {
        let g = group_of[j] as usize;
        if g_cand_pos[g].is_none() {
            g_cand_pos[g] = Some(cand_groups.len());
            cand_groups.push(g);
        }
    }
    let n_forced = cand_groups.len();
    for &j in &order {
        if hidden[j] {
            continue;
        }
        let g = group_of[j] as usize;
        if g_primary[g] || g_cand_pos[g].is_some() {
            continue;
        }
        g_cand_pos[g] = Some(cand_groups.len());
        cand_groups.push(g);
    }
    let prim_groups: Vec<usize> = (0..ng).filter(|&g| g_primary[g] && !g_forced[g]).collect();

    // Rows: keep rows used by a participating column; merge duplicates; singletons last. The
    // (column, coefficient) lists of the rows are built in compressed form.
    let mut participating: Vec<usize> = cand_groups.clone();
    participating.extend_from_slice(&prim_groups);
    let m0 = y.len();
    let mut rc_ptr = vec![0usize; m0 + 1];
    for &g in &participating {
        for &r in cols.rows(groups[g]) {
            rc_ptr[r as usize + 1] += 1;
        }
    }
    for r in 0..m0 {
        rc_ptr[r + 1] += rc_ptr[r];
    }
    let mut rc_fill = rc_ptr.clone();
    let mut rc_col = vec![0u32; rc_ptr[m0]];
    let mut rc_val = vec![0i64; rc_ptr[m0]];
    for (k, &g) in participating.iter().enumerate() {
        let c = groups[g];
        for (i, &r) in cols.rows(c).iter().enumerate() {
            let at = rc_fill[r as usize];
            rc_col[at] = k as u32;
            rc_val[at] = cols.val(c, i);
            rc_fill[r as usize] += 1;
        }
    }
    drop(rc_fill);
    let mut new_row = vec![u32::MAX; m0];
    let mut row_y: Vec<i64> = Vec::new();
    let mut row_single: Vec<bool> = Vec::new();
    {
        let mut seen: HashMap<RowKey<'_>, u32> = HashMap::new();
        for r in 0..m0 {
            let range = rc_ptr[r]..rc_ptr[r + 1];
            if range.is_empty() {
                continue;
            }
            let key = (singleton[r], &rc_col[range.clone()], &rc_val[range]);
            if opts.dedup_rows {
                if let Some(&nr) = seen.get(&key) {
                    new_row[r] = nr;
                    row_y[nr as usize] += y[r];
                    continue;
                }
            }
            let nr = row_y.len() as u32;
            if opts.dedup_rows {
                seen.insert(key, nr);
            }
            new_row[r] = nr;
            row_y.push(y[r]);
            row_single.push(singleton[r]);
        }
    }
    drop((rc_ptr, rc_col, rc_val));
    // Stable: non-singleton rows first.
    let m = row_y.len();
    let mut perm: Vec<usize> = (0..m).collect();
    perm.sort_by_key(|&i| row_single[i]);
    let mut pos_of = vec![0u32; m];
    for (p, &i) in perm.iter().enumerate() {
        pos_of[i] = p as u32;
    }
    let n_ns = row_single.iter().filter(|&&s| !s).count() as u32;
    let eng_y: Vec<i64> = perm.iter().map(|&i| row_y[i]).collect();
    let map_col = |c: usize| -> Col {
        let mut pairs: Vec<(u32, i64)> = cols
            .rows(c)
            .iter()
            .enumerate()
            .map(|(i, &r)| (pos_of[new_row[r as usize] as usize], cols.val(c, i)))
            .collect();
        pairs.sort_unstable_by_key(|p| p.0);
        pairs.dedup_by_key(|p| p.0);
        let (rows, vals): (Vec<u32>, Vec<i64>) = pairs.into_iter().unzip();
        Col::from_parts(rows, vals)
    };

    let mut a_cols: Vec<Col> = cand_groups.iter().map(|&g| map_col(groups[g])).collect();
    let mut b_groups: Vec<usize> = Vec::new();
    let mut b_cols: Vec<Col> = Vec::new();
    let filter_singleton_only = any_singleton && !any_forced;
    for &g in &prim_groups {
        let c = map_col(groups[g]);
        if filter_singleton_only && c.rows.iter().all(|&r| r >= n_ns) && !c.is_empty() {
            continue; // handled by anySum
        }
        b_groups.push(g);
        b_cols.push(c);
    }
    drop(cols);
    // Candidates are output cells (0/1), so their original rows are all the cascade needs.
    let mut orig_a = RowLists { ptr: vec![0], rows: Vec::new() };
    if opts.zero_propagation {
        for c in &a_cols {
            orig_a.rows.extend_from_slice(&c.rows);
            orig_a.ptr.push(orig_a.rows.len());
        }
    }

    let mut stats = EngineStats {
        inner_cells: m0,
        rows: m,
        cells: n,
        columns: ng,
        candidates: cand_groups.len(),
        primary_columns: b_cols.len(),
        strict_extra: extras.len(),
        virtual_primaries: n_virtual,
        ..Default::default()
    };

    let mut secondary_group = vec![false; ng];
    let any_primary = !prim_groups.is_empty();
    if any_primary {
        let n_a = a_cols.len();
        let mut cols = std::mem::take(&mut a_cols);
        cols.append(&mut b_cols);
        let mut eng = Engine::new(cols, n_a, m, n_ns, eng_y, opts.zero_propagation, orig_a);
        eng.sparse = opts.pivot == PivotRule::Sparse;
        let (sec, unsafe_b) = eng.run(n_forced, any_singleton);
        for (k, s) in sec.iter().enumerate() {
            if *s {
                secondary_group[cand_groups[k]] = true;
            }
        }
        for b in unsafe_b {
            unsafe_group[b_groups[b as usize]] = true;
        }
        stats.pivots = eng.pivots;
        stats.stopped_with_remaining = eng.remaining;
        stats.zero_rows = eng.zero_rows;
        stats.zero_secondaries = eng.zero_secondaries;
        stats.promotions = eng.promo;
        stats.basis_entries = eng.basis.iter().map(Col::len).sum();
        stats.primary_entries = eng.cols[eng.n_a..].iter().map(Col::len).sum();
    }

    // Back to cells.
    let mut status = vec![CellStatus::Hidden; n];
    let mut unsafe_cells = Vec::new();
    for j in 0..n {
        let g = group_of[j] as usize;
        status[j] = if forced[j] {
            CellStatus::Published
        } else if primary[j] {
            CellStatus::Primary
        } else if model.role(j) == CellRole::Protected || hidden[j] {
            CellStatus::Hidden
        } else if g_forced[g] {
            CellStatus::Published
        } else if g_primary[g] || secondary_group[g] {
            CellStatus::Secondary
        } else {
            CellStatus::Published
        };
        if primary[j] && unsafe_group[g] {
            unsafe_cells.push(j);
        }
    }
    let unsafe_extra = (n..ncol).filter(|&c| unsafe_group[group_of[c] as usize]).count();
    stats.elapsed = start.elapsed();
    Ok(Pattern { status, primary, unsafe_cells, unsafe_extra, extra_primaries: extras, candidate_rank, stats })
}

/// A row's singleton mark, its columns and their coefficients.
type RowKey<'a> = (bool, &'a [u32], &'a [i64]);

/// The columns of the problem: output cells read from X (all entries 1) and extra columns.
struct Columns<'a> {
    x: &'a super::super::table::ModelMatrix,
    n: usize,
    extra: Vec<Col>,
}

impl Columns<'_> {
    fn len(&self) -> usize {
        self.n + self.extra.len()
    }
    fn rows(&self, c: usize) -> &[u32] {
        if c < self.n {
            self.x.col(c)
        } else {
            &self.extra[c - self.n].rows
        }
    }
    fn val(&self, c: usize, i: usize) -> i64 {
        if c < self.n {
            1
        } else {
            col_val(&self.extra[c - self.n], i)
        }
    }
    fn all_positive(&self, c: usize) -> bool {
        c < self.n || self.extra[c - self.n].all_positive()
    }
    fn hash(&self, c: usize) -> u64 {
        let mut h = super::super::exact::Fx(0x2545_f491_4f6c_dd1d);
        for (i, &r) in self.rows(c).iter().enumerate() {
            h.write_u32(r);
            h.write_i64(self.val(c, i));
        }
        h.finish()
    }
    fn same(&self, a: usize, b: usize) -> bool {
        self.rows(a) == self.rows(b) && (0..self.rows(a).len()).all(|i| self.val(a, i) == self.val(b, i))
    }
}

/// Sorted row lists in compressed form.
pub(super) struct RowLists {
    pub(super) ptr: Vec<usize>,
    pub(super) rows: Vec<u32>,
}

impl RowLists {
    pub(super) fn col(&self, j: usize) -> &[u32] {
        &self.rows[self.ptr[j]..self.ptr[j + 1]]
    }
}

fn col_val(c: &Col, i: usize) -> i64 {
    match &c.vals {
        super::super::exact::Vals::Tiny(v) => i64::from(v[i]),
        super::super::exact::Vals::Small(v) => v[i],
        _ => 1,
    }
}
