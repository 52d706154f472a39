//! Forms: the common `forms` row (pathway, kind, unit, event date, status, version, who and when),
//! one typed row per kind (`baseline_forms`, `measurement_forms`, `discharge_forms`,
//! `follow_up_forms`), the substance list (`form_substances`) and the change history. Converts
//! between rows and `domain::forms::FormData` both ways without loss.
//!
//! Optimistic concurrency: [`update_draft`] changes a draft only when its version is the one the
//! caller read (`UPDATE ... WHERE id = $1 AND version = $2`), so no update is ever lost.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use domain::forms::{
    Baseline, Discharge, FollowUp, FormData, FormId, FormKind, FormStatus, Measurement, SubstanceEntry, SubstanceUse,
};
use domain::pathways::PathwayId;
use uuid::Uuid;

use crate::schema::{
    baseline_forms, discharge_forms, follow_up_forms, form_history, form_substances, forms, measurement_forms,
};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = forms, check_for_backend(diesel::pg::Pg))]
pub struct FormRow {
    pub id: Uuid,
    pub pathway_id: Uuid,
    pub kind: String,
    pub unit_id: i64,
    pub event_date: Option<NaiveDate>,
    pub status: String,
    pub version: i32,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_by: Uuid,
    pub updated_at: DateTime<Utc>,
    pub completed_by: Option<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    pub reopened_by: Option<Uuid>,
    pub reopened_at: Option<DateTime<Utc>>,
    pub reopen_reason: Option<String>,
}

impl FormRow {
    pub fn kind(&self) -> Result<FormKind, RepoError> {
        FormKind::parse(&self.kind).ok_or_else(|| RepoError::Other(format!("unknown form kind {}", self.kind)))
    }

    /// The pathway the form belongs to.
    pub fn pathway(&self) -> PathwayId {
        PathwayId(self.pathway_id)
    }

    pub fn is_completed(&self) -> bool {
        self.status == FormStatus::Completed.as_str()
    }
}

/// The common row of a new form. A bulk loader may insert completed forms directly
/// (`status = "completed"` with `completed_by`/`completed_at` set).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = forms)]
pub struct NewFormRow {
    pub id: Uuid,
    pub pathway_id: Uuid,
    /// `baseline`, `measurement`, `discharge` or `follow-up` (`FormKind::as_str`).
    pub kind: String,
    pub unit_id: i64,
    pub event_date: Option<NaiveDate>,
    pub status: String,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub completed_by: Option<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i32,
}

impl NewFormRow {
    /// A draft of `data`'s kind, dated by `data`'s event date.
    pub fn draft(id: Uuid, pathway_id: Uuid, unit_id: i64, data: &FormData, by: Uuid) -> Self {
        Self {
            id,
            pathway_id,
            kind: data.kind().as_str().to_owned(),
            unit_id,
            event_date: data.event_date(),
            status: FormStatus::Draft.as_str().into(),
            created_by: by,
            updated_by: by,
            completed_by: None,
            completed_at: None,
            version: 1,
        }
    }

    /// The same form as it stands once completed by `by`: the row a draft created and then
    /// completed (its second version) would be, written in one statement.
    pub fn completed(self, by: Uuid) -> Self {
        Self {
            status: FormStatus::Completed.as_str().into(),
            updated_by: by,
            completed_by: Some(by),
            completed_at: Some(Utc::now()),
            version: 2,
            ..self
        }
    }
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = baseline_forms, check_for_backend(diesel::pg::Pg))]
pub struct BaselineRow {
    pub form_id: Uuid,
    pub referral_diagnosis: Option<String>,
    pub substance_diagnoses: Option<Vec<Option<String>>>,
    pub psychiatric_diagnoses: Option<Vec<Option<String>>>,
    pub somatic_diagnoses: Option<Vec<Option<String>>>,
    pub somatic_health_assessed: Option<i16>,
    pub mental_health_assessed: Option<i16>,
    pub in_lar: Option<i16>,
    pub lar_medication: Option<i16>,
    pub individual_plan: Option<i16>,
    pub responsibility_group: Option<i16>,
    pub substances_given: bool,
    pub main_substance: Option<i16>,
    pub injected_30d: Option<i16>,
    pub overdose_12m: Option<i16>,
    pub injected_ever: Option<i16>,
    pub audit_score: Option<i16>,
    pub dudit_score: Option<i16>,
    pub self_rated_severity: Option<i16>,
    pub self_rated_life_situation: Option<i16>,
    pub housing: Option<i16>,
    pub lives_with: Option<i16>,
    pub children_under_18: Option<i16>,
    pub occupation: Option<i16>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = measurement_forms, check_for_backend(diesel::pg::Pg))]
pub struct MeasurementRow {
    pub form_id: Uuid,
    pub treatment_level: Option<i16>,
    pub treatment_plan: Option<i16>,
    pub crisis_plan: Option<i16>,
    pub benefit: Option<i16>,
    pub feedback_tool_used: Option<i16>,
    pub needs_followed_up: Option<i16>,
    pub substances_given: bool,
    pub main_substance: Option<i16>,
    pub injected_30d: Option<i16>,
    pub overdose_12m: Option<i16>,
    pub housing: Option<i16>,
    pub occupation: Option<i16>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = discharge_forms, check_for_backend(diesel::pg::Pg))]
pub struct DischargeRow {
    pub form_id: Uuid,
    pub ending: Option<i16>,
    pub agreed_follow_up: Option<Vec<Option<i16>>>,
    pub municipality_informed: Option<i16>,
    pub substances_given: bool,
    pub main_substance: Option<i16>,
    pub injected_30d: Option<i16>,
    pub overdose_12m: Option<i16>,
    pub housing: Option<i16>,
    pub occupation: Option<i16>,
    pub satisfaction: Option<i16>,
    pub contact_consent_1y: Option<i16>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = follow_up_forms, check_for_backend(diesel::pg::Pg))]
pub struct FollowUpRow {
    pub form_id: Uuid,
    pub outcome: Option<i16>,
    pub substances_given: bool,
    pub main_substance: Option<i16>,
    pub injected_30d: Option<i16>,
    pub overdose_12m: Option<i16>,
    pub housing: Option<i16>,
    pub occupation: Option<i16>,
    pub received_follow_up: Option<Vec<Option<i16>>>,
    pub self_rated_life_situation: Option<i16>,
}

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = form_substances, check_for_backend(diesel::pg::Pg))]
pub struct SubstanceRow {
    pub form_id: Uuid,
    pub position: i16,
    pub substance: Option<i16>,
    pub frequency_30d: Option<i16>,
    pub route: Option<i16>,
    pub debut_age: Option<i16>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = form_history, check_for_backend(diesel::pg::Pg))]
pub struct HistoryRow {
    pub id: i64,
    pub form_id: Uuid,
    pub version: i32,
    pub action: String,
    pub changed_by: Uuid,
    pub changed_at: DateTime<Utc>,
    pub changes: serde_json::Value,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = form_history)]
pub struct NewHistoryRow {
    pub form_id: Uuid,
    pub version: i32,
    /// created, updated, completed or reopened.
    pub action: String,
    pub changed_by: Uuid,
    /// `[{"field": ..., "from": ..., "to": ...}]`.
    pub changes: serde_json::Value,
    pub reason: Option<String>,
}

fn some_vec<T: Clone>(v: &Option<Vec<T>>) -> Option<Vec<Option<T>>> {
    v.as_ref().map(|v| v.iter().cloned().map(Some).collect())
}

fn flat_vec<T>(v: Option<Vec<Option<T>>>) -> Option<Vec<T>> {
    v.map(|v| v.into_iter().flatten().collect())
}

fn substance_rows(form_id: Uuid, block: &SubstanceUse) -> Result<Vec<SubstanceRow>, RepoError> {
    let Some(list) = &block.substances else { return Ok(Vec::new()) };
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(SubstanceRow {
                form_id,
                position: i16::try_from(i).map_err(|_| RepoError::Other("substance list too long".into()))?,
                substance: e.substance,
                frequency_30d: e.frequency_30d,
                route: e.route,
                debut_age: e.debut_age,
            })
        })
        .collect()
}

fn block(given: bool, rows: Vec<SubstanceRow>, main: Option<i16>, inj: Option<i16>, od: Option<i16>) -> SubstanceUse {
    SubstanceUse {
        substances: given.then(|| {
            rows.into_iter()
                .map(|r| SubstanceEntry {
                    substance: r.substance,
                    frequency_30d: r.frequency_30d,
                    route: r.route,
                    debut_age: r.debut_age,
                })
                .collect()
        }),
        main_substance: main,
        injected_30d: inj,
        overdose_12m: od,
    }
}

/// Inserts the typed row and the substance list of `data` for form `form_id`.
pub fn insert_data(conn: &mut PgConnection, form_id: Uuid, data: &FormData) -> Result<(), RepoError> {
    let su = match data {
        FormData::Baseline(f) => {
            insert_baseline(conn, form_id, f)?;
            &f.substance_use
        }
        FormData::Measurement(f) => {
            insert_measurement(conn, form_id, f)?;
            &f.substance_use
        }
        FormData::Discharge(f) => {
            insert_discharge(conn, form_id, f)?;
            &f.substance_use
        }
        FormData::FollowUp(f) => {
            insert_follow_up(conn, form_id, f)?;
            &f.substance_use
        }
    };
    let rows = substance_rows(form_id, su)?;
    if !rows.is_empty() {
        diesel::insert_into(form_substances::table).values(&rows).execute(conn)?;
    }
    Ok(())
}

impl BaselineRow {
    /// The typed row of a baseline (without the substance list, see [`insert_data`]): the one
    /// mapping of its fields to columns, for the API's inserts and the bulk loader's COPY.
    pub fn of(form_id: Uuid, f: &Baseline) -> Self {
        let su = &f.substance_use;
        Self {
            form_id,
            referral_diagnosis: f.referral_diagnosis.clone(),
            substance_diagnoses: some_vec(&f.substance_diagnoses),
            psychiatric_diagnoses: some_vec(&f.psychiatric_diagnoses),
            somatic_diagnoses: some_vec(&f.somatic_diagnoses),
            somatic_health_assessed: f.somatic_health_assessed,
            mental_health_assessed: f.mental_health_assessed,
            in_lar: f.in_lar,
            lar_medication: f.lar_medication,
            individual_plan: f.individual_plan,
            responsibility_group: f.responsibility_group,
            substances_given: su.substances.is_some(),
            main_substance: su.main_substance,
            injected_30d: su.injected_30d,
            overdose_12m: su.overdose_12m,
            injected_ever: f.injected_ever,
            audit_score: f.audit_score,
            dudit_score: f.dudit_score,
            self_rated_severity: f.self_rated_severity,
            self_rated_life_situation: f.self_rated_life_situation,
            housing: f.housing,
            lives_with: f.lives_with,
            children_under_18: f.children_under_18,
            occupation: f.occupation,
        }
    }
}

impl MeasurementRow {
    /// The typed row of a measurement point (without the substance list).
    pub fn of(form_id: Uuid, f: &Measurement) -> Self {
        let su = &f.substance_use;
        Self {
            form_id,
            treatment_level: f.treatment_level,
            treatment_plan: f.treatment_plan,
            crisis_plan: f.crisis_plan,
            benefit: f.benefit,
            feedback_tool_used: f.feedback_tool_used,
            needs_followed_up: f.needs_followed_up,
            substances_given: su.substances.is_some(),
            main_substance: su.main_substance,
            injected_30d: su.injected_30d,
            overdose_12m: su.overdose_12m,
            housing: f.housing,
            occupation: f.occupation,
        }
    }
}

impl DischargeRow {
    /// The typed row of a discharge (without the substance list).
    pub fn of(form_id: Uuid, f: &Discharge) -> Self {
        let su = &f.substance_use;
        Self {
            form_id,
            ending: f.ending,
            agreed_follow_up: some_vec(&f.agreed_follow_up),
            municipality_informed: f.municipality_informed,
            substances_given: su.substances.is_some(),
            main_substance: su.main_substance,
            injected_30d: su.injected_30d,
            overdose_12m: su.overdose_12m,
            housing: f.housing,
            occupation: f.occupation,
            satisfaction: f.satisfaction,
            contact_consent_1y: f.contact_consent_1y,
        }
    }
}

impl FollowUpRow {
    /// The typed row of a follow-up (without the substance list).
    pub fn of(form_id: Uuid, f: &FollowUp) -> Self {
        let su = &f.substance_use;
        Self {
            form_id,
            outcome: f.outcome,
            substances_given: su.substances.is_some(),
            main_substance: su.main_substance,
            injected_30d: su.injected_30d,
            overdose_12m: su.overdose_12m,
            housing: f.housing,
            occupation: f.occupation,
            received_follow_up: some_vec(&f.received_follow_up),
            self_rated_life_situation: f.self_rated_life_situation,
        }
    }
}

/// Inserts the typed row of a baseline (without the substance list, see [`insert_data`]).
pub fn insert_baseline(conn: &mut PgConnection, form_id: Uuid, f: &Baseline) -> Result<(), RepoError> {
    diesel::insert_into(baseline_forms::table).values(BaselineRow::of(form_id, f)).execute(conn)?;
    Ok(())
}

/// Inserts the typed row of a measurement point (without the substance list).
pub fn insert_measurement(conn: &mut PgConnection, form_id: Uuid, f: &Measurement) -> Result<(), RepoError> {
    diesel::insert_into(measurement_forms::table).values(MeasurementRow::of(form_id, f)).execute(conn)?;
    Ok(())
}

/// Inserts the typed row of a discharge (without the substance list).
pub fn insert_discharge(conn: &mut PgConnection, form_id: Uuid, f: &Discharge) -> Result<(), RepoError> {
    diesel::insert_into(discharge_forms::table).values(DischargeRow::of(form_id, f)).execute(conn)?;
    Ok(())
}

/// Inserts the typed row of a follow-up (without the substance list).
pub fn insert_follow_up(conn: &mut PgConnection, form_id: Uuid, f: &FollowUp) -> Result<(), RepoError> {
    diesel::insert_into(follow_up_forms::table).values(FollowUpRow::of(form_id, f)).execute(conn)?;
    Ok(())
}

/// Inserts a whole form: the common row, its typed row and substances, and the `created`
/// history row. A second baseline, discharge or follow-up of a pathway fails with
/// `UniqueViolation("forms_one_per_kind")`.
pub fn insert(conn: &mut PgConnection, new: &NewFormRow, data: &FormData) -> Result<FormRow, RepoError> {
    let row = diesel::insert_into(forms::table).values(new).returning(FormRow::as_returning()).get_result(conn)?;
    insert_data(conn, row.id, data)?;
    add_history(
        conn,
        &NewHistoryRow {
            form_id: row.id,
            // A form is created as its first version (a form inserted completed is at its second).
            version: 1,
            action: "created".into(),
            changed_by: new.created_by,
            changes: serde_json::json!([]),
            reason: None,
        },
    )?;
    Ok(row)
}

pub fn find(conn: &mut PgConnection, FormId(id): FormId) -> Result<FormRow, RepoError> {
    Ok(forms::table.find(id).select(FormRow::as_select()).first(conn)?)
}

/// Like [`find`], locking the row until the transaction ends.
pub fn find_for_update(conn: &mut PgConnection, FormId(id): FormId) -> Result<FormRow, RepoError> {
    Ok(forms::table.find(id).select(FormRow::as_select()).for_update().first(conn)?)
}

/// The forms of a pathway, by event date (undated last) then creation.
pub fn of_pathway(conn: &mut PgConnection, PathwayId(pathway): PathwayId) -> Result<Vec<FormRow>, RepoError> {
    Ok(forms::table
        .filter(forms::pathway_id.eq(pathway))
        .order((forms::event_date.asc().nulls_last(), forms::created_at.asc(), forms::id.asc()))
        .select(FormRow::as_select())
        .load(conn)?)
}

/// The fields of a form, read from its typed row and substance list.
pub fn load_data(conn: &mut PgConnection, form: &FormRow) -> Result<FormData, RepoError> {
    let subs: Vec<SubstanceRow> = form_substances::table
        .filter(form_substances::form_id.eq(form.id))
        .order(form_substances::position.asc())
        .select(SubstanceRow::as_select())
        .load(conn)?;
    let event_date = form.event_date;
    Ok(match form.kind()? {
        FormKind::Baseline => {
            let r: BaselineRow = baseline_forms::table.find(form.id).select(BaselineRow::as_select()).first(conn)?;
            FormData::Baseline(Baseline {
                event_date,
                referral_diagnosis: r.referral_diagnosis,
                substance_diagnoses: flat_vec(r.substance_diagnoses),
                psychiatric_diagnoses: flat_vec(r.psychiatric_diagnoses),
                somatic_diagnoses: flat_vec(r.somatic_diagnoses),
                somatic_health_assessed: r.somatic_health_assessed,
                mental_health_assessed: r.mental_health_assessed,
                in_lar: r.in_lar,
                lar_medication: r.lar_medication,
                individual_plan: r.individual_plan,
                responsibility_group: r.responsibility_group,
                substance_use: block(r.substances_given, subs, r.main_substance, r.injected_30d, r.overdose_12m),
                injected_ever: r.injected_ever,
                audit_score: r.audit_score,
                dudit_score: r.dudit_score,
                self_rated_severity: r.self_rated_severity,
                self_rated_life_situation: r.self_rated_life_situation,
                housing: r.housing,
                lives_with: r.lives_with,
                children_under_18: r.children_under_18,
                occupation: r.occupation,
            })
        }
        FormKind::Measurement => {
            let r: MeasurementRow =
                measurement_forms::table.find(form.id).select(MeasurementRow::as_select()).first(conn)?;
            FormData::Measurement(Measurement {
                event_date,
                treatment_level: r.treatment_level,
                treatment_plan: r.treatment_plan,
                crisis_plan: r.crisis_plan,
                benefit: r.benefit,
                feedback_tool_used: r.feedback_tool_used,
                needs_followed_up: r.needs_followed_up,
                substance_use: block(r.substances_given, subs, r.main_substance, r.injected_30d, r.overdose_12m),
                housing: r.housing,
                occupation: r.occupation,
            })
        }
        FormKind::Discharge => {
            let r: DischargeRow = discharge_forms::table.find(form.id).select(DischargeRow::as_select()).first(conn)?;
            FormData::Discharge(Discharge {
                event_date,
                ending: r.ending,
                agreed_follow_up: flat_vec(r.agreed_follow_up),
                municipality_informed: r.municipality_informed,
                substance_use: block(r.substances_given, subs, r.main_substance, r.injected_30d, r.overdose_12m),
                housing: r.housing,
                occupation: r.occupation,
                satisfaction: r.satisfaction,
                contact_consent_1y: r.contact_consent_1y,
            })
        }
        FormKind::FollowUp => {
            let r: FollowUpRow = follow_up_forms::table.find(form.id).select(FollowUpRow::as_select()).first(conn)?;
            FormData::FollowUp(FollowUp {
                event_date,
                outcome: r.outcome,
                substance_use: block(r.substances_given, subs, r.main_substance, r.injected_30d, r.overdose_12m),
                housing: r.housing,
                occupation: r.occupation,
                received_follow_up: flat_vec(r.received_follow_up),
                self_rated_life_situation: r.self_rated_life_situation,
            })
        }
    })
}

/// Why a versioned change touched no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRefused {
    /// The version differs from the stored one.
    StaleVersion,
    /// The form is completed (read-only until reopened).
    Completed,
}

/// Replaces the fields of a draft when its version is still `expected_version`: bumps the version
/// and rewrites the typed row and substance list. `Ok(Err(_))` says why nothing changed.
pub fn update_draft(
    conn: &mut PgConnection,
    FormId(id): FormId,
    expected_version: i32,
    data: &FormData,
    by: Uuid,
) -> Result<Result<FormRow, UpdateRefused>, RepoError> {
    let updated: Option<FormRow> = diesel::update(forms::table)
        .filter(forms::id.eq(id))
        .filter(forms::version.eq(expected_version))
        .filter(forms::status.eq(FormStatus::Draft.as_str()))
        .set((
            forms::version.eq(forms::version + 1),
            forms::event_date.eq(data.event_date()),
            forms::updated_by.eq(by),
            forms::updated_at.eq(diesel::dsl::now),
        ))
        .returning(FormRow::as_returning())
        .get_result(conn)
        .optional()?;
    let Some(row) = updated else {
        let current = find(conn, FormId(id))?;
        return Ok(Err(if current.is_completed() { UpdateRefused::Completed } else { UpdateRefused::StaleVersion }));
    };
    delete_data(conn, id, row.kind()?)?;
    insert_data(conn, id, data)?;
    Ok(Ok(row))
}

fn delete_data(conn: &mut PgConnection, id: Uuid, kind: FormKind) -> Result<(), RepoError> {
    diesel::delete(form_substances::table.filter(form_substances::form_id.eq(id))).execute(conn)?;
    match kind {
        FormKind::Baseline => diesel::delete(baseline_forms::table.find(id)).execute(conn)?,
        FormKind::Measurement => diesel::delete(measurement_forms::table.find(id)).execute(conn)?,
        FormKind::Discharge => diesel::delete(discharge_forms::table.find(id)).execute(conn)?,
        FormKind::FollowUp => diesel::delete(follow_up_forms::table.find(id)).execute(conn)?,
    };
    Ok(())
}

/// Marks a draft completed and bumps the version.
pub fn mark_completed(conn: &mut PgConnection, FormId(id): FormId, by: Uuid) -> Result<FormRow, RepoError> {
    Ok(diesel::update(forms::table.find(id))
        .set((
            forms::status.eq(FormStatus::Completed.as_str()),
            forms::version.eq(forms::version + 1),
            forms::completed_by.eq(Some(by)),
            forms::completed_at.eq(Some(Utc::now())),
            forms::updated_by.eq(by),
            forms::updated_at.eq(diesel::dsl::now),
        ))
        .returning(FormRow::as_returning())
        .get_result(conn)?)
}

/// Makes a completed form a draft again, with the reason, and bumps the version.
pub fn mark_reopened(
    conn: &mut PgConnection,
    FormId(id): FormId,
    by: Uuid,
    reason: &str,
) -> Result<FormRow, RepoError> {
    Ok(diesel::update(forms::table.find(id))
        .set((
            forms::status.eq(FormStatus::Draft.as_str()),
            forms::version.eq(forms::version + 1),
            forms::completed_by.eq(None::<Uuid>),
            forms::completed_at.eq(None::<DateTime<Utc>>),
            forms::reopened_by.eq(Some(by)),
            forms::reopened_at.eq(Some(Utc::now())),
            forms::reopen_reason.eq(Some(reason)),
            forms::updated_by.eq(by),
            forms::updated_at.eq(diesel::dsl::now),
        ))
        .returning(FormRow::as_returning())
        .get_result(conn)?)
}

/// Writes one history row (kept for one multi-row insert while a
/// [`crate::deferred::Deferred`] collection is open on `conn`).
pub fn add_history(conn: &mut PgConnection, new: &NewHistoryRow) -> Result<(), RepoError> {
    if crate::deferred::history(conn, new) {
        return Ok(());
    }
    diesel::insert_into(form_history::table).values(new).execute(conn)?;
    Ok(())
}

pub fn history(conn: &mut PgConnection, FormId(form): FormId) -> Result<Vec<HistoryRow>, RepoError> {
    Ok(form_history::table
        .filter(form_history::form_id.eq(form))
        .order(form_history::id.asc())
        .select(HistoryRow::as_select())
        .load(conn)?)
}

/// The completed forms of a pathway other than `except`, as the date rules need them.
#[derive(Debug, Clone, Default)]
pub struct CompletedFacts {
    pub baseline_date: Option<NaiveDate>,
    pub measurement_dates: Vec<NaiveDate>,
    /// (date, ending, contact_consent_1y) of the completed discharge.
    pub discharge: Option<(NaiveDate, Option<i16>, Option<i16>)>,
    pub follow_up_date: Option<NaiveDate>,
}

pub fn completed_facts(conn: &mut PgConnection, pathway: Uuid, except: Uuid) -> Result<CompletedFacts, RepoError> {
    type FactRow = (String, Option<NaiveDate>, Option<i16>, Option<i16>);
    let rows: Vec<FactRow> = forms::table
        .left_join(discharge_forms::table)
        .filter(forms::pathway_id.eq(pathway))
        .filter(forms::status.eq(FormStatus::Completed.as_str()))
        .filter(forms::id.ne(except))
        .select((
            forms::kind,
            forms::event_date,
            discharge_forms::ending.nullable(),
            discharge_forms::contact_consent_1y.nullable(),
        ))
        .load(conn)?;
    let mut facts = CompletedFacts::default();
    for (kind, date, ending, consent) in rows {
        let Some(date) = date else { continue };
        match FormKind::parse(&kind) {
            Some(FormKind::Baseline) => facts.baseline_date = Some(date),
            Some(FormKind::Measurement) => facts.measurement_dates.push(date),
            Some(FormKind::Discharge) => facts.discharge = Some((date, ending, consent)),
            Some(FormKind::FollowUp) => facts.follow_up_date = Some(date),
            None => {}
        }
    }
    facts.measurement_dates.sort();
    Ok(facts)
}
