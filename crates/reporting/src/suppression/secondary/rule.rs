//! The rule: which candidates become secondary. GaussSuppression's decision for each
//! candidate in order (R's one-time allowance of a non-constant combination of singletons,
//! then the proportionality test against the primary columns), forced cells always published,
//! and, with zero propagation, publication accepted only when the zeros it reveals make no
//! primary derivable and no pure singleton sum appear.

use super::super::exact::Col;
use super::elimination::Engine;

impl Engine {
    /// Runs the elimination; returns the secondary flags of the candidates and the primary
    /// columns made derivable by forced cells.
    #[expect(clippy::needless_range_loop, reason = "j indexes the columns and the flags")]
    pub(super) fn run(&mut self, n_forced: usize, any_singleton: bool) -> (Vec<bool>, Vec<u32>) {
        let n_a = self.n_a;
        let mut secondary = vec![false; n_a];
        let mut unsafe_b: Vec<u32> = Vec::new();
        for j in 0..n_a {
            if self.pivots >= self.m {
                self.remaining = n_a - j;
                break;
            }
            self.current = j;
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
}
