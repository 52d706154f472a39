//! The baseline form (basisregistrering, docs/domain.md, Baseline): part 1 by the clinician, part
//! 2 answered by the patient.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::check::Checker;
use super::codes::{self, Icd10Rule};
use super::substance::{null_as_empty, BlockUse, SubstanceUse};
use super::{check_event_date, FormContext, FormKind};
use crate::error::FieldError;

/// The fields of a baseline. All optional, so that a draft may be partial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The date of the registration.
    pub event_date: Option<NaiveDate>,
    // ---- part 1, the clinician ----
    /// Any ICD-10 code.
    pub referral_diagnosis: Option<String>,
    /// ICD-10 F10–F19 with a 4th character; completing needs at least one F1x.1 or F1x.2 other
    /// than F17.
    pub substance_diagnoses: Option<Vec<String>>,
    /// ICD-10 chapter F, not F1x. An empty list means "none".
    pub psychiatric_diagnoses: Option<Vec<String>>,
    /// ICD-10 outside chapter F. An empty list means "none".
    pub somatic_diagnoses: Option<Vec<String>>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub somatic_health_assessed: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub mental_health_assessed: Option<i16>,
    /// [`codes::YES_NO`].
    pub in_lar: Option<i16>,
    /// [`codes::LAR_MEDICATION`]; required when `in_lar` is yes, empty otherwise.
    pub lar_medication: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub individual_plan: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub responsibility_group: Option<i16>,
    // ---- part 2, the patient ----
    #[serde(default, deserialize_with = "null_as_empty")]
    pub substance_use: SubstanceUse,
    /// [`codes::YES_NO_UNKNOWN`]; yes when `injected_30d` is yes.
    pub injected_ever: Option<i16>,
    /// [`codes::AUDIT_SCORE`], optional.
    pub audit_score: Option<i16>,
    /// [`codes::DUDIT_SCORE`], optional.
    pub dudit_score: Option<i16>,
    /// [`codes::SCALE_1_5`].
    pub self_rated_severity: Option<i16>,
    /// [`codes::SCALE_1_5`].
    pub self_rated_life_situation: Option<i16>,
    /// [`codes::HOUSING`].
    pub housing: Option<i16>,
    /// [`codes::LIVES_WITH`].
    pub lives_with: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub children_under_18: Option<i16>,
    /// [`codes::OCCUPATION`].
    pub occupation: Option<i16>,
}

impl Baseline {
    /// Types, ranges, code lists and ICD-10 formats only: what a draft must satisfy.
    pub fn validate_draft(&self) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        c.finish()
    }

    /// Every rule: the draft checks, required fields, cross-field rules and the date rules
    /// against `ctx`. Returns every failing field at once; empty means the form may be completed.
    pub fn validate_complete(&self, ctx: &FormContext) -> Vec<FieldError> {
        let mut c = Checker::new();
        self.check_draft(&mut c);
        check_event_date(&mut c, FormKind::Baseline, self.event_date, ctx);

        c.required("referral_diagnosis", &self.referral_diagnosis);
        c.required_non_empty("substance_diagnoses", &self.substance_diagnoses);
        if let Some(list) = self.substance_diagnoses.as_ref().filter(|l| !l.is_empty()) {
            if !list.iter().any(|code| codes::is_qualifying_substance_diagnosis(code)) {
                c.push(
                    "substance_diagnoses",
                    "conflict_rule",
                    "needs at least one F1x.1 (harmful use) or F1x.2 (dependence) other than F17",
                );
            }
        }
        c.required("psychiatric_diagnoses", &self.psychiatric_diagnoses);
        c.required("somatic_diagnoses", &self.somatic_diagnoses);
        c.required("somatic_health_assessed", &self.somatic_health_assessed);
        c.required("mental_health_assessed", &self.mental_health_assessed);
        c.required("in_lar", &self.in_lar);
        match self.in_lar {
            Some(codes::YES) => c.required("lar_medication", &self.lar_medication),
            Some(_) => c.absent("lar_medication", &self.lar_medication, "when the patient is not in LAR"),
            None => {}
        }
        c.required("individual_plan", &self.individual_plan);
        c.required("responsibility_group", &self.responsibility_group);

        self.substance_use.check_complete(&mut c, BlockUse::Baseline);
        c.required("injected_ever", &self.injected_ever);
        if self.substance_use.injected_30d == Some(codes::YES) && self.injected_ever.is_some_and(|v| v != codes::YES) {
            c.push("injected_ever", "conflict_rule", "must be yes when injected_30d is yes");
        }
        c.required("self_rated_severity", &self.self_rated_severity);
        c.required("self_rated_life_situation", &self.self_rated_life_situation);
        c.required("housing", &self.housing);
        c.required("lives_with", &self.lives_with);
        c.required("children_under_18", &self.children_under_18);
        c.required("occupation", &self.occupation);
        c.finish()
    }

    fn check_draft(&self, c: &mut Checker) {
        c.icd10("referral_diagnosis", self.referral_diagnosis.as_ref(), Icd10Rule::Any);
        c.icd10_list("substance_diagnoses", self.substance_diagnoses.as_deref(), Icd10Rule::Substance);
        c.icd10_list("psychiatric_diagnoses", self.psychiatric_diagnoses.as_deref(), Icd10Rule::Psychiatric);
        c.icd10_list("somatic_diagnoses", self.somatic_diagnoses.as_deref(), Icd10Rule::Somatic);
        c.code("somatic_health_assessed", self.somatic_health_assessed, codes::YES_NO_UNKNOWN);
        c.code("mental_health_assessed", self.mental_health_assessed, codes::YES_NO_UNKNOWN);
        c.code("in_lar", self.in_lar, codes::YES_NO);
        c.code("lar_medication", self.lar_medication, codes::LAR_MEDICATION);
        c.code("individual_plan", self.individual_plan, codes::YES_NO_UNKNOWN);
        c.code("responsibility_group", self.responsibility_group, codes::YES_NO_UNKNOWN);
        self.substance_use.check_draft(c, BlockUse::Baseline);
        c.code("injected_ever", self.injected_ever, codes::YES_NO_UNKNOWN);
        c.range("audit_score", self.audit_score, codes::AUDIT_SCORE);
        c.range("dudit_score", self.dudit_score, codes::DUDIT_SCORE);
        c.range("self_rated_severity", self.self_rated_severity, codes::SCALE_1_5);
        c.range("self_rated_life_situation", self.self_rated_life_situation, codes::SCALE_1_5);
        c.code("housing", self.housing, codes::HOUSING);
        c.code("lives_with", self.lives_with, codes::LIVES_WITH);
        c.code("children_under_18", self.children_under_18, codes::YES_NO_UNKNOWN);
        c.code("occupation", self.occupation, codes::OCCUPATION);
    }
}
