//! Pathways: open one at a unit, list those in the caller's scope, read one with its forms,
//! status history and transfers, and transfer one to another unit. Every read of a pathway is
//! an audited access to its patient.

use chrono::NaiveDate;
use domain::access::{PathwayAccess, Permission};
use domain::audit::{Action, Outcome};
use domain::organisations::NodeId;
use domain::pathways::{
    check_no_active_pathway, validate_transfer, NewPathway, OpenPathwayInput, PathwayId, TransferFacts, TransferInput,
    TreatmentStatus,
};
use domain::FieldError;
use persistence::forms::{self, FormRow};
use persistence::pathways::{
    self, NewPathwayRow, NewTransferRow, PathwayFilter, PathwayRow, StatusChangeRow, TransferRow,
};
use persistence::{audit, in_transaction, patients, reservations, PgConnection, RepoError};
use uuid::Uuid;

use crate::access::{
    as_left, load_pathway, pathway_access, record_for_patient, register_role, register_units, require_full, unit_path,
};
use crate::paging::{Paged, Paging};
use crate::{Caller, Conflict, Error};

/// A pathway as a caller sees it: the row, and whether the caller may change it (`false` when
/// they only keep read access after a transfer).
#[derive(Debug, Clone)]
pub struct PathwayView {
    pub row: PathwayRow,
    pub writable: bool,
}

/// One pathway with the forms the caller may read, its status history and its transfers.
#[derive(Debug, Clone)]
pub struct PathwayDetail {
    pub pathway: PathwayView,
    pub forms: Vec<FormRow>,
    pub status_history: Vec<StatusChangeRow>,
    pub transfers: Vec<TransferRow>,
}

/// Opens a pathway at a unit the caller registers for. Every field error at once;
/// [`Conflict::ActivePathway`] when the patient has an active pathway.
pub fn open(
    conn: &mut PgConnection,
    caller: &Caller,
    input: &OpenPathwayInput,
    today: NaiveDate,
) -> Result<PathwayView, Error> {
    let mut errors = match NewPathway::parse(input, today) {
        Ok(_) => Vec::new(),
        Err(domain::DomainError::Invalid(e)) => e,
        Err(e) => return Err(e.into()),
    };
    if let Some(code) = input.residence_code.as_deref().filter(|c| domain::residence::is_area_code(c)) {
        if let Err(e) = crate::residence::check_code(conn, "residence_code", code, input.start_date) {
            match e {
                Error::Invalid(e) => errors.extend(e),
                e => return Err(e),
            }
        }
    }
    let path = match unit_path(conn, caller, input.unit_id.0, "unit_id") {
        Ok(path) => Some(path),
        Err(Error::Invalid(e)) => {
            errors.extend(e);
            None
        }
        Err(e) => return Err(e),
    };
    let patient = match patients::find(conn, input.patient_id) {
        Ok(p) => Some(p),
        Err(RepoError::NotFound) => {
            errors.push(FieldError::new("patient_id", "not_found", "no such patient"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let (Some(path), Some(patient), true) = (path, patient, errors.is_empty()) else {
        return Err(Error::Invalid(errors));
    };
    let role = caller.actor.role_for(Permission::Register, &path).ok_or(Error::Forbidden)?;
    let new = NewPathway::parse(input, today)?;
    let entry = caller.audit(Action::OpenPathway, Outcome::Success).role(Some(role.as_str()));
    // The person's lock, as in a registration (`reservations::lock_person`): a reservation being
    // written now is waited for and then seen; one that comes later deletes this pathway.
    // A refusal is audited with the patient's pseudonym, in a transaction that commits: a refused
    // opening tells the caller that the person is in treatment elsewhere, so it must show in the
    // patient's access log (docs/operations.md, "Access risks that remain").
    let denied = |reason: &str, patient_id: Option<Uuid>| {
        let mut denied = entry.clone();
        denied.outcome = Outcome::Denied.as_str().to_owned();
        let denied = denied.unit(Some(new.unit.0)).patient(patient_id, Some(patient.pseudonym.clone()));
        denied.detail(serde_json::json!({ "reason": reason }))
    };
    let opened = in_transaction(conn, |conn| {
        reservations::lock_person(conn, &patient.pseudonym)?;
        if reservations::is_reserved(conn, &patient.pseudonym)? {
            audit::record(conn, &denied("reserved", None))?;
            return Ok(Err(Conflict::Reserved.into()));
        }
        // Under the person's lock, two openings of one patient run one after the other.
        if let Err(e) = check_no_active_pathway(pathways::has_active(conn, patient.id)?) {
            audit::record(conn, &denied("active_pathway", Some(patient.id)))?;
            return Ok(Err(e.into()));
        }
        let row = NewPathwayRow {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            unit_id: new.unit.0,
            opened_unit_id: new.unit.0,
            start_date: new.start_date.date(),
            treatment_level: new.treatment_level.code(),
            status: NewPathway::STATUS.code(),
            created_by: caller.actor.user_id,
            residence_code: new.residence_code.clone(),
        };
        let p = pathways::insert(conn, &row).map_err(|e| match e {
            // Two openings at once: the partial unique index on active pathways decides.
            RepoError::UniqueViolation(_) => Conflict::ActivePathway.into(),
            e => Error::from(e),
        })?;
        crate::access::know_pseudonym(caller, patient.id, &patient.pseudonym);
        let entry = entry.clone().target("pathway", p.id).unit(Some(p.unit_id));
        audit::record(conn, &entry.patient(Some(patient.id), Some(patient.pseudonym.clone())))?;
        Ok::<_, Error>(Ok(PathwayView { row: p, writable: true }))
    })?;
    // Refused with the denial's audit row committed.
    opened
}

/// The filters of a pathway list, as the caller gave them.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only pathways owned by this unit now.
    pub unit: Option<i64>,
    /// Only this treatment status (code 1–7).
    pub status: Option<i16>,
    /// Start date from (inclusive).
    pub from: Option<NaiveDate>,
    /// Start date to (inclusive).
    pub to: Option<NaiveDate>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Lists the pathways in the caller's scope (owned by, or transferred away from, a unit the
/// caller registers for), newest start first, with the total. Audited as one row carrying every
/// listed patient (their ids and pseudonyms) and the listed pathways.
pub fn list(conn: &mut PgConnection, caller: &Caller, q: &ListQuery) -> Result<Paged<PathwayView>, Error> {
    let role = register_role(&caller.actor, Error::Forbidden)?;
    let mut errors = Vec::new();
    if q.status.is_some_and(|s| TreatmentStatus::from_code(s).is_none()) {
        errors.push(FieldError::new("status", "code_list", "must be a code from 1 to 7"));
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if to < from {
            errors.push(FieldError::new("to", "date_order", "must not be before from"));
        }
    }
    let paging = Paging::parse(q.page, q.per_page).map_err(|e| errors.push(e)).ok();
    let Some(paging) = paging.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors)) };
    let units = register_units(conn, caller)?;
    if q.unit.is_some_and(|u| !units.contains(&u)) {
        return Err(Error::Forbidden);
    }
    let filter = PathwayFilter {
        visible_units: units.clone(),
        unit: q.unit,
        status: q.status,
        from: q.from,
        to: q.to,
        limit: paging.limit,
        offset: paging.offset,
    };
    let entry = caller.audit(Action::ListPathways, Outcome::Success).role(Some(role.as_str()));
    in_transaction(conn, |conn| {
        let (rows, total) = pathways::list(conn, &filter)?;
        // One row for the request, carrying every listed patient (found by each one's log).
        let listed: Vec<(Uuid, Vec<u8>)> =
            rows.iter().map(|(p, pseudonym)| (p.patient_id, pseudonym.clone())).collect();
        let pathway_ids: Vec<Uuid> = rows.iter().map(|(p, _)| p.id).collect();
        let detail = serde_json::json!({"unit": q.unit, "status": q.status, "from": q.from, "to": q.to,
            "page": paging.page(), "pathways": pathway_ids, "total": total});
        audit::record(conn, &entry.clone().unit(q.unit).patients(&listed).detail(detail))?;
        let mut items = Vec::with_capacity(rows.len());
        for (p, _) in rows {
            let writable = units.contains(&p.unit_id);
            let row = if writable {
                p
            } else {
                let transfers = pathways::transfers(conn, p.pathway())?;
                as_left(conn, &units, p, &transfers)?.0
            };
            items.push(PathwayView { row, writable });
        }
        Ok(Paged::new(items, paging, total))
    })
}

/// One pathway with the forms the caller may read, its status history and its transfers.
pub fn read(conn: &mut PgConnection, caller: &Caller, id: PathwayId) -> Result<PathwayDetail, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        let p = load_pathway(conn, id, false)?;
        let access = pathway_access(conn, caller, &p)?;
        let forms = forms::of_pathway(conn, id)?.into_iter().filter(|f| access.reads_form_of(f.unit_id)).collect();
        let mut status_history = pathways::status_history(conn, id)?;
        let mut transfers = pathways::transfers(conn, id)?;
        let entry = caller.audit(Action::ReadPathway, Outcome::Success).role(Some(role.as_str())).target("pathway", id);
        record_for_patient(conn, caller, entry, &p)?;
        // A unit that only keeps read access sees the pathway as it was when it left.
        let writable = access == PathwayAccess::Full;
        let p = if writable {
            p
        } else {
            let covered = register_units(conn, caller)?;
            let (seen, left) = as_left(conn, &covered, p, &transfers)?;
            if let Some(left) = left {
                status_history.retain(|h| h.changed_at <= left.created_at);
                if let Some(at) = transfers.iter().position(|t| t.id == left.id) {
                    transfers.truncate(at + 1);
                }
            }
            seen
        };
        Ok(PathwayDetail { pathway: PathwayView { row: p, writable }, forms, status_history, transfers })
    })
}

/// Moves an active pathway to another unit: the receiving unit carries on, the sending unit
/// keeps read access to what it registered. Only the owning unit may transfer.
pub fn transfer(
    conn: &mut PgConnection,
    caller: &Caller,
    id: PathwayId,
    input: &TransferInput,
    today: NaiveDate,
) -> Result<PathwayView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        // The level in force is a fact kept at commit: fresh even after a form change earlier
        // in the caller's transaction.
        pathways::refresh_dirty_facts(conn, id)?;
        let p = load_pathway(conn, id, true)?;
        require_full(conn, caller, &p)?;
        unit_path(conn, caller, input.to_unit_id.0, "to_unit_id")?;
        let status = TreatmentStatus::from_code(p.status)
            .ok_or_else(|| Error::inconsistent("a pathway with an unknown status"))?;
        let last = pathways::transfers(conn, id)?.last().map(|t| t.transfer_date);
        let facts = TransferFacts {
            status,
            start_date: p.start_date,
            owning_unit: NodeId(p.unit_id),
            last_transfer_date: last,
        };
        validate_transfer(&facts, input, today)?;
        pathways::transfer(
            conn,
            &NewTransferRow {
                pathway_id: id.0,
                from_unit_id: p.unit_id,
                to_unit_id: input.to_unit_id.0,
                transfer_date: input.date,
                created_by: caller.actor.user_id,
                status_at_transfer: p.status,
                treatment_level_at_transfer: p.treatment_level_in_force(),
            },
        )?;
        let entry = caller
            .audit(Action::TransferPathway, Outcome::Success)
            .role(Some(role.as_str()))
            .target("pathway", id)
            .detail(serde_json::json!({"from_unit_id": p.unit_id, "to_unit_id": input.to_unit_id.0}));
        record_for_patient(conn, caller, entry, &p)?;
        let p = pathways::find(conn, id)?;
        Ok(PathwayView { row: p, writable: false })
    })
}
