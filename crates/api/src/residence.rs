//! The residence reference data (docs/residence.md): `POST /residence/areas`,
//! `POST /residence/catchment` and `POST /residence/population`, CSV imports for register staff.

use actix_web::{web, HttpRequest, HttpResponse};
use app::residence::{ResidenceImport, Table};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ResidenceImportParams {
    /// Check everything and store nothing.
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResidenceImportResponse {
    /// `areas`, `catchment` or `population`.
    pub table: String,
    /// Lines read.
    pub rows: usize,
    /// Periods added (areas, catchment), or counts stored (population: added or replaced).
    pub created: usize,
    /// Periods corrected (name, end, successor, trust).
    pub changed: usize,
    /// Lines equal to what was stored.
    pub unchanged: usize,
    pub dry_run: bool,
}

async fn run_import(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: Query<ResidenceImportParams>,
    body: web::Bytes,
    table: Table,
) -> Result<HttpResponse, ApiError> {
    if !crate::extract::is_csv(&req) {
        return Err(app::Error::UnsupportedFormat.into());
    }
    let dry_run = query.dry_run.unwrap_or(false);
    let caller = user.caller();
    let ResidenceImport { table, rows, created, changed, unchanged, dry_run } =
        state.run_db(move |conn| Ok(app::residence::import(conn, &caller, table, &body, dry_run, false)?)).await?;
    Ok(HttpResponse::Ok().json(ResidenceImportResponse {
        table: table.as_str().to_owned(),
        rows,
        created,
        changed,
        unchanged,
        dry_run,
    }))
}

/// Imports municipalities and city districts with their validity periods (register staff; CSV
/// `code;name;valid_from;valid_to;successor`). One bad line refuses the file, with every bad
/// line as `rows[<line>].<column>`.
#[utoipa::path(post, path = "/api/v1/residence/areas", tag = "residence", security(("bearer" = [])),
    params(ResidenceImportParams), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ResidenceImportResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn import_areas(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: Query<ResidenceImportParams>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_import(state, user, req, query, body, Table::Areas).await
}

/// Imports catchment areas: the health trust responsible for an area over a period (register
/// staff; CSV `area_code;trust_org_number;valid_from;valid_to`).
#[utoipa::path(post, path = "/api/v1/residence/catchment", tag = "residence", security(("bearer" = [])),
    params(ResidenceImportParams), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ResidenceImportResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn import_catchment(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: Query<ResidenceImportParams>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_import(state, user, req, query, body, Table::Catchment).await
}

/// Imports the population by area, sex, age and year in Statistics Norway's table layout
/// (register staff; columns `region`, `kjønn`, `alder`, `år`, the count last). A count already
/// stored for the same area, sex, age and year is replaced.
#[utoipa::path(post, path = "/api/v1/residence/population", tag = "residence", security(("bearer" = [])),
    params(ResidenceImportParams), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ResidenceImportResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn import_population(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: Query<ResidenceImportParams>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    run_import(state, user, req, query, body, Table::Population).await
}

/// The routes, with the import body limit (a national population file is several megabytes).
pub fn configure(cfg: &mut web::ServiceConfig, body_limit: usize) {
    for (path, handler) in [
        ("/residence/areas", Table::Areas),
        ("/residence/catchment", Table::Catchment),
        ("/residence/population", Table::Population),
    ] {
        let resource = web::resource(path).app_data(web::PayloadConfig::new(body_limit));
        cfg.service(match handler {
            Table::Areas => resource.route(web::post().to(import_areas)),
            Table::Catchment => resource.route(web::post().to(import_catchment)),
            Table::Population => resource.route(web::post().to(import_population)),
        });
    }
}
