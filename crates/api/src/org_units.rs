//! The organisation tree over HTTP: every authenticated user may read it (it holds no personal
//! data); admins create and change nodes and move them by adding links.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::organisations::{validate_link, NewNode, NodeKind};
use persistence::organisations::{self as orgs, NodeFilter, NodeView, OrgLinkRow, OrgNodeChanges};
use persistence::{audit, in_transaction, PgConnection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only nodes of this kind.
    pub kind: Option<String>,
    /// Only children of this node.
    pub parent: Option<i64>,
    /// The day whose tree to show (default today).
    pub on: Option<NaiveDate>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Lists the organisation tree's nodes.
#[utoipa::path(get, path = "/api/v1/org-units", tag = "org-units", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<OrgUnitResponse>), (status = 401, body = crate::error::Problem)))]
pub async fn list_org_units(
    state: web::Data<AppState>,
    _user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(NodeKind::parse(k).ok_or_else(|| {
            ApiError::invalid("kind", "code_list", "kind is one of nation, region, legal_entity, unit")
        })?),
    };
    let paging = PageParams { page: q.page, per_page: q.per_page }.limit_offset()?;
    let filter = NodeFilter { kind, parent: q.parent, on: q.on, limit: paging.0, offset: paging.1 };
    let (rows, total) = state.run_db(move |conn| Ok(orgs::list_nodes(conn, &filter)?)).await?;
    Ok(HttpResponse::Ok().json(Page::new(rows.into_iter().map(OrgUnitResponse::from).collect(), paging, total)))
}

fn detail(conn: &mut PgConnection, id: i64, on: NaiveDate) -> Result<OrgUnitDetailResponse, ApiError> {
    let node = orgs::find_node(conn, id, on)?;
    let links = orgs::links_of(conn, id)?.into_iter().map(OrgLinkResponse::from).collect();
    Ok(OrgUnitDetailResponse { unit: node.into(), links })
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
    let body = state.run_db(move |conn| detail(conn, id, today)).await?;
    Ok(HttpResponse::Ok().json(body))
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

/// Finds the parent and checks that the link respects the levels of the tree.
fn check_parent(
    conn: &mut PgConnection,
    child: NodeKind,
    parent: i64,
    valid_from: NaiveDate,
    errors_so_far: Vec<domain::FieldError>,
) -> Result<(), ApiError> {
    let mut errors = errors_so_far;
    match orgs::find_node(conn, parent, valid_from) {
        Ok(p) => {
            if let Err(domain::DomainError::Invalid(mut e)) = validate_link(child, p.node.kind()?, valid_from, None) {
                errors.append(&mut e);
            }
        }
        Err(persistence::RepoError::NotFound) => {
            errors.push(domain::FieldError::new("parent_id", "not_found", "no such organisation node"))
        }
        Err(e) => return Err(e.into()),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errors))
    }
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
    user.actor.require_national(Permission::Administer)?;
    let body = body.into_inner();
    let valid_from = body.valid_from.unwrap_or_else(|| state.today());
    let parsed = NewNode::parse(&body.kind, &body.name, body.org_number.as_deref(), body.resh_id, body.is_demo);
    let (new, field_errors) = match parsed {
        Ok(n) => (Some(n), vec![]),
        Err(domain::DomainError::Invalid(e)) => (None, e),
        Err(e) => return Err(e.into()),
    };
    let entry = user.audit(Action::CreateOrgUnit, Outcome::Success).role(Some("admin"));
    let today = state.today();
    let created = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let child_kind = new.as_ref().map(|n| n.kind);
                match child_kind {
                    Some(kind) => check_parent(conn, kind, body.parent_id, valid_from, field_errors)?,
                    None => return Err(ApiError::Invalid(field_errors)),
                }
                let new = new.ok_or_else(|| ApiError::Internal("validated node missing".into()))?;
                let view = orgs::insert_node(conn, &new, Some(body.parent_id), valid_from).map_err(|e| match e {
                    persistence::RepoError::UniqueViolation(c) => ApiError::Conflict {
                        code: "conflict",
                        message: format!("an organisation node with the same identifier exists ({c})"),
                    },
                    other => other.into(),
                })?;
                audit::record(
                    conn,
                    &entry
                        .target("org_unit", view.node.id)
                        .detail(serde_json::json!({"kind": view.node.kind, "parent_id": body.parent_id})),
                )?;
                detail(conn, view.node.id, today)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
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
    user.actor.require_national(Permission::Administer)?;
    let id = id.into_inner();
    let body = body.into_inner();
    if let Some(name) = &body.name {
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(ApiError::invalid("name", "length", "name must have 1 to 200 characters"));
        }
    }
    let entry = user.audit(Action::UpdateOrgUnit, Outcome::Success).role(Some("admin")).target("org_unit", id);
    let today = state.today();
    let updated = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let changes = OrgNodeChanges {
                    name: body.name.map(|n| n.trim().to_owned()),
                    is_demo: body.is_demo,
                    updated_at: Some(chrono::Utc::now()),
                };
                orgs::update_node(conn, id, &changes)?;
                audit::record(conn, &entry)?;
                detail(conn, id, today)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(updated))
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
    user.actor.require_national(Permission::Administer)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let entry = user
        .audit(Action::CreateOrgLink, Outcome::Success)
        .role(Some("admin"))
        .target("org_unit", id)
        .detail(serde_json::json!({"parent_id": body.parent_id, "valid_from": body.valid_from}));
    let today = state.today();
    let out = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let child = orgs::find_node(conn, id, body.valid_from)?;
                check_parent(conn, child.node.kind()?, body.parent_id, body.valid_from, vec![])?;
                orgs::move_node(conn, id, body.parent_id, body.valid_from).map_err(|e| match e {
                    persistence::RepoError::UniqueViolation(_) => ApiError::Conflict {
                        code: "conflict",
                        message: "valid_from must be after the start of the current link".into(),
                    },
                    other => other.into(),
                })?;
                audit::record(conn, &entry)?;
                detail(conn, id, today)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(out))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/org-units", web::get().to(list_org_units))
        .route("/org-units", web::post().to(create_org_unit))
        .route("/org-units/{id}", web::get().to(get_org_unit))
        .route("/org-units/{id}", web::patch().to(update_org_unit))
        .route("/org-units/{id}/links", web::post().to(create_org_link));
}
