//! The one-year follow-up as the system records it (docs/patient-channel.md, The follow-up on
//! the patient's page, and Not reached): the pathway's follow-up draft made when a patient signs
//! in with a follow-up order, its completion as outcome 5 when the patient submits, and outcome 6
//! (not reached) when the last allowed follow-up order expired unanswered. Everything is written
//! by the system's own user ([`SYSTEM_USER_ID`]) through the form use cases' shared core
//! ([`crate::forms::insert_draft`], [`crate::forms::complete_locked`]), so the create and
//! completion rules are those of the API.

use chrono::NaiveDate;
use domain::audit::{Action, Outcome};
use domain::forms::{FollowUp, FormData, FormId, FormKind};
use domain::orders::{OrderConfig, Questionnaire};
use domain::pathways::{FollowUpOutcome, PathwayId};
use domain::users::SYSTEM_USER_ID;
use persistence::audit::AuditEntry;
use persistence::forms::{self, FormRow, UpdateRefused};
use persistence::orders::{self, OrderRow};
use persistence::pathways::{self, PathwayRow};
use persistence::{audit, in_transaction, patients, PgConnection};
use serde_json::json;

use crate::forms::{add_history, complete_locked, diff, insert_draft, FormView};
use crate::{Conflict, Error};

/// The pathway's follow-up form, if it has one (at most one: `forms_one_per_kind`).
fn follow_up_of(conn: &mut PgConnection, pathway: PathwayId) -> Result<Option<FormRow>, Error> {
    Ok(forms::of_pathway(conn, pathway)?.into_iter().find(|f| f.kind == FormKind::FollowUp.as_str()))
}

fn system_audit(action: Action, order: &OrderRow, pseudonym: Vec<u8>) -> AuditEntry {
    AuditEntry::new(action, Outcome::Success)
        .role(Some("system"))
        .unit(Some(order.unit_id))
        .patient(Some(order.patient_id), Some(pseudonym))
}

/// What a follow-up order's sign-in found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// The order now points at the pathway's follow-up draft (found, or made by the system).
    Form(uuid::Uuid),
    /// The pathway's follow-up is completed already (by a clinician): nothing to answer.
    Completed,
    /// A follow-up cannot be started on the pathway (its status is not 3 or 4 any more).
    NotStartable,
}

/// Gives a follow-up order (locked by the caller) its form: the pathway's follow-up draft, made
/// by the system user when there is none (the create rules apply: a completed discharge with
/// ending 3 or 4). A clinician's draft is used as it is; the patient's answers land in it.
pub(crate) fn attach(conn: &mut PgConnection, order: &OrderRow) -> Result<Attached, Error> {
    let p = pathways::find_for_update(conn, PathwayId(order.pathway_id))?;
    let form = match follow_up_of(conn, p.pathway())? {
        Some(f) if f.is_completed() => return Ok(Attached::Completed),
        Some(f) => f,
        None => match insert_draft(conn, &p, &FormData::empty(FormKind::FollowUp), SYSTEM_USER_ID) {
            Ok(row) => {
                let pseudonym = patients::pseudonym_of(conn, order.patient_id)?;
                let entry = system_audit(Action::CreateForm, order, pseudonym).target("form", row.id);
                audit::record(conn, &entry.detail(json!({"kind": "follow-up", "order": order.id})))?;
                row
            }
            Err(Error::Conflict(Conflict::FormNotStartable { .. })) => return Ok(Attached::NotStartable),
            Err(e) => return Err(e),
        },
    };
    orders::link_form(conn, order.id, form.id)?;
    Ok(Attached::Form(form.id))
}

/// Sets the outcome and date of the follow-up draft `f` (locked by the caller) by the system
/// user, with the history `action` carrying the changes; clears what outcome `outcome` must not
/// have (everything but the date and the outcome, unless followed up).
fn set_outcome(
    conn: &mut PgConnection,
    f: &FormRow,
    outcome: FollowUpOutcome,
    date: NaiveDate,
    action: &str,
) -> Result<FormRow, Error> {
    let old = forms::load_data(conn, f)?;
    let FormData::FollowUp(mut data) = old.clone() else {
        return Err(Error::inconsistent("a follow-up form with other fields"));
    };
    if outcome != FollowUpOutcome::FollowedUp {
        data = FollowUp::default();
    }
    data.outcome = Some(outcome.code());
    data.event_date = Some(date);
    let new = FormData::FollowUp(data);
    let row = match forms::update_draft(conn, FormId(f.id), f.version, &new, SYSTEM_USER_ID)? {
        Ok(row) => row,
        Err(UpdateRefused::Completed) => return Err(Conflict::FormCompleted.into()),
        Err(UpdateRefused::StaleVersion) => return Err(Conflict::StaleVersion.into()),
    };
    add_history(conn, &row, action, SYSTEM_USER_ID, diff(&old, &new), None)?;
    Ok(row)
}

/// Completes the follow-up the patient answered (order locked by the caller, `form` its form):
/// outcome 5, dated `today`, by the system user, with the history `answered_by_patient` for the
/// outcome and date, then `completed`. Every completion rule applies (`Invalid` with each
/// failing field; the caller's transaction then rolls back and nothing is completed).
pub(crate) fn complete_answered(
    conn: &mut PgConnection,
    order: &OrderRow,
    form: uuid::Uuid,
    today: NaiveDate,
) -> Result<FormView, Error> {
    let p = pathways::find_for_update(conn, PathwayId(order.pathway_id))?;
    let f = forms::find_for_update(conn, FormId(form))?;
    if f.is_completed() {
        return Err(Conflict::FormCompleted.into());
    }
    let f = set_outcome(conn, &f, FollowUpOutcome::FollowedUp, today, "answered_by_patient")?;
    let view = complete_locked(conn, &f, &p, SYSTEM_USER_ID, today)?;
    let pseudonym = patients::pseudonym_of(conn, order.patient_id)?;
    let entry = system_audit(Action::CompleteForm, order, pseudonym).role(Some("patient")).target("form", f.id);
    audit::record(conn, &entry.detail(json!({"outcome": 5, "order": order.id, "answered_by": "patient"})))?;
    Ok(view)
}

/// After a follow-up order expired: when it was the last allowed attempt
/// (`config.follow_up_attempts`), records the pathway's follow-up as completed with outcome 6
/// (not reached), dated the order's expiry day, by the system user, with history and an audit
/// row (role `system`). Left alone: a pathway whose follow-up is completed, and a clinician's
/// draft (the clinician completes it). A draft the system made when the patient signed in but
/// never submitted is completed as not reached, its answers cleared (they stay in its history).
/// Runs in a savepoint: a follow-up the rules refuse (a date rule, a pathway reopened) is left
/// as it is and the expiry stands. Returns whether it recorded one. Safe with passes at once:
/// the order is claimed and the pathway locked, and a pathway has one follow-up.
pub fn record_not_reached(
    conn: &mut PgConnection,
    order: &OrderRow,
    config: OrderConfig,
    today: NaiveDate,
) -> Result<bool, Error> {
    if order.questionnaire != Questionnaire::FollowUp.as_str()
        || order.status != "expired"
        || u16::try_from(order.attempt).unwrap_or(0) < config.follow_up_attempts
    {
        return Ok(false);
    }
    let recorded = in_transaction(conn, |conn| {
        let p: PathwayRow = pathways::find_for_update(conn, PathwayId(order.pathway_id))?;
        let date = order.expires_on;
        let f = match follow_up_of(conn, p.pathway())? {
            Some(f) if f.is_completed() => return Ok(None),
            Some(f) if f.created_by != SYSTEM_USER_ID => return Ok(None),
            Some(f) => {
                let f = forms::find_for_update(conn, FormId(f.id))?;
                set_outcome(conn, &f, FollowUpOutcome::NotReached, date, "updated")?
            }
            None => {
                let data = FollowUp {
                    outcome: Some(FollowUpOutcome::NotReached.code()),
                    event_date: Some(date),
                    ..Default::default()
                };
                insert_draft(conn, &p, &FormData::FollowUp(data), SYSTEM_USER_ID)?
            }
        };
        let view = complete_locked(conn, &f, &p, SYSTEM_USER_ID, today)?;
        Ok::<_, Error>(Some(view))
    });
    let view = match recorded {
        Ok(Some(view)) => view,
        Ok(None) | Err(Error::Invalid(_) | Error::Conflict(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let pseudonym = patients::pseudonym_of(conn, order.patient_id)?;
    let entry = system_audit(Action::CompleteForm, order, pseudonym).target("form", view.row.id);
    audit::record(conn, &entry.detail(json!({"outcome": 6, "order": order.id, "attempt": order.attempt})))?;
    Ok(true)
}
