//! The access checks every registration use case shares, reading what the rules in
//! `domain::access` need from the database: which units a caller registers at, and what the
//! caller may do with one pathway. Also the audit row about a pathway's patient.

use chrono::Utc;
use domain::access::{Actor, PathwayAccess, Permission, Role};
use domain::organisations::NodeId;
use domain::pathways::PathwayId;
use persistence::audit::AuditEntry;
use persistence::pathways::{self, PathwayRow, TransferRow};
use persistence::{audit, organisations, patients, users, PgConnection, RepoError};
use uuid::Uuid;

use crate::Error;

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

/// Every unit the caller may register at (grants at a legal entity cover its units).
pub fn register_units(conn: &mut PgConnection, actor: &Actor) -> Result<Vec<i64>, Error> {
    let nodes: Vec<i64> = actor.nodes_for(Permission::Register).iter().map(|n| n.0).collect();
    Ok(pathways::units_under(conn, &nodes, Utc::now().date_naive())?)
}

/// The caller's access to `p` by [`PathwayAccess::decide`], or `Hidden` when there is none.
pub fn pathway_access(conn: &mut PgConnection, actor: &Actor, p: &PathwayRow) -> Result<PathwayAccess, Error> {
    let covered = register_units(conn, actor)?;
    let mut held: Vec<i64> = pathways::transfers(conn, p.pathway())?.iter().map(|t| t.from_unit_id).collect();
    held.push(p.opened_unit_id);
    PathwayAccess::decide(&covered, p.unit_id, &held).ok_or(Error::Hidden)
}

/// Full access to `p` or `Forbidden` (read access alone does not allow a change).
pub fn require_full(conn: &mut PgConnection, actor: &Actor, p: &PathwayRow) -> Result<(), Error> {
    match pathway_access(conn, actor, p)? {
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

/// Writes `entry` about the pathway's patient (patient id and pseudonym, the owning unit).
pub fn record_for_patient(conn: &mut PgConnection, entry: AuditEntry, p: &PathwayRow) -> Result<(), Error> {
    let pseudonym = patients::pseudonym_of(conn, p.patient_id)?;
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
