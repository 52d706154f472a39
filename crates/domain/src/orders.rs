//! Questionnaire orders of the patient channel (docs/patient-channel.md): what may be ordered,
//! the statuses and their moves, the reminder and expiry dates, and the single-use access code.

use chrono::{Days, NaiveDate};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::forms::FormKind;

/// What an order asks the patient to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Questionnaire {
    /// Part 2 of a baseline draft.
    Baseline,
    /// The patient's items of a measurement draft.
    Measurement,
    /// The one-year follow-up.
    FollowUp,
}

impl Questionnaire {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Measurement => "measurement",
            Self::FollowUp => "follow_up",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Baseline, Self::Measurement, Self::FollowUp].into_iter().find(|q| q.as_str() == raw)
    }

    /// The questionnaire for the patient part of a draft of `kind`; `None` for the kinds a
    /// clinician orders nothing of (a discharge; a follow-up is ordered by the system).
    pub fn of_draft(kind: FormKind) -> Option<Self> {
        match kind {
            FormKind::Baseline => Some(Self::Baseline),
            FormKind::Measurement => Some(Self::Measurement),
            FormKind::Discharge | FormKind::FollowUp => None,
        }
    }

    /// The form kind the answers land in.
    pub fn form_kind(self) -> FormKind {
        match self {
            Self::Baseline => FormKind::Baseline,
            Self::Measurement => FormKind::Measurement,
            Self::FollowUp => FormKind::FollowUp,
        }
    }
}

/// An order's status. `Ordered`, `Notified` and `Opened` are open; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created, with its code; no message has gone out yet.
    Ordered,
    /// A message about it was sent (e-mail, SMS or letter).
    Notified,
    /// The patient signed in with the code.
    Opened,
    /// The patient submitted the answers.
    Answered,
    /// The expiry date passed unanswered.
    Expired,
    /// Cancelled by a clinician, or by a reservation.
    Cancelled,
    /// No channel could deliver it.
    Failed,
}

impl OrderStatus {
    pub const ALL: [Self; 7] =
        [Self::Ordered, Self::Notified, Self::Opened, Self::Answered, Self::Expired, Self::Cancelled, Self::Failed];
    /// The open statuses, as stored.
    pub const OPEN: [&'static str; 3] = ["ordered", "notified", "opened"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ordered => "ordered",
            Self::Notified => "notified",
            Self::Opened => "opened",
            Self::Answered => "answered",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Still waiting for the patient: the code works and the order may move on.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Ordered | Self::Notified | Self::Opened)
    }

    /// Whether an order may move from `self` to `next`: forward along ordered → notified →
    /// opened → answered (a patient may open an order before its message goes out), or from any
    /// open status to expired, cancelled or failed. Nothing leaves a final status.
    pub fn may_move_to(self, next: Self) -> bool {
        use OrderStatus as S;
        match (self, next) {
            (S::Ordered, S::Notified | S::Opened) | (S::Notified, S::Opened) => true,
            (S::Opened, S::Answered) => true,
            (from, S::Expired | S::Cancelled) => from.is_open(),
            (S::Ordered | S::Notified, S::Failed) => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One screen of the patient's page: a group of questions, named by their fields in the form
/// catalogue (`forms::catalogue::form_fields`), whose labels, codes and ranges the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuestionGroup {
    /// In the page's address (`/p/questions/{key}`).
    pub key: &'static str,
    pub title_nb: &'static str,
    pub fields: &'static [&'static str],
}

const BASELINE_GROUPS: &[QuestionGroup] = &[
    QuestionGroup {
        key: "helse",
        title_nb: "Hvordan har du det?",
        fields: &["self_rated_severity", "self_rated_life_situation"],
    },
    QuestionGroup {
        key: "hverdag",
        title_nb: "Bolig og hverdag",
        fields: &["housing", "lives_with", "children_under_18", "occupation"],
    },
    QuestionGroup { key: "rusmidler", title_nb: "Rusmidler siste 30 dager", fields: SUBSTANCE_USE },
    QuestionGroup { key: "rus", title_nb: "Rusmidler", fields: &["injected_ever", "audit_score", "dudit_score"] },
];

const MEASUREMENT_GROUPS: &[QuestionGroup] = &[
    QuestionGroup { key: "nytte", title_nb: "Behandlingen", fields: &["benefit"] },
    QuestionGroup { key: "hverdag", title_nb: "Bolig og hverdag", fields: &["housing", "occupation"] },
    QuestionGroup { key: "rus", title_nb: "Rusmidler", fields: SUBSTANCE_USE },
];

/// The substance-use block as the patient answers it, on one screen: the list (one row per
/// substance; at the baseline with the debut age), the main substance, injecting in the last 30
/// days and overdoses in the last 12 months.
const SUBSTANCE_USE: &[&str] = &[
    "substance_use.substances",
    "substance_use.main_substance",
    "substance_use.injected_30d",
    "substance_use.overdose_12m",
];

/// The follow-up's screens: every field the follow-up needs when the patient was followed up
/// (outcome 5), which the patient answers in full; the outcome and the date are set on submit.
const FOLLOW_UP_GROUPS: &[QuestionGroup] = &[
    QuestionGroup { key: "helse", title_nb: "Hvordan har du det?", fields: &["self_rated_life_situation"] },
    QuestionGroup { key: "hverdag", title_nb: "Bolig og hverdag", fields: &["housing", "occupation"] },
    QuestionGroup { key: "oppfolging", title_nb: "Oppfølging", fields: &["received_follow_up"] },
    QuestionGroup { key: "rus", title_nb: "Rusmidler", fields: SUBSTANCE_USE },
];

/// The screens of a questionnaire, in order. Fields are the catalogue's names, dotted inside the
/// substance-use block; `substance_use.substances` is the list, shown as one row per substance.
/// Every questionnaire has the substance-use block (the patient's own account of their use).
pub fn question_groups(q: Questionnaire) -> &'static [QuestionGroup] {
    match q {
        Questionnaire::Baseline => BASELINE_GROUPS,
        Questionnaire::Measurement => MEASUREMENT_GROUPS,
        Questionnaire::FollowUp => FOLLOW_UP_GROUPS,
    }
}

impl QuestionGroup {
    /// Whether a field error (a dotted path, `substance_use.substances.2.route`) belongs to a
    /// question of this screen.
    pub fn owns_error(&self, field: &str) -> bool {
        self.fields.iter().any(|f| field == *f || field.strip_prefix(f).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// The dates of an order and the follow-up's attempts (configuration; defaults 15, 30 and 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderConfig {
    /// Days from the order to its reminder.
    pub remind_days: u16,
    /// Days from the order to its expiry.
    pub expire_days: u16,
    /// Follow-up orders that must expire before the pathway's follow-up counts as not reached.
    pub follow_up_attempts: u16,
    /// Wrong sign-ins an order's code survives; the next one kills it.
    pub max_failed_sign_ins: u16,
}

impl Default for OrderConfig {
    fn default() -> Self {
        Self { remind_days: 15, expire_days: 30, follow_up_attempts: 2, max_failed_sign_ins: 5 }
    }
}

impl OrderConfig {
    /// The configuration, or why it cannot be used: the reminder must come before the expiry,
    /// an order must live at least a day, and there must be at least one attempt.
    pub fn checked(self) -> Result<Self, String> {
        if self.expire_days == 0 || self.expire_days > 365 {
            return Err("expire_days must be 1 to 365".into());
        }
        if self.remind_days >= self.expire_days {
            return Err("remind_days must be less than expire_days".into());
        }
        if !(1..=10).contains(&self.follow_up_attempts) {
            return Err("follow_up_attempts must be 1 to 10".into());
        }
        if !(1..=100).contains(&self.max_failed_sign_ins) {
            return Err("max_failed_sign_ins must be 1 to 100".into());
        }
        Ok(self)
    }

    /// The reminder and expiry dates of an order made on `today`.
    pub fn dates(self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let after = |days: u16| today.checked_add_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MAX);
        (after(self.remind_days), after(self.expire_days))
    }
}

/// A mobile number for the SMS channel, kept as E.164 (`+4791234567`). Eight digits are read as
/// a Norwegian number; spaces, dashes and a leading `00` are allowed.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneNumber(<redacted>)")
    }
}

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, crate::DomainError> {
        let bad = || {
            crate::DomainError::invalid("phone", "invalid_phone", "a mobile number: 8 digits, or + and 8 to 15 digits")
        };
        // The length the API documents (`maxLength` 32), spaces and dashes included.
        if raw.chars().count() > 32 {
            return Err(bad());
        }
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_owned()
        } else if compact.len() == 8 {
            format!("47{compact}")
        } else {
            return Err(bad());
        };
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(bad());
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The alphabet of access codes: Crockford's base 32 (no I, L, O or U), easy to read aloud and
/// to type from a letter.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a code: 16 × 5 = 80 random bits.
pub const CODE_CHARS: usize = 16;

/// A single-use access code, shown once (to the clinician, or printed into the letter) and
/// stored only as [`AccessCode::hash`]. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessCode(String);

impl std::fmt::Debug for AccessCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessCode(<hidden>)")
    }
}

impl AccessCode {
    /// A new code of 80 bits from `rng` (a cryptographic generator in production).
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0u8; CODE_CHARS];
        rng.fill_bytes(&mut bytes);
        Self(bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 31)])).collect())
    }

    /// A code as a patient types it: case, spaces and dashes do not matter, and the letters
    /// Crockford's base 32 reads as digits (O, I, L) are read so. `None` when it cannot be a code.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > 64 {
            return None;
        }
        let mut out = String::with_capacity(CODE_CHARS);
        for c in raw.chars().filter(|c| !matches!(c, ' ' | '-' | '\t')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            out.push(c);
        }
        (out.len() == CODE_CHARS).then_some(Self(out))
    }

    /// The code in four groups of four (`ABCD-EFGH-JKMN-PQRS`), as shown and printed.
    pub fn display(&self) -> String {
        self.0.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
    }

    /// The stored form: SHA-256 of the normalised code. The code's 80 random bits make a slow
    /// hash unnecessary; wrong attempts are limited per order and per address.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    #[test]
    fn phone_numbers_are_read_as_e164_and_bad_ones_refused() {
        for (raw, e164) in
            [("912 34 567", "+4791234567"), ("+47 912-34-567", "+4791234567"), ("0046701234567", "+46701234567")]
        {
            assert_eq!(PhoneNumber::parse(raw).map(|p| p.as_str().to_owned()).ok().as_deref(), Some(e164), "{raw}");
        }
        let padded = format!("{}91234567", " ".repeat(30));
        for raw in ["", "1234567", "+47 91a34567", "+0123456789", "+1234567890123456", "912345678", &padded] {
            assert!(PhoneNumber::parse(raw).is_err(), "{raw}");
        }
    }

    use super::*;
    use rand::SeedableRng;

    #[test]
    fn statuses_move_only_forward_and_nothing_leaves_a_final_one() {
        use OrderStatus as S;
        assert!(S::Ordered.may_move_to(S::Notified));
        assert!(S::Ordered.may_move_to(S::Opened));
        assert!(S::Notified.may_move_to(S::Opened));
        assert!(S::Opened.may_move_to(S::Answered));
        assert!(!S::Ordered.may_move_to(S::Answered), "answers come after a sign-in");
        assert!(!S::Opened.may_move_to(S::Notified));
        assert!(!S::Opened.may_move_to(S::Failed));
        for open in [S::Ordered, S::Notified, S::Opened] {
            assert!(open.may_move_to(S::Cancelled) && open.may_move_to(S::Expired));
        }
        for done in [S::Answered, S::Expired, S::Cancelled, S::Failed] {
            assert!(!done.is_open());
            for next in S::ALL {
                assert!(!done.may_move_to(next), "{done} -> {next}");
            }
        }
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(S::OPEN.contains(&s.as_str()), s.is_open());
        }
    }

    #[test]
    fn every_question_is_a_field_of_the_catalogue_with_norwegian_labels() {
        use crate::forms::catalogue::{form_fields, FieldKind};
        use crate::forms::codes::labels_nb;
        let same_codes = |field: &str, list: crate::forms::codes::CodeList| {
            let nb = labels_nb(list).unwrap();
            assert_eq!(
                nb.iter().map(|c| c.0).collect::<Vec<_>>(),
                list.iter().map(|c| c.0).collect::<Vec<_>>(),
                "{field}"
            );
        };
        for q in [Questionnaire::Baseline, Questionnaire::Measurement, Questionnaire::FollowUp] {
            let specs = form_fields(q.form_kind());
            for group in question_groups(q) {
                for field in group.fields {
                    let spec = specs.iter().find(|s| s.name == *field).unwrap();
                    match spec.kind {
                        FieldKind::Code | FieldKind::CodeSet => same_codes(field, spec.codes),
                        FieldKind::Integer(_) => {}
                        FieldKind::List if *field == "substance_use.substances" => {
                            for part in ["substance", "frequency_30d", "route"] {
                                let name = format!("substance_use.substances[].{part}");
                                let entry = specs.iter().find(|s| s.name == name).unwrap();
                                same_codes(&name, entry.codes);
                            }
                        }
                        other => panic!("{field} is {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn the_follow_up_asks_every_field_a_followed_up_patient_must_answer() {
        use crate::forms::catalogue::{form_fields, Required};
        let asked: Vec<&str> =
            question_groups(Questionnaire::FollowUp).iter().flat_map(|g| g.fields.iter().copied()).collect();
        for spec in form_fields(crate::forms::FormKind::FollowUp) {
            let needed = spec.required_on_completion == Required::When("outcome is 5 (followed up)");
            if needed && !spec.name.contains("[]") {
                assert!(asked.contains(&spec.name), "{} is not asked", spec.name);
            }
        }
        let rus = question_groups(Questionnaire::FollowUp)[3];
        assert!(rus.owns_error("substance_use.substances.3.route") && rus.owns_error("substance_use.main_substance"));
        assert!(!rus.owns_error("substance_use.substances_x") && !rus.owns_error("housing"));
    }

    #[test]
    fn every_questionnaire_asks_the_whole_substance_use_block_on_screens_with_their_own_keys() {
        use crate::forms::catalogue::form_fields;
        for q in [Questionnaire::Baseline, Questionnaire::Measurement, Questionnaire::FollowUp] {
            let groups = question_groups(q);
            let asked: Vec<&str> = groups.iter().flat_map(|g| g.fields.iter().copied()).collect();
            for spec in form_fields(q.form_kind()) {
                if spec.name.starts_with("substance_use.") && !spec.name.contains("[]") {
                    assert!(asked.contains(&spec.name), "{q:?}: {} is not asked", spec.name);
                }
            }
            let mut keys: Vec<&str> = groups.iter().map(|g| g.key).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), groups.len(), "{q:?}: two screens share a key");
        }
    }

    #[test]
    fn default_dates_are_15_and_30_days_after_the_order() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let (remind, expire) = OrderConfig::default().dates(day);
        assert_eq!(remind, NaiveDate::from_ymd_opt(2026, 12, 20).unwrap());
        assert_eq!(expire, NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        assert!(OrderConfig::default().checked().is_ok());
        assert!(OrderConfig { remind_days: 30, ..Default::default() }.checked().is_err());
        assert!(OrderConfig { expire_days: 0, remind_days: 0, ..Default::default() }.checked().is_err());
        assert!(OrderConfig { follow_up_attempts: 0, ..Default::default() }.checked().is_err());
    }

    #[test]
    fn codes_are_80_bits_read_forgivingly_and_hashed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let code = AccessCode::generate(&mut rng);
        let shown = code.display();
        assert_eq!(shown.len(), 19);
        assert_eq!(AccessCode::parse(&shown), Some(code.clone()));
        assert_eq!(AccessCode::parse(&shown.to_lowercase().replace('-', " ")), Some(code.clone()));
        assert_eq!(
            AccessCode::parse("0000-0000-0000-0000").map(|c| c.hash()),
            AccessCode::parse("oooo-OOOO-0000-0000").map(|c| c.hash())
        );
        assert_eq!(AccessCode::parse("ABCD"), None);
        assert_eq!(AccessCode::parse("ABCD-EFGH-JKMN-PQRU"), None, "U is not in the alphabet");
        assert_eq!(AccessCode::parse("ÆBCD-EFGH-JKMN-PQRS"), None);
        assert_ne!(code.hash(), AccessCode::generate(&mut rng).hash());
        assert!(!format!("{code:?}").contains(&shown[..4]));
    }
}
