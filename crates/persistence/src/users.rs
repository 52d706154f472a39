//! Users, their login state and their grants.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::access::{Grant, Role};
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

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = grants, check_for_backend(diesel::pg::Pg))]
pub struct GrantRow {
    pub id: i64,
    pub user_id: Uuid,
    pub role: String,
    pub node_id: i64,
    pub created_at: DateTime<Utc>,
}

impl GrantRow {
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
}

pub fn insert(conn: &mut PgConnection, new: &NewUserRow<'_>) -> Result<UserRow, RepoError> {
    Ok(diesel::insert_into(users::table).values(new).returning(UserRow::as_returning()).get_result(conn)?)
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> Result<UserRow, RepoError> {
    Ok(users::table.find(id).select(UserRow::as_select()).first(conn)?)
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

pub fn list(conn: &mut PgConnection, limit: i64, offset: i64) -> Result<(Vec<UserRow>, i64), RepoError> {
    let total = users::table.count().get_result(conn)?;
    let rows = users::table
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
            users::token_generation.eq(generation),
            users::updated_at.eq(Utc::now()),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)?)
}

pub fn grants_of(conn: &mut PgConnection, user: Uuid) -> Result<Vec<GrantRow>, RepoError> {
    Ok(grants::table
        .filter(grants::user_id.eq(user))
        .order(grants::id.asc())
        .select(GrantRow::as_select())
        .load(conn)?)
}

pub fn add_grant(conn: &mut PgConnection, user: Uuid, role: Role, node: NodeId) -> Result<GrantRow, RepoError> {
    Ok(diesel::insert_into(grants::table)
        .values((grants::user_id.eq(user), grants::role.eq(role.as_str()), grants::node_id.eq(node.0)))
        .returning(GrantRow::as_returning())
        .get_result(conn)?)
}

/// Removes grant `grant` of `user`; `NotFound` when the user has no such grant.
pub fn remove_grant(conn: &mut PgConnection, user: Uuid, grant: i64) -> Result<GrantRow, RepoError> {
    Ok(diesel::delete(grants::table.filter(grants::id.eq(grant)).filter(grants::user_id.eq(user)))
        .returning(GrantRow::as_returning())
        .get_result(conn)?)
}
