//! Reservations over HTTP (register staff): `POST /reservations` deletes every row about the
//! person in one transaction and keeps only the pseudonym; `GET /reservations` lists them with
//! the 30-day deadline of the confirmation letter; `POST /reservations/{id}/letter-sent`.
//! Audited by pseudonym only; the national id is never returned.

use actix_web::{web, HttpResponse};
use app::reservations::{ReservationInput, ReservationView};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::extract::Query;
use crate::pagination::{Page, PageParams};
use crate::state::AppState;

pub use app::reservations::LETTER_DAYS;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    /// The person's national id (never returned or logged).
    pub national_id: String,
    /// The day the reservation reached the register (not in the future).
    pub received_date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationResponse {
    pub id: Uuid,
    pub received_date: NaiveDate,
    /// received_date + 30 days.
    pub letter_due: NaiveDate,
    pub letter_sent_at: Option<DateTime<Utc>>,
    /// The letter is not sent and the deadline has passed.
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
    /// Whether registered data was deleted (only in the answer to POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_patient_data: Option<bool>,
}

impl From<ReservationView> for ReservationResponse {
    fn from(v: ReservationView) -> Self {
        Self {
            id: v.row.id,
            received_date: v.row.received_date,
            letter_due: v.letter_due,
            letter_sent_at: v.row.letter_sent_at,
            overdue: v.overdue,
            created_at: v.row.created_at,
            deleted_patient_data: None,
        }
    }
}

/// Records a reservation: deletes every row about the person and blocks registering them again.
#[utoipa::path(post, path = "/api/v1/reservations", tag = "reservations", security(("bearer" = [])),
    request_body = ReservationRequest,
    responses((status = 201, body = ReservationResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_reservation(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<ReservationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = ReservationInput { national_id: body.national_id, received_date: body.received_date };
    let today = state.today();
    let caller = user.caller();
    let key = state.id_key.clone();
    let reserved = state.run_db(move |conn| Ok(app::reservations::reserve(conn, &caller, &key, input, today)?)).await?;
    let mut res = ReservationResponse::from(reserved.view);
    res.deleted_patient_data = Some(reserved.deleted_patient_data);
    Ok(HttpResponse::Created().json(res))
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ReservationQuery {
    /// Only reservations whose letter is not sent yet.
    pub pending: Option<bool>,
    /// Page number, from 1 to 1,000,000.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// Lists reservations, letters still to send first (oldest first), with the deadline.
#[utoipa::path(get, path = "/api/v1/reservations", tag = "reservations", security(("bearer" = [])),
    params(ReservationQuery),
    responses((status = 200, body = Page<ReservationResponse>), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn list_reservations(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ReservationQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageParams { page: q.page, per_page: q.per_page }.request();
    let today = state.today();
    let caller = user.caller();
    let pending = q.pending.unwrap_or(false);
    let listed = state.run_db(move |conn| Ok(app::reservations::list(conn, &caller, pending, page, today)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from(listed.map(ReservationResponse::from))))
}
/// Marks the confirmation letter sent (idempotent: the first time is kept).
#[utoipa::path(post, path = "/api/v1/reservations/{id}/letter-sent", tag = "reservations", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Reservation id")),
    responses((status = 200, body = ReservationResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn mark_letter_sent(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let today = state.today();
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::reservations::mark_letter_sent(conn, &caller, id, today)?)).await?;
    Ok(HttpResponse::Ok().json(ReservationResponse::from(view)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reservations", web::post().to(create_reservation))
        .route("/reservations", web::get().to(list_reservations))
        .route("/reservations/{id}/letter-sent", web::post().to(mark_letter_sent));
}
