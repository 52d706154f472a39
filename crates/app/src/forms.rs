//! Forms: create a draft of a kind on a pathway, read it, update a draft (optimistic, by
//! version), complete it (every rule; a discharge or follow-up moves the pathway's status, with
//! history), reopen it with a reason, and read its change history. Each use case writes the
//! form's history and its audit row in the transaction of the change.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Utc};
use domain::access::{PathwayAccess, Permission};
use domain::audit::{Action, Outcome};
use domain::forms::{codes, CompletedDischarge, FormContext, FormData, FormId, FormKind};
use domain::pathways::{next_status, DischargeEnding, PathwayId, StatusEvent, TreatmentStatus};
use domain::FieldError;
use persistence::forms::{self, FormRow, HistoryRow, NewFormRow, NewHistoryRow, UpdateRefused};
use persistence::pathways::{self, NewStatusChangeRow, PathwayRow};
use persistence::{in_transaction, organisations, PgConnection, RepoError};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::access::{hide_missing, load_pathway, pathway_access, record_for_patient, register_role, require_full};
use crate::{Caller, Conflict, Error};

/// The fields of a form as a way in delivers them: typed already ([`FormData`]), or raw (the
/// API's JSON body) and read once the form's kind is known — after the access checks, so that a
/// caller out of scope learns nothing from a validation message.
pub trait FormInput {
    fn read(self, kind: FormKind) -> Result<FormData, Error>;
}

impl FormInput for FormData {
    fn read(self, kind: FormKind) -> Result<FormData, Error> {
        if self.kind() != kind {
            return Err(Error::invalid("kind", "code_list", format!("the fields are not those of a {kind} form")));
        }
        self.check_draft()?;
        Ok(self)
    }
}

/// A form as a use case returns it: the row, its fields, and the warnings of a completion that
/// did not stop it (code `late`).
#[derive(Debug, Clone)]
pub struct FormView {
    pub row: FormRow,
    pub data: FormData,
    pub warnings: Vec<FieldError>,
}

/// One entry of a form's history, with the changer's username when it is still known.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub row: HistoryRow,
    pub username: Option<String>,
}

/// A form and its pathway, with the caller's access to the form: `true` full (the owning unit),
/// `false` read only (the unit that registered it, after a transfer); `Hidden` otherwise.
fn load_form(
    conn: &mut PgConnection,
    caller: &Caller,
    id: FormId,
    lock: bool,
) -> Result<(FormRow, PathwayRow, bool), Error> {
    let f = forms::find(conn, id).map_err(hide_missing)?;
    let p = if lock { pathways::find_for_update(conn, f.pathway()) } else { pathways::find(conn, f.pathway()) }
        .map_err(hide_missing)?;
    // Locks the pathway, then the form: a changed date makes the worklist-facts trigger update
    // the pathway row, and one lock order keeps two saves on one pathway from deadlocking.
    let f = if lock { forms::find_for_update(conn, id)? } else { f };
    match pathway_access(conn, caller, &p)? {
        PathwayAccess::Full => Ok((f, p, true)),
        access if access.reads_form_of(f.unit_id) => Ok((f, p, false)),
        PathwayAccess::ReadOwn(_) => Err(Error::Hidden),
    }
}

fn load_writable(conn: &mut PgConnection, caller: &Caller, id: FormId) -> Result<(FormRow, PathwayRow), Error> {
    match load_form(conn, caller, id, true)? {
        (f, p, true) => Ok((f, p)),
        _ => Err(Error::Forbidden),
    }
}

fn kind_of(f: &FormRow) -> Result<FormKind, Error> {
    Ok(f.kind()?)
}

fn status_of(p: &PathwayRow) -> Result<TreatmentStatus, Error> {
    TreatmentStatus::from_code(p.status).ok_or_else(|| Error::inconsistent("a pathway with an unknown status"))
}

pub(crate) fn add_history(
    conn: &mut PgConnection,
    form: &FormRow,
    action: &str,
    by: Uuid,
    changes: Value,
    reason: Option<String>,
) -> Result<(), Error> {
    let row = NewHistoryRow {
        form_id: form.id,
        version: form.version,
        action: action.into(),
        changed_by: by,
        changes,
        reason,
    };
    Ok(forms::add_history(conn, &row)?)
}

/// Moves the pathway's status by `event` (checked by `next_status`) and records the change.
fn apply_status_event(
    conn: &mut PgConnection,
    p: &PathwayRow,
    form: Uuid,
    event: StatusEvent,
    by: Uuid,
) -> Result<(), Error> {
    let next = next_status(status_of(p)?, event)?;
    let change = NewStatusChangeRow {
        pathway_id: p.id,
        from_status: Some(p.status),
        to_status: next.code(),
        event: event.name(),
        form_id: Some(form),
        changed_by: by,
    };
    pathways::set_status(conn, &change).map_err(|e| match e {
        // A pathway that becomes active again while the patient has another active one.
        RepoError::UniqueViolation(_) => Conflict::AnotherActivePathway.into(),
        e => e.into(),
    })
}

/// Inserts a draft of `data`'s kind on a pathway the caller has locked, by `by`: the create rules
/// every way in shares (a user's [`create`], the system's follow-up drafts). At most one baseline,
/// discharge and follow-up per pathway ([`Conflict::FormExists`]); the kind must fit the
/// pathway's status ([`Conflict::FormNotStartable`]).
pub(crate) fn insert_draft(
    conn: &mut PgConnection,
    p: &PathwayRow,
    data: &FormData,
    by: Uuid,
) -> Result<FormRow, Error> {
    insert_new(conn, p, NewFormRow::draft(Uuid::now_v7(), p.id, p.unit_id, data, by), data)
}

/// [`insert_draft`]'s rules for a new form row, drafted or already completed.
fn insert_new(conn: &mut PgConnection, p: &PathwayRow, new: NewFormRow, data: &FormData) -> Result<FormRow, Error> {
    let kind = data.kind();
    if !kind.may_start(status_of(p)?) {
        return Err(Conflict::FormNotStartable { kind, status: p.status }.into());
    }
    forms::insert(conn, &new, data).map_err(|e| match e {
        RepoError::UniqueViolation(_) => Conflict::FormExists { kind }.into(),
        e => Error::from(e),
    })
}

/// The rest of the pathway as the completion rules see it: its completed forms other than `form`.
pub(crate) fn context_of(
    conn: &mut PgConnection,
    p: &PathwayRow,
    form: Uuid,
    today: NaiveDate,
) -> Result<FormContext, Error> {
    let facts = forms::completed_facts(conn, p.id, form)?;
    Ok(FormContext {
        today,
        pathway_start: p.start_date,
        baseline_date: facts.baseline_date,
        measurement_dates: facts.measurement_dates,
        discharge: facts.discharge.and_then(|(date, ending, consent)| {
            Some(CompletedDischarge {
                date,
                ending: DischargeEnding::from_code(ending?)?,
                contact_consent_1y: consent == Some(codes::YES),
            })
        }),
    })
}

/// Completes a draft whose pathway and then form the caller has locked, by `by`: every rule of
/// the form against the pathway (one `Invalid` listing every failing field), the status event of
/// a discharge or follow-up, the completed mark and the `completed` history row. The core that
/// every way of completing shares (a user's [`complete`], the patient's follow-up, the
/// scheduler's "not reached"); the caller checks access and writes its own audit row.
pub(crate) fn complete_locked(
    conn: &mut PgConnection,
    f: &FormRow,
    p: &PathwayRow,
    by: Uuid,
    today: NaiveDate,
) -> Result<FormView, Error> {
    if f.is_completed() {
        return Err(Conflict::FormCompleted.into());
    }
    let data = forms::load_data(conn, f)?;
    let warnings = completion_rules(conn, f, p, &data, by, today)?;
    let row = forms::mark_completed(conn, FormId(f.id), by)?;
    add_history(conn, &row, "completed", by, json!([]), None)?;
    Ok(FormView { row, data, warnings })
}

/// What completing `f` checks and moves, whether its row is marked completed after (a draft) or
/// was inserted completed ([`create_completed`]): every rule of the form against the rest of the
/// pathway, and the status event of a discharge or follow-up. Returns the warnings.
fn completion_rules(
    conn: &mut PgConnection,
    f: &FormRow,
    p: &PathwayRow,
    data: &FormData,
    by: Uuid,
    today: NaiveDate,
) -> Result<Vec<FieldError>, Error> {
    let ctx = context_of(conn, p, f.id, today)?;
    let warnings = data.check_complete(&ctx)?;
    if let Some(event) = data.status_event() {
        apply_status_event(conn, p, f.id, event, by)?;
    }
    Ok(warnings)
}

/// Creates a draft form of `kind` on the pathway. At most one baseline, discharge and follow-up
/// per pathway ([`Conflict::FormExists`]); the kind must fit the pathway's status.
pub fn create(
    conn: &mut PgConnection,
    caller: &Caller,
    pathway_id: PathwayId,
    kind: FormKind,
    input: impl FormInput,
) -> Result<FormView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| Ok(create_in(conn, caller, role, pathway_id, kind, input, false)?.0))
}

/// [`create`] inside the caller's transaction, the row inserted as a draft or, for
/// [`create_completed`], as completed; returns the pathway as locked too.
fn create_in(
    conn: &mut PgConnection,
    caller: &Caller,
    role: domain::access::Role,
    pathway_id: PathwayId,
    kind: FormKind,
    input: impl FormInput,
    completed: bool,
) -> Result<(FormView, PathwayRow), Error> {
    let p = load_pathway(conn, pathway_id, true)?;
    require_full(conn, caller, &p)?;
    let data = input.read(kind)?;
    let by = caller.actor.user_id;
    let new = NewFormRow::draft(Uuid::now_v7(), p.id, p.unit_id, &data, by);
    // A form without its event date cannot be stored completed; it is inserted as a draft and
    // its completion refused by the rules.
    let new = if completed && data.event_date().is_some() { new.completed(by) } else { new };
    let row = insert_new(conn, &p, new, &data)?;
    let entry = caller.audit(Action::CreateForm, Outcome::Success).role(Some(role.as_str()));
    record_for_patient(conn, caller, entry.target("form", row.id).detail(json!({"kind": kind})), &p)?;
    Ok((FormView { row, data, warnings: Vec::new() }, p))
}

/// One form with its fields (the owning unit; the registering unit after a transfer).
pub fn read(conn: &mut PgConnection, caller: &Caller, id: FormId) -> Result<FormView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        let (row, p, _) = load_form(conn, caller, id, false)?;
        let data = forms::load_data(conn, &row)?;
        let entry = caller.audit(Action::ReadForm, Outcome::Success).role(Some(role.as_str())).target("form", id);
        record_for_patient(conn, caller, entry, &p)?;
        Ok(FormView { row, data, warnings: Vec::new() })
    })
}

/// Replaces the fields of a draft that is still at `version` (a field left out is cleared).
/// [`Error::VersionRequired`] without a version, [`Conflict::StaleVersion`] when someone
/// changed the form first, [`Conflict::FormCompleted`] when it is completed.
pub fn update(
    conn: &mut PgConnection,
    caller: &Caller,
    id: FormId,
    version: Option<i32>,
    input: impl FormInput,
) -> Result<FormView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    let by = caller.actor.user_id;
    in_transaction(conn, |conn| {
        let (f, p) = load_writable(conn, caller, id)?;
        let version = version.ok_or(Error::VersionRequired)?;
        let data = input.read(kind_of(&f)?)?;
        let old = forms::load_data(conn, &f)?;
        let row = match forms::update_draft(conn, id, version, &data, by)? {
            Ok(row) => row,
            Err(UpdateRefused::Completed) => return Err(Conflict::FormCompleted.into()),
            Err(UpdateRefused::StaleVersion) => return Err(Conflict::StaleVersion.into()),
        };
        let changes = diff(&old, &data);
        add_history(conn, &row, "updated", by, changes.clone(), None)?;
        let fields: Vec<&Value> =
            changes.as_array().map(|c| c.iter().map(|c| &c["field"]).collect()).unwrap_or_default();
        let entry = caller.audit(Action::UpdateForm, Outcome::Success).role(Some(role.as_str())).target("form", id);
        record_for_patient(conn, caller, entry.detail(json!({"fields": fields})), &p)?;
        Ok(FormView { row, data, warnings: Vec::new() })
    })
}

/// Completes a draft: every rule of the form (one `Invalid` listing every failing field), then
/// the status event of a discharge or follow-up. `version`, when given, must match.
pub fn complete(
    conn: &mut PgConnection,
    caller: &Caller,
    id: FormId,
    version: Option<i32>,
    today: NaiveDate,
) -> Result<FormView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    let by = caller.actor.user_id;
    in_transaction(conn, |conn| {
        let (f, p) = load_writable(conn, caller, id)?;
        if f.is_completed() {
            return Err(Conflict::FormCompleted.into());
        }
        if version.is_some_and(|v| v != f.version) {
            return Err(Conflict::StaleVersion.into());
        }
        let view = complete_locked(conn, &f, &p, by, today)?;
        let entry = caller.audit(Action::CompleteForm, Outcome::Success).role(Some(role.as_str())).target("form", id);
        record_for_patient(conn, caller, entry, &p)?;
        Ok(view)
    })
}

/// A reopening as the caller may see it: the whole form for a caller who may read it (the owning
/// unit's contact), only the reopening itself for one who may not (register staff, who never
/// read forms).
#[derive(Debug, Clone)]
pub enum Reopened {
    Form(Box<FormView>),
    Receipt(ReopenReceipt),
}

/// What a caller who may not read a form learns of reopening it: no field, date, unit or pathway.
#[derive(Debug, Clone)]
pub struct ReopenReceipt {
    pub id: Uuid,
    /// As stored (`baseline`, `measurement`, `discharge`, `follow_up`...), like [`FormRow::kind`].
    pub kind: String,
    pub status: String,
    pub version: i32,
    pub reopened_by: Option<Uuid>,
    pub reopened_at: Option<chrono::DateTime<Utc>>,
    pub reopen_reason: Option<String>,
}

/// The most characters a reopening's reason may have.
pub const REASON_MAX: usize = 1000;

/// Reopens a completed form with a reason (unit contact of the owning unit, register staff).
/// Reopening a discharge or follow-up moves the pathway's status back. Returns the form only to
/// a caller who may read it ([`Reopened`]).
pub fn reopen(conn: &mut PgConnection, caller: &Caller, id: FormId, reason: &str) -> Result<Reopened, Error> {
    let reason = reason.trim().to_owned();
    let by = caller.actor.user_id;
    in_transaction(conn, |conn| {
        let f = forms::find(conn, id).map_err(hide_missing)?;
        let p = load_pathway(conn, f.pathway(), true)?;
        let path = organisations::path_of(conn, p.unit_id, domain::clock::today())?;
        let Some(role) = caller.actor.role_for(Permission::ReopenForm, &path) else {
            // A registrar of the unit sees the form but may not reopen it; anyone else must not
            // learn that it exists.
            pathway_access(conn, caller, &p)?;
            return Err(Error::Forbidden);
        };
        if reason.is_empty() || reason.chars().count() > REASON_MAX {
            return Err(Error::invalid("reason", "length", "must have 1 to 1000 characters"));
        }
        let f = forms::find_for_update(conn, id)?;
        if !f.is_completed() {
            return Err(Conflict::FormNotCompleted.into());
        }
        let event = match kind_of(&f)? {
            FormKind::Discharge => Some(StatusEvent::DischargeReopened),
            FormKind::FollowUp => {
                let ending = forms::completed_facts(conn, p.id, f.id)?
                    .discharge
                    .and_then(|(_, e, _)| e)
                    .and_then(DischargeEnding::from_code)
                    .ok_or_else(|| Error::inconsistent("a follow-up without a completed discharge"))?;
                Some(StatusEvent::FollowUpReopened { discharge_ending: ending })
            }
            FormKind::Baseline | FormKind::Measurement => None,
        };
        if let Some(event) = event {
            apply_status_event(conn, &p, f.id, event, by)?;
        }
        let row = forms::mark_reopened(conn, id, by, &reason)?;
        add_history(conn, &row, "reopened", by, json!([]), Some(reason.clone()))?;
        let entry = caller.audit(Action::ReopenForm, Outcome::Success).target("form", id);
        record_for_patient(conn, caller, entry.role(Some(role.as_str())), &p)?;
        let readable = match pathway_access(conn, caller, &p) {
            Ok(access) => access.reads_form_of(row.unit_id),
            Err(Error::Hidden) => false,
            Err(e) => return Err(e),
        };
        if !readable {
            return Ok(Reopened::Receipt(ReopenReceipt {
                id: row.id,
                kind: row.kind,
                status: row.status,
                version: row.version,
                reopened_by: row.reopened_by,
                reopened_at: row.reopened_at,
                reopen_reason: row.reopen_reason,
            }));
        }
        let data = forms::load_data(conn, &row)?;
        Ok(Reopened::Form(Box::new(FormView { row, data, warnings: Vec::new() })))
    })
}

/// The change history of a form, oldest first.
pub fn history(conn: &mut PgConnection, caller: &Caller, id: FormId) -> Result<Vec<HistoryEntry>, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        let (_, p, _) = load_form(conn, caller, id, false)?;
        let rows = forms::history(conn, id)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let username = persistence::users::find(conn, row.changed_by).ok().map(|u| u.username);
            out.push(HistoryEntry { row, username });
        }
        let entry =
            caller.audit(Action::ReadFormHistory, Outcome::Success).role(Some(role.as_str())).target("form", id);
        record_for_patient(conn, caller, entry, &p)?;
        Ok(out)
    })
}

/// Field-by-field changes between two versions of a form: `[{field, from, to}]`, dotted paths.
pub fn diff(old: &FormData, new: &FormData) -> Value {
    fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for (i, v) in items.iter().enumerate() {
                    flatten(&format!("{prefix}.{i}"), v, out);
                }
                if items.is_empty() {
                    out.insert(prefix.to_owned(), Value::Array(Vec::new()));
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &serde_json::to_value(old).unwrap_or(Value::Null), &mut a);
    flatten("", &serde_json::to_value(new).unwrap_or(Value::Null), &mut b);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let changes: Vec<Value> = keys
        .into_iter()
        .filter_map(|k| {
            let (from, to) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
            (from != to).then(|| json!({"field": k, "from": from, "to": to}))
        })
        .collect();
    Value::Array(changes)
}

/// Creates a draft and completes it in one transaction (a way in that sends a finished form in
/// one request, such as FHIR's `status` `completed`): when completion fails, nothing is stored.
pub fn create_completed(
    conn: &mut PgConnection,
    caller: &Caller,
    pathway_id: PathwayId,
    kind: FormKind,
    input: impl FormInput,
    today: NaiveDate,
) -> Result<FormView, Error> {
    // One transaction and one access check: the form is the caller's, its pathway is locked,
    // and its fields are at hand. Its row is inserted completed — the row a draft created and
    // then completed would be — and it is audited and historied as a create and a completion,
    // as two calls. The completion's rules run after the insert, so a second baseline is
    // refused as existing before its fields are judged, as in two calls.
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        let (form, p) = create_in(conn, caller, role, pathway_id, kind, input, true)?;
        let by = caller.actor.user_id;
        let warnings = completion_rules(conn, &form.row, &p, &form.data, by, today)?;
        let row =
            if form.row.is_completed() { form.row } else { forms::mark_completed(conn, FormId(form.row.id), by)? };
        add_history(conn, &row, "completed", by, json!([]), None)?;
        let entry =
            caller.audit(Action::CompleteForm, Outcome::Success).role(Some(role.as_str())).target("form", row.id);
        record_for_patient(conn, caller, entry, &p)?;
        Ok(FormView { row, data: form.data, warnings })
    })
}

/// Updates a draft at `version` and completes it in one transaction: when completion fails, the
/// update is not stored either.
pub fn update_completed(
    conn: &mut PgConnection,
    caller: &Caller,
    id: FormId,
    version: Option<i32>,
    input: impl FormInput,
    today: NaiveDate,
) -> Result<FormView, Error> {
    in_transaction(conn, |conn| {
        let draft = update(conn, caller, id, version, input)?;
        complete(conn, caller, id, Some(draft.row.version), today)
    })
}
