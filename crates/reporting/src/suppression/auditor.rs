//! Independent disclosure auditor (docs/suppression.md §2): given a model and a suppression
//! pattern it propagates what non-negativity reveals, builds its own exact echelon basis of the
//! published cells and reports (a) primaries that can be computed, (b) derivable sums of
//! primary siblings below k and (c) what an insider who knows a singleton can compute. It
//! shares no elimination code with the engine (different vector type, pivot rule and
//! arithmetic: `i128` throughout, the whole audit repeated with big integers on overflow).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, Zero};
use rayon::prelude::*;

use super::primary::PrimaryRule;
use super::secondary::Pattern;
use super::table::{CellRole, Model};

/// Settings of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// The primary rule the release used (which cells must be protected, which inner cells
    /// are singletons, which sums are too small).
    pub rule: PrimaryRule,
    /// Strict policy: group disclosures (level b) are failures.
    pub strict: bool,
    /// Run the insider check (level c).
    pub insider: bool,
    /// Cells that are primary whatever their count.
    pub extra_primary: Vec<usize>,
    /// Groups of inner cells each known to one insider (all inner cells of one unit): level
    /// (d), a failure when any group can compute a primary cell that has a positive count
    /// outside the group.
    pub insiders: Vec<Vec<u32>>,
    /// Extra primaries level (d) does not protect (see `SuppressOptions::insider_exempt`).
    pub insider_exempt: Vec<usize>,
    /// Sums of cells that must not be derivable (see `SuppressOptions::extra_sums`): a derivable
    /// one is a level (a) failure (`AuditReport::sum_disclosures`).
    pub extra_sums: Vec<Vec<usize>>,
    /// Signed combinations of cells (cell, coefficient) that must not be derivable, such as the
    /// change of a cell between two releases of a year (new − old): a derivable one is a level
    /// (a) failure (`AuditReport::combination_disclosures`), and one that an insider group can
    /// compute while the part outside the group is small (1..k−1 in absolute value) is a level
    /// (d) failure (`AuditReport::combination_insider`).
    pub extra_combinations: Vec<Vec<(usize, i64)>>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            rule: PrimaryRule::default(),
            strict: false,
            insider: true,
            extra_primary: Vec::new(),
            insiders: Vec::new(),
            insider_exempt: Vec::new(),
            extra_sums: Vec::new(),
            extra_combinations: Vec::new(),
        }
    }
}

impl From<PrimaryRule> for AuditOptions {
    fn from(rule: PrimaryRule) -> Self {
        AuditOptions { rule, ..Default::default() }
    }
}

impl From<u32> for AuditOptions {
    fn from(k: u32) -> Self {
        AuditOptions::from(PrimaryRule::new(k))
    }
}

/// How a primary cell is disclosed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclosureKind {
    /// The primary cell itself is published.
    Published,
    /// It can be computed from the published cells (after zero propagation).
    Derivable,
}

/// Level (a): a primary cell whose value an outsider can compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    /// The cell.
    pub cell: usize,
    /// Its value.
    pub value: i64,
    /// How.
    pub kind: DisclosureKind,
}

/// Level (b): a derivable sum of two or more primary siblings that is itself below k.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDisclosure {
    /// The parent of the relation.
    pub parent: usize,
    /// The dimension of the breakdown.
    pub dim: usize,
    /// The primary children summed.
    pub cells: Vec<usize>,
    /// The sum.
    pub sum: i64,
}

/// Level (c): an insider who knows singleton inner cell `inner_cell` can compute `cell`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsiderFinding {
    /// The singleton inner cell.
    pub inner_cell: usize,
    /// The primary cell it reveals.
    pub cell: usize,
}

/// Level (d): the insider group `group` (an index into [`AuditOptions::insiders`]) can compute
/// primary cell `cell`, which has a positive count outside the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInsiderFinding {
    /// The group.
    pub group: usize,
    /// The primary cell it reveals.
    pub cell: usize,
}

/// Result of an audit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditReport {
    /// Output cells.
    pub cells: usize,
    /// Published cells.
    pub published: usize,
    /// Primary cells by the rule.
    pub primary: usize,
    /// Suppressed cells that are not primary.
    pub secondary: usize,
    /// Inner cells whose value follows from the published cells by zero propagation.
    pub known_inner_cells: usize,
    /// Rank of the published cells on the unknown inner cells.
    pub rank: usize,
    /// Level (a): always a failure.
    pub disclosures: Vec<Disclosure>,
    /// Level (b): a failure under the strict policy.
    pub group_disclosures: Vec<GroupDisclosure>,
    /// Level (a) for the given sums (`AuditOptions::extra_sums`): derivable ones, always a
    /// failure.
    pub sum_disclosures: Vec<Vec<usize>>,
    /// Level (a) for the given signed combinations (`AuditOptions::extra_combinations`): the
    /// indices of the derivable ones, always a failure.
    pub combination_disclosures: Vec<usize>,
    /// Level (d) for the given signed combinations: (insider group, combination index), always
    /// a failure.
    pub combination_insider: Vec<(usize, usize)>,
    /// Level (c): for information.
    pub insider: Vec<InsiderFinding>,
    /// Insider groups audited (level d).
    pub insider_groups: usize,
    /// Level (d): always a failure.
    pub unit_insider: Vec<GroupInsiderFinding>,
    /// Secondary cells that can be computed (allowed; for information).
    pub derivable_secondary: usize,
    /// Whether group disclosures count as failures.
    pub strict: bool,
    /// Whether big integers were needed.
    pub used_bigint: bool,
    /// Wall time.
    pub elapsed: Duration,
}

impl AuditReport {
    /// No level (a) or (d) disclosure, and no level (b) under the strict policy.
    pub fn passes(&self) -> bool {
        self.disclosures.is_empty()
            && self.sum_disclosures.is_empty()
            && self.combination_disclosures.is_empty()
            && self.combination_insider.is_empty()
            && self.unit_insider.is_empty()
            && (!self.strict || self.group_disclosures.is_empty())
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit {}: {} cells, {} primary, {} secondary; disclosures {}, group disclosures {}{}, insider findings {}, unit insider findings {} ({} units)",
            if self.passes() { "passed" } else { "FAILED" },
            self.cells,
            self.primary,
            self.secondary,
            self.disclosures.len(),
            self.group_disclosures.len(),
            if self.strict { " (strict)" } else { " (reported)" },
            self.insider.len(),
            self.unit_insider.len(),
            self.insider_groups
        )
    }
}

/// Audits an engine result with the rule it was made with.
pub fn audit(model: &Model, pattern: &Pattern, opts: impl Into<AuditOptions>) -> AuditReport {
    let suppressed: Vec<bool> = (0..model.ncells()).map(|j| pattern.is_suppressed(j)).collect();
    audit_flags(model, &suppressed, &opts.into())
}

/// Audits a pattern given as one `suppressed` flag per output cell. Protected cells count as
/// suppressed whatever their flag.
pub fn audit_flags(model: &Model, suppressed: &[bool], opts: &AuditOptions) -> AuditReport {
    let start = Instant::now();
    let mut report = match Auditor::<i128>::run(model, suppressed, opts) {
        Some(r) => r,
        None => {
            let mut r = Auditor::<BigInt>::run(model, suppressed, opts).unwrap_or_default();
            r.used_bigint = true;
            r
        }
    };
    report.elapsed = start.elapsed();
    report
}

/// Exact integers for the auditor; `None` = overflow.
trait Num: Clone + Eq + std::hash::Hash + Sized + Send + Sync {
    fn from_i64(v: i64) -> Self;
    fn is_zero_(&self) -> bool;
    fn is_negative_(&self) -> bool;
    fn mul_(&self, o: &Self) -> Option<Self>;
    fn sub_(&self, o: &Self) -> Option<Self>;
    fn neg_(&self) -> Option<Self>;
    fn gcd_(&self, o: &Self) -> Option<Self>;
    fn div_(&self, o: &Self) -> Self;
}

impl Num for i128 {
    fn from_i64(v: i64) -> Self {
        i128::from(v)
    }
    fn is_zero_(&self) -> bool {
        *self == 0
    }
    fn is_negative_(&self) -> bool {
        *self < 0
    }
    fn mul_(&self, o: &Self) -> Option<Self> {
        self.checked_mul(*o)
    }
    fn sub_(&self, o: &Self) -> Option<Self> {
        self.checked_sub(*o)
    }
    fn neg_(&self) -> Option<Self> {
        self.checked_neg()
    }
    fn gcd_(&self, o: &Self) -> Option<Self> {
        let g = self.unsigned_abs().gcd(&o.unsigned_abs());
        i128::try_from(g).ok()
    }
    fn div_(&self, o: &Self) -> Self {
        self / o
    }
}

impl Num for BigInt {
    fn from_i64(v: i64) -> Self {
        BigInt::from(v)
    }
    fn is_zero_(&self) -> bool {
        self.is_zero()
    }
    fn is_negative_(&self) -> bool {
        self.is_negative()
    }
    fn mul_(&self, o: &Self) -> Option<Self> {
        Some(self * o)
    }
    fn sub_(&self, o: &Self) -> Option<Self> {
        Some(self - o)
    }
    fn neg_(&self) -> Option<Self> {
        Some(-self)
    }
    fn gcd_(&self, o: &Self) -> Option<Self> {
        Some(self.gcd(o))
    }
    fn div_(&self, o: &Self) -> Self {
        self / o
    }
}

/// A sparse vector as a sorted map from inner cell to coefficient.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Vector<T: Num> {
    entries: Vec<(u32, T)>,
}

impl<T: Num> Vector<T> {
    /// The pivot of an auditor vector is its *last* entry.
    fn pivot(&self) -> Option<(u32, &T)> {
        self.entries.last().map(|(r, v)| (*r, v))
    }

    fn normalize(&mut self) -> Option<()> {
        let Some(first) = self.entries.first().map(|e| e.1.clone()) else {
            return Some(());
        };
        let one = T::from_i64(1);
        let mut g = first.gcd_(&first)?;
        for (_, v) in &self.entries {
            if g == one {
                break;
            }
            g = g.gcd_(v)?;
        }
        if first.is_negative_() {
            g = g.neg_()?;
        }
        if g != one {
            for (_, v) in &mut self.entries {
                *v = v.div_(&g);
            }
        }
        Some(())
    }
}

/// What one insider group can work out: cells, and (group, combination) pairs.
type GroupFindings = (Vec<GroupInsiderFinding>, Vec<(usize, usize)>);

/// The inner cells of a signed combination of cells with their coefficients (zeros dropped),
/// in row order.
fn combination_rows(model: &Model, terms: &[(usize, i64)]) -> Vec<(u32, i64)> {
    let x = model.matrix();
    let mut rows: HashMap<u32, i64> = HashMap::new();
    for &(c, coef) in terms.iter().filter(|(c, _)| *c < model.ncells()) {
        for &r in x.col(c) {
            *rows.entry(r).or_insert(0) += coef;
        }
    }
    let mut entries: Vec<(u32, i64)> = rows.into_iter().filter(|(_, c)| *c != 0).collect();
    entries.sort_unstable();
    entries
}

struct Auditor<'m, T: Num> {
    #[expect(dead_code, reason = "kept for diagnostics")]
    model: Option<&'m Model>,
    basis: Vec<Vector<T>>,
    /// Basis index of the vector pivoting on each inner cell (`u32::MAX`: none).
    pivot_at: Vec<u32>,
    known: Vec<bool>,
}

impl<'m, T: Num> Auditor<'m, T> {
    fn run(model: &'m Model, suppressed: &[bool], opts: &AuditOptions) -> Option<AuditReport> {
        let n = model.ncells();
        let x = model.matrix();
        let y = model.inner().freq();
        let freq = model.freq();
        let rule = opts.rule;
        let mut primary: Vec<bool> = freq.iter().map(|&f| rule.is_primary(f)).collect();
        let mut is_extra = vec![false; n];
        for &j in &opts.extra_primary {
            if j < n {
                primary[j] = true;
                is_extra[j] = true;
            }
        }
        // The insider rule: a cell whose rest, after one insider group's own part, is small.
        if !opts.insiders.is_empty() {
            let mut owner = vec![usize::MAX; x.nrows()];
            for (g, rows) in opts.insiders.iter().enumerate() {
                for &r in rows {
                    if let Some(o) = owner.get_mut(r as usize) {
                        *o = g;
                    }
                }
            }
            for (j, p) in primary.iter_mut().enumerate() {
                let col = x.col(j);
                let mut groups: Vec<usize> =
                    col.iter().map(|&r| owner[r as usize]).filter(|&g| g != usize::MAX).collect();
                groups.sort_unstable();
                groups.dedup();
                for g in groups {
                    let inside: Vec<&u32> = col.iter().filter(|&&r| owner[r as usize] == g).collect();
                    let own: i64 = inside.iter().map(|&&r| y[r as usize]).sum();
                    if inside.len() < col.len() && rule.is_primary(freq[j] - own) {
                        *p = true;
                    }
                }
            }
        }
        let published: Vec<bool> = (0..n)
            .map(|j| model.role(j) == CellRole::Published && !suppressed.get(j).copied().unwrap_or(true))
            .collect();
        let mut report = AuditReport {
            cells: n,
            published: published.iter().filter(|&&p| p).count(),
            primary: primary.iter().filter(|&&p| p).count(),
            secondary: (0..n).filter(|&j| !published[j] && !primary[j] && model.role(j) == CellRole::Published).count(),
            strict: opts.strict,
            ..Default::default()
        };

        // Step 1: zero propagation over the published cells.
        let m = x.nrows();
        let mut known = vec![false; m];
        propagate(model, &published, &mut known);
        report.known_inner_cells = known.iter().filter(|&&k| k).count();
        let unknown_rows = m - report.known_inner_cells;

        let mut aud = Auditor::<T> { model: Some(model), basis: Vec::new(), pivot_at: vec![u32::MAX; m], known };

        // Step 2: echelon basis of the published cells on the unknown inner cells, sparsest
        // cells first (less fill-in).
        let mut acc = Dense::<T>::new(m);
        let mut by_size: Vec<usize> = (0..n).filter(|&j| published[j]).collect();
        by_size.sort_by_key(|&j| x.col(j).len());
        for j in by_size {
            if aud.basis.len() == unknown_rows {
                break;
            }
            let v = aud.reduce(aud.restrict(x.col(j).iter().map(|&r| (r, 1))), &mut acc)?;
            if let Some((r, _)) = v.pivot() {
                aud.pivot_at[r as usize] = aud.basis.len() as u32;
                aud.basis.push(v);
            }
        }
        report.rank = aud.basis.len();

        // Step 3: suppressed cells.
        let mut reduced_primary: HashMap<Vector<T>, Vec<usize>> = HashMap::new();
        for j in 0..n {
            if published[j] {
                if primary[j] {
                    report.disclosures.push(Disclosure { cell: j, value: freq[j], kind: DisclosureKind::Published });
                }
                continue;
            }
            if !primary[j] && model.role(j) == CellRole::Protected {
                continue;
            }
            let v = aud.reduce(aud.restrict(x.col(j).iter().map(|&r| (r, 1))), &mut acc)?;
            if v.entries.is_empty() {
                if primary[j] {
                    report.disclosures.push(Disclosure { cell: j, value: freq[j], kind: DisclosureKind::Derivable });
                } else {
                    report.derivable_secondary += 1;
                }
            } else if primary[j] {
                reduced_primary.entry(v).or_default().push(j);
            }
        }

        // Level (b): derivable sums of primary siblings below k.
        let mut seen: HashSet<Vec<usize>> = HashSet::new();
        for rel in model.relations() {
            let prim: Vec<usize> = rel.children.iter().copied().filter(|&c| primary[c]).collect();
            if prim.len() < 2 || prim.len() == rel.children.len() {
                continue;
            }
            let sum: i64 = prim.iter().map(|&c| freq[c]).sum();
            if !rule.is_primary(sum) || !seen.insert(prim.clone()) {
                continue;
            }
            let mut sum_rows: HashMap<u32, i64> = HashMap::new();
            for &c in &prim {
                for &r in x.col(c) {
                    *sum_rows.entry(r).or_insert(0) += 1;
                }
            }
            let mut entries: Vec<(u32, i64)> = sum_rows.into_iter().collect();
            entries.sort_unstable();
            let v = aud.reduce(aud.restrict(entries.into_iter()), &mut acc)?;
            if v.entries.is_empty() {
                report.group_disclosures.push(GroupDisclosure { parent: rel.parent, dim: rel.dim, cells: prim, sum });
            }
        }

        // Level (a) for the given sums of cells.
        for cells in &opts.extra_sums {
            let mut sum_rows: HashMap<u32, i64> = HashMap::new();
            for &c in cells.iter().filter(|&&c| c < model.ncells()) {
                for &r in x.col(c) {
                    *sum_rows.entry(r).or_insert(0) += 1;
                }
            }
            let mut entries: Vec<(u32, i64)> = sum_rows.into_iter().collect();
            entries.sort_unstable();
            if entries.is_empty() {
                continue;
            }
            let v = aud.reduce(aud.restrict(entries.into_iter()), &mut acc)?;
            if v.entries.is_empty() {
                report.sum_disclosures.push(cells.clone());
            }
        }

        // Level (a) for the given signed combinations; the ones that stay unknown are kept for
        // level (d).
        let mut reduced_combinations: Vec<(Vector<T>, usize)> = Vec::new();
        for (i, terms) in opts.extra_combinations.iter().enumerate() {
            let entries = combination_rows(model, terms);
            if entries.is_empty() {
                continue;
            }
            let v = aud.reduce(aud.restrict(entries.into_iter()), &mut acc)?;
            if v.entries.is_empty() {
                report.combination_disclosures.push(i);
            } else {
                reduced_combinations.push((v, i));
            }
        }

        // Level (c): an insider knows one singleton inner cell of a suppressed cell.
        if opts.insider {
            let mut in_suppressed = vec![false; m];
            for (j, &is_published) in published.iter().enumerate() {
                if !is_published {
                    for &r in x.col(j) {
                        in_suppressed[r as usize] = true;
                    }
                }
            }
            for r in 0..m {
                if !in_suppressed[r] || aud.known[r] || !rule.is_singleton(y[r]) {
                    continue;
                }
                let w = aud.reduce(Vector { entries: vec![(r as u32, T::from_i64(1))] }, &mut acc)?;
                if w.entries.is_empty() {
                    continue;
                }
                if let Some(cells) = reduced_primary.get(&w) {
                    for &p in cells {
                        if x.col(p) != [r as u32] {
                            report.insider.push(InsiderFinding { inner_cell: r, cell: p });
                        }
                    }
                }
            }
        }
        // Level (d): one insider group at a time knows its inner cells.
        report.insider_groups = opts.insiders.len();
        let mut exempt = vec![false; n];
        for &j in &opts.insider_exempt {
            if j < n && !rule.is_primary(freq[j]) {
                exempt[j] = true;
            }
        }
        if !opts.insiders.is_empty() && (!reduced_primary.is_empty() || !reduced_combinations.is_empty()) {
            // The groups are independent: checked in parallel (each thread with its own small
            // basis and accumulator), findings in group order.
            let aud = &aud;
            let reduced_primary = &reduced_primary;
            let published = &published;
            let exempt = &exempt;
            let is_extra = &is_extra;
            let reduced_combinations = &reduced_combinations;
            let per_group: Vec<Option<GroupFindings>> = opts
                .insiders
                .par_iter()
                .enumerate()
                .map_init(
                    || {
                        let local = Auditor::<T> {
                            model: None,
                            basis: Vec::new(),
                            pivot_at: vec![u32::MAX; m],
                            known: Vec::new(),
                        };
                        (local, Dense::<T>::new(m))
                    },
                    |(local, acc), (gi, group)| {
                        let mut found = Vec::new();
                        let mut in_group = vec![false; m];
                        for &r in group {
                            if (r as usize) < m {
                                in_group[r as usize] = true;
                            }
                        }
                        // What the group knows: its rows, and what non-negativity then gives.
                        let mut knows = aud.known.clone();
                        for (r, k) in knows.iter_mut().enumerate() {
                            *k |= in_group[r];
                        }
                        propagate(model, published, &mut knows);
                        for b in &local.basis {
                            if let Some((p, _)) = b.pivot() {
                                local.pivot_at[p as usize] = u32::MAX;
                            }
                        }
                        local.basis.clear();
                        let mut support = HashSet::new();
                        for (r, (&k, &before)) in knows.iter().zip(&aud.known).enumerate() {
                            if !k || before {
                                continue;
                            }
                            let w = aud.reduce(Vector { entries: vec![(r as u32, T::from_i64(1))] }, acc)?;
                            let w = local.reduce(w, acc)?;
                            if let Some((p, _)) = w.pivot() {
                                support.extend(w.entries.iter().map(|e| e.0));
                                local.pivot_at[p as usize] = local.basis.len() as u32;
                                local.basis.push(w);
                            }
                        }
                        for (v, cells) in reduced_primary {
                            if !v.entries.iter().all(|(r, _)| support.contains(r)) {
                                continue;
                            }
                            if !local.reduce(v.clone(), acc)?.entries.is_empty() {
                                continue;
                            }
                            for &p in cells.iter().filter(|&&p| !exempt[p]) {
                                let outside: i64 =
                                    x.col(p).iter().filter(|&&r| !in_group[r as usize]).map(|&r| y[r as usize]).sum();
                                let has_outside = x.col(p).iter().any(|&r| !in_group[r as usize]);
                                if has_outside && (rule.is_primary(outside) || (is_extra[p] && outside > 0)) {
                                    found.push(GroupInsiderFinding { group: gi, cell: p });
                                }
                            }
                        }
                        // A combination the group can compute whose part outside the group is
                        // small (in absolute value) gives that part away.
                        let mut combos = Vec::new();
                        for (v, i) in reduced_combinations {
                            if !v.entries.iter().all(|(r, _)| support.contains(r)) {
                                continue;
                            }
                            if !local.reduce(v.clone(), acc)?.entries.is_empty() {
                                continue;
                            }
                            let outside: i64 = combination_rows(model, &opts.extra_combinations[*i])
                                .into_iter()
                                .filter(|&(r, _)| !in_group[r as usize])
                                .map(|(r, c)| c * y[r as usize])
                                .sum();
                            if outside != 0 && rule.is_primary(outside.abs()) {
                                combos.push((gi, *i));
                            }
                        }
                        Some((found, combos))
                    },
                )
                .collect();
            for found in per_group {
                let (cells, combos) = found?;
                report.unit_insider.extend(cells);
                report.combination_insider.extend(combos);
            }
            report.unit_insider.sort_by_key(|f| (f.group, f.cell));
        }
        Some(report)
    }

    fn pivot_of(&self, r: u32) -> Option<u32> {
        let b = self.pivot_at[r as usize];
        (b != u32::MAX).then_some(b)
    }

    /// Keeps the unknown inner cells of a column.
    fn restrict(&self, entries: impl Iterator<Item = (u32, i64)>) -> Vector<T> {
        let mut v = Vector {
            entries: entries.filter(|(r, _)| !self.known[*r as usize]).map(|(r, c)| (r, T::from_i64(c))).collect(),
        };
        let _ = v.normalize();
        v
    }

    /// Reduces a vector by the basis (pivots processed in insertion order) in a dense
    /// accumulator, so one step costs the length of the basis vector. `None` on overflow.
    fn reduce(&self, v: Vector<T>, acc: &mut Dense<T>) -> Option<Vector<T>> {
        let out = self.reduce_into(v, acc);
        let mut entries: Vec<(u32, T)> = Vec::new();
        for &r in &acc.touched {
            let val = std::mem::replace(&mut acc.vals[r as usize], acc.zero.clone());
            acc.present[r as usize] = false;
            if out.is_some() && !val.is_zero_() {
                entries.push((r, val));
            }
        }
        acc.touched.clear();
        out?;
        entries.sort_unstable_by_key(|e| e.0);
        let mut v = Vector { entries };
        v.normalize()?;
        Some(v)
    }

    fn reduce_into(&self, v: Vector<T>, acc: &mut Dense<T>) -> Option<()> {
        let mut heap: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
        for (r, val) in v.entries {
            acc.add(r, &val)?;
            if let Some(b) = self.pivot_of(r) {
                heap.push(Reverse(b));
            }
        }
        while let Some(Reverse(b)) = heap.pop() {
            let bv = &self.basis[b as usize];
            let Some((pr, pval)) = bv.pivot() else { continue };
            let a = acc.vals[pr as usize].clone();
            if a.is_zero_() {
                continue;
            }
            let q = a.div_(pval);
            let factor = if q.mul_(pval)? == a {
                q
            } else {
                // Scale the accumulator so that the pivot entry becomes divisible.
                let g = pval.gcd_(&a)?;
                let p = pval.div_(&g);
                for &t in &acc.touched {
                    let x = acc.vals[t as usize].mul_(&p)?;
                    acc.vals[t as usize] = x;
                }
                a.div_(&g)
            };
            for (row, val) in &bv.entries {
                let delta = factor.mul_(val)?.neg_()?;
                acc.add(*row, &delta)?;
                if *row != pr && !acc.vals[*row as usize].is_zero_() {
                    if let Some(b2) = self.pivot_of(*row) {
                        heap.push(Reverse(b2));
                    }
                }
            }
        }
        Some(())
    }
}

/// Zero propagation (docs/suppression.md §2, step 1) to a fixed point, from the inner cells
/// already `known`: a published cell whose unknown inner cells must sum to 0 makes them all known
/// zeros; a published cell with one unknown inner cell reveals it.
fn propagate(model: &Model, published: &[bool], known: &mut [bool]) {
    let x = model.matrix();
    let y = model.inner().freq();
    let freq = model.freq();
    let n = model.ncells();
    let m = x.nrows();
    let mut cells_of_row: Vec<Vec<u32>> = vec![Vec::new(); m];
    let mut unknown = vec![0usize; n];
    let mut rest = vec![0i64; n];
    let mut work: Vec<usize> = Vec::new();
    for j in 0..n {
        if published[j] {
            rest[j] = freq[j];
            for &r in x.col(j) {
                if known[r as usize] {
                    rest[j] -= y[r as usize];
                } else {
                    cells_of_row[r as usize].push(j as u32);
                    unknown[j] += 1;
                }
            }
            work.push(j);
        }
    }
    while let Some(j) = work.pop() {
        if unknown[j] == 0 || (unknown[j] > 1 && rest[j] != 0) {
            continue;
        }
        // All unknown inner cells of j are determined (zero, or the single one).
        let rows: Vec<u32> = x.col(j).iter().copied().filter(|&r| !known[r as usize]).collect();
        for r in rows {
            known[r as usize] = true;
            for &c in &cells_of_row[r as usize] {
                let c = c as usize;
                unknown[c] -= 1;
                rest[c] -= y[r as usize];
                if unknown[c] <= 1 || rest[c] == 0 {
                    work.push(c);
                }
            }
        }
    }
}

/// A dense accumulator over the inner cells with the list of touched ones.
struct Dense<T: Num> {
    vals: Vec<T>,
    present: Vec<bool>,
    touched: Vec<u32>,
    zero: T,
}

impl<T: Num> Dense<T> {
    fn new(m: usize) -> Self {
        let zero = T::from_i64(0);
        Dense { vals: vec![zero.clone(); m], present: vec![false; m], touched: Vec::new(), zero }
    }

    fn add(&mut self, r: u32, delta: &T) -> Option<()> {
        let i = r as usize;
        if !self.present[i] {
            self.present[i] = true;
            self.touched.push(r);
        }
        let x = self.vals[i].sub_(&delta.neg_()?)?;
        self.vals[i] = x;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two releases of one entity's four units as one model (`time` t0, t1): a change of a cell
    /// between them is a signed combination; the auditor finds it derivable when the other
    /// units' cells and the entity are shown at both times, and, with the changed unit withheld
    /// at both times but its sibling shown, not derivable to an outsider yet computable by the
    /// staff of the sibling unit when only the two are withheld.
    #[test]
    fn a_change_between_two_releases_is_audited_as_a_signed_combination() {
        use crate::suppression::{Dimension, TableBuilder};
        let mut b = TableBuilder::new();
        b.dimension(Dimension::flat("unit", "E", &["A", "B", "C", "D"]).unwrap_or_else(|e| panic!("{e}")))
            .dimension(Dimension::flat("time", "all", &["t0", "t1"]).unwrap_or_else(|e| panic!("{e}")));
        // A gains 2 pathways between the releases, B gains 7 (its staff know their 7).
        for (u, t0, t1) in [("A", 10, 12), ("B", 20, 27), ("C", 30, 30), ("D", 40, 40)] {
            b.count(&[u, "t0"], t0).unwrap_or_else(|e| panic!("{e}"));
            b.count(&[u, "t1"], t1).unwrap_or_else(|e| panic!("{e}"));
        }
        for t in ["t0", "t1"] {
            for u in ["E", "A", "B", "C", "D"] {
                b.publish_cell(&[u, t]).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let model = b.build().unwrap_or_else(|e| panic!("{e}"));
        let cell = |u: &str, t: &str| {
            let ids = [
                model.dims()[0].code(u).unwrap_or_else(|e| panic!("{e}")),
                model.dims()[1].code(t).unwrap_or_else(|e| panic!("{e}")),
            ];
            model.find_cell(&ids).unwrap_or_else(|| panic!("{u} {t}"))
        };
        let change_of_a = vec![(cell("A", "t0"), -1), (cell("A", "t1"), 1)];
        let rows_of = |u: &str| -> Vec<u32> {
            let code = model.dims()[0].code(u).unwrap_or_else(|e| panic!("{e}"));
            (0..model.inner().len() as u32).filter(|&r| model.inner().codes(r as usize)[0] == code).collect()
        };
        let opts = AuditOptions {
            rule: PrimaryRule::new(5),
            extra_combinations: vec![change_of_a],
            insiders: vec![rows_of("B")],
            ..Default::default()
        };
        let withhold = |cells: &[(&str, &str)]| -> Vec<bool> {
            let mut s = vec![false; model.ncells()];
            for (u, t) in cells {
                s[cell(u, t)] = true;
            }
            s
        };
        // Only A withheld at both times: its change is the entity's less the others' changes.
        let r = audit_flags(&model, &withhold(&[("A", "t0"), ("A", "t1")]), &opts);
        assert_eq!(r.combination_disclosures, vec![0], "{r}");
        assert!(!r.passes());
        // A and B withheld at both times: A + B is known at each time, A's change is not (to an
        // outsider), but B's staff know B's change and take it off the pair's.
        let both = withhold(&[("A", "t0"), ("A", "t1"), ("B", "t0"), ("B", "t1")]);
        let r = audit_flags(&model, &both, &opts);
        assert!(r.combination_disclosures.is_empty(), "{r}");
        assert_eq!(r.combination_insider, vec![(0, 0)], "{r}");
        assert!(!r.passes());
        // With C withheld too, B's staff are left with A + C's change: nothing.
        let more = withhold(&[("A", "t0"), ("A", "t1"), ("B", "t0"), ("B", "t1"), ("C", "t0"), ("C", "t1")]);
        let r = audit_flags(&model, &more, &opts);
        assert!(r.combination_disclosures.is_empty() && r.combination_insider.is_empty(), "{r}");
    }

    #[test]
    fn reduce_eliminates_pivots_in_insertion_order() {
        let m = 3;
        let mut aud =
            Auditor::<i128> { model: None, basis: Vec::new(), pivot_at: vec![u32::MAX; m], known: vec![false; m] };
        let mut acc = Dense::new(m);
        // basis: a + c (pivot c), then b + a - ... : add b + c reduced.
        for v in [vec![(0u32, 1i128), (2, 1)], vec![(1, 1), (2, 1)]] {
            let v = aud.reduce(Vector { entries: v }, &mut acc).unwrap_or(Vector { entries: vec![] });
            if let Some((r, _)) = v.pivot() {
                aud.pivot_at[r as usize] = aud.basis.len() as u32;
                aud.basis.push(v);
            }
        }
        assert_eq!(aud.basis.len(), 2);
        // a − b is in the span; a is not.
        let d = aud.reduce(Vector { entries: vec![(0, 1), (1, -1)] }, &mut acc);
        assert!(d.is_some_and(|d| d.entries.is_empty()));
        let e = aud.reduce(Vector { entries: vec![(0, 1)] }, &mut acc);
        assert!(e.is_some_and(|e| !e.entries.is_empty()));
    }
}
