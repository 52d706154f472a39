//! Exact sparse integer columns for the elimination engine: `i64` entries with checked
//! arithmetic, promoted per column to `i128` and then to `BigInt` on overflow, always kept in
//! canonical form (entries divided by their gcd, first entry positive).

use std::hash::{Hash, Hasher};

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// Integer operations the kernel needs; `None` means overflow.
trait Int: Clone + PartialEq + Sized {
    fn is_zero_(&self) -> bool;
    fn is_neg(&self) -> bool;
    fn is_one_(&self) -> bool;
    fn neg_(&self) -> Option<Self>;
    fn mul_(&self, o: &Self) -> Option<Self>;
    fn sub_(&self, o: &Self) -> Option<Self>;
    fn gcd_(&self, o: &Self) -> Option<Self>;
    fn div_(&self, o: &Self) -> Self;
}

macro_rules! prim_int {
    ($t:ty, $u:ty) => {
        impl Int for $t {
            fn is_zero_(&self) -> bool {
                *self == 0
            }
            fn is_neg(&self) -> bool {
                *self < 0
            }
            fn is_one_(&self) -> bool {
                *self == 1
            }
            fn neg_(&self) -> Option<Self> {
                self.checked_neg()
            }
            fn mul_(&self, o: &Self) -> Option<Self> {
                self.checked_mul(*o)
            }
            fn sub_(&self, o: &Self) -> Option<Self> {
                self.checked_sub(*o)
            }
            fn gcd_(&self, o: &Self) -> Option<Self> {
                let (mut a, mut b): ($u, $u) = (self.unsigned_abs(), o.unsigned_abs());
                while b != 0 {
                    let t = a % b;
                    a = b;
                    b = t;
                }
                <$t>::try_from(a).ok()
            }
            fn div_(&self, o: &Self) -> Self {
                self / o
            }
        }
    };
}
prim_int!(i8, u8);
prim_int!(i64, u64);
prim_int!(i128, u128);

impl Int for BigInt {
    fn is_zero_(&self) -> bool {
        self.is_zero()
    }
    fn is_neg(&self) -> bool {
        self.is_negative()
    }
    fn is_one_(&self) -> bool {
        self.is_one()
    }
    fn neg_(&self) -> Option<Self> {
        Some(-self)
    }
    fn mul_(&self, o: &Self) -> Option<Self> {
        Some(self * o)
    }
    fn sub_(&self, o: &Self) -> Option<Self> {
        Some(self - o)
    }
    fn gcd_(&self, o: &Self) -> Option<Self> {
        Some(self.gcd(o))
    }
    fn div_(&self, o: &Self) -> Self {
        self / o
    }
}

/// Entries of a column at the narrowest width that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Vals {
    /// Entries in `-128..=127` (nearly every column of a 0/1 table): 5 bytes an entry with
    /// the row instead of 12. Arithmetic is checked in `i8` and redone in `i64` on overflow.
    Tiny(Vec<i8>),
    Small(Vec<i64>),
    Wide(Vec<i128>),
    Big(Vec<BigInt>),
}

/// A sparse column: strictly increasing rows, non-zero entries, canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Col {
    pub(crate) rows: Vec<u32>,
    pub(crate) vals: Vals,
}

/// Reusable buffers of [`Col::eliminate_with`].
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    rows: Vec<u32>,
    vals: Vec<i64>,
    tiny: Vec<i8>,
}

/// Counts of promotions, for statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Promotions {
    /// Columns that needed 128-bit entries.
    pub to_i128: u64,
    /// Columns that needed big integers.
    pub to_bigint: u64,
}

impl Col {
    pub(crate) fn empty() -> Self {
        Col { rows: Vec::new(), vals: Vals::Tiny(Vec::new()) }
    }

    /// Builds a canonical column from sorted unique rows and non-zero values.
    pub(crate) fn from_parts(rows: Vec<u32>, vals: Vec<i64>) -> Self {
        let mut c = Col { rows, vals: Vals::Small(vals) };
        c.canonicalize();
        c
    }

    /// A 0/1 column.
    pub(crate) fn ones(rows: Vec<u32>) -> Self {
        let n = rows.len();
        Col { rows, vals: Vals::Tiny(vec![1; n]) }
    }

    /// Releases spare capacity (columns kept for long: the stored pivot vectors).
    pub(crate) fn shrink(&mut self) {
        self.rows.shrink_to_fit();
        match &mut self.vals {
            Vals::Tiny(v) => v.shrink_to_fit(),
            Vals::Small(v) => v.shrink_to_fit(),
            Vals::Wide(v) => v.shrink_to_fit(),
            Vals::Big(v) => v.shrink_to_fit(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn first_row(&self) -> Option<u32> {
        self.rows.first().copied()
    }

    pub(crate) fn contains(&self, r: u32) -> bool {
        self.rows.binary_search(&r).is_ok()
    }

    /// In canonical form, all entries equal means all entries are 1.
    pub(crate) fn all_ones(&self) -> bool {
        match &self.vals {
            Vals::Tiny(v) => v.iter().all(|&x| x == 1),
            Vals::Small(v) => v.iter().all(|&x| x == 1),
            Vals::Wide(v) => v.iter().all(|&x| x == 1),
            Vals::Big(v) => v.iter().all(One::is_one),
        }
    }

    /// Whether every entry is positive.
    pub(crate) fn all_positive(&self) -> bool {
        match &self.vals {
            Vals::Tiny(v) => v.iter().all(|&x| x > 0),
            Vals::Small(v) => v.iter().all(|&x| x > 0),
            Vals::Wide(v) => v.iter().all(|&x| x > 0),
            Vals::Big(v) => v.iter().all(Signed::is_positive),
        }
    }

    /// A cheap key of the canonical form (length, first and last entry): equal columns have
    /// equal keys; callers compare the columns on a match.
    pub(crate) fn quick_key(&self) -> u64 {
        let (Some(&f), Some(&l)) = (self.rows.first(), self.rows.last()) else { return 0 };
        let (vf, vl) = match &self.vals {
            Vals::Tiny(v) => (i64::from(v[0]), i64::from(v[v.len() - 1])),
            Vals::Small(v) => (v[0], v[v.len() - 1]),
            Vals::Wide(v) => (v[0] as i64, v[v.len() - 1] as i64),
            Vals::Big(v) => (v[0].to_i64().unwrap_or(-7), v[v.len() - 1].to_i64().unwrap_or(-7)),
        };
        let mut h = Fx(self.rows.len() as u64);
        h.write_u32(f);
        h.write_u32(l);
        h.write_i64(vf);
        h.write_i64(vl);
        h.finish()
    }

    fn level(&self) -> u8 {
        match self.vals {
            Vals::Tiny(_) | Vals::Small(_) => 0,
            Vals::Wide(_) => 1,
            Vals::Big(_) => 2,
        }
    }

    /// The entries as `i64` (`None` above that width).
    fn small(&self) -> Option<std::borrow::Cow<'_, [i64]>> {
        match &self.vals {
            Vals::Tiny(v) => Some(std::borrow::Cow::Owned(v.iter().map(|&x| i64::from(x)).collect())),
            Vals::Small(v) => Some(std::borrow::Cow::Borrowed(v)),
            _ => None,
        }
    }

    fn wide(&self) -> Vec<i128> {
        match &self.vals {
            Vals::Tiny(v) => v.iter().map(|&x| i128::from(x)).collect(),
            Vals::Small(v) => v.iter().map(|&x| i128::from(x)).collect(),
            Vals::Wide(v) => v.clone(),
            Vals::Big(v) => v.iter().map(|x| x.to_i128().unwrap_or(0)).collect(),
        }
    }

    fn big(&self) -> Vec<BigInt> {
        match &self.vals {
            Vals::Tiny(v) => v.iter().map(|&x| BigInt::from(x)).collect(),
            Vals::Small(v) => v.iter().map(|&x| BigInt::from(x)).collect(),
            Vals::Wide(v) => v.iter().map(|&x| BigInt::from(x)).collect(),
            Vals::Big(v) => v.clone(),
        }
    }

    /// Brings the entries to canonical form and the narrowest width.
    pub(crate) fn canonicalize(&mut self) {
        let vals = std::mem::replace(&mut self.vals, Vals::Tiny(Vec::new()));
        self.vals = match vals {
            Vals::Tiny(mut v) => {
                if canon(&mut v) {
                    Vals::Tiny(v)
                } else {
                    let mut w: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
                    canon(&mut w);
                    narrow_small(w)
                }
            }
            Vals::Small(mut v) => {
                if canon(&mut v) {
                    narrow_small(v)
                } else {
                    let mut w: Vec<i128> = v.iter().map(|&x| i128::from(x)).collect();
                    canon(&mut w);
                    narrow_wide(w)
                }
            }
            Vals::Wide(mut v) => {
                if canon(&mut v) {
                    narrow_wide(v)
                } else {
                    let mut b: Vec<BigInt> = v.iter().map(|&x| BigInt::from(x)).collect();
                    canon(&mut b);
                    narrow_big(b)
                }
            }
            Vals::Big(mut v) => {
                canon(&mut v);
                narrow_big(v)
            }
        };
    }

    /// As [`Col::eliminate_at`], merging into `scratch` and copying back when both columns
    /// hold `i64` entries (no allocation when the column keeps its length; the column's
    /// capacity follows its length instead of the sum of both lengths). The same arithmetic.
    pub(crate) fn eliminate_with(
        &mut self,
        pivot: &Col,
        r: u32,
        fill: &mut Vec<u32>,
        promo: &mut Promotions,
        scratch: &mut Scratch,
    ) {
        if let (Vals::Tiny(a), Vals::Tiny(p)) = (&self.vals, &pivot.vals) {
            let done = elim_into(&self.rows, a, &pivot.rows, p, r, fill, &mut scratch.rows, &mut scratch.tiny);
            if done.is_some() {
                self.rows.clear();
                self.rows.extend_from_slice(&scratch.rows);
                if let Vals::Tiny(v) = &mut self.vals {
                    v.clear();
                    v.extend_from_slice(&scratch.tiny);
                }
                self.canonicalize();
                return;
            }
            // Overflow in i8: the same elimination in i64 below.
            fill.clear();
        } else if let (Vals::Small(a), Vals::Small(p)) = (&self.vals, &pivot.vals) {
            let done = elim_into(&self.rows, a, &pivot.rows, p, r, fill, &mut scratch.rows, &mut scratch.vals);
            if done.is_some() {
                self.rows.clear();
                self.rows.extend_from_slice(&scratch.rows);
                if let Vals::Small(v) = &mut self.vals {
                    v.clear();
                    v.extend_from_slice(&scratch.vals);
                }
                self.canonicalize();
                return;
            }
            fill.clear();
        }
        self.eliminate_at(pivot, r, fill, promo);
    }

    /// `self := (a/g)·self − (b/g)·pivot`, where the pivot's first row `r` is in `self`,
    /// `a` is the pivot's entry and `b` ours at `r`, `g = gcd(a, b)`. Row `r` cancels. New
    /// rows (fill-in) are appended to `fill`. Promotes on overflow.
    pub(crate) fn eliminate(&mut self, pivot: &Col, fill: &mut Vec<u32>, promo: &mut Promotions) {
        let r = pivot.rows.first().copied().unwrap_or(0);
        self.eliminate_at(pivot, r, fill, promo);
    }

    /// As [`Col::eliminate`] with pivot row `r` (a row of both columns).
    pub(crate) fn eliminate_at(&mut self, pivot: &Col, r: u32, fill: &mut Vec<u32>, promo: &mut Promotions) {
        let mut level = self.level().max(pivot.level());
        loop {
            let done = match level {
                0 => match (self.small(), pivot.small()) {
                    (Some(a), Some(p)) => {
                        elim(&self.rows, &a, &pivot.rows, &p, r, fill).map(|(r, v)| (r, Vals::Small(v)))
                    }
                    _ => None,
                },
                1 => {
                    let a = self.wide();
                    let p = pivot.wide();
                    elim(&self.rows, &a, &pivot.rows, &p, r, fill).map(|(r, v)| (r, Vals::Wide(v)))
                }
                _ => {
                    let a = self.big();
                    let p = pivot.big();
                    elim(&self.rows, &a, &pivot.rows, &p, r, fill).map(|(r, v)| (r, Vals::Big(v)))
                }
            };
            match done {
                Some((rows, vals)) => {
                    if level > self.level() {
                        if level == 1 {
                            promo.to_i128 += 1;
                        } else {
                            promo.to_bigint += 1;
                        }
                    }
                    self.rows = rows;
                    self.vals = vals;
                    self.canonicalize();
                    return;
                }
                None => {
                    fill.clear();
                    level += 1;
                }
            }
        }
    }
}

fn narrow_small(v: Vec<i64>) -> Vals {
    if v.iter().all(|&x| i8::try_from(x).is_ok()) {
        Vals::Tiny(v.iter().map(|&x| x as i8).collect())
    } else {
        Vals::Small(v)
    }
}

fn narrow_wide(v: Vec<i128>) -> Vals {
    if v.iter().all(|&x| i64::try_from(x).is_ok()) {
        narrow_small(v.iter().map(|&x| x as i64).collect())
    } else {
        Vals::Wide(v)
    }
}

fn narrow_big(v: Vec<BigInt>) -> Vals {
    if v.iter().all(|x| x.to_i64().is_some()) {
        narrow_small(v.iter().map(|x| x.to_i64().unwrap_or(0)).collect())
    } else if v.iter().all(|x| x.to_i128().is_some()) {
        Vals::Wide(v.iter().map(|x| x.to_i128().unwrap_or(0)).collect())
    } else {
        Vals::Big(v)
    }
}

/// Divides by the gcd and makes the first entry positive; false on overflow (untouched).
fn canon<T: Int>(v: &mut [T]) -> bool {
    let Some(first) = v.first() else { return true };
    let mut g = first.clone();
    for x in v.iter().skip(1) {
        if g.is_one_() {
            break;
        }
        match g.gcd_(x) {
            Some(n) => g = n,
            None => return false,
        }
    }
    let Some(mut g) = g.gcd_(&g.clone()) else { return false };
    if first.is_neg() {
        match g.neg_() {
            Some(n) => g = n,
            None => return false,
        }
    }
    if g.is_one_() {
        return true;
    }
    // Check that negation cannot overflow: dividing by ±g with |g| ≥ 1 never overflows
    // except MIN / -1, which g = -1 excludes after the is_one check only for positive g.
    if g.neg_().is_none() {
        return false;
    }
    for x in v.iter_mut() {
        *x = x.div_(&g);
    }
    true
}

type Elim<T> = Option<(Vec<u32>, Vec<T>)>;

fn elim<T: Int>(cr: &[u32], cv: &[T], pr: &[u32], pv: &[T], r: u32, fill: &mut Vec<u32>) -> Elim<T> {
    let mut rows = Vec::with_capacity(cr.len() + pr.len());
    let mut vals = Vec::with_capacity(cr.len() + pr.len());
    elim_into(cr, cv, pr, pv, r, fill, &mut rows, &mut vals)?;
    Some((rows, vals))
}

/// `(a/g)·c − (b/g)·p` into `rows`/`vals` (cleared first); `None` on overflow or when `r` is
/// not a row of both.
#[expect(clippy::too_many_arguments, reason = "two sparse operands, the pivot row and three outputs")]
fn elim_into<T: Int>(
    cr: &[u32],
    cv: &[T],
    pr: &[u32],
    pv: &[T],
    r: u32,
    fill: &mut Vec<u32>,
    rows: &mut Vec<u32>,
    vals: &mut Vec<T>,
) -> Option<()> {
    rows.clear();
    vals.clear();
    let pos = cr.binary_search(&r).ok()?;
    let a = &pv[pr.binary_search(&r).ok()?];
    let b = &cv[pos];
    let g = a.gcd_(b)?;
    let mut fa = a.div_(&g);
    let mut fb = b.div_(&g);
    if fa.is_neg() {
        fa = fa.neg_()?;
        fb = fb.neg_()?;
    }
    let fa_one = fa.is_one_();
    rows.reserve(cr.len() + pr.len());
    vals.reserve(cr.len() + pr.len());
    // Runs of rows only one side holds are copied in one go (our entries as they are when the
    // factor is 1, the pivot's as fill): long columns updated by short pivots, and the other
    // way round, cost little more than a copy.
    let fb_one = fb.is_one_();
    let (mut i, mut k) = (0usize, 0usize);
    while i < cr.len() && k < pr.len() {
        let (ci, pk) = (cr[i], pr[k]);
        if ci < pk {
            let mut e = i + 1;
            while e < cr.len() && cr[e] < pk {
                e += 1;
            }
            rows.extend_from_slice(&cr[i..e]);
            if fa_one {
                vals.extend_from_slice(&cv[i..e]);
            } else {
                for x in &cv[i..e] {
                    vals.push(x.mul_(&fa)?);
                }
            }
            i = e;
        } else if pk < ci {
            let mut e = k + 1;
            while e < pr.len() && pr[e] < ci {
                e += 1;
            }
            push_fill(&pr[k..e], &pv[k..e], &fb, fb_one, fill, rows, vals)?;
            k = e;
        } else {
            let scaled = if fa_one { cv[i].clone() } else { cv[i].mul_(&fa)? };
            let v = if fb_one { scaled.sub_(&pv[k])? } else { scaled.sub_(&fb.mul_(&pv[k])?)? };
            if !v.is_zero_() {
                rows.push(ci);
                vals.push(v);
            }
            i += 1;
            k += 1;
        }
    }
    if i < cr.len() {
        rows.extend_from_slice(&cr[i..]);
        if fa_one {
            vals.extend_from_slice(&cv[i..]);
        } else {
            for x in &cv[i..] {
                vals.push(x.mul_(&fa)?);
            }
        }
    }
    if k < pr.len() {
        push_fill(&pr[k..], &pv[k..], &fb, fb_one, fill, rows, vals)?;
    }
    Some(())
}

/// Appends `−fb·p` on rows only the pivot holds (fill-in). `fb` is never zero (it is our entry
/// at the pivot row over a gcd), so no entry cancels.
fn push_fill<T: Int>(
    pr: &[u32],
    pv: &[T],
    fb: &T,
    fb_one: bool,
    fill: &mut Vec<u32>,
    rows: &mut Vec<u32>,
    vals: &mut Vec<T>,
) -> Option<()> {
    rows.extend_from_slice(pr);
    fill.extend_from_slice(pr);
    for x in pv {
        vals.push(if fb_one { x.neg_()? } else { fb.mul_(x)?.neg_()? });
    }
    Some(())
}

/// A small fast hasher (FxHash-like), deterministic across runs.
#[derive(Default)]
pub(crate) struct Fx(pub(crate) u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl Fx {
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eliminate_cancels_the_pivot_row_and_canonicalizes() {
        let mut c = Col::from_parts(vec![0, 2, 3], vec![2, 4, 6]); // -> 1,2,3
        let p = Col::from_parts(vec![0, 1], vec![1, 1]);
        let mut fill = Vec::new();
        let mut pr = Promotions::default();
        c.eliminate(&p, &mut fill, &mut pr);
        assert_eq!(c.rows, vec![1, 2, 3]);
        assert_eq!(c.vals, Vals::Tiny(vec![1, -2, -3])); // -1,2,3 → sign flipped
        assert_eq!(fill, vec![1]);
    }

    #[test]
    fn overflow_promotes_to_wider_integers() {
        let big = i64::MAX / 2 + 1;
        let mut c = Col { rows: vec![0, 1], vals: Vals::Small(vec![3, big]) };
        let p = Col { rows: vec![0, 1], vals: Vals::Small(vec![big - 1, 1]) };
        let mut fill = Vec::new();
        let mut pr = Promotions::default();
        c.eliminate(&p, &mut fill, &mut pr);
        assert_eq!(c.rows, vec![1]);
        assert_eq!(c.vals, Vals::Tiny(vec![1]));
        assert!(pr.to_i128 + pr.to_bigint >= 1);
    }

    #[test]
    fn tiny_entries_widen_on_overflow_and_narrow_back() {
        // 100 − (−100) overflows i8: the update is redone in i64 and stays there.
        let mut c = Col::from_parts(vec![0, 1], vec![1, 100]);
        let p = Col::from_parts(vec![0, 1], vec![1, -100]);
        assert!(matches!(c.vals, Vals::Tiny(_)));
        let (mut fill, mut pr, mut scratch) = (Vec::new(), Promotions::default(), Scratch::default());
        c.eliminate_with(&p, 0, &mut fill, &mut pr, &mut scratch);
        assert_eq!(c.rows, vec![1]);
        assert_eq!(c.vals, Vals::Tiny(vec![1])); // 200, canonical: 1
        let mut c = Col::from_parts(vec![0, 1, 2], vec![1, 100, 3]);
        c.eliminate_with(&p, 0, &mut fill, &mut pr, &mut scratch);
        assert_eq!(c.vals, Vals::Small(vec![200, 3]));
        // The same update from i64 entries gives the same column.
        let mut d = Col { rows: vec![0, 1, 2], vals: Vals::Small(vec![1, 100, 3]) };
        d.eliminate_at(&p, 0, &mut fill, &mut pr);
        assert_eq!(c, d);
    }
}
