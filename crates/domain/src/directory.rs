//! The TSB service directory ("the map of TSB"): for each unit of the organisation tree, the
//! services it offers over a period — treatment levels, beds, special functions, where it is and
//! how to refer — so referrers and leaders can find the right service. The facts are public;
//! register staff record them, a new period at a time (the history is kept).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// The treatment levels a unit offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentLevel {
    Outpatient,
    Day,
    Inpatient,
    Ambulatory,
    Detoxification,
    Assessment,
}

impl TreatmentLevel {
    pub const ALL: [TreatmentLevel; 6] =
        [Self::Outpatient, Self::Day, Self::Inpatient, Self::Ambulatory, Self::Detoxification, Self::Assessment];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outpatient => "outpatient",
            Self::Day => "day",
            Self::Inpatient => "inpatient",
            Self::Ambulatory => "ambulatory",
            Self::Detoxification => "detoxification",
            Self::Assessment => "assessment",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == raw)
    }

    /// The name in bokmål.
    pub fn name_no(self) -> &'static str {
        match self {
            Self::Outpatient => "poliklinikk",
            Self::Day => "dagbehandling",
            Self::Inpatient => "døgnbehandling",
            Self::Ambulatory => "ambulant behandling",
            Self::Detoxification => "avrusning",
            Self::Assessment => "utredning",
        }
    }

    /// The name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Self::Outpatient => "outpatient",
            Self::Day => "day treatment",
            Self::Inpatient => "inpatient",
            Self::Ambulatory => "ambulatory",
            Self::Detoxification => "detoxification",
            Self::Assessment => "assessment",
        }
    }
}

/// The special functions a unit may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialFunction {
    /// Opioid substitution treatment (legemiddelassistert rehabilitering).
    Lar,
    /// TSB for young people.
    Youth,
    /// Services in prison.
    Prison,
    /// Follow-up after an overdose.
    OverdoseFollowUp,
    /// Services for families and relatives.
    Family,
}

impl SpecialFunction {
    pub const ALL: [SpecialFunction; 5] = [Self::Lar, Self::Youth, Self::Prison, Self::OverdoseFollowUp, Self::Family];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lar => "lar",
            Self::Youth => "youth",
            Self::Prison => "prison",
            Self::OverdoseFollowUp => "overdose_follow_up",
            Self::Family => "family",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }

    pub fn name_no(self) -> &'static str {
        match self {
            Self::Lar => "LAR (legemiddelassistert rehabilitering)",
            Self::Youth => "TSB for unge",
            Self::Prison => "tjenester i fengsel",
            Self::OverdoseFollowUp => "oppfølging etter overdose",
            Self::Family => "tilbud til familie og pårørende",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Self::Lar => "opioid substitution treatment (LAR)",
            Self::Youth => "TSB for young people",
            Self::Prison => "services in prison",
            Self::OverdoseFollowUp => "follow-up after an overdose",
            Self::Family => "services for families and relatives",
        }
    }
}

/// The most beds a unit can have (a sanity bound, far above any real unit).
pub const MAX_BEDS: i32 = 2_000;
/// The longest free text (address, how to refer).
pub const MAX_TEXT: usize = 1_000;

/// A unit's service facts from `valid_from`, as submitted (codes as text, checked by
/// [`ServiceFacts::check`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFactsInput {
    pub valid_from: NaiveDate,
    pub treatment_levels: Vec<String>,
    pub beds: Option<i32>,
    pub special_functions: Vec<String>,
    pub municipality_number: String,
    pub municipality_name: String,
    pub address: String,
    pub postal_code: Option<String>,
    pub postal_place: Option<String>,
    pub phone: Option<String>,
    pub referral: String,
    /// Made-up values for the demo, shown as such.
    pub demo: bool,
}

/// A unit's service facts from `valid_from`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFacts {
    pub valid_from: NaiveDate,
    pub treatment_levels: Vec<TreatmentLevel>,
    pub beds: Option<i32>,
    pub special_functions: Vec<SpecialFunction>,
    pub municipality_number: String,
    pub municipality_name: String,
    pub address: String,
    pub postal_code: Option<String>,
    pub postal_place: Option<String>,
    pub phone: Option<String>,
    pub referral: String,
    pub demo: bool,
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

impl ServiceFacts {
    /// Checks every field, with `prefix` before each field's name (`""` for a JSON body,
    /// `rows[7].` for a CSV line); every error at once.
    pub fn check(input: &ServiceFactsInput, prefix: &str) -> Result<ServiceFacts, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, code: &str, message: String| {
            errors.push(FieldError::new(format!("{prefix}{field}"), code, message));
        };
        let mut levels = Vec::new();
        for raw in &input.treatment_levels {
            match TreatmentLevel::parse(raw.trim()) {
                Some(l) if !levels.contains(&l) => levels.push(l),
                Some(_) => bad("treatment_levels", "duplicate", "a treatment level is listed twice".into()),
                None => bad(
                    "treatment_levels",
                    "code_list",
                    format!(
                        "treatment levels are among {}",
                        TreatmentLevel::ALL.map(TreatmentLevel::as_str).join(", ")
                    ),
                ),
            }
        }
        if input.treatment_levels.is_empty() {
            bad("treatment_levels", "required", "at least one treatment level".into());
        }
        let mut functions = Vec::new();
        for raw in &input.special_functions {
            match SpecialFunction::parse(raw.trim()) {
                Some(f) if !functions.contains(&f) => functions.push(f),
                Some(_) => bad("special_functions", "duplicate", "a special function is listed twice".into()),
                None => bad(
                    "special_functions",
                    "code_list",
                    format!(
                        "special functions are among {}",
                        SpecialFunction::ALL.map(SpecialFunction::as_str).join(", ")
                    ),
                ),
            }
        }
        match input.beds {
            Some(b) if !(0..=MAX_BEDS).contains(&b) => {
                bad("beds", "range", format!("beds is between 0 and {MAX_BEDS}"))
            }
            Some(b)
                if b > 0
                    && !levels.contains(&TreatmentLevel::Inpatient)
                    && !levels.contains(&TreatmentLevel::Detoxification) =>
            {
                bad("beds", "consistency", "beds are for units that offer inpatient treatment or detoxification".into())
            }
            None if levels.contains(&TreatmentLevel::Inpatient) => {
                bad("beds", "required", "a unit with inpatient treatment states its beds".into())
            }
            _ => {}
        }
        if !digits(&input.municipality_number, 4) || input.municipality_number == "0000" {
            bad("municipality_number", "format", "the municipality number has four digits".into());
        }
        let mut text = |field: &str, value: &str, required: bool| {
            if required && value.trim().is_empty() {
                bad(field, "required", format!("{field} is required"));
            } else if value.chars().count() > MAX_TEXT {
                bad(field, "length", format!("{field} has at most {MAX_TEXT} characters"));
            } else if value.chars().any(|c| c.is_control() && c != '\n') {
                bad(field, "format", format!("{field} has no control characters"));
            }
        };
        text("municipality_name", &input.municipality_name, true);
        text("address", &input.address, true);
        text("referral", &input.referral, true);
        text("postal_place", input.postal_place.as_deref().unwrap_or(""), false);
        text("phone", input.phone.as_deref().unwrap_or(""), false);
        if let Some(code) = &input.postal_code {
            if !digits(code, 4) {
                bad("postal_code", "format", "the postal code has four digits".into());
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        levels.sort();
        functions.sort();
        let trimmed = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(ServiceFacts {
            valid_from: input.valid_from,
            treatment_levels: levels,
            beds: input.beds,
            special_functions: functions,
            municipality_number: input.municipality_number.clone(),
            municipality_name: input.municipality_name.trim().to_owned(),
            address: input.address.trim().to_owned(),
            postal_code: trimmed(&input.postal_code),
            postal_place: trimmed(&input.postal_place),
            phone: trimmed(&input.phone),
            referral: input.referral.trim().to_owned(),
            demo: input.demo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ServiceFactsInput {
        ServiceFactsInput {
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            treatment_levels: vec!["inpatient".into(), "outpatient".into()],
            beds: Some(12),
            special_functions: vec!["lar".into()],
            municipality_number: "0301".into(),
            municipality_name: "Oslo".into(),
            address: "Gata 1".into(),
            postal_code: Some("0150".into()),
            postal_place: Some("Oslo".into()),
            phone: None,
            referral: "Henvisning fra fastlege.".into(),
            demo: true,
        }
    }

    #[test]
    fn good_facts_are_sorted_and_trimmed() {
        let f = ServiceFacts::check(&input(), "").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(f.treatment_levels, vec![TreatmentLevel::Outpatient, TreatmentLevel::Inpatient]);
        assert_eq!(f.special_functions, vec![SpecialFunction::Lar]);
    }

    #[test]
    fn every_bad_field_is_reported_at_once_with_its_prefix() {
        let mut i = input();
        i.treatment_levels = vec!["spa".into()];
        i.special_functions = vec!["lar".into(), "lar".into()];
        i.beds = Some(-1);
        i.municipality_number = "301".into();
        i.address = " ".into();
        i.postal_code = Some("x".into());
        let errors = ServiceFacts::check(&i, "rows[3].").err().unwrap_or_default();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rows[3].treatment_levels",
                "rows[3].special_functions",
                "rows[3].beds",
                "rows[3].municipality_number",
                "rows[3].address",
                "rows[3].postal_code"
            ]
        );
    }

    #[test]
    fn beds_follow_the_levels() {
        let mut i = input();
        i.beds = None;
        assert_eq!(ServiceFacts::check(&i, "").err().unwrap_or_default()[0].code, "required");
        i.treatment_levels = vec!["outpatient".into()];
        i.beds = Some(4);
        assert_eq!(ServiceFacts::check(&i, "").err().unwrap_or_default()[0].code, "consistency");
        i.beds = Some(0);
        assert!(ServiceFacts::check(&i, "").is_ok());
    }
}
