//! The patient (docs/domain.md, Patients): ids, sex and birth year codes, and validation of a new
//! patient.
//!
//! Sex and birth year are stored for reporting and are given by the registrar: the register never
//! derives sex from the national id. Sex codes: 1 male, 2 female, 9 unknown / not stated (close to
//! ISO/IEC 5218, where 9 means "not applicable" and 0 "not known"; the register has one "unknown"
//! answer and uses 9 for it; 0 is refused).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, FieldError};
use crate::national_id::{IdRules, NationalId};

/// Internal id of a patient (uuid, so ids reveal no counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatientId(pub Uuid);

impl std::fmt::Display for PatientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// `sex` (kjønn): 1 male, 2 female, 9 unknown / not stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub enum Sex {
    /// 1 mann.
    Male = 1,
    /// 2 kvinne.
    Female = 2,
    /// 9 ukjent / ikke oppgitt.
    Unknown = 9,
}

/// The code list of `sex`.
pub const SEX_CODES: &[(i16, &str)] =
    &[(1, "male (mann)"), (2, "female (kvinne)"), (9, "unknown or not stated (ukjent)")];

impl Sex {
    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(Self::Male),
            2 => Some(Self::Female),
            9 => Some(Self::Unknown),
            _ => None,
        }
    }

    /// Like [`Sex::from_code`], as a field error on `sex` (code `code_list`).
    pub fn parse(code: i16) -> Result<Self, DomainError> {
        Self::parse_field(code).map_err(|e| DomainError::Invalid(vec![e]))
    }

    pub fn parse_field(code: i16) -> Result<Self, FieldError> {
        Self::from_code(code)
            .ok_or_else(|| FieldError::new("sex", "code_list", "must be 1 (male), 2 (female) or 9 (unknown)"))
    }
}

impl From<Sex> for i16 {
    fn from(s: Sex) -> i16 {
        s.code()
    }
}

impl TryFrom<i16> for Sex {
    type Error = String;
    fn try_from(code: i16) -> Result<Self, String> {
        Self::from_code(code).ok_or_else(|| format!("unknown sex code {code}"))
    }
}

/// The first accepted birth year: the first year a national id can encode (individual numbers
/// 500–749 with years 54–99 are 1854–1899 by the standard century table), so every valid
/// dated id — the D-number example `70019950032` (docs/domain.md, National ids) is born in
/// 1899 — can be registered with the year it carries. It was 1900, which refused that example.
pub const MIN_BIRTH_YEAR: i32 = 1854;

/// `birth_year` (fødselsår): from 1854 to the current year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BirthYear(i32);

impl BirthYear {
    /// `today` is passed in so the rule stays pure; the year must be in `1854..=today.year()`.
    pub fn parse(raw: i32, today: NaiveDate) -> Result<Self, DomainError> {
        Self::parse_field(raw, today).map_err(|e| DomainError::Invalid(vec![e]))
    }

    pub fn parse_field(raw: i32, today: NaiveDate) -> Result<Self, FieldError> {
        if !(MIN_BIRTH_YEAR..=today.year()).contains(&raw) {
            return Err(FieldError::new("birth_year", "range", "must be from 1854 to the current year"));
        }
        Ok(Self(raw))
    }

    /// Rebuild from storage (checked when stored).
    pub fn from_stored(year: i32) -> Self {
        Self(year)
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// The input of registering a patient (`POST /patients`), before validation. Its `Debug` hides the
/// national id.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPatientInput {
    pub national_id: String,
    pub sex: i16,
    pub birth_year: i32,
}

impl std::fmt::Debug for NewPatientInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPatientInput")
            .field("national_id", &"***")
            .field("sex", &self.sex)
            .field("birth_year", &self.birth_year)
            .finish()
    }
}

/// A validated new patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatient {
    pub national_id: NationalId,
    pub sex: Sex,
    pub birth_year: BirthYear,
}

impl NewPatient {
    /// Validate every field, reporting all failing fields at once: the national id
    /// ([`NationalId::parse`]), `sex` (1, 2 or 9), `birth_year` (1854 to this year), and — a
    /// choice of the register's own — when the id carries a birth date (all kinds but FH),
    /// `birth_year` must equal its year (code `conflict_rule`), so reports never disagree with
    /// the id. Reservations are checked by the service (by pseudonym).
    pub fn parse(input: &NewPatientInput, rules: &IdRules, today: NaiveDate) -> Result<Self, DomainError> {
        let mut errors = Vec::new();
        let id = NationalId::parse_field(&input.national_id, rules).map_err(|e| errors.push(e)).ok();
        let sex = Sex::parse_field(input.sex).map_err(|e| errors.push(e)).ok();
        let year = BirthYear::parse_field(input.birth_year, today).map_err(|e| errors.push(e)).ok();
        if let (Some(id), Some(year)) = (&id, year) {
            if id.birth_year().is_some_and(|y| y != year.get()) {
                errors.push(FieldError::new(
                    "birth_year",
                    "conflict_rule",
                    "must be the birth year in the national id",
                ));
            }
        }
        match (id, sex, year) {
            (Some(national_id), Some(sex), Some(birth_year)) if errors.is_empty() => {
                Ok(Self { national_id, sex, birth_year })
            }
            _ => Err(DomainError::Invalid(errors)),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
    }

    fn fields(err: DomainError) -> Vec<(String, String)> {
        match err {
            DomainError::Invalid(errs) => errs.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn sex_accepts_1_2_and_9() {
        assert_eq!(Sex::parse(1).unwrap(), Sex::Male);
        assert_eq!(Sex::parse(2).unwrap(), Sex::Female);
        assert_eq!(Sex::parse(9).unwrap(), Sex::Unknown);
        for (s, (c, _)) in [Sex::Male, Sex::Female, Sex::Unknown].iter().zip(SEX_CODES) {
            assert_eq!(s.code(), *c);
        }
    }

    #[test]
    fn sex_rejects_other_codes() {
        for c in [0, 3, 8, 10, -1] {
            assert_eq!(fields(Sex::parse(c).unwrap_err()), [("sex".to_string(), "code_list".to_string())]);
        }
        assert!(serde_json::from_str::<Sex>("0").is_err());
        assert_eq!(serde_json::from_str::<Sex>("2").unwrap(), Sex::Female);
    }

    #[test]
    fn birth_year_accepts_1854_to_this_year() {
        assert_eq!(BirthYear::parse(1854, today()).unwrap().get(), 1854);
        assert_eq!(BirthYear::parse(1899, today()).unwrap().get(), 1899);
        assert_eq!(BirthYear::parse(2026, today()).unwrap().get(), 2026);
    }

    #[test]
    fn birth_year_rejects_before_1854_and_the_future() {
        assert!(BirthYear::parse(1853, today()).is_err());
        assert_eq!(fields(BirthYear::parse(2027, today()).unwrap_err())[0].1, "range");
    }

    fn input(id: &str, sex: i16, year: i32) -> NewPatientInput {
        NewPatientInput { national_id: id.into(), sex, birth_year: year }
    }

    #[test]
    fn new_patient_accepts_consistent_input() {
        let p = NewPatient::parse(&input("15076500565", 2, 1965), &IdRules::CLASSIC, today()).unwrap();
        assert_eq!(p.sex, Sex::Female);
        assert_eq!(p.birth_year.get(), 1965);
        // FH-numbers carry no date, so any valid birth year goes.
        assert!(NewPatient::parse(&input("88888888831", 9, 1980), &IdRules::CLASSIC, today()).is_ok());
    }

    #[test]
    fn new_patient_reports_every_failing_field() {
        let err = NewPatient::parse(&input("15076500575", 4, 1850), &IdRules::CLASSIC, today()).unwrap_err();
        assert_eq!(
            fields(err),
            [
                ("national_id".to_string(), "check_digit".to_string()),
                ("sex".into(), "code_list".into()),
                ("birth_year".into(), "range".into())
            ]
        );
    }

    /// Every valid example of docs/domain.md, National ids, registers with the birth year it
    /// carries (by the standard century table), and only with that year; the FH-number carries
    /// none.
    #[test]
    fn every_domain_example_registers_with_the_year_in_the_id() {
        let examples = [
            ("15076500565", Some(1965)), // fødselsnummer, individual number 005
            ("70019950032", Some(1899)), // D-number, 30.01.99 with individual number 500
            ("01410199935", Some(2001)), // H-number, 01.01.01 with individual number 999
            ("88888888831", None),       // FH-number, no date
        ];
        for (id, year) in examples {
            for rules in [IdRules::CLASSIC, IdRules::WITH_2032] {
                let p = NewPatient::parse(&input(id, 9, year.unwrap_or(1980)), &rules, today()).unwrap();
                assert_eq!(p.national_id.birth_year(), year, "{id}");
            }
        }
        // The H-number says 2001, so 1999 contradicts it (the 422 reported for it is right).
        let err = NewPatient::parse(&input("01410199935", 1, 1999), &IdRules::CLASSIC, today()).unwrap_err();
        assert_eq!(fields(err), [("birth_year".to_string(), "conflict_rule".to_string())]);
        let err = NewPatient::parse(&input("70019950032", 1, 1999), &IdRules::CLASSIC, today()).unwrap_err();
        assert_eq!(fields(err), [("birth_year".to_string(), "conflict_rule".to_string())]);
        // The invalid examples stay invalid.
        for id in ["15076500575", "98019800546"] {
            let err = NewPatient::parse(&input(id, 1, 1965), &IdRules::WITH_2032, today()).unwrap_err();
            assert_eq!(fields(err)[0], ("national_id".to_string(), "check_digit".to_string()), "{id}");
        }
    }

    #[test]
    fn new_patient_rejects_a_birth_year_that_contradicts_the_id() {
        let err = NewPatient::parse(&input("15076500565", 1, 1966), &IdRules::CLASSIC, today()).unwrap_err();
        assert_eq!(fields(err), [("birth_year".to_string(), "conflict_rule".to_string())]);
    }

    #[test]
    fn new_patient_input_debug_hides_the_id_and_denies_unknown_fields() {
        let i = input("15076500565", 1, 1965);
        assert!(!format!("{i:?}").contains("15076500565"));
        let json = r#"{"national_id":"15076500565","sex":1,"birth_year":1965,"name":"x"}"#;
        assert!(serde_json::from_str::<NewPatientInput>(json).is_err());
    }
}
