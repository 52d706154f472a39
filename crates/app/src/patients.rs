//! Patients: register one (or find the one already registered with the same national id), and
//! read one in the caller's scope. The national id is read from the input only: it is kept
//! encrypted, looked up by its keyed pseudonym, and never returned, logged or audited.
//!
//! Scope: a registrar or unit contact sees a patient they registered themselves, or one with a
//! pathway that a unit they cover owns or transferred away. Anyone else gets `Hidden`.

use chrono::NaiveDate;
use domain::audit::{Action, Outcome};
use domain::national_id::{IdKey, IdRules};
use domain::patients::{NewPatient, NewPatientInput, PatientId};
use persistence::pathways::{self, PathwayRow};
use persistence::patients::{self, NewPatientRow, PatientRow};
use persistence::{audit, in_transaction, reservations, PgConnection};
use serde_json::json;
use uuid::Uuid;

use crate::access::{as_left, hide_missing, register_role, register_units};
use crate::{Caller, Conflict, Error};

/// The check-digit rules applied to new national ids. The 2032 rule is off until it is needed
/// (numbers issued from 2032); turning it on here accepts both rules.
pub const ID_RULES: IdRules = IdRules::CLASSIC;

/// A registration's outcome: the patient's id, and whether it was created now (`false`: the
/// person was registered before and the stored patient is unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub id: Uuid,
    pub created: bool,
}

/// A patient with the pathways the caller may see.
#[derive(Debug, Clone)]
pub struct PatientView {
    pub patient: PatientRow,
    pub pathways: Vec<PathwayRow>,
}

/// Registers a patient. [`Conflict::Reserved`] (audited as denied, by pseudonym only) when the
/// person has reserved against registration.
pub fn register(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    input: NewPatientInput,
    today: NaiveDate,
) -> Result<Registered, Error> {
    register_as(conn, caller, key, input, today, false)
}

/// [`register`] for a sender that states the person's facts as its own record has them (a bulk
/// import): a person registered before with another sex or birth year is refused
/// ([`Conflict::Rule`] `patient_changed`) and nothing is written, where [`register`] keeps the
/// stored facts and answers with the person.
pub fn register_exact(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    input: NewPatientInput,
    today: NaiveDate,
) -> Result<Registered, Error> {
    register_as(conn, caller, key, input, today, true)
}

fn register_as(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    input: NewPatientInput,
    today: NaiveDate,
    exact: bool,
) -> Result<Registered, Error> {
    let role = register_role(&caller.actor, Error::Forbidden)?;
    let new = NewPatient::parse(&input, &ID_RULES, today)?;
    drop(input);
    let pseudonym = key.pseudonym(&new.national_id).to_vec();
    let encrypted = key.encrypt(&new.national_id)?;
    let entry = caller.audit(Action::RegisterPatient, Outcome::Success).role(Some(role.as_str()));
    // The reservation check and the insert hold the person's lock: a reservation being written
    // now is waited for and then seen (`reservations::lock_person`).
    let registered = in_transaction(conn, |conn| {
        reservations::lock_person(conn, &pseudonym)?;
        if reservations::is_reserved(conn, &pseudonym)? {
            let mut denied = entry.clone();
            denied.outcome = Outcome::Denied.as_str().to_owned();
            let denied = denied.patient(None, Some(pseudonym.clone())).detail(json!({ "reason": "reserved" }));
            audit::record(conn, &denied)?;
            return Ok(None);
        }
        let row = NewPatientRow {
            id: Uuid::now_v7(),
            pseudonym: pseudonym.clone(),
            national_id_enc: encrypted.clone(),
            sex: new.sex.code(),
            birth_year: i16::try_from(new.birth_year.get()).map_err(Error::internal)?,
            registered_by: caller.actor.user_id,
        };
        let (patient, created) = patients::insert_or_find(conn, &row)?;
        if exact && !created && (patient.sex != row.sex || patient.birth_year != row.birth_year) {
            return Err(Conflict::Rule {
                code: "patient_changed",
                message: "the person is registered with another sex or birth year; a patient's sex and birth year \
                          cannot be changed by import"
                    .into(),
            }
            .into());
        }
        crate::access::know_pseudonym(caller, patient.id, &patient.pseudonym);
        let entry = entry
            .clone()
            .target("patient", patient.id)
            .patient(Some(patient.id), Some(patient.pseudonym.clone()))
            .detail(json!({ "created": created }));
        audit::record(conn, &entry)?;
        Ok::<_, Error>(Some(Registered { id: patient.id, created }))
    })?;
    // Refused with the denial's audit row committed.
    registered.ok_or_else(|| Conflict::Reserved.into())
}

/// A patient in the caller's scope, with the pathways the caller may see.
pub fn read(conn: &mut PgConnection, caller: &Caller, id: PatientId) -> Result<PatientView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        let units = register_units(conn, caller)?;
        let patient = patients::find(conn, id).map_err(hide_missing)?;
        if !patients::in_scope(conn, id, caller.actor.user_id, &units)? {
            return Err(Error::Hidden);
        }
        let mut visible = Vec::new();
        for p in pathways::of_patient(conn, id)? {
            let transfers = pathways::transfers(conn, p.pathway())?;
            if units.contains(&p.unit_id) || transfers.iter().any(|t| units.contains(&t.from_unit_id)) {
                // A pathway transferred away: as it was when it left the caller's units.
                visible.push(as_left(conn, &units, p, &transfers)?.0);
            }
        }
        let entry = caller.audit(Action::ReadPatient, Outcome::Success).role(Some(role.as_str())).target("patient", id);
        audit::record(conn, &entry.patient(Some(patient.id), Some(patient.pseudonym.clone())))?;
        Ok(PatientView { patient, pathways: visible })
    })
}
