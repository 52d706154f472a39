//! `AppState`: the pools, settings and keys every handler shares, and `run_db`, which runs
//! blocking database work off the async executor.

use std::sync::Arc;

use actix_web::web;
use chrono::NaiveDate;
use persistence::{DbPool, PgConnection};

use crate::config::Settings;
use crate::error::ApiError;
use crate::tokens::Tokens;

pub struct AppState {
    /// The primary: registration, administration, audit.
    pub pool: DbPool,
    /// Reports and downloads read here (a streaming replica when configured).
    pub reports_pool: DbPool,
    pub settings: Arc<Settings>,
    pub tokens: Tokens,
    /// An argon2id hash of a random password, verified against when the user is unknown so
    /// that an unknown user costs the same work as a wrong password.
    pub dummy_hash: String,
    pub metrics: crate::metrics::Metrics,
    /// Key of the national-id pseudonym (HMAC) and encryption (AES-GCM), and of typed usernames.
    pub id_key: Arc<domain::national_id::IdKey>,
    /// Login attempts per source address and per typed username.
    pub login_limits: Arc<crate::login_limits::LoginLimits>,
    /// Sign-ins on the patient pages per source address.
    pub patient_limits: Arc<crate::login_limits::LoginLimits>,
    /// The patient pages' session tokens.
    pub patient_sessions: Arc<crate::patient_pages::PatientSessions>,
    /// Logins (argon2) running at once: half the cores, at least one, so that a burst of logins
    /// leaves cores for everything else.
    pub login_slots: Arc<tokio::sync::Semaphore>,
    /// The public slices of published releases, shared by the public JSON and `/results`.
    pub public_cache: Arc<app::reports::PublicCache>,
    /// The OpenID provider whose access tokens are accepted (`RUSREG_OIDC_ISSUER`).
    pub oidc: Option<Arc<crate::oidc::Provider>>,
    /// Wakes the import worker when a large batch is queued.
    pub import_wake: Arc<crate::imports::Wake>,
    /// Wakes the release job worker when a release is queued.
    pub release_wake: Arc<crate::imports::Wake>,
}

impl AppState {
    /// Runs `f` with a connection of the primary pool on the blocking thread pool.
    pub async fn run_db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        run_on(self.pool.clone(), f).await
    }

    /// Runs `f` with a connection of the reports pool.
    pub async fn run_reports<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        run_on(self.reports_pool.clone(), f).await
    }

    /// Runs a use case that reads reports (`app::Databases`: both pools) on the blocking pool.
    pub async fn run_reports_use_case<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(app::Databases<'_>) -> Result<T, app::Error> + Send + 'static,
        T: Send + 'static,
    {
        let (primary, reports) = (self.pool.clone(), self.reports_pool.clone());
        let out = web::block(move || f(app::Databases { primary: &primary, reports: &reports }))
            .await
            .map_err(ApiError::internal)?;
        Ok(out?)
    }

    /// What every report is computed with (today, the due-date limits, the threshold k).
    pub fn report_settings(&self) -> app::reports::ReportSettings {
        app::reports::ReportSettings {
            today: self.today(),
            limits: self.settings.worklist,
            min_cell: self.settings.min_cell,
        }
    }

    pub fn today(&self) -> NaiveDate {
        domain::clock::today()
    }
}

/// The r2d2 checkout and every diesel call block: both run inside `web::block`.
async fn run_on<T, F>(pool: DbPool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(move || {
        let mut conn = pool.get().map_err(|_| ApiError::Unavailable)?;
        f(&mut conn)
    })
    .await
    .map_err(ApiError::internal)?
}
