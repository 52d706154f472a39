//! rusreg reporting: indicators, completeness and coverage, the table model, primary and
//! secondary suppression, the independent disclosure auditor, releases and exports.

pub mod charts;
pub mod completeness;
pub mod coverage;
pub mod exports;
pub mod history;
pub mod indicators;
pub mod over_time;
pub mod releases;
pub mod research;
pub mod residence;
pub mod small_counts;
pub mod snapshots;
pub mod suppression;
pub mod tree;
