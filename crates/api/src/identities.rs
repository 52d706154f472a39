//! Sign-in through the OpenID provider, administered over HTTP (admin only, each change audited):
//! the provider identities linked to a user (`/users/{id}/identities`), and the record systems
//! registered as clients (`/clients`). docs/operations.md, OpenID Connect.

use actix_web::{web, HttpResponse};
use app::identities::{ClientView, NewClient, NewIdentity};
use chrono::{DateTime, Utc};
use persistence::identities::IdentityRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, GrantResponse};
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

/// A provider identity linked to a user. The national id is never shown (nor kept: only its
/// keyed hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityResponse {
    pub id: i64,
    pub user_id: Uuid,
    pub issuer: String,
    /// The provider's subject (`sub`), when the link is by subject.
    pub subject: Option<String>,
    /// Whether the link is (also) by the person's national id (HelseID's pid claim).
    pub national_id: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<IdentityRow> for IdentityResponse {
    fn from(r: IdentityRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            issuer: r.issuer,
            subject: r.subject,
            national_id: r.pid_tag.is_some(),
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// An identity to link: the subject, the national id, or both. Its `Debug` leaves the national
/// id out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIdentityRequest {
    /// The provider's issuer; default the configured one (`RUSREG_OIDC_ISSUER`).
    pub issuer: Option<String>,
    /// The provider's subject (`sub`) of the person.
    pub subject: Option<String>,
    /// The person's national id (11 digits) as HelseID's `helseid://claims/identity/pid` carries
    /// it; rusreg keeps only its keyed hash.
    pub national_id: Option<String>,
}

impl std::fmt::Debug for AddIdentityRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddIdentityRequest")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("national_id", &self.national_id.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The issuer of a request, or the configured one; 422 when there is neither.
fn issuer_of(state: &AppState, given: Option<String>) -> Result<String, ApiError> {
    given
        .or_else(|| state.settings.oidc.as_ref().map(|o| o.issuer.clone()))
        .ok_or_else(|| ApiError::invalid("issuer", "required", "no OpenID provider is configured: name the issuer"))
}

/// The provider identities linked to a user (admin).
#[utoipa::path(get, path = "/api/v1/users/{id}/identities", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<IdentityResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn list_identities(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let caller = user.caller();
    let rows = state.run_db(move |conn| Ok(app::identities::identities_of(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(IdentityResponse::from).collect::<Vec<_>>()))
}

/// Links a person's provider identity to a user (admin; not one's own: 403 `own_identity`): a
/// token with this subject, or with this national id in its pid claim, then acts as the user,
/// with the user's grants. 409 `identity_taken` when it is linked to a user already.
#[utoipa::path(post, path = "/api/v1/users/{id}/identities", tag = "users", security(("bearer" = [])),
    request_body = AddIdentityRequest,
    responses((status = 201, body = IdentityResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn add_identity(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<AddIdentityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let input =
        NewIdentity { issuer: issuer_of(&state, body.issuer)?, subject: body.subject, national_id: body.national_id };
    let caller = user.caller();
    let key = state.id_key.clone();
    let row = state.run_db(move |conn| Ok(app::identities::add_identity(conn, &caller, &key, id, input)?)).await?;
    Ok(HttpResponse::Created().json(IdentityResponse::from(row)))
}

/// Unlinks a provider identity from a user (admin; not one's own). Its tokens stop working at
/// once.
#[utoipa::path(delete, path = "/api/v1/users/{id}/identities/{iid}", tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn remove_identity(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, iid) = path.into_inner();
    let caller = user.caller();
    state.run_db(move |conn| Ok(app::identities::remove_identity(conn, &caller, id, iid)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A record system registered as a client of the provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientResponse {
    pub id: i64,
    pub issuer: String,
    pub client_id: String,
    /// `active`, or `revoked` (its tokens are refused).
    pub status: String,
    /// The client's own user: it acts under this name in the audit log.
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// The legal entity whose organisation number its tokens must carry.
    pub legal_entity_id: i64,
    pub legal_entity_name: String,
    pub org_number: Option<String>,
    /// Its grants (registrar at the legal entity; none once revoked).
    pub grants: Vec<GrantResponse>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ClientView> for ClientResponse {
    fn from(v: ClientView) -> Self {
        Self {
            status: v.status().to_owned(),
            revoked_at: v.revoked_at(),
            id: v.row.id,
            issuer: v.row.issuer,
            client_id: v.row.client_id,
            user_id: v.row.user_id,
            username: v.username,
            display_name: v.display_name,
            legal_entity_id: v.row.legal_entity_id,
            legal_entity_name: v.legal_entity_name,
            org_number: v.org_number,
            grants: v.grants.into_iter().map(GrantResponse::from).collect(),
            created_by: v.row.created_by,
            created_at: v.row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClientRequest {
    /// The provider's issuer; default the configured one (`RUSREG_OIDC_ISSUER`).
    pub issuer: Option<String>,
    /// The client id the provider issued to the record system (its tokens' `client_id`).
    pub client_id: String,
    /// The record system's name, shown as its user's display name.
    pub display_name: String,
    /// The legal entity (organisation node) the system registers for.
    pub legal_entity_id: i64,
    /// Why it is registered (1–1000 characters), for the authorisation register.
    pub reason: Option<String>,
}

/// Registers a record system (admin): it gets its own user holding registrar at every unit of the
/// legal entity, and may submit for those units only. Its tokens must carry the entity's
/// organisation number (HelseID's orgnr_parent); a child organisation number narrows it to that
/// unit. 409 `client_registered` when the client id is registered already.
#[utoipa::path(post, path = "/api/v1/clients", tag = "users", security(("bearer" = [])),
    request_body = RegisterClientRequest,
    responses((status = 201, body = ClientResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn register_client(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<RegisterClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewClient {
        issuer: issuer_of(&state, body.issuer)?,
        client_id: body.client_id,
        display_name: body.display_name,
        legal_entity_id: body.legal_entity_id,
        reason: body.reason,
    };
    let today = state.today();
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::identities::register_client(conn, &caller, input, today)?)).await?;
    Ok(HttpResponse::Created().json(ClientResponse::from(view)))
}

/// The registered record systems, active and revoked, newest first (admin).
#[utoipa::path(get, path = "/api/v1/clients", tag = "users", security(("bearer" = [])), params(PageParams),
    responses((status = 200, body = Page<ClientResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_clients(
    state: web::Data<AppState>,
    user: AuthUser,
    page: Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = page.request();
    let caller = user.caller();
    let listed = state.run_db(move |conn| Ok(app::identities::clients(conn, &caller, page)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(ClientResponse::from))))
}

/// Revokes a record system's registration (admin): its user is disabled and its grants revoked,
/// so its tokens are refused at once. It stays in the list, revoked.
#[utoipa::path(delete, path = "/api/v1/clients/{id}", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = ClientResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_client(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::identities::revoke_client(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok().json(ClientResponse::from(view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/{id}/identities", web::get().to(list_identities))
        .route("/users/{id}/identities", web::post().to(add_identity))
        .route("/users/{id}/identities/{iid}", web::delete().to(remove_identity))
        .route("/clients", web::get().to(list_clients))
        .route("/clients", web::post().to(register_client))
        .route("/clients/{id}", web::delete().to(revoke_client));
}
