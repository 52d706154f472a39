//! The organisation tree over HTTP: every authenticated user may read it (it holds no personal
//! data); admins create and change nodes and move them by adding links.

use actix_web::{web, HttpResponse};
use app::organisations::{NodeDetail, NodeInput, NodeQuery};
use chrono::NaiveDate;
use persistence::organisations::{NodeView, OrgLinkRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Query;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgUnitResponse {
    pub id: i64,
    /// nation, region, legal_entity or unit.
    pub kind: String,
    pub name: String,
    pub org_number: Option<String>,
    pub resh_id: Option<i64>,
    /// Made-up demo data, not a real organisation.
    pub is_demo: bool,
    /// The parent on the day asked for (default today).
    pub parent_id: Option<i64>,
}

impl From<NodeView> for OrgUnitResponse {
    fn from(v: NodeView) -> Self {
        Self {
            id: v.node.id,
            kind: v.node.kind,
            name: v.node.name,
            org_number: v.node.org_number,
            resh_id: v.node.resh_id,
            is_demo: v.node.is_demo,
            parent_id: v.parent_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgLinkResponse {
    pub id: i64,
    pub parent_id: i64,
    pub valid_from: NaiveDate,
    /// Exclusive; null while the link is valid.
    pub valid_to: Option<NaiveDate>,
}

impl From<OrgLinkRow> for OrgLinkResponse {
    fn from(l: OrgLinkRow) -> Self {
        Self { id: l.id, parent_id: l.parent_id, valid_from: l.valid_from, valid_to: l.valid_to }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgUnitDetailResponse {
    #[serde(flatten)]
    pub unit: OrgUnitResponse,
    /// Every link to a parent, oldest first.
    pub links: Vec<OrgLinkResponse>,
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only nodes of this kind.
    pub kind: Option<String>,
    /// Only children of this node.
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub parent: Option<i64>,
    /// The day whose tree to show (default today).
    pub on: Option<NaiveDate>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// Lists the organisation tree's nodes.
#[utoipa::path(get, path = "/api/v1/org-units", tag = "org-units", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<OrgUnitResponse>), (status = 401, body = crate::error::Problem)))]
pub async fn list_org_units(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageParams { page: q.page, per_page: q.per_page }.request();
    let filter = NodeQuery { kind: q.kind, parent: q.parent, on: q.on };
    let listed = state.run_db(move |conn| Ok(app::organisations::list(conn, &filter, page)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(OrgUnitResponse::from))))
}

impl From<NodeDetail> for OrgUnitDetailResponse {
    fn from(d: NodeDetail) -> Self {
        Self { unit: d.node.into(), links: d.links.into_iter().map(OrgLinkResponse::from).collect() }
    }
}

/// One node with its link history.
#[utoipa::path(get, path = "/api/v1/org-units/{id}", tag = "org-units", security(("bearer" = [])),
    responses((status = 200, body = OrgUnitDetailResponse), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_org_unit(
    state: web::Data<AppState>,
    _user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let today = state.today();
    let node = state.run_db(move |conn| Ok(app::organisations::read(conn, id, today)?)).await?;
    Ok(HttpResponse::Ok().json(OrgUnitDetailResponse::from(node)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgUnitRequest {
    /// region, legal_entity or unit.
    pub kind: String,
    pub name: String,
    /// Required for regions and legal entities; checked by its mod-11 check digit.
    pub org_number: Option<String>,
    /// Required for units.
    pub resh_id: Option<i64>,
    /// The parent node: the nation for a region, a region for a legal entity, a legal entity for a unit.
    pub parent_id: i64,
    /// First day of the link to the parent (default today).
    pub valid_from: Option<NaiveDate>,
    #[serde(default)]
    pub is_demo: bool,
}

/// Creates a node under a parent (admin).
#[utoipa::path(post, path = "/api/v1/org-units", tag = "org-units", security(("bearer" = [])), request_body = CreateOrgUnitRequest,
    responses((status = 201, body = OrgUnitDetailResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_org_unit(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<CreateOrgUnitRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NodeInput {
        kind: body.kind,
        name: body.name,
        org_number: body.org_number,
        resh_id: body.resh_id,
        parent_id: body.parent_id,
        valid_from: body.valid_from,
        is_demo: body.is_demo,
    };
    let today = state.today();
    let caller = user.caller();
    let created = state.run_db(move |conn| Ok(app::organisations::create(conn, &caller, input, today)?)).await?;
    Ok(HttpResponse::Created().json(OrgUnitDetailResponse::from(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgUnitRequest {
    pub name: Option<String>,
    pub is_demo: Option<bool>,
}

/// Changes a node's name or demo flag (admin). Identifiers (organisation number, RESH-id) are
/// permanent and cannot be changed.
#[utoipa::path(patch, path = "/api/v1/org-units/{id}", tag = "org-units", security(("bearer" = [])), request_body = UpdateOrgUnitRequest,
    responses((status = 200, body = OrgUnitDetailResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn update_org_unit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: JsonBody<UpdateOrgUnitRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let today = state.today();
    let caller = user.caller();
    let updated = state
        .run_db(move |conn| Ok(app::organisations::update(conn, &caller, id, body.name, body.is_demo, today)?))
        .await?;
    Ok(HttpResponse::Ok().json(OrgUnitDetailResponse::from(updated)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLinkRequest {
    pub parent_id: i64,
    /// The first day under the new parent; the current link ends the day before.
    pub valid_from: NaiveDate,
}

/// Moves a node to another parent from a date (admin): the current link is closed, a new one
/// opened, so reports can group as registered or as of today.
#[utoipa::path(post, path = "/api/v1/org-units/{id}/links", tag = "org-units", security(("bearer" = [])), request_body = CreateLinkRequest,
    responses((status = 201, body = OrgUnitDetailResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_org_link(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: JsonBody<CreateLinkRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner();
    let today = state.today();
    let caller = user.caller();
    let moved = state
        .run_db(move |conn| {
            Ok(app::organisations::move_node(conn, &caller, id, body.parent_id, body.valid_from, today)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(OrgUnitDetailResponse::from(moved)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/org-units", web::get().to(list_org_units))
        .route("/org-units", web::post().to(create_org_unit))
        .route("/org-units/{id}", web::get().to(get_org_unit))
        .route("/org-units/{id}", web::patch().to(update_org_unit))
        .route("/org-units/{id}/links", web::post().to(create_org_link));
}
