//! The measurement point (målepunkt, docs/domain.md, Measurement point), repeated during treatment.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::check::Checker;
use super::codes;
use super::substance::{null_as_empty, BlockUse, SubstanceUse};
use super::{check_event_date, FormContext, FormKind};
use crate::error::FieldError;

/// The fields of a measurement point. All optional, so that a draft may be partial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// The date of the measurement.
    pub event_date: Option<NaiveDate>,
    /// [`codes::TREATMENT_LEVEL`]: the level at this point.
    pub treatment_level: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub treatment_plan: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub crisis_plan: Option<i16>,
    /// [`codes::SCALE_1_5`]: the patient's benefit from treatment; 4–5 = large.
    pub benefit: Option<i16>,
    /// [`codes::YES_NO`].
    pub feedback_tool_used: Option<i16>,
    /// [`codes::NEEDS_FOLLOWED_UP`].
    pub needs_followed_up: Option<i16>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub substance_use: SubstanceUse,
    /// [`codes::HOUSING`].
    pub housing: Option<i16>,
    /// [`codes::OCCUPATION`].
    pub occupation: Option<i16>,
}

impl Measurement {
    /// Types, ranges and code lists only: what a draft must satisfy.
    pub fn validate_draft(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        c.finish()
    }

    /// Every rule, all failing fields at once; empty means the form may be completed.
    pub fn validate_complete(&self, ctx: &FormContext) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        check_event_date(&mut c, FormKind::Measurement, self.event_date, ctx);
        c.required("treatment_level", &self.treatment_level);
        c.required("treatment_plan", &self.treatment_plan);
        c.required("crisis_plan", &self.crisis_plan);
        c.required("benefit", &self.benefit);
        c.required("feedback_tool_used", &self.feedback_tool_used);
        c.required("needs_followed_up", &self.needs_followed_up);
        self.substance_use.check_complete(&mut c, BlockUse::Other);
        c.required("housing", &self.housing);
        c.required("occupation", &self.occupation);
        c.finish()
    }

    fn check_draft(&self, c: &mut Checker) {
        c.code("treatment_level", self.treatment_level, codes::TREATMENT_LEVEL);
        c.code("treatment_plan", self.treatment_plan, codes::YES_NO_UNKNOWN);
        c.code("crisis_plan", self.crisis_plan, codes::YES_NO_UNKNOWN);
        c.range("benefit", self.benefit, codes::SCALE_1_5);
        c.code("feedback_tool_used", self.feedback_tool_used, codes::YES_NO);
        c.code("needs_followed_up", self.needs_followed_up, codes::NEEDS_FOLLOWED_UP);
        self.substance_use.check_draft(c, BlockUse::Other);
        c.code("housing", self.housing, codes::HOUSING);
        c.code("occupation", self.occupation, codes::OCCUPATION);
    }
}
