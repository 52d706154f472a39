//! rusreg reporting: indicators, completeness and coverage, the table model, primary and
//! secondary suppression, the independent disclosure auditor, releases and exports.

pub mod suppression;
