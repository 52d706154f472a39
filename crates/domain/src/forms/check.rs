//! Small helpers that collect every failing field of a form into a `Vec<FieldError>`.

use chrono::NaiveDate;

use super::codes::{self, CodeList, Icd10Rule, IntRange};
use crate::error::FieldError;

/// Collects field errors. Every check pushes at most one error per field it is given.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    pub(crate) errors: Vec<FieldError>,
}

impl Checker {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// `code_list`: the value, when present, is in the list.
    pub(crate) fn code(&mut self, field: &str, value: Option<i16>, list: CodeList) {
        if let Some(v) = value {
            if !codes::in_list(list, v) {
                self.push(field, "code_list", format!("must be one of {}", describe_codes(list)));
            }
        }
    }

    /// `range`: the value, when present, is within the range.
    pub(crate) fn range(&mut self, field: &str, value: Option<i16>, range: IntRange) {
        if let Some(v) = value {
            if !range.contains(v) {
                self.push(field, "range", format!("must be from {} to {}", range.min, range.max));
            }
        }
    }

    /// A set of codes: each in the list, none twice, at most the list's length.
    pub(crate) fn code_set(&mut self, field: &str, value: Option<&[i16]>, list: CodeList) {
        let Some(values) = value else { return };
        for (i, v) in values.iter().enumerate() {
            if !codes::in_list(list, *v) {
                self.push(format!("{field}.{i}"), "code_list", format!("must be one of {}", describe_codes(list)));
            } else if values[..i].contains(v) {
                self.push(format!("{field}.{i}"), "duplicate", "is listed twice");
            }
        }
    }

    /// A list of ICD-10 codes: well formed, allowed by the rule, none twice, not too many.
    pub(crate) fn icd10_list(&mut self, field: &str, value: Option<&[String]>, rule: Icd10Rule) {
        let Some(values) = value else { return };
        if values.len() > codes::MAX_DIAGNOSES {
            self.push(field, "range", format!("must hold at most {} codes", codes::MAX_DIAGNOSES));
        }
        for (i, v) in values.iter().enumerate() {
            self.icd10(&format!("{field}.{i}"), Some(v), rule);
            if values[..i].contains(v) {
                self.push(format!("{field}.{i}"), "duplicate", "is listed twice");
            }
        }
    }

    /// One ICD-10 code: `format`, then `code_list` for the rule.
    pub(crate) fn icd10(&mut self, field: &str, value: Option<&String>, rule: Icd10Rule) {
        let Some(v) = value else { return };
        if !codes::is_icd10(v) {
            self.push(field, "format", "must be an ICD-10 code such as F10.2");
        } else if !rule.allows(v) {
            self.push(field, "code_list", format!("must be {}", rule.describe()));
        }
    }

    /// `required`: the value is present.
    pub(crate) fn required<T>(&mut self, field: &str, value: &Option<T>) {
        if value.is_none() {
            self.push(field, "required", "is required to complete the form");
        }
    }

    /// `required` for a list that must hold at least one entry.
    pub(crate) fn required_non_empty<T>(&mut self, field: &str, value: &Option<Vec<T>>) {
        if value.as_ref().is_none_or(Vec::is_empty) {
            self.push(field, "required", "needs at least one entry to complete the form");
        }
    }

    /// `conflict_rule`: the value must be absent in this situation.
    pub(crate) fn absent<T>(&mut self, field: &str, value: &Option<T>, why: &str) {
        if value.is_some() {
            self.push(field, "conflict_rule", format!("must be empty {why}"));
        }
    }

    /// `date_order`: `date` is not before `earliest`.
    pub(crate) fn not_before(&mut self, field: &str, date: NaiveDate, earliest: NaiveDate, what: &str) {
        if date < earliest {
            self.push(field, "date_order", format!("must not be before {what}"));
        }
    }

    /// `date_order`: `date` is not after `latest`.
    pub(crate) fn not_after(&mut self, field: &str, date: NaiveDate, latest: NaiveDate, what: &str) {
        if date > latest {
            self.push(field, "date_order", format!("must not be after {what}"));
        }
    }

    pub(crate) fn finish(self) -> Vec<FieldError> {
        self.errors
    }
}

/// `1 (yes), 2 (no), 3 (unknown)`, or a range for long lists.
fn describe_codes(list: CodeList) -> String {
    if list.len() > 5 {
        let (first, last) = (list.first().map_or(0, |c| c.0), list.last().map_or(0, |c| c.0));
        return format!("the codes {first}–{last}");
    }
    list.iter().map(|(c, l)| format!("{c} ({l})")).collect::<Vec<_>>().join(", ")
}
