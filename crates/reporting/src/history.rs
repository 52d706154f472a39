//! What earlier publications of a year fix about a cell (docs/suppression.md §0): a later
//! release or completeness snapshot of the same year keeps every value an earlier one showed
//! and that did not change, keeps withheld what an earlier one withheld, and withholds a value
//! that changed by 1..k−1 since any earlier one showed it (the change itself would be a small
//! count: differencing the two publications would give it).

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
}

impl<K: Eq + Hash> Default for History<K> {
    fn default() -> Self {
        History { cells: HashMap::new() }
    }
}

impl<K: Eq + Hash> History<K> {
    /// Records one cell of one publication (publications in the order they were made).
    pub fn record(&mut self, key: K, value: i64, shown: bool) {
        let e = self.cells.entry(key).or_default();
        if shown {
            e.values.push(value);
        } else {
            e.withheld = true;
        }
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

    /// What the history fixes in a table being protected, from each cell's key, column in the
    /// model, count now, and whether it is a published cell (a protected cell is never forced).
    pub fn fix<'a>(&self, cells: impl Iterator<Item = (&'a K, usize, i64, bool)>, k: u32) -> Fixed
    where
        K: 'a,
    {
        let mut fixed = Fixed::default();
        for (key, j, now, published) in cells {
            match self.tie(key, now, k) {
                Tie::Forced if published => fixed.forced.push(j),
                Tie::Primary => {
                    if self.get(key).is_some_and(|s| s.changed_by_small(now, k)) {
                        fixed.changed_small += 1;
                    } else {
                        // Kept withheld for continuity only: insiders need not be kept from it.
                        fixed.insider_exempt.push(j);
                    }
                    fixed.extra_primary.push(j);
                }
                _ => {}
            }
        }
        fixed.forced.sort_unstable();
        fixed.forced.dedup();
        fixed
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
}
