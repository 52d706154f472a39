//! The elimination engine: exact sparse integer columns (candidates first, then the primary
//! columns), a row → columns index, pivots that eliminate one row of a published candidate
//! from every live column that holds it, a hash of the canonical primary columns, and the
//! stored pivot vectors (for zero propagation).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

use rayon::prelude::*;

use super::super::exact::{Col, Fx, Promotions, Scratch};
use super::problem::RowLists;

/// A pivot updates its columns in parallel when it touches at least this many columns...
/// (Tiny in unit tests, so that they exercise the parallel path.)
const PAR_MIN_COLUMNS: usize = if cfg!(test) { 2 } else { 64 };
/// ...holding together at least this many entries (below that, threads cost more than they save).
const PAR_MIN_ENTRIES: usize = if cfg!(test) { 1 } else { 1 << 18 };
/// A row's list is compacted when it reaches twice its live length, and not below this.
const MIN_COMPACT: u32 = 16;
/// Columns per parallel task at least.
const PAR_CHUNK: usize = if cfg!(test) { 1 } else { 16 };

/// The columns that may hold a row (a superset: compacted when it grows), and the number of
/// entries the list would have without compaction (every push since the row's list was last
/// taken): the sparse pivot choice reads `pushes`, so it is the same as with never-compacted
/// lists (and the same as before lists were compacted).
#[derive(Debug, Clone)]
pub(super) struct RowList {
    pub(super) ids: Vec<u32>,
    pub(super) pushes: u32,
    pub(super) limit: u32,
}

impl Default for RowList {
    fn default() -> Self {
        RowList { ids: Vec::new(), pushes: 0, limit: MIN_COMPACT }
    }
}

/// The state of one elimination.
pub(super) struct Engine {
    pub(super) m: usize,
    pub(super) n_ns: u32,
    pub(super) n_a: usize,
    pub(super) cols: Vec<Col>,
    /// Per row, the columns that may hold it (a superset: lists are compacted when they grow).
    pub(super) row_index: Vec<RowList>,
    /// The candidate being decided (candidates up to it are consumed).
    pub(super) current: usize,
    pub(super) b_hash: HashMap<u64, Vec<u32>, BuildHasherDefault<Fx>>,
    pub(super) b_fp: Vec<u64>,
    pub(super) sub_used: Vec<bool>,
    pub(super) pivots: usize,
    pub(super) remaining: usize,
    pub(super) promo: Promotions,
    pub(super) emptied: Vec<u32>,
    pub(super) fill: Vec<u32>,
    /// Per column: the pivot that last visited it (each column once per pivot).
    pub(super) seen: Vec<u32>,
    /// Per column: the compaction that last kept it (repeated ids dropped).
    pub(super) mark: Vec<u32>,
    pub(super) marks: u32,
    /// Scratch space of single-threaded eliminations.
    pub(super) scratch: Scratch,
    // zero propagation
    pub(super) zp: bool,
    pub(super) sparse: bool,
    pub(super) basis_row: Vec<u32>,
    pub(super) y: Vec<i64>,
    pub(super) orig: RowLists,
    pub(super) basis: Vec<Col>,
    pub(super) pivot_of_row: Vec<u32>,
    pub(super) known: Vec<bool>,
    pub(super) state: Vec<(u32, i64)>,
    pub(super) row_pub: Vec<Vec<u32>>,
    pub(super) zero_rows: usize,
    pub(super) zero_secondaries: usize,
}

impl Engine {
    pub(super) fn new(cols: Vec<Col>, n_a: usize, m: usize, n_ns: u32, y: Vec<i64>, zp: bool, orig: RowLists) -> Self {
        let mut row_index: Vec<RowList> = vec![RowList::default(); m];
        for (id, c) in cols.iter().enumerate() {
            for &r in &c.rows {
                row_index[r as usize].ids.push(id as u32);
            }
        }
        for l in &mut row_index {
            l.pushes = l.ids.len() as u32;
            l.limit = (2 * l.pushes).max(MIN_COMPACT);
        }
        let nb = cols.len() - n_a;
        let ncols = cols.len();
        let mut e = Engine {
            m,
            n_ns,
            n_a,
            cols,
            row_index,
            mark: vec![0; ncols],
            marks: 0,
            current: 0,
            b_hash: HashMap::default(),
            b_fp: vec![0; nb],
            sub_used: vec![false; m],
            pivots: 0,
            remaining: 0,
            promo: Promotions::default(),
            emptied: Vec::new(),
            fill: Vec::new(),
            seen: vec![0; ncols],
            scratch: Scratch::default(),
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

    /// Records that column `id` now holds row `f`. A list that has doubled since it was last
    /// compacted drops the candidates already decided (they are skipped anyway) and repeated
    /// ids; its virtual length (`pushes`, read by the pivot choice) is kept, so the choice does
    /// not change.
    fn push_row(&mut self, f: u32, id: u32) {
        let list = &mut self.row_index[f as usize];
        list.pushes += 1;
        list.ids.push(id);
        if list.ids.len() as u32 >= list.limit {
            let (n_a, cur) = (self.n_a, self.current);
            self.marks += 1;
            let (mark, stamp) = (&mut self.mark, self.marks);
            list.ids.retain(|&c| {
                let keep = (c as usize >= n_a || c as usize > cur) && mark[c as usize] != stamp;
                mark[c as usize] = stamp;
                keep
            });
            if list.ids.capacity() > 4 * list.ids.len() {
                list.ids.shrink_to(2 * list.ids.len());
            }
            list.limit = (2 * list.ids.len() as u32).max(MIN_COMPACT);
        }
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
    pub(super) fn proportional(&self, a: &Col) -> bool {
        match self.b_hash.get(&a.quick_key()) {
            Some(list) => list.iter().any(|&b| self.cols[b as usize] == *a),
            None => false,
        }
    }

    /// Publishes the pivot vector `p`: eliminates its first row from every live column.
    pub(super) fn pivot(&mut self, p: Col, j: usize) {
        let Some(first) = p.first_row() else { return };
        let r = if self.sparse {
            // Non-singleton rows are a prefix of the rows; use them when there are any.
            let limit = if first < self.n_ns { self.n_ns } else { u32::MAX };
            let mut best = first;
            let mut best_len = u32::MAX;
            for &row in p.rows.iter().take_while(|&&row| row < limit) {
                let len = self.row_index[row as usize].pushes;
                if len < best_len {
                    best = row;
                    best_len = len;
                }
            }
            best
        } else {
            first
        };
        let ids = std::mem::take(&mut self.row_index[r as usize]).ids;
        // The live columns holding row r, each once, in index order of first appearance (an id
        // may appear again after its entry cancelled and came back as fill; its first
        // appearance eliminates r, the later ones found it gone).
        let stamp = self.pivots as u32 + 1;
        let mut work: Vec<u32> = Vec::with_capacity(ids.len());
        let mut size = 0usize;
        for &id in &ids {
            let i = id as usize;
            if (i < self.n_a && i <= j) || self.seen[i] == stamp {
                continue;
            }
            self.seen[i] = stamp;
            if !self.cols[i].contains(r) {
                continue;
            }
            size += self.cols[i].len() + p.len();
            work.push(id);
        }
        drop(ids);
        for &id in &work {
            if id as usize >= self.n_a {
                self.unhash_b(id as usize);
            }
        }
        if work.len() >= PAR_MIN_COLUMNS && size >= PAR_MIN_ENTRIES && rayon::current_num_threads() > 1 {
            // The columns are independent: update them in parallel, then record the fill-in in
            // the row index in the same order as one thread would (so the index, and with it
            // every later pivot choice, does not depend on the number of threads).
            let mut taken: Vec<(Col, Vec<u32>, Promotions)> = work
                .iter()
                .map(|&id| {
                    (std::mem::replace(&mut self.cols[id as usize], Col::empty()), Vec::new(), Promotions::default())
                })
                .collect();
            taken.par_iter_mut().with_min_len(PAR_CHUNK).for_each_init(
                Scratch::default,
                |scratch, (c, fill, promo)| {
                    c.eliminate_with(&p, r, fill, promo, scratch);
                },
            );
            for (&id, (c, fill, promo)) in work.iter().zip(taken) {
                for &f in &fill {
                    self.push_row(f, id);
                }
                self.promo.to_i128 += promo.to_i128;
                self.promo.to_bigint += promo.to_bigint;
                self.cols[id as usize] = c;
            }
        } else {
            for &id in &work {
                self.fill.clear();
                self.cols[id as usize].eliminate_with(&p, r, &mut self.fill, &mut self.promo, &mut self.scratch);
                for i in 0..self.fill.len() {
                    let f = self.fill[i];
                    self.push_row(f, id);
                }
            }
        }
        for &id in &work {
            let id = id as usize;
            if id >= self.n_a {
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
            let mut p = p;
            p.shrink();
            self.basis.push(p);
        }
    }

    /// Publishes a set of new span vectors, each reduced by the pivots before it.
    pub(super) fn pivot_all(&mut self, w: Vec<Col>, j: usize) {
        for p in w {
            let p = self.reduce_by_basis(p);
            self.pivot(p, j);
        }
    }

    /// The new span vectors: the candidate, then each zero row reduced by the basis and by
    /// the vectors before it (an echelon set whose pivots are their first rows).
    pub(super) fn build_w(&mut self, a: &Col, zero_rows: &[u32]) -> Vec<Col> {
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

    pub(super) fn reduce_by_basis(&mut self, mut v: Col) -> Col {
        let mut heap: BinaryHeap<Reverse<u32>> = v
            .rows
            .iter()
            .filter_map(|&r| {
                let b = self.pivot_of_row[r as usize];
                (b != u32::MAX).then_some(Reverse(b))
            })
            .collect();
        while let Some(Reverse(b)) = heap.pop() {
            let pr = self.basis_row[b as usize];
            if !v.contains(pr) {
                continue;
            }
            let p = &self.basis[b as usize];
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
    pub(super) fn w_discloses(&mut self, w: &[Col]) -> bool {
        let mut cand: Vec<u32> = Vec::new();
        for p in w {
            let Some(pr) = p.first_row() else { continue };
            for &id in &self.row_index[pr as usize].ids {
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
}
