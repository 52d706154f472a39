//! Zero propagation: what an attacker learns about inner cells by non-negativity when a
//! candidate is published (the auditor's step 1 rules), tentatively (a cascade) and for good
//! (commit).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::super::exact::Fx;
use super::elimination::Engine;

/// A map with the fast deterministic hasher (the keys are cell and row indices).
type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// Outcome of tentatively publishing one candidate, for zero propagation.
pub(super) struct Cascade {
    /// Rows that become known (value = the true count).
    pub(super) known: Vec<u32>,
    /// Known rows that are not linear consequences (zero by non-negativity).
    pub(super) zero_rows: Vec<u32>,
    /// New `(unknown count, residual)` of published cells.
    pub(super) updates: Vec<(u32, u32, i64)>,
}

impl Engine {
    /// What an attacker learns about inner cells by non-negativity when candidate `j` is
    /// published too (rules of the auditor's step 1: a published cell whose unknown part sums
    /// to 0 has all unknown inner cells 0; one with a single unknown inner cell reveals it).
    pub(super) fn cascade(&self, j: usize) -> Cascade {
        let mut out = Cascade { known: Vec::new(), zero_rows: Vec::new(), updates: Vec::new() };
        let mut overlay: FxMap<u32, (u32, i64)> = FxMap::default();
        let mut newly: FxMap<u32, ()> = FxMap::default();
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

    fn fire(&self, u: u32, cnt: u32, res: i64, newly: &mut FxMap<u32, ()>, queue: &mut Vec<u32>, out: &mut Cascade) {
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

    pub(super) fn commit(&mut self, j: usize, c: Cascade) {
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
