//! The discharge form (avslutning, docs/domain.md, Discharge): how the pathway ended and what follows.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::check::Checker;
use super::codes;
use super::substance::{null_as_empty, BlockUse, SubstanceUse};
use super::{check_event_date, CompletedDischarge, FormContext, FormKind};
use crate::error::FieldError;
use crate::pathways::DischargeEnding;

/// The fields of a discharge. All optional, so that a draft may be partial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discharge {
    /// The discharge date.
    pub event_date: Option<NaiveDate>,
    /// [`codes::ENDING`]: 2 transferred outside the register, 3 broken off, 4 mutual agreement.
    pub ending: Option<i16>,
    /// A set of [`codes::FOLLOW_UP_SERVICES`]; 7 (none) excludes the others.
    pub agreed_follow_up: Option<Vec<i16>>,
    /// [`codes::YES_NO_UNKNOWN`]; required when the treatment was broken off.
    pub municipality_informed: Option<i16>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub substance_use: SubstanceUse,
    /// [`codes::HOUSING`].
    pub housing: Option<i16>,
    /// [`codes::OCCUPATION`].
    pub occupation: Option<i16>,
    /// [`codes::SCALE_1_5`]; required unless the treatment was broken off.
    pub satisfaction: Option<i16>,
    /// [`codes::YES_NO`]: may the register contact the patient in a year; required when the
    /// ending leads to a follow-up (3 or 4).
    pub contact_consent_1y: Option<i16>,
}

impl Discharge {
    /// Types, ranges and code lists only: what a draft must satisfy.
    pub fn validate_draft(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        c.finish()
    }

    /// Every rule, all failing fields at once; empty means the form may be completed. Needs a
    /// completed baseline or measurement on the pathway (`ctx`).
    pub fn validate_complete(&self, ctx: &FormContext) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        check_event_date(&mut c, FormKind::Discharge, self.event_date, ctx);
        c.required("ending", &self.ending);
        let ending = self.ending.and_then(DischargeEnding::from_code);
        c.required_non_empty("agreed_follow_up", &self.agreed_follow_up);
        check_none_excludes_others(&mut c, "agreed_follow_up", self.agreed_follow_up.as_deref());
        if ending == Some(DischargeEnding::BrokenOff) {
            c.required("municipality_informed", &self.municipality_informed);
        }
        self.substance_use.check_complete(&mut c, BlockUse::Other);
        c.required("housing", &self.housing);
        c.required("occupation", &self.occupation);
        if ending.is_some_and(|e| e != DischargeEnding::BrokenOff) {
            c.required("satisfaction", &self.satisfaction);
        }
        if ending.is_some_and(DischargeEnding::gets_follow_up) {
            c.required("contact_consent_1y", &self.contact_consent_1y);
        }
        c.finish()
    }

    /// The facts a follow-up and the worklist need, when the ending is valid and the form has a
    /// date. Call it on a completed discharge.
    pub fn completed_facts(&self) -> Option<CompletedDischarge> {
        Some(CompletedDischarge {
            date: self.event_date?,
            ending: DischargeEnding::from_code(self.ending?)?,
            contact_consent_1y: self.contact_consent_1y == Some(codes::YES),
        })
    }

    fn check_draft(&self, c: &mut Checker) {
        c.code("ending", self.ending, codes::ENDING);
        c.code_set("agreed_follow_up", self.agreed_follow_up.as_deref(), codes::FOLLOW_UP_SERVICES);
        c.code("municipality_informed", self.municipality_informed, codes::YES_NO_UNKNOWN);
        self.substance_use.check_draft(c, BlockUse::Other);
        c.code("housing", self.housing, codes::HOUSING);
        c.code("occupation", self.occupation, codes::OCCUPATION);
        c.range("satisfaction", self.satisfaction, codes::SCALE_1_5);
        c.code("contact_consent_1y", self.contact_consent_1y, codes::YES_NO);
    }
}

/// `conflict_rule`: 7 (none) excludes every other service.
pub(crate) fn check_none_excludes_others(c: &mut Checker, field: &str, set: Option<&[i16]>) {
    if let Some(set) = set {
        if set.contains(&codes::NO_SERVICES) && set.iter().any(|v| *v != codes::NO_SERVICES) {
            c.push(field, "conflict_rule", "7 (none) cannot be combined with other services");
        }
    }
}
