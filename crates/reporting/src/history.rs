//! What earlier publications of a year fix about a cell (docs/suppression.md §0): a later
//! release or completeness snapshot of the same year keeps every value an earlier one showed
//! and that did not change, keeps withheld what an earlier one withheld, and withholds a value
//! that changed by 1..k−1 since any earlier one showed it (the change itself would be a small
//! count: differencing the two publications would give it).
//!
//! The staff of one unit know their own unit's change between two publications (they hold its
//! records), so the change of a cell less the change of one unit's part of it is a count too: a
//! cell whose change, less what any one unit under it contributed to the change, is 1..k−1 is
//! withheld as well ([`History::fix_with_parts`]), the insider rule of the suppression engine
//! applied to the differences. And no sum of siblings whose changes add up to 1..k−1 may be
//! derivable ([`History::small_change_sums`]), the strict rule applied to the differences.

use std::collections::HashMap;
use std::hash::Hash;

/// What the earlier publications of a year showed of one cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// Some earlier publication withheld it (as a small count or to protect one).
    pub withheld: bool,
    /// The values shown, oldest first (a complement counts as shown when its numerator and
    /// denominator both were).
    pub values: Vec<i64>,
    /// The true value in each earlier publication that held the cell, shown or not (known to
    /// rusreg only): (publication, value).
    pub truths: Vec<(u32, i64)>,
}

/// How a cell is treated in the publication being made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tie {
    /// Shown as before: the value did not change since the latest publication that showed it.
    Forced,
    /// Withheld whatever its count: withheld before, or changed by 1..k−1.
    Primary,
    /// Not fixed by history (never shown, or changed by k or more since every earlier value).
    Free,
}

impl Shown {
    /// Whether `now` differs from a value shown before by 1..k−1.
    pub fn changed_by_small(&self, now: i64, k: u32) -> bool {
        self.values.iter().any(|old| {
            let d = (now - old).unsigned_abs();
            d > 0 && d < u64::from(k)
        })
    }

    /// The tie of a cell whose value is now `now`, with the primary rule's `k`.
    pub fn tie(&self, now: i64, k: u32) -> Tie {
        if self.withheld || self.changed_by_small(now, k) {
            Tie::Primary
        } else if self.values.last() == Some(&now) {
            Tie::Forced
        } else {
            Tie::Free
        }
    }
}

/// The cells of the earlier publications of a year, by key.
#[derive(Debug, Clone)]
pub struct History<K: Eq + Hash> {
    cells: HashMap<K, Shown>,
    /// The publication being recorded (0 before the first).
    publication: u32,
}

impl<K: Eq + Hash> Default for History<K> {
    fn default() -> Self {
        History { cells: HashMap::new(), publication: 0 }
    }
}

impl<K: Eq + Hash> History<K> {
    /// Starts recording the next publication (publications in the order they were made).
    pub fn next_publication(&mut self) {
        self.publication += 1;
    }

    /// Records one cell of the current publication: its true value, shown or withheld.
    pub fn record(&mut self, key: K, value: i64, shown: bool) {
        let publication = self.publication;
        let e = self.cells.entry(key).or_default();
        if shown {
            e.values.push(value);
        } else {
            e.withheld = true;
        }
        e.truths.push((publication, value));
    }

    /// Records the true value of a cell of the current publication that it neither showed nor
    /// withheld as such (a protected complement whose numerator or denominator was withheld).
    pub fn record_truth(&mut self, key: K, value: i64) {
        let publication = self.publication;
        self.cells.entry(key).or_default().truths.push((publication, value));
    }

    /// What was shown of a cell (`None`: never in an earlier publication).
    pub fn get(&self, key: &K) -> Option<&Shown> {
        self.cells.get(key)
    }

    /// The tie of a cell now worth `now`.
    pub fn tie(&self, key: &K, now: i64, k: u32) -> Tie {
        self.cells.get(key).map_or(Tie::Free, |s| s.tie(now, k))
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Forgets the true values, keeping what was shown and withheld: the history as rusreg
    /// kept it before the insider rule on changes (cell by cell only). Never used to publish;
    /// the attack test uses it to reproduce the old behaviour.
    pub fn forget_truths(&mut self) {
        for s in self.cells.values_mut() {
            s.truths.clear();
        }
    }

    /// What the history fixes in a table being protected, from each cell's key, column in the
    /// model, count now, and whether it is a published cell (a protected cell is never forced).
    pub fn fix<'a>(&self, cells: impl Iterator<Item = (&'a K, usize, i64, bool)>, k: u32) -> Fixed
    where
        K: 'a,
    {
        self.fix_with_parts(cells, k, |_| Vec::new())
    }

    /// [`History::fix`], and the insider rule on changes: `parts` gives the same cell at each
    /// unit under a cell (empty for a unit's own cells). A cell whose change since an earlier
    /// publication, less the change of one unit's part of it, is 1..k−1 is withheld (what the
    /// others under the cell gained or lost would be a small count to that unit's staff).
    pub fn fix_with_parts<'a>(
        &self,
        cells: impl Iterator<Item = (&'a K, usize, i64, bool)>,
        k: u32,
        parts: impl Fn(&K) -> Vec<K>,
    ) -> Fixed
    where
        K: 'a,
    {
        let cells: Vec<(&K, usize, i64, bool)> = cells.collect();
        let now: HashMap<&K, i64> = cells.iter().map(|(key, _, v, _)| (*key, *v)).collect();
        let mut fixed = Fixed::default();
        for &(key, j, value, published) in &cells {
            match self.tie(key, value, k) {
                Tie::Forced if published && !self.moved_for_an_insider(key, value, &now, &parts, k) => {
                    fixed.forced.push(j)
                }
                Tie::Primary => {
                    if self.get(key).is_some_and(|s| s.changed_by_small(value, k)) {
                        fixed.changed_small += 1;
                    } else {
                        // Kept withheld for continuity only: insiders need not be kept from it.
                        fixed.insider_exempt.push(j);
                    }
                    fixed.extra_primary.push(j);
                }
                _ if self.moved_for_an_insider(key, value, &now, &parts, k) => {
                    fixed.moved_for_an_insider += 1;
                    fixed.extra_primary.push(j);
                }
                _ => {}
            }
        }
        fixed.forced.sort_unstable();
        fixed.forced.dedup();
        fixed
    }

    /// The strict rule on changes: for each additivity relation (the child columns of one
    /// parent), the children whose value moved by 1..k−1 since an earlier publication, when
    /// there are at least two of them but not all, and their changes add up to 1..k−1. Each such
    /// sum must not be derivable: with the parent and the other children shown before and now,
    /// the sum's change would be a small count although no cell of the model changed by it.
    /// `cells` gives each column's key and count now.
    pub fn small_change_sums<'a>(
        &self,
        cells: impl Iterator<Item = (&'a K, usize, i64)>,
        relations: impl Iterator<Item = &'a [usize]>,
        k: u32,
    ) -> Vec<Vec<usize>>
    where
        K: 'a,
    {
        let of: HashMap<usize, (&K, i64)> = cells.map(|(key, j, v)| (j, (key, v))).collect();
        let small = |d: i64| d != 0 && d.unsigned_abs() < u64::from(k);
        let mut out: Vec<Vec<usize>> = Vec::new();
        for children in relations {
            for p in 1..=self.publication {
                let mut moved: Vec<usize> = Vec::new();
                let mut sum = 0i64;
                for &c in children {
                    let Some((key, now)) = of.get(&c) else { continue };
                    let then = self.cells.get(*key).and_then(|s| s.truths.iter().find(|(q, _)| *q == p));
                    if let Some(&(_, old)) = then {
                        if small(now - old) {
                            moved.push(c);
                            sum += now - old;
                        }
                    }
                }
                if moved.len() >= 2 && moved.len() < children.len() && small(sum) && !out.contains(&moved) {
                    out.push(moved);
                }
            }
        }
        out
    }

    /// Whether the change of a cell now worth `value` since an earlier publication, less the
    /// change of one unit's part of it over the same time, is 1..k−1.
    fn moved_for_an_insider(
        &self,
        key: &K,
        value: i64,
        now: &HashMap<&K, i64>,
        parts: &impl Fn(&K) -> Vec<K>,
        k: u32,
    ) -> bool {
        let Some(shown) = self.cells.get(key) else { return false };
        let parts = parts(key);
        if parts.len() < 2 {
            return false;
        }
        let then = |part: &K, p: u32| {
            self.cells.get(part).and_then(|s| s.truths.iter().find(|(q, _)| *q == p)).map_or(0, |(_, v)| *v)
        };
        shown.truths.iter().any(|&(p, old)| {
            let change = value - old;
            parts.iter().any(|part| {
                let own = now.get(part).copied().unwrap_or(0) - then(part, p);
                let rest = (change - own).unsigned_abs();
                own != 0 && rest > 0 && rest < u64::from(k)
            })
        })
    }
}

/// The cells of a table that the history fixes (columns of the model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fixed {
    /// Shown before and unchanged.
    pub forced: Vec<usize>,
    /// Withheld before, or changed by 1..k−1.
    pub extra_primary: Vec<usize>,
    /// Of those, the ones withheld for continuity only.
    pub insider_exempt: Vec<usize>,
    /// Cells withheld because they changed by 1..k−1.
    pub changed_small: usize,
    /// Cells withheld because their change less one unit's own change is 1..k−1.
    pub moved_for_an_insider: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_withheld_or_freed_by_what_was_shown_before() {
        let mut h: History<&str> = History::default();
        h.record("same", 12, true);
        h.record("moved_a_little", 12, true);
        h.record("moved_a_lot", 12, true);
        h.record("withheld", 3, false);
        h.record("back_and_forth", 12, true);
        h.record("back_and_forth", 20, true);
        assert_eq!(h.tie(&"same", 12, 5), Tie::Forced);
        assert_eq!(h.tie(&"moved_a_little", 14, 5), Tie::Primary);
        assert_eq!(h.tie(&"moved_a_little", 10, 5), Tie::Primary);
        assert_eq!(h.tie(&"moved_a_lot", 17, 5), Tie::Free);
        assert_eq!(h.tie(&"withheld", 3, 5), Tie::Primary);
        assert_eq!(h.tie(&"withheld", 30, 5), Tie::Primary);
        // 20 is the latest, but 14 differs from the first value by 2.
        assert_eq!(h.tie(&"back_and_forth", 14, 5), Tie::Primary);
        assert_eq!(h.tie(&"back_and_forth", 20, 5), Tie::Forced);
        assert_eq!(h.tie(&"never", 2, 5), Tie::Free);
    }

    #[test]
    fn a_change_less_one_units_own_change_of_1_to_k_minus_1_is_withheld() {
        // An entity of three units; six pathways registered late at unit c, one each at a and b.
        let mut h: History<&str> = History::default();
        h.next_publication();
        for (key, v) in [("e", 40), ("a", 10), ("b", 12), ("c", 18), ("big", 40), ("x", 18), ("y", 22)] {
            h.record(key, v, true);
        }
        let parts = |key: &&str| match *key {
            "e" => vec!["a", "b", "c"],
            "big" => vec!["x", "y"],
            _ => Vec::new(),
        };
        let now = [("e", 48), ("a", 11), ("b", 13), ("c", 24), ("big", 50), ("x", 23), ("y", 27)];
        let cells: Vec<(&str, usize)> = now.iter().enumerate().map(|(j, (key, _))| (*key, j)).collect();
        let fixed = h.fix_with_parts(cells.iter().zip(&now).map(|((key, j), (_, v))| (key, *j, *v, true)), 5, parts);
        // a and b moved by 1: withheld. e moved by 8, but less c's own 6 that is 2: withheld.
        // c moved by 6 and is a unit. big moved by 10, x and y by 5 each: shown.
        assert_eq!(fixed.extra_primary, vec![0, 1, 2]);
        assert_eq!((fixed.changed_small, fixed.moved_for_an_insider), (2, 1));
        assert!(fixed.forced.is_empty());
        // Cell by cell only, e would be free.
        let plain = h.fix(cells.iter().zip(&now).map(|((key, j), (_, v))| (key, *j, *v, true)), 5);
        assert_eq!(plain.extra_primary, vec![1, 2]);
    }

    #[test]
    fn siblings_whose_changes_add_up_to_1_to_k_minus_1_are_a_sum_to_protect() {
        // An entity (column 0) of four units (1..=4): one pathway late at each of units 1 and 2,
        // five at each of 3 and 4.
        let mut h: History<u8> = History::default();
        h.next_publication();
        for (key, v) in [(0u8, 80), (1, 11), (2, 13), (3, 28), (4, 28)] {
            h.record(key, v, true);
        }
        let keys = [0u8, 1, 2, 3, 4];
        let now = [92, 12, 14, 33, 33];
        let children: Vec<usize> = vec![1, 2, 3, 4];
        let sums = h.small_change_sums(
            keys.iter().enumerate().map(|(j, key)| (key, j, now[j])),
            [children.as_slice()].into_iter(),
            5,
        );
        assert_eq!(sums, vec![vec![1, 2]]);
        // Changes that add up to k or more are no sum to protect.
        let now = [95, 14, 15, 33, 33];
        let sums = h.small_change_sums(
            keys.iter().enumerate().map(|(j, key)| (key, j, now[j])),
            [children.as_slice()].into_iter(),
            5,
        );
        assert!(sums.is_empty());
    }
}
