//! Reservations over HTTP (register staff): `POST /reservations` deletes every row about the
//! person in one transaction and keeps only the pseudonym; `GET /reservations` lists them with
//! the 30-day deadline of the confirmation letter; `POST /reservations/{id}/letter-sent`.
//! Audited by pseudonym only; the national id is never returned.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::national_id::NationalId;
use persistence::reservations::{self, NewReservationRow, ReservationRow};
use persistence::{audit, in_transaction, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::pagination::{Page, PageParams};
use crate::patients::ID_RULES;
use crate::state::AppState;

/// Days from receiving a reservation to the confirmation letter's deadline.
pub const LETTER_DAYS: u64 = 30;

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

fn response(r: &ReservationRow, today: NaiveDate) -> ReservationResponse {
    let due = r.received_date.checked_add_days(Days::new(LETTER_DAYS)).unwrap_or(r.received_date);
    ReservationResponse {
        id: r.id,
        received_date: r.received_date,
        letter_due: due,
        letter_sent_at: r.letter_sent_at,
        overdue: r.letter_sent_at.is_none() && today > due,
        created_at: r.created_at,
        deleted_patient_data: None,
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
    user.actor.require_national(Permission::Oversight)?;
    let body = body.into_inner();
    let today = state.today();
    let mut errors = Vec::new();
    let id = NationalId::parse_field(&body.national_id, &ID_RULES).map_err(|e| errors.push(e)).ok();
    if body.received_date > today {
        errors.push(domain::FieldError::new("received_date", "date_order", "must not be in the future"));
    }
    let Some(id) = id.filter(|_| errors.is_empty()) else { return Err(ApiError::Invalid(errors)) };
    let pseudonym = state.id_key.pseudonym(&id).to_vec();
    let actor = user.actor();
    let entry = user.audit(Action::CreateReservation, Outcome::Success).role(Some("register_staff"));
    let res = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let new = NewReservationRow {
                    id: Uuid::now_v7(),
                    pseudonym: pseudonym.clone(),
                    received_date: body.received_date,
                    created_by: actor.user_id,
                };
                let (row, deleted) = reservations::reserve(conn, &new).map_err(|e| match e {
                    RepoError::UniqueViolation(_) => ApiError::Conflict {
                        code: "already_reserved",
                        message: "the person is already on the reservation list".into(),
                    },
                    e => e.into(),
                })?;
                audit::record(
                    conn,
                    &entry
                        .target("reservation", row.id)
                        .patient(None, Some(pseudonym))
                        .detail(serde_json::json!({"deleted_patient_data": deleted.is_some()})),
                )?;
                let mut res = response(&row, today);
                res.deleted_patient_data = Some(deleted.is_some());
                Ok(res)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(res))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReservationQuery {
    /// Only reservations whose letter is not sent yet.
    pub pending: Option<bool>,
    pub page: Option<i64>,
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
    query: web::Query<ReservationQuery>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_national(Permission::Oversight)?;
    let q = query.into_inner();
    let paging = (PageParams { page: q.page, per_page: q.per_page }).limit_offset()?;
    let today = state.today();
    let entry = user.audit(Action::ListReservations, Outcome::Success).role(Some("register_staff"));
    let (rows, total) = state
        .run_db(move |conn| {
            let page = reservations::list(conn, q.pending.unwrap_or(false), paging.0, paging.1)?;
            audit::record(conn, &entry)?;
            Ok(page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::new(rows.iter().map(|r| response(r, today)).collect(), paging, total)))
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
    user.actor.require_national(Permission::Oversight)?;
    let id = id.into_inner();
    let today = state.today();
    let by = user.actor.user_id;
    let entry = user
        .audit(Action::RecordReservationLetter, Outcome::Success)
        .role(Some("register_staff"))
        .target("reservation", id);
    let row = state
        .run_db(move |conn| {
            in_transaction(conn, |conn| {
                let row = reservations::mark_letter_sent(conn, id, by)?;
                audit::record(conn, &entry.patient(None, Some(row.pseudonym.clone())))?;
                Ok(row)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(response(&row, today)))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reservations", web::post().to(create_reservation))
        .route("/reservations", web::get().to(list_reservations))
        .route("/reservations/{id}/letter-sent", web::post().to(mark_letter_sent));
}
