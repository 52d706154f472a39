//! Questionnaire orders over HTTP (docs/patient-channel.md): `POST /orders` orders the patient
//! part of a baseline or measurement draft and answers with the single-use access code (the
//! only time it is shown); `GET /orders` lists them per unit, pathway and status;
//! `GET /orders/{id}` gives one with its status history; `POST /orders/{id}/cancel` cancels an
//! open one. Registrars and unit contacts of the pathway's unit; all audited.

use actix_web::{web, HttpRequest, HttpResponse};
use app::orders::{OrderView, Ordered};
use chrono::{DateTime, NaiveDate, Utc};
use domain::forms::FormId;
use persistence::orders::{OrderRow, OrderStatusRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::pagination::Page;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The baseline or measurement draft whose patient part the patient is asked to answer.
    pub form_id: Uuid,
    /// An e-mail address to tell the patient that there is something to answer (without the
    /// code). Kept only while the order is open; never shown again.
    #[schema(max_length = 254, example = "pasient@example.no")]
    pub email: Option<String>,
    /// A mobile number for the same by SMS (8 digits for a Norwegian number, or + and 8 to 15
    /// digits). Kept only while the order is open; never shown again.
    #[schema(max_length = 32, example = "+4791234567")]
    pub phone: Option<String>,
}

impl std::fmt::Debug for OrderRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderRequest").field("form_id", &self.form_id).finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderStatusChange {
    pub from_status: Option<String>,
    pub to_status: String,
    /// `user` (then `changed_by`), `system` or `patient`.
    pub actor: String,
    pub changed_by: Option<Uuid>,
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl From<OrderStatusRow> for OrderStatusChange {
    fn from(r: OrderStatusRow) -> Self {
        Self {
            from_status: r.from_status,
            to_status: r.to_status,
            actor: r.actor,
            changed_by: r.changed_by,
            reason: r.reason,
            changed_at: r.changed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderResponse {
    pub id: Uuid,
    pub pathway_id: Uuid,
    pub patient_id: Uuid,
    /// The unit that owned the pathway when the order was made.
    pub unit_id: i64,
    /// The draft the answers land in (a follow-up order gets one when answered).
    pub form_id: Option<Uuid>,
    /// baseline, measurement or follow_up.
    pub questionnaire: String,
    /// ordered, notified, opened, answered, expired, cancelled or failed.
    pub status: String,
    pub remind_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// Which attempt at the pathway's follow-up (1 for a form's patient part).
    pub attempt: i16,
    /// The user who ordered it; null when the system did (follow-ups).
    pub ordered_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The single-use code for the patient, in the answer to `POST /orders` only. Hand it over
    /// or print it into the letter; it is stored only as a hash and cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_code: Option<String>,
    /// The status history, oldest first (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<OrderStatusChange>>,
}

impl OrderResponse {
    fn of_row(r: OrderRow) -> Self {
        Self {
            id: r.id,
            pathway_id: r.pathway_id,
            patient_id: r.patient_id,
            unit_id: r.unit_id,
            form_id: r.form_id,
            questionnaire: r.questionnaire,
            status: r.status,
            remind_on: r.remind_on,
            expires_on: r.expires_on,
            attempt: r.attempt,
            ordered_by: r.ordered_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            closed_at: r.closed_at,
            access_code: None,
            history: None,
        }
    }

    fn of_view(v: OrderView) -> Self {
        let mut res = Self::of_row(v.row);
        res.history = Some(v.history.into_iter().map(OrderStatusChange::from).collect());
        res
    }
}

/// Orders the patient part of a baseline or measurement draft. The answer carries the access
/// code, once.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])),
    request_body = OrderRequest,
    responses((status = 201, body = OrderResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_order(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<OrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let form = FormId(body.form_id);
    let contacts = app::orders::Contacts { email: body.email, phone: body.phone };
    let (caller, today, config) = (user.caller(), state.today(), state.settings.orders);
    let public_url = public_url(&req, &state);
    let Ordered { view, code } = state
        .run_db(move |conn| Ok(app::orders::create(conn, &caller, form, &contacts, config, &public_url, today)?))
        .await?;
    let mut res = OrderResponse::of_view(view);
    res.access_code = Some(code.display());
    Ok(HttpResponse::Created().insert_header(("Cache-Control", "no-store")).json(res))
}

/// rusreg's external base URL for the patient's messages: `RUSREG_PUBLIC_URL`, or the scheme and
/// host the request came to.
fn public_url(req: &HttpRequest, state: &AppState) -> String {
    match &state.settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// Only orders of this unit (one the caller registers at).
    #[param(minimum = 1, maximum = 9007199254740991_i64)]
    #[validate(range(min = 1, max = crate::pagination::MAX_ID, message = "an id is between 1 and 9007199254740991"))]
    pub unit: Option<i64>,
    /// Only orders of this pathway.
    pub pathway: Option<Uuid>,
    /// Only orders in this status.
    pub status: Option<String>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// Lists the orders of the caller's units, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])),
    params(OrderQuery),
    responses((status = 200, body = Page<OrderResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn list_orders(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<OrderQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let q = app::orders::ListQuery {
        unit: q.unit,
        pathway: q.pathway,
        status: q.status,
        page: q.page,
        per_page: q.per_page,
    };
    let caller = user.caller();
    let listed = state.run_db(move |conn| Ok(app::orders::list(conn, &caller, &q)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(OrderResponse::of_row))))
}

/// One order with its status history.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses((status = 200, body = OrderResponse), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_order(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::orders::read(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok().json(OrderResponse::of_view(view)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrderRequest {
    /// Why (optional, at most 1000 characters); kept in the status history.
    pub reason: Option<String>,
}

/// Cancels an open order; its access code dies with it.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")), request_body = CancelOrderRequest,
    responses((status = 200, body = OrderResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn cancel_order(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<CancelOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, reason) = (id.into_inner(), body.into_inner().reason);
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::orders::cancel(conn, &caller, id, reason)?)).await?;
    Ok(HttpResponse::Ok().json(OrderResponse::of_view(view)))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    /// Orders made in this year (default: this year; 2000 to this year).
    #[param(minimum = 2000, maximum = 9999)]
    #[validate(range(min = crate::pagination::MIN_YEAR, max = crate::pagination::MAX_YEAR, message = "year is between 2000 and 9999"))]
    pub year: Option<i32>,
    /// baseline, measurement or follow_up (default).
    pub questionnaire: Option<String>,
}

/// What became of one unit's orders (or the nation's, in `total`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitOrderSummary {
    pub unit_id: i64,
    pub name: String,
    /// Orders made in the year.
    pub ordered: i64,
    /// Of them, with at least one message sent (e-mail by rusreg; letters and SMS as marked
    /// sent by the print service and the SMS gateway).
    pub sent: i64,
    /// Still open (ordered, notified or opened).
    pub open: i64,
    pub answered: i64,
    pub expired: i64,
    pub cancelled: i64,
    pub failed: i64,
    /// Follow-ups only: pathways whose follow-up window is open today (ending 3 or 4, consent
    /// to be contacted, no follow-up done). Null for other questionnaires.
    pub window_open: Option<i64>,
    /// Follow-ups only: of those, pathways without an open or answered follow-up order.
    pub window_without_order: Option<i64>,
}

impl From<app::orders::UnitSummary> for UnitOrderSummary {
    fn from(u: app::orders::UnitSummary) -> Self {
        let o = u.orders;
        Self {
            unit_id: u.unit_id,
            name: u.name,
            ordered: o.ordered,
            sent: o.sent,
            open: o.open,
            answered: o.answered,
            expired: o.expired,
            cancelled: o.cancelled,
            failed: o.failed,
            window_open: u.window_open,
            window_without_order: u.window_without_order,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryResponse {
    pub year: i32,
    pub questionnaire: String,
    /// The day the follow-up windows are counted on.
    pub today: NaiveDate,
    /// One line per unit with orders in the year or (follow-ups) an open window.
    pub units: Vec<UnitOrderSummary>,
    pub total: UnitOrderSummary,
}

/// Register staff's view of the patient channel's orders by unit: made, sent, open, answered,
/// expired, cancelled and failed in a year, and for follow-ups the windows open today and those
/// still without an order. Counts only.
#[utoipa::path(get, path = "/api/v1/orders/summary", tag = "orders", security(("bearer" = [])),
    params(SummaryParams),
    responses((status = 200, body = OrderSummaryResponse), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn order_summary(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<SummaryParams>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let q = app::orders::SummaryQuery { year: q.year, questionnaire: q.questionnaire };
    let (caller, today, window) = (user.caller(), state.today(), state.settings.worklist);
    let s = state.run_db(move |conn| Ok(app::orders::summary(conn, &caller, &q, window, today)?)).await?;
    Ok(HttpResponse::Ok().json(OrderSummaryResponse {
        year: s.year,
        questionnaire: s.questionnaire.as_str().to_owned(),
        today: s.today,
        units: s.units.into_iter().map(UnitOrderSummary::from).collect(),
        total: s.total.into(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders", web::post().to(create_order))
        .route("/orders", web::get().to(list_orders))
        .route("/orders/summary", web::get().to(order_summary))
        .route("/orders/{id}", web::get().to(get_order))
        .route("/orders/{id}/cancel", web::post().to(cancel_order));
}
