//! Users and grants over HTTP (admin only): list, create, change (display name, password,
//! disabled), add and remove grants. Every change is audited in its own transaction.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::access::{validate_grant, Permission};
use domain::audit::{Action, Outcome};
use domain::organisations::NodeId;
use persistence::users::{self, NewUserRow, UserChanges, UserRow};
use persistence::{audit, in_transaction, organisations, PgConnection, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{describe_grants, hash_password, AuthUser, GrantResponse};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub disabled: bool,
    /// Locked after repeated failed logins until this moment.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub grants: Vec<GrantResponse>,
}

fn user_response(conn: &mut PgConnection, row: UserRow) -> Result<UserResponse, ApiError> {
    let rows = users::grants_of(conn, row.id)?;
    let grants = describe_grants(conn, &rows)?;
    Ok(UserResponse {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        disabled: row.disabled,
        locked_until: row.locked_until.filter(|t| *t > Utc::now()),
        created_at: row.created_at,
        grants,
    })
}

/// Lists users with their grants (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<UserResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Administer)?;
    let paging = page.limit_offset()?;
    let (items, total) = state
        .run_db(move |conn| {
            let (rows, total) = users::list(conn, paging.0, paging.1)?;
            let items = rows.into_iter().map(|r| user_response(conn, r)).collect::<Result<Vec<_>, _>>()?;
            Ok((items, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, paging, total)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub display_name: String,
    /// At least 12 characters.
    pub password: String,
}

/// Creates a user without grants (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_user(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Administer)?;
    let body = body.into_inner();
    domain::users::validate_new_user(&body.username, &body.display_name, &body.password)?;
    let entry = user.audit(Action::CreateUser, Outcome::Success).role(Some("admin"));
    let created = state
        .run_db(move |conn| {
            let hash = hash_password(&body.password)?;
            in_transaction(conn, |conn| {
                let row = create_user_row(conn, &body.username, body.display_name.trim(), &hash)?;
                audit::record(
                    conn,
                    &entry.target("user", row.id).detail(serde_json::json!({"username": row.username})),
                )?;
                user_response(conn, row)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Inserts a user; a taken username is a 409 `username_taken`.
pub fn create_user_row(
    conn: &mut PgConnection,
    username: &str,
    display_name: &str,
    hash: &str,
) -> Result<UserRow, ApiError> {
    let new = NewUserRow { id: Uuid::now_v7(), username, display_name, password_hash: hash };
    users::insert(conn, &new).map_err(|e| match e {
        RepoError::UniqueViolation(_) => {
            ApiError::Conflict { code: "username_taken", message: "a user with this username exists".into() }
        }
        other => other.into(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    /// A new password (revokes every token issued so far).
    pub password: Option<String>,
    /// Disabling revokes every token issued so far.
    pub disabled: Option<bool>,
}

/// Changes a user (admin).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), request_body = UpdateUserRequest,
    responses((status = 200, body = UserResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn update_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Administer)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let mut errors = Vec::new();
    if let Some(name) = &body.display_name {
        if name.trim().is_empty() || name.chars().count() > 200 {
            errors.push(domain::FieldError::new(
                "display_name",
                "length",
                "display_name must have 1 to 200 characters",
            ));
        }
    }
    let entry = user.audit(Action::UpdateUser, Outcome::Success).role(Some("admin")).target("user", id).detail(
        serde_json::json!({
            "display_name_changed": body.display_name.is_some(),
            "password_changed": body.password.is_some(),
            "disabled": body.disabled,
        }),
    );
    let updated = state
        .run_db(move |conn| {
            let current = users::find(conn, id)?;
            if let Some(pw) = &body.password {
                errors.extend(domain::users::validate_password("password", pw, &current.username).err());
            }
            if !errors.is_empty() {
                return Err(ApiError::Invalid(errors));
            }
            let password_hash = body.password.as_deref().map(hash_password).transpose()?;
            in_transaction(conn, |conn| {
                let changes = UserChanges {
                    display_name: body.display_name.map(|n| n.trim().to_owned()),
                    password_hash,
                    disabled: body.disabled,
                };
                let row = users::update(conn, id, &changes)?;
                audit::record(conn, &entry)?;
                user_response(conn, row)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGrantRequest {
    /// registrar, unit_contact, register_contact, register_staff or admin.
    pub role: String,
    /// The node of the organisation tree the role is held at.
    pub node_id: i64,
}

/// Grants a role at a node (admin). The node's kind must fit the role (DESIGN §3).
#[utoipa::path(post, path = "/api/v1/users/{id}/grants", tag = "users", security(("bearer" = [])), request_body = AddGrantRequest,
    responses((status = 201, body = GrantResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn add_grant(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<AddGrantRequest>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Administer)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let entry = user.audit(Action::AddGrant, Outcome::Success).role(Some("admin")).target("user", id);
    let today = state.today();
    let grant = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                users::find(conn, id)?;
                let node = match organisations::find_node(conn, body.node_id, today) {
                    Ok(n) => n,
                    Err(RepoError::NotFound) => {
                        return Err(ApiError::invalid("node_id", "not_found", "no such organisation node"))
                    }
                    Err(e) => return Err(e.into()),
                };
                let role = validate_grant(&body.role, node.node.kind()?)?;
                let row = users::add_grant(conn, id, role, NodeId(body.node_id)).map_err(|e| match e {
                    RepoError::UniqueViolation(_) => {
                        ApiError::Conflict { code: "conflict", message: "the user already holds this grant".into() }
                    }
                    other => other.into(),
                })?;
                audit::record(
                    conn,
                    &entry.detail(serde_json::json!({"grant_id": row.id, "role": row.role, "node_id": row.node_id})),
                )?;
                Ok(describe_grants(conn, &[row])?.pop())
            })
        })
        .await?
        .ok_or_else(|| ApiError::Internal("grant vanished".into()))?;
    Ok(HttpResponse::Created().json(grant))
}

/// Removes a grant (admin).
#[utoipa::path(delete, path = "/api/v1/users/{id}/grants/{gid}", tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn remove_grant(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Administer)?;
    let (id, gid) = path.into_inner();
    let entry = user.audit(Action::RemoveGrant, Outcome::Success).role(Some("admin")).target("user", id);
    state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let row = users::remove_grant(conn, id, gid)?;
                audit::record(
                    conn,
                    &entry.detail(serde_json::json!({"grant_id": row.id, "role": row.role, "node_id": row.node_id})),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list_users))
        .route("/users", web::post().to(create_user))
        .route("/users/{id}", web::patch().to(update_user))
        .route("/users/{id}/grants", web::post().to(add_grant))
        .route("/users/{id}/grants/{gid}", web::delete().to(remove_grant));
}

/// Creates the user if missing (or sets the password and enables it if present) and makes sure
/// it holds `role` at `node`. Used by `rusreg user add`, `rusreg demo` and the test harness;
/// audited like an admin change, by the system.
pub fn ensure_user_with_grant(
    conn: &mut PgConnection,
    username: &str,
    display_name: &str,
    password: &str,
    role: domain::access::Role,
    node: NodeId,
) -> Result<Uuid, ApiError> {
    domain::users::validate_new_user(username, display_name, password)?;
    let hash = hash_password(password)?;
    in_transaction(conn, |conn| {
        let kind = organisations::find_node(conn, node.0, Utc::now().date_naive())
            .map_err(|_| ApiError::invalid("node", "not_found", "no such organisation node"))?
            .node
            .kind()?;
        validate_grant(role.as_str(), kind)?;
        let id = match users::find_by_username_for_update(conn, username)? {
            Some(existing) => {
                let changes =
                    UserChanges { password_hash: Some(hash.clone()), disabled: Some(false), ..Default::default() };
                users::update(conn, existing.id, &changes)?;
                existing.id
            }
            None => create_user_row(conn, username, display_name, &hash)?.id,
        };
        if !users::grants_of(conn, id)?.iter().any(|g| g.role == role.as_str() && g.node_id == node.0) {
            users::add_grant(conn, id, role, node)?;
        }
        audit::record(
            conn,
            &persistence::audit::AuditEntry::new(Action::CreateUser, Outcome::Success).target("user", id).detail(
                serde_json::json!({"username": username, "role": role.as_str(), "node_id": node.0, "by": "cli"}),
            ),
        )?;
        Ok(id)
    })
}
