//! Reading the audit log (register staff): search it, and read one patient's full access log by
//! the keyed pseudonym of their national id (so it also covers a patient deleted by a
//! reservation). Every read of the log is itself audited.

use chrono::{DateTime, Utc};
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::forms::FormId;
use domain::national_id::{IdKey, NationalId};
use domain::pathways::PathwayId;
use persistence::audit::{self as repo, AuditEntry, AuditFilter, AuditRow};
use persistence::{forms, pathways, patients, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::paging::{PageRequest, Paged};
use crate::patients::ID_RULES;
use crate::{Caller, Error};

/// What to search the log for; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    pub user: Option<Uuid>,
    /// The internal patient id.
    pub patient: Option<Uuid>,
    /// An action name such as `auth.login`.
    pub action: Option<String>,
    /// From this moment (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this moment (exclusive); must be after `from`.
    pub to: Option<DateTime<Utc>>,
}

/// Entries matching `search`, newest first, with the number that match.
pub fn search(
    conn: &mut PgConnection,
    caller: &Caller,
    search: AuditSearch,
    page: PageRequest,
) -> Result<Paged<AuditRow>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    if let (Some(from), Some(to)) = (search.from, search.to) {
        if to <= from {
            return Err(Error::invalid("to", "date_order", "to must be after from"));
        }
    }
    let paging = page.paging()?;
    let detail = json!({"user": search.user, "patient": search.patient, "from": search.from, "to": search.to});
    let filter = AuditFilter {
        user: search.user,
        patient: search.patient,
        pseudonym: None,
        action: search.action,
        from: search.from,
        to: search.to,
        detail: None,
        limit: paging.limit,
        offset: paging.offset,
    };
    let (rows, total) = repo::list(conn, &filter)?;
    let entry = caller.audit(Action::ReadAuditLog, Outcome::Success).role(Some("register_staff"));
    repo::record(conn, &entry.detail(detail))?;
    Ok(Paged::new(rows, paging, total))
}

/// Every entry about the person with this national id, newest first. The national id is used
/// only to compute the pseudonym; it is never stored, returned or logged.
pub fn patient_log(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    national_id: &str,
    page: PageRequest,
) -> Result<Paged<AuditRow>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let id = NationalId::parse(national_id, &ID_RULES)?;
    let pseudonym = key.pseudonym(&id).to_vec();
    let paging = page.paging()?;
    let filter = AuditFilter {
        pseudonym: Some(pseudonym.clone()),
        limit: paging.limit,
        offset: paging.offset,
        ..Default::default()
    };
    let (rows, total) = repo::list(conn, &filter)?;
    let entry = caller
        .audit(Action::ReadPatientLog, Outcome::Success)
        .role(Some("register_staff"))
        .patient(None, Some(pseudonym));
    repo::record(conn, &entry)?;
    Ok(Paged::new(rows, paging, total))
}

/// The failed logins typed with this username, newest first (register staff). Failed logins keep
/// the typed username only as its keyed hash (`IdKey::username_tag`), so the username is hashed
/// here and never stored, returned or logged. Reading it is audited (without the username).
pub fn login_failures(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    username: &str,
    page: PageRequest,
) -> Result<Paged<AuditRow>, Error> {
    caller.actor.require_national(Permission::Oversight)?;
    let paging = page.paging()?;
    let tag = hex::encode(key.username_tag(username));
    let filter = AuditFilter {
        action: Some(Action::Login.as_str().to_owned()),
        detail: Some(json!({"attempted_username_tag": tag})),
        limit: paging.limit,
        offset: paging.offset,
        ..Default::default()
    };
    let (rows, total) = repo::list(conn, &filter)?;
    let entry = caller
        .audit(Action::ReadAuditLog, Outcome::Success)
        .role(Some("register_staff"))
        .detail(json!({"login_failures_of": "a username (not stored)"}));
    repo::record(conn, &entry)?;
    Ok(Paged::new(rows, paging, total))
}

/// A request the register refused (401 for a bad token, 403, or a 404 hiding a target out of
/// scope), as the entry point saw it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The caller, when they were authenticated.
    pub user: Option<(Uuid, String)>,
    pub request_id: Option<String>,
    pub method: String,
    /// The route pattern (never the path itself, which may hold an id).
    pub route: String,
    pub status: u16,
    /// The route's `{id}` as the request gave it, if it has one.
    pub target_id: Option<String>,
}

/// The kind of target a route names by its `{id}`: the path segment before it, singular.
fn target_kind(route: &str) -> Option<&'static str> {
    let rest = route.strip_prefix("/api/v1/")?;
    let (collection, tail) = rest.split_once('/')?;
    if !tail.starts_with("{id}") {
        return None;
    }
    Some(match collection {
        "forms" => "form",
        "pathways" => "pathway",
        "patients" => "patient",
        "users" => "user",
        "units" => "unit",
        "org-units" => "org_unit",
        "releases" => "release",
        "reservations" => "reservation",
        _ => return None,
    })
}

/// The patient (id, pseudonym) a refused target belongs to, when it is a form, pathway or patient
/// that exists.
fn patient_of_target(conn: &mut PgConnection, kind: &str, id: &str) -> Result<Option<(Uuid, Vec<u8>)>, Error> {
    let Ok(id) = Uuid::parse_str(id) else { return Ok(None) };
    let patient = match kind {
        "form" => match forms::find(conn, FormId(id)) {
            Ok(f) => pathways::find(conn, f.pathway()).map(|p| p.patient_id),
            Err(e) => Err(e),
        },
        "pathway" => pathways::find(conn, PathwayId(id)).map(|p| p.patient_id),
        "patient" => Ok(id),
        _ => return Ok(None),
    };
    let patient = match patient {
        Ok(p) => p,
        Err(RepoError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match patients::pseudonym_of(conn, patient) {
        Ok(pseudonym) => Ok(Some((patient, pseudonym))),
        Err(RepoError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes the audit row of a refused request, with its target (the route's `{id}`) and, when the
/// target is a form, pathway or patient that exists, the patient (id and pseudonym), so that the
/// refusal is in the patient's access log.
pub fn record_refusal(conn: &mut PgConnection, refusal: Refusal) -> Result<(), Error> {
    let detail = json!({"method": refusal.method, "route": refusal.route, "status": refusal.status});
    let mut entry = AuditEntry::new(Action::Refusal, Outcome::Denied).request(refusal.request_id).detail(detail);
    if let Some((id, username)) = &refusal.user {
        entry = entry.by(*id, username);
    }
    if let (Some(kind), Some(id)) = (target_kind(&refusal.route), refusal.target_id.as_deref()) {
        entry = entry.target(kind, id);
        if let Some((patient, pseudonym)) = patient_of_target(conn, kind, id)? {
            entry = entry.patient(Some(patient), Some(pseudonym));
        }
    }
    Ok(repo::record(conn, &entry)?)
}

#[cfg(test)]
mod tests {
    use super::target_kind;

    #[test]
    fn a_routes_id_names_its_target_kind() {
        assert_eq!(target_kind("/api/v1/forms/{id}/reopen"), Some("form"));
        assert_eq!(target_kind("/api/v1/pathways/{id}"), Some("pathway"));
        assert_eq!(target_kind("/api/v1/users/{id}/grants/{gid}"), Some("user"));
        assert_eq!(target_kind("/api/v1/units/{id}/worklist"), Some("unit"));
        assert_eq!(target_kind("/api/v1/pathways"), None);
        assert_eq!(target_kind("/api/v1/audit/patient-log"), None);
        assert_eq!(target_kind("(unmatched)"), None);
    }
}
