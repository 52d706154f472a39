//! Table model, primary and secondary suppression, and the independent disclosure auditor.
//!
//! One release is one [`Model`] (all its tables over shared inner cells). [`suppress`] marks
//! primary cells by the [`PrimaryRule`] and finds secondary cells by exact Gaussian
//! elimination; [`audit`] checks any pattern independently. See `docs/suppression.md`.

pub mod auditor;
pub mod cli;
mod exact;
pub mod format;
mod insider;
pub mod order;
pub mod primary;
pub mod secondary;
pub mod synthetic;
pub mod table;

pub use auditor::{audit, audit_flags, AuditOptions, AuditReport, GroupInsiderFinding};
pub use exact::Promotions;
pub use primary::{ExtraPrimary, PrimaryRule};
pub use secondary::{
    suppress, CandidateOrder, CellStatus, EngineStats, Pattern, PivotRule, Singletons, SuppressOptions,
};
pub use table::{CellRole, Dimension, Model, ModelMatrix, TableBuilder};

/// Errors of the suppression module.
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    /// The table, a cell or a setting is invalid.
    #[error("invalid suppression input: {0}")]
    Invalid(String),
}

impl SuppressionError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        SuppressionError::Invalid(msg.into())
    }
}
