//! The access checks every registration use case shares, reading what the rules in
//! `domain::access` need from the database: which units a caller registers at, and what the
//! caller may do with one pathway. Also the audit row about a pathway's patient.

use domain::access::{Actor, PathwayAccess, Permission, Role};
use domain::organisations::NodeId;
use domain::pathways::PathwayId;
use persistence::audit::AuditEntry;
use persistence::pathways::{self, PathwayRow, TransferRow};
use persistence::{audit, organisations, patients, users, PgConnection, RepoError};
use uuid::Uuid;

use crate::{Caller, Error};

/// A node as [`unit_path`] found it.
#[derive(Debug, Clone)]
enum UnitPath {
    Unit(Vec<NodeId>),
    NotAUnit,
    NotFound,
}

/// What the access checks have read about one caller (see [`Caller`]): kept for the caller's
/// request or import chunk, never longer.
#[derive(Debug, Default)]
pub struct Scope {
    /// The units the caller registers at ([`register_units`]).
    units: Option<Vec<i64>>,
    /// Nodes by id as [`unit_path`] found them.
    unit_paths: std::collections::HashMap<i64, UnitPath>,
    /// Patients' pseudonyms by patient id (for audit rows; a patient's pseudonym never changes).
    pseudonyms: std::collections::HashMap<Uuid, Vec<u8>>,
}

/// Why a user cannot act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoActor {
    /// No such user.
    Unknown,
    /// The user is disabled, or (with a token generation) the token has been revoked.
    Revoked,
}

/// A user as an [`Actor`]: their grants and the nation node, read from the database. With
/// `generation` (a token's), the user's current token generation must match it.
pub fn actor_of(
    conn: &mut PgConnection,
    user_id: Uuid,
    generation: Option<i32>,
) -> Result<Result<Actor, NoActor>, Error> {
    let user = match users::find(conn, user_id) {
        Ok(u) => u,
        Err(RepoError::NotFound) => return Ok(Err(NoActor::Unknown)),
        Err(e) => return Err(e.into()),
    };
    if user.disabled || generation.is_some_and(|g| g != user.token_generation) {
        return Ok(Err(NoActor::Revoked));
    }
    let grants = users::grants_of(conn, user_id)?.iter().map(|g| g.to_domain()).collect::<Result<Vec<_>, _>>()?;
    let nation = match organisations::nation_id(conn) {
        Ok(n) => n,
        Err(RepoError::NotFound) => NodeId(0),
        Err(e) => return Err(e.into()),
    };
    Ok(Ok(Actor { user_id, username: user.username, grants, nation }))
}

/// The caller's registering role, or `missing` when they have none (registration data is then
/// out of reach: `Hidden` for reads of one target, `Forbidden` for creates and lists).
pub fn register_role(actor: &Actor, missing: Error) -> Result<Role, Error> {
    actor.register_role().ok_or(missing)
}

/// Every unit the caller may register at (grants at a legal entity cover its units), read once
/// per caller.
pub fn register_units(conn: &mut PgConnection, caller: &Caller) -> Result<Vec<i64>, Error> {
    if let Some(units) = &caller.scope().units {
        return Ok(units.clone());
    }
    let nodes: Vec<i64> = caller.actor.nodes_for(Permission::Register).iter().map(|n| n.0).collect();
    let units = pathways::units_under(conn, &nodes, domain::clock::today())?;
    caller.scope().units = Some(units.clone());
    Ok(units)
}

/// A unit's path up to the nation, or a field error on `field` when `unit` is no node valid
/// today (`not_found`) or a node that is no unit (`hierarchy`). Read once per caller and unit.
pub fn unit_path(conn: &mut PgConnection, caller: &Caller, unit: i64, field: &str) -> Result<Vec<NodeId>, Error> {
    let known = caller.scope().unit_paths.get(&unit).cloned();
    let found = match known {
        Some(found) => found,
        None => {
            let today = domain::clock::today();
            let found = match organisations::find_node(conn, unit, today) {
                Ok(n) if n.node.kind == "unit" => UnitPath::Unit(organisations::path_of(conn, unit, today)?),
                Ok(_) => UnitPath::NotAUnit,
                Err(RepoError::NotFound) => UnitPath::NotFound,
                Err(e) => return Err(e.into()),
            };
            caller.scope().unit_paths.insert(unit, found.clone());
            found
        }
    };
    match found {
        UnitPath::Unit(path) => Ok(path),
        UnitPath::NotAUnit => Err(Error::invalid(field, "hierarchy", "must be a unit (behandlingsenhet)")),
        UnitPath::NotFound => Err(Error::invalid(field, "not_found", "no such unit")),
    }
}

/// The caller's access to `p` by [`PathwayAccess::decide_with`], or `Hidden` when there is none.
pub fn pathway_access(conn: &mut PgConnection, caller: &Caller, p: &PathwayRow) -> Result<PathwayAccess, Error> {
    let covered = register_units(conn, caller)?;
    let held = || -> Result<Vec<i64>, Error> {
        let mut held: Vec<i64> = pathways::transfers(conn, p.pathway())?.iter().map(|t| t.from_unit_id).collect();
        held.push(p.opened_unit_id);
        Ok(held)
    };
    PathwayAccess::decide_with(&covered, p.unit_id, held)?.ok_or(Error::Hidden)
}

/// Full access to `p` or `Forbidden` (read access alone does not allow a change).
pub fn require_full(conn: &mut PgConnection, caller: &Caller, p: &PathwayRow) -> Result<(), Error> {
    match pathway_access(conn, caller, p)? {
        PathwayAccess::Full => Ok(()),
        PathwayAccess::ReadOwn(_) => Err(Error::Forbidden),
    }
}

/// Loads a pathway (locked for the transaction when `lock`), `Hidden` when there is none.
pub fn load_pathway(conn: &mut PgConnection, id: PathwayId, lock: bool) -> Result<PathwayRow, Error> {
    let found = if lock { pathways::find_for_update(conn, id) } else { pathways::find(conn, id) };
    found.map_err(hide_missing)
}

/// `NotFound` from a repository becomes `Hidden`: the caller may not learn what does not exist
/// any more than what exists out of their scope.
pub fn hide_missing(e: RepoError) -> Error {
    match e {
        RepoError::NotFound => Error::Hidden,
        e => e.into(),
    }
}

/// The pseudonym of a patient, read once per caller.
pub fn pseudonym_of(conn: &mut PgConnection, caller: &Caller, patient: Uuid) -> Result<Vec<u8>, Error> {
    if let Some(p) = caller.scope().pseudonyms.get(&patient) {
        return Ok(p.clone());
    }
    let pseudonym = patients::pseudonym_of(conn, patient)?;
    caller.scope().pseudonyms.insert(patient, pseudonym.clone());
    Ok(pseudonym)
}

/// Tells the caller's scope a patient's pseudonym (one it has just registered or read).
pub fn know_pseudonym(caller: &Caller, patient: Uuid, pseudonym: &[u8]) {
    caller.scope().pseudonyms.insert(patient, pseudonym.to_vec());
}

/// Writes `entry` about the pathway's patient (patient id and pseudonym, the owning unit).
pub fn record_for_patient(
    conn: &mut PgConnection,
    caller: &Caller,
    entry: AuditEntry,
    p: &PathwayRow,
) -> Result<(), Error> {
    let pseudonym = pseudonym_of(conn, caller, p.patient_id)?;
    audit::record(conn, &entry.unit(Some(p.unit_id)).patient(Some(p.patient_id), Some(pseudonym)))?;
    Ok(())
}

/// A pathway as a caller with read access only (a unit it was transferred away from) sees it:
/// as it was when it left the caller's units, at the last transfer away from one of them — its
/// status and treatment level then, owned by the unit it went to — and that transfer. The
/// owning unit sees the pathway as it is (`None`).
pub fn as_left(
    conn: &mut PgConnection,
    covered: &[i64],
    mut p: PathwayRow,
    transfers: &[TransferRow],
) -> Result<(PathwayRow, Option<TransferRow>), Error> {
    if covered.contains(&p.unit_id) {
        return Ok((p, None));
    }
    let Some(left) = transfers.iter().rev().find(|t| covered.contains(&t.from_unit_id)).cloned() else {
        return Ok((p, None));
    };
    let status = match left.status_at_transfer {
        Some(s) => s,
        None => pathways::status_history(conn, p.pathway())?
            .iter()
            .rev()
            .find(|h| h.changed_at <= left.created_at)
            .map_or(p.status, |h| h.to_status),
    };
    p.status = status;
    p.current_treatment_level = Some(left.treatment_level_at_transfer.unwrap_or(p.treatment_level));
    p.unit_id = left.to_unit_id;
    p.updated_at = left.created_at;
    Ok((p, Some(left)))
}
