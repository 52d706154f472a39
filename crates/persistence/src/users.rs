//! Users, their login state and their grants.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::access::{Grant, GrantStatus, Role};
use domain::organisations::NodeId;
use domain::users::LoginState;
use uuid::Uuid;

use crate::schema::{grants, users};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub token_generation: i32,
    pub disabled: bool,
    pub failed_logins: i32,
    pub failure_window_start: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A work e-mail address, for the unit digests (docs/patient-channel.md).
    pub email: Option<String>,
}

impl UserRow {
    pub fn login_state(&self) -> LoginState {
        LoginState {
            failures: self.failed_logins,
            window_start: self.failure_window_start,
            locked_until: self.locked_until,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = grants, check_for_backend(diesel::pg::Pg))]
pub struct GrantRow {
    pub id: i64,
    pub user_id: Uuid,
    pub role: String,
    pub node_id: i64,
    pub created_at: DateTime<Utc>,
    /// The admin who granted it; `None` for the operator's command line (and grants made
    /// before approvals were recorded).
    pub granted_by: Option<Uuid>,
    pub reason: Option<String>,
    /// The second admin who approved a register_staff or admin grant.
    pub approved_by: Option<Uuid>,
    /// When the grant took effect; `None` while it waits for approval.
    pub valid_from: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl GrantRow {
    pub fn status(&self) -> GrantStatus {
        GrantStatus::of(self.valid_from.is_some(), self.revoked_at.is_some())
    }

    pub fn to_domain(&self) -> Result<Grant, RepoError> {
        let role = Role::parse(&self.role).ok_or_else(|| RepoError::Other(format!("unknown role {}", self.role)))?;
        Ok(Grant { id: self.id, role, node: NodeId(self.node_id) })
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
}

/// Changes to a user. Setting a password or disabling bumps the token generation.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
    /// `Some(None)` removes the address.
    pub email: Option<Option<String>>,
}

pub fn insert(conn: &mut PgConnection, new: &NewUserRow<'_>) -> Result<UserRow, RepoError> {
    Ok(diesel::insert_into(users::table).values(new).returning(UserRow::as_returning()).get_result(conn)?)
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> Result<UserRow, RepoError> {
    Ok(users::table.find(id).select(UserRow::as_select()).first(conn)?)
}

pub fn find_by_username(conn: &mut PgConnection, username: &str) -> Result<Option<UserRow>, RepoError> {
    Ok(users::table.filter(users::username.eq(username)).select(UserRow::as_select()).first(conn).optional()?)
}

/// Reads the user for update (locks the row), so concurrent logins count failures correctly.
pub fn find_by_username_for_update(conn: &mut PgConnection, username: &str) -> Result<Option<UserRow>, RepoError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// The users an admin administers: every user but the system's own
/// ([`domain::users::SYSTEM_USER_ID`]), which no one administers.
pub fn list(conn: &mut PgConnection, limit: i64, offset: i64) -> Result<(Vec<UserRow>, i64), RepoError> {
    let people = users::id.ne(domain::users::SYSTEM_USER_ID);
    let total = users::table.filter(people).count().get_result(conn)?;
    let rows = users::table
        .filter(people)
        .order(users::username.asc())
        .limit(limit)
        .offset(offset)
        .select(UserRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

pub fn save_login_state(conn: &mut PgConnection, id: Uuid, state: &LoginState) -> Result<(), RepoError> {
    diesel::update(users::table.find(id))
        .set((
            users::failed_logins.eq(state.failures),
            users::failure_window_start.eq(state.window_start),
            users::locked_until.eq(state.locked_until),
        ))
        .execute(conn)?;
    Ok(())
}

/// Applies `changes`; a new password or disabling the user revokes every token issued so far.
pub fn update(conn: &mut PgConnection, id: Uuid, changes: &UserChanges) -> Result<UserRow, RepoError> {
    let current = users::table.find(id).select(UserRow::as_select()).for_update().first(conn)?;
    let revoke = changes.password_hash.is_some() || changes.disabled == Some(true);
    let generation = if revoke { current.token_generation + 1 } else { current.token_generation };
    Ok(diesel::update(users::table.find(id))
        .set((
            users::display_name.eq(changes.display_name.as_deref().unwrap_or(&current.display_name)),
            users::password_hash.eq(changes.password_hash.as_deref().unwrap_or(&current.password_hash)),
            users::disabled.eq(changes.disabled.unwrap_or(current.disabled)),
            users::email.eq(changes.email.clone().unwrap_or(current.email)),
            users::token_generation.eq(generation),
            users::updated_at.eq(Utc::now()),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)?)
}

/// The grants in effect: approved where approval is needed, and not revoked. The only grants
/// that give access (`app::access::actor_of` reads these).
pub fn grants_of(conn: &mut PgConnection, user: Uuid) -> Result<Vec<GrantRow>, RepoError> {
    Ok(grants::table
        .filter(grants::user_id.eq(user))
        .filter(grants::valid_from.is_not_null())
        .filter(grants::revoked_at.is_null())
        .order(grants::id.asc())
        .select(GrantRow::as_select())
        .load(conn)?)
}

/// The grants not revoked: in effect and pending.
pub fn current_grants_of(conn: &mut PgConnection, user: Uuid) -> Result<Vec<GrantRow>, RepoError> {
    Ok(grants::table
        .filter(grants::user_id.eq(user))
        .filter(grants::revoked_at.is_null())
        .order(grants::id.asc())
        .select(GrantRow::as_select())
        .load(conn)?)
}

/// A grant to insert: by whom (`None`: the operator's command line), why, and whether it takes
/// effect now (`false`: pending until a second admin approves it).
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub user: Uuid,
    pub role: Role,
    pub node: NodeId,
    pub granted_by: Option<Uuid>,
    pub reason: Option<&'a str>,
    pub in_effect: bool,
}

/// Inserts a grant; a current grant of the same role at the node is `UniqueViolation("grants_one_current")`.
pub fn add_grant(conn: &mut PgConnection, new: &NewGrant<'_>) -> Result<GrantRow, RepoError> {
    let valid_from = new.in_effect.then(Utc::now);
    Ok(diesel::insert_into(grants::table)
        .values((
            grants::user_id.eq(new.user),
            grants::role.eq(new.role.as_str()),
            grants::node_id.eq(new.node.0),
            grants::granted_by.eq(new.granted_by),
            grants::reason.eq(new.reason),
            grants::valid_from.eq(valid_from),
        ))
        .returning(GrantRow::as_returning())
        .get_result(conn)?)
}

/// The grant `grant` of `user`, not revoked, locked for the transaction; `NotFound` otherwise.
pub fn find_current_grant_for_update(conn: &mut PgConnection, user: Uuid, grant: i64) -> Result<GrantRow, RepoError> {
    Ok(grants::table
        .filter(grants::id.eq(grant))
        .filter(grants::user_id.eq(user))
        .filter(grants::revoked_at.is_null())
        .select(GrantRow::as_select())
        .for_update()
        .first(conn)?)
}

/// Puts a pending grant into effect now, approved by `by` (`None`: the operator's command line).
pub fn approve_grant(conn: &mut PgConnection, grant: i64, by: Option<Uuid>) -> Result<GrantRow, RepoError> {
    Ok(diesel::update(grants::table.find(grant))
        .filter(grants::valid_from.is_null())
        .set((grants::approved_by.eq(by), grants::valid_from.eq(Utc::now())))
        .returning(GrantRow::as_returning())
        .get_result(conn)?)
}

/// Revokes grant `grant` of `user` (kept for the authorisation register); `NotFound` when the
/// user has no such grant not yet revoked.
pub fn revoke_grant(conn: &mut PgConnection, user: Uuid, grant: i64, by: Uuid) -> Result<GrantRow, RepoError> {
    Ok(diesel::update(grants::table.filter(grants::id.eq(grant)).filter(grants::user_id.eq(user)))
        .filter(grants::revoked_at.is_null())
        .set((grants::revoked_by.eq(by), grants::revoked_at.eq(Utc::now())))
        .returning(GrantRow::as_returning())
        .get_result(conn)?)
}

/// One entry of the authorisation register: a grant with the usernames of its grantee, granter,
/// approver and revoker and its node's name.
#[derive(Debug, Clone, QueryableByName)]
pub struct AuthorisationRow {
    #[diesel(embed)]
    pub grant: GrantRow,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub username: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub granted_by_username: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub approved_by_username: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub revoked_by_username: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub node_kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub node_name: String,
}

/// Every grant ever made (pending, active and revoked), newest first, optionally of one user,
/// with the number of them.
pub fn authorisations(
    conn: &mut PgConnection,
    user: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuthorisationRow>, i64), RepoError> {
    let mut count = grants::table.into_boxed();
    if let Some(u) = user {
        count = count.filter(grants::user_id.eq(u));
    }
    let total = count.count().get_result(conn)?;
    let rows = diesel::sql_query(
        "SELECT g.id, g.user_id, g.role, g.node_id, g.created_at, g.granted_by, g.reason, g.approved_by, \
                g.valid_from, g.revoked_by, g.revoked_at, u.username, gu.username AS granted_by_username, \
                au.username AS approved_by_username, ru.username AS revoked_by_username, \
                n.kind AS node_kind, n.name AS node_name \
         FROM grants g \
         JOIN users u ON u.id = g.user_id \
         JOIN org_nodes n ON n.id = g.node_id \
         LEFT JOIN users gu ON gu.id = g.granted_by \
         LEFT JOIN users au ON au.id = g.approved_by \
         LEFT JOIN users ru ON ru.id = g.revoked_by \
         WHERE $1::uuid IS NULL OR g.user_id = $1 \
         ORDER BY g.created_at DESC, g.id DESC LIMIT $2 OFFSET $3",
    )
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(user)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .bind::<diesel::sql_types::BigInt, _>(offset)
    .load(conn)?;
    Ok((rows, total))
}
