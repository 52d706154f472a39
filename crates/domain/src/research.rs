//! Research projects and their pseudonymised extracts (docs/research.md): the variables a
//! project can be approved for, the checks of a new project, the per-project pseudonyms and
//! date shifts, the delivery deadline in Norwegian working days, and the k-anonymity step that
//! generalises or suppresses quasi-identifiers before anything leaves the register. Pure
//! functions of values; the use case in `app` reads the rows and writes the delivery.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;

use crate::national_id::{hmac_sha256, IdKey};
use crate::FieldError;

/// Working days from a project's approval to the deadline of its first delivery.
pub const DELIVERY_WORKING_DAYS: u32 = 30;
/// The smallest class size a project gets when it states none.
pub const DEFAULT_K: i16 = 5;
/// The share of rows that may be suppressed as whole records before generalising further.
pub const DEFAULT_MAX_SUPPRESSED_PERCENT: i16 = 5;
/// The register holds no pathway that started before this day.
pub const FIRST_DATA_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// A variable a project may be approved for. Each row of an extract is one pathway; the
/// column `patient` (the project pseudonym) is always delivered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    Sex,
    BirthYear,
    AgeAtStart,
    HealthTrust,
    Residence,
    StartDate,
    DischargeDate,
    TreatmentLevel,
    TreatmentStatus,
    DischargeEnding,
    BaselineDate,
    MainSubstance,
    Housing,
}

/// How a delivered column is typed (CSV text, Parquet physical and logical type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Integer,
    Text,
    Date,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Text => "text",
            Self::Date => "date",
        }
    }
}

impl Variable {
    pub const ALL: [Variable; 13] = [
        Self::Sex,
        Self::BirthYear,
        Self::AgeAtStart,
        Self::HealthTrust,
        Self::Residence,
        Self::StartDate,
        Self::DischargeDate,
        Self::TreatmentLevel,
        Self::TreatmentStatus,
        Self::DischargeEnding,
        Self::BaselineDate,
        Self::MainSubstance,
        Self::Housing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sex => "sex",
            Self::BirthYear => "birth_year",
            Self::AgeAtStart => "age_at_start",
            Self::HealthTrust => "health_trust",
            Self::Residence => "residence",
            Self::StartDate => "start_date",
            Self::DischargeDate => "discharge_date",
            Self::TreatmentLevel => "treatment_level",
            Self::TreatmentStatus => "treatment_status",
            Self::DischargeEnding => "discharge_ending",
            Self::BaselineDate => "baseline_date",
            Self::MainSubstance => "main_substance",
            Self::Housing => "housing",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == raw)
    }

    /// What the codebook says the variable is.
    pub fn description(self) -> &'static str {
        match self {
            Self::Sex => "The patient's sex as given by the registrar",
            Self::BirthYear => "The patient's year of birth, or a 5- or 10-year group of it where generalised",
            Self::AgeAtStart => "Age in whole years at the pathway's start, or a 5- or 10-year group where grouped or generalised",
            Self::HealthTrust => "The health trust (HF or private institution) of the unit that opened the pathway, as of the start; the region (RHF) where generalised",
            Self::Residence => "The municipality (in Oslo the city district) of the patient's residence at the start, by Statistics Norway's number; the health trust of its catchment area, or that trust's region, where generalised (docs/residence.md)",
            Self::StartDate => "The pathway's start (pakkeforløp start)",
            Self::DischargeDate => "The discharge from the last unit, empty while the pathway is open",
            Self::TreatmentLevel => "The treatment level at the start",
            Self::TreatmentStatus => "The pathway's status on the day of the extract",
            Self::DischargeEnding => "Why the pathway ended, from the completed discharge form",
            Self::BaselineDate => "The date of the completed baseline form (basisregistrering), empty without one",
            Self::MainSubstance => "The main substance recorded in the completed baseline form",
            Self::Housing => "The housing recorded in the completed baseline form",
        }
    }

    /// The code list, where the variable is a code.
    pub fn codes(self) -> &'static str {
        match self {
            Self::Sex => "1 = male; 2 = female; 9 = unknown or not stated",
            Self::TreatmentLevel => {
                "1 = outpatient; 2 = day; 3 = inpatient; 4 = ambulant; 5 = detoxification; 6 = assessment"
            }
            Self::TreatmentStatus => {
                "1 = active; 2 = transferred outside the register; 3 = broken off; 4 = ended by mutual agreement; \
                 5 = followed up after one year; 6 = not reached after one year; 7 = declined to answer after one year"
            }
            Self::DischargeEnding => "2 = transferred outside the register; 3 = broken off; 4 = mutual agreement",
            Self::MainSubstance => {
                "1 = alcohol; 2 = cannabis; 3 = heroin; 4 = other opioids; 5 = benzodiazepines and other sedatives; \
                 6 = amphetamine/methamphetamine; 7 = cocaine; 8 = hallucinogens; 9 = GHB; 10 = solvents; \
                 11 = new psychoactive substances; 12 = other"
            }
            Self::Housing => {
                "1 = owns; 2 = rents privately; 3 = rents municipal housing; 4 = with family without own home; \
                 5 = with friends; 6 = hostel/temporary; 7 = supported housing; 8 = institution or prison; \
                 9 = homeless (sleeping rough); 10 = other"
            }
            _ => "",
        }
    }

    pub fn is_date(self) -> bool {
        matches!(self, Self::StartDate | Self::DischargeDate | Self::BaselineDate)
    }
}

/// How a quasi-identifier is generalised, one level at a time; the last level suppresses the
/// value (empty in the extract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ladder {
    /// The value, then suppressed.
    Categorical,
    /// A year or an age: the value, its 5-year group, its 10-year group, then suppressed.
    Years,
    /// A node of a tree: the value, then each ancestor named here, then suppressed.
    Hierarchy(&'static [&'static str]),
}

impl Ladder {
    /// The names of the levels, the last one "suppressed".
    pub fn level_names(self) -> Vec<&'static str> {
        match self {
            Self::Categorical => vec!["exact", "suppressed"],
            Self::Years => vec!["exact", "5-year group", "10-year group", "suppressed"],
            Self::Hierarchy(parents) => {
                let mut v = vec!["exact"];
                v.extend_from_slice(parents);
                v.push("suppressed");
                v
            }
        }
    }

    pub fn top(self) -> usize {
        self.level_names().len() - 1
    }
}

/// A quasi-identifier: a variable that, combined with others, could single out a person, and
/// how it is generalised.
#[derive(Debug, Clone, Copy)]
pub struct QuasiIdentifier {
    pub variable: Variable,
    pub ladder: Ladder,
}

/// The quasi-identifiers every extract is checked on, in the order they are generalised when
/// two have as many distinct values. Adding one is one line (and its value in [`SourceRow::qi`]).
pub const QUASI_IDENTIFIERS: &[QuasiIdentifier] = &[
    QuasiIdentifier { variable: Variable::Sex, ladder: Ladder::Categorical },
    QuasiIdentifier { variable: Variable::BirthYear, ladder: Ladder::Years },
    QuasiIdentifier { variable: Variable::AgeAtStart, ladder: Ladder::Years },
    QuasiIdentifier { variable: Variable::HealthTrust, ladder: Ladder::Hierarchy(&["region"]) },
    QuasiIdentifier {
        variable: Variable::Residence,
        ladder: Ladder::Hierarchy(&["catchment trust", "catchment region"]),
    },
];

/// A quasi-identifier's value before generalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QiValue {
    /// A code or a name (categorical).
    Code(String),
    /// A year or an age.
    Number(i32),
    /// The node's name first, then its ancestors' names.
    Path(Vec<String>),
    /// Not known: stays empty at every level.
    Missing,
}

impl QiValue {
    /// The value at `level` of `ladder` (None: empty, suppressed or missing).
    pub fn at(&self, ladder: Ladder, level: usize) -> Option<String> {
        if level >= ladder.top() {
            return None;
        }
        match (self, ladder) {
            (Self::Missing, _) => None,
            (Self::Code(c), _) => Some(c.clone()),
            (Self::Number(n), Ladder::Years) => match level {
                0 => Some(n.to_string()),
                1 => Some(group(*n, 5)),
                _ => Some(group(*n, 10)),
            },
            (Self::Number(n), _) => Some(n.to_string()),
            // A node without the ancestor asked for (no region linked) is left empty rather
            // than shown at a finer level than the others.
            (Self::Path(p), _) => p.get(level).cloned(),
        }
    }
}

/// "1985-1989" for 1987 and width 5.
pub fn group(n: i32, width: i32) -> String {
    let lo = n.div_euclid(width) * width;
    format!("{}-{}", lo, lo + width - 1)
}

// ---------------------------------------------------------------------------------------------
// k-anonymity

/// The size figures of the equivalence classes of an extract (records with the same values of
/// every quasi-identifier delivered). A class's size counts distinct patients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClassStats {
    pub records: usize,
    pub classes: usize,
    pub classes_below_k: usize,
    pub records_below_k: usize,
    /// The smallest class (0 when there are no records).
    pub smallest_class: usize,
}

/// What the k-anonymity step changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Every value of the variable went one level up its ladder.
    Generalised { variable: &'static str, from: &'static str, to: &'static str },
    /// Whole records (rows) left out: their classes stayed below k.
    SuppressedRecords { count: usize },
}

/// One quasi-identifier column of the records to check.
#[derive(Debug, Clone)]
pub struct QiColumn {
    pub variable: Variable,
    pub ladder: Ladder,
    /// The level delivered before any generalisation (an age asked for in groups starts at 1).
    pub start_level: usize,
    /// One value per record.
    pub values: Vec<QiValue>,
}

/// The outcome of [`anonymise`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskReport {
    pub k: usize,
    pub quasi_identifiers: Vec<&'static str>,
    pub before: ClassStats,
    pub after: ClassStats,
    pub changes: Vec<Change>,
    /// The level each quasi-identifier ends at, by name.
    pub levels: BTreeMap<&'static str, &'static str>,
}

/// The generalisation levels and suppressed records that make every class reach k.
#[derive(Debug, Clone)]
pub struct Anonymised {
    /// The final level of each column of the input.
    pub levels: Vec<usize>,
    /// Per record: left out.
    pub suppressed: Vec<bool>,
    pub report: RiskReport,
}

/// The class key of record `i` at `levels`.
fn key_of(columns: &[QiColumn], levels: &[usize], i: usize) -> ClassKey {
    columns.iter().zip(levels).map(|(c, l)| c.values[i].at(c.ladder, *l)).collect()
}

/// A class key: each quasi-identifier's value at its level (None: empty).
type ClassKey = Vec<Option<String>>;
/// The distinct patients and the records of one class.
type ClassMembers = (HashSet<u64>, Vec<usize>);

/// The equivalence classes of the records not suppressed: key → distinct persons, records.
fn classes(
    columns: &[QiColumn],
    persons: &[u64],
    levels: &[usize],
    suppressed: &[bool],
) -> HashMap<ClassKey, ClassMembers> {
    let mut out: HashMap<ClassKey, ClassMembers> = HashMap::new();
    for (i, person) in persons.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        let e = out.entry(key_of(columns, levels, i)).or_default();
        e.0.insert(*person);
        e.1.push(i);
    }
    out
}

/// The size figures of the records not suppressed.
pub fn class_stats(
    columns: &[QiColumn],
    persons: &[u64],
    levels: &[usize],
    suppressed: &[bool],
    k: usize,
) -> ClassStats {
    let classes = classes(columns, persons, levels, suppressed);
    let mut s = ClassStats { classes: classes.len(), ..ClassStats::default() };
    for (people, records) in classes.values() {
        s.records += records.len();
        if people.len() < k {
            s.classes_below_k += 1;
            s.records_below_k += records.len();
        }
        s.smallest_class = if s.smallest_class == 0 { people.len() } else { s.smallest_class.min(people.len()) };
    }
    s
}

/// Makes the records k-anonymous on the quasi-identifier `columns` (`persons[i]` names the
/// patient of record `i`; a class's size counts distinct patients). Greedy full-domain
/// generalisation: while some class has fewer than `k` patients, either suppress those records
/// when they are at most `max_suppressed`, or take the column with the most distinct values
/// that can still go up and move all its values one level up (the last level suppresses the
/// value). When nothing can go further, the records still below k are suppressed.
pub fn anonymise(columns: &[QiColumn], persons: &[u64], k: usize, max_suppressed: usize) -> Anonymised {
    let n = persons.len();
    let mut levels: Vec<usize> = columns.iter().map(|c| c.start_level.min(c.ladder.top())).collect();
    let mut suppressed = vec![false; n];
    let before = class_stats(columns, persons, &levels, &suppressed, k);
    let mut changes = Vec::new();
    loop {
        let small: Vec<usize> = classes(columns, persons, &levels, &suppressed)
            .into_values()
            .filter(|(people, _)| people.len() < k)
            .flat_map(|(_, records)| records)
            .collect();
        if small.is_empty() {
            break;
        }
        let candidate = columns
            .iter()
            .enumerate()
            .filter(|(c, col)| levels[*c] < col.ladder.top())
            .map(|(c, col)| {
                let distinct: HashSet<Option<String>> =
                    (0..n).map(|i| col.values[i].at(col.ladder, levels[c])).collect();
                (c, distinct.len())
            })
            .fold(None::<(usize, usize)>, |best, (c, d)| match best {
                Some((_, bd)) if bd >= d => best,
                _ => Some((c, d)),
            });
        match candidate {
            Some((c, _)) if small.len() > max_suppressed => {
                let names = columns[c].ladder.level_names();
                changes.push(Change::Generalised {
                    variable: columns[c].variable.as_str(),
                    from: names[levels[c]],
                    to: names[levels[c] + 1],
                });
                levels[c] += 1;
            }
            _ => {
                for i in &small {
                    suppressed[*i] = true;
                }
                changes.push(Change::SuppressedRecords { count: small.len() });
                break;
            }
        }
    }
    let after = class_stats(columns, persons, &levels, &suppressed, k);
    let report = RiskReport {
        k,
        quasi_identifiers: columns.iter().map(|c| c.variable.as_str()).collect(),
        before,
        after,
        changes,
        levels: columns.iter().zip(&levels).map(|(c, l)| (c.variable.as_str(), c.ladder.level_names()[*l])).collect(),
    };
    Anonymised { levels, suppressed, report }
}

// ---------------------------------------------------------------------------------------------
// Pseudonyms and date shifts

/// A project's own secret: its pseudonyms and date shifts. Derived from the server's id key and
/// the project id on each use, never stored or returned. `Debug` prints `ProjectKey(***)`.
#[derive(Clone)]
pub struct ProjectKey([u8; 32]);

impl std::fmt::Debug for ProjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProjectKey(***)")
    }
}

impl ProjectKey {
    pub fn derive(key: &IdKey, project: uuid::Uuid) -> Self {
        Self(key.research_project_secret(project.as_bytes()))
    }

    /// The patient's pseudonym in this project: HMAC-SHA-256 under the project key of the
    /// register's own pseudonym, the first 16 bytes as 32 hex digits. Stable within a project,
    /// unrelated between projects.
    pub fn pseudonym(&self, registry_pseudonym: &[u8]) -> String {
        let mut msg = b"pseudonym/".to_vec();
        msg.extend_from_slice(registry_pseudonym);
        hex::encode(&hmac_sha256(&self.0, &msg)[..16])
    }

    /// The patient's date shift in this project: a whole number of days in
    /// `-max_days..=max_days`, never 0, the same for every date of the patient.
    pub fn date_shift(&self, registry_pseudonym: &[u8], max_days: u16) -> i64 {
        let mut msg = b"date-shift/".to_vec();
        msg.extend_from_slice(registry_pseudonym);
        let mac = hmac_sha256(&self.0, &msg);
        let mut first = [0u8; 8];
        first.copy_from_slice(&mac[..8]);
        shift_of(u64::from_be_bytes(first), max_days)
    }
}

/// Maps a random number onto `-max..=max` without 0.
fn shift_of(r: u64, max_days: u16) -> i64 {
    let max = u64::from(max_days.max(1));
    let v = r % (2 * max);
    if v < max {
        -((v + 1) as i64)
    } else {
        (v - max + 1) as i64
    }
}

// ---------------------------------------------------------------------------------------------
// Norwegian working days

/// Easter Sunday of `year` (Gregorian calendar; the anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or(NaiveDate::MIN)
}

/// The public holidays of Norway in `year` (helligdager and the two statutory days): New Year's
/// Day, Maundy Thursday, Good Friday, Easter Sunday and Monday, 1 May, 17 May, Ascension Day,
/// Whit Sunday and Monday, Christmas Day and Boxing Day.
pub fn norwegian_holidays(year: i32) -> Vec<NaiveDate> {
    let easter = easter_sunday(year);
    let rel = |days: i64| easter + chrono::Duration::days(days);
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).unwrap_or(NaiveDate::MIN);
    let mut v = vec![
        fixed(1, 1),
        rel(-3),
        rel(-2),
        easter,
        rel(1),
        fixed(5, 1),
        fixed(5, 17),
        rel(39),
        rel(49),
        rel(50),
        fixed(12, 25),
        fixed(12, 26),
    ];
    v.sort();
    v
}

/// Neither a Saturday, a Sunday nor a Norwegian public holiday.
pub fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !norwegian_holidays(day.year()).contains(&day)
}

/// The day `n` working days after `start` (the start itself does not count).
pub fn add_working_days(start: NaiveDate, n: u32) -> NaiveDate {
    let mut day = start;
    let mut left = n;
    while left > 0 {
        day = day.checked_add_days(Days::new(1)).unwrap_or(day);
        if is_working_day(day) {
            left -= 1;
        }
    }
    day
}

/// The deadline of a project's delivery: [`DELIVERY_WORKING_DAYS`] working days after approval.
pub fn delivery_deadline(approved_on: NaiveDate) -> NaiveDate {
    add_working_days(approved_on, DELIVERY_WORKING_DAYS)
}

// ---------------------------------------------------------------------------------------------
// Projects

/// How dates are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateHandling {
    /// Every date of a patient moved by the patient's shift, at most this many days either way.
    Shift { max_days: u16 },
    /// Dates as year and month (`2025-03`).
    Month,
}

/// A new project as entered.
#[derive(Debug, Clone)]
pub struct ProjectInput {
    pub title: String,
    pub approval_ref: String,
    pub legal_basis: String,
    pub recipient_org: String,
    pub recipient_contact: String,
    pub variables: Vec<String>,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub approved_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub dates: String,
    pub shift_days: Option<i64>,
    pub age_groups: bool,
    pub k: Option<i64>,
    pub max_suppressed_percent: Option<i64>,
}

/// A checked project (the recipient keys are checked by the use case, which knows age).
#[derive(Debug, Clone)]
pub struct ProjectSpec {
    pub variables: Vec<Variable>,
    pub dates: DateHandling,
    pub k: i16,
    pub max_suppressed_percent: i16,
}

fn text_field(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    let len = value.trim().chars().count();
    if len == 0 {
        errors.push(FieldError::new(field, "required", "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(FieldError::new(field, "too_long", format!("at most {max} characters")));
    }
}

impl ProjectInput {
    /// Checks every field and returns every error at once.
    pub fn check(&self, today: NaiveDate) -> Result<ProjectSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        text_field(&mut errors, "title", &self.title, 500);
        text_field(&mut errors, "approval_ref", &self.approval_ref, 100);
        text_field(&mut errors, "legal_basis", &self.legal_basis, 1000);
        text_field(&mut errors, "recipient.organisation", &self.recipient_org, 300);
        text_field(&mut errors, "recipient.contact", &self.recipient_contact, 300);
        let mut variables = Vec::new();
        if self.variables.is_empty() {
            errors.push(FieldError::new("variables", "required", "at least one variable"));
        }
        for (i, raw) in self.variables.iter().enumerate() {
            match Variable::parse(raw) {
                Some(v) if variables.contains(&v) => {
                    errors.push(FieldError::new(format!("variables.{i}"), "duplicate", "each variable once"))
                }
                Some(v) => variables.push(v),
                None => errors.push(FieldError::new(
                    format!("variables.{i}"),
                    "unknown_variable",
                    format!(
                        "not a variable of the register; one of {}",
                        Variable::ALL.map(Variable::as_str).join(", ")
                    ),
                )),
            }
        }
        if self.period_from < FIRST_DATA_DAY {
            errors.push(FieldError::new(
                "period.from",
                "outside_data",
                format!("the register holds pathways from {FIRST_DATA_DAY}"),
            ));
        }
        if self.period_to > today {
            errors.push(FieldError::new("period.to", "outside_data", "must not be in the future"));
        }
        if self.period_from > self.period_to {
            errors.push(FieldError::new("period.to", "date_order", "must not be before period.from"));
        }
        if self.approved_on > today {
            errors.push(FieldError::new("approved_on", "date_order", "must not be in the future"));
        }
        if self.expires_on < today {
            errors.push(FieldError::new("expires_on", "date_order", "must not be in the past"));
        }
        if self.expires_on < self.approved_on {
            errors.push(FieldError::new("expires_on", "date_order", "must not be before approved_on"));
        }
        let dates = match (self.dates.as_str(), self.shift_days) {
            ("shift", Some(d)) if (1..=365).contains(&d) => DateHandling::Shift { max_days: d as u16 },
            ("shift", _) => {
                errors.push(FieldError::new("shift_days", "out_of_range", "from 1 to 365 days when dates are shifted"));
                DateHandling::Month
            }
            ("month", None) => DateHandling::Month,
            ("month", Some(_)) => {
                errors.push(FieldError::new("shift_days", "not_allowed", "only when dates are shifted"));
                DateHandling::Month
            }
            _ => {
                errors.push(FieldError::new("dates", "invalid_code", "shift or month"));
                DateHandling::Month
            }
        };
        let k = self.k.unwrap_or(i64::from(DEFAULT_K));
        if !(2..=100).contains(&k) {
            errors.push(FieldError::new("k", "out_of_range", "from 2 to 100"));
        }
        let max_suppressed_percent = self.max_suppressed_percent.unwrap_or(i64::from(DEFAULT_MAX_SUPPRESSED_PERCENT));
        if !(0..=100).contains(&max_suppressed_percent) {
            errors.push(FieldError::new("max_suppressed_percent", "out_of_range", "from 0 to 100"));
        }
        if errors.is_empty() {
            Ok(ProjectSpec { variables, dates, k: k as i16, max_suppressed_percent: max_suppressed_percent as i16 })
        } else {
            Err(errors)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Extract tables

/// One pathway as read for an extract (identifiable inside the register only).
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// The register's pseudonym of the patient (the input of the project pseudonym).
    pub registry_pseudonym: Vec<u8>,
    /// A number naming the patient within this extract (class sizes count patients).
    pub person: u64,
    pub sex: i16,
    pub birth_year: i16,
    pub start_date: NaiveDate,
    pub discharge_date: Option<NaiveDate>,
    pub treatment_level: i16,
    pub treatment_status: i16,
    pub discharge_ending: Option<i16>,
    /// From the completed baseline form, if any.
    pub baseline_date: Option<NaiveDate>,
    pub main_substance: Option<i16>,
    pub housing: Option<i16>,
    /// The trust's name, then its region's name (empty when the tree has no link then).
    pub trust_path: Vec<String>,
    /// The residence's area code, then the name of its catchment trust and region (as far as
    /// known; empty without a residence).
    pub residence_path: Vec<String>,
}

impl SourceRow {
    /// The value of a quasi-identifier before generalisation.
    pub fn qi(&self, v: Variable) -> QiValue {
        match v {
            Variable::Sex => QiValue::Code(self.sex.to_string()),
            Variable::BirthYear => QiValue::Number(i32::from(self.birth_year)),
            Variable::AgeAtStart => QiValue::Number(self.start_date.year() - i32::from(self.birth_year)),
            Variable::HealthTrust if self.trust_path.is_empty() => QiValue::Missing,
            Variable::HealthTrust => QiValue::Path(self.trust_path.clone()),
            Variable::Residence if self.residence_path.is_empty() => QiValue::Missing,
            Variable::Residence => QiValue::Path(self.residence_path.clone()),
            _ => QiValue::Missing,
        }
    }
}

/// One value of an extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Int(i64),
    Text(String),
    Date(NaiveDate),
    Null,
}

impl Cell {
    /// The CSV form: dates as ISO 8601, empty for null.
    pub fn to_csv(&self) -> String {
        match self {
            Self::Int(n) => n.to_string(),
            Self::Text(t) => t.clone(),
            Self::Date(d) => d.to_string(),
            Self::Null => String::new(),
        }
    }
}

/// A delivered column and what the codebook says of it.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub description: String,
    pub codes: String,
}

/// An extract's table, ready to write as CSV and Parquet.
#[derive(Debug, Clone)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// A project as the extract needs it.
#[derive(Debug, Clone)]
pub struct ExtractSettings {
    pub variables: Vec<Variable>,
    pub dates: DateHandling,
    pub age_groups: bool,
    pub k: usize,
    pub max_suppressed_percent: usize,
}

/// The extract built from `rows`: pseudonyms, dates shifted or coarsened, quasi-identifiers
/// generalised or suppressed until every class has at least k patients. Returns the table, the
/// indexes of `rows` delivered, and the risk report.
pub fn build_extract(
    rows: &[SourceRow],
    settings: &ExtractSettings,
    key: &ProjectKey,
) -> (Table, Vec<usize>, RiskReport) {
    let qis: Vec<&QuasiIdentifier> =
        QUASI_IDENTIFIERS.iter().filter(|q| settings.variables.contains(&q.variable)).collect();
    let columns: Vec<QiColumn> = qis
        .iter()
        .map(|q| QiColumn {
            variable: q.variable,
            ladder: q.ladder,
            start_level: usize::from(settings.age_groups && q.ladder == Ladder::Years),
            values: rows.iter().map(|r| r.qi(q.variable)).collect(),
        })
        .collect();
    let persons: Vec<u64> = rows.iter().map(|r| r.person).collect();
    let max_suppressed = rows.len() * settings.max_suppressed_percent / 100;
    let anon = anonymise(&columns, &persons, settings.k, max_suppressed);
    let level_of = |v: Variable| columns.iter().position(|c| c.variable == v).map(|i| (i, anon.levels[i]));

    let mut out_columns = vec![Column {
        name: "patient",
        kind: ColumnType::Text,
        description:
            "The patient's pseudonym in this project (the same patient has another one in every other project)".into(),
        codes: String::new(),
    }];
    for v in &settings.variables {
        let kind = match (v, level_of(*v)) {
            (v, _) if v.is_date() => match settings.dates {
                DateHandling::Shift { .. } => ColumnType::Date,
                DateHandling::Month => ColumnType::Text,
            },
            (Variable::HealthTrust | Variable::Residence, _) => ColumnType::Text,
            (_, Some((_, level)))
                if level > 0 && columns.iter().any(|c| c.variable == *v && c.ladder == Ladder::Years) =>
            {
                ColumnType::Text
            }
            _ => ColumnType::Integer,
        };
        let mut description = v.description().to_owned();
        if v.is_date() {
            description.push_str(match settings.dates {
                DateHandling::Shift { .. } => {
                    "; shifted by the patient's own number of days (the same for all the patient's dates)"
                }
                DateHandling::Month => "; year and month only (YYYY-MM)",
            });
        }
        if let Some((i, level)) = level_of(*v) {
            let name = columns[i].ladder.level_names()[level];
            if level > 0 {
                description.push_str(&format!("; delivered as: {name}"));
            }
        }
        out_columns.push(Column { name: v.as_str(), kind, description, codes: v.codes().to_owned() });
    }

    // Rows in the order of the pseudonym, then the start: the register's own order (by the real
    // dates or by registration) would say something the shifted dates hide.
    let pseudonyms: Vec<String> = rows.iter().map(|r| key.pseudonym(&r.registry_pseudonym)).collect();
    let mut order: Vec<usize> = (0..rows.len()).filter(|i| !anon.suppressed[*i]).collect();
    order.sort_by(|a, b| (&pseudonyms[*a], rows[*a].start_date).cmp(&(&pseudonyms[*b], rows[*b].start_date)));
    let mut table_rows = Vec::new();
    let mut delivered = Vec::new();
    for i in order {
        let r = &rows[i];
        delivered.push(i);
        let mut cells = vec![Cell::Text(pseudonyms[i].clone())];
        let shift = match settings.dates {
            DateHandling::Shift { max_days } => key.date_shift(&r.registry_pseudonym, max_days),
            DateHandling::Month => 0,
        };
        let date = |d: Option<NaiveDate>| match (d, settings.dates) {
            (None, _) => Cell::Null,
            (Some(d), DateHandling::Shift { .. }) => Cell::Date(d + chrono::Duration::days(shift)),
            (Some(d), DateHandling::Month) => Cell::Text(format!("{:04}-{:02}", d.year(), d.month())),
        };
        for (c, v) in settings.variables.iter().enumerate() {
            let kind = out_columns[c + 1].kind;
            let cell = match v {
                Variable::StartDate => date(Some(r.start_date)),
                Variable::DischargeDate => date(r.discharge_date),
                Variable::TreatmentLevel => Cell::Int(i64::from(r.treatment_level)),
                Variable::TreatmentStatus => Cell::Int(i64::from(r.treatment_status)),
                Variable::DischargeEnding => r.discharge_ending.map_or(Cell::Null, |e| Cell::Int(i64::from(e))),
                Variable::BaselineDate => date(r.baseline_date),
                Variable::MainSubstance => r.main_substance.map_or(Cell::Null, |e| Cell::Int(i64::from(e))),
                Variable::Housing => r.housing.map_or(Cell::Null, |e| Cell::Int(i64::from(e))),
                qi => match level_of(*qi) {
                    Some((col, level)) => match columns[col].values[i].at(columns[col].ladder, level) {
                        None => Cell::Null,
                        Some(s) if kind == ColumnType::Integer => s.parse().map_or(Cell::Null, Cell::Int),
                        Some(s) => Cell::Text(s),
                    },
                    None => Cell::Null,
                },
            };
            cells.push(cell);
        }
        table_rows.push(cells);
    }
    (Table { columns: out_columns, rows: table_rows }, delivered, anon.report)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_sundays_are_the_known_ones() {
        for (y, m, day) in
            [(2000, 4, 23), (2019, 4, 21), (2024, 3, 31), (2025, 4, 20), (2026, 4, 5), (2027, 3, 28), (2038, 4, 25)]
        {
            assert_eq!(easter_sunday(y), d(y, m, day), "{y}");
        }
    }

    #[test]
    fn norwegian_holidays_of_2026() {
        let h = norwegian_holidays(2026);
        for day in [
            d(2026, 1, 1),
            d(2026, 4, 2),
            d(2026, 4, 3),
            d(2026, 4, 5),
            d(2026, 4, 6),
            d(2026, 5, 1),
            d(2026, 5, 14),
            d(2026, 5, 17),
            d(2026, 5, 24),
            d(2026, 5, 25),
            d(2026, 12, 25),
            d(2026, 12, 26),
        ] {
            assert!(h.contains(&day), "{day}");
        }
        assert_eq!(h.len(), 12);
        assert!(!is_working_day(d(2026, 4, 2)), "Maundy Thursday");
        assert!(is_working_day(d(2026, 4, 7)));
        assert!(!is_working_day(d(2026, 12, 5)), "a Saturday");
    }

    #[test]
    fn the_deadline_skips_weekends_and_holidays() {
        // Approved Wednesday 25 March 2026: 30 working days skip Maundy Thursday, Good Friday,
        // Easter Monday, 1 May and the weekends (Ascension Day, 14 May, comes after).
        assert_eq!(delivery_deadline(d(2026, 3, 25)), d(2026, 5, 12));
        // Approved 4 May 2026: Ascension Day, 17 May (a Sunday) and Whit Monday fall inside.
        assert_eq!(delivery_deadline(d(2026, 5, 4)), d(2026, 6, 17));
        // Without holidays: six calendar weeks from a Monday.
        assert_eq!(delivery_deadline(d(2026, 9, 7)), d(2026, 10, 19));
        assert_eq!(add_working_days(d(2026, 12, 23), 1), d(2026, 12, 24));
        assert_eq!(add_working_days(d(2026, 12, 24), 1), d(2026, 12, 28));
    }

    #[test]
    fn groups_of_years() {
        assert_eq!(group(1987, 5), "1985-1989");
        assert_eq!(group(1987, 10), "1980-1989");
        assert_eq!(group(30, 5), "30-34");
        let v = QiValue::Number(1987);
        assert_eq!(v.at(Ladder::Years, 0).as_deref(), Some("1987"));
        assert_eq!(v.at(Ladder::Years, 2).as_deref(), Some("1980-1989"));
        assert_eq!(v.at(Ladder::Years, 3), None);
        let p = QiValue::Path(vec!["Helse Møre og Romsdal HF".into(), "Helse Midt-Norge RHF".into()]);
        assert_eq!(p.at(Ladder::Hierarchy(&["region"]), 1).as_deref(), Some("Helse Midt-Norge RHF"));
        assert_eq!(p.at(Ladder::Hierarchy(&["region"]), 2), None);
    }

    #[test]
    fn pseudonyms_differ_between_projects_and_are_stable_within_one() {
        let key = IdKey::from_bytes(&[7u8; 32]);
        let a = ProjectKey::derive(&key, uuid::Uuid::from_u128(1));
        let b = ProjectKey::derive(&key, uuid::Uuid::from_u128(2));
        let p = [1u8; 32];
        assert_eq!(a.pseudonym(&p), ProjectKey::derive(&key, uuid::Uuid::from_u128(1)).pseudonym(&p));
        assert_ne!(a.pseudonym(&p), b.pseudonym(&p));
        assert_eq!(a.pseudonym(&p).len(), 32);
        assert_ne!(a.pseudonym(&p), a.pseudonym(&[2u8; 32]));
        assert_eq!(format!("{a:?}"), "ProjectKey(***)");
    }

    proptest! {
        #[test]
        fn date_shifts_stay_within_the_bound_and_are_never_zero(r in any::<u64>(), max in 1u16..400) {
            let s = shift_of(r, max);
            prop_assert!(s != 0 && s.abs() <= i64::from(max));
        }

        #[test]
        fn working_days_added_are_working_days(y in 2000i32..2100, ord in 1u32..365, n in 1u32..60) {
            let start = NaiveDate::from_yo_opt(y, ord).unwrap();
            let end = add_working_days(start, n);
            prop_assert!(is_working_day(end));
            let between = start.iter_days().skip(1).take_while(|x| *x <= end).filter(|x| is_working_day(*x)).count();
            prop_assert_eq!(between as u32, n);
        }
    }

    fn column(variable: Variable, ladder: Ladder, values: Vec<QiValue>) -> QiColumn {
        QiColumn { variable, ladder, start_level: 0, values }
    }

    /// Ten patients in two birth years of one 5-year group, two sexes: classes of 1 to 3.
    fn small_population() -> (Vec<QiColumn>, Vec<u64>) {
        let years = [1980, 1981, 1982, 1983, 1984, 1980, 1981, 1982, 1983, 1984];
        let sexes = ["1", "2", "1", "2", "1", "2", "1", "2", "1", "2"];
        (
            vec![
                column(Variable::Sex, Ladder::Categorical, sexes.iter().map(|s| QiValue::Code((*s).into())).collect()),
                column(Variable::BirthYear, Ladder::Years, years.iter().map(|y| QiValue::Number(*y)).collect()),
            ],
            (0..10).collect(),
        )
    }

    #[test]
    fn classes_below_k_are_found_before_and_none_are_left_after() {
        let (columns, persons) = small_population();
        let a = anonymise(&columns, &persons, 5, 0);
        // Without the step, every class is below k: the check catches them.
        assert_eq!(a.report.before.classes_below_k, 10);
        assert_eq!(a.report.before.smallest_class, 1);
        assert_eq!(a.report.after.classes_below_k, 0);
        assert!(a.report.after.smallest_class >= 5);
        assert_eq!(
            a.report.changes,
            vec![Change::Generalised { variable: "birth_year", from: "exact", to: "5-year group" }]
        );
        assert_eq!(a.levels, vec![0, 1]);
        assert!(a.suppressed.iter().all(|s| !s));
    }

    #[test]
    fn a_few_outliers_are_suppressed_as_records_when_allowed() {
        let (mut columns, mut persons) = small_population();
        // Ten more in 1980 of each sex ... and one in 1950.
        for i in 0..10u64 {
            columns[0].values.push(QiValue::Code(if i % 2 == 0 { "1" } else { "2" }.into()));
            columns[1].values.push(QiValue::Number(1980));
            persons.push(100 + i);
        }
        columns[0].values.push(QiValue::Code("1".into()));
        columns[1].values.push(QiValue::Number(1950));
        persons.push(999);
        let a = anonymise(&columns, &persons, 5, 1);
        assert_eq!(a.report.after.classes_below_k, 0);
        assert!(a.report.changes.contains(&Change::SuppressedRecords { count: 1 }), "{:?}", a.report.changes);
        assert!(a.suppressed[20]);
    }

    #[test]
    fn a_trust_goes_to_its_region() {
        let trusts = ["A HF", "B HF", "C HF", "D HF", "E HF", "F HF"];
        let values = trusts
            .iter()
            .map(|t| QiValue::Path(vec![(*t).into(), if t < &"D" { "North RHF".into() } else { "South RHF".into() }]))
            .flat_map(|v| std::iter::repeat_n(v, 2))
            .collect::<Vec<_>>();
        let persons: Vec<u64> = (0..12).collect();
        let a = anonymise(&[column(Variable::HealthTrust, Ladder::Hierarchy(&["region"]), values)], &persons, 5, 0);
        assert_eq!(
            a.report.changes,
            vec![Change::Generalised { variable: "health_trust", from: "exact", to: "region" }]
        );
        assert_eq!(a.report.after.classes, 2);
    }

    #[test]
    fn the_same_patient_twice_is_one_patient_of_a_class() {
        let (columns, _) = small_population();
        let persons = vec![1u64; 10];
        let a = anonymise(&columns, &persons, 2, 0);
        // One patient in every class, whatever the level: all suppressed in the end.
        assert_eq!(a.report.after.records, 0);
        assert!(a.suppressed.iter().all(|s| *s));
    }

    fn input() -> ProjectInput {
        ProjectInput {
            title: "T".into(),
            approval_ref: "REK 1".into(),
            legal_basis: "§ 19 b".into(),
            recipient_org: "UiO".into(),
            recipient_contact: "PI".into(),
            variables: vec!["sex".into(), "start_date".into()],
            period_from: d(2025, 1, 1),
            period_to: d(2025, 12, 31),
            approved_on: d(2026, 3, 25),
            expires_on: d(2027, 1, 1),
            dates: "shift".into(),
            shift_days: Some(30),
            age_groups: false,
            k: None,
            max_suppressed_percent: None,
        }
    }

    #[test]
    fn a_project_is_checked_field_by_field() {
        let today = d(2026, 6, 1);
        let spec = input().check(today).unwrap();
        assert_eq!(spec.variables, [Variable::Sex, Variable::StartDate]);
        assert_eq!(spec.dates, DateHandling::Shift { max_days: 30 });
        assert_eq!((spec.k, spec.max_suppressed_percent), (DEFAULT_K, DEFAULT_MAX_SUPPRESSED_PERCENT));
        let mut bad = input();
        bad.variables = vec!["sex".into(), "national_id".into(), "sex".into()];
        bad.period_from = d(1999, 12, 31);
        bad.period_to = d(2026, 6, 2);
        bad.dates = "month".into();
        bad.k = Some(1);
        bad.title = "  ".into();
        let errors = bad.check(today).unwrap_err();
        let got: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        for want in [
            ("title", "required"),
            ("variables.1", "unknown_variable"),
            ("variables.2", "duplicate"),
            ("period.from", "outside_data"),
            ("period.to", "outside_data"),
            ("shift_days", "not_allowed"),
            ("k", "out_of_range"),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
        let mut expired = input();
        expired.expires_on = d(2026, 5, 31);
        assert_eq!(expired.check(today).unwrap_err()[0].field, "expires_on");
    }

    fn source(person: u64, sex: i16, birth_year: i16, start: NaiveDate, trust: &str) -> SourceRow {
        SourceRow {
            registry_pseudonym: vec![person as u8; 32],
            person,
            sex,
            birth_year,
            start_date: start,
            discharge_date: None,
            treatment_level: 1,
            treatment_status: 1,
            discharge_ending: None,
            baseline_date: None,
            main_substance: None,
            housing: None,
            trust_path: vec![trust.into(), "Helse Midt-Norge RHF".into()],
            residence_path: Vec::new(),
        }
    }

    #[test]
    fn an_extract_has_the_approved_columns_shifted_dates_and_generalised_values() {
        let key = ProjectKey::derive(&IdKey::from_bytes(&[3u8; 32]), uuid::Uuid::from_u128(9));
        let rows: Vec<SourceRow> = (0..12u64)
            .map(|p| {
                source(
                    p,
                    1 + (p % 2) as i16,
                    1980 + p as i16,
                    d(2025, 3, 1 + p as u32),
                    if p < 6 { "A HF" } else { "B HF" },
                )
            })
            .collect();
        let settings = ExtractSettings {
            variables: vec![Variable::StartDate, Variable::BirthYear, Variable::HealthTrust],
            dates: DateHandling::Shift { max_days: 10 },
            age_groups: false,
            k: 3,
            max_suppressed_percent: 0,
        };
        let (table, delivered, report) = build_extract(&rows, &settings, &key);
        let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        assert_eq!(names, ["patient", "start_date", "birth_year", "health_trust"]);
        assert_eq!(table.columns[1].kind, ColumnType::Date);
        assert_eq!(table.rows.len(), 12);
        assert!(report.before.classes_below_k > 0);
        assert_eq!(report.after.classes_below_k, 0);
        // Birth years went to groups (text), the codebook says so.
        assert_eq!(table.columns[2].kind, ColumnType::Text);
        assert!(table.columns[2].description.contains("group"), "{}", table.columns[2].description);
        for (row, i) in table.rows.iter().zip(&delivered) {
            let r = &rows[*i];
            assert_eq!(row[0], Cell::Text(key.pseudonym(&r.registry_pseudonym)));
            let shift = key.date_shift(&r.registry_pseudonym, 10);
            assert_eq!(row[1], Cell::Date(r.start_date + chrono::Duration::days(shift)));
        }
        // Ordered by pseudonym, not by the register's order.
        let order: Vec<&Cell> = table.rows.iter().map(|r| &r[0]).collect();
        let mut sorted = order.clone();
        sorted.sort_by_key(|c| c.to_csv());
        assert_eq!(order, sorted);
        // Months instead.
        let months = ExtractSettings { dates: DateHandling::Month, variables: vec![Variable::StartDate], ..settings };
        let (table, _, _) = build_extract(&rows, &months, &key);
        assert_eq!(table.columns[1].kind, ColumnType::Text);
        assert!(table.rows.iter().all(|r| r[1] == Cell::Text("2025-03".into())));
    }

    fn arb_columns() -> impl Strategy<Value = (Vec<QiColumn>, Vec<u64>, usize, usize)> {
        (1usize..60, 2usize..8, 0usize..10).prop_flat_map(|(n, k, max_suppressed)| {
            (
                proptest::collection::vec(0u8..3, n),
                proptest::collection::vec(1940i32..2010, n),
                proptest::collection::vec(0u8..6, n),
                proptest::collection::vec(0u64..40, n),
            )
                .prop_map(move |(sex, year, trust, person)| {
                    let columns = vec![
                        column(
                            Variable::Sex,
                            Ladder::Categorical,
                            sex.iter().map(|s| QiValue::Code(s.to_string())).collect(),
                        ),
                        column(Variable::BirthYear, Ladder::Years, year.iter().map(|y| QiValue::Number(*y)).collect()),
                        column(
                            Variable::HealthTrust,
                            Ladder::Hierarchy(&["region"]),
                            trust.iter().map(|t| QiValue::Path(vec![format!("T{t}"), format!("R{}", t / 3)])).collect(),
                        ),
                    ];
                    (columns, person, k, max_suppressed)
                })
        })
    }

    proptest! {
        /// Whatever the records, no class of the records left has fewer than k patients, checked
        /// here by counting again from the delivered values.
        #[test]
        fn no_class_below_k_is_left((columns, persons, k, max_suppressed) in arb_columns()) {
            let a = anonymise(&columns, &persons, k, max_suppressed);
            prop_assert_eq!(a.report.after.classes_below_k, 0);
            let mut classes: HashMap<Vec<Option<String>>, HashSet<u64>> = HashMap::new();
            for (i, p) in persons.iter().enumerate() {
                if !a.suppressed[i] {
                    let key: Vec<Option<String>> = columns.iter().zip(&a.levels).map(|(c, l)| c.values[i].at(c.ladder, *l)).collect();
                    classes.entry(key).or_default().insert(*p);
                }
            }
            for people in classes.values() {
                prop_assert!(people.len() >= k);
            }
            let suppressed = a.suppressed.iter().filter(|s| **s).count();
            let counted: usize = a.report.changes.iter().map(|c| match c { Change::SuppressedRecords { count } => *count, _ => 0 }).sum();
            prop_assert_eq!(suppressed, counted);
        }
    }
}
