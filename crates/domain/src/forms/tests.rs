//! Tests of the forms: each rule with passing and failing input, and the catalogue's agreement
//! with the structs, the validation and docs/data-dictionary.md.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::catalogue::{self, FieldKind, FieldOwner, Required};
use super::*;
use crate::pathways::FollowUpOutcome;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn pairs(errs: &[FieldError]) -> Vec<(String, String)> {
    errs.iter().map(|e| (e.field.clone(), e.code.clone())).collect()
}

fn has(errs: &[FieldError], field: &str, code: &str) -> bool {
    errs.iter().any(|e| e.field == field && e.code == code)
}

fn entry(substance: i16, freq: i16, route: Option<i16>, debut: Option<i16>) -> SubstanceEntry {
    SubstanceEntry { substance: Some(substance), frequency_30d: Some(freq), route, debut_age: debut }
}

fn block(baseline: bool) -> SubstanceUse {
    let debut = |a| if baseline { Some(a) } else { None };
    SubstanceUse {
        substances: Some(vec![entry(1, 4, Some(3), debut(15)), entry(2, 1, Some(2), debut(14))]),
        main_substance: Some(1),
        injected_30d: Some(2),
        overdose_12m: Some(0),
    }
}

const START: (i32, u32, u32) = (2025, 1, 10);

fn ctx() -> FormContext {
    FormContext::new(d(START.0, START.1, START.2), d(2026, 6, 1))
}

fn baseline() -> Baseline {
    Baseline {
        event_date: Some(d(2025, 1, 20)),
        referral_diagnosis: Some("F10.2".into()),
        substance_diagnoses: Some(vec!["F10.2".into(), "F12.1".into()]),
        psychiatric_diagnoses: Some(vec!["F32.1".into()]),
        somatic_diagnoses: Some(vec![]),
        somatic_health_assessed: Some(1),
        mental_health_assessed: Some(3),
        in_lar: Some(2),
        lar_medication: None,
        individual_plan: Some(1),
        responsibility_group: Some(2),
        substance_use: block(true),
        injected_ever: Some(2),
        audit_score: Some(20),
        dudit_score: None,
        self_rated_severity: Some(4),
        self_rated_life_situation: Some(2),
        housing: Some(2),
        lives_with: Some(1),
        children_under_18: Some(2),
        occupation: Some(7),
    }
}

fn measurement() -> Measurement {
    Measurement {
        event_date: Some(d(2025, 3, 1)),
        treatment_level: Some(1),
        treatment_plan: Some(1),
        crisis_plan: Some(3),
        benefit: Some(4),
        feedback_tool_used: Some(2),
        needs_followed_up: Some(2),
        substance_use: block(false),
        housing: Some(2),
        occupation: Some(2),
    }
}

fn discharge() -> Discharge {
    Discharge {
        event_date: Some(d(2025, 4, 1)),
        ending: Some(4),
        agreed_follow_up: Some(vec![2, 4]),
        municipality_informed: None,
        substance_use: block(false),
        housing: Some(2),
        occupation: Some(2),
        satisfaction: Some(5),
        contact_consent_1y: Some(1),
    }
}

fn follow_up() -> FollowUp {
    FollowUp {
        event_date: Some(d(2026, 4, 1)),
        outcome: Some(5),
        substance_use: block(false),
        housing: Some(1),
        occupation: Some(1),
        received_follow_up: Some(vec![2]),
        self_rated_life_situation: Some(4),
    }
}

fn discharged(ending: DischargeEnding, consent: bool) -> FormContext {
    FormContext {
        baseline_date: Some(d(2025, 1, 20)),
        discharge: Some(CompletedDischarge { date: d(2025, 4, 1), ending, contact_consent_1y: consent }),
        ..ctx()
    }
}

fn with_baseline() -> FormContext {
    FormContext { baseline_date: Some(d(2025, 1, 20)), ..ctx() }
}

// ---------- kinds ----------

#[test]
fn form_kind_names_round_trip() {
    for k in FormKind::ALL {
        assert_eq!(FormKind::parse(k.as_str()), Some(k));
        assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
    }
    assert_eq!(FormKind::FollowUp.as_str(), "follow-up");
}

#[test]
fn form_kind_parse_rejects_other_spellings() {
    for raw in ["follow_up", "Baseline", "followup", ""] {
        assert_eq!(FormKind::parse(raw), None, "{raw}");
    }
    assert!(serde_json::from_value::<FormKind>(json!("follow_up")).is_err());
}

#[test]
fn only_measurements_repeat() {
    assert!(FormKind::Measurement.repeats());
    assert!(!FormKind::Baseline.repeats() && !FormKind::Discharge.repeats() && !FormKind::FollowUp.repeats());
}

#[test]
fn forms_may_start_only_in_fitting_statuses() {
    use TreatmentStatus as S;
    assert!(FormKind::Baseline.may_start(S::Active));
    assert!(!FormKind::Measurement.may_start(S::BrokenOff));
    assert!(!FormKind::Discharge.may_start(S::MutualAgreement));
    assert!(FormKind::FollowUp.may_start(S::BrokenOff));
    assert!(FormKind::FollowUp.may_start(S::MutualAgreement));
    assert!(!FormKind::FollowUp.may_start(S::Active));
    assert!(!FormKind::FollowUp.may_start(S::Transferred));
}

#[test]
fn form_status_names_round_trip() {
    for s in [FormStatus::Draft, FormStatus::Completed] {
        assert_eq!(FormStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(FormStatus::parse("done"), None);
}

// ---------- whole forms ----------

fn all_valid() -> Vec<(FormData, FormContext)> {
    vec![
        (FormData::Baseline(baseline()), ctx()),
        (FormData::Measurement(measurement()), with_baseline()),
        (FormData::Discharge(discharge()), with_baseline()),
        (FormData::FollowUp(follow_up()), discharged(DischargeEnding::MutualAgreement, true)),
    ]
}

#[test]
fn valid_forms_pass_both_levels() {
    for (form, ctx) in all_valid() {
        assert_eq!(pairs(&form.validate_draft()), [], "{:?}", form.kind());
        assert_eq!(pairs(&form.validate_complete(&ctx)), [], "{:?}", form.kind());
        assert!(form.check_complete(&ctx).unwrap().is_empty());
    }
}

#[test]
fn empty_drafts_pass_the_draft_level_and_fail_completion() {
    for kind in FormKind::ALL {
        let form = FormData::empty(kind);
        assert!(form.check_draft().is_ok());
        assert!(matches!(form.check_complete(&ctx()), Err(DomainError::Invalid(_))));
    }
}

#[test]
fn forms_round_trip_through_json_and_deny_unknown_fields() {
    for (form, _) in all_valid() {
        let value = serde_json::to_value(&form).unwrap();
        assert_eq!(FormData::deserialize_as(form.kind(), value.clone()).unwrap(), form);
        let mut extra = value;
        extra["unknown_field"] = json!(1);
        assert!(FormData::deserialize_as(form.kind(), extra).is_err());
    }
    // A field of another form is unknown too.
    assert!(FormData::deserialize_as(FormKind::Measurement, json!({"ending": 3})).is_err());
    // Wrong types are refused by deserialization.
    assert!(FormData::deserialize_as(FormKind::Measurement, json!({"benefit": "high"})).is_err());
    assert!(FormData::deserialize_as(FormKind::Measurement, json!({"event_date": "2025-02-30"})).is_err());
}

#[test]
fn substance_use_may_be_null_or_absent() {
    let f = FormData::deserialize_as(FormKind::Discharge, json!({"substance_use": null})).unwrap();
    assert_eq!(f, FormData::empty(FormKind::Discharge));
    let f = FormData::deserialize_as(FormKind::Discharge, json!({})).unwrap();
    assert_eq!(f, FormData::empty(FormKind::Discharge));
}

// ---------- baseline rules ----------

#[test]
fn substance_diagnoses_need_a_qualifying_code_to_complete() {
    let mut b = baseline();
    b.substance_diagnoses = Some(vec!["F17.2".into(), "F10.0".into()]);
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("substance_diagnoses".into(), "conflict_rule".into())]);
    assert!(b.validate_draft().is_empty());
    b.substance_diagnoses = Some(vec!["F17.2".into(), "F19.1".into()]);
    assert!(b.validate_complete(&ctx()).is_empty());
}

#[test]
fn diagnosis_lists_check_format_chapter_and_duplicates_in_drafts() {
    let b = Baseline {
        referral_diagnosis: Some("f10.2".into()),
        substance_diagnoses: Some(vec!["F20.0".into(), "F10".into(), "F10.2".into(), "F10.2".into()]),
        psychiatric_diagnoses: Some(vec!["F11.2".into(), "F32.1".into()]),
        somatic_diagnoses: Some(vec!["F32.1".into(), "K70.3".into(), "K70".into()]),
        ..Baseline::default()
    };
    assert_eq!(
        pairs(&b.validate_draft()),
        [
            ("referral_diagnosis".into(), "format".into()),
            ("substance_diagnoses.0".into(), "code_list".into()),
            ("substance_diagnoses.1".into(), "code_list".into()),
            ("substance_diagnoses.3".into(), "duplicate".into()),
            ("psychiatric_diagnoses.0".into(), "code_list".into()),
            ("somatic_diagnoses.0".into(), "code_list".into()),
        ]
    );
}

#[test]
fn too_many_diagnoses_are_refused() {
    let codes: Vec<String> = (0..21).map(|i| format!("K{:02}.0", 20 + i)).collect();
    let b = Baseline { somatic_diagnoses: Some(codes), ..Baseline::default() };
    assert!(has(&b.validate_draft(), "somatic_diagnoses", "range"));
}

#[test]
fn lar_medication_is_required_in_lar_and_empty_otherwise() {
    let mut b = baseline();
    b.in_lar = Some(1);
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("lar_medication".into(), "required".into())]);
    b.lar_medication = Some(4);
    assert!(b.validate_complete(&ctx()).is_empty());
    b.in_lar = Some(2);
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("lar_medication".into(), "conflict_rule".into())]);
}

#[test]
fn in_lar_is_yes_or_no_only() {
    let b = Baseline { in_lar: Some(3), ..baseline() };
    assert_eq!(pairs(&b.validate_draft()), [("in_lar".into(), "code_list".into())]);
}

#[test]
fn injected_ever_must_be_yes_when_injected_in_the_last_30_days() {
    let mut b = baseline();
    b.substance_use.injected_30d = Some(1);
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("injected_ever".into(), "conflict_rule".into())]);
    b.injected_ever = Some(1);
    assert!(b.validate_complete(&ctx()).is_empty());
}

#[test]
fn audit_and_dudit_scores_are_optional_but_ranged() {
    let b = Baseline { audit_score: None, dudit_score: None, ..baseline() };
    assert!(b.validate_complete(&ctx()).is_empty());
    let b = Baseline { audit_score: Some(41), dudit_score: Some(45), ..baseline() };
    assert_eq!(
        pairs(&b.validate_draft()),
        [("audit_score".into(), "range".into()), ("dudit_score".into(), "range".into())]
    );
    let b = Baseline { audit_score: Some(40), dudit_score: Some(44), ..baseline() };
    assert!(b.validate_draft().is_empty());
}

#[test]
fn baseline_debut_age_is_required() {
    let mut b = baseline();
    b.substance_use.substances = Some(vec![entry(1, 4, Some(3), None)]);
    assert_eq!(
        pairs(&b.validate_complete(&ctx())),
        [("substance_use.substances.0.debut_age".into(), "required".into())]
    );
}

// ---------- measurement rules ----------

#[test]
fn measurement_refuses_debut_age_and_unknown_feedback_tool() {
    let mut m = measurement();
    m.feedback_tool_used = Some(3);
    m.substance_use.substances = Some(vec![entry(1, 4, Some(3), Some(15))]);
    assert_eq!(
        pairs(&m.validate_draft()),
        [
            ("feedback_tool_used".into(), "code_list".into()),
            ("substance_use.substances.0.debut_age".into(), "not_applicable".into())
        ]
    );
}

#[test]
fn measurement_scales_and_levels_are_checked() {
    let m = Measurement { benefit: Some(0), treatment_level: Some(7), needs_followed_up: Some(4), ..measurement() };
    assert_eq!(
        pairs(&m.validate_draft()),
        [
            ("treatment_level".into(), "code_list".into()),
            ("benefit".into(), "range".into()),
            ("needs_followed_up".into(), "code_list".into())
        ]
    );
}

// ---------- discharge rules ----------

#[test]
fn agreed_follow_up_none_excludes_the_others() {
    let mut f = discharge();
    f.agreed_follow_up = Some(vec![7, 2]);
    assert_eq!(pairs(&f.validate_complete(&with_baseline())), [("agreed_follow_up".into(), "conflict_rule".into())]);
    f.agreed_follow_up = Some(vec![7]);
    assert!(f.validate_complete(&with_baseline()).is_empty());
}

#[test]
fn agreed_follow_up_is_a_set_of_known_codes() {
    let f = Discharge { agreed_follow_up: Some(vec![1, 8, 1]), ..discharge() };
    assert_eq!(
        pairs(&f.validate_draft()),
        [("agreed_follow_up.1".into(), "code_list".into()), ("agreed_follow_up.2".into(), "duplicate".into())]
    );
    let f = Discharge { agreed_follow_up: Some(vec![]), ..discharge() };
    assert_eq!(pairs(&f.validate_complete(&with_baseline())), [("agreed_follow_up".into(), "required".into())]);
}

#[test]
fn municipality_informed_is_required_when_broken_off() {
    let f = Discharge { ending: Some(3), ..discharge() };
    assert_eq!(pairs(&f.validate_complete(&with_baseline())), [("municipality_informed".into(), "required".into())]);
    let f = Discharge { ending: Some(3), municipality_informed: Some(3), satisfaction: None, ..discharge() };
    assert!(f.validate_complete(&with_baseline()).is_empty());
}

#[test]
fn satisfaction_is_required_unless_broken_off() {
    let f = Discharge { satisfaction: None, ..discharge() };
    assert_eq!(pairs(&f.validate_complete(&with_baseline())), [("satisfaction".into(), "required".into())]);
}

#[test]
fn contact_consent_is_required_only_when_a_follow_up_follows() {
    let f = Discharge { contact_consent_1y: None, ..discharge() };
    assert_eq!(pairs(&f.validate_complete(&with_baseline())), [("contact_consent_1y".into(), "required".into())]);
    let f = Discharge { contact_consent_1y: None, ending: Some(2), ..discharge() };
    assert!(f.validate_complete(&with_baseline()).is_empty());
    let f = Discharge { contact_consent_1y: Some(3), ..discharge() };
    assert_eq!(pairs(&f.validate_draft()), [("contact_consent_1y".into(), "code_list".into())]);
}

#[test]
fn discharge_needs_a_completed_baseline_or_measurement() {
    assert_eq!(pairs(&discharge().validate_complete(&ctx())), [("form".into(), "prerequisite".into())]);
    let c = FormContext { measurement_dates: vec![d(2025, 3, 1)], ..ctx() };
    assert!(discharge().validate_complete(&c).is_empty());
}

#[test]
fn discharge_ending_code_list() {
    let f = Discharge { ending: Some(1), ..discharge() };
    assert_eq!(pairs(&f.validate_draft()), [("ending".into(), "code_list".into())]);
}

#[test]
fn completed_facts_of_a_discharge() {
    let facts = discharge().completed_facts().unwrap();
    assert_eq!(facts.ending, DischargeEnding::MutualAgreement);
    assert!(facts.contact_consent_1y);
    assert_eq!(Discharge { ending: None, ..discharge() }.completed_facts(), None);
}

// ---------- follow-up rules ----------

#[test]
fn follow_up_answers_are_required_when_followed_up() {
    let f = FollowUp { outcome: Some(5), ..FollowUp { event_date: Some(d(2026, 4, 1)), ..FollowUp::default() } };
    let errs = f.validate_complete(&discharged(DischargeEnding::MutualAgreement, true));
    for field in
        ["substance_use.substances", "housing", "occupation", "received_follow_up", "self_rated_life_situation"]
    {
        assert!(has(&errs, field, "required"), "{field}");
    }
}

#[test]
fn follow_up_answers_must_be_empty_when_not_followed_up() {
    let c = discharged(DischargeEnding::BrokenOff, true);
    let f = FollowUp { outcome: Some(6), ..follow_up() };
    assert_eq!(
        pairs(&f.validate_complete(&c)),
        [
            ("substance_use".into(), "conflict_rule".into()),
            ("housing".into(), "conflict_rule".into()),
            ("occupation".into(), "conflict_rule".into()),
            ("received_follow_up".into(), "conflict_rule".into()),
            ("self_rated_life_situation".into(), "conflict_rule".into()),
        ]
    );
    let f = FollowUp { event_date: Some(d(2026, 4, 1)), outcome: Some(7), ..FollowUp::default() };
    assert!(f.validate_complete(&c).is_empty());
}

#[test]
fn received_follow_up_none_excludes_the_others() {
    let f = FollowUp { received_follow_up: Some(vec![1, 7]), ..follow_up() };
    let errs = f.validate_complete(&discharged(DischargeEnding::MutualAgreement, true));
    assert_eq!(pairs(&errs), [("received_follow_up".into(), "conflict_rule".into())]);
}

#[test]
fn follow_up_needs_a_discharge_with_ending_3_or_4_and_consent() {
    let pre = [("form".to_string(), "prerequisite".to_string())];
    assert_eq!(pairs(&follow_up().validate_complete(&ctx())), pre);
    assert_eq!(pairs(&follow_up().validate_complete(&discharged(DischargeEnding::TransferredOutside, true))), pre);
    assert_eq!(pairs(&follow_up().validate_complete(&discharged(DischargeEnding::BrokenOff, false))), pre);
    assert!(follow_up().validate_complete(&discharged(DischargeEnding::BrokenOff, true)).is_empty());
}

#[test]
fn follow_up_is_at_least_300_days_after_discharge() {
    let c = discharged(DischargeEnding::MutualAgreement, true);
    // discharge 2025-04-01 + 300 days = 2026-01-26
    let on_time = FollowUp { event_date: Some(d(2026, 1, 26)), ..follow_up() };
    assert!(on_time.validate_complete(&c).is_empty());
    let early = FollowUp { event_date: Some(d(2026, 1, 25)), ..follow_up() };
    assert_eq!(pairs(&early.validate_complete(&c)), [("event_date".into(), "date_order".into())]);
}

#[test]
fn follow_up_later_than_14_months_warns_but_completes() {
    let c = FormContext { today: d(2026, 12, 31), ..discharged(DischargeEnding::MutualAgreement, true) };
    // discharge 2025-04-01 + 14 months = 2026-06-01
    let at_limit = FormData::FollowUp(FollowUp { event_date: Some(d(2026, 6, 1)), ..follow_up() });
    assert!(at_limit.check_complete(&c).unwrap().is_empty());
    let late = FormData::FollowUp(FollowUp { event_date: Some(d(2026, 6, 2)), ..follow_up() });
    assert_eq!(pairs(&late.check_complete(&c).unwrap()), [("event_date".into(), "late".into())]);
}

#[test]
fn follow_up_outcome_code_list() {
    let f = FollowUp { outcome: Some(4), ..follow_up() };
    assert_eq!(pairs(&f.validate_draft()), [("outcome".into(), "code_list".into())]);
}

// ---------- date rules across forms ----------

#[test]
fn event_date_is_required_and_not_in_the_future_nor_before_start() {
    let b = Baseline { event_date: None, ..baseline() };
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("event_date".into(), "required".into())]);
    let b = Baseline { event_date: Some(d(2026, 6, 2)), ..baseline() };
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("event_date".into(), "date_order".into())]);
    let b = Baseline { event_date: Some(d(2025, 1, 9)), ..baseline() };
    assert_eq!(pairs(&b.validate_complete(&ctx())), [("event_date".into(), "date_order".into())]);
    let b = Baseline { event_date: Some(d(2025, 1, 10)), ..baseline() };
    assert!(b.validate_complete(&ctx()).is_empty());
}

#[test]
fn baseline_is_not_after_a_completed_measurement_or_discharge() {
    let c = FormContext { measurement_dates: vec![d(2025, 3, 1), d(2025, 1, 20)], ..ctx() };
    assert!(baseline().validate_complete(&c).is_empty()); // equal dates are fine
    let c = FormContext { measurement_dates: vec![d(2025, 3, 1), d(2025, 1, 19)], ..ctx() };
    assert_eq!(pairs(&baseline().validate_complete(&c)), [("event_date".into(), "date_order".into())]);
    let c = FormContext {
        discharge: Some(CompletedDischarge {
            date: d(2025, 1, 15),
            ending: DischargeEnding::BrokenOff,
            contact_consent_1y: true,
        }),
        ..ctx()
    };
    assert!(has(&baseline().validate_complete(&c), "event_date", "date_order"));
}

#[test]
fn measurement_is_between_baseline_and_discharge() {
    let c = FormContext { baseline_date: Some(d(2025, 3, 2)), ..ctx() };
    assert_eq!(pairs(&measurement().validate_complete(&c)), [("event_date".into(), "date_order".into())]);
    let c = FormContext {
        discharge: Some(CompletedDischarge {
            date: d(2025, 2, 28),
            ending: DischargeEnding::BrokenOff,
            contact_consent_1y: true,
        }),
        ..with_baseline()
    };
    assert_eq!(pairs(&measurement().validate_complete(&c)), [("event_date".into(), "date_order".into())]);
    // A measurement without a baseline is fine (long-term patients may start with one).
    assert!(measurement().validate_complete(&ctx()).is_empty());
}

#[test]
fn discharge_is_not_before_the_last_measurement_or_baseline() {
    let c = FormContext { measurement_dates: vec![d(2025, 2, 1), d(2025, 4, 1)], ..with_baseline() };
    assert!(discharge().validate_complete(&c).is_empty());
    let c = FormContext { measurement_dates: vec![d(2025, 2, 1), d(2025, 4, 2)], ..with_baseline() };
    assert_eq!(pairs(&discharge().validate_complete(&c)), [("event_date".into(), "date_order".into())]);
    let c = FormContext { baseline_date: Some(d(2025, 4, 2)), ..ctx() };
    assert_eq!(pairs(&discharge().validate_complete(&c)), [("event_date".into(), "date_order".into())]);
}

#[test]
fn validation_reports_every_failing_field_at_once() {
    let b = Baseline {
        event_date: Some(d(2030, 1, 1)),
        housing: Some(11),
        occupation: None,
        self_rated_severity: Some(6),
        ..baseline()
    };
    let errs = pairs(&b.validate_complete(&ctx()));
    assert_eq!(errs.len(), 4, "{errs:?}");
}

// ---------- status ----------

#[test]
fn completed_discharge_and_follow_up_set_the_status() {
    for (code, status) in
        [(2, TreatmentStatus::Transferred), (3, TreatmentStatus::BrokenOff), (4, TreatmentStatus::MutualAgreement)]
    {
        let f = FormData::Discharge(Discharge { ending: Some(code), ..discharge() });
        assert_eq!(status_after_completion(&f), Some(status));
    }
    for o in [FollowUpOutcome::FollowedUp, FollowUpOutcome::NotReached, FollowUpOutcome::Declined] {
        let f = FormData::FollowUp(FollowUp { outcome: Some(o.code()), ..follow_up() });
        assert_eq!(f.status_after_completion(), Some(o.status()));
    }
}

#[test]
fn the_status_event_leads_to_the_status_after_completion() {
    use crate::pathways::{next_status, StatusEvent};
    for code in [2, 3, 4] {
        let f = FormData::Discharge(Discharge { ending: Some(code), ..discharge() });
        let event = f.status_event().expect("a discharge with an ending raises an event");
        assert_eq!(event.name(), "discharge_completed");
        assert_eq!(next_status(TreatmentStatus::Active, event).ok(), status_after_completion(&f));
    }
    for o in [FollowUpOutcome::FollowedUp, FollowUpOutcome::NotReached, FollowUpOutcome::Declined] {
        let f = FormData::FollowUp(FollowUp { outcome: Some(o.code()), ..follow_up() });
        let event = f.status_event().expect("a follow-up with an outcome raises an event");
        assert_eq!(event.name(), "follow_up_completed");
        assert_eq!(next_status(TreatmentStatus::BrokenOff, event).ok(), f.status_after_completion());
    }
    assert!(FormData::Baseline(baseline()).status_event().is_none());
    assert!(FormData::Discharge(Discharge::default()).status_event().is_none());
    assert_eq!(StatusEvent::DischargeReopened.name(), "discharge_reopened");
}

#[test]
fn baseline_and_measurement_set_no_status() {
    assert_eq!(status_after_completion(&FormData::Baseline(baseline())), None);
    assert_eq!(status_after_completion(&FormData::Measurement(measurement())), None);
    assert_eq!(status_after_completion(&FormData::Discharge(Discharge::default())), None);
}

// ---------- catalogue ----------

/// Every JSON path of a value: nested objects dotted, list entries as `[]`.
fn json_paths(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    let Value::Object(map) = v else { return };
    for (k, v) in map {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(_) => json_paths(&path, v, out),
            Value::Array(items) => {
                out.insert(path.clone());
                if let Some(first @ Value::Object(_)) = items.first() {
                    json_paths(&format!("{path}[]"), first, out);
                }
            }
            _ => {
                out.insert(path);
            }
        }
    }
}

fn full_entry_form(kind: FormKind) -> FormData {
    let mut form = FormData::empty(kind);
    let su = SubstanceUse { substances: Some(vec![SubstanceEntry::default()]), ..SubstanceUse::default() };
    match &mut form {
        FormData::Baseline(f) => f.substance_use = su,
        FormData::Measurement(f) => f.substance_use = su,
        FormData::Discharge(f) => f.substance_use = su,
        FormData::FollowUp(f) => f.substance_use = su,
    }
    form
}

#[test]
fn the_catalogue_names_exactly_the_fields_of_each_form() {
    for kind in FormKind::ALL {
        let mut from_struct = BTreeSet::new();
        json_paths("", &serde_json::to_value(full_entry_form(kind)).unwrap(), &mut from_struct);
        let specs = catalogue::form_fields(kind);
        let from_catalogue: BTreeSet<String> = specs.iter().map(|f| f.name.to_string()).collect();
        // debut_age exists in the struct of every form but belongs to the baseline only.
        let mut expected = from_struct;
        if kind != FormKind::Baseline {
            expected.remove("substance_use.substances[].debut_age");
        }
        assert_eq!(from_catalogue, expected, "{kind:?}");
        assert_eq!(from_catalogue.len(), specs.len(), "{kind:?}: duplicate names");
        assert!(specs.iter().all(|f| f.owner == FieldOwner::Form(kind)));
    }
}

#[test]
fn every_field_required_always_is_reported_required_on_an_empty_form() {
    for kind in FormKind::ALL {
        let errs = FormData::empty(kind).validate_complete(&ctx());
        for spec in catalogue::form_fields(kind) {
            if spec.name.contains("[]") {
                continue; // entry fields: checked by the substance block tests
            }
            let required = has(&errs, spec.name, "required");
            match spec.required_on_completion {
                Required::Always => assert!(required, "{kind:?}.{} should be required", spec.name),
                Required::Never => assert!(!required, "{kind:?}.{} should be optional", spec.name),
                Required::When(_) => {}
            }
        }
    }
}

fn set_path(v: &mut Value, path: &str, new: Value) {
    match path.split_once('.') {
        Some((head, rest)) => set_path(&mut v[head], rest, new),
        None => v[path] = new,
    }
}

#[test]
fn every_code_and_range_in_the_catalogue_is_enforced_in_drafts() {
    let mut checked = 0;
    for kind in FormKind::ALL {
        for spec in catalogue::form_fields(kind) {
            if spec.name.contains("[]") {
                continue;
            }
            let (bad, good, expected_field, expected_code) = match spec.kind {
                FieldKind::Code => {
                    let max = spec.codes.iter().map(|c| c.0).max().unwrap();
                    (json!(max + 1), json!(spec.codes[0].0), spec.name.to_string(), "code_list")
                }
                FieldKind::CodeSet => {
                    let max = spec.codes.iter().map(|c| c.0).max().unwrap();
                    (json!([max + 1]), json!([spec.codes[0].0]), format!("{}.0", spec.name), "code_list")
                }
                FieldKind::Integer(r) => (json!(r.max + 1), json!(r.min), spec.name.to_string(), "range"),
                _ => continue,
            };
            for (value, should_fail) in [(bad, true), (good, false)] {
                let mut v = serde_json::to_value(FormData::empty(kind)).unwrap();
                set_path(&mut v, spec.name, value);
                let form = FormData::deserialize_as(kind, v).unwrap();
                let errs = form.validate_draft();
                assert_eq!(has(&errs, &expected_field, expected_code), should_fail, "{kind:?}.{}", spec.name);
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

#[test]
fn entry_codes_in_the_catalogue_match_the_block() {
    let specs = catalogue::form_fields(FormKind::Baseline);
    let find = |n: &str| specs.iter().find(|f| f.name == n).unwrap();
    assert_eq!(find("substance_use.substances[].substance").codes, codes::SUBSTANCES);
    assert_eq!(find("substance_use.substances[].frequency_30d").codes, codes::FREQUENCY_30D);
    assert_eq!(find("substance_use.substances[].route").codes, codes::ROUTE);
    assert_eq!(find("substance_use.substances[].debut_age").kind, FieldKind::Integer(codes::DEBUT_AGE));
}

#[test]
fn header_fields_cover_patient_and_pathway() {
    let names: Vec<_> = catalogue::header_fields().iter().map(|f| (f.owner.as_str(), f.name)).collect();
    assert_eq!(
        names,
        [
            ("patient", "national_id"),
            ("patient", "sex"),
            ("patient", "birth_year"),
            ("pathway", "start_date"),
            ("pathway", "treatment_level"),
            ("pathway", "residence_code"),
            ("pathway", "treatment_status"),
        ]
    );
    assert_eq!(
        catalogue::catalogue().len(),
        7 + FormKind::ALL.iter().map(|k| catalogue::form_fields(*k).len()).sum::<usize>()
    );
}

#[test]
fn data_dictionary_lists_every_field_and_code() {
    let md = data_dictionary_markdown();
    for spec in catalogue::catalogue() {
        assert!(md.contains(&format!("`{}`", spec.name)), "{}", spec.name);
        for (code, label) in spec.codes {
            assert!(md.contains(&format!("{code} = {label}")), "{code} = {label}");
        }
    }
    assert!(md.contains("## Form `follow-up` (Ettårsoppfølging)"));
}

#[test]
fn data_dictionary_doc_equals_the_generated_text() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/data-dictionary.md");
    let generated = data_dictionary_markdown();
    if std::env::var_os("UPDATE_DATA_DICTIONARY").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).expect("docs/data-dictionary.md exists");
    assert!(
        on_disk == generated,
        "docs/data-dictionary.md is out of date: run `UPDATE_DATA_DICTIONARY=1 cargo test -p domain data_dictionary`"
    );
}

// ---------- property: the date rules of a measurement ----------

proptest::proptest! {
    #[test]
    fn measurement_date_order_holds_exactly_when_start_baseline_date_discharge_today_are_ordered(
        start in 0u64..400, baseline in proptest::option::of(0u64..400), date in 0u64..400,
        discharge in proptest::option::of(0u64..400), today in 0u64..400,
    ) {
        let day = |n: u64| d(2024, 1, 1).checked_add_days(chrono::Days::new(n)).unwrap();
        let ctx = FormContext {
            today: day(today),
            pathway_start: day(start),
            baseline_date: baseline.map(day),
            measurement_dates: vec![],
            discharge: discharge.map(|n| CompletedDischarge {
                date: day(n),
                ending: DischargeEnding::BrokenOff,
                contact_consent_1y: true,
            }),
        };
        let m = Measurement { event_date: Some(day(date)), ..measurement() };
        let ordered = start <= date
            && baseline.is_none_or(|b| b <= date)
            && discharge.is_none_or(|x| date <= x)
            && date <= today;
        let errs = m.validate_complete(&ctx);
        proptest::prop_assert_eq!(errs.is_empty(), ordered, "{:?}", pairs(&errs));
        proptest::prop_assert!(errs.iter().all(|e| e.field == "event_date" && e.code == "date_order"));
    }
}

/// Every field required only under a condition has that condition in structured form (the FHIR
/// Questionnaire's `enableWhen` comes from it), naming a code field of the same form and codes
/// of its list.
#[test]
fn conditional_fields_have_a_structured_condition() {
    for kind in FormKind::ALL {
        let fields = catalogue::form_fields(kind);
        for f in &fields {
            let cond = catalogue::applies_when(kind, f.name);
            if let Required::When(_) = f.required_on_completion {
                assert!(cond.is_some(), "{kind} {}: required only when ..., but no condition", f.name);
            }
            if let Some(c) = cond {
                let on = fields.iter().find(|o| o.name == c.on);
                let on = on.unwrap_or_else(|| panic!("{kind} {}: condition on unknown field {}", f.name, c.on));
                assert_eq!(on.kind, FieldKind::Code, "{kind} {}: condition on a field without codes", f.name);
                for code in c.codes {
                    assert!(on.codes.iter().any(|(k, _)| k == code), "{kind} {}: code {code} not in {}", f.name, c.on);
                }
            }
        }
    }
}
