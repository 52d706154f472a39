//! The four forms of a pathway (docs/domain.md, Forms): their field structs, the two validation
//! levels, the cross-form date rules, the status a completed form sets, and the field catalogue
//! from which docs/data-dictionary.md is generated.
//!
//! - [`validate_draft`](FormData::validate_draft) checks types, ranges, code lists and ICD-10
//!   formats only: what any saved draft must satisfy.
//! - [`validate_complete`](FormData::validate_complete) runs every rule: the draft checks,
//!   required fields, cross-field rules and the date rules against a [`FormContext`].
//!
//! Both return every failing field at once. Field names in errors are the JSON paths, dotted for
//! nested values: `substance_use.substances.0.route`, `agreed_follow_up.1`. Error codes:
//! `required`, `range`, `code_list`, `format` (ICD-10), `duplicate` (a code or substance listed
//! twice), `not_applicable` (a field this form does not have, such as `debut_age` outside the
//! baseline), `conflict_rule` (a cross-field rule), `date_order` (the date rules) and
//! `prerequisite` (on the pseudo-field `form`: another form must be completed first).
//! Warnings (which never stop completion) use the code `late`.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, FieldError};
use crate::pathways::{DischargeEnding, TreatmentStatus};

mod baseline;
pub mod catalogue;
mod check;
pub mod codes;
mod discharge;
mod follow_up;
mod measurement;
mod substance;

pub use baseline::Baseline;
pub use catalogue::{data_dictionary_markdown, FieldKind, FieldOwner, FieldSpec, Required};
pub use discharge::Discharge;
pub use follow_up::FollowUp;
pub use measurement::Measurement;
pub use substance::{SubstanceEntry, SubstanceUse};

/// Internal id of a form (uuid, so ids reveal no counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FormId(pub Uuid);

impl std::fmt::Display for FormId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A follow-up must be dated at least this many days after the discharge.
pub const FOLLOW_UP_MIN_DAYS_AFTER_DISCHARGE: u64 = 300;
/// A follow-up dated more than this many months after the discharge gets a warning.
pub const FOLLOW_UP_WARN_AFTER_MONTHS: u32 = 14;

/// The kind of a form. Serialized, and named in URLs, as `baseline`, `measurement`, `discharge`,
/// `follow-up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormKind {
    /// Basisregistrering.
    Baseline,
    /// Målepunkt (repeats).
    Measurement,
    /// Avslutning.
    Discharge,
    /// Ettårsoppfølging.
    FollowUp,
}

impl FormKind {
    pub const ALL: [FormKind; 4] = [Self::Baseline, Self::Measurement, Self::Discharge, Self::FollowUp];

    /// The URL and JSON name: `baseline`, `measurement`, `discharge`, `follow-up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Measurement => "measurement",
            Self::Discharge => "discharge",
            Self::FollowUp => "follow-up",
        }
    }

    /// The kind with this URL name (exact, lower case).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The Norwegian name.
    pub fn label_nb(self) -> &'static str {
        match self {
            Self::Baseline => "Basisregistrering",
            Self::Measurement => "Målepunkt",
            Self::Discharge => "Avslutning",
            Self::FollowUp => "Ettårsoppfølging",
        }
    }

    /// Only measurements repeat; a pathway has at most one baseline, discharge and follow-up.
    pub fn repeats(self) -> bool {
        self == Self::Measurement
    }

    /// Whether a new form of this kind may be started on a pathway with this status: baseline,
    /// measurement and discharge while the pathway is active; the follow-up after a discharge
    /// with ending 3 or 4 (status 3 or 4). A choice of the register's own.
    pub fn may_start(self, status: TreatmentStatus) -> bool {
        match self {
            Self::Baseline | Self::Measurement | Self::Discharge => status.is_active(),
            Self::FollowUp => matches!(status, TreatmentStatus::BrokenOff | TreatmentStatus::MutualAgreement),
        }
    }
}

impl std::fmt::Display for FormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A form is a draft until it is completed (ferdigstilt); only completed forms count in reports.
/// Reopening makes a completed form a draft again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormStatus {
    Draft,
    Completed,
}

impl FormStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Completed => "completed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "draft" => Some(Self::Draft),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// What a completed discharge tells the follow-up and the worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedDischarge {
    pub date: NaiveDate,
    pub ending: DischargeEnding,
    /// `contact_consent_1y` is yes.
    pub contact_consent_1y: bool,
}

/// The rest of the pathway, as the date rules of completion need it. Holds only **completed**
/// forms **other than** the one being validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormContext {
    pub today: NaiveDate,
    pub pathway_start: NaiveDate,
    /// The completed baseline's `event_date`.
    pub baseline_date: Option<NaiveDate>,
    /// The `event_date` of every completed measurement point.
    pub measurement_dates: Vec<NaiveDate>,
    /// The completed discharge.
    pub discharge: Option<CompletedDischarge>,
}

impl FormContext {
    /// A pathway with no completed forms.
    pub fn new(pathway_start: NaiveDate, today: NaiveDate) -> Self {
        Self { today, pathway_start, baseline_date: None, measurement_dates: Vec::new(), discharge: None }
    }
}

/// The date and prerequisite rules of completion, on `event_date` and `form`:
///
/// - every form: `event_date` is required, not after today, not before the pathway start;
/// - baseline: not after any completed measurement point, nor after the completed discharge;
/// - measurement: not before the completed baseline, nor after the completed discharge;
/// - discharge: not before the completed baseline nor any completed measurement point, and the
///   pathway must have a completed baseline or measurement point (`form`, `prerequisite`);
/// - follow-up: the pathway must have a completed discharge with ending 3 or 4 and
///   `contact_consent_1y` yes (`form`, `prerequisite`; the consent condition is the worklist's,
///   docs/domain.md, Worklist items, applied to completion too), and the date must be at least
///   300 days after the discharge.
pub(crate) fn check_event_date(c: &mut check::Checker, kind: FormKind, date: Option<NaiveDate>, ctx: &FormContext) {
    const F: &str = "event_date";
    match kind {
        FormKind::Discharge if ctx.baseline_date.is_none() && ctx.measurement_dates.is_empty() => {
            c.push("form", "prerequisite", "a discharge needs a completed baseline or measurement point");
        }
        FormKind::FollowUp => match ctx.discharge {
            None => c.push("form", "prerequisite", "a follow-up needs a completed discharge"),
            Some(d) if !d.ending.gets_follow_up() => c.push(
                "form",
                "prerequisite",
                "a follow-up needs a discharge that was broken off or ended by mutual agreement",
            ),
            Some(d) if !d.contact_consent_1y => {
                c.push("form", "prerequisite", "the patient did not consent to be contacted after one year")
            }
            Some(_) => {}
        },
        _ => {}
    }
    let Some(date) = date else {
        c.push(F, "required", "is required to complete the form");
        return;
    };
    c.not_after(F, date, ctx.today, "today");
    c.not_before(F, date, ctx.pathway_start, "the pathway start date");
    let discharge_date = ctx.discharge.map(|d| d.date);
    match kind {
        FormKind::Baseline => {
            if let Some(first) = ctx.measurement_dates.iter().min() {
                c.not_after(F, date, *first, "a completed measurement point");
            }
            if let Some(d) = discharge_date {
                c.not_after(F, date, d, "the discharge");
            }
        }
        FormKind::Measurement => {
            if let Some(b) = ctx.baseline_date {
                c.not_before(F, date, b, "the baseline");
            }
            if let Some(d) = discharge_date {
                c.not_after(F, date, d, "the discharge");
            }
        }
        FormKind::Discharge => {
            if let Some(b) = ctx.baseline_date {
                c.not_before(F, date, b, "the baseline");
            }
            if let Some(last) = ctx.measurement_dates.iter().max() {
                c.not_before(F, date, *last, "a completed measurement point");
            }
        }
        FormKind::FollowUp => {
            if let Some(earliest) =
                discharge_date.and_then(|d| d.checked_add_days(chrono::Days::new(FOLLOW_UP_MIN_DAYS_AFTER_DISCHARGE)))
            {
                c.not_before(F, date, earliest, "300 days after the discharge");
            }
        }
    }
}

/// The `late` warning of a follow-up dated more than 14 months after the discharge.
pub(crate) fn follow_up_warnings(date: Option<NaiveDate>, ctx: &FormContext) -> Vec<FieldError> {
    let limit = ctx.discharge.and_then(|d| d.date.checked_add_months(Months::new(FOLLOW_UP_WARN_AFTER_MONTHS)));
    match (date, limit) {
        (Some(date), Some(limit)) if date > limit => {
            vec![FieldError::new("event_date", "late", "is more than 14 months after the discharge")]
        }
        _ => Vec::new(),
    }
}

/// The fields of any form, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormData {
    Baseline(Baseline),
    Measurement(Measurement),
    Discharge(Discharge),
    FollowUp(FollowUp),
}

impl FormData {
    /// An empty draft of this kind.
    pub fn empty(kind: FormKind) -> Self {
        match kind {
            FormKind::Baseline => Self::Baseline(Baseline::default()),
            FormKind::Measurement => Self::Measurement(Measurement::default()),
            FormKind::Discharge => Self::Discharge(Discharge::default()),
            FormKind::FollowUp => Self::FollowUp(FollowUp::default()),
        }
    }

    /// Deserialize the fields of a form of a known kind (unknown fields are refused), e.g.
    /// `FormData::deserialize_as(kind, serde_json::Value)` or with a `serde_json::Deserializer`.
    pub fn deserialize_as<'de, D: Deserializer<'de>>(kind: FormKind, d: D) -> Result<Self, D::Error> {
        Ok(match kind {
            FormKind::Baseline => Self::Baseline(Baseline::deserialize(d)?),
            FormKind::Measurement => Self::Measurement(Measurement::deserialize(d)?),
            FormKind::Discharge => Self::Discharge(Discharge::deserialize(d)?),
            FormKind::FollowUp => Self::FollowUp(FollowUp::deserialize(d)?),
        })
    }

    pub fn kind(&self) -> FormKind {
        match self {
            Self::Baseline(_) => FormKind::Baseline,
            Self::Measurement(_) => FormKind::Measurement,
            Self::Discharge(_) => FormKind::Discharge,
            Self::FollowUp(_) => FormKind::FollowUp,
        }
    }

    pub fn event_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Baseline(f) => f.event_date,
            Self::Measurement(f) => f.event_date,
            Self::Discharge(f) => f.event_date,
            Self::FollowUp(f) => f.event_date,
        }
    }

    /// Types, ranges and code lists only, every failing field.
    pub fn validate_draft(&self) -> Vec<FieldError> {
        match self {
            Self::Baseline(f) => f.validate_draft(),
            Self::Measurement(f) => f.validate_draft(),
            Self::Discharge(f) => f.validate_draft(),
            Self::FollowUp(f) => f.validate_draft(),
        }
    }

    /// Every rule, every failing field; empty means the form may be completed.
    pub fn validate_complete(&self, ctx: &FormContext) -> Vec<FieldError> {
        match self {
            Self::Baseline(f) => f.validate_complete(ctx),
            Self::Measurement(f) => f.validate_complete(ctx),
            Self::Discharge(f) => f.validate_complete(ctx),
            Self::FollowUp(f) => f.validate_complete(ctx),
        }
    }

    /// Warnings shown on completion that do not stop it (only the follow-up has one).
    pub fn warnings(&self, ctx: &FormContext) -> Vec<FieldError> {
        match self {
            Self::FollowUp(f) => f.warnings(ctx),
            _ => Vec::new(),
        }
    }

    /// `validate_draft` as a `Result` (`DomainError::Invalid` with every failing field).
    pub fn check_draft(&self) -> Result<(), DomainError> {
        DomainError::check(self.validate_draft())
    }

    /// `validate_complete` as a `Result`; `Ok` carries the warnings.
    pub fn check_complete(&self, ctx: &FormContext) -> Result<Vec<FieldError>, DomainError> {
        DomainError::check(self.validate_complete(ctx))?;
        Ok(self.warnings(ctx))
    }

    /// The pathway status that completing this form sets, see [`status_after_completion`].
    pub fn status_after_completion(&self) -> Option<TreatmentStatus> {
        status_after_completion(self)
    }

    /// The status event that completing this form raises on its pathway: a discharge's ending,
    /// a follow-up's outcome; `None` for baseline and measurement (and for a missing code, which
    /// a form that passed `check_complete` never has). Apply it with
    /// [`crate::pathways::next_status`], which checks that it fits the current status; the
    /// resulting status is [`status_after_completion`].
    pub fn status_event(&self) -> Option<crate::pathways::StatusEvent> {
        use crate::pathways::{FollowUpOutcome, StatusEvent};
        match self {
            Self::Discharge(f) => f.ending.and_then(DischargeEnding::from_code).map(StatusEvent::DischargeCompleted),
            Self::FollowUp(f) => f.outcome.and_then(FollowUpOutcome::from_code).map(StatusEvent::FollowUpCompleted),
            Self::Baseline(_) | Self::Measurement(_) => None,
        }
    }
}

impl Serialize for FormData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Baseline(f) => f.serialize(s),
            Self::Measurement(f) => f.serialize(s),
            Self::Discharge(f) => f.serialize(s),
            Self::FollowUp(f) => f.serialize(s),
        }
    }
}

/// The status a completed form sets on its pathway: a discharge its `ending` (2, 3 or 4), a
/// follow-up its `outcome` (5, 6 or 7); baseline and measurement none. `None` also when the code
/// is missing or invalid, which a form that passed `validate_complete` never is. Apply it with
/// [`crate::pathways::next_status`] to check that the transition fits the current status.
pub fn status_after_completion(form: &FormData) -> Option<TreatmentStatus> {
    match form {
        FormData::Discharge(f) => f.ending.and_then(DischargeEnding::from_code).map(DischargeEnding::status),
        FormData::FollowUp(f) => f.outcome.and_then(crate::pathways::FollowUpOutcome::from_code).map(|o| o.status()),
        FormData::Baseline(_) | FormData::Measurement(_) => None,
    }
}

#[cfg(test)]
mod tests;
