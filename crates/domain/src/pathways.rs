//! The pathway (forløp, docs/domain.md, Pathways): its status codes and their transitions,
//! treatment levels, the start date, and the rules for opening a pathway and transferring it to
//! another unit.
//!
//! Status transitions (see [`next_status`]):
//!
//! | event | from | to |
//! |---|---|---|
//! | opening the pathway | — | 1 active |
//! | completing the discharge | 1 | the discharge's `ending` (2, 3 or 4) |
//! | completing the follow-up | 3 or 4 | the follow-up's `outcome` (5, 6 or 7) |
//! | reopening the follow-up | 5, 6 or 7 | the completed discharge's `ending` (3 or 4) |
//! | reopening the discharge | 2, 3 or 4 | 1 active |
//! | reopening the discharge | 5, 6 or 7 | refused (409): reopen the follow-up first |
//!
//! Reopening or completing a baseline or measurement never changes the status. A transfer within
//! the register keeps the status (1 active).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, FieldError};
use crate::organisations::NodeId;
use crate::patients::PatientId;

/// Internal id of a pathway (uuid, so ids reveal no counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathwayId(pub Uuid);

impl std::fmt::Display for PathwayId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Earliest date accepted as a pathway start, a choice of the register's own: the national TSB
/// pathway (pakkeforløp) started in 2019, and long-term patients (for example in LAR) may have
/// older starts, so we only refuse dates that cannot be meant (before 2000).
pub const EARLIEST_START_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// `treatment_status` (behandlingsstatus). Codes 1–7 are stable forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub enum TreatmentStatus {
    /// 1 aktiv: set by opening the pathway.
    Active = 1,
    /// 2 overført: transferred to a legal entity outside the register (discharge ending 2).
    Transferred = 2,
    /// 3 avbrutt: broken off (discharge ending 3).
    BrokenOff = 3,
    /// 4 avsluttet med gjensidig avtale: ended by mutual agreement (discharge ending 4).
    MutualAgreement = 4,
    /// 5 fulgt opp etter 1 år (follow-up outcome 5).
    FollowedUp = 5,
    /// 6 ikke oppnådd kontakt etter 1 år (follow-up outcome 6).
    NotReached = 6,
    /// 7 ønsker ikke å svare etter 1 år (follow-up outcome 7).
    Declined = 7,
}

/// The code list of `treatment_status`, in code order: (code, English label).
pub const TREATMENT_STATUS_CODES: &[(i16, &str)] = &[
    (1, "active (aktiv)"),
    (2, "transferred to a legal entity outside the register (overført)"),
    (3, "broken off (avbrutt)"),
    (4, "ended by mutual agreement (avsluttet med gjensidig avtale)"),
    (5, "followed up after one year (fulgt opp etter 1 år)"),
    (6, "not reached after one year (ikke oppnådd kontakt)"),
    (7, "declined to answer after one year (ønsker ikke å svare)"),
];

impl TreatmentStatus {
    pub const ALL: [TreatmentStatus; 7] = [
        Self::Active,
        Self::Transferred,
        Self::BrokenOff,
        Self::MutualAgreement,
        Self::FollowedUp,
        Self::NotReached,
        Self::Declined,
    ];

    /// The stable code (1–7).
    pub fn code(self) -> i16 {
        self as i16
    }

    /// The status with this code, if any.
    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Like [`TreatmentStatus::from_code`], as a field error on `treatment_status`.
    pub fn parse(code: i16) -> Result<Self, DomainError> {
        Self::from_code(code)
            .ok_or_else(|| DomainError::invalid("treatment_status", "code_list", "must be a code from 1 to 7"))
    }

    /// Status 1: the pathway is open at a unit.
    pub fn is_active(self) -> bool {
        self == Self::Active
    }

    /// Statuses 2–4: a discharge is completed and no follow-up is.
    pub fn is_discharged(self) -> bool {
        matches!(self, Self::Transferred | Self::BrokenOff | Self::MutualAgreement)
    }

    /// Statuses 5–7: the one-year follow-up is completed.
    pub fn is_followed_up(self) -> bool {
        matches!(self, Self::FollowedUp | Self::NotReached | Self::Declined)
    }
}

impl From<TreatmentStatus> for i16 {
    fn from(s: TreatmentStatus) -> i16 {
        s.code()
    }
}

impl TryFrom<i16> for TreatmentStatus {
    type Error = String;
    fn try_from(code: i16) -> Result<Self, String> {
        Self::from_code(code).ok_or_else(|| format!("unknown treatment_status code {code}"))
    }
}

/// A discharge's `ending` (codes 2–4, the same codes as the status it sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub enum DischargeEnding {
    /// 2: transferred to a legal entity outside the register.
    TransferredOutside = 2,
    /// 3: broken off.
    BrokenOff = 3,
    /// 4: ended by mutual agreement.
    MutualAgreement = 4,
}

/// The code list of a discharge's `ending`.
pub const DISCHARGE_ENDING_CODES: &[(i16, &str)] =
    &[(2, "transferred to a legal entity outside the register"), (3, "broken off"), (4, "mutual agreement")];

impl DischargeEnding {
    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            2 => Some(Self::TransferredOutside),
            3 => Some(Self::BrokenOff),
            4 => Some(Self::MutualAgreement),
            _ => None,
        }
    }

    /// The status a completed discharge with this ending sets (2, 3 or 4).
    pub fn status(self) -> TreatmentStatus {
        match self {
            Self::TransferredOutside => TreatmentStatus::Transferred,
            Self::BrokenOff => TreatmentStatus::BrokenOff,
            Self::MutualAgreement => TreatmentStatus::MutualAgreement,
        }
    }

    /// Endings 3 and 4 lead to a one-year follow-up; ending 2 (the patient went on elsewhere)
    /// does not.
    pub fn gets_follow_up(self) -> bool {
        matches!(self, Self::BrokenOff | Self::MutualAgreement)
    }
}

impl From<DischargeEnding> for i16 {
    fn from(e: DischargeEnding) -> i16 {
        e.code()
    }
}

impl TryFrom<i16> for DischargeEnding {
    type Error = String;
    fn try_from(code: i16) -> Result<Self, String> {
        Self::from_code(code).ok_or_else(|| format!("unknown ending code {code}"))
    }
}

/// A follow-up's `outcome` (codes 5–7, the same codes as the status it sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub enum FollowUpOutcome {
    /// 5: followed up (the patient answered).
    FollowedUp = 5,
    /// 6: not reached.
    NotReached = 6,
    /// 7: declined to answer.
    Declined = 7,
}

/// The code list of a follow-up's `outcome`.
pub const FOLLOW_UP_OUTCOME_CODES: &[(i16, &str)] =
    &[(5, "followed up"), (6, "not reached"), (7, "declined to answer")];

impl FollowUpOutcome {
    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            5 => Some(Self::FollowedUp),
            6 => Some(Self::NotReached),
            7 => Some(Self::Declined),
            _ => None,
        }
    }

    /// The status a completed follow-up with this outcome sets (5, 6 or 7).
    pub fn status(self) -> TreatmentStatus {
        match self {
            Self::FollowedUp => TreatmentStatus::FollowedUp,
            Self::NotReached => TreatmentStatus::NotReached,
            Self::Declined => TreatmentStatus::Declined,
        }
    }
}

impl From<FollowUpOutcome> for i16 {
    fn from(o: FollowUpOutcome) -> i16 {
        o.code()
    }
}

impl TryFrom<i16> for FollowUpOutcome {
    type Error = String;
    fn try_from(code: i16) -> Result<Self, String> {
        Self::from_code(code).ok_or_else(|| format!("unknown outcome code {code}"))
    }
}

/// What happened to a pathway, for [`next_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusEvent {
    /// A discharge was completed with this ending.
    DischargeCompleted(DischargeEnding),
    /// A follow-up was completed with this outcome.
    FollowUpCompleted(FollowUpOutcome),
    /// The completed discharge was reopened.
    DischargeReopened,
    /// The completed follow-up was reopened; the pathway goes back to what the (still completed)
    /// discharge set.
    FollowUpReopened { discharge_ending: DischargeEnding },
}

impl StatusEvent {
    /// The event's name in the pathway's status history.
    pub fn name(self) -> &'static str {
        match self {
            Self::DischargeCompleted(_) => "discharge_completed",
            Self::FollowUpCompleted(_) => "follow_up_completed",
            Self::DischargeReopened => "discharge_reopened",
            Self::FollowUpReopened { .. } => "follow_up_reopened",
        }
    }
}

/// The status after `event`, or `Conflict` when the event does not fit the current status
/// (for example completing a discharge on a pathway that is not active, completing a follow-up
/// after ending 2, or reopening a discharge while its follow-up is completed).
pub fn next_status(current: TreatmentStatus, event: StatusEvent) -> Result<TreatmentStatus, DomainError> {
    use TreatmentStatus as S;
    match event {
        StatusEvent::DischargeCompleted(ending) if current == S::Active => Ok(ending.status()),
        StatusEvent::DischargeCompleted(_) => Err(DomainError::conflict("only an active pathway can be discharged")),
        StatusEvent::FollowUpCompleted(outcome) if matches!(current, S::BrokenOff | S::MutualAgreement) => {
            Ok(outcome.status())
        }
        StatusEvent::FollowUpCompleted(_) => Err(DomainError::conflict(
            "a follow-up needs a completed discharge that was broken off or ended by mutual agreement",
        )),
        StatusEvent::DischargeReopened if current.is_discharged() => Ok(S::Active),
        StatusEvent::DischargeReopened if current.is_followed_up() => {
            Err(DomainError::conflict("reopen the follow-up before the discharge"))
        }
        StatusEvent::DischargeReopened => Err(DomainError::conflict("the pathway has no completed discharge")),
        StatusEvent::FollowUpReopened { discharge_ending } if current.is_followed_up() => Ok(discharge_ending.status()),
        StatusEvent::FollowUpReopened { .. } => Err(DomainError::conflict("the pathway has no completed follow-up")),
    }
}

/// `treatment_level` (behandlingsnivå). Codes 1–6 are stable forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub enum TreatmentLevel {
    /// 1 poliklinisk.
    Outpatient = 1,
    /// 2 dag.
    Day = 2,
    /// 3 døgn.
    Inpatient = 3,
    /// 4 ambulant.
    Ambulant = 4,
    /// 5 avrusning.
    Detoxification = 5,
    /// 6 utredning.
    Assessment = 6,
}

/// The code list of `treatment_level`.
pub const TREATMENT_LEVEL_CODES: &[(i16, &str)] = &[
    (1, "outpatient (poliklinisk)"),
    (2, "day (dag)"),
    (3, "inpatient (døgn)"),
    (4, "ambulant"),
    (5, "detoxification (avrusning)"),
    (6, "assessment (utredning)"),
];

impl TreatmentLevel {
    pub const ALL: [TreatmentLevel; 6] =
        [Self::Outpatient, Self::Day, Self::Inpatient, Self::Ambulant, Self::Detoxification, Self::Assessment];

    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Like [`TreatmentLevel::from_code`], as a field error on `treatment_level`.
    pub fn parse(code: i16) -> Result<Self, DomainError> {
        Self::from_code(code)
            .ok_or_else(|| DomainError::invalid("treatment_level", "code_list", "must be a code from 1 to 6"))
    }

    /// Inpatient, detoxification and day treatment use the inpatient time limits; outpatient,
    /// ambulant and assessment the outpatient ones (docs/domain.md, Treatment levels).
    pub fn uses_inpatient_limits(self) -> bool {
        matches!(self, Self::Inpatient | Self::Detoxification | Self::Day)
    }
}

impl From<TreatmentLevel> for i16 {
    fn from(l: TreatmentLevel) -> i16 {
        l.code()
    }
}

impl TryFrom<i16> for TreatmentLevel {
    type Error = String;
    fn try_from(code: i16) -> Result<Self, String> {
        Self::from_code(code).ok_or_else(|| format!("unknown treatment_level code {code}"))
    }
}

/// The pakkeforløp start date: not in the future, not before [`EARLIEST_START_DATE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StartDate(NaiveDate);

impl StartDate {
    pub fn parse(raw: NaiveDate, today: NaiveDate) -> Result<Self, DomainError> {
        Self::parse_field(raw, today).map_err(|e| DomainError::Invalid(vec![e]))
    }

    /// Like [`StartDate::parse`], returning the single field error.
    pub fn parse_field(raw: NaiveDate, today: NaiveDate) -> Result<Self, FieldError> {
        if raw > today {
            return Err(FieldError::new("start_date", "date_order", "must not be in the future"));
        }
        if raw < EARLIEST_START_DATE {
            return Err(FieldError::new("start_date", "range", "must not be before 2000-01-01"));
        }
        Ok(Self(raw))
    }

    /// Rebuild from storage without the clock check (the date was checked when it was stored).
    pub fn from_stored(date: NaiveDate) -> Self {
        Self(date)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// The input of opening a pathway (`POST /pathways`), before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenPathwayInput {
    pub patient_id: PatientId,
    pub unit_id: NodeId,
    pub start_date: NaiveDate,
    pub treatment_level: i16,
    /// The patient's municipality (or Oslo city district) of residence on the start date
    /// (docs/residence.md); checked against the reference data by the service.
    #[serde(default)]
    pub residence_code: Option<String>,
}

/// A validated request to open a pathway; its status is always 1 active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPathway {
    pub patient: PatientId,
    pub unit: NodeId,
    pub start_date: StartDate,
    pub treatment_level: TreatmentLevel,
    /// The residence code, of the right form (valid on the start date: checked by the service).
    pub residence_code: Option<String>,
}

impl NewPathway {
    /// The status a new pathway gets.
    pub const STATUS: TreatmentStatus = TreatmentStatus::Active;

    /// Validate the fields of `input`, reporting every failing field at once. Whether the patient
    /// and unit exist, the caller's access, and "one active pathway per patient"
    /// ([`check_no_active_pathway`]) are checked by the service.
    pub fn parse(input: &OpenPathwayInput, today: NaiveDate) -> Result<Self, DomainError> {
        let mut errors = Vec::new();
        let start_date = StartDate::parse_field(input.start_date, today).map_err(|e| errors.push(e)).ok();
        let treatment_level = TreatmentLevel::from_code(input.treatment_level);
        if treatment_level.is_none() {
            errors.push(FieldError::new("treatment_level", "code_list", "must be a code from 1 to 6"));
        }
        if let Some(code) = &input.residence_code {
            if !crate::residence::is_area_code(code) {
                errors.push(FieldError::new(
                    "residence_code",
                    "format",
                    "a municipality number has four digits, a city district six",
                ));
            }
        }
        match (start_date, treatment_level) {
            (Some(start_date), Some(treatment_level)) if errors.is_empty() => Ok(Self {
                patient: input.patient_id,
                unit: input.unit_id,
                start_date,
                treatment_level,
                residence_code: input.residence_code.clone(),
            }),
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

/// One pathway per patient may be active at a time: `Conflict` (code `conflict`) when the patient
/// already has one.
pub fn check_no_active_pathway(patient_has_active_pathway: bool) -> Result<(), DomainError> {
    if patient_has_active_pathway {
        return Err(DomainError::conflict("the patient already has an active pathway"));
    }
    Ok(())
}

/// What a transfer is checked against: the pathway as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferFacts {
    pub status: TreatmentStatus,
    pub start_date: NaiveDate,
    pub owning_unit: NodeId,
    /// The date of the latest earlier transfer, if any.
    pub last_transfer_date: Option<NaiveDate>,
}

/// A request to move the pathway to another unit within the register (`POST
/// /pathways/{id}/transfers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub to_unit_id: NodeId,
    pub date: NaiveDate,
}

/// The transfer rule: only an active pathway moves (`Conflict` otherwise); the date is not before
/// the pathway start nor before the latest earlier transfer, and not in the future; the receiving
/// unit differs from the owning one. Field errors are on `date` and `to_unit_id`, all at once.
/// That the receiving unit exists and is a unit is checked by the service against the tree.
pub fn validate_transfer(facts: &TransferFacts, input: &TransferInput, today: NaiveDate) -> Result<(), DomainError> {
    if !facts.status.is_active() {
        return Err(DomainError::conflict("only an active pathway can be transferred"));
    }
    let mut errors = Vec::new();
    if input.date < facts.start_date {
        errors.push(FieldError::new("date", "date_order", "must not be before the pathway start date"));
    } else if facts.last_transfer_date.is_some_and(|last| input.date < last) {
        errors.push(FieldError::new("date", "date_order", "must not be before the previous transfer"));
    }
    if input.date > today {
        errors.push(FieldError::new("date", "date_order", "must not be in the future"));
    }
    if input.to_unit_id == facts.owning_unit {
        errors.push(FieldError::new("to_unit_id", "conflict_rule", "must differ from the unit that owns the pathway"));
    }
    DomainError::check(errors)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn codes(err: DomainError) -> Vec<(String, String)> {
        match err {
            DomainError::Invalid(errs) => errs.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    fn is_conflict(r: Result<impl std::fmt::Debug, DomainError>) -> bool {
        matches!(r, Err(DomainError::Conflict { .. }))
    }

    #[test]
    fn status_codes_round_trip_and_reject_unknown_codes() {
        for s in TreatmentStatus::ALL {
            assert_eq!(TreatmentStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(TreatmentStatus::from_code(0), None);
        assert_eq!(TreatmentStatus::from_code(8), None);
        assert!(TreatmentStatus::parse(8).is_err());
        assert_eq!(TREATMENT_STATUS_CODES.len(), TreatmentStatus::ALL.len());
        for (s, (code, _)) in TreatmentStatus::ALL.iter().zip(TREATMENT_STATUS_CODES) {
            assert_eq!(s.code(), *code);
        }
    }

    #[test]
    fn status_serializes_as_its_code() {
        assert_eq!(serde_json::to_string(&TreatmentStatus::BrokenOff).unwrap(), "3");
        assert_eq!(serde_json::from_str::<TreatmentStatus>("5").unwrap(), TreatmentStatus::FollowedUp);
        assert!(serde_json::from_str::<TreatmentStatus>("9").is_err());
    }

    #[test]
    fn completing_a_discharge_sets_the_status_from_the_ending() {
        use DischargeEnding as E;
        for (e, s) in [
            (E::TransferredOutside, TreatmentStatus::Transferred),
            (E::BrokenOff, TreatmentStatus::BrokenOff),
            (E::MutualAgreement, TreatmentStatus::MutualAgreement),
        ] {
            assert_eq!(next_status(TreatmentStatus::Active, StatusEvent::DischargeCompleted(e)).unwrap(), s);
            assert_eq!(e.status().code(), e.code());
        }
    }

    #[test]
    fn completing_a_discharge_is_refused_when_not_active() {
        let ev = StatusEvent::DischargeCompleted(DischargeEnding::BrokenOff);
        assert!(is_conflict(next_status(TreatmentStatus::BrokenOff, ev)));
        assert!(is_conflict(next_status(TreatmentStatus::FollowedUp, ev)));
    }

    #[test]
    fn completing_a_follow_up_sets_the_status_from_the_outcome() {
        use FollowUpOutcome as O;
        for from in [TreatmentStatus::BrokenOff, TreatmentStatus::MutualAgreement] {
            for (o, s) in [
                (O::FollowedUp, TreatmentStatus::FollowedUp),
                (O::NotReached, TreatmentStatus::NotReached),
                (O::Declined, TreatmentStatus::Declined),
            ] {
                assert_eq!(next_status(from, StatusEvent::FollowUpCompleted(o)).unwrap(), s);
                assert_eq!(o.status().code(), o.code());
            }
        }
    }

    #[test]
    fn completing_a_follow_up_is_refused_without_a_fitting_discharge() {
        let ev = StatusEvent::FollowUpCompleted(FollowUpOutcome::FollowedUp);
        for from in [TreatmentStatus::Active, TreatmentStatus::Transferred, TreatmentStatus::Declined] {
            assert!(is_conflict(next_status(from, ev)), "{from:?}");
        }
    }

    #[test]
    fn reopening_a_discharge_reverts_to_active() {
        for from in [TreatmentStatus::Transferred, TreatmentStatus::BrokenOff, TreatmentStatus::MutualAgreement] {
            assert_eq!(next_status(from, StatusEvent::DischargeReopened).unwrap(), TreatmentStatus::Active);
        }
    }

    #[test]
    fn reopening_a_discharge_is_refused_while_the_follow_up_is_completed_or_when_active() {
        assert!(is_conflict(next_status(TreatmentStatus::FollowedUp, StatusEvent::DischargeReopened)));
        assert!(is_conflict(next_status(TreatmentStatus::Active, StatusEvent::DischargeReopened)));
    }

    #[test]
    fn reopening_a_follow_up_reverts_to_the_discharge_status() {
        let ev = StatusEvent::FollowUpReopened { discharge_ending: DischargeEnding::MutualAgreement };
        assert_eq!(next_status(TreatmentStatus::NotReached, ev).unwrap(), TreatmentStatus::MutualAgreement);
        assert!(is_conflict(next_status(TreatmentStatus::MutualAgreement, ev)));
    }

    #[test]
    fn only_endings_3_and_4_get_a_follow_up() {
        assert!(!DischargeEnding::TransferredOutside.gets_follow_up());
        assert!(DischargeEnding::BrokenOff.gets_follow_up());
        assert!(DischargeEnding::MutualAgreement.gets_follow_up());
    }

    #[test]
    fn treatment_levels_use_the_right_limits() {
        use TreatmentLevel as L;
        for l in [L::Inpatient, L::Detoxification, L::Day] {
            assert!(l.uses_inpatient_limits(), "{l:?}");
        }
        for l in [L::Outpatient, L::Ambulant, L::Assessment] {
            assert!(!l.uses_inpatient_limits(), "{l:?}");
        }
    }

    #[test]
    fn treatment_level_parse_accepts_1_to_6_only() {
        for c in 1..=6 {
            assert_eq!(TreatmentLevel::parse(c).unwrap().code(), c);
        }
        for c in [0, 7, -1] {
            assert_eq!(codes(TreatmentLevel::parse(c).unwrap_err()), [("treatment_level".into(), "code_list".into())]);
        }
    }

    #[test]
    fn start_date_accepts_today_and_the_past() {
        let today = d(2026, 3, 1);
        assert_eq!(StartDate::parse(today, today).unwrap().date(), today);
        assert!(StartDate::parse(d(2019, 1, 1), today).is_ok());
    }

    #[test]
    fn start_date_rejects_the_future_and_the_absurd_past() {
        let today = d(2026, 3, 1);
        assert_eq!(codes(StartDate::parse(d(2026, 3, 2), today).unwrap_err())[0].1, "date_order");
        assert_eq!(codes(StartDate::parse(d(1999, 12, 31), today).unwrap_err())[0].1, "range");
    }

    fn input(start: NaiveDate, level: i16) -> OpenPathwayInput {
        OpenPathwayInput {
            patient_id: PatientId(Uuid::nil()),
            unit_id: NodeId(7),
            start_date: start,
            treatment_level: level,
            residence_code: None,
        }
    }

    #[test]
    fn opening_a_pathway_validates_all_fields() {
        let today = d(2026, 3, 1);
        let ok = NewPathway::parse(&input(d(2026, 2, 1), 3), today).unwrap();
        assert_eq!(ok.treatment_level, TreatmentLevel::Inpatient);
        assert_eq!(NewPathway::STATUS, TreatmentStatus::Active);
        let errs = codes(NewPathway::parse(&input(d(2026, 4, 1), 9), today).unwrap_err());
        assert_eq!(
            errs,
            [("start_date".to_string(), "date_order".to_string()), ("treatment_level".into(), "code_list".into())]
        );
    }

    #[test]
    fn open_pathway_input_denies_unknown_fields() {
        let json = r#"{"patient_id":"00000000-0000-0000-0000-000000000000","unit_id":1,
            "start_date":"2026-01-05","treatment_level":1,"extra":true}"#;
        assert!(serde_json::from_str::<OpenPathwayInput>(json).is_err());
    }

    #[test]
    fn a_second_active_pathway_is_a_conflict() {
        assert!(check_no_active_pathway(false).is_ok());
        assert!(is_conflict(check_no_active_pathway(true)));
    }

    fn facts() -> TransferFacts {
        TransferFacts {
            status: TreatmentStatus::Active,
            start_date: d(2026, 1, 10),
            owning_unit: NodeId(1),
            last_transfer_date: None,
        }
    }

    #[test]
    fn a_transfer_on_or_after_start_to_another_unit_is_valid() {
        let today = d(2026, 3, 1);
        assert!(
            validate_transfer(&facts(), &TransferInput { to_unit_id: NodeId(2), date: d(2026, 1, 10) }, today).is_ok()
        );
        assert!(validate_transfer(&facts(), &TransferInput { to_unit_id: NodeId(2), date: today }, today).is_ok());
    }

    #[test]
    fn a_transfer_before_start_in_the_future_or_to_the_same_unit_is_invalid() {
        let today = d(2026, 3, 1);
        let before = validate_transfer(&facts(), &TransferInput { to_unit_id: NodeId(2), date: d(2026, 1, 9) }, today);
        assert_eq!(codes(before.unwrap_err()), [("date".to_string(), "date_order".to_string())]);
        let future = validate_transfer(&facts(), &TransferInput { to_unit_id: NodeId(1), date: d(2026, 3, 2) }, today);
        assert_eq!(
            codes(future.unwrap_err()),
            [("date".to_string(), "date_order".to_string()), ("to_unit_id".into(), "conflict_rule".into())]
        );
    }

    #[test]
    fn a_transfer_before_the_previous_transfer_is_invalid() {
        let today = d(2026, 3, 1);
        let f = TransferFacts { last_transfer_date: Some(d(2026, 2, 1)), ..facts() };
        assert!(validate_transfer(&f, &TransferInput { to_unit_id: NodeId(2), date: d(2026, 1, 31) }, today).is_err());
        assert!(validate_transfer(&f, &TransferInput { to_unit_id: NodeId(2), date: d(2026, 2, 1) }, today).is_ok());
    }

    #[test]
    fn a_discharged_pathway_cannot_be_transferred() {
        let f = TransferFacts { status: TreatmentStatus::BrokenOff, ..facts() };
        let r = validate_transfer(&f, &TransferInput { to_unit_id: NodeId(2), date: d(2026, 2, 1) }, d(2026, 3, 1));
        assert!(is_conflict(r));
    }
}
