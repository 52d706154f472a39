//! `GET /units/{id}/worklist`: the forms due and overdue at a unit, for the unit's registrars and
//! unit contacts (the use case is `app::worklist::for_unit`).

use actix_web::{web, HttpResponse};
use app::worklist::{WorklistFilter, WorklistItem};
use chrono::NaiveDate;
use domain::worklist::WorklistItemKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Query;
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

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    /// Only items of this kind.
    #[param(value_type = Option<String>)]
    pub kind: Option<WorklistItemKind>,
    /// Only overdue items (true) or only those not yet overdue (false).
    pub overdue: Option<bool>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// The forms due and overdue at a unit, earliest due date first.
#[utoipa::path(get, path = "/api/v1/units/{id}/worklist", tag = "worklist", security(("bearer" = [])), params(WorklistQuery),
    responses((status = 200, body = Page<WorklistItemResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_worklist(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<WorklistQuery>,
) -> Result<HttpResponse, ApiError> {
    let unit = id.into_inner();
    let q = query.into_inner();
    let page = PageParams { page: q.page, per_page: q.per_page }.request();
    let filter = WorklistFilter { kind: q.kind, overdue: q.overdue };
    let today = state.today();
    let caller = user.caller();
    let config = state.settings.worklist;
    let listed = state
        .run_db(move |conn| Ok(app::worklist::for_unit(conn, &caller, unit, filter, page, today, &config)?))
        .await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(WorklistItemResponse::from))))
}

impl From<WorklistItem> for WorklistItemResponse {
    fn from(i: WorklistItem) -> Self {
        Self {
            pathway_id: i.pathway_id,
            patient_id: i.patient_id,
            kind: i.kind,
            form: i.kind.form().as_str().to_owned(),
            due_date: i.due_date,
            overdue: i.kind.is_overdue(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/units/{id}/worklist", web::get().to(get_worklist));
}
