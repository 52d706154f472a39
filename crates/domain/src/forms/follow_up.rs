//! The one-year follow-up (ettårsoppfølging, docs/domain.md, Follow-up).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::check::Checker;
use super::codes;
use super::discharge::check_none_excludes_others;
use super::substance::{null_as_empty, BlockUse, SubstanceUse};
use super::{check_event_date, follow_up_warnings, FormContext, FormKind};
use crate::error::FieldError;
use crate::pathways::FollowUpOutcome;

/// The fields of a follow-up. All optional, so that a draft may be partial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// The date of the follow-up (of the contact, or of the last attempt).
    pub event_date: Option<NaiveDate>,
    /// [`codes::OUTCOME`]: 5 followed up, 6 not reached, 7 declined.
    pub outcome: Option<i16>,
    /// Required when followed up; empty otherwise.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub substance_use: SubstanceUse,
    /// [`codes::HOUSING`]; required when followed up, empty otherwise.
    pub housing: Option<i16>,
    /// [`codes::OCCUPATION`]; required when followed up, empty otherwise.
    pub occupation: Option<i16>,
    /// A set of [`codes::FOLLOW_UP_SERVICES`] (7 excludes the others); required when followed
    /// up, empty otherwise.
    pub received_follow_up: Option<Vec<i16>>,
    /// [`codes::SCALE_1_5`]; required when followed up, empty otherwise.
    pub self_rated_life_situation: Option<i16>,
}

impl FollowUp {
    /// Types, ranges and code lists only: what a draft must satisfy.
    pub fn validate_draft(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        c.finish()
    }

    /// Every rule, all failing fields at once; empty means the form may be completed. Needs a
    /// completed discharge with ending 3 or 4 and contact consent, and a date at least 300 days
    /// after it (`ctx`).
    pub fn validate_complete(&self, ctx: &FormContext) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        check_event_date(&mut c, FormKind::FollowUp, self.event_date, ctx);
        c.required("outcome", &self.outcome);
        match self.outcome.and_then(FollowUpOutcome::from_code) {
            Some(FollowUpOutcome::FollowedUp) => {
                self.substance_use.check_complete(&mut c, BlockUse::Other);
                c.required("housing", &self.housing);
                c.required("occupation", &self.occupation);
                c.required_non_empty("received_follow_up", &self.received_follow_up);
                c.required("self_rated_life_situation", &self.self_rated_life_situation);
            }
            Some(_) => {
                let why = "unless the patient was followed up (outcome 5)";
                if !self.substance_use.is_empty() {
                    c.push(codes_block(), "conflict_rule", format!("must be empty {why}"));
                }
                c.absent("housing", &self.housing, why);
                c.absent("occupation", &self.occupation, why);
                c.absent("received_follow_up", &self.received_follow_up, why);
                c.absent("self_rated_life_situation", &self.self_rated_life_situation, why);
            }
            None => {}
        }
        check_none_excludes_others(&mut c, "received_follow_up", self.received_follow_up.as_deref());
        c.finish()
    }

    /// Warnings that do not stop completion: a follow-up dated more than 14 months after the
    /// discharge (code `late`, on `event_date`).
    pub fn warnings(&self, ctx: &FormContext) -> Vec<FieldError> {
        follow_up_warnings(self.event_date, ctx)
    }

    fn check_draft(&self, c: &mut Checker) {
        c.code("outcome", self.outcome, codes::OUTCOME);
        self.substance_use.check_draft(c, BlockUse::Other);
        c.code("housing", self.housing, codes::HOUSING);
        c.code("occupation", self.occupation, codes::OCCUPATION);
        c.code_set("received_follow_up", self.received_follow_up.as_deref(), codes::FOLLOW_UP_SERVICES);
        c.range("self_rated_life_situation", self.self_rated_life_situation, codes::SCALE_1_5);
    }
}

fn codes_block() -> &'static str {
    super::substance::BLOCK
}
