//! Secondary suppression by Gaussian elimination (after SSBtools `GaussSuppression`, singleton
//! method `anySum`): exact integer elimination with a row → columns index, a hash of the
//! canonical primary columns for the proportionality test, duplicate column and row removal,
//! forced cells, the early stop at full rank, and zero propagation (published zeros and other
//! non-negativity consequences are known to the attacker, so they are taken into account).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hasher;
use std::time::{Duration, Instant};

use super::exact::{Col, Promotions};
use super::order::default_order;
use super::primary::{insider_dominated, strict_extra_primaries, ExtraPrimary, PrimaryRule};
use super::table::{CellRole, Model};
use super::SuppressionError;

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
    let pattern = suppress_outsider(model, opts)?;
    if opts.insiders.is_empty() {
        return Ok(pattern);
    }
    let mut pattern = super::insider::protect(model, opts, pattern)?;
    pattern.stats.elapsed = start.elapsed();
    Ok(pattern)
}

/// Primary and secondary suppression against an outsider (the reference method).
fn suppress_outsider(model: &Model, opts: &SuppressOptions) -> Result<Pattern, SuppressionError> {
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
    let extras = if opts.strict { strict_extra_primaries(model, &primary, &opts.rule) } else { Vec::new() };

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
    x: &'a super::table::ModelMatrix,
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
        let mut h = super::exact::Fx(0x2545_f491_4f6c_dd1d);
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
struct RowLists {
    ptr: Vec<usize>,
    rows: Vec<u32>,
}

impl RowLists {
    fn col(&self, j: usize) -> &[u32] {
        &self.rows[self.ptr[j]..self.ptr[j + 1]]
    }
}

fn col_val(c: &Col, i: usize) -> i64 {
    match &c.vals {
        super::exact::Vals::Small(v) => v[i],
        _ => 1,
    }
}

/// Outcome of tentatively publishing one candidate, for zero propagation.
struct Cascade {
    /// Rows that become known (value = the true count).
    known: Vec<u32>,
    /// Known rows that are not linear consequences (zero by non-negativity).
    zero_rows: Vec<u32>,
    /// New `(unknown count, residual)` of published cells.
    updates: Vec<(u32, u32, i64)>,
}

struct Engine {
    m: usize,
    n_ns: u32,
    n_a: usize,
    cols: Vec<Col>,
    row_index: Vec<Vec<u32>>,
    b_hash: HashMap<u64, Vec<u32>>,
    b_fp: Vec<u64>,
    sub_used: Vec<bool>,
    pivots: usize,
    remaining: usize,
    promo: Promotions,
    emptied: Vec<u32>,
    fill: Vec<u32>,
    // zero propagation
    zp: bool,
    sparse: bool,
    basis_row: Vec<u32>,
    y: Vec<i64>,
    orig: RowLists,
    basis: Vec<Col>,
    pivot_of_row: Vec<u32>,
    known: Vec<bool>,
    state: Vec<(u32, i64)>,
    row_pub: Vec<Vec<u32>>,
    zero_rows: usize,
    zero_secondaries: usize,
}

impl Engine {
    fn new(cols: Vec<Col>, n_a: usize, m: usize, n_ns: u32, y: Vec<i64>, zp: bool, orig: RowLists) -> Self {
        let mut row_index: Vec<Vec<u32>> = vec![Vec::new(); m];
        for (id, c) in cols.iter().enumerate() {
            for &r in &c.rows {
                row_index[r as usize].push(id as u32);
            }
        }
        let nb = cols.len() - n_a;
        let mut e = Engine {
            m,
            n_ns,
            n_a,
            cols,
            row_index,
            b_hash: HashMap::new(),
            b_fp: vec![0; nb],
            sub_used: vec![false; m],
            pivots: 0,
            remaining: 0,
            promo: Promotions::default(),
            emptied: Vec::new(),
            fill: Vec::new(),
            zp,
            sparse: false,
            basis_row: Vec::new(),
            y,
            orig,
            basis: Vec::new(),
            pivot_of_row: if zp { vec![u32::MAX; m] } else { Vec::new() },
            known: if zp { vec![false; m] } else { Vec::new() },
            state: if zp { vec![(0, 0); n_a] } else { Vec::new() },
            row_pub: if zp { vec![Vec::new(); m] } else { Vec::new() },
            zero_rows: 0,
            zero_secondaries: 0,
        };
        for b in 0..nb {
            e.hash_b(n_a + b);
        }
        e
    }

    fn hash_b(&mut self, id: usize) {
        let c = &self.cols[id];
        if c.is_empty() {
            return;
        }
        let fp = c.quick_key();
        self.b_fp[id - self.n_a] = fp;
        self.b_hash.entry(fp).or_default().push(id as u32);
    }

    fn unhash_b(&mut self, id: usize) {
        if self.cols[id].is_empty() {
            return;
        }
        let fp = self.b_fp[id - self.n_a];
        if let Some(list) = self.b_hash.get_mut(&fp) {
            list.retain(|&x| x as usize != id);
            if list.is_empty() {
                self.b_hash.remove(&fp);
            }
        }
    }

    /// Whether a (non-empty) primary column equals this canonical column.
    fn proportional(&self, a: &Col) -> bool {
        match self.b_hash.get(&a.quick_key()) {
            Some(list) => list.iter().any(|&b| self.cols[b as usize] == *a),
            None => false,
        }
    }

    /// Publishes the pivot vector `p`: eliminates its first row from every live column.
    fn pivot(&mut self, p: Col, j: usize) {
        let Some(first) = p.first_row() else { return };
        let r = if self.sparse {
            // Non-singleton rows are a prefix of the rows; use them when there are any.
            let limit = if first < self.n_ns { self.n_ns } else { u32::MAX };
            let mut best = first;
            let mut best_len = usize::MAX;
            for &row in p.rows.iter().take_while(|&&row| row < limit) {
                let len = self.row_index[row as usize].len();
                if len < best_len {
                    best = row;
                    best_len = len;
                }
            }
            best
        } else {
            first
        };
        let ids = std::mem::take(&mut self.row_index[r as usize]);
        for id in ids {
            let id = id as usize;
            if id < self.n_a && id <= j {
                continue;
            }
            if !self.cols[id].contains(r) {
                continue;
            }
            let is_b = id >= self.n_a;
            if is_b {
                self.unhash_b(id);
            }
            self.fill.clear();
            self.cols[id].eliminate_at(&p, r, &mut self.fill, &mut self.promo);
            for &f in &self.fill {
                self.row_index[f as usize].push(id as u32);
            }
            if is_b {
                if self.cols[id].is_empty() {
                    self.emptied.push((id - self.n_a) as u32);
                } else {
                    self.hash_b(id);
                }
            }
        }
        self.pivots += 1;
        if self.zp {
            self.pivot_of_row[r as usize] = self.basis.len() as u32;
            self.basis_row.push(r);
            self.basis.push(p);
        }
    }

    /// Runs the elimination; returns the secondary flags of the candidates and the primary
    /// columns made derivable by forced cells.
    #[expect(clippy::needless_range_loop, reason = "j indexes the columns and the flags")]
    fn run(&mut self, n_forced: usize, any_singleton: bool) -> (Vec<bool>, Vec<u32>) {
        let n_a = self.n_a;
        let mut secondary = vec![false; n_a];
        let mut unsafe_b: Vec<u32> = Vec::new();
        for j in 0..n_a {
            if self.pivots >= self.m {
                self.remaining = n_a - j;
                break;
            }
            let a = std::mem::replace(&mut self.cols[j], Col::empty());
            let cascade = if self.zp { Some(self.cascade(j)) } else { None };
            let zero_rows: Vec<u32> = cascade.as_ref().map_or(Vec::new(), |c| c.zero_rows.clone());
            let singleton_zero = zero_rows.iter().any(|&r| r >= self.n_ns);
            let w = if !zero_rows.is_empty() && (j < n_forced || !singleton_zero) {
                Some(self.build_w(&a, &zero_rows))
            } else {
                None
            };
            let new_info = singleton_zero || w.as_ref().is_some_and(|w| w.len() > usize::from(!a.is_empty()));
            if j < n_forced {
                match w {
                    Some(w) => self.pivot_all(w, j),
                    None => self.pivot(a, j),
                }
                if new_info {
                    self.zero_rows += zero_rows.len();
                }
                if let Some(c) = cascade {
                    self.commit(j, c);
                }
            } else if !new_info {
                // The GaussSuppression decision.
                if a.is_empty() {
                    if let Some(c) = cascade {
                        self.commit(j, c);
                    }
                    continue;
                }
                let mut is_sec = false;
                if any_singleton && a.rows[0] >= self.n_ns {
                    is_sec = true;
                    if !a.all_ones() && !a.rows.iter().any(|&r| self.sub_used[r as usize]) {
                        is_sec = false;
                        for &r in &a.rows {
                            self.sub_used[r as usize] = true;
                        }
                    }
                }
                if !is_sec {
                    is_sec = self.proportional(&a);
                }
                if is_sec {
                    secondary[j] = true;
                } else {
                    self.pivot(a, j);
                    if let Some(c) = cascade {
                        self.commit(j, c);
                    }
                }
            } else {
                // Publishing would also reveal zeros that are no linear consequence: accept
                // only if no primary becomes derivable and no pure singleton sum appears.
                let w = w.unwrap_or_default();
                let is_sec = singleton_zero || w.iter().any(|p| p.rows[0] >= self.n_ns) || self.w_discloses(&w);
                if is_sec {
                    secondary[j] = true;
                    self.zero_secondaries += 1;
                } else {
                    self.pivot_all(w, j);
                    self.zero_rows += zero_rows.len();
                    if let Some(c) = cascade {
                        self.commit(j, c);
                    }
                }
            }
            // Primary columns emptied: by forced cells (unsafe), never by the checks above.
            unsafe_b.append(&mut self.emptied);
        }
        unsafe_b.append(&mut self.emptied);
        unsafe_b.sort_unstable();
        unsafe_b.dedup();
        (secondary, unsafe_b)
    }

    /// Publishes a set of new span vectors, each reduced by the pivots before it.
    fn pivot_all(&mut self, w: Vec<Col>, j: usize) {
        for p in w {
            let p = self.reduce_by_basis(p);
            self.pivot(p, j);
        }
    }

    /// The new span vectors: the candidate, then each zero row reduced by the basis and by
    /// the vectors before it (an echelon set whose pivots are their first rows).
    fn build_w(&mut self, a: &Col, zero_rows: &[u32]) -> Vec<Col> {
        let mut w: Vec<Col> = Vec::new();
        if !a.is_empty() {
            w.push(a.clone());
        }
        for &r in zero_rows {
            let mut v = self.reduce_by_basis(Col::ones(vec![r]));
            for p in &w {
                if let Some(pr) = p.first_row() {
                    if v.contains(pr) {
                        v.eliminate(p, &mut self.fill, &mut self.promo);
                        self.fill.clear();
                    }
                }
            }
            if !v.is_empty() {
                w.push(v);
            }
        }
        w
    }

    fn reduce_by_basis(&mut self, mut v: Col) -> Col {
        let mut heap: BinaryHeap<Reverse<u32>> = v
            .rows
            .iter()
            .filter_map(|&r| {
                let b = self.pivot_of_row[r as usize];
                (b != u32::MAX).then_some(Reverse(b))
            })
            .collect();
        while let Some(Reverse(b)) = heap.pop() {
            let p = &self.basis[b as usize];
            let pr = self.basis_row[b as usize];
            if !v.contains(pr) {
                continue;
            }
            self.fill.clear();
            v.eliminate_at(p, pr, &mut self.fill, &mut self.promo);
            for &f in &self.fill {
                let b2 = self.pivot_of_row[f as usize];
                if b2 != u32::MAX {
                    heap.push(Reverse(b2));
                }
            }
        }
        self.fill.clear();
        v
    }

    /// Whether some primary column lies in the span of the current basis plus `w`.
    fn w_discloses(&mut self, w: &[Col]) -> bool {
        let mut cand: Vec<u32> = Vec::new();
        for p in w {
            let Some(pr) = p.first_row() else { continue };
            for &id in &self.row_index[pr as usize] {
                if (id as usize) >= self.n_a && self.cols[id as usize].contains(pr) {
                    cand.push(id);
                }
            }
        }
        cand.sort_unstable();
        cand.dedup();
        for id in cand {
            let mut v = self.cols[id as usize].clone();
            for p in w {
                if let Some(pr) = p.first_row() {
                    if v.contains(pr) {
                        v.eliminate(p, &mut self.fill, &mut self.promo);
                        self.fill.clear();
                    }
                }
            }
            if v.is_empty() {
                return true;
            }
        }
        false
    }

    /// What an attacker learns about inner cells by non-negativity when candidate `j` is
    /// published too (rules of the auditor's step 1: a published cell whose unknown part sums
    /// to 0 has all unknown inner cells 0; one with a single unknown inner cell reveals it).
    fn cascade(&self, j: usize) -> Cascade {
        let mut out = Cascade { known: Vec::new(), zero_rows: Vec::new(), updates: Vec::new() };
        let mut overlay: HashMap<u32, (u32, i64)> = HashMap::new();
        let mut newly: HashMap<u32, ()> = HashMap::new();
        let oj = self.orig.col(j);
        let (mut cnt, mut res) = (0u32, 0i64);
        for &r in oj {
            if !self.known[r as usize] {
                cnt += 1;
                res += self.y[r as usize];
            }
        }
        overlay.insert(j as u32, (cnt, res));
        let mut queue: Vec<u32> = Vec::new();
        self.fire(j as u32, cnt, res, &mut newly, &mut queue, &mut out);
        while let Some(r) = queue.pop() {
            let vr = self.y[r as usize];
            let mut touch: Vec<u32> = self.row_pub[r as usize].clone();
            if oj.binary_search(&r).is_ok() {
                touch.push(j as u32);
            }
            for u in touch {
                let st = overlay.get(&u).copied().unwrap_or(self.state[u as usize]);
                let st = (st.0.saturating_sub(1), st.1 - vr);
                overlay.insert(u, st);
                self.fire(u, st.0, st.1, &mut newly, &mut queue, &mut out);
            }
        }
        out.updates = overlay.into_iter().map(|(u, (c, r))| (u, c, r)).collect();
        out.updates.sort_unstable_by_key(|u| u.0);
        out.zero_rows.sort_unstable();
        out
    }

    fn fire(&self, u: u32, cnt: u32, res: i64, newly: &mut HashMap<u32, ()>, queue: &mut Vec<u32>, out: &mut Cascade) {
        if cnt == 0 || (cnt > 1 && res != 0) {
            return;
        }
        // Candidates are output cells: all coefficients are 1, so the zero rule applies.
        let unknown: Vec<u32> = self
            .orig
            .col(u as usize)
            .iter()
            .copied()
            .filter(|&r| !self.known[r as usize] && !newly.contains_key(&r))
            .collect();
        let linear = unknown.len() <= 1;
        for r in unknown {
            newly.insert(r, ());
            out.known.push(r);
            if !linear {
                out.zero_rows.push(r);
            }
            queue.push(r);
        }
    }

    fn commit(&mut self, j: usize, c: Cascade) {
        for &r in &c.known {
            self.known[r as usize] = true;
            self.row_pub[r as usize] = Vec::new();
        }
        for (u, cnt, res) in c.updates {
            self.state[u as usize] = (cnt, res);
        }
        for &r in self.orig.col(j) {
            if !self.known[r as usize] {
                self.row_pub[r as usize].push(j as u32);
            }
        }
    }
}
