//! `GET /units/{id}/worklist`: the forms due and overdue at a unit (DOMAIN §6), for the unit's
//! registrars and unit contacts. The facts come from one set-based query; the due-date rules are
//! `domain::worklist::worklist_items` with the configured time limits.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::worklist::{worklist_items, WorklistConfig, WorklistItemKind};
use persistence::{audit, organisations, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistItemResponse {
    pub pathway_id: Uuid,
    pub patient_id: Uuid,
    /// baseline_due, baseline_overdue, measurement_due, measurement_late, measurement_missing,
    /// possibly_ended, follow_up_window_open, follow_up_due, follow_up_overdue.
    #[schema(value_type = String)]
    pub kind: WorklistItemKind,
    /// The form to register: baseline, measurement, discharge or follow-up.
    pub form: String,
    pub due_date: NaiveDate,
    pub overdue: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    /// Only items of this kind.
    #[param(value_type = Option<String>)]
    pub kind: Option<WorklistItemKind>,
    /// Only overdue items (true) or only those not yet overdue (false).
    pub overdue: Option<bool>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Days after a discharge during which its follow-up can still be on the worklist: the window
/// closes 14 months after the discharge; overdue follow-ups stay listed for another 3 months.
fn follow_up_horizon_days(config: &WorklistConfig) -> i32 {
    i32::try_from(config.follow_up_closes_months).unwrap_or(14) * 31 + 92
}

/// The forms due and overdue at a unit, earliest due date first.
#[utoipa::path(get, path = "/api/v1/units/{id}/worklist", tag = "worklist", security(("bearer" = [])), params(WorklistQuery),
    responses((status = 200, body = Page<WorklistItemResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_worklist(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: web::Query<WorklistQuery>,
) -> Result<HttpResponse, ApiError> {
    let unit = id.into_inner();
    let q = query.into_inner();
    let paging = PageParams { page: q.page, per_page: q.per_page }.limit_offset()?;
    let today = state.today();
    let actor = user.actor();
    let entry = user.audit(Action::ReadWorklist, Outcome::Success).unit(Some(unit)).target("unit", unit);
    let config = state.settings.worklist;
    let (items, total) = state
        .run_db(move |conn| {
            let node = match organisations::find_node(conn, unit, today) {
                Ok(n) if n.node.kind == "unit" => n,
                Ok(_) | Err(RepoError::NotFound) => return Err(ApiError::NotFound),
                Err(e) => return Err(e.into()),
            };
            let path = organisations::path_of(conn, node.node.id, today)?;
            actor.require(Permission::Worklist, &path)?;
            let role = actor.role_for(Permission::Worklist, &path).map(|r| r.as_str());
            let facts = persistence::worklist::facts_for_unit(conn, unit, today, follow_up_horizon_days(&config))?;
            let mut items: Vec<WorklistItemResponse> = facts
                .iter()
                .flat_map(|p| {
                    worklist_items(&p.facts, today, &config).into_iter().map(move |item| WorklistItemResponse {
                        pathway_id: p.pathway_id,
                        patient_id: p.patient_id,
                        kind: item.kind,
                        form: item.kind.form().as_str().to_owned(),
                        due_date: item.due_date,
                        overdue: item.kind.is_overdue(),
                    })
                })
                .filter(|i| q.kind.is_none_or(|k| k == i.kind) && q.overdue.is_none_or(|o| o == i.overdue))
                .collect();
            items.sort_by_key(|i| (i.due_date, i.pathway_id, i.kind));
            let total = items.len() as i64;
            audit::record(conn, &entry.role(role).detail(serde_json::json!({"items": total})))?;
            let page: Vec<_> = items.into_iter().skip(paging.1 as usize).take(paging.0 as usize).collect();
            Ok((page, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(items, paging, total)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/units/{id}/worklist", web::get().to(get_worklist));
}
