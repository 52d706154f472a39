//! The patient's own way in (docs/patient-channel.md): sign in with an order's single-use code
//! and the date of birth, read and save the answers of one group of questions into the patient
//! part of the form's draft (the domain's draft rules, as for the API), and submit. The patient
//! is no user: each use case takes the order id that the sign-in gave, checks that the order is
//! still open, and writes the audit row as the patient (by pseudonym).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::audit::{Action, Outcome};
use domain::forms::{FormData, FormId, FormKind};
use domain::national_id::IdKey;
use domain::orders::{question_groups, AccessCode, OrderConfig, OrderStatus, QuestionGroup, Questionnaire};
use domain::FieldError;
use persistence::audit::AuditEntry;
use persistence::forms::{self, NewHistoryRow, UpdateRefused};
use persistence::orders::{self, Mover, OrderRow};
use persistence::{audit, in_transaction, patients, PgConnection};
use serde_json::{json, Value};
use uuid::Uuid;

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
    /// The code and date are right, but this questionnaire cannot be answered on the page yet
    /// (the follow-up).
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

/// Expires an open order whose expiry date has passed; `true` when it did.
fn expire_if_due(conn: &mut PgConnection, order: &OrderRow, today: NaiveDate) -> Result<bool, Error> {
    if order.expires_on >= today {
        return Ok(false);
    }
    orders::move_status(conn, order.id, &order.status, "expired", Mover::System, None)?;
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
        if stored.spent_at.is_some() || !open || expire_if_due(conn, &order, today)? {
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
        if !online || order.form_id.is_none() {
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
fn load(conn: &mut PgConnection, session: Session, today: NaiveDate, lock: bool) -> Result<PatientForm, Error> {
    let order = if lock { orders::find_for_update(conn, session.order) } else { orders::find(conn, session.order) }
        .map_err(|_| Error::NotFound)?;
    let closed = || Error::from(Conflict::Rule { code: "order_closed", message: "the order is closed".into() });
    if order.status != "opened" || orders::code_of(conn, order.id)?.spent_at.is_some() {
        return Err(closed());
    }
    if expire_if_due(conn, &order, today)? {
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
pub fn read(conn: &mut PgConnection, session: Session, today: NaiveDate) -> Result<PatientForm, Error> {
    in_transaction(conn, |conn| load(conn, session, today, false))
}

/// Saves one group's answers (`None`: not answered) into the draft: the group's fields only, by
/// the domain's draft rules (one field error per failing answer, nothing saved), with the form's
/// history (`answered_by_patient`, in the name of the user who ordered it) and an audit row.
pub fn save_group(
    conn: &mut PgConnection,
    session: Session,
    group: &str,
    answers: &BTreeMap<String, Option<i16>>,
    today: NaiveDate,
) -> Result<(), Error> {
    in_transaction(conn, |conn| {
        let form = load(conn, session, today, true)?;
        let Some(group) = form.groups.iter().find(|g| g.key == group) else { return Err(Error::NotFound) };
        let mut values = form.values();
        let mut changes = Vec::new();
        for field in group.fields {
            let new = answers.get(*field).copied().flatten().map_or(Value::Null, Value::from);
            if values[*field] != new {
                changes.push(json!({"field": field, "from": values[*field], "to": new}));
            }
            values[*field] = new;
        }
        let kind: FormKind = form.questionnaire.form_kind();
        let data = FormData::deserialize_as(kind, values)
            .map_err(|_| Error::invalid("form", "type", "the answers could not be read"))?;
        let errors: Vec<FieldError> =
            data.validate_draft().into_iter().filter(|e| group.fields.contains(&e.field.as_str())).collect();
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        if changes.is_empty() {
            return Ok(());
        }
        let form_id = form.order.form_id.ok_or_else(|| Error::inconsistent("a patient-part order without a form"))?;
        let row = forms::find_for_update(conn, FormId(form_id))?;
        let by = form.order.ordered_by.unwrap_or(row.created_by);
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

/// Submits the answers: the order becomes answered and its code dies. The clinician reviews and
/// completes the form.
pub fn submit(conn: &mut PgConnection, session: Session, today: NaiveDate) -> Result<(), Error> {
    in_transaction(conn, |conn| {
        let form = load(conn, session, today, true)?;
        orders::move_status(conn, form.order.id, "opened", "answered", Mover::Patient, None)?
            .ok_or_else(|| Error::inconsistent("a locked order changed"))?;
        let pseudonym = patients::pseudonym_of(conn, form.order.patient_id)?;
        audit::record(conn, &patient_audit(Action::PatientSubmit, Outcome::Success, &form.order, pseudonym))?;
        Ok(())
    })
}
