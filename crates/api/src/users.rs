//! Users and grants over HTTP (admin only): list, create, change (display name, password,
//! disabled), add and remove grants. Every change is audited in its own transaction.

use actix_web::{web, HttpResponse};
use app::users::{NewUser, UserUpdate, UserView};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, GrantResponse};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Query;
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
    /// The work e-mail address the unit digests go to (unit contacts), if any.
    pub email: Option<String>,
    pub grants: Vec<GrantResponse>,
}

impl From<UserView> for UserResponse {
    fn from(v: UserView) -> Self {
        let locked_until = v.locked_until(Utc::now());
        Self {
            id: v.row.id,
            username: v.row.username,
            display_name: v.row.display_name,
            disabled: v.row.disabled,
            locked_until,
            created_at: v.row.created_at,
            email: v.row.email,
            grants: v.grants.into_iter().map(GrantResponse::from).collect(),
        }
    }
}

/// Lists users with their grants (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<UserResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request();
    let caller = user.caller();
    let listed = state.run_db(move |conn| Ok(app::users::list(conn, &caller, page)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(UserResponse::from))))
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
    let body = body.into_inner();
    let input = NewUser { username: body.username, display_name: body.display_name, password: body.password };
    let caller = user.caller();
    let created = state.run_db(move |conn| Ok(app::users::create(conn, &caller, input)?)).await?;
    Ok(HttpResponse::Created().json(UserResponse::from(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    /// A new password (revokes every token issued so far).
    pub password: Option<String>,
    /// Disabling revokes every token issued so far.
    pub disabled: Option<bool>,
    /// A work e-mail address, where a unit contact's daily digest goes (counts only, never a
    /// patient); an empty string removes it.
    #[schema(max_length = 254, example = "enhetskontakt@example.no")]
    pub email: Option<String>,
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
    let id = id.into_inner();
    let body = body.into_inner();
    let input = UserUpdate {
        display_name: body.display_name,
        password: body.password,
        disabled: body.disabled,
        email: body.email,
    };
    let caller = user.caller();
    let updated = state.run_db(move |conn| Ok(app::users::update(conn, &caller, id, input)?)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(updated)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddGrantRequest {
    /// registrar, unit_contact, register_contact, register_staff or admin.
    pub role: String,
    /// The node of the organisation tree the role is held at.
    pub node_id: i64,
    /// Why the grant is made (1–1000 characters), for the authorisation register.
    pub reason: Option<String>,
}

/// Grants a role at a node (admin; never to oneself: 403 `own_grant`). The node's kind must fit
/// the role (docs/domain.md, Roles and access); a register_staff or admin grant is `pending`
/// until a second admin approves it.
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
    let id = id.into_inner();
    let body = body.into_inner();
    let today = state.today();
    let caller = user.caller();
    let grant = state
        .run_db(move |conn| {
            Ok(app::users::add_grant(conn, &caller, id, &body.role, body.node_id, body.reason.as_deref(), today)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(GrantResponse::from(grant)))
}

/// Approves a pending grant (admin): it takes effect now. Not the grantee (403 `own_grant`), not
/// the admin who granted it (403 `second_admin_required`); 409 `not_pending` when in effect already.
#[utoipa::path(post, path = "/api/v1/users/{id}/grants/{gid}/approve", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = GrantResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn approve_grant(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, gid) = path.into_inner();
    let caller = user.caller();
    let grant = state.run_db(move |conn| Ok(app::users::approve_grant(conn, &caller, id, gid)?)).await?;
    Ok(HttpResponse::Ok().json(GrantResponse::from(grant)))
}

/// One grant in the authorisation register.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorisationResponse {
    pub grant_id: i64,
    /// Who holds (held) it.
    pub user_id: Uuid,
    pub username: String,
    pub role: String,
    /// Where: the organisation node.
    pub node_id: i64,
    pub node_kind: String,
    pub node_name: String,
    /// pending, active or revoked.
    pub status: String,
    pub reason: Option<String>,
    /// The admin who granted it (none: the operator's command line).
    pub granted_by: Option<Uuid>,
    pub granted_by_username: Option<String>,
    pub granted_at: DateTime<Utc>,
    /// The second admin who approved it (register_staff and admin grants).
    pub approved_by: Option<Uuid>,
    pub approved_by_username: Option<String>,
    /// From: when it took effect (none while pending).
    pub valid_from: Option<DateTime<Utc>>,
    /// To: when it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Uuid>,
    pub revoked_by_username: Option<String>,
}

impl From<persistence::users::AuthorisationRow> for AuthorisationResponse {
    fn from(r: persistence::users::AuthorisationRow) -> Self {
        let g = r.grant;
        Self {
            grant_id: g.id,
            user_id: g.user_id,
            username: r.username,
            status: g.status().as_str().to_owned(),
            role: g.role,
            node_id: g.node_id,
            node_kind: r.node_kind,
            node_name: r.node_name,
            reason: g.reason,
            granted_by: g.granted_by,
            granted_by_username: r.granted_by_username,
            granted_at: g.created_at,
            approved_by: g.approved_by,
            approved_by_username: r.approved_by_username,
            valid_from: g.valid_from,
            revoked_at: g.revoked_at,
            revoked_by: g.revoked_by,
            revoked_by_username: r.revoked_by_username,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct AuthorisationQuery {
    /// Only the grants of this user.
    pub user: Option<Uuid>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// The authorisation register (admin, register staff): every grant, pending, in effect or
/// revoked, with who granted, approved and revoked it, newest first. Reading it is audited.
#[utoipa::path(get, path = "/api/v1/authorisations", tag = "users", security(("bearer" = [])), params(AuthorisationQuery),
    responses((status = 200, body = Page<AuthorisationResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_authorisations(
    state: web::Data<AppState>,
    user: AuthUser,
    query: crate::extract::Query<AuthorisationQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageParams { page: q.page, per_page: q.per_page }.request();
    let caller = user.caller();
    let listed = state.run_db(move |conn| Ok(app::users::authorisations(conn, &caller, q.user, page)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(AuthorisationResponse::from))))
}

/// Revokes a grant, in effect or pending (admin; not one's own: 403 `own_grant`). It stays in
/// the authorisation register.
#[utoipa::path(delete, path = "/api/v1/users/{id}/grants/{gid}", tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn remove_grant(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, gid) = path.into_inner();
    let caller = user.caller();
    state.run_db(move |conn| Ok(app::users::remove_grant(conn, &caller, id, gid)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list_users))
        .route("/users", web::post().to(create_user))
        .route("/users/{id}", web::patch().to(update_user))
        .route("/users/{id}/grants", web::post().to(add_grant))
        .route("/users/{id}/grants/{gid}", web::delete().to(remove_grant))
        .route("/users/{id}/grants/{gid}/approve", web::post().to(approve_grant))
        .route("/authorisations", web::get().to(list_authorisations));
}
