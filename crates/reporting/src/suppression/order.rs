//! Candidate order for secondary suppression (GaussSuppression `CandidatesDefault`): larger
//! cells and cells built from many inner cells are tried for publication first, zeros before
//! everything; ties are broken by cell index, so the order is total and reproducible.

use super::table::{CellRole, Model};

/// The default candidate order over the published cells, as `CandidatesDefault(freq, x,
/// secondaryZeros = FALSE)`: `key = (n+1) + 0.99·tie/max(tie)` with `tie = Xᵀ X (n+1)`, zeros
/// moved to the front, sorted decreasingly and stably. The floating-point steps are done in
/// the same order as the R code, so equal and unequal keys are the same as in R.
pub fn default_order(model: &Model, secondary_zeros: bool) -> Vec<usize> {
    let x = model.matrix();
    let freq = model.freq();
    let cells: Vec<usize> = (0..model.ncells()).filter(|&j| model.role(j) == CellRole::Published).collect();
    let f1 = |j: usize| -> i128 {
        let f = i128::from(freq[j]) + 1;
        if f <= 0 {
            f - 1
        } else {
            f
        }
    };
    // X (n+1): per inner cell, the sum over the published cells containing it.
    let mut xf = vec![0i128; x.nrows()];
    for &j in &cells {
        let v = f1(j);
        for &r in x.col(j) {
            xf[r as usize] += v;
        }
    }
    let tie: Vec<f64> =
        cells.iter().map(|&j| x.col(j).iter().map(|&r| xf[r as usize]).sum::<i128>().abs() as f64).collect();
    let max_tie = tie.iter().copied().fold(0.0f64, f64::max);
    let mut key: Vec<f64> = cells
        .iter()
        .zip(&tie)
        .map(|(&j, &t)| {
            let t = if max_tie > 0.0 { t / max_tie } else { 0.0 };
            (f1(j).abs() as f64) + 0.99 * t
        })
        .collect();
    if !secondary_zeros {
        let max_key = key.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for (k, &j) in key.iter_mut().zip(&cells) {
            if freq[j] == 0 {
                *k += 0.01 + max_key; // = (0.01 + max) + key, as in R (addition commutes)
            }
        }
    }
    let mut idx: Vec<usize> = (0..cells.len()).collect();
    idx.sort_by(|&a, &b| key[b].total_cmp(&key[a]));
    idx.into_iter().map(|i| cells[i]).collect()
}
