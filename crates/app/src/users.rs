//! Users, their grants and their sessions: list, create and change users and add or remove
//! grants (admin); log in (lockout after repeated failures, the same work for an unknown user
//! as for a wrong password); read one's own grants and change one's own password. Every change
//! and every login attempt is audited. Passwords are hashed with argon2id here and nowhere else.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{check_approval, check_grant_change, validate_grant, GrantStatus, Permission, Role};
use domain::audit::{Action, Outcome};
use domain::national_id::IdKey;
use domain::organisations::NodeId;
use domain::FieldError;
use persistence::audit::AuditEntry;
use persistence::users::{self, AuthorisationRow, GrantRow, NewGrant, NewUserRow, UserChanges, UserRow};
use persistence::{audit, in_transaction, organisations, DbPool, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::paging::{PageRequest, Paged};
use crate::{Caller, Conflict, Error};

/// Hashes a password with argon2id (a random salt, the crate's default cost).
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(e.to_string().into()))
}

/// Verifies `password` against a PHC string; any parse failure counts as a mismatch.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// Refuses a change to the system's own user (409 `system_user`): it is never enabled, given a
/// password, a grant or an identity (docs/patient-channel.md, The system user).
pub(crate) fn refuse_system(id: Uuid) -> Result<(), Error> {
    if domain::users::is_system(id) {
        return Err(Conflict::Rule {
            code: "system_user",
            message: "the system's own user cannot be changed, signed in as or given grants".into(),
        }
        .into());
    }
    Ok(())
}

/// A grant with its node's kind and name (as of today).
#[derive(Debug, Clone)]
pub struct GrantView {
    pub row: GrantRow,
    pub node_kind: String,
    pub node_name: String,
}

/// A user with their grants not revoked (in effect and pending: [`GrantRow::status`]).
#[derive(Debug, Clone)]
pub struct UserView {
    pub row: UserRow,
    pub grants: Vec<GrantView>,
}

impl UserView {
    /// When the lockout after failed logins ends, if it has not yet.
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.row.locked_until.filter(|t| *t > now)
    }
}

fn describe_grants(conn: &mut PgConnection, rows: Vec<GrantRow>) -> Result<Vec<GrantView>, Error> {
    let today = domain::clock::today();
    rows.into_iter()
        .map(|row| {
            let node = organisations::find_node(conn, row.node_id, today)?;
            Ok(GrantView { row, node_kind: node.node.kind, node_name: node.node.name })
        })
        .collect()
}

/// Grants with their nodes' kinds and names (as of today).
pub fn grant_views(conn: &mut PgConnection, rows: Vec<GrantRow>) -> Result<Vec<GrantView>, Error> {
    describe_grants(conn, rows)
}

fn view(conn: &mut PgConnection, row: UserRow) -> Result<UserView, Error> {
    let grants = users::current_grants_of(conn, row.id)?;
    Ok(UserView { grants: describe_grants(conn, grants)?, row })
}

/// Users with their grants (admin).
pub fn list(conn: &mut PgConnection, caller: &Caller, page: PageRequest) -> Result<Paged<UserView>, Error> {
    caller.actor.require_national(Permission::Administer)?;
    let paging = page.paging()?;
    let (rows, total) = users::list(conn, paging.limit, paging.offset)?;
    let items = rows.into_iter().map(|r| view(conn, r)).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::new(items, paging, total))
}

/// A user to create. Its `Debug` leaves the password out.
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Inserts a user; a taken username is [`Conflict::UsernameTaken`].
fn insert_user(conn: &mut PgConnection, username: &str, display_name: &str, hash: &str) -> Result<UserRow, Error> {
    let new = NewUserRow { id: Uuid::now_v7(), username, display_name, password_hash: hash };
    users::insert(conn, &new).map_err(|e| match e {
        RepoError::UniqueViolation(_) => Conflict::UsernameTaken.into(),
        other => other.into(),
    })
}

/// Creates a user without grants (admin).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: NewUser) -> Result<UserView, Error> {
    caller.actor.require_national(Permission::Administer)?;
    domain::users::validate_new_user(&input.username, &input.display_name, &input.password)?;
    let hash = hash_password(&input.password)?;
    in_transaction(conn, |conn| {
        let row = insert_user(conn, &input.username, input.display_name.trim(), &hash)?;
        let entry = caller.audit(Action::CreateUser, Outcome::Success).role(Some("admin"));
        audit::record(conn, &entry.target("user", row.id).detail(json!({"username": row.username})))?;
        view(conn, row)
    })
}

/// Changes to a user; `None` leaves a field as it is. Its `Debug` leaves the password out.
#[derive(Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    /// A new password (revokes every token issued so far).
    pub password: Option<String>,
    /// Disabling revokes every token issued so far.
    pub disabled: Option<bool>,
    /// A work e-mail address for the unit digests; an empty string removes it.
    pub email: Option<String>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("display_name", &self.display_name)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// Changes a user (admin). Every field error at once.
pub fn update(conn: &mut PgConnection, caller: &Caller, id: Uuid, input: UserUpdate) -> Result<UserView, Error> {
    caller.actor.require_national(Permission::Administer)?;
    refuse_system(id)?;
    let mut errors = Vec::new();
    if let Some(name) = &input.display_name {
        errors.extend(domain::users::validate_display_name(name).err());
    }
    let email = match input.email.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(raw) => match crate::outbox::parse_email(raw) {
            Ok(a) => Some(Some(a)),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let current = users::find(conn, id)?;
    if let Some(pw) = &input.password {
        errors.extend(domain::users::validate_password("password", pw, &current.username).err());
        if crate::identities::is_client_user(conn, id)? {
            errors.push(FieldError::new(
                "password",
                "client_account",
                "a record system's own user has no password; it signs in with its client credentials",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let password_hash = input.password.as_deref().map(hash_password).transpose()?;
    let detail = json!({
        "display_name_changed": input.display_name.is_some(),
        "password_changed": input.password.is_some(),
        "disabled": input.disabled,
        "email_changed": input.email.is_some(),
    });
    let entry =
        caller.audit(Action::UpdateUser, Outcome::Success).role(Some("admin")).target("user", id).detail(detail);
    in_transaction(conn, |conn| {
        let changes = UserChanges {
            display_name: input.display_name.as_deref().map(|n| n.trim().to_owned()),
            password_hash: password_hash.clone(),
            disabled: input.disabled,
            email: email.clone(),
        };
        let row = users::update(conn, id, &changes)?;
        audit::record(conn, &entry)?;
        view(conn, row)
    })
}

/// The most characters a grant's reason may have.
pub const GRANT_REASON_MAX: usize = 1000;

/// Grants `role` at a node (admin), with an optional reason. The node's kind must fit the role;
/// a grant the user holds already (in effect or pending) is [`Conflict::GrantExists`]. An admin
/// may not grant itself anything (`own_grant`). A register_staff or admin grant is pending until
/// a second admin approves it ([`approve_grant`]); the others take effect at once.
pub fn add_grant(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    role: &str,
    node_id: i64,
    reason: Option<&str>,
    today: NaiveDate,
) -> Result<GrantView, Error> {
    caller.actor.require_national(Permission::Administer)?;
    check_grant_change(caller.actor.user_id, id)?;
    refuse_system(id)?;
    let reason = reason.map(str::trim);
    if reason.is_some_and(|r| r.is_empty() || r.chars().count() > GRANT_REASON_MAX) {
        return Err(Error::invalid("reason", "length", "must have 1 to 1000 characters"));
    }
    in_transaction(conn, |conn| {
        users::find(conn, id)?;
        let node = match organisations::find_node(conn, node_id, today) {
            Ok(n) => n,
            Err(RepoError::NotFound) => {
                return Err(Error::invalid("node_id", "not_found", "no such organisation node"))
            }
            Err(e) => return Err(e.into()),
        };
        let role = validate_grant(role, node.node.kind()?)?;
        let new = NewGrant {
            user: id,
            role,
            node: NodeId(node_id),
            granted_by: Some(caller.actor.user_id),
            reason,
            in_effect: !role.needs_second_admin(),
        };
        let row = users::add_grant(conn, &new).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Conflict::GrantExists.into(),
            other => Error::from(other),
        })?;
        let detail = json!({"grant_id": row.id, "role": row.role, "node_id": row.node_id,
            "status": row.status().as_str(), "reason": row.reason});
        let entry = caller.audit(Action::AddGrant, Outcome::Success).role(Some("admin")).target("user", id);
        audit::record(conn, &entry.detail(detail))?;
        describe_grants(conn, vec![row])?.pop().ok_or_else(|| Error::inconsistent("a grant vanished"))
    })
}

/// Approves a pending grant (admin): it takes effect now. The approver must be a second admin,
/// neither the grantee (`own_grant`) nor the admin who granted it (`second_admin_required`); a
/// grant in effect already is [`Conflict::GrantNotPending`].
pub fn approve_grant(conn: &mut PgConnection, caller: &Caller, id: Uuid, grant: i64) -> Result<GrantView, Error> {
    caller.actor.require_national(Permission::Administer)?;
    check_grant_change(caller.actor.user_id, id)?;
    refuse_system(id)?;
    in_transaction(conn, |conn| {
        let row = users::find_current_grant_for_update(conn, id, grant)?;
        check_approval(caller.actor.user_id, row.user_id, row.granted_by)?;
        if row.status() != GrantStatus::Pending {
            return Err(Conflict::GrantNotPending.into());
        }
        let row = users::approve_grant(conn, grant, Some(caller.actor.user_id))?;
        let detail =
            json!({"grant_id": row.id, "role": row.role, "node_id": row.node_id, "granted_by": row.granted_by});
        let entry = caller.audit(Action::ApproveGrant, Outcome::Success).role(Some("admin")).target("user", id);
        audit::record(conn, &entry.detail(detail))?;
        describe_grants(conn, vec![row])?.pop().ok_or_else(|| Error::inconsistent("a grant vanished"))
    })
}

/// Revokes a grant, in effect or pending (admin); it stays in the authorisation register with
/// its revocation. An admin may not revoke its own grants (`own_grant`).
pub fn remove_grant(conn: &mut PgConnection, caller: &Caller, id: Uuid, grant: i64) -> Result<(), Error> {
    caller.actor.require_national(Permission::Administer)?;
    check_grant_change(caller.actor.user_id, id)?;
    refuse_system(id)?;
    in_transaction(conn, |conn| {
        let row = users::revoke_grant(conn, id, grant, caller.actor.user_id)?;
        let detail = json!({"grant_id": row.id, "role": row.role, "node_id": row.node_id});
        let entry = caller.audit(Action::RemoveGrant, Outcome::Success).role(Some("admin")).target("user", id);
        audit::record(conn, &entry.detail(detail))?;
        Ok(())
    })
}

/// The authorisation register (admin, register staff): every grant ever made — pending, in
/// effect and revoked — newest first, optionally of one user. Reading it is audited.
pub fn authorisations(
    conn: &mut PgConnection,
    caller: &Caller,
    user: Option<Uuid>,
    page: PageRequest,
) -> Result<Paged<AuthorisationRow>, Error> {
    let nation = [caller.actor.nation];
    let role = caller.actor.role_for(Permission::Authorisations, &nation).ok_or(Error::Forbidden)?;
    let paging = page.paging()?;
    let (rows, total) = users::authorisations(conn, user, paging.limit, paging.offset)?;
    let entry = caller.audit(Action::ReadAuthorisations, Outcome::Success).role(Some(role.as_str()));
    audit::record(conn, &entry.detail(json!({"user": user})))?;
    Ok(Paged::new(rows, paging, total))
}

/// Creates the user if missing (or sets the password and enables it if present) and makes sure
/// it holds `role` at `node`. For the operator's command line (`rusreg user add`, `rusreg demo`)
/// and test set-up: audited like an admin change, by the system. The grant takes effect at once,
/// also a register_staff or admin grant (the operator bootstraps the first admins; docs/operations.md).
pub fn ensure_user_with_grant(
    conn: &mut PgConnection,
    username: &str,
    display_name: &str,
    password: &str,
    role: Role,
    node: NodeId,
) -> Result<Uuid, Error> {
    domain::users::validate_new_user(username, display_name, password)?;
    let hash = hash_password(password)?;
    in_transaction(conn, |conn| {
        let kind = organisations::find_node(conn, node.0, domain::clock::today())
            .map_err(|_| Error::invalid("node", "not_found", "no such organisation node"))?
            .node
            .kind()?;
        validate_grant(role.as_str(), kind)?;
        let existing = users::find_by_username_for_update(conn, username)?;
        if let Some(user) = &existing {
            refuse_system(user.id)?;
        }
        let id = match existing {
            Some(existing) if crate::identities::is_client_user(conn, existing.id)? => {
                return Err(Error::invalid(
                    "username",
                    "client_account",
                    "this user is a record system's own user; it has no password",
                ));
            }
            Some(existing) => {
                let changes =
                    UserChanges { password_hash: Some(hash.clone()), disabled: Some(false), ..Default::default() };
                users::update(conn, existing.id, &changes)?;
                existing.id
            }
            None => insert_user(conn, username, display_name, &hash)?.id,
        };
        // The operator's grant takes effect at once, also one pending approval.
        match users::current_grants_of(conn, id)?.into_iter().find(|g| g.role == role.as_str() && g.node_id == node.0) {
            Some(g) if g.status() == GrantStatus::Pending => {
                users::approve_grant(conn, g.id, None)?;
            }
            Some(_) => {}
            None => {
                let new = NewGrant { user: id, role, node, granted_by: None, reason: None, in_effect: true };
                users::add_grant(conn, &new)?;
            }
        }
        let detail = json!({"username": username, "role": role.as_str(), "node_id": node.0, "by": "cli"});
        audit::record(conn, &AuditEntry::new(Action::CreateUser, Outcome::Success).target("user", id).detail(detail))?;
        Ok(id)
    })
}

/// A login's outcome. A failure does not say why (the audit row does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The user, and their token generation to put in the token.
    Success {
        user: Uuid,
        generation: i32,
    },
    Failure,
}

/// Checks a username and password. An unknown user costs the same work as a wrong password
/// (`dummy_hash` is verified instead); a wrong password counts towards the lockout; a locked or
/// disabled user fails even with the right password. Every attempt is audited; a failure's audit
/// row holds the typed username only as its keyed hash ([`IdKey::username_tag`], hex), never in
/// clear.
///
/// argon2 runs while no database connection is held: the user is read with one checkout of
/// `pool`, the connection goes back, the password is verified on the calling (blocking) thread,
/// and a second checkout writes the outcome in one transaction, with the user's row locked and
/// its login state read again (so concurrent failures still count one by one).
/// The user of a typed name, locked; a name PostgreSQL cannot hold (a NUL character) names no
/// user (it used to end in a 500).
fn find_user(conn: &mut PgConnection, username: &str) -> Result<Option<UserRow>, RepoError> {
    if username.contains('\0') {
        return Ok(None);
    }
    users::find_by_username_for_update(conn, username)
}

pub fn login(
    pool: &DbPool,
    key: &IdKey,
    username: &str,
    password: &str,
    dummy_hash: &str,
    request_id: Option<String>,
) -> Result<Login, Error> {
    let seen = find_user(&mut *crate::connection(pool)?, username)?;
    // No connection is held from here until the outcome is written.
    let password_ok = verify_password(seen.as_ref().map_or(dummy_hash, |u| u.password_hash.as_str()), password);
    let tag = hex::encode(key.username_tag(username));
    let failed = |reason: &str, user: Option<Uuid>| {
        let mut entry = AuditEntry::new(Action::Login, Outcome::Failed)
            .request(request_id.clone())
            .detail(json!({"attempted_username_tag": tag, "reason": reason}));
        entry.user_id = user;
        entry
    };
    let mut conn = crate::connection(pool)?;
    in_transaction(&mut conn, |conn| {
        let now = Utc::now();
        let user = match (seen.as_ref(), find_user(conn, username)?) {
            (Some(seen), Some(user)) if user.id == seen.id => user,
            (None, None) => {
                audit::record(conn, &failed("unknown_user", None))?;
                return Ok(Login::Failure);
            }
            // Created, renamed or removed while the password was being checked.
            (_, now_row) => {
                audit::record(conn, &failed("changed_during_login", now_row.map(|u| u.id)))?;
                return Ok(Login::Failure);
            }
        };
        // The password verified was the one read first; a change since then fails the login.
        let password_ok = password_ok && seen.as_ref().is_some_and(|s| s.password_hash == user.password_hash);
        let state = user.login_state();
        if state.is_locked(now) {
            audit::record(conn, &failed("locked", Some(user.id)))?;
            return Ok(Login::Failure);
        }
        if user.disabled {
            audit::record(conn, &failed("disabled", Some(user.id)))?;
            return Ok(Login::Failure);
        }
        if !password_ok {
            let next = state.after_failure(now);
            users::save_login_state(conn, user.id, &next)?;
            let reason = if next.is_locked(now) { "wrong_password_now_locked" } else { "wrong_password" };
            audit::record(conn, &failed(reason, Some(user.id)))?;
            return Ok(Login::Failure);
        }
        users::save_login_state(conn, user.id, &state.after_success())?;
        let entry =
            AuditEntry::new(Action::Login, Outcome::Success).by(user.id, &user.username).request(request_id.clone());
        audit::record(conn, &entry)?;
        Ok(Login::Success { user: user.id, generation: user.token_generation })
    })
}

/// The caller with their grants.
pub fn me(conn: &mut PgConnection, caller: &Caller) -> Result<UserView, Error> {
    let row = users::find(conn, caller.actor.user_id)?;
    view(conn, row)
}

/// Changes the caller's own password; every token issued before stops working. A wrong current
/// password is a field error on `current_password`.
pub fn change_own_password(
    conn: &mut PgConnection,
    caller: &Caller,
    current_password: &str,
    new_password: &str,
) -> Result<(), Error> {
    let id = caller.actor.user_id;
    domain::users::validate_password("new_password", new_password, &caller.actor.username)
        .map_err(|e| Error::Invalid(vec![e]))?;
    in_transaction(conn, |conn| {
        let row = users::find(conn, id)?;
        if !verify_password(&row.password_hash, current_password) {
            return Err(Error::invalid("current_password", "mismatch", "the current password is wrong"));
        }
        let changes = UserChanges { password_hash: Some(hash_password(new_password)?), ..Default::default() };
        users::update(conn, id, &changes)?;
        audit::record(conn, &caller.audit(Action::ChangePassword, Outcome::Success).target("user", id))?;
        Ok(())
    })
}
