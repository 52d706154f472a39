//! Bulk import over HTTP: `POST /api/v1/imports` takes a batch (NDJSON, or CSV of one kind) and
//! makes it a job of `app::imports`; a batch of at most [`INLINE_ROWS`] rows runs in the request
//! (200 with the finished job), a larger one runs in the background worker (202 with its
//! `Location`). `GET /api/v1/imports/{id}` shows a job's progress, counts and first errors,
//! `GET /api/v1/imports/{id}/errors` its error report as CSV. Only the job's owner sees a job.

use std::sync::Weak;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use app::imports::{CsvKind, Format, ImportJob, NewImport, Submitted};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// A batch of at most this many rows runs within the request.
pub const INLINE_ROWS: i32 = 1000;
/// The rejected rows a job's JSON shows (the error report has them all).
pub const ERRORS_SHOWN: i64 = 100;

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check every row and store nothing (default false).
    pub dry_run: Option<bool>,
    /// Store nothing unless every row is accepted (default false: good rows are stored, bad rows
    /// reported).
    pub all_or_nothing: Option<bool>,
    /// For a CSV batch: what each row is, `pathway`, `baseline`, `measurement`, `discharge` or
    /// `follow-up` (docs/api.md lists the columns).
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorResponse {
    /// The line of the batch (1 is the first; a CSV's header is line 1).
    pub line: i32,
    /// The field (dotted for a form's nested fields), empty for the whole row.
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobResponse {
    pub id: Uuid,
    /// queued, running, completed, rolled_back (all-or-nothing with a rejected row) or failed.
    pub status: String,
    /// ndjson or csv.
    pub format: String,
    pub csv_kind: Option<String>,
    pub dry_run: bool,
    pub all_or_nothing: bool,
    /// Rows in the batch.
    pub rows: i32,
    /// Rows done so far.
    pub rows_done: i32,
    /// Rows that created an object (for a dry run: would have).
    pub created: i32,
    /// Rows that changed an object.
    pub updated: i32,
    /// Rows that changed nothing (sent before, or the patient was registered already).
    pub unchanged: i32,
    pub rejected: i32,
    /// The first rejected rows, in line order (all of them in `errors_url`).
    pub errors: Vec<ImportErrorResponse>,
    /// The error report as CSV: line, field, code, message.
    pub errors_url: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ImportJob> for ImportJobResponse {
    fn from(job: ImportJob) -> Self {
        let r = job.row;
        Self {
            id: r.id,
            status: r.status,
            format: r.format,
            csv_kind: r.csv_kind,
            dry_run: r.dry_run,
            all_or_nothing: r.all_or_nothing,
            rows: r.total_lines,
            rows_done: r.next_line,
            created: r.created_count,
            updated: r.updated_count,
            unchanged: r.unchanged_count,
            rejected: r.rejected_count,
            errors: job
                .errors
                .into_iter()
                .map(|e| ImportErrorResponse { line: e.line, field: e.field, code: e.code, message: e.message })
                .collect(),
            errors_url: format!("/api/v1/imports/{}/errors", r.id),
            created_at: r.created_at,
            finished_at: r.finished_at,
        }
    }
}

/// The batch's format from its content type (and `kind` for CSV).
fn format_of(req: &HttpRequest, kind: Option<&str>) -> Result<Format, ApiError> {
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => match kind {
            None => Ok(Format::Ndjson),
            Some(_) => Err(app::Error::invalid("kind", "not_allowed", "kind is only for a CSV batch").into()),
        },
        "text/csv" | "application/csv" => {
            let Some(kind) = kind else {
                return Err(app::Error::invalid("kind", "required", "a CSV batch needs its kind").into());
            };
            CsvKind::parse(kind).map(Format::Csv).ok_or_else(|| {
                app::Error::invalid(
                    "kind",
                    "code_list",
                    "must be pathway, baseline, measurement, discharge or follow-up",
                )
                .into()
            })
        }
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Imports a batch of patients, pathways and forms (NDJSON: `application/x-ndjson`), or CSV
/// (`text/csv`) of one `kind`. Every row runs through the same rules as the API. A batch of at
/// most 1000 rows answers 200 with the finished job; a larger one answers 202 and runs in the
/// background (`Location`: the job).
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", security(("bearer" = [])), params(ImportQuery),
    request_body(description = "NDJSON, or CSV of one `kind` (docs/api.md, Imports)",
                 content((String = "application/x-ndjson"), (String = "text/csv"))),
    responses((status = 200, body = ImportJobResponse), (status = 202, body = ImportJobResponse),
              (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_import(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    query: Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let format = format_of(&req, q.kind.as_deref())?;
    let new = NewImport {
        format,
        dry_run: q.dry_run.unwrap_or(false),
        all_or_nothing: q.all_or_nothing.unwrap_or(false),
        batch: body.to_vec(),
    };
    drop(body);
    let (caller, key, today) = (user.caller(), state.id_key.clone(), state.today());
    let inline = usize::try_from(INLINE_ROWS).unwrap_or(0);
    let submitted = state
        .run_db(move |conn| Ok(app::imports::submit(conn, &caller, &key, new, today, inline, &mut |_, _| {})?))
        .await?;
    match submitted {
        Submitted::Queued(job) => {
            state.import_wake.notify_one();
            let location = format!("/api/v1/imports/{}", job.id);
            let job = ImportJobResponse::from(ImportJob { row: job, errors: Vec::new() });
            Ok(HttpResponse::Accepted().insert_header((header::LOCATION, location)).json(job))
        }
        Submitted::Done(mut job) => {
            job.errors.truncate(usize::try_from(ERRORS_SHOWN).unwrap_or(0));
            let location = format!("/api/v1/imports/{}", job.row.id);
            Ok(HttpResponse::Ok().insert_header((header::LOCATION, location)).json(ImportJobResponse::from(job)))
        }
    }
}

/// An import job of the caller: status, progress, counts and the first rejected rows.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Import job id")),
    responses((status = 200, body = ImportJobResponse), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_import(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (id.into_inner(), user.caller());
    let job = state.run_db(move |conn| Ok(app::imports::read(conn, &caller, id, ERRORS_SHOWN)?)).await?;
    Ok(HttpResponse::Ok().json(ImportJobResponse::from(job)))
}

/// The error report of an import job of the caller, as CSV: `line,field,code,message` (never a
/// submitted value).
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors", tag = "imports", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Import job id")),
    responses((status = 200, body = String, content_type = "text/csv"), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_import_errors(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (id, caller) = (id.into_inner(), user.caller());
    let report = state.run_db(move |conn| Ok(app::imports::error_report(conn, &caller, id)?)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"import-{id}-errors.csv\"")))
        .body(report))
}

pub fn configure(cfg: &mut web::ServiceConfig, import_body_limit: usize) {
    cfg.service(
        web::resource("/imports")
            .app_data(web::PayloadConfig::new(import_body_limit))
            .route(web::post().to(create_import)),
    )
    .route("/imports/{id}", web::get().to(get_import))
    .route("/imports/{id}/errors", web::get().to(get_import_errors));
}

/// Runs queued import jobs (and resumes those whose worker has gone) on a thread of its own
/// until the server's state is dropped. Woken by a new job, or every second. When idle, it
/// deletes the finished jobs older than `RUSREG_IMPORT_RETENTION_DAYS` with their error reports
/// (one indexed delete a second).
pub fn spawn_worker(state: Weak<AppState>) {
    let spawned = std::thread::Builder::new().name("rusreg-imports".into()).spawn(move || loop {
        let Some(state) = state.upgrade() else { return };
        let wake = state.import_wake.clone();
        let ran = match state.pool.get() {
            Ok(mut conn) => {
                let today = state.today();
                let ran = match app::imports::run_next(&mut conn, &state.id_key, today, None, &mut |_, _| {}) {
                    Ok(job) => job.is_some(),
                    Err(e) => {
                        tracing::error!(error = %e, "the import worker could not run a job");
                        false
                    }
                };
                if !ran {
                    match app::imports::delete_finished(&mut conn, state.settings.import_retention_days) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(jobs = n, "finished import jobs past their retention deleted"),
                        Err(e) => tracing::error!(error = %e, "the import worker could not delete old jobs"),
                    }
                }
                ran
            }
            Err(_) => false,
        };
        drop(state);
        if !ran {
            wake.wait_timeout(Duration::from_secs(1));
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the import worker could not start");
    }
}

/// Wakes the import worker when a job is queued.
#[derive(Default)]
pub struct Wake {
    pending: std::sync::Mutex<bool>,
    signal: std::sync::Condvar,
}

impl Wake {
    pub fn notify_one(&self) {
        if let Ok(mut p) = self.pending.lock() {
            *p = true;
            self.signal.notify_one();
        }
    }

    pub fn wait_timeout(&self, timeout: Duration) {
        let Ok(p) = self.pending.lock() else { return };
        if let Ok((mut p, _)) = self.signal.wait_timeout_while(p, timeout, |p| !*p) {
            *p = false;
        }
    }
}
