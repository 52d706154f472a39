//! The synthetic-data generator: a realistic, reproducible population of patients, pathways and
//! forms (`rusreg seed --pathways N --seed S`, and a small one for `rusreg demo`), loaded in bulk
//! with PostgreSQL COPY over parallel connections ([`LoadOptions`]).
//!
//! Everything is made up. National ids are random fødselsnumre valid by both check digits; they
//! are stored like real ones (keyed pseudonym + AES-GCM). Every generated form goes through the
//! domain's validation (`validate_complete` with the pathway's context for completed forms,
//! `validate_draft` for drafts) before it is written: a form the rules refuse stops the load.
//!
//! The shape (seeds/synthetic.json): units of skewed size (weight 1/rank^skew over the units of
//! the register; with [`Tree::Realistic`] the made-up tree of [`tree`] is added first and the
//! weight is 1/(rank + offset)^skew with its own parameters), pathway starts
//! spread evenly from `first_start` to today, treatment levels by weight, a late baseline for a
//! share of pathways, measurement points every 6–10 weeks while active with some missing,
//! pathway length exponential with a mean of `mean_pathway_days`, discharge endings and
//! follow-up outcomes by weight, drafts left unfinished, some transfers and second pathways;
//! pathways on inpatient limits step down to outpatient treatment at a measurement point by
//! `step_down_share` (the point records the new level).

use std::collections::HashSet;
use std::io::Write as _;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use domain::forms::{
    Baseline, CompletedDischarge, Discharge, FollowUp, FormContext, FormData, Measurement, SubstanceEntry, SubstanceUse,
};
use domain::national_id::{IdKey, IdRules, NationalId};
use domain::pathways::{DischargeEnding, TreatmentLevel};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use uuid::Uuid;

use crate::forms::{BaselineRow, DischargeRow, FollowUpRow, MeasurementRow};
use crate::RepoError;

pub mod tree;

/// The generator's settings, built into the binary from seeds/synthetic.json.
pub const SETTINGS_JSON: &str = include_str!("../../../seeds/synthetic.json");

#[derive(Debug, Clone, Deserialize)]
pub struct SyntheticSettings {
    pub first_start: NaiveDate,
    /// With the demo tree, the unit of rank r (in a seeded shuffle) gets weight 1/r^skew.
    pub unit_size_skew: f64,
    pub second_pathway_share: f64,
    pub transfer_share: f64,
    pub treatment_level_weights: [u32; 6],
    /// At each completed measurement point of a pathway on inpatient limits (inpatient, day,
    /// detoxification), the chance that it goes on as outpatient treatment from there.
    pub step_down_share: f64,
    pub baseline_registered: f64,
    pub baseline_completed: f64,
    pub baseline_late_share: f64,
    pub measurement_registered: f64,
    pub measurement_completed: f64,
    pub mean_pathway_days: f64,
    pub discharge_registered: f64,
    pub discharge_completed: f64,
    /// Weights of endings 2, 3, 4.
    pub ending_weights: [u32; 3],
    pub contact_consent_yes: f64,
    pub follow_up_registered: f64,
    /// Weights of outcomes 5, 6, 7.
    pub outcome_weights: [u32; 3],
    /// The shape and unit sizes of the realistic tree.
    pub realistic_tree: tree::RealisticTreeSettings,
    /// The tree the pathways are spread over: chosen by the caller (`rusreg seed --tree`), not
    /// in the file; the demo tree unless set.
    #[serde(skip)]
    pub tree: Tree,
}

/// The organisation tree a load spreads its pathways over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tree {
    /// The units in the register (with the reference data alone, its 29 demo units), of weight
    /// 1/rank^`unit_size_skew`.
    #[default]
    Demo,
    /// The made-up tree of [`tree`] (about 250 units, 20 trusts, 40 private institutions) is
    /// added first (idempotent, drawn from the seed); then every unit in the register, the
    /// demo units among them, of weight 1/(rank + `size_offset`)^`size_skew` (`realistic_tree`),
    /// which leaves many units small even in a population of a million pathways.
    Realistic,
}

/// The weights of unit sizes: the unit of rank r (1, 2, …) gets weight 1/(r + offset)^skew.
#[derive(Debug, Clone, Copy, PartialEq)]
struct UnitSizes {
    skew: f64,
    offset: f64,
}

impl UnitSizes {
    fn weight(self, rank: usize) -> f64 {
        1.0 / (rank as f64 + self.offset).powf(self.skew)
    }
}

impl SyntheticSettings {
    pub fn builtin() -> Result<Self, RepoError> {
        serde_json::from_str(SETTINGS_JSON).map_err(|e| RepoError::Other(format!("seeds/synthetic.json: {e}")))
    }

    fn unit_sizes(&self) -> UnitSizes {
        match self.tree {
            Tree::Demo => UnitSizes { skew: self.unit_size_skew, offset: 0.0 },
            Tree::Realistic => {
                UnitSizes { skew: self.realistic_tree.size_skew, offset: self.realistic_tree.size_offset }
            }
        }
    }
}

/// What a load wrote, and how long it took.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    pub patients: usize,
    pub pathways: usize,
    pub forms: usize,
    pub completed_forms: usize,
    pub substances: usize,
    pub transfers: usize,
    /// Organisation nodes of the realistic tree added by this load (none with the demo tree).
    pub org_nodes_added: usize,
    pub elapsed: Duration,
}

/// Rows waiting to be copied, as PostgreSQL COPY text (tab-separated, `\N` for NULL).
#[derive(Default)]
struct Buffers {
    patients: Vec<u8>,
    pathways: Vec<u8>,
    transfers: Vec<u8>,
    status_history: Vec<u8>,
    forms: Vec<u8>,
    baseline: Vec<u8>,
    measurement: Vec<u8>,
    discharge: Vec<u8>,
    follow_up: Vec<u8>,
    substances: Vec<u8>,
}

/// A COPY text field.
trait CopyField {
    fn write_field(&self, out: &mut Vec<u8>);
}

macro_rules! display_field {
    ($($t:ty),*) => {$(
        impl CopyField for $t {
            fn write_field(&self, out: &mut Vec<u8>) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
display_field!(i16, i32, i64, usize, Uuid, NaiveDate, bool, &str, String);

impl<T: CopyField> CopyField for Option<T> {
    fn write_field(&self, out: &mut Vec<u8>) {
        match self {
            Some(v) => v.write_field(out),
            None => out.extend_from_slice(b"\\N"),
        }
    }
}

/// bytea as `\\x<hex>` (the backslash escaped for the text format).
struct Bytes<'a>(&'a [u8]);
impl CopyField for Bytes<'_> {
    fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\\\\x");
        for b in self.0 {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// Writes an array literal `{a,NULL,b}`; elements never contain commas, quotes or braces here.
fn write_array<'a, T: std::fmt::Display + 'a>(out: &mut Vec<u8>, items: impl Iterator<Item = Option<&'a T>>) {
    out.push(b'{');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.extend_from_slice(b"NULL"),
        }
    }
    out.push(b'}');
}

/// An optional array of values, as an array literal (or NULL).
struct Array<'a, T>(&'a Option<Vec<T>>);
impl<T: std::fmt::Display> CopyField for Array<'_, T> {
    fn write_field(&self, out: &mut Vec<u8>) {
        match self.0 {
            None => out.extend_from_slice(b"\\N"),
            Some(items) => write_array(out, items.iter().map(Some)),
        }
    }
}

/// An array of a typed row (elements may be NULL).
impl<T: std::fmt::Display> CopyField for Vec<Option<T>> {
    fn write_field(&self, out: &mut Vec<u8>) {
        write_array(out, self.iter().map(Option::as_ref));
    }
}

/// A typed form row written as one line of COPY text.
trait CopyRow {
    fn write_row(&self, out: &mut Vec<u8>);
}

/// Implements [`CopyRow`] for a row struct of `crate::forms` and gives it `COPY_COLUMNS`, the
/// table's columns in the same order, both from one list of its fields (the mapping of the
/// form's fields to them is the struct's `of`, shared with the API's inserts).
macro_rules! copy_row {
    ($row:ident in $table:ident: $first:ident $(, $rest:ident)* $(,)?) => {
        impl CopyRow for $row {
            fn write_row(&self, out: &mut Vec<u8>) {
                self.$first.write_field(out);
                $( out.push(b'\t'); self.$rest.write_field(out); )*
                out.push(b'\n');
            }
        }
        impl $row {
            const COPY_COLUMNS: (crate::schema::$table::$first, $(crate::schema::$table::$rest),*) =
                (crate::schema::$table::$first, $(crate::schema::$table::$rest),*);
        }
    };
}

copy_row!(BaselineRow in baseline_forms: form_id, referral_diagnosis, substance_diagnoses, psychiatric_diagnoses,
    somatic_diagnoses, somatic_health_assessed, mental_health_assessed, in_lar, lar_medication, individual_plan,
    responsibility_group, substances_given, main_substance, injected_30d, overdose_12m, injected_ever, audit_score,
    dudit_score, self_rated_severity, self_rated_life_situation, housing, lives_with, children_under_18, occupation);
copy_row!(MeasurementRow in measurement_forms: form_id, treatment_level, treatment_plan, crisis_plan, benefit,
    feedback_tool_used, needs_followed_up, substances_given, main_substance, injected_30d, overdose_12m, housing,
    occupation);
copy_row!(DischargeRow in discharge_forms: form_id, ending, agreed_follow_up, municipality_informed, substances_given,
    main_substance, injected_30d, overdose_12m, housing, occupation, satisfaction, contact_consent_1y);
copy_row!(FollowUpRow in follow_up_forms: form_id, outcome, substances_given, main_substance, injected_30d,
    overdose_12m, housing, occupation, received_follow_up, self_rated_life_situation);

macro_rules! row {
    ($out:expr; $first:expr $(, $rest:expr)* $(,)?) => {{
        let out: &mut Vec<u8> = $out;
        $first.write_field(out);
        $( out.push(b'\t'); $rest.write_field(out); )*
        out.push(b'\n');
    }};
}

struct Unit {
    id: i64,
    weight: f64,
}

/// A random fødselsnummer valid by both check digits, born on `birth`.
fn random_national_id(rng: &mut ChaCha8Rng, birth: NaiveDate) -> Option<NationalId> {
    let year = birth.year();
    // Individual numbers by century (the standard table): 1900–1999 → 000–499, 2000–2039 → 500–999.
    let individual = if year < 2000 { rng.gen_range(0..500) } else { rng.gen_range(500..1000) };
    let digits = format!("{:02}{:02}{:02}{:03}", birth.day(), birth.month(), year % 100, individual);
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    let check = |weights: &[u32], d: &[u32]| -> Option<u32> {
        let sum: u32 = weights.iter().zip(d).map(|(w, x)| w * x).sum();
        match 11 - sum % 11 {
            11 => Some(0),
            10 => None,
            k => Some(k),
        }
    };
    let k1 = check(&[3, 7, 6, 1, 8, 9, 4, 5, 2], &d)?;
    let mut d2 = d.clone();
    d2.push(k1);
    let k2 = check(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], &d2)?;
    NationalId::parse(&format!("{digits}{k1}{k2}"), &IdRules::default()).ok()
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.gen_bool(p.clamp(0.0, 1.0))
}

fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d + chrono::Duration::days(n)
}

/// A substance-use block: 1–3 substances, a main one among them, consistent injection answers.
fn substance_block(rng: &mut ChaCha8Rng, with_debut: bool, used_now: bool) -> (SubstanceUse, bool) {
    const COMMON: [i16; 8] = [1, 1, 1, 2, 2, 6, 3, 5];
    let n = rng.gen_range(1..=3);
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    let mut injected = false;
    while list.len() < n {
        let s = if rng.gen_bool(0.8) { COMMON[rng.gen_range(0..COMMON.len())] } else { rng.gen_range(1..=12) };
        if !seen.insert(s) {
            continue;
        }
        let frequency: i16 = if used_now { rng.gen_range(0..=4) } else { rng.gen_range(0..=2) };
        let route = if frequency == 0 {
            None
        } else {
            let r = match s {
                1 | 5 | 9 => 3,
                2 => 2,
                3 | 4 | 6 if rng.gen_bool(0.4) => 1,
                _ => rng.gen_range(2..=4),
            };
            injected |= r == 1;
            Some(r)
        };
        list.push(SubstanceEntry {
            substance: Some(s),
            frequency_30d: Some(frequency),
            route,
            debut_age: with_debut.then(|| rng.gen_range(12..=30)),
        });
    }
    let main = list[0].substance;
    let block = SubstanceUse {
        substances: Some(list),
        main_substance: main,
        injected_30d: Some(if injected { 1 } else { 2 }),
        overdose_12m: Some(if rng.gen_bool(0.85) { 0 } else { rng.gen_range(1..=4) }),
    };
    (block, injected)
}

const SUBSTANCE_DIAGNOSES: [&str; 8] = ["F10.2", "F10.1", "F12.2", "F11.2", "F15.2", "F13.2", "F12.1", "F19.2"];

fn baseline(rng: &mut ChaCha8Rng, date: NaiveDate) -> Baseline {
    let (substance_use, injected) = substance_block(rng, true, true);
    let in_lar = if rng.gen_bool(0.12) { 1 } else { 2 };
    Baseline {
        event_date: Some(date),
        referral_diagnosis: Some(SUBSTANCE_DIAGNOSES[rng.gen_range(0..SUBSTANCE_DIAGNOSES.len())].to_owned()),
        substance_diagnoses: Some(vec![SUBSTANCE_DIAGNOSES[rng.gen_range(0..SUBSTANCE_DIAGNOSES.len())].to_owned()]),
        psychiatric_diagnoses: Some(if rng.gen_bool(0.4) { vec!["F32.1".into()] } else { vec![] }),
        somatic_diagnoses: Some(if rng.gen_bool(0.2) { vec!["K70.3".into()] } else { vec![] }),
        somatic_health_assessed: Some(if rng.gen_bool(0.8) { 1 } else { rng.gen_range(2..=3) }),
        mental_health_assessed: Some(if rng.gen_bool(0.85) { 1 } else { rng.gen_range(2..=3) }),
        in_lar: Some(in_lar),
        lar_medication: (in_lar == 1).then(|| rng.gen_range(1..=5)),
        individual_plan: Some(rng.gen_range(1..=3)),
        responsibility_group: Some(rng.gen_range(1..=3)),
        substance_use,
        injected_ever: Some(if injected || rng.gen_bool(0.2) { 1 } else { 2 }),
        audit_score: rng.gen_bool(0.6).then(|| rng.gen_range(0..=40)),
        dudit_score: rng.gen_bool(0.6).then(|| rng.gen_range(0..=44)),
        self_rated_severity: Some(rng.gen_range(1..=5)),
        self_rated_life_situation: Some(rng.gen_range(1..=5)),
        housing: Some(rng.gen_range(1..=10)),
        lives_with: Some(rng.gen_range(1..=7)),
        children_under_18: Some(rng.gen_range(1..=3)),
        occupation: Some(rng.gen_range(1..=8)),
    }
}

fn measurement(rng: &mut ChaCha8Rng, date: NaiveDate, level: i16) -> Measurement {
    Measurement {
        event_date: Some(date),
        treatment_level: Some(level),
        treatment_plan: Some(if rng.gen_bool(0.75) { 1 } else { rng.gen_range(2..=3) }),
        crisis_plan: Some(if rng.gen_bool(0.5) { 1 } else { rng.gen_range(2..=3) }),
        benefit: Some(rng.gen_range(1..=5).max(rng.gen_range(1..=5))),
        feedback_tool_used: Some(rng.gen_range(1..=2)),
        needs_followed_up: Some(rng.gen_range(1..=3)),
        substance_use: substance_block(rng, false, true).0,
        housing: Some(rng.gen_range(1..=10)),
        occupation: Some(rng.gen_range(1..=8)),
    }
}

fn follow_up_set(rng: &mut ChaCha8Rng) -> Vec<i16> {
    if rng.gen_bool(0.1) {
        return vec![7];
    }
    let mut set: Vec<i16> = (1..=6).filter(|_| rng.gen_bool(0.35)).collect();
    if set.is_empty() {
        set.push(rng.gen_range(1..=6));
    }
    set
}

/// One form to write: its data, status and the unit that registered it.
struct PlannedForm {
    id: Uuid,
    data: FormData,
    completed: bool,
}

/// How a load writes: over how many COPY connections, in batches of how many pathways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Connections that COPY batches in parallel (each batch is one transaction on one of them).
    pub writers: usize,
    /// Pathways per batch (with their patients, forms and history).
    pub batch_pathways: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { writers: 2, batch_pathways: 10_000 }
    }
}

/// Reproducible ids for synthetic rows: the UUIDv7 layout with a running millisecond counter,
/// so ids grow in the order rows are generated (index inserts append instead of landing on
/// random pages), and the random bits from their own seeded stream. The stream also depends on
/// the number of pathways already in the register, so a second load never repeats an id.
struct Ids {
    rng: ChaCha8Rng,
    millis: u64,
}

impl Ids {
    fn new(seed: u64, existing_pathways: u64, first_start: NaiveDate) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(existing_pathways.wrapping_add(1));
        let millis = first_start.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis().max(0) as u64);
        Self { rng, millis }
    }

    fn next(&mut self) -> Uuid {
        self.millis += 1;
        let random: [u8; 10] = self.rng.gen();
        uuid::Builder::from_unix_timestamp_millis(self.millis, &random).into_uuid()
    }
}

/// One batch of rows: whole pathways with their patients, so a batch's foreign keys hold
/// within its own transaction.
#[derive(Default)]
struct Batch {
    buffers: Buffers,
    pathways: usize,
}

/// The facts of a pathway (the `pathways` columns of migrations worklist_facts and report_facts),
/// computed from its planned forms (all registered by `unit`) as the database triggers would
/// compute them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Facts {
    anchor_date: Option<NaiveDate>,
    last_form_date: Option<NaiveDate>,
    discharge_date: Option<NaiveDate>,
    discharge_ending: Option<i16>,
    discharge_contact_consent_1y: Option<i16>,
    follow_up_done: bool,
    baseline_unit_id: Option<i64>,
    baseline_date: Option<NaiveDate>,
    baseline_somatic_health_assessed: Option<i16>,
    first_measurement: Option<(NaiveDate, Uuid)>,
    first_measurement_unit_id: Option<i64>,
    first_measurement_treatment_plan: Option<i16>,
    first_measurement_crisis_plan: Option<i16>,
    first_measurement_benefit: Option<i16>,
    discharge_unit_id: Option<i64>,
    discharge_agreed_follow_up: Option<Vec<i16>>,
    follow_up_outcome: Option<i16>,
    /// The latest completed measurement (date, id) and its treatment level.
    latest_measurement: Option<(NaiveDate, Uuid)>,
    current_treatment_level: Option<i16>,
}

fn facts_of(forms: &[PlannedForm], unit: i64) -> Facts {
    let mut f = Facts::default();
    for form in forms {
        let date = form.data.event_date();
        f.last_form_date = f.last_form_date.max(date);
        if !form.completed {
            continue;
        }
        match &form.data {
            FormData::Baseline(b) => {
                f.anchor_date = f.anchor_date.max(date);
                f.baseline_unit_id = Some(unit);
                f.baseline_date = date;
                f.baseline_somatic_health_assessed = b.somatic_health_assessed;
            }
            FormData::Measurement(m) => {
                f.anchor_date = f.anchor_date.max(date);
                let key = date.map(|d| (d, form.id));
                if key.is_some() && (f.first_measurement.is_none() || key < f.first_measurement) {
                    f.first_measurement = key;
                    f.first_measurement_unit_id = Some(unit);
                    f.first_measurement_treatment_plan = m.treatment_plan;
                    f.first_measurement_crisis_plan = m.crisis_plan;
                    f.first_measurement_benefit = m.benefit;
                }
                if key.is_some() && key > f.latest_measurement {
                    f.latest_measurement = key;
                    f.current_treatment_level = m.treatment_level;
                }
            }
            FormData::Discharge(d) => {
                f.discharge_date = date;
                f.discharge_ending = d.ending;
                f.discharge_contact_consent_1y = d.contact_consent_1y;
                f.discharge_unit_id = Some(unit);
                f.discharge_agreed_follow_up = d.agreed_follow_up.clone();
            }
            FormData::FollowUp(u) => {
                f.follow_up_done = true;
                f.follow_up_outcome = u.outcome;
            }
        }
    }
    f
}

/// A measurement's previous point, as `forms.previous_date` and `forms.previous_treatment_level`
/// (None for other kinds and undated drafts): the latest event date of another completed
/// baseline or measurement of the pathway on or before its own, and the level of the latest
/// other completed measurement on or before it (latest date, then highest id).
fn previous_point_of(form: &PlannedForm, forms: &[PlannedForm]) -> (Option<NaiveDate>, Option<i16>) {
    let (FormData::Measurement(_), Some(own)) = (&form.data, form.data.event_date()) else { return (None, None) };
    let before =
        || forms.iter().filter(|a| a.id != form.id && a.completed).filter_map(|a| Some((a, a.data.event_date()?)));
    let date = before()
        .filter(|(a, d)| matches!(a.data, FormData::Baseline(_) | FormData::Measurement(_)) && *d <= own)
        .map(|(_, d)| d)
        .max();
    let level = before()
        .filter_map(|(a, d)| match &a.data {
            FormData::Measurement(m) if d <= own => Some(((d, a.id), m.treatment_level)),
            _ => None,
        })
        .max_by_key(|(key, _)| *key)
        .and_then(|(_, level)| level);
    (date, level)
}

/// Whether treatment level `level` uses the inpatient time limits (the domain's rule).
fn inpatient_limits(level: i16) -> bool {
    TreatmentLevel::from_code(level).is_some_and(TreatmentLevel::uses_inpatient_limits)
}

fn connect(url: &str) -> Result<PgConnection, RepoError> {
    PgConnection::establish(url).map_err(|e| RepoError::Other(format!("cannot connect to the database: {e}")))
}

/// Loads `pathways` synthetic pathways generated from `seed` into the database at `url`. One
/// thread generates (and validates) the rows from the seeded generator, in batches of whole
/// pathways; `options.writers` connections COPY the batches in parallel, one transaction per
/// batch. The rows depend only on the seed and the register's contents before the load, never
/// on which connection wrote which batch. `progress` is told the number of pathways committed.
pub fn load(
    url: &str,
    key: &IdKey,
    pathways: usize,
    seed: u64,
    settings: &SyntheticSettings,
    options: &LoadOptions,
    mut progress: impl FnMut(usize),
) -> Result<LoadSummary, RepoError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};

    let started = Instant::now();
    let mut conn = connect(url)?;
    let writers = options.writers.max(1);
    let (tx, rx) = mpsc::sync_channel::<Batch>(writers);
    let rx = Arc::new(Mutex::new(rx));
    let failed = AtomicBool::new(false);
    let written = AtomicUsize::new(0);
    let (generated, results) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                let (failed, written) = (&failed, &written);
                scope.spawn(move || {
                    let result = write_batches(url, &rx, written);
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    result
                })
            })
            .collect();
        drop(rx); // the writers hold the receiver: when they all stop, sending fails
        let generated = generate(&mut conn, key, pathways, seed, settings, options.batch_pathways, |batch| {
            if failed.load(Ordering::SeqCst) {
                return Err(RepoError::Other("a writer failed".into()));
            }
            tx.send(batch).map_err(|_| RepoError::Other("every writer stopped".into()))?;
            progress(written.load(Ordering::SeqCst));
            Ok(())
        });
        drop(tx); // no more batches: the writers finish what is queued and stop
        let results: Vec<Result<(), RepoError>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(RepoError::Other("a writer panicked".into()))))
            .collect();
        (generated, results)
    });
    // A writer's own error says more than the generator's "a writer failed".
    for r in results {
        r?;
    }
    let mut summary = generated?;
    progress(written.load(Ordering::SeqCst));
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// One writer: its own connection (asynchronous commit, worklist-facts triggers off because the
/// rows carry their facts), COPYing batches until the channel closes.
fn write_batches(
    url: &str,
    rx: &std::sync::Mutex<std::sync::mpsc::Receiver<Batch>>,
    written: &std::sync::atomic::AtomicUsize,
) -> Result<(), RepoError> {
    let mut conn = connect(url)?;
    // A crash can lose the last batches committed (never corrupt the database); the load is
    // rerun from scratch anyway.
    diesel::sql_query("SET synchronous_commit = off").execute(&mut conn)?;
    diesel::sql_query("SET rusreg.bulk_load = 'on'").execute(&mut conn)?;
    loop {
        let next = rx.lock().map_err(|_| RepoError::Other("a writer panicked".into()))?.recv();
        let Ok(mut batch) = next else { return Ok(()) };
        flush(&mut conn, &mut batch.buffers)?;
        written.fetch_add(batch.pathways, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Generates the rows, validating every form with the domain rules, and hands them to `send`
/// in batches of about `batch_pathways` pathways.
fn generate(
    conn: &mut PgConnection,
    key: &IdKey,
    pathways: usize,
    seed: u64,
    settings: &SyntheticSettings,
    batch_pathways: usize,
    mut send: impl FnMut(Batch) -> Result<(), RepoError>,
) -> Result<LoadSummary, RepoError> {
    let today = Utc::now().date_naive();
    let loader = loader_user(conn)?;
    let mut summary = LoadSummary::default();
    if settings.tree == Tree::Realistic {
        summary.org_nodes_added = tree::load(conn, seed, &settings.realistic_tree)?.inserted;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let units = units(conn, &mut rng, settings.unit_sizes())?;
    if units.is_empty() {
        return Err(RepoError::Other("no units: load the reference data first (rusreg seed-reference)".into()));
    }
    let unit_pick = weighted(units.iter().map(|u| u.weight))?;
    let level_pick = weighted(settings.treatment_level_weights)?;
    let ending_pick = weighted(settings.ending_weights)?;
    let outcome_pick = weighted(settings.outcome_weights)?;
    let span_days = (today - settings.first_start).num_days().max(1);
    let mut used_pseudonyms: HashSet<[u8; 32]> = existing_pseudonyms(conn)?;
    let mut ids = Ids::new(seed, pathway_count(conn)?.max(0) as u64, settings.first_start);
    let mut batch = Batch::default();
    let batch_pathways = batch_pathways.max(1);

    while summary.pathways < pathways {
        // A patient, with one pathway or (sometimes) two in a row.
        let start = days(settings.first_start, rng.gen_range(0..span_days));
        let birth = days(start, -rng.gen_range(16 * 365..75 * 365));
        let Some(id) = random_national_id(&mut rng, birth) else { continue };
        let pseudonym = key.pseudonym(&id);
        if !used_pseudonyms.insert(pseudonym) {
            continue;
        }
        let patient = ids.next();
        let sex: i16 = if rng.gen_bool(0.68) { 1 } else { 2 };
        let encrypted = key.encrypt(&id).map_err(|e| RepoError::Other(e.to_string()))?;
        let birth_year = birth.year() as i16;
        row!(&mut batch.buffers.patients; patient, Bytes(&pseudonym), Bytes(&encrypted), sex, birth_year, loader);
        summary.patients += 1;

        let mut next_start = Some(start);
        let mut first = true;
        while let Some(start) = next_start.take() {
            if summary.pathways >= pathways || start > today {
                break;
            }
            let unit = units[unit_pick.sample(&mut rng)].id;
            let level = (level_pick.sample(&mut rng) + 1) as i16;
            let inpatient = inpatient_limits(level);
            let pathway = ids.next();
            row!(&mut batch.buffers.status_history; pathway, None::<i16>, 1i16, "opened", None::<Uuid>, loader);
            let mut ctx = FormContext::new(start, today);
            let mut forms: Vec<PlannedForm> = Vec::new();
            let mut status: i16 = 1;
            let mut owning_unit = unit;

            // Baseline: on time, late, or missing.
            let limit = if inpatient { 7 } else { 21 };
            let baseline_day = if chance(&mut rng, settings.baseline_late_share) {
                rng.gen_range(limit + 1..limit + 60)
            } else {
                rng.gen_range(0..=limit)
            };
            let baseline_date = days(start, baseline_day);
            let length = (-settings.mean_pathway_days * (1.0 - rng.gen::<f64>()).ln()).round() as i64 + 14;
            let end = days(start, length);
            if baseline_date <= today && chance(&mut rng, settings.baseline_registered) {
                let completed = chance(&mut rng, settings.baseline_completed);
                let data = FormData::Baseline(baseline(&mut rng, baseline_date));
                if completed {
                    ctx.baseline_date = Some(baseline_date);
                }
                forms.push(PlannedForm { id: ids.next(), data, completed });
            }
            // Measurement points every 6–10 weeks until the end (or today).
            let mut at = days(baseline_date.max(start), rng.gen_range(35..75));
            let mut current_level = level;
            while at <= end.min(today) {
                if chance(&mut rng, settings.measurement_registered) {
                    let completed = chance(&mut rng, settings.measurement_completed);
                    if completed {
                        ctx.measurement_dates.push(at);
                        if inpatient_limits(current_level) && chance(&mut rng, settings.step_down_share) {
                            current_level = 1;
                        }
                    }
                    forms.push(PlannedForm {
                        id: ids.next(),
                        data: FormData::Measurement(measurement(&mut rng, at, current_level)),
                        completed,
                    });
                }
                at = days(at, rng.gen_range(42..75));
            }
            // Transfer within the register, rarely.
            if chance(&mut rng, settings.transfer_share) && end > days(start, 30) {
                let to = units[unit_pick.sample(&mut rng)].id;
                if to != unit {
                    let date = days(start, rng.gen_range(10..30)).min(today);
                    row!(&mut batch.buffers.transfers; pathway, unit, to, date, loader);
                    owning_unit = to;
                    summary.transfers += 1;
                }
            }
            // Discharge, when the pathway has ended and a form exists to discharge from.
            let has_completed = ctx.baseline_date.is_some() || !ctx.measurement_dates.is_empty();
            let last_completed = ctx.measurement_dates.iter().copied().chain(ctx.baseline_date).max();
            let discharge_date = end.max(last_completed.unwrap_or(start));
            if discharge_date <= today && has_completed && chance(&mut rng, settings.discharge_registered) {
                let ending = (ending_pick.sample(&mut rng) + 2) as i16;
                let consent = if ending == 2 {
                    None
                } else {
                    Some(if chance(&mut rng, settings.contact_consent_yes) { 1 } else { 2 })
                };
                let discharge = Discharge {
                    event_date: Some(discharge_date),
                    ending: Some(ending),
                    agreed_follow_up: Some(follow_up_set(&mut rng)),
                    municipality_informed: (ending == 3).then(|| rng.gen_range(1..=3)),
                    substance_use: substance_block(&mut rng, false, false).0,
                    housing: Some(rng.gen_range(1..=10)),
                    occupation: Some(rng.gen_range(1..=8)),
                    satisfaction: (ending != 3).then(|| rng.gen_range(1..=5)),
                    contact_consent_1y: consent,
                };
                let completed = chance(&mut rng, settings.discharge_completed);
                let discharge_id = ids.next();
                forms.push(PlannedForm { id: discharge_id, data: FormData::Discharge(discharge), completed });
                if completed {
                    status = ending;
                    row!(&mut batch.buffers.status_history; pathway, Some(1i16), ending, "discharge_completed", Some(discharge_id), loader);
                    let ending = DischargeEnding::from_code(ending).ok_or_else(|| RepoError::Other("ending".into()))?;
                    ctx.discharge = Some(CompletedDischarge {
                        date: discharge_date,
                        ending,
                        contact_consent_1y: consent == Some(1),
                    });
                    // The one-year follow-up, once its window has opened.
                    let follow_date = days(discharge_date, rng.gen_range(330..420));
                    if ending.gets_follow_up()
                        && consent == Some(1)
                        && follow_date <= today
                        && chance(&mut rng, settings.follow_up_registered)
                    {
                        let outcome = (outcome_pick.sample(&mut rng) + 5) as i16;
                        let reached = outcome == 5;
                        let follow_up = FollowUp {
                            event_date: Some(follow_date),
                            outcome: Some(outcome),
                            substance_use: if reached {
                                substance_block(&mut rng, false, true).0
                            } else {
                                SubstanceUse::default()
                            },
                            housing: reached.then(|| rng.gen_range(1..=10)),
                            occupation: reached.then(|| rng.gen_range(1..=8)),
                            received_follow_up: reached.then(|| follow_up_set(&mut rng)),
                            self_rated_life_situation: reached.then(|| rng.gen_range(1..=5)),
                        };
                        let id = ids.next();
                        forms.push(PlannedForm { id, data: FormData::FollowUp(follow_up), completed: true });
                        row!(&mut batch.buffers.status_history; pathway, Some(status), outcome, "follow_up_completed", Some(id), loader);
                        status = outcome;
                    }
                    if first && chance(&mut rng, settings.second_pathway_share) {
                        next_start = Some(days(discharge_date, rng.gen_range(30..400)));
                    }
                }
            }
            let f = facts_of(&forms, unit);
            row!(&mut batch.buffers.pathways; pathway, patient, owning_unit, unit, start, level, status, loader,
                f.anchor_date, f.last_form_date, f.discharge_date, f.discharge_ending, f.discharge_contact_consent_1y,
                f.follow_up_done, sex, birth_year, f.baseline_unit_id, f.baseline_date,
                f.baseline_somatic_health_assessed, f.first_measurement_unit_id, f.first_measurement.map(|(d, _)| d),
                f.first_measurement_treatment_plan, f.first_measurement_crisis_plan, f.first_measurement_benefit,
                f.discharge_unit_id, Array(&f.discharge_agreed_follow_up), f.follow_up_outcome,
                f.current_treatment_level);
            for form in &forms {
                let previous = previous_point_of(form, &forms);
                write_form(&mut batch.buffers, &mut summary, form, (pathway, unit, previous), loader, &ctx)?;
            }
            summary.pathways += 1;
            batch.pathways += 1;
            first = false;
        }
        if batch.pathways >= batch_pathways {
            send(std::mem::take(&mut batch))?;
        }
    }
    if batch.pathways > 0 {
        send(batch)?;
    }
    Ok(summary)
}

/// Validates a planned form with the domain rules and appends its rows.
fn write_form(
    b: &mut Buffers,
    summary: &mut LoadSummary,
    form: &PlannedForm,
    (pathway, unit, (previous_date, previous_treatment_level)): (Uuid, i64, (Option<NaiveDate>, Option<i16>)),
    loader: Uuid,
    ctx: &FormContext,
) -> Result<(), RepoError> {
    let errors = if form.completed {
        // The context holds the other completed forms: take this one out of it.
        let mut own = ctx.clone();
        match &form.data {
            FormData::Baseline(_) => own.baseline_date = None,
            FormData::Measurement(m) => {
                if let Some(pos) = own.measurement_dates.iter().position(|d| Some(*d) == m.event_date) {
                    own.measurement_dates.remove(pos);
                }
            }
            FormData::Discharge(_) => own.discharge = None,
            FormData::FollowUp(_) => {}
        }
        form.data.validate_complete(&own)
    } else {
        form.data.validate_draft()
    };
    if let Some(e) = errors.first() {
        return Err(RepoError::Other(format!(
            "synthetic {} form failed the domain rules: {} ({})",
            form.data.kind().as_str(),
            e.field,
            e.code
        )));
    }
    let status = if form.completed { "completed" } else { "draft" };
    let event_date = form.data.event_date();
    let completed_at = form.completed.then(|| event_date.map(|d| format!("{d} 12:00:00+00"))).flatten();
    let created_at = event_date.map(|d| format!("{d} 10:00:00+00")).unwrap_or_else(|| "now".into());
    row!(&mut b.forms; form.id, pathway, form.data.kind().as_str(), unit, event_date, status, 1i32, loader, loader,
        form.completed.then_some(loader), completed_at.as_deref(), created_at.as_str(), created_at.as_str(),
        previous_date, previous_treatment_level);
    summary.forms += 1;
    summary.completed_forms += usize::from(form.completed);
    let block = match &form.data {
        FormData::Baseline(f) => {
            BaselineRow::of(form.id, f).write_row(&mut b.baseline);
            &f.substance_use
        }
        FormData::Measurement(f) => {
            MeasurementRow::of(form.id, f).write_row(&mut b.measurement);
            &f.substance_use
        }
        FormData::Discharge(f) => {
            DischargeRow::of(form.id, f).write_row(&mut b.discharge);
            &f.substance_use
        }
        FormData::FollowUp(f) => {
            FollowUpRow::of(form.id, f).write_row(&mut b.follow_up);
            &f.substance_use
        }
    };
    for (position, s) in block.substances.iter().flatten().enumerate() {
        row!(&mut b.substances; form.id, position as i16, s.substance, s.frequency_30d, s.route, s.debut_age);
        summary.substances += 1;
    }
    Ok(())
}

/// Copies every buffer in one transaction, parents before children, and empties them.
fn flush(conn: &mut PgConnection, b: &mut Buffers) -> Result<(), RepoError> {
    use crate::schema::*;
    let copy =
        |conn: &mut PgConnection, buf: &mut Vec<u8>, f: &dyn Fn(&mut PgConnection, &[u8]) -> QueryResult<usize>| {
            if !buf.is_empty() {
                f(conn, buf)?;
                buf.clear();
            }
            Ok::<_, diesel::result::Error>(())
        };
    macro_rules! copy_into {
        ($conn:expr, $buf:expr, $table:ident, ($($col:ident),+)) => {
            copy_into!($conn, $buf, $table, columns ($($table::$col),+))
        };
        ($conn:expr, $buf:expr, $table:ident, columns $columns:expr) => {
            copy($conn, &mut $buf, &|conn, data| {
                diesel::copy_from($table::table)
                    .from_raw_data($columns, |w| {
                        w.write_all(data).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
                    })
                    .execute(conn)
            })?
        };
    }
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        copy_into!(conn, b.patients, patients, (id, pseudonym, national_id_enc, sex, birth_year, registered_by));
        copy_into!(
            conn,
            b.pathways,
            pathways,
            (
                id,
                patient_id,
                unit_id,
                opened_unit_id,
                start_date,
                treatment_level,
                status,
                created_by,
                anchor_date,
                last_form_date,
                discharge_date,
                discharge_ending,
                discharge_contact_consent_1y,
                follow_up_done,
                patient_sex,
                patient_birth_year,
                baseline_unit_id,
                baseline_date,
                baseline_somatic_health_assessed,
                first_measurement_unit_id,
                first_measurement_date,
                first_measurement_treatment_plan,
                first_measurement_crisis_plan,
                first_measurement_benefit,
                discharge_unit_id,
                discharge_agreed_follow_up,
                follow_up_outcome,
                current_treatment_level
            )
        );
        copy_into!(
            conn,
            b.transfers,
            pathway_transfers,
            (pathway_id, from_unit_id, to_unit_id, transfer_date, created_by)
        );
        copy_into!(
            conn,
            b.status_history,
            pathway_status_history,
            (pathway_id, from_status, to_status, event, form_id, changed_by)
        );
        copy_into!(
            conn,
            b.forms,
            forms,
            (
                id,
                pathway_id,
                kind,
                unit_id,
                event_date,
                status,
                version,
                created_by,
                updated_by,
                completed_by,
                completed_at,
                created_at,
                updated_at,
                previous_date,
                previous_treatment_level
            )
        );
        copy_into!(conn, b.baseline, baseline_forms, columns BaselineRow::COPY_COLUMNS);
        copy_into!(conn, b.measurement, measurement_forms, columns MeasurementRow::COPY_COLUMNS);
        copy_into!(conn, b.discharge, discharge_forms, columns DischargeRow::COPY_COLUMNS);
        copy_into!(conn, b.follow_up, follow_up_forms, columns FollowUpRow::COPY_COLUMNS);
        copy_into!(
            conn,
            b.substances,
            form_substances,
            (form_id, position, substance, frequency_30d, route, debut_age)
        );
        Ok(())
    })?;
    Ok(())
}

/// The disabled system user that owns synthetic rows (`created_by`).
fn loader_user(conn: &mut PgConnection) -> Result<Uuid, RepoError> {
    use crate::schema::users;
    const NAME: &str = "synthetic-loader";
    if let Some(id) = users::table.filter(users::username.eq(NAME)).select(users::id).first(conn).optional()? {
        return Ok(id);
    }
    let id = Uuid::new_v4();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::username.eq(NAME),
            users::display_name.eq("Synthetic data loader (no login)"),
            users::password_hash.eq("!disabled"),
            users::disabled.eq(true),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A weighted choice among indexes, from weights given in order.
fn weighted<W>(weights: impl IntoIterator<Item = W>) -> Result<WeightedIndex<W>, RepoError>
where
    W: rand::distributions::uniform::SampleUniform + PartialOrd + for<'a> std::ops::AddAssign<&'a W> + Clone + Default,
{
    WeightedIndex::new(weights).map_err(|e| RepoError::Other(format!("weights: {e}")))
}

/// Every unit of the register with a skewed weight: rank r (1, 2, … in a seeded shuffle) gets
/// `sizes.weight(r)`.
fn units(conn: &mut PgConnection, rng: &mut ChaCha8Rng, sizes: UnitSizes) -> Result<Vec<Unit>, RepoError> {
    use crate::schema::org_nodes;
    use rand::seq::SliceRandom;
    let mut ids: Vec<i64> = org_nodes::table
        .filter(org_nodes::kind.eq("unit"))
        .order(org_nodes::id.asc())
        .select(org_nodes::id)
        .load(conn)?;
    ids.shuffle(rng);
    Ok(ids.into_iter().enumerate().map(|(rank, id)| Unit { id, weight: sizes.weight(rank + 1) }).collect())
}

fn existing_pseudonyms(conn: &mut PgConnection) -> Result<HashSet<[u8; 32]>, RepoError> {
    use crate::schema::{patients, reservations};
    let mut all: Vec<Vec<u8>> = patients::table.select(patients::pseudonym).load(conn)?;
    all.extend(reservations::table.select(reservations::pseudonym).load::<Vec<u8>>(conn)?);
    Ok(all.into_iter().filter_map(|p| <[u8; 32]>::try_from(p.as_slice()).ok()).collect())
}

/// Number of pathways in the register (the demo loads its population only into an empty one).
pub fn pathway_count(conn: &mut PgConnection) -> Result<i64, RepoError> {
    use crate::schema::pathways;
    Ok(pathways::table.count().get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{baseline_forms, discharge_forms, follow_up_forms, measurement_forms};

    /// A column added to a table (and its row struct) but not to the row's `copy_row!` list
    /// would be left NULL by the loader: each list names every column of its table, in order.
    #[test]
    fn every_typed_row_copies_every_column_of_its_table() {
        macro_rules! same_columns {
            ($table:ident, $row:ident) => {{
                use diesel::{debug_query, pg::Pg};
                let copied = debug_query::<Pg, _>(&$table::table.select($row::COPY_COLUMNS)).to_string();
                let all = debug_query::<Pg, _>(&$table::table.select($table::all_columns)).to_string();
                assert_eq!(copied, all, stringify!($row));
            }};
        }
        same_columns!(baseline_forms, BaselineRow);
        same_columns!(measurement_forms, MeasurementRow);
        same_columns!(discharge_forms, DischargeRow);
        same_columns!(follow_up_forms, FollowUpRow);
    }

    #[test]
    #[expect(clippy::unwrap_used, reason = "tests")]
    fn unit_sizes_of_each_tree() {
        let mut settings = SyntheticSettings::builtin().unwrap();
        // The demo tree keeps its weights (and so its populations): 1/rank^unit_size_skew.
        let demo = settings.unit_sizes();
        for rank in 1..=29 {
            assert_eq!(demo.weight(rank), 1.0 / (rank as f64).powf(settings.unit_size_skew));
        }
        // The realistic tree leaves many units small at 1,000,000 pathways over 8 years, while
        // the largest start thousands a year.
        settings.tree = Tree::Realistic;
        let sizes = settings.unit_sizes();
        let units = settings.realistic_tree.units;
        let weights: Vec<f64> = (1..=units).map(|rank| sizes.weight(rank)).collect();
        let total: f64 = weights.iter().sum();
        let per_year: Vec<f64> = weights.iter().map(|w| 1_000_000.0 / 8.0 * w / total).collect();
        let small = per_year.iter().filter(|&&n| n < 20.0).count();
        assert!(3 * small >= units, "{small} of {units} units start fewer than 20 a year");
        assert!((2_000.0..20_000.0).contains(&per_year[0]), "the largest unit starts {:.0} a year", per_year[0]);
        let smallest_half: f64 = per_year[units / 2..].iter().sum::<f64>() / per_year.iter().sum::<f64>();
        assert!(smallest_half < 0.05, "the smallest half of the units holds {smallest_half:.3} of the pathways");
    }
}
