//! `Organization`: the organisation tree (nation, health regions, legal entities, units), read
//! and searched through the same use cases as `/api/v1/org-units` (open to every signed-in
//! user; no personal data). Identifiers: the RESH id (`urn:oid:2.16.578.1.12.4.1.4.102`) and the
//! organisation number (`urn:oid:2.16.578.1.12.4.1.4.101`), the systems HL7 Norway's no-basis
//! profiles use; `partOf` is the parent on the day asked for (today unless `date` is given).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use app::organisations::NodeQuery;
use app::paging::PageRequest;
use chrono::NaiveDate;
use fhirbolt::model::r4::resources::Organization;
use fhirbolt::model::r4::types::{Boolean, CodeableConcept, Identifier, Reference};
use fhirbolt::model::r4::Resource;
use persistence::organisations::NodeView;

use super::{respond, searchset, SearchQuery};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// RESH (Register for enheter i spesialisthelsetjenesten).
pub const RESH_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.102";
/// The organisation number of the Central Coordinating Register for Legal Entities (ENH).
pub const ORG_NUMBER_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.101";

/// The Organization of a node, with its parent on the day it was read for.
pub fn organization(view: &NodeView) -> Organization {
    let n = &view.node;
    let mut identifier = Vec::new();
    if let Some(resh) = n.resh_id {
        identifier.push(Identifier {
            system: Some(RESH_SYSTEM.into()),
            value: Some(resh.to_string().into()),
            ..Default::default()
        });
    }
    if let Some(number) = &n.org_number {
        identifier.push(Identifier {
            system: Some(ORG_NUMBER_SYSTEM.into()),
            value: Some(number.clone().into()),
            ..Default::default()
        });
    }
    Organization {
        id: Some(n.id.to_string().into()),
        identifier,
        active: Some(Boolean::from(true)),
        r#type: vec![CodeableConcept { text: Some(n.kind.clone().into()), ..Default::default() }],
        name: Some(n.name.clone().into()),
        part_of: view
            .parent_id
            .map(|p| Box::new(Reference { reference: Some(format!("Organization/{p}").into()), ..Default::default() })),
        ..Default::default()
    }
}

fn entry(view: &NodeView) -> (String, Resource) {
    (format!("/fhir/Organization/{}", view.node.id), Resource::Organization(Box::new(organization(view))))
}

/// A date parameter (`YYYY-MM-DD`, or with the prefix `eq`).
pub fn date_param(name: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw.strip_prefix("eq").unwrap_or(raw), "%Y-%m-%d").map_err(|_| {
        ApiError::InvalidQuery(vec![domain::FieldError::new(name, "format", "must be a date, YYYY-MM-DD")])
    })
}

/// An id of the register's own (a positive integer) from a path or `_id`; `None` when it cannot
/// be one, which reads as "no such resource".
fn node_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|i| *i > 0)
}

/// `GET /fhir/Organization/{id}`: the node as of today.
pub async fn read(
    state: web::Data<AppState>,
    _user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = node_id(&id).ok_or(ApiError::NotFound)?;
    let today = state.today();
    let detail = state.run_db(move |conn| Ok(app::organisations::read(conn, id, today)?)).await?;
    respond(StatusCode::OK, &organization(&detail.node))
}

/// `GET /fhir/Organization?...`: `_id`, `identifier` (`system|value`, or a value of either
/// system), `partof` (a node id), `type` (nation, region, legal_entity, unit) and `date` (the
/// day whose tree to show, default today).
pub async fn search(state: web::Data<AppState>, _user: AuthUser, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("Organization"))?;
    let on = query.get("date").map(|d| date_param("date", d)).transpose()?.unwrap_or_else(|| state.today());
    let partof = match query.get("partof") {
        None => None,
        Some(raw) => {
            let raw = raw.strip_prefix("Organization/").unwrap_or(raw);
            Some(node_id(raw).ok_or_else(|| {
                ApiError::InvalidQuery(vec![domain::FieldError::new("partof", "format", "must be an Organization id")])
            })?)
        }
    };
    let kind = query.get("type").map(str::to_owned);
    if kind.as_deref().is_some_and(|k| domain::organisations::NodeKind::parse(k).is_none()) {
        return Err(ApiError::InvalidQuery(vec![domain::FieldError::new(
            "type",
            "code_list",
            "is one of nation, region, legal_entity, unit",
        )]));
    }
    let id = query.get("_id").map(|raw| node_id(raw).unwrap_or(-1));
    let identifier = query.get("identifier").map(str::to_owned);
    let path = "/fhir/Organization";
    let (count, page) = (query.count, query.page);
    let found: (usize, Vec<NodeView>) = state
        .run_db(move |conn| {
            // `_id` and `identifier` name at most one node; the other parameters then filter it.
            let single = if let Some(id) = id {
                Some(match app::organisations::read(conn, id, on) {
                    Ok(d) => Some(d.node),
                    Err(app::Error::NotFound) => None,
                    Err(e) => return Err(e.into()),
                })
            } else if let Some(raw) = identifier {
                let (system, value) = match raw.split_once('|') {
                    Some((s, v)) => (Some(s.to_owned()), v.to_owned()),
                    None => (None, raw),
                };
                let resh = match system.as_deref() {
                    Some(RESH_SYSTEM) | None => value.parse::<i64>().ok(),
                    _ => None,
                };
                let number = match system.as_deref() {
                    Some(ORG_NUMBER_SYSTEM) | None => Some(value.as_str()),
                    _ => None,
                };
                let mut hit = app::organisations::find_by_identifier(conn, resh, None, on)?;
                if hit.is_none() {
                    hit = app::organisations::find_by_identifier(conn, None, number, on)?;
                }
                Some(hit)
            } else {
                None
            };
            if let Some(hit) = single {
                let hit: Vec<NodeView> = hit
                    .into_iter()
                    .filter(|v| partof.is_none_or(|p| v.parent_id == Some(p)))
                    .filter(|v| kind.as_deref().is_none_or(|k| v.node.kind == k))
                    .collect();
                let total = hit.len();
                let items = if page == 1 { hit } else { Vec::new() };
                return Ok((total, items));
            }
            let q = NodeQuery { kind, parent: partof, on: Some(on) };
            let request = PageRequest {
                page: Some(i64::try_from(page).unwrap_or(i64::MAX)),
                per_page: Some(i64::try_from(count).unwrap_or(i64::MAX)),
            };
            let paged = app::organisations::list(conn, &q, request)?;
            Ok((usize::try_from(paged.total).unwrap_or(0), paged.items))
        })
        .await?;
    let (total, items) = found;
    respond(StatusCode::OK, &searchset(path, &query, total, items.iter().map(entry).collect()))
}
