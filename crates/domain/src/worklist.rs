//! Due dates (docs/domain.md, Due dates): which forms a pathway is waiting for, computed from the
//! facts of one pathway and the configured time limits. Pure: the caller gathers the facts.
//!
//! | item | when it is listed | `due_date` |
//! |---|---|---|
//! | `baseline_due` | active, no completed baseline nor measurement, today ≤ due | start + 21 days (outpatient) / + 7 (inpatient) |
//! | `baseline_overdue` | the same, today > due | the same |
//! | `measurement_due` | active, with an anchor, due − 14 days ≤ today ≤ due | anchor + 56 days (outpatient) / + 42 (inpatient) |
//! | `measurement_late` | the same, due < today ≤ anchor + 90 days | the same |
//! | `measurement_missing` | the same, today > anchor + 90 days | the same |
//! | `possibly_ended` | active, today ≥ last form (or start) + 120 days | last form (or start) + 120 days |
//! | `follow_up_window_open` | discharge ending 3 or 4 with consent, no follow-up, opens ≤ today < due | discharge + 12 months |
//! | `follow_up_due` | the same, due ≤ today ≤ closes | the same |
//! | `follow_up_overdue` | the same, today > closes | the same |
//!
//! The anchor of a measurement is the latest completed baseline or measurement; it is the only
//! fact of those forms the rules need (kept on the pathway row, see docs/architecture.md). All limits are in
//! [`WorklistConfig`]. Choices of the register's own:
//!
//! - "active" means status 1 and no completed discharge.
//! - The baseline is not asked for once a measurement is completed: a patient already in
//!   long-term treatment may start with a measurement point (docs/domain.md, Who is registered).
//! - `measurement_due` appears a notice period (default 14 days) before the due date, so units
//!   can plan; 0 lists it only on the due date itself.
//! - "no form for 120 days" counts from the latest `event_date` of any form, draft or completed
//!   (the pathway start when there is none), and the item appears on day 120.
//! - The follow-up stays `follow_up_overdue` after the window closes until a follow-up is
//!   completed (outcome 6 "not reached" clears it).
//! - Months are calendar months; a date past the end of a shorter month falls on its last day
//!   (31 March + 11 months = 29 February in a leap year).
//! - The time limits follow the pathway's current treatment level (the caller passes the level of
//!   the latest completed measurement, or the level the pathway was opened with).

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::forms::{CompletedDischarge, FormKind};
use crate::pathways::{TreatmentLevel, TreatmentStatus};

/// The time limits and windows, with their defaults (docs/domain.md, Time limits). Every field
/// may be overridden; missing fields keep their default when deserialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorklistConfig {
    /// Baseline due this many days after the start, outpatient limits (21).
    pub baseline_due_days_outpatient: u32,
    /// Baseline due this many days after the start, inpatient limits (7).
    pub baseline_due_days_inpatient: u32,
    /// Measurement due this many days after the anchor, outpatient limits (56).
    pub measurement_interval_days_outpatient: u32,
    /// Measurement due this many days after the anchor, inpatient limits (42).
    pub measurement_interval_days_inpatient: u32,
    /// A measurement is "missing" this many days after the anchor (90).
    pub measurement_missing_after_days: u32,
    /// A measurement is listed as due this many days before its due date (14).
    pub measurement_notice_days: u32,
    /// An active pathway with no form for this many days is "possibly ended" (120).
    pub possibly_ended_after_days: u32,
    /// The follow-up window opens this many months after the discharge (11).
    pub follow_up_opens_months: u32,
    /// The follow-up is due this many months after the discharge (12).
    pub follow_up_due_months: u32,
    /// The follow-up window closes this many months after the discharge (14).
    pub follow_up_closes_months: u32,
}

impl Default for WorklistConfig {
    fn default() -> Self {
        Self {
            baseline_due_days_outpatient: 21,
            baseline_due_days_inpatient: 7,
            measurement_interval_days_outpatient: 56,
            measurement_interval_days_inpatient: 42,
            measurement_missing_after_days: 90,
            measurement_notice_days: 14,
            possibly_ended_after_days: 120,
            follow_up_opens_months: 11,
            follow_up_due_months: 12,
            follow_up_closes_months: 14,
        }
    }
}

impl WorklistConfig {
    /// Days from start to the baseline's due date for this level.
    pub fn baseline_due_days(&self, level: TreatmentLevel) -> u32 {
        if level.uses_inpatient_limits() {
            self.baseline_due_days_inpatient
        } else {
            self.baseline_due_days_outpatient
        }
    }

    /// Days from the anchor to the next measurement's due date for this level.
    pub fn measurement_interval_days(&self, level: TreatmentLevel) -> u32 {
        if level.uses_inpatient_limits() {
            self.measurement_interval_days_inpatient
        } else {
            self.measurement_interval_days_outpatient
        }
    }

    /// Where a measurement point stands on `on`, counted from `anchor` (the latest completed
    /// baseline or measurement) at treatment level `level` — the one vocabulary of lateness
    /// (docs/domain.md, Lateness). `None` only when the dates overflow.
    pub fn measurement_timing(&self, anchor: NaiveDate, on: NaiveDate, level: TreatmentLevel) -> Option<Timing> {
        let due = plus_days(anchor, self.measurement_interval_days(level))?;
        let missed = plus_days(anchor, self.measurement_missing_after_days)?;
        Some(if on > missed {
            Timing::Missed
        } else if on > due {
            Timing::Late
        } else {
            Timing::NotYetOverdue
        })
    }
}

/// How late a measurement point is, in the terms the worklist, the completeness report and the
/// API share (docs/domain.md, Lateness):
/// - **due date**: the anchor (the latest completed baseline or measurement) plus the interval of
///   the treatment level in force (6 or 8 weeks);
/// - **overdue**: past the due date — either late or missed;
/// - **late**: overdue, but no more than `measurement_missing_after_days` (90) after the anchor;
/// - **missed**: more than 90 days after the anchor: a point has been missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    NotYetOverdue,
    Late,
    Missed,
}

impl Timing {
    /// Late or missed.
    pub fn is_overdue(self) -> bool {
        !matches!(self, Self::NotYetOverdue)
    }
}

/// The facts of one pathway that the worklist needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayFacts {
    pub start_date: NaiveDate,
    /// The current treatment level (see the module docs).
    pub treatment_level: TreatmentLevel,
    pub status: TreatmentStatus,
    /// The anchor: the latest date of a completed baseline or measurement point (`None` while
    /// neither is completed). The rules need nothing else of those forms: the baseline is asked
    /// for exactly while there is no anchor, and the next measurement counts from it.
    pub anchor: Option<NaiveDate>,
    /// The latest `event_date` of any form of the pathway, draft or completed.
    pub last_form_date: Option<NaiveDate>,
    /// The completed discharge.
    pub discharge: Option<CompletedDischarge>,
    /// Whether the follow-up is completed.
    pub follow_up_done: bool,
}

/// What a worklist item asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorklistItemKind {
    BaselineDue,
    BaselineOverdue,
    MeasurementDue,
    MeasurementLate,
    MeasurementMissing,
    PossiblyEnded,
    FollowUpWindowOpen,
    FollowUpDue,
    FollowUpOverdue,
}

impl WorklistItemKind {
    /// The stable machine name (`baseline_due`, ..., `follow_up_overdue`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BaselineDue => "baseline_due",
            Self::BaselineOverdue => "baseline_overdue",
            Self::MeasurementDue => "measurement_due",
            Self::MeasurementLate => "measurement_late",
            Self::MeasurementMissing => "measurement_missing",
            Self::PossiblyEnded => "possibly_ended",
            Self::FollowUpWindowOpen => "follow_up_window_open",
            Self::FollowUpDue => "follow_up_due",
            Self::FollowUpOverdue => "follow_up_overdue",
        }
    }

    /// The form the item asks for; `possibly_ended` asks for a discharge (or any form).
    pub fn form(self) -> FormKind {
        match self {
            Self::BaselineDue | Self::BaselineOverdue => FormKind::Baseline,
            Self::MeasurementDue | Self::MeasurementLate | Self::MeasurementMissing => FormKind::Measurement,
            Self::PossiblyEnded => FormKind::Discharge,
            Self::FollowUpWindowOpen | Self::FollowUpDue | Self::FollowUpOverdue => FormKind::FollowUp,
        }
    }

    /// Whether the item is past its time limit: overdue in the sense of [`Timing`] (a
    /// measurement point late or missed), a baseline or follow-up overdue, or possibly ended.
    pub fn is_overdue(self) -> bool {
        matches!(
            self,
            Self::BaselineOverdue
                | Self::MeasurementLate
                | Self::MeasurementMissing
                | Self::PossiblyEnded
                | Self::FollowUpOverdue
        )
    }
}

/// One entry of a unit's worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorklistItem {
    pub kind: WorklistItemKind,
    /// When the form is (or was) due; see the table in the module docs.
    pub due_date: NaiveDate,
}

fn plus_days(date: NaiveDate, days: u32) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(u64::from(days)))
}

fn plus_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// The worklist items of one pathway on `today`, in the order baseline, measurement, possibly
/// ended, follow-up. Empty when nothing is due.
pub fn worklist_items(facts: &PathwayFacts, today: NaiveDate, config: &WorklistConfig) -> Vec<WorklistItem> {
    let mut items = Vec::new();
    let mut push = |kind, due_date| items.push(WorklistItem { kind, due_date });
    let active = facts.status.is_active() && facts.discharge.is_none();

    if active {
        use WorklistItemKind as K;
        // Baseline.
        if facts.anchor.is_none() {
            if let Some(due) = plus_days(facts.start_date, config.baseline_due_days(facts.treatment_level)) {
                push(if today <= due { K::BaselineDue } else { K::BaselineOverdue }, due);
            }
        }
        // Measurement, from the latest completed baseline or measurement.
        if let Some(anchor) = facts.anchor {
            let due = plus_days(anchor, config.measurement_interval_days(facts.treatment_level));
            let timing = config.measurement_timing(anchor, today, facts.treatment_level);
            if let (Some(due), Some(timing)) = (due, timing) {
                let notice = due.checked_sub_days(Days::new(u64::from(config.measurement_notice_days)));
                match timing {
                    Timing::Missed => push(K::MeasurementMissing, due),
                    Timing::Late => push(K::MeasurementLate, due),
                    Timing::NotYetOverdue if notice.is_some_and(|n| today >= n) => push(K::MeasurementDue, due),
                    Timing::NotYetOverdue => {}
                }
            }
        }
        // Possibly ended.
        let last = facts.last_form_date.map_or(facts.start_date, |d| d.max(facts.start_date));
        if let Some(limit) = plus_days(last, config.possibly_ended_after_days) {
            if today >= limit {
                push(K::PossiblyEnded, limit);
            }
        }
    }

    // Follow-up.
    let follow_up_done = facts.follow_up_done || facts.status.is_followed_up();
    if let Some(d) = facts.discharge.filter(|d| d.ending.gets_follow_up() && d.contact_consent_1y) {
        if !follow_up_done {
            let opens = plus_months(d.date, config.follow_up_opens_months);
            let due = plus_months(d.date, config.follow_up_due_months);
            let closes = plus_months(d.date, config.follow_up_closes_months);
            if let (Some(opens), Some(due), Some(closes)) = (opens, due, closes) {
                if today > closes {
                    push(WorklistItemKind::FollowUpOverdue, due);
                } else if today >= due {
                    push(WorklistItemKind::FollowUpDue, due);
                } else if today >= opens {
                    push(WorklistItemKind::FollowUpWindowOpen, due);
                }
            }
        }
    }
    items
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::pathways::DischargeEnding;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn lateness_has_one_vocabulary_from_the_anchor() {
        let config = WorklistConfig::default();
        let anchor = d(2025, 1, 10);
        let timing = |on, level| config.measurement_timing(anchor, on, level).unwrap();
        // Outpatient: due after 8 weeks (7 March), missed after 90 days (10 April).
        assert_eq!(timing(d(2025, 3, 7), TreatmentLevel::Outpatient), Timing::NotYetOverdue);
        assert_eq!(timing(d(2025, 3, 8), TreatmentLevel::Outpatient), Timing::Late);
        assert_eq!(timing(d(2025, 4, 10), TreatmentLevel::Outpatient), Timing::Late);
        assert_eq!(timing(d(2025, 4, 11), TreatmentLevel::Outpatient), Timing::Missed);
        // Inpatient limits: due after 6 weeks (21 February).
        assert_eq!(timing(d(2025, 2, 21), TreatmentLevel::Inpatient), Timing::NotYetOverdue);
        assert_eq!(timing(d(2025, 2, 22), TreatmentLevel::Inpatient), Timing::Late);
        assert!(Timing::Late.is_overdue() && Timing::Missed.is_overdue() && !Timing::NotYetOverdue.is_overdue());
        // The worklist's items say the same.
        assert!(WorklistItemKind::MeasurementLate.is_overdue() && WorklistItemKind::MeasurementMissing.is_overdue());
        assert!(!WorklistItemKind::MeasurementDue.is_overdue());
    }

    fn facts(level: TreatmentLevel) -> PathwayFacts {
        PathwayFacts {
            start_date: d(2025, 1, 1),
            treatment_level: level,
            status: TreatmentStatus::Active,
            anchor: None,
            last_form_date: None,
            discharge: None,
            follow_up_done: false,
        }
    }

    fn kinds(f: &PathwayFacts, today: NaiveDate) -> Vec<(WorklistItemKind, NaiveDate)> {
        worklist_items(f, today, &WorklistConfig::default()).into_iter().map(|i| (i.kind, i.due_date)).collect()
    }

    use WorklistItemKind as K;

    #[test]
    fn baseline_is_due_21_days_after_start_for_outpatients() {
        let f = facts(TreatmentLevel::Outpatient);
        assert_eq!(kinds(&f, d(2025, 1, 1)), [(K::BaselineDue, d(2025, 1, 22))]);
        assert_eq!(kinds(&f, d(2025, 1, 22)), [(K::BaselineDue, d(2025, 1, 22))]);
        assert_eq!(kinds(&f, d(2025, 1, 23)), [(K::BaselineOverdue, d(2025, 1, 22))]);
    }

    #[test]
    fn baseline_is_due_7_days_after_start_for_inpatient_levels() {
        for level in [TreatmentLevel::Inpatient, TreatmentLevel::Detoxification, TreatmentLevel::Day] {
            let f = facts(level);
            assert_eq!(kinds(&f, d(2025, 1, 8)), [(K::BaselineDue, d(2025, 1, 8))]);
            assert_eq!(kinds(&f, d(2025, 1, 9)), [(K::BaselineOverdue, d(2025, 1, 8))]);
        }
    }

    #[test]
    fn a_completed_baseline_or_measurement_clears_the_baseline_item() {
        let f = PathwayFacts { anchor: Some(d(2025, 1, 5)), ..facts(TreatmentLevel::Outpatient) };
        assert!(kinds(&f, d(2025, 1, 30)).is_empty());
    }

    #[test]
    fn measurement_is_due_56_days_after_the_anchor_for_outpatients() {
        let f = PathwayFacts {
            anchor: Some(d(2025, 1, 10)),
            last_form_date: Some(d(2025, 1, 10)),
            ..facts(TreatmentLevel::Ambulant)
        };
        let due = d(2025, 3, 7); // 10 Jan + 56 days
        assert!(kinds(&f, d(2025, 2, 20)).is_empty()); // before the notice period
        assert_eq!(kinds(&f, d(2025, 2, 21)), [(K::MeasurementDue, due)]); // due - 14
        assert_eq!(kinds(&f, due), [(K::MeasurementDue, due)]);
        assert_eq!(kinds(&f, d(2025, 3, 8)), [(K::MeasurementLate, due)]);
        // 10 Jan + 90 days = 10 Apr: still late on that day, missing after it.
        assert_eq!(kinds(&f, d(2025, 4, 10)), [(K::MeasurementLate, due)]);
        assert_eq!(kinds(&f, d(2025, 4, 11)), [(K::MeasurementMissing, due)]);
    }

    #[test]
    fn measurement_is_due_42_days_after_the_latest_anchor_for_inpatients() {
        let f = PathwayFacts {
            anchor: Some(d(2025, 2, 1)), // baseline 5 Jan, measurements 20 Jan and 1 Feb
            last_form_date: Some(d(2025, 2, 1)),
            ..facts(TreatmentLevel::Inpatient)
        };
        let due = d(2025, 3, 15); // 1 Feb + 42 days
        assert_eq!(kinds(&f, due), [(K::MeasurementDue, due)]);
        assert_eq!(kinds(&f, d(2025, 3, 16)), [(K::MeasurementLate, due)]);
    }

    #[test]
    fn the_notice_period_is_configurable() {
        let f = PathwayFacts {
            anchor: Some(d(2025, 1, 10)),
            last_form_date: Some(d(2025, 1, 10)),
            ..facts(TreatmentLevel::Outpatient)
        };
        let config = WorklistConfig { measurement_notice_days: 0, ..WorklistConfig::default() };
        assert!(worklist_items(&f, d(2025, 3, 6), &config).is_empty());
        assert_eq!(worklist_items(&f, d(2025, 3, 7), &config)[0].kind, K::MeasurementDue);
    }

    #[test]
    fn no_form_for_120_days_is_possibly_ended() {
        let f = PathwayFacts {
            anchor: Some(d(2025, 1, 10)),
            last_form_date: Some(d(2025, 2, 1)),
            ..facts(TreatmentLevel::Outpatient)
        };
        let limit = d(2025, 6, 1); // 1 Feb + 120 days
        assert!(!kinds(&f, d(2025, 5, 31)).iter().any(|(k, _)| *k == K::PossiblyEnded));
        assert!(kinds(&f, limit).contains(&(K::PossiblyEnded, limit)));
    }

    #[test]
    fn possibly_ended_counts_from_the_start_without_forms() {
        let f = facts(TreatmentLevel::Outpatient);
        let limit = d(2025, 5, 1); // 1 Jan + 120 days
        assert_eq!(kinds(&f, limit), [(K::BaselineOverdue, d(2025, 1, 22)), (K::PossiblyEnded, limit)]);
    }

    fn discharged(ending: DischargeEnding, consent: bool) -> PathwayFacts {
        PathwayFacts {
            status: ending.status(),
            anchor: Some(d(2025, 1, 10)),
            last_form_date: Some(d(2025, 3, 31)),
            discharge: Some(CompletedDischarge { date: d(2025, 3, 31), ending, contact_consent_1y: consent }),
            ..facts(TreatmentLevel::Outpatient)
        }
    }

    #[test]
    fn a_discharged_pathway_gets_no_baseline_measurement_or_ended_items() {
        let f = PathwayFacts { anchor: None, ..discharged(DischargeEnding::TransferredOutside, true) };
        assert!(kinds(&f, d(2026, 12, 1)).is_empty());
    }

    #[test]
    fn follow_up_window_opens_at_11_months_is_due_at_12_and_closes_at_14() {
        let f = discharged(DischargeEnding::MutualAgreement, true);
        let due = d(2026, 3, 31);
        assert!(kinds(&f, d(2026, 2, 27)).is_empty());
        // 31 March + 11 months = 28 February (clamped to the month's end).
        assert_eq!(kinds(&f, d(2026, 2, 28)), [(K::FollowUpWindowOpen, due)]);
        assert_eq!(kinds(&f, d(2026, 3, 30)), [(K::FollowUpWindowOpen, due)]);
        assert_eq!(kinds(&f, due), [(K::FollowUpDue, due)]);
        assert_eq!(kinds(&f, d(2026, 5, 31)), [(K::FollowUpDue, due)]);
        assert_eq!(kinds(&f, d(2026, 6, 1)), [(K::FollowUpOverdue, due)]);
    }

    #[test]
    fn follow_up_only_after_ending_3_or_4_with_consent() {
        let today = d(2026, 4, 15);
        assert_eq!(kinds(&discharged(DischargeEnding::BrokenOff, true), today)[0].0, K::FollowUpDue);
        assert!(kinds(&discharged(DischargeEnding::TransferredOutside, true), today).is_empty());
        assert!(kinds(&discharged(DischargeEnding::MutualAgreement, false), today).is_empty());
    }

    #[test]
    fn a_completed_follow_up_clears_the_item() {
        let f = PathwayFacts { follow_up_done: true, ..discharged(DischargeEnding::BrokenOff, true) };
        assert!(kinds(&f, d(2026, 4, 15)).is_empty());
        let f = PathwayFacts { status: TreatmentStatus::NotReached, ..discharged(DischargeEnding::BrokenOff, true) };
        assert!(kinds(&f, d(2026, 7, 15)).is_empty());
    }

    #[test]
    fn config_overrides_follow_up_windows() {
        let f = discharged(DischargeEnding::MutualAgreement, true);
        let config = WorklistConfig { follow_up_opens_months: 10, ..WorklistConfig::default() };
        assert_eq!(worklist_items(&f, d(2026, 1, 31), &config)[0].kind, K::FollowUpWindowOpen);
        assert!(worklist_items(&f, d(2026, 1, 31), &WorklistConfig::default()).is_empty());
    }

    #[test]
    fn config_deserializes_with_defaults_for_missing_fields() {
        let c: WorklistConfig = serde_json::from_str(r#"{"baseline_due_days_outpatient": 30}"#).unwrap();
        assert_eq!(c.baseline_due_days_outpatient, 30);
        assert_eq!(c.measurement_missing_after_days, 90);
        assert!(serde_json::from_str::<WorklistConfig>(r#"{"typo": 1}"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn items_are_consistent_with_their_due_dates(
            level in 1i16..=6, baseline in proptest::option::of(0u64..200), measured in proptest::collection::vec(0u64..200, 0..3),
            discharge in proptest::option::of((0u64..200, 2i16..=4, proptest::bool::ANY)), today in 0u64..900,
        ) {
            let day = |n: u64| d(2025, 1, 1).checked_add_days(Days::new(n)).unwrap();
            let discharge = discharge.map(|(n, e, c)| CompletedDischarge {
                date: day(n),
                ending: DischargeEnding::from_code(e).unwrap(),
                contact_consent_1y: c,
            });
            let f = PathwayFacts {
                treatment_level: TreatmentLevel::from_code(level).unwrap(),
                status: discharge.map_or(TreatmentStatus::Active, |x| x.ending.status()),
                anchor: measured.iter().copied().chain(baseline).max().map(day),
                last_form_date: measured.iter().copied().chain(baseline).max().map(day),
                discharge,
                ..facts(TreatmentLevel::Outpatient)
            };
            let today = day(today);
            let items = worklist_items(&f, today, &WorklistConfig::default());
            let mut forms: Vec<FormKind> = items.iter().map(|i| i.kind.form()).collect();
            forms.dedup();
            proptest::prop_assert_eq!(forms.len(), items.len(), "one item per form: {:?}", items);
            for i in &items {
                match i.kind {
                    K::BaselineDue | K::MeasurementDue | K::FollowUpWindowOpen => proptest::prop_assert!(today <= i.due_date),
                    _ => proptest::prop_assert!(today >= i.due_date),
                }
                if discharge.is_some() {
                    proptest::prop_assert_eq!(i.kind.form(), FormKind::FollowUp);
                }
            }
        }
    }

    #[test]
    fn item_kinds_name_their_form_and_overdueness() {
        assert_eq!(K::FollowUpDue.form(), FormKind::FollowUp);
        assert_eq!(K::PossiblyEnded.form(), FormKind::Discharge);
        assert!(K::MeasurementLate.is_overdue());
        assert!(!K::MeasurementDue.is_overdue());
        assert_eq!(serde_json::to_value(K::FollowUpWindowOpen).unwrap(), serde_json::json!("follow_up_window_open"));
        assert_eq!(K::FollowUpWindowOpen.as_str(), "follow_up_window_open");
    }
}
