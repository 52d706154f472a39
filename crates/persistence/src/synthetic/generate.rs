//! Generation: made-up patients, pathways and forms drawn from the seeded generator, every form
//! validated by the domain rules, written into a batch's COPY buffers.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use domain::forms::{
    Baseline, CompletedDischarge, Discharge, FollowUp, FormContext, FormData, FormStatus, Measurement, SubstanceEntry,
    SubstanceUse,
};
use domain::national_id::{IdKey, IdRules, NationalId};
use domain::pathways::{DischargeEnding, TreatmentLevel};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::forms::{BaselineRow, DischargeRow, FollowUpRow, MeasurementRow};
use crate::RepoError;

use super::copy::{row, Array, Buffers, Bytes, CopyField, CopyRow};
use super::*;

pub(super) struct Unit {
    pub(super) id: i64,
    pub(super) weight: f64,
}

/// The residences a synthetic pathway is given (docs/residence.md): mostly an area of the
/// catchment of its unit's health trust, sometimes any area, sometimes none — each area valid on
/// the start date. Drawn from a generator of its own, seeded by the pathway, so that the rest of
/// the synthetic register is the same with or without residence data. Without catchment areas in
/// the database no pathway gets a residence.
pub(super) struct Residences {
    /// (area code, valid from, valid to, trust) of every catchment period.
    catchment: Vec<(String, NaiveDate, Option<NaiveDate>, i64)>,
    /// The legal entity of each unit (its open link).
    entity_of: std::collections::HashMap<i64, i64>,
}

impl Residences {
    pub(super) fn load(conn: &mut PgConnection) -> Result<Self, RepoError> {
        use crate::schema::org_links;
        let catchment = crate::residence::all_catchment(conn)?
            .into_iter()
            .map(|c| (c.area_code, c.valid_from, c.valid_to, c.trust_id))
            .collect();
        let entity_of = org_links::table
            .filter(org_links::valid_to.is_null())
            .select((org_links::child_id, org_links::parent_id))
            .load::<(i64, i64)>(conn)?
            .into_iter()
            .collect();
        Ok(Residences { catchment, entity_of })
    }

    pub(super) fn draw(&self, seed: u64, pathway: Uuid, unit: i64, start: NaiveDate) -> Option<String> {
        if self.catchment.is_empty() {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (pathway.as_u128() as u64) ^ ((pathway.as_u128() >> 64) as u64));
        let roll: f64 = rng.gen();
        if roll < 0.05 {
            return None;
        }
        let trust = self.entity_of.get(&unit).copied();
        let valid = |c: &&(String, NaiveDate, Option<NaiveDate>, i64)| c.1 <= start && c.2.is_none_or(|t| t > start);
        let local: Vec<&(String, NaiveDate, Option<NaiveDate>, i64)> =
            self.catchment.iter().filter(valid).filter(|c| Some(c.3) == trust).collect();
        let pool: Vec<&(String, NaiveDate, Option<NaiveDate>, i64)> =
            if roll < 0.85 && !local.is_empty() { local } else { self.catchment.iter().filter(valid).collect() };
        (!pool.is_empty()).then(|| pool[rng.gen_range(0..pool.len())].0.clone())
    }
}

/// A random fødselsnummer valid by both check digits, born on `birth`.
pub(super) fn random_national_id(rng: &mut ChaCha8Rng, birth: NaiveDate) -> Option<NationalId> {
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

pub(super) fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.gen_bool(p.clamp(0.0, 1.0))
}

pub(super) fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d + chrono::Duration::days(n)
}

/// A substance-use block: 1–3 substances, a main one among them, consistent injection answers.
pub(super) fn substance_block(rng: &mut ChaCha8Rng, with_debut: bool, used_now: bool) -> (SubstanceUse, bool) {
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

pub(super) const SUBSTANCE_DIAGNOSES: [&str; 8] =
    ["F10.2", "F10.1", "F12.2", "F11.2", "F15.2", "F13.2", "F12.1", "F19.2"];

pub(super) fn baseline(rng: &mut ChaCha8Rng, date: NaiveDate) -> Baseline {
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

pub(super) fn measurement(rng: &mut ChaCha8Rng, date: NaiveDate, level: i16) -> Measurement {
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

pub(super) fn follow_up_set(rng: &mut ChaCha8Rng) -> Vec<i16> {
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
pub(super) struct PlannedForm {
    pub(super) id: Uuid,
    pub(super) data: FormData,
    pub(super) completed: bool,
}

/// Reproducible ids for synthetic rows: the UUIDv7 layout with a running millisecond counter,
/// so ids grow in the order rows are generated (index inserts append instead of landing on
/// random pages), and the random bits from their own seeded stream. The stream also depends on
/// the number of pathways already in the register, so a second load never repeats an id.
pub(super) struct Ids {
    pub(super) rng: ChaCha8Rng,
    pub(super) millis: u64,
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
pub(super) struct Batch {
    pub(super) buffers: Buffers,
    pub(super) pathways: usize,
}

/// The facts of a pathway (the `pathways` columns of migrations worklist_facts and report_facts),
/// computed from its planned forms (all registered by `unit`) as the database triggers would
/// compute them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Facts {
    pub(super) anchor_date: Option<NaiveDate>,
    pub(super) last_form_date: Option<NaiveDate>,
    pub(super) discharge_date: Option<NaiveDate>,
    pub(super) discharge_ending: Option<i16>,
    pub(super) discharge_contact_consent_1y: Option<i16>,
    pub(super) follow_up_done: bool,
    pub(super) baseline_unit_id: Option<i64>,
    pub(super) baseline_date: Option<NaiveDate>,
    pub(super) baseline_somatic_health_assessed: Option<i16>,
    pub(super) first_measurement: Option<(NaiveDate, Uuid)>,
    pub(super) first_measurement_unit_id: Option<i64>,
    pub(super) first_measurement_treatment_plan: Option<i16>,
    pub(super) first_measurement_crisis_plan: Option<i16>,
    pub(super) first_measurement_benefit: Option<i16>,
    pub(super) discharge_unit_id: Option<i64>,
    pub(super) discharge_agreed_follow_up: Option<Vec<i16>>,
    pub(super) follow_up_outcome: Option<i16>,
    /// The latest completed measurement (date, id) and its treatment level.
    pub(super) latest_measurement: Option<(NaiveDate, Uuid)>,
    pub(super) current_treatment_level: Option<i16>,
}

pub(super) fn facts_of(forms: &[PlannedForm], unit: i64) -> Facts {
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
pub(super) fn previous_point_of(form: &PlannedForm, forms: &[PlannedForm]) -> (Option<NaiveDate>, Option<i16>) {
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
pub(super) fn inpatient_limits(level: i16) -> bool {
    TreatmentLevel::from_code(level).is_some_and(TreatmentLevel::uses_inpatient_limits)
}

/// Generates the rows, validating every form with the domain rules, and hands them to `send`
/// in batches of about `batch_pathways` pathways.
pub(super) fn generate(
    conn: &mut PgConnection,
    key: &IdKey,
    pathways: usize,
    seed: u64,
    settings: &SyntheticSettings,
    batch_pathways: usize,
    mut send: impl FnMut(Batch) -> Result<(), RepoError>,
) -> Result<LoadSummary, RepoError> {
    let today = domain::clock::today();
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
    let residences = Residences::load(conn)?;
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
                f.current_treatment_level, residences.draw(seed, pathway, unit, start));
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
pub(super) fn write_form(
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
    let status = if form.completed { FormStatus::Completed } else { FormStatus::Draft }.as_str();
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

/// The disabled system user that owns synthetic rows (`created_by`).
pub(super) fn loader_user(conn: &mut PgConnection) -> Result<Uuid, RepoError> {
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
pub(super) fn weighted<W>(weights: impl IntoIterator<Item = W>) -> Result<WeightedIndex<W>, RepoError>
where
    W: rand::distributions::uniform::SampleUniform + PartialOrd + for<'a> std::ops::AddAssign<&'a W> + Clone + Default,
{
    WeightedIndex::new(weights).map_err(|e| RepoError::Other(format!("weights: {e}")))
}

/// Every unit of the register with a skewed weight: rank r (1, 2, … in a seeded shuffle) gets
/// `sizes.weight(r)`.
pub(super) fn units(conn: &mut PgConnection, rng: &mut ChaCha8Rng, sizes: UnitSizes) -> Result<Vec<Unit>, RepoError> {
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

pub(super) fn existing_pseudonyms(conn: &mut PgConnection) -> Result<HashSet<[u8; 32]>, RepoError> {
    use crate::schema::{patients, reservations};
    let mut all: Vec<Vec<u8>> = patients::table.select(patients::pseudonym).load(conn)?;
    all.extend(reservations::table.select(reservations::pseudonym).load::<Vec<u8>>(conn)?);
    Ok(all.into_iter().filter_map(|p| <[u8; 32]>::try_from(p.as_slice()).ok()).collect())
}
