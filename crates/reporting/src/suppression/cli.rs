//! Entry points for `rusreg suppress` and `rusreg audit`: read a case file in the reference
//! JSON format, suppress or audit it, and return a one-line summary.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::auditor::{audit_flags, AuditOptions, AuditReport};
use super::format::Case;
use super::primary::PrimaryRule;
use super::secondary::{suppress, SuppressOptions};
use super::SuppressionError;

/// Errors of the CLI entry points.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The case or a setting is invalid.
    #[error(transparent)]
    Suppression(#[from] SuppressionError),
}

fn read(input: &Path) -> Result<Case, CliError> {
    let text = std::fs::read_to_string(input).map_err(|source| CliError::Io { path: input.to_owned(), source })?;
    Ok(Case::from_json(&text)?)
}

fn rule_for(case: &Case, min_cell: Option<u32>) -> PrimaryRule {
    match min_cell {
        Some(k) => PrimaryRule::new(k),
        None => case.rule(),
    }
}

/// Result of `rusreg suppress`.
#[derive(Debug, Clone)]
pub struct SuppressSummary {
    /// Case name.
    pub name: String,
    /// Published cells of the input.
    pub cells: usize,
    /// Primary cells.
    pub primary: usize,
    /// Secondary cells.
    pub secondary: usize,
    /// Strict policy used.
    pub strict: bool,
    /// The rule used.
    pub rule: PrimaryRule,
    /// The audit of the result.
    pub audit: AuditReport,
    /// Engine time (elimination incl. primary rule and candidate order).
    pub engine_time: Duration,
    /// Time to read the file and build X.
    pub model_time: Duration,
    /// The output JSON when no output path was given (the binary prints it to stdout).
    pub json: Option<String>,
}

impl fmt::Display for SuppressSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "suppress {}: {} cells, {} primary, {} secondary ({} suppressed), k = {}{}{}; audit {} ({} disclosures, {} group, {} insider); model {:.1} ms, engine {:.1} ms, audit {:.1} ms",
            self.name,
            self.cells,
            self.primary,
            self.secondary,
            self.primary + self.secondary,
            self.rule.min_cell,
            if self.rule.protect_zeros { ", zeros protected" } else { "" },
            if self.strict { ", strict" } else { "" },
            if self.audit.passes() { "passed" } else { "FAILED" },
            self.audit.disclosures.len(),
            self.audit.group_disclosures.len(),
            self.audit.insider.len(),
            ms(self.model_time),
            ms(self.engine_time),
            ms(self.audit.elapsed),
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `rusreg suppress --input CASE.json [--min-cell K] [--output OUT.json] [--strict]`: reads a
/// case (flags in it are ignored), applies the rule of the file's `parameters` (`maxN`,
/// `protectZeros`) or `0 < n < K` when `min_cell` is given, suppresses, audits the result and
/// writes the case with `primary`, `suppressed`, `secondary`, `candidate_rank` and an `audit`
/// object to `output`; when `output` is `None` the JSON is returned in
/// [`SuppressSummary::json`] for the caller to print. The release floor of k ≥ 3 is not
/// applied here, so every reference case runs.
pub fn suppress_file(
    input: &Path,
    min_cell: Option<u32>,
    output: Option<&Path>,
    strict: bool,
) -> Result<SuppressSummary, CliError> {
    let t0 = std::time::Instant::now();
    let case = read(input)?;
    let model = case.model()?;
    let model_time = t0.elapsed();
    let rule = rule_for(&case, min_cell);
    let opts = SuppressOptions { rule, strict, ..Default::default() };
    let pattern = suppress(&model, &opts)?;
    let suppressed: Vec<bool> = (0..model.ncells()).map(|j| pattern.is_suppressed(j)).collect();
    let report = audit_flags(&model, &suppressed, &AuditOptions { rule, strict, ..Default::default() });
    let mut settings = Map::new();
    settings.insert("min_cell".into(), Value::from(rule.min_cell));
    settings.insert("protect_zeros".into(), Value::from(rule.protect_zeros));
    settings.insert("strict".into(), Value::from(strict));
    settings.insert("engine".into(), Value::from("rusreg Gaussian elimination (anySum, zero propagation)"));
    let text = case.to_json(&model, Some(&pattern), Some(&report), Value::Object(settings));
    let json = match output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|source| CliError::Io { path: path.to_owned(), source })?;
            None
        }
        None => Some(text),
    };
    Ok(SuppressSummary {
        name: case.name.clone(),
        cells: model.ncells(),
        primary: pattern.n_primary(),
        secondary: pattern.n_secondary(),
        strict,
        rule,
        audit: report,
        engine_time: pattern.stats.elapsed,
        model_time,
        json,
    })
}

/// Result of `rusreg audit` on a file (not the `releases::AuditSummary` stored with a release).
#[derive(Debug, Clone)]
pub struct AuditFileSummary {
    /// Case name.
    pub name: String,
    /// The rule used.
    pub rule: PrimaryRule,
    /// Suppressed cells in the file.
    pub suppressed: usize,
    /// The report.
    pub report: AuditReport,
}

impl AuditFileSummary {
    /// Whether a suppressed primary can be computed (level a): the command exits non-zero.
    pub fn has_disclosure(&self) -> bool {
        !self.report.disclosures.is_empty()
    }
}

impl fmt::Display for AuditFileSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit {}: {} cells, {} primary, {} secondary, k = {}{}; {} disclosures, {} group disclosures, {} insider findings, {} known inner cells; {:.1} ms",
            self.name,
            self.report.cells,
            self.report.primary,
            self.report.secondary,
            self.rule.min_cell,
            if self.rule.protect_zeros { ", zeros protected" } else { "" },
            self.report.disclosures.len(),
            self.report.group_disclosures.len(),
            self.report.insider.len(),
            self.report.known_inner_cells,
            ms(self.report.elapsed),
        )
    }
}

/// `rusreg audit --input CASE.json [--min-cell K]`: audits the `suppressed` flags of the file
/// with the file's rule (or `0 < n < K`).
pub fn audit_file(input: &Path, min_cell: Option<u32>) -> Result<AuditFileSummary, CliError> {
    let case = read(input)?;
    let model = case.model()?;
    let rule = rule_for(&case, min_cell);
    let flags = case.suppressed_flags();
    let report = audit_flags(&model, &flags, &AuditOptions { rule, ..Default::default() });
    Ok(AuditFileSummary { name: case.name.clone(), rule, suppressed: flags.iter().filter(|&&s| s).count(), report })
}
