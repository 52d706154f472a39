//! Sign-in through an OpenID provider (docs/operations.md, OpenID Connect): admins link people's
//! provider identities to users and register record systems as clients (each change audited in
//! its own transaction), and a verified token finds its actor here — a person's user by the
//! token's subject or by the keyed hash of the national id in its pid claim, a record system's
//! own user by its client id, narrowed to what its organisation numbers allow. Grants always
//! come from rusreg.

use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{check_grant_change, check_identity_change, Actor, Permission, Role};
use domain::audit::{Action, Outcome};
use domain::identities::{OrganisationMismatch, OrganisationScope};
use domain::national_id::IdKey;
use domain::organisations::{NodeId, NodeKind};
use persistence::identities::{self, ClientRow, IdentityRow};
use persistence::users::{self, NewGrant, NewUserRow, UserChanges};
use persistence::{audit, in_transaction, organisations, pathways, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::access::{actor_of, NoActor};
use crate::paging::{PageRequest, Paged};
use crate::{Caller, Conflict, Error};

/// The password hash of a client's own user: no password verifies against it (it is not a PHC
/// string), so a record system can only sign in with its client credentials at the provider.
pub const NO_PASSWORD: &str = "!record-system:no-password";

/// An identity to link. Its `Debug` leaves the national id out.
pub struct NewIdentity {
    pub issuer: String,
    pub subject: Option<String>,
    /// The national id as the provider's pid claim carries it; only its keyed hash is kept.
    pub national_id: Option<String>,
}

impl std::fmt::Debug for NewIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewIdentity")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("national_id", &self.national_id.as_ref().map(|_| "***"))
            .finish()
    }
}

fn no_client_account(conn: &mut PgConnection, user: Uuid) -> Result<(), Error> {
    if identities::client_of_user(conn, user)?.is_some() {
        return Err(Conflict::Rule {
            code: "client_account",
            message: "this user is a record system's own user; it signs in as a client, not as a person".into(),
        }
        .into());
    }
    Ok(())
}

/// The identities linked to `user` (admin).
pub fn identities_of(conn: &mut PgConnection, caller: &Caller, user: Uuid) -> Result<Vec<IdentityRow>, Error> {
    caller.actor.require_national(Permission::Administer)?;
    users::find(conn, user)?;
    Ok(identities::of_user(conn, user)?)
}

/// Links a person's identity at the provider to `user` (admin; not one's own: `own_identity`).
/// A subject or national id that finds another user of the issuer is `identity_taken`.
pub fn add_identity(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &IdKey,
    user: Uuid,
    input: NewIdentity,
) -> Result<IdentityRow, Error> {
    caller.actor.require_national(Permission::Administer)?;
    check_identity_change(caller.actor.user_id, user)?;
    crate::users::refuse_system(user)?;
    let (issuer, subject) = (input.issuer.trim(), input.subject.as_deref().map(str::trim));
    let national_id = input.national_id.as_deref().map(str::trim);
    domain::identities::validate_identity(issuer, subject, national_id)?;
    let tag = national_id.map(|n| key.person_tag(n));
    in_transaction(conn, |conn| {
        users::find(conn, user)?;
        no_client_account(conn, user)?;
        let new = identities::NewIdentity {
            user,
            issuer,
            subject,
            pid_tag: tag.as_ref().map(|t| t.as_slice()),
            created_by: Some(caller.actor.user_id),
        };
        let row = identities::add(conn, &new).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Error::from(Conflict::Rule {
                code: "identity_taken",
                message: "this subject or national id is linked to a user already".into(),
            }),
            other => other.into(),
        })?;
        let detail = json!({"identity_id": row.id, "issuer": row.issuer, "subject": row.subject,
            "national_id": row.pid_tag.is_some()});
        let entry = caller.audit(Action::AddIdentity, Outcome::Success).role(Some("admin")).target("user", user);
        audit::record(conn, &entry.detail(detail))?;
        Ok(row)
    })
}

/// Unlinks identity `identity` of `user` (admin; not one's own). It is kept, revoked.
pub fn remove_identity(conn: &mut PgConnection, caller: &Caller, user: Uuid, identity: i64) -> Result<(), Error> {
    caller.actor.require_national(Permission::Administer)?;
    check_identity_change(caller.actor.user_id, user)?;
    in_transaction(conn, |conn| {
        let row = identities::revoke(conn, user, identity, caller.actor.user_id)?;
        let detail = json!({"identity_id": row.id, "issuer": row.issuer});
        let entry = caller.audit(Action::RemoveIdentity, Outcome::Success).role(Some("admin")).target("user", user);
        audit::record(conn, &entry.detail(detail))?;
        Ok(())
    })
}

/// A client to register. The client acts as registrar at every unit of the legal entity.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub issuer: String,
    pub client_id: String,
    pub display_name: String,
    pub legal_entity_id: i64,
    pub reason: Option<String>,
}

/// A registered client with its own user and its legal entity.
#[derive(Debug, Clone)]
pub struct ClientView {
    pub row: ClientRow,
    pub username: String,
    pub display_name: String,
    pub legal_entity_name: String,
    pub org_number: Option<String>,
    pub grants: Vec<crate::users::GrantView>,
}

impl ClientView {
    pub fn status(&self) -> &'static str {
        if self.row.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        }
    }

    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.row.revoked_at
    }
}

fn client_view(conn: &mut PgConnection, row: ClientRow) -> Result<ClientView, Error> {
    let user = users::find(conn, row.user_id)?;
    let entity = organisations::find_node(conn, row.legal_entity_id, domain::clock::today())?;
    let current = users::current_grants_of(conn, row.user_id)?;
    let grants = crate::users::grant_views(conn, current)?;
    Ok(ClientView {
        username: user.username,
        display_name: user.display_name,
        legal_entity_name: entity.node.name,
        org_number: entity.node.org_number,
        grants,
        row,
    })
}

/// Registers a record system (admin): its own user (no password) holding registrar at the legal
/// entity, and the client id that finds it. A client id registered already (and not revoked) is
/// `client_registered`.
pub fn register_client(
    conn: &mut PgConnection,
    caller: &Caller,
    input: NewClient,
    today: NaiveDate,
) -> Result<ClientView, Error> {
    caller.actor.require_national(Permission::Administer)?;
    let (issuer, client_id, display_name) = (input.issuer.trim(), input.client_id.trim(), input.display_name.trim());
    domain::identities::validate_client(issuer, client_id, display_name)?;
    let reason = input.reason.as_deref().map(str::trim);
    let bad_reason = |r: &str| r.is_empty() || r.chars().count() > crate::users::GRANT_REASON_MAX || r.contains('\0');
    if reason.is_some_and(bad_reason) {
        return Err(Error::invalid("reason", "length", "must have 1 to 1000 characters"));
    }
    in_transaction(conn, |conn| {
        let entity = match organisations::find_node(conn, input.legal_entity_id, today) {
            Ok(n) => n,
            Err(RepoError::NotFound) => {
                return Err(Error::invalid("legal_entity_id", "not_found", "no such organisation node"))
            }
            Err(e) => return Err(e.into()),
        };
        if entity.node.kind()? != NodeKind::LegalEntity {
            return Err(Error::invalid("legal_entity_id", "hierarchy", "a client is registered for a legal entity"));
        }
        let suffix = Uuid::new_v4().simple().to_string();
        let username = domain::identities::client_username(client_id, &suffix[..8]);
        let new_user = NewUserRow { id: Uuid::now_v7(), username: &username, display_name, password_hash: NO_PASSWORD };
        let user = users::insert(conn, &new_user).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Error::from(Conflict::UsernameTaken),
            other => other.into(),
        })?;
        let new = identities::NewClient {
            issuer,
            client_id,
            user: user.id,
            legal_entity: entity.node.id,
            created_by: Some(caller.actor.user_id),
        };
        let row = identities::add_client(conn, &new).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Error::from(Conflict::Rule {
                code: "client_registered",
                message: "this client id of the issuer is registered already".into(),
            }),
            other => other.into(),
        })?;
        check_grant_change(caller.actor.user_id, user.id)?;
        let grant = NewGrant {
            user: user.id,
            role: Role::Registrar,
            node: NodeId(entity.node.id),
            granted_by: Some(caller.actor.user_id),
            reason,
            in_effect: true,
        };
        let grant = users::add_grant(conn, &grant)?;
        let detail = json!({"client": row.id, "issuer": row.issuer, "client_id": row.client_id,
            "user_id": user.id, "legal_entity_id": entity.node.id, "grant_id": grant.id, "role": grant.role});
        let entry = caller.audit(Action::RegisterClient, Outcome::Success).role(Some("admin")).target("client", row.id);
        audit::record(conn, &entry.detail(detail))?;
        client_view(conn, row)
    })
}

/// Every client, registered and revoked, newest first (admin).
pub fn clients(conn: &mut PgConnection, caller: &Caller, page: PageRequest) -> Result<Paged<ClientView>, Error> {
    caller.actor.require_national(Permission::Administer)?;
    let paging = page.paging()?;
    let (rows, total) = identities::list_clients(conn, paging.limit, paging.offset)?;
    let items = rows.into_iter().map(|r| client_view(conn, r)).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::new(items, paging, total))
}

/// Revokes a client (admin): its user is disabled and its grants revoked, so its tokens stop
/// working at once. Kept, revoked, in the list and the authorisation register.
pub fn revoke_client(conn: &mut PgConnection, caller: &Caller, id: i64) -> Result<ClientView, Error> {
    caller.actor.require_national(Permission::Administer)?;
    in_transaction(conn, |conn| {
        let row = identities::revoke_client(conn, id, caller.actor.user_id)?;
        users::update(conn, row.user_id, &UserChanges { disabled: Some(true), ..Default::default() })?;
        let mut revoked = Vec::new();
        for grant in users::current_grants_of(conn, row.user_id)? {
            users::revoke_grant(conn, row.user_id, grant.id, caller.actor.user_id)?;
            revoked.push(grant.id);
        }
        let detail = json!({"client": row.id, "issuer": row.issuer, "client_id": row.client_id,
            "user_id": row.user_id, "grants_revoked": revoked});
        let entry = caller.audit(Action::RevokeClient, Outcome::Success).role(Some("admin")).target("client", row.id);
        audit::record(conn, &entry.detail(detail))?;
        client_view(conn, row)
    })
}

/// Whether `user` is a record system's own user (it has no password).
pub fn is_client_user(conn: &mut PgConnection, user: Uuid) -> Result<bool, Error> {
    Ok(identities::client_of_user(conn, user)?.is_some())
}

/// Why a genuine token finds no actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSignIn {
    /// No user is linked to the person's subject or national id.
    IdentityNotLinked,
    /// The subject and the national id find two different users.
    IdentityAmbiguous,
    /// The user (or the client's user) is disabled.
    Disabled,
    /// The client id is not registered (or its registration was revoked).
    ClientNotRegistered,
    /// The organisation numbers are not those of the client's legal entity and its units.
    OrganisationMismatch,
}

fn as_no_sign_in(why: NoActor) -> NoSignIn {
    match why {
        NoActor::Unknown | NoActor::Revoked => NoSignIn::Disabled,
    }
}

/// The person a token of `issuer` names, by its subject or the national id of its pid claim
/// (matched by keyed hash), as an actor with the user's grants.
pub fn person_actor(
    conn: &mut PgConnection,
    key: &IdKey,
    issuer: &str,
    subject: Option<&str>,
    national_id: Option<&str>,
) -> Result<Result<Actor, NoSignIn>, Error> {
    let tag = national_id.filter(|n| !n.is_empty()).map(|n| key.person_tag(n));
    let found = identities::users_of(conn, issuer, subject, tag.as_ref().map(|t| t.as_slice()))?;
    let user = match found.as_slice() {
        [] => return Ok(Err(NoSignIn::IdentityNotLinked)),
        [one] => *one,
        _ => return Ok(Err(NoSignIn::IdentityAmbiguous)),
    };
    Ok(actor_of(conn, user, None)?.map_err(as_no_sign_in))
}

/// The record system a client-credentials token of `issuer` names, as an actor: its own user's
/// grants, narrowed to one unit when the token's child organisation number names a unit of its
/// legal entity. The parent organisation number must be the entity's; a child number that is
/// not the entity's or one of its units' (today) is refused.
pub fn client_actor(
    conn: &mut PgConnection,
    issuer: &str,
    client_id: &str,
    org_parent: Option<&str>,
    org_child: Option<&str>,
    today: NaiveDate,
) -> Result<Result<Actor, NoSignIn>, Error> {
    let Some(client) = identities::find_client(conn, issuer, client_id)? else {
        return Ok(Err(NoSignIn::ClientNotRegistered));
    };
    let entity = organisations::find_node(conn, client.legal_entity_id, today)?;
    let entity_org = entity.node.org_number.clone().unwrap_or_default();
    let scope = match domain::identities::organisation_scope(&entity_org, org_parent, org_child) {
        Ok(s) => s,
        Err(OrganisationMismatch::NoParent | OrganisationMismatch::OtherParent) => {
            return Ok(Err(NoSignIn::OrganisationMismatch))
        }
    };
    let mut actor = match actor_of(conn, client.user_id, None)? {
        Ok(a) => a,
        Err(why) => return Ok(Err(as_no_sign_in(why))),
    };
    if let OrganisationScope::Unit(number) = scope {
        let Some(unit) = organisations::find_by_org_number(conn, &number)? else {
            return Ok(Err(NoSignIn::OrganisationMismatch));
        };
        let units = pathways::units_under(conn, &[entity.node.id], today)?;
        if unit.kind != NodeKind::Unit.as_str() || !units.contains(&unit.id) {
            return Ok(Err(NoSignIn::OrganisationMismatch));
        }
        // Only the grants at the entity, moved down to the unit.
        actor.grants.retain(|g| g.node.0 == entity.node.id);
        for g in &mut actor.grants {
            g.node = NodeId(unit.id);
        }
    }
    Ok(Ok(actor))
}
