//! The patient's own way in (docs/patient-channel.md): sign in with an order's single-use code
//! and the date of birth, read and save the answers of one group of questions into the patient
//! part of the form's draft (the domain's draft rules, as for the API), and submit; a follow-up
//! order answers the pathway's whole follow-up, completed on submit (`crate::follow_ups`). The
//! patient is no user: each use case takes the order id that the sign-in gave, checks that the
//! order is still open, and writes the audit row as the patient (by pseudonym).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::audit::{Action, Outcome};
use domain::forms::{FormData, FormId, FormKind};
use domain::national_id::IdKey;
use domain::orders::{question_groups, AccessCode, OrderConfig, OrderStatus, QuestionGroup, Questionnaire};
use domain::users::SYSTEM_USER_ID;
use domain::FieldError;
use persistence::audit::AuditEntry;
use persistence::forms::{self, NewHistoryRow, UpdateRefused};
use persistence::orders::{self, Mover, OrderRow};
use persistence::{audit, in_transaction, patients, PgConnection};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::follow_ups::Attached;
use crate::{Conflict, Error};

/// Why a sign-in is refused. The page says no more than this: a wrong code and a wrong date of
/// birth look the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    /// The code or the date of birth is wrong (or the code does not exist).
    Wrong,
    /// The code was right once but cannot be used any more: answered, cancelled, expired, or
    /// too many wrong attempts.
    Closed,
    /// The code and date are right, but the questionnaire cannot be answered on the page: a
    /// follow-up that cannot be started on its pathway any more (the pathway's status is not 3
    /// or 4). The order stays open for the register to look at.
    NotOnline,
}

/// A signed-in order: what the session carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub order: Uuid,
}

fn patient_audit(action: Action, outcome: Outcome, order: &OrderRow, pseudonym: Vec<u8>) -> AuditEntry {
    AuditEntry::new(action, outcome)
        .role(Some("patient"))
        .target("order", order.id)
        .unit(Some(order.unit_id))
        .patient(Some(order.patient_id), Some(pseudonym))
}

/// Expires an open order whose expiry date has passed, as the scheduler would (with "not
/// reached" when it was the follow-up's last attempt); `true` when it did.
fn expire_if_due(
    conn: &mut PgConnection,
    order: &OrderRow,
    config: OrderConfig,
    today: NaiveDate,
) -> Result<bool, Error> {
    if order.expires_on >= today {
        return Ok(false);
    }
    if let Some(expired) = orders::move_status(conn, order.id, &order.status, "expired", Mover::System, None)? {
        crate::follow_ups::record_not_reached(conn, &expired, config, today)?;
    }
    Ok(true)
}

/// Signs in with a code and a date of birth. A wrong date counts against the order's code (it
/// dies after `config.max_failed_sign_ins`); a code that is not an order's counts nowhere but
/// in the caller's per-address limit.
pub fn sign_in(
    conn: &mut PgConnection,
    key: &IdKey,
    code: &str,
    birth_date: Option<NaiveDate>,
    config: OrderConfig,
    today: NaiveDate,
) -> Result<Result<Session, SignInRefused>, Error> {
    let Some(code) = AccessCode::parse(code) else { return Ok(Err(SignInRefused::Wrong)) };
    in_transaction(conn, |conn| {
        let Some(stored) = orders::code_by_hash(conn, &code.hash())? else { return Ok(Err(SignInRefused::Wrong)) };
        let order = orders::find_for_update(conn, stored.order_id)?;
        let patient = patients::find(conn, domain::patients::PatientId(order.patient_id))?;
        let entry = |outcome| patient_audit(Action::PatientSignIn, outcome, &order, patient.pseudonym.clone());
        let open = OrderStatus::parse(&order.status).is_some_and(OrderStatus::is_open);
        if stored.spent_at.is_some() || !open || expire_if_due(conn, &order, config, today)? {
            audit::record(conn, &entry(Outcome::Denied).detail(json!({"reason": "closed"})))?;
            return Ok(Err(SignInRefused::Closed));
        }
        let born = key.decrypt(&patient.national_id_enc)?.birth_date();
        if birth_date.is_none() || born != birth_date {
            let max = i16::try_from(config.max_failed_sign_ins).unwrap_or(i16::MAX);
            let failed = orders::count_failed_sign_in(conn, order.id, max)?;
            audit::record(conn, &entry(Outcome::Denied).detail(json!({"reason": "birth_date", "failed": failed})))?;
            return Ok(Err(SignInRefused::Wrong));
        }
        let online = Questionnaire::parse(&order.questionnaire).is_some_and(|q| !question_groups(q).is_empty());
        // A follow-up order gets its form (the pathway's follow-up draft) at its first sign-in.
        let attached = match (order.form_id, Questionnaire::parse(&order.questionnaire)) {
            (None, Some(Questionnaire::FollowUp)) => Some(crate::follow_ups::attach(conn, &order)?),
            _ => None,
        };
        if attached == Some(Attached::Completed) {
            // A clinician completed the follow-up meanwhile: the order has nothing left to ask.
            orders::move_status(
                conn,
                order.id,
                &order.status,
                "cancelled",
                Mover::System,
                Some("follow_up_completed"),
            )?;
            audit::record(conn, &entry(Outcome::Denied).detail(json!({"reason": "follow_up_completed"})))?;
            return Ok(Err(SignInRefused::Closed));
        }
        let has_form = order.form_id.is_some() || matches!(attached, Some(Attached::Form(_)));
        if !online || !has_form {
            audit::record(conn, &entry(Outcome::Denied).detail(json!({"reason": "not_online"})))?;
            return Ok(Err(SignInRefused::NotOnline));
        }
        if order.status != "opened" {
            orders::move_status(conn, order.id, &order.status, "opened", Mover::Patient, None)?;
        }
        audit::record(conn, &entry(Outcome::Success))?;
        Ok(Ok(Session { order: order.id }))
    })
}

/// The order of a session with its draft's fields, while the order is open.
#[derive(Debug, Clone)]
pub struct PatientForm {
    pub order: OrderRow,
    pub questionnaire: Questionnaire,
    pub data: FormData,
    /// The screens, in order.
    pub groups: &'static [QuestionGroup],
}

impl PatientForm {
    /// The form's fields as JSON (`name` → value).
    pub fn values(&self) -> Value {
        to_json(&self.data)
    }
}

fn to_json(data: &FormData) -> Value {
    let value = match data {
        FormData::Baseline(f) => serde_json::to_value(f),
        FormData::Measurement(f) => serde_json::to_value(f),
        FormData::Discharge(f) => serde_json::to_value(f),
        FormData::FollowUp(f) => serde_json::to_value(f),
    };
    value.unwrap_or(Value::Null)
}

/// Loads the open order of a session; `Closed` (as `Error::Conflict`) once it is not open.
fn load(
    conn: &mut PgConnection,
    session: Session,
    config: OrderConfig,
    today: NaiveDate,
    lock: bool,
) -> Result<PatientForm, Error> {
    let order = if lock { orders::find_for_update(conn, session.order) } else { orders::find(conn, session.order) }
        .map_err(|_| Error::NotFound)?;
    let closed = || Error::from(Conflict::Rule { code: "order_closed", message: "the order is closed".into() });
    if order.status != "opened" || orders::code_of(conn, order.id)?.spent_at.is_some() {
        return Err(closed());
    }
    if expire_if_due(conn, &order, config, today)? {
        return Err(closed());
    }
    let questionnaire = Questionnaire::parse(&order.questionnaire)
        .ok_or_else(|| Error::inconsistent("an order of an unknown questionnaire"))?;
    let form = order.form_id.ok_or_else(|| Error::inconsistent("a patient-part order without a form"))?;
    let row = forms::find(conn, FormId(form))?;
    let data = forms::load_data(conn, &row)?;
    Ok(PatientForm { order, questionnaire, data, groups: question_groups(questionnaire) })
}

/// The session's order and its draft, for a page.
pub fn read(
    conn: &mut PgConnection,
    session: Session,
    config: OrderConfig,
    today: NaiveDate,
) -> Result<PatientForm, Error> {
    in_transaction(conn, |conn| load(conn, session, config, today, false))
}

/// The value at a catalogue field's dotted path (`substance_use.main_substance`), `Null` when
/// absent.
pub fn value_at<'v>(values: &'v Value, field: &str) -> &'v Value {
    field.split('.').fold(values, |v, part| &v[part])
}

/// Sets the value at a dotted path, making the objects on the way.
fn set_at(values: &mut Value, field: &str, new: Value) {
    let mut at = values;
    for part in field.split('.') {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        at = &mut at[part];
    }
    *at = new;
}

/// The prefix of the substance-use block's fields.
const SUBSTANCE_BLOCK: &str = "substance_use.";

/// Saves one group's answers into the draft: the group's fields only (by their catalogue names,
/// dotted inside the substance-use block; `Null`: not answered; a code set is an array, the
/// substance list an array of entries). A baseline's or measurement's answers are checked by the
/// domain's draft rules, and its substance-use screen by the block's completion rules too; a
/// follow-up's, which the patient answers in full and which is completed on submit, by the
/// completion rules of the screen's questions (as for outcome 5), so that a missing route or a
/// main substance not listed is shown at its field. One field error per failing answer, nothing
/// saved. Writes the form's history (`answered_by_patient`, in the name of the user who ordered
/// it, or the system user for the system's orders) and an audit row.
pub fn save_group(
    conn: &mut PgConnection,
    session: Session,
    group: &str,
    answers: &BTreeMap<String, Value>,
    config: OrderConfig,
    today: NaiveDate,
) -> Result<(), Error> {
    in_transaction(conn, |conn| {
        let form = load(conn, session, config, today, true)?;
        let Some(group) = form.groups.iter().find(|g| g.key == group) else { return Err(Error::NotFound) };
        let mut values = form.values();
        let mut changes = Vec::new();
        for field in group.fields {
            let new = answers.get(*field).cloned().unwrap_or(Value::Null);
            let old = value_at(&values, field).clone();
            if old != new {
                changes.push(json!({"field": field, "from": old, "to": new}));
            }
            set_at(&mut values, field, new);
        }
        let kind: FormKind = form.questionnaire.form_kind();
        let data = FormData::deserialize_as(kind, values)
            .map_err(|_| Error::invalid("form", "type", "the answers could not be read"))?;
        let form_id = form.order.form_id.ok_or_else(|| Error::inconsistent("a patient-part order without a form"))?;
        // What the completion rules check the form against (its pathway's other forms).
        let context = |conn: &mut PgConnection| {
            let p = persistence::pathways::find(conn, domain::pathways::PathwayId(form.order.pathway_id))?;
            crate::forms::context_of(conn, &p, form_id, today)
        };
        let checked = match &data {
            FormData::FollowUp(f) => {
                let mut as_answered = f.clone();
                as_answered.outcome = Some(domain::pathways::FollowUpOutcome::FollowedUp.code());
                as_answered.event_date = Some(today);
                as_answered.validate_complete(&context(conn)?)
            }
            // The substance-use screen of a baseline or measurement: the block's own rules (a
            // consistent list, the main substance among it, every question answered) apply as
            // the patient answers, not first when the clinician completes the form.
            other if group.fields.iter().any(|f| f.starts_with(SUBSTANCE_BLOCK)) => {
                let ctx = context(conn)?;
                let in_block = |e: &FieldError| e.field.starts_with(SUBSTANCE_BLOCK);
                let mut errors: Vec<FieldError> = other.validate_draft().into_iter().filter(|e| !in_block(e)).collect();
                errors.extend(other.validate_complete(&ctx).into_iter().filter(in_block));
                errors
            }
            other => other.validate_draft(),
        };
        let errors: Vec<FieldError> = checked.into_iter().filter(|e| group.owns_error(&e.field)).collect();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        if changes.is_empty() {
            return Ok(());
        }
        let row = forms::find_for_update(conn, FormId(form_id))?;
        let by = form.order.ordered_by.unwrap_or(SYSTEM_USER_ID);
        let row = match forms::update_draft(conn, FormId(form_id), row.version, &data, by)? {
            Ok(row) => row,
            Err(UpdateRefused::Completed) => return Err(Conflict::FormCompleted.into()),
            Err(UpdateRefused::StaleVersion) => return Err(Conflict::StaleVersion.into()),
        };
        let history = NewHistoryRow {
            form_id: row.id,
            version: row.version,
            action: "answered_by_patient".into(),
            changed_by: by,
            changes: Value::Array(changes),
            reason: None,
        };
        forms::add_history(conn, &history)?;
        let pseudonym = patients::pseudonym_of(conn, form.order.patient_id)?;
        let entry = patient_audit(Action::PatientAnswer, Outcome::Success, &form.order, pseudonym);
        audit::record(conn, &entry.detail(json!({"form": row.id, "fields": group.fields})))?;
        Ok(())
    })
}

/// Submits the answers: the order becomes answered and its code dies. A baseline's or
/// measurement's draft is left for the clinician to review and complete; a follow-up is
/// completed here as outcome 5, dated today, by the completion rules of the API
/// ([`crate::follow_ups`]): when one fails, `Invalid` lists every failing field and nothing
/// changes (the order stays open).
pub fn submit(conn: &mut PgConnection, session: Session, config: OrderConfig, today: NaiveDate) -> Result<(), Error> {
    in_transaction(conn, |conn| {
        let form = load(conn, session, config, today, true)?;
        if form.questionnaire == Questionnaire::FollowUp {
            let form_id = form.order.form_id.ok_or_else(|| Error::inconsistent("a follow-up order without a form"))?;
            crate::follow_ups::complete_answered(conn, &form.order, form_id, today)?;
        }
        orders::move_status(conn, form.order.id, "opened", "answered", Mover::Patient, None)?
            .ok_or_else(|| Error::inconsistent("a locked order changed"))?;
        let pseudonym = patients::pseudonym_of(conn, form.order.patient_id)?;
        audit::record(conn, &patient_audit(Action::PatientSubmit, Outcome::Success, &form.order, pseudonym))?;
        Ok(())
    })
}
