//! Configuration: every environment variable rusreg reads, in one place (docs/operations.md
//! lists the same).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | — (demo: the managed cluster) | PostgreSQL connection URL of the primary |
//! | `RUSREG_REPORTS_DATABASE_URL` | `DATABASE_URL` | where reports read (a streaming replica) |
//! | `RUSREG_OWNER_DATABASE_URL` | `DATABASE_URL` | the schema owner's URL: `migrate`, `seed-reference`, `seed` |
//! | `RUSREG_BIND` | `127.0.0.1:8080` | address the HTTP server listens on |
//! | `RUSREG_DATA_DIR` | `.rusreg` | data folder of the managed cluster (demo) |
//! | `RUSREG_JWT_SECRET` | — (demo: generated) | HS256 signing secret, at least 32 bytes |
//! | `RUSREG_JWT_SECRET_FILE` | — | file holding the secret (instead of the variable) |
//! | `RUSREG_TOKEN_MINUTES` | `15` | lifetime of an access token |
//! | `RUSREG_ID_KEY` | — (demo: generated) | 32-byte key (base64 or hex) for national-id pseudonyms and encryption |
//! | `RUSREG_ID_KEY_FILE` | — | file holding that key |
//! | `RUSREG_MIN_CELL` | `5` | suppression threshold k (never below 3) |
//! | `RUSREG_DB_POOL_SIZE` | `16` | connections in the primary pool |
//! | `RUSREG_REPORTS_POOL_SIZE` | `4` | connections in the reports pool |
//! | `RUSREG_BODY_LIMIT` | `1048576` | largest request body in bytes |
//! | `RUSREG_IMPORT_BODY_LIMIT` | `268435456` | largest import batch (`POST /api/v1/imports`) in bytes |
//! | `RUSREG_IMPORT_RETENTION_DAYS` | `30` | finished import jobs and their error reports are deleted this many days after they end |
//! | `RUSREG_LOG_FORMAT` | `pretty` | `pretty` or `json` |
//! | `RUSREG_LOG` | `info` | log filter (tracing EnvFilter syntax) |
//! | `RUSREG_DEMO_PASSWORD` | — (generated) | password of the demo users (`rusreg demo`) |
//! | `RUSREG_WORKERS` | number of cores | HTTP worker threads |
//! | `RUSREG_WORKLIST` | the limits of docs/domain.md, Time limits | JSON object overriding worklist time limits |
//! | `RUSREG_DEMO_PATHWAYS` | `20000` | size of the demo's synthetic population (first run) |
//! | `RUSREG_METRICS_BIND` | — | a second address serving only `/metrics`, without a token |
//! | `RUSREG_METRICS_TOKEN` | — | bearer token (32+ characters) for `/metrics` on `RUSREG_BIND` |
//! | `RUSREG_LOGIN_LIMIT_PER_ADDRESS` | `100` | login attempts a minute from one source address (0: no limit) |
//! | `RUSREG_LOGIN_LIMIT_PER_USERNAME` | `10` | login attempts a minute for one typed username (0: no limit) |
//! | `RUSREG_PASSWORD_LOGIN` | `on` | `off`: no password sign-in, and rusreg's own tokens are refused |
//! | `RUSREG_OIDC_ISSUER` | — | the OpenID provider's issuer (HelseID); set, its access tokens are accepted |
//! | `RUSREG_OIDC_AUDIENCE` | — (required with the issuer) | the `aud` rusreg's tokens carry |
//! | `RUSREG_OIDC_SCOPE` | — (required with the issuer) | a scope every token must carry |
//! | `RUSREG_OIDC_ALGORITHMS` | `RS256` | the provider's signing algorithms accepted (RS256, PS256, ES256) |
//! | `RUSREG_OIDC_LEEWAY_SECONDS` | `30` | clock skew allowed on `exp`, `nbf` and `iat` (at most 300) |
//! | `RUSREG_OIDC_REQUIRE_DPOP` | `off` | `on`: only DPoP-bound tokens are accepted |
//! | `RUSREG_OIDC_JWKS_MAX_AGE_SECONDS` | `600` | the provider's keys are fetched again when this old |
//! | `RUSREG_OIDC_JWKS_MIN_REFRESH_SECONDS` | `10` | an unknown key id fetches the keys at most this often |
//! | `RUSREG_PUBLIC_URL` | — (the request's host) | rusreg's external base URL, for DPoP proofs' `htu` |
//! | `RUSREG_PATIENT_COOKIE_SECURE` | `true` | mark the patient pages' session cookie Secure (HTTPS only) |
//! | `RUSREG_ORDERS` | reminder 15, expiry 30 days | JSON object overriding the questionnaire orders' days and limits |
//! | `RUSREG_SMTP_HOST` | — (no e-mail is sent) | the SMTP server the patient channel's e-mail goes through |
//! | `RUSREG_SMTP_PORT` | `587` (`465` with `tls`, `25` with `none`) | its port |
//! | `RUSREG_SMTP_TLS` | `starttls` | `starttls` (required), `tls` (from the first byte) or `none` |
//! | `RUSREG_SMTP_USERNAME` | — | SMTP user (with the password) |
//! | `RUSREG_SMTP_PASSWORD` | — | SMTP password (with the user) |
//! | `RUSREG_SMTP_FROM` | — (required with the host) | the sender address, `KvaRus <noreply@example.no>` |
//! | `RUSREG_SMTP_TIMEOUT_SECONDS` | `30` | connecting and every SMTP command time out after this |
//! | `RUSREG_SMTP_RETRY_SECONDS` | `60` | delay after the first failed attempt; it doubles each time, up to 6 hours |
//! | `RUSREG_SMTP_MAX_ATTEMPTS` | `8` | attempts before a message is given up |
//! | `RUSREG_SCHEDULER` | `on` | `off`: `serve` runs neither the order scheduler nor the e-mail sender |
//! | `RUSREG_SCHEDULER_INTERVAL_SECONDS` | `300` | how often `serve` runs the scheduler's pass and the e-mail sender |
//! | `RUSREG_DIGEST_HOUR` | `6` | the hour (Norwegian time, 0–23) from which `serve`'s scheduler makes the day's unit digests |

use std::path::PathBuf;

/// Every environment variable rusreg reads (the binary's `RUSREG_NEW_PASSWORD` for `user add`
/// included). docs/operations.md and deploy/rusreg.env.example are checked against this list.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "RUSREG_REPORTS_DATABASE_URL",
    "RUSREG_OWNER_DATABASE_URL",
    "RUSREG_BIND",
    "RUSREG_DATA_DIR",
    "RUSREG_JWT_SECRET",
    "RUSREG_JWT_SECRET_FILE",
    "RUSREG_TOKEN_MINUTES",
    "RUSREG_ID_KEY",
    "RUSREG_ID_KEY_FILE",
    "RUSREG_MIN_CELL",
    "RUSREG_DB_POOL_SIZE",
    "RUSREG_REPORTS_POOL_SIZE",
    "RUSREG_BODY_LIMIT",
    "RUSREG_IMPORT_BODY_LIMIT",
    "RUSREG_IMPORT_RETENTION_DAYS",
    "RUSREG_LOG_FORMAT",
    "RUSREG_LOG",
    "RUSREG_DEMO_PASSWORD",
    "RUSREG_WORKERS",
    "RUSREG_NEW_PASSWORD",
    "RUSREG_WORKLIST",
    "RUSREG_DEMO_PATHWAYS",
    "RUSREG_METRICS_BIND",
    "RUSREG_METRICS_TOKEN",
    "RUSREG_LOGIN_LIMIT_PER_ADDRESS",
    "RUSREG_LOGIN_LIMIT_PER_USERNAME",
    "RUSREG_PASSWORD_LOGIN",
    "RUSREG_OIDC_ISSUER",
    "RUSREG_OIDC_AUDIENCE",
    "RUSREG_OIDC_SCOPE",
    "RUSREG_OIDC_ALGORITHMS",
    "RUSREG_OIDC_LEEWAY_SECONDS",
    "RUSREG_OIDC_REQUIRE_DPOP",
    "RUSREG_OIDC_JWKS_MAX_AGE_SECONDS",
    "RUSREG_OIDC_JWKS_MIN_REFRESH_SECONDS",
    "RUSREG_PUBLIC_URL",
    "RUSREG_ORDERS",
    "RUSREG_PATIENT_COOKIE_SECURE",
    "RUSREG_SMTP_HOST",
    "RUSREG_SMTP_PORT",
    "RUSREG_SMTP_TLS",
    "RUSREG_SMTP_USERNAME",
    "RUSREG_SMTP_PASSWORD",
    "RUSREG_SMTP_FROM",
    "RUSREG_SMTP_TIMEOUT_SECONDS",
    "RUSREG_SMTP_RETRY_SECONDS",
    "RUSREG_SMTP_MAX_ATTEMPTS",
    "RUSREG_SCHEDULER",
    "RUSREG_SCHEDULER_INTERVAL_SECONDS",
    "RUSREG_DIGEST_HOUR",
];

use serde::Deserialize;

/// Raw values as read from the environment (envy maps `FOO_BAR` to `foo_bar`).
#[derive(Debug, Default, Deserialize)]
struct RawEnv {
    database_url: Option<String>,
    rusreg_reports_database_url: Option<String>,
    rusreg_owner_database_url: Option<String>,
    rusreg_bind: Option<String>,
    rusreg_data_dir: Option<PathBuf>,
    rusreg_jwt_secret: Option<String>,
    rusreg_jwt_secret_file: Option<PathBuf>,
    rusreg_token_minutes: Option<i64>,
    rusreg_id_key: Option<String>,
    rusreg_id_key_file: Option<PathBuf>,
    rusreg_min_cell: Option<u32>,
    rusreg_db_pool_size: Option<u32>,
    rusreg_reports_pool_size: Option<u32>,
    rusreg_body_limit: Option<usize>,
    rusreg_import_body_limit: Option<usize>,
    rusreg_import_retention_days: Option<u32>,
    rusreg_log_format: Option<String>,
    rusreg_log: Option<String>,
    rusreg_demo_password: Option<String>,
    rusreg_workers: Option<usize>,
    rusreg_worklist: Option<String>,
    rusreg_demo_pathways: Option<usize>,
    rusreg_metrics_bind: Option<String>,
    rusreg_metrics_token: Option<String>,
    rusreg_login_limit_per_address: Option<u32>,
    rusreg_login_limit_per_username: Option<u32>,
    rusreg_password_login: Option<String>,
    rusreg_oidc_issuer: Option<String>,
    rusreg_oidc_audience: Option<String>,
    rusreg_oidc_scope: Option<String>,
    rusreg_oidc_algorithms: Option<String>,
    rusreg_oidc_leeway_seconds: Option<u64>,
    rusreg_oidc_require_dpop: Option<String>,
    rusreg_oidc_jwks_max_age_seconds: Option<u64>,
    rusreg_oidc_jwks_min_refresh_seconds: Option<u64>,
    rusreg_public_url: Option<String>,
    rusreg_orders: Option<String>,
    rusreg_patient_cookie_secure: Option<bool>,
    rusreg_smtp_host: Option<String>,
    rusreg_smtp_port: Option<u16>,
    rusreg_smtp_tls: Option<String>,
    rusreg_smtp_username: Option<String>,
    rusreg_smtp_password: Option<String>,
    rusreg_smtp_from: Option<String>,
    rusreg_smtp_timeout_seconds: Option<u64>,
    rusreg_smtp_retry_seconds: Option<u32>,
    rusreg_smtp_max_attempts: Option<u16>,
    rusreg_scheduler: Option<String>,
    rusreg_scheduler_interval_seconds: Option<u64>,
    rusreg_digest_hour: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The validated settings. `Debug` never prints the secrets.
#[derive(Clone)]
pub struct Settings {
    pub database_url: Option<String>,
    pub reports_database_url: Option<String>,
    /// The schema owner's connection (migrations, reference data, bulk loads); default
    /// `database_url`.
    pub owner_database_url: Option<String>,
    pub bind: String,
    pub data_dir: PathBuf,
    pub jwt_secret: Option<Vec<u8>>,
    pub token_minutes: i64,
    pub id_key: Option<String>,
    pub min_cell: u32,
    pub pool_size: u32,
    pub reports_pool_size: u32,
    pub body_limit: usize,
    /// The largest import batch in bytes.
    pub import_body_limit: usize,
    /// Days a finished import job and its error report are kept (0: deleted by the worker's
    /// next sweep).
    pub import_retention_days: u32,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub demo_password: Option<String>,
    pub workers: Option<usize>,
    /// The worklist's time limits (defaults: docs/domain.md, Time limits).
    pub worklist: domain::worklist::WorklistConfig,
    pub demo_pathways: usize,
    /// A second listener that serves only `/metrics` (no token): for the monitoring network.
    pub metrics_bind: Option<String>,
    /// With it, `/metrics` on the API listener answers to `Authorization: Bearer <token>`.
    /// With neither, the API listener answers 404 for `/metrics`.
    pub metrics_token: Option<String>,
    /// Login attempts a minute from one source address (0: no limit).
    pub login_limit_per_address: u32,
    /// Login attempts a minute for one typed username (0: no limit).
    pub login_limit_per_username: u32,
    /// The questionnaire orders' reminder and expiry days, follow-up attempts and sign-in limit.
    pub orders: domain::orders::OrderConfig,
    /// The patient pages' session cookie is `Secure` (sent over HTTPS only).
    pub patient_cookie_secure: bool,
    /// Password sign-in (`POST /auth/token`) and rusreg's own tokens; production may switch them
    /// off when people sign in through the OpenID provider.
    pub password_login: bool,
    /// The OpenID provider whose access tokens are accepted (none: passwords only).
    pub oidc: Option<OidcSettings>,
    /// rusreg's external base URL (`https://rusreg.example.no`): what DPoP proofs' `htu` is
    /// compared with (none: the scheme and host of the request, as the proxy forwards them).
    pub public_url: Option<String>,
    /// The SMTP server for the patient channel's e-mail (none: e-mail waits in the outbox).
    pub smtp: Option<app::outbox::SmtpSettings>,
    /// When e-mail that did not go out is tried again.
    pub smtp_retry: app::outbox::RetryPolicy,
    /// How often `serve` runs the order scheduler's pass and the e-mail sender (none: off).
    pub scheduler_interval_seconds: Option<u64>,
    /// The hour (Norwegian time, 0–23) from which the server's scheduler makes the day's unit digests.
    pub digest_hour: u32,
}

fn smtp_from_raw(raw: &RawEnv) -> Result<(Option<app::outbox::SmtpSettings>, app::outbox::RetryPolicy), ConfigError> {
    let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut retry = app::outbox::RetryPolicy::default();
    if let Some(seconds) = raw.rusreg_smtp_retry_seconds {
        if !(1..=86_400).contains(&seconds) {
            return Err(ConfigError::Invalid("RUSREG_SMTP_RETRY_SECONDS must be 1 to 86400".into()));
        }
        retry.first_delay_seconds = seconds;
        retry.max_delay_seconds = retry.max_delay_seconds.max(seconds);
    }
    if let Some(attempts) = raw.rusreg_smtp_max_attempts {
        if !(1..=50).contains(&attempts) {
            return Err(ConfigError::Invalid("RUSREG_SMTP_MAX_ATTEMPTS must be 1 to 50".into()));
        }
        retry.max_attempts = attempts;
    }
    let Some(host) = set(&raw.rusreg_smtp_host) else {
        let others =
            [&raw.rusreg_smtp_tls, &raw.rusreg_smtp_username, &raw.rusreg_smtp_password, &raw.rusreg_smtp_from]
                .iter()
                .any(|v| set(v).is_some())
                || raw.rusreg_smtp_port.is_some();
        if others {
            return Err(ConfigError::Invalid("RUSREG_SMTP_* is set without RUSREG_SMTP_HOST".into()));
        }
        return Ok((None, retry));
    };
    let tls = match set(&raw.rusreg_smtp_tls) {
        None => app::outbox::SmtpTls::StartTls,
        Some(t) => app::outbox::SmtpTls::parse(&t)
            .ok_or_else(|| ConfigError::Invalid("RUSREG_SMTP_TLS must be starttls, tls or none".into()))?,
    };
    let port = raw.rusreg_smtp_port.unwrap_or(match tls {
        app::outbox::SmtpTls::StartTls => 587,
        app::outbox::SmtpTls::Tls => 465,
        app::outbox::SmtpTls::None => 25,
    });
    let from = set(&raw.rusreg_smtp_from)
        .ok_or_else(|| ConfigError::Invalid("RUSREG_SMTP_FROM is required with RUSREG_SMTP_HOST".into()))?;
    let timeout_seconds = raw.rusreg_smtp_timeout_seconds.unwrap_or(30);
    if !(1..=300).contains(&timeout_seconds) {
        return Err(ConfigError::Invalid("RUSREG_SMTP_TIMEOUT_SECONDS must be 1 to 300".into()));
    }
    let settings = app::outbox::SmtpSettings {
        host,
        port,
        tls,
        username: set(&raw.rusreg_smtp_username),
        password: raw.rusreg_smtp_password.clone().filter(|p| !p.is_empty()),
        from,
        timeout_seconds,
    };
    // Refuses a bad sender address or half a credential now, not at the first message.
    app::outbox::Mailer::new(&settings).map_err(ConfigError::Invalid)?;
    Ok((Some(settings), retry))
}

/// The OpenID provider (HelseID) whose access tokens are accepted.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer, exactly as the tokens' `iss` and the discovery document's `issuer` carry it.
    pub issuer: String,
    /// The audience rusreg's tokens carry (`aud`).
    pub audience: String,
    /// A scope every token must carry.
    pub scope: String,
    /// The signing algorithms accepted (pinned: RS256, PS256, ES256).
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// Clock skew allowed on `exp`, `nbf`, `iat` and DPoP proofs' `iat`.
    pub leeway_seconds: u64,
    /// Only DPoP-bound tokens are accepted.
    pub require_dpop: bool,
    /// The provider's keys are fetched again when older than this.
    pub jwks_max_age_seconds: u64,
    /// A token signed with a key id not in the cached key set fetches the key set again, at most
    /// once in this many seconds (key rotation without a restart, no fetch per forged token).
    pub jwks_min_refresh_seconds: u64,
}

/// The provider's signing algorithms rusreg accepts at all.
pub const OIDC_ALGORITHMS: [jsonwebtoken::Algorithm; 3] =
    [jsonwebtoken::Algorithm::RS256, jsonwebtoken::Algorithm::PS256, jsonwebtoken::Algorithm::ES256];
/// The largest clock skew that may be configured.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

impl OidcSettings {
    /// A provider with the defaults (RS256, 30 s leeway, no DPoP required, keys kept 10 minutes
    /// and fetched again on an unknown key id at most every 10 s).
    pub fn new(issuer: &str, audience: &str, scope: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            scope: scope.to_owned(),
            algorithms: vec![jsonwebtoken::Algorithm::RS256],
            leeway_seconds: 30,
            require_dpop: false,
            jwks_max_age_seconds: 600,
            jwks_min_refresh_seconds: 10,
        }
    }
}

/// `on` or `off` (also `true`/`false`, `1`/`0`).
fn on_off(name: &str, raw: Option<&str>, default: bool) -> Result<bool, ConfigError> {
    match raw.map(|r| r.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(_) => Err(ConfigError::Invalid(format!("{name} must be on or off"))),
    }
}

/// An https URL, or http on the loopback interface (tests, a provider on the same host).
pub fn check_provider_url(name: &str, raw: &str) -> Result<(), ConfigError> {
    let url = reqwest::Url::parse(raw).map_err(|_| ConfigError::Invalid(format!("{name} is not a URL")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(ConfigError::Invalid(format!("{name} must be an https URL")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::Invalid(format!("{name} must have no query or fragment")));
    }
    Ok(())
}

fn oidc_from_raw(raw: &RawEnv) -> Result<Option<OidcSettings>, ConfigError> {
    let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let Some(issuer) = set(&raw.rusreg_oidc_issuer) else {
        let others = [&raw.rusreg_oidc_audience, &raw.rusreg_oidc_scope, &raw.rusreg_oidc_algorithms]
            .iter()
            .any(|v| set(v).is_some())
            || raw.rusreg_oidc_leeway_seconds.is_some()
            || set(&raw.rusreg_oidc_require_dpop).is_some();
        if others {
            return Err(ConfigError::Invalid("RUSREG_OIDC_* is set without RUSREG_OIDC_ISSUER".into()));
        }
        return Ok(None);
    };
    check_provider_url("RUSREG_OIDC_ISSUER", &issuer)?;
    let audience = set(&raw.rusreg_oidc_audience)
        .ok_or_else(|| ConfigError::Invalid("RUSREG_OIDC_AUDIENCE is required with RUSREG_OIDC_ISSUER".into()))?;
    let scope = set(&raw.rusreg_oidc_scope)
        .ok_or_else(|| ConfigError::Invalid("RUSREG_OIDC_SCOPE is required with RUSREG_OIDC_ISSUER".into()))?;
    if scope.contains(char::is_whitespace) {
        return Err(ConfigError::Invalid("RUSREG_OIDC_SCOPE is one scope, without spaces".into()));
    }
    let mut settings = OidcSettings::new(&issuer, &audience, &scope);
    if let Some(list) = set(&raw.rusreg_oidc_algorithms) {
        let mut algorithms = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let alg = OIDC_ALGORITHMS.into_iter().find(|a| format!("{a:?}") == name).ok_or_else(|| {
                ConfigError::Invalid(format!("RUSREG_OIDC_ALGORITHMS: {name} is not one of RS256, PS256, ES256"))
            })?;
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        if algorithms.is_empty() {
            return Err(ConfigError::Invalid("RUSREG_OIDC_ALGORITHMS names no algorithm".into()));
        }
        settings.algorithms = algorithms;
    }
    if let Some(leeway) = raw.rusreg_oidc_leeway_seconds {
        if leeway > MAX_LEEWAY_SECONDS {
            return Err(ConfigError::Invalid(format!(
                "RUSREG_OIDC_LEEWAY_SECONDS must be at most {MAX_LEEWAY_SECONDS}"
            )));
        }
        settings.leeway_seconds = leeway;
    }
    settings.require_dpop = on_off("RUSREG_OIDC_REQUIRE_DPOP", raw.rusreg_oidc_require_dpop.as_deref(), false)?;
    if let Some(age) = raw.rusreg_oidc_jwks_max_age_seconds {
        if !(1..=86_400).contains(&age) {
            return Err(ConfigError::Invalid("RUSREG_OIDC_JWKS_MAX_AGE_SECONDS must be 1 to 86400".into()));
        }
        settings.jwks_max_age_seconds = age;
    }
    if let Some(min) = raw.rusreg_oidc_jwks_min_refresh_seconds {
        if min > 3600 {
            return Err(ConfigError::Invalid("RUSREG_OIDC_JWKS_MIN_REFRESH_SECONDS must be at most 3600".into()));
        }
        settings.jwks_min_refresh_seconds = min;
    }
    Ok(Some(settings))
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("reports_database_url", &self.reports_database_url.as_ref().map(|_| "<set>"))
            .field("owner_database_url", &self.owner_database_url.as_ref().map(|_| "<set>"))
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("id_key", &self.id_key.as_ref().map(|_| "<set>"))
            .field("min_cell", &self.min_cell)
            .field("pool_size", &self.pool_size)
            .field("metrics_bind", &self.metrics_bind)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<set>"))
            .field("password_login", &self.password_login)
            .field("oidc", &self.oidc)
            .field("public_url", &self.public_url)
            .field("smtp", &self.smtp)
            .finish_non_exhaustive()
    }
}

/// The smallest JWT secret accepted outside demo mode.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// Login attempts a minute from one source address, unless configured.
pub const DEFAULT_LOGIN_LIMIT_PER_ADDRESS: u32 = 100;
/// Login attempts a minute for one typed username, unless configured.
pub const DEFAULT_LOGIN_LIMIT_PER_USERNAME: u32 = 10;
/// The shortest metrics token accepted.
pub const MIN_METRICS_TOKEN_CHARS: usize = 32;
/// The suppression threshold is never below this.
pub const MIN_CELL_FLOOR: u32 = 3;

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let raw: RawEnv = envy::from_env().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawEnv) -> Result<Self, ConfigError> {
        let oidc = oidc_from_raw(&raw)?;
        let (smtp, smtp_retry) = smtp_from_raw(&raw)?;
        let interval = raw.rusreg_scheduler_interval_seconds.unwrap_or(300);
        if !(1..=86_400).contains(&interval) {
            return Err(ConfigError::Invalid("RUSREG_SCHEDULER_INTERVAL_SECONDS must be 1 to 86400".into()));
        }
        let scheduler_interval_seconds =
            on_off("RUSREG_SCHEDULER", raw.rusreg_scheduler.as_deref(), true)?.then_some(interval);
        let digest_hour = raw.rusreg_digest_hour.unwrap_or(6);
        if digest_hour > 23 {
            return Err(ConfigError::Invalid("RUSREG_DIGEST_HOUR must be 0 to 23".into()));
        }
        let read_file = |p: &PathBuf, what: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .map_err(|e| ConfigError::Invalid(format!("cannot read {what} file {}: {e}", p.display())))
        };
        let jwt_secret = match (&raw.rusreg_jwt_secret, &raw.rusreg_jwt_secret_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(p)) => Some(read_file(p, "RUSREG_JWT_SECRET_FILE")?),
            (None, None) => None,
        };
        let id_key = match (&raw.rusreg_id_key, &raw.rusreg_id_key_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(p)) => Some(read_file(p, "RUSREG_ID_KEY_FILE")?),
            (None, None) => None,
        };
        let min_cell = raw.rusreg_min_cell.unwrap_or(5);
        if min_cell < MIN_CELL_FLOOR {
            return Err(ConfigError::Invalid(format!("RUSREG_MIN_CELL must be at least {MIN_CELL_FLOOR}")));
        }
        let log_format = match raw.rusreg_log_format.as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid(format!("RUSREG_LOG_FORMAT must be pretty or json, not {other}")))
            }
        };
        let token_minutes = raw.rusreg_token_minutes.unwrap_or(15);
        if !(1..=60).contains(&token_minutes) {
            return Err(ConfigError::Invalid("RUSREG_TOKEN_MINUTES must be 1 to 60".into()));
        }
        let worklist = match &raw.rusreg_worklist {
            None => domain::worklist::WorklistConfig::default(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                ConfigError::Invalid(format!("RUSREG_WORKLIST is not a valid worklist configuration: {e}"))
            })?,
        };
        let orders = match &raw.rusreg_orders {
            None => domain::orders::OrderConfig::default(),
            Some(json) => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
                .and_then(|object| serde_json::from_value::<domain::orders::OrderConfig>(object.into()))
                .map_err(|e| e.to_string())
                .and_then(domain::orders::OrderConfig::checked)
                .map_err(|e| ConfigError::Invalid(format!("RUSREG_ORDERS is not a valid order configuration: {e}")))?,
        };
        let metrics_token = raw.rusreg_metrics_token.filter(|t| !t.is_empty());
        if metrics_token.as_ref().is_some_and(|t| t.len() < MIN_METRICS_TOKEN_CHARS) {
            return Err(ConfigError::Invalid(format!(
                "RUSREG_METRICS_TOKEN is weak: at least {MIN_METRICS_TOKEN_CHARS} characters are required"
            )));
        }
        let password_login = on_off("RUSREG_PASSWORD_LOGIN", raw.rusreg_password_login.as_deref(), true)?;
        if !password_login && oidc.is_none() {
            return Err(ConfigError::Invalid(
                "RUSREG_PASSWORD_LOGIN=off needs RUSREG_OIDC_ISSUER: otherwise nobody can sign in".into(),
            ));
        }
        let public_url = raw.rusreg_public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned);
        if let Some(u) = &public_url {
            let parsed =
                reqwest::Url::parse(u).map_err(|_| ConfigError::Invalid("RUSREG_PUBLIC_URL is not a URL".into()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(ConfigError::Invalid("RUSREG_PUBLIC_URL must be an http(s) URL with a host".into()));
            }
        }
        Ok(Self {
            scheduler_interval_seconds,
            digest_hour,
            smtp,
            smtp_retry,
            password_login,
            oidc,
            public_url,
            orders,
            patient_cookie_secure: raw.rusreg_patient_cookie_secure.unwrap_or(true),
            metrics_bind: raw.rusreg_metrics_bind.filter(|b| !b.is_empty()),
            metrics_token,
            login_limit_per_address: raw.rusreg_login_limit_per_address.unwrap_or(DEFAULT_LOGIN_LIMIT_PER_ADDRESS),
            login_limit_per_username: raw.rusreg_login_limit_per_username.unwrap_or(DEFAULT_LOGIN_LIMIT_PER_USERNAME),
            worklist,
            demo_pathways: raw.rusreg_demo_pathways.unwrap_or(20_000),
            database_url: raw.database_url,
            reports_database_url: raw.rusreg_reports_database_url,
            owner_database_url: raw.rusreg_owner_database_url,
            bind: raw.rusreg_bind.unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir: raw.rusreg_data_dir.unwrap_or_else(|| PathBuf::from(".rusreg")),
            jwt_secret: jwt_secret.map(String::into_bytes),
            token_minutes,
            id_key,
            min_cell,
            pool_size: raw.rusreg_db_pool_size.unwrap_or(16).max(1),
            reports_pool_size: raw.rusreg_reports_pool_size.unwrap_or(4).max(1),
            body_limit: raw.rusreg_body_limit.unwrap_or(1024 * 1024),
            import_body_limit: raw.rusreg_import_body_limit.unwrap_or(256 * 1024 * 1024),
            import_retention_days: raw.rusreg_import_retention_days.unwrap_or(30),
            log_format,
            log_filter: raw.rusreg_log.unwrap_or_else(|| "info".into()),
            demo_password: raw.rusreg_demo_password,
            workers: raw.rusreg_workers,
        })
    }

    /// Production rule: a JWT secret of at least 32 bytes that is not one repeated character.
    pub fn require_strong_jwt_secret(&self) -> Result<&[u8], ConfigError> {
        let secret = self.jwt_secret.as_deref().ok_or_else(|| {
            ConfigError::Invalid("RUSREG_JWT_SECRET (or RUSREG_JWT_SECRET_FILE) is required for `rusreg serve`".into())
        })?;
        check_secret_strength(secret)?;
        Ok(secret)
    }

    /// Defaults for tests and the demo: everything default, nothing from the environment.
    pub fn defaults() -> Self {
        Settings {
            database_url: None,
            reports_database_url: None,
            owner_database_url: None,
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from(".rusreg"),
            jwt_secret: None,
            token_minutes: 15,
            id_key: None,
            min_cell: 5,
            pool_size: 16,
            reports_pool_size: 4,
            body_limit: 1024 * 1024,
            import_body_limit: 256 * 1024 * 1024,
            import_retention_days: 30,
            log_format: LogFormat::Pretty,
            log_filter: "info".into(),
            demo_password: None,
            workers: None,
            worklist: domain::worklist::WorklistConfig::default(),
            demo_pathways: 20_000,
            metrics_bind: None,
            metrics_token: None,
            login_limit_per_address: DEFAULT_LOGIN_LIMIT_PER_ADDRESS,
            login_limit_per_username: DEFAULT_LOGIN_LIMIT_PER_USERNAME,
            password_login: true,
            oidc: None,
            public_url: None,
            orders: domain::orders::OrderConfig::default(),
            patient_cookie_secure: true,
            smtp: None,
            smtp_retry: app::outbox::RetryPolicy::default(),
            scheduler_interval_seconds: None,
            digest_hour: 6,
        }
    }
}

/// A secret is weak when it is shorter than 32 bytes or has fewer than 8 distinct bytes.
pub fn check_secret_strength(secret: &[u8]) -> Result<(), ConfigError> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(ConfigError::Invalid(format!(
            "RUSREG_JWT_SECRET is weak: at least {MIN_JWT_SECRET_BYTES} bytes are required"
        )));
    }
    let distinct: std::collections::BTreeSet<u8> = secret.iter().copied().collect();
    if distinct.len() < 8 {
        return Err(ConfigError::Invalid("RUSREG_JWT_SECRET is weak: too few distinct characters".into()));
    }
    Ok(())
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn weak_and_missing_secrets_are_refused() {
        let mut s = Settings::defaults();
        assert!(s.require_strong_jwt_secret().is_err());
        s.jwt_secret = Some(b"short".to_vec());
        assert!(s.require_strong_jwt_secret().is_err());
        s.jwt_secret = Some(vec![b'a'; 64]);
        assert!(s.require_strong_jwt_secret().is_err());
        s.jwt_secret = Some(b"0123456789abcdefghijklmnopqrstuvwxyz".to_vec());
        assert!(s.require_strong_jwt_secret().is_ok());
    }

    fn variables_in(text: &str) -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .filter(|w| (w.starts_with("RUSREG_") && w.len() > 7) || *w == "DATABASE_URL")
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn docs_and_deploy_files_name_exactly_the_variables_of_this_module() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
        let known: std::collections::BTreeSet<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        let read = |p: &str| std::fs::read_to_string(format!("{root}{p}")).unwrap_or_default();
        let operations = variables_in(&read("docs/operations.md"));
        assert_eq!(operations, known, "docs/operations.md lists every variable and no other");
        for file in
            ["deploy/rusreg.env.example", "deploy/docker-compose.yml", "deploy/rusreg.service", "deploy/Dockerfile"]
        {
            let used = variables_in(&read(file));
            assert!(used.is_subset(&known), "{file} uses unknown variables: {:?}", used.difference(&known));
        }
        // This module's own table documents every variable too.
        let own = variables_in(include_str!("config.rs"));
        assert!(known.is_subset(&own));
    }

    #[test]
    fn a_short_metrics_token_is_refused() {
        let raw = RawEnv { rusreg_metrics_token: Some("short".into()), ..Default::default() };
        assert!(Settings::from_raw(raw).is_err());
        let raw = RawEnv { rusreg_metrics_token: Some("m".repeat(32)), ..Default::default() };
        assert!(Settings::from_raw(raw).is_ok_and(|s| s.metrics_token.is_some()));
    }

    #[test]
    fn the_provider_is_configured_whole_or_not_at_all() {
        let provider = |issuer: &str| RawEnv {
            rusreg_oidc_issuer: Some(issuer.into()),
            rusreg_oidc_audience: Some("rusreg-api".into()),
            rusreg_oidc_scope: Some("nhn:rusreg/api".into()),
            ..Default::default()
        };
        let s = Settings::from_raw(provider("https://helseid-sts.nhn.no")).unwrap();
        let oidc = s.oidc.unwrap();
        assert_eq!(oidc.algorithms, [jsonwebtoken::Algorithm::RS256]);
        assert_eq!((oidc.leeway_seconds, oidc.require_dpop), (30, false));
        assert!(s.password_login);
        assert!(Settings::from_raw(provider("http://127.0.0.1:4000")).is_ok(), "http on the loopback only");
        assert!(Settings::from_raw(provider("http://helseid-sts.nhn.no")).is_err());
        assert!(Settings::from_raw(provider("not a url")).is_err());
        let no_audience = RawEnv { rusreg_oidc_audience: None, ..provider("https://helseid-sts.nhn.no") };
        assert!(Settings::from_raw(no_audience).is_err());
        let algorithms =
            |list: &str| RawEnv { rusreg_oidc_algorithms: Some(list.into()), ..provider("https://helseid-sts.nhn.no") };
        let s = Settings::from_raw(algorithms("PS256, ES256")).unwrap();
        assert_eq!(s.oidc.unwrap().algorithms, [jsonwebtoken::Algorithm::PS256, jsonwebtoken::Algorithm::ES256]);
        assert!(Settings::from_raw(algorithms("HS256")).is_err(), "no shared-secret algorithm");
        assert!(Settings::from_raw(algorithms("none")).is_err());
        let leeway = RawEnv { rusreg_oidc_leeway_seconds: Some(301), ..provider("https://helseid-sts.nhn.no") };
        assert!(Settings::from_raw(leeway).is_err(), "clock skew bounded");
        let orphan = RawEnv { rusreg_oidc_audience: Some("x".into()), ..Default::default() };
        assert!(Settings::from_raw(orphan).is_err(), "provider settings without the issuer");
    }

    #[test]
    fn passwords_switch_off_only_with_a_provider() {
        let off = RawEnv { rusreg_password_login: Some("off".into()), ..Default::default() };
        assert!(Settings::from_raw(off).is_err());
        let off = RawEnv {
            rusreg_password_login: Some("off".into()),
            rusreg_oidc_issuer: Some("https://helseid-sts.nhn.no".into()),
            rusreg_oidc_audience: Some("rusreg-api".into()),
            rusreg_oidc_scope: Some("nhn:rusreg/api".into()),
            ..Default::default()
        };
        assert!(!Settings::from_raw(off).unwrap().password_login);
        let odd = RawEnv { rusreg_password_login: Some("maybe".into()), ..Default::default() };
        assert!(Settings::from_raw(odd).is_err());
    }

    #[test]
    fn order_settings_default_to_15_and_30_days_and_bad_ones_are_refused() {
        let s = Settings::from_raw(RawEnv::default());
        assert!(s.is_ok_and(|s| (s.orders.remind_days, s.orders.expire_days) == (15, 30)));
        let raw =
            RawEnv { rusreg_orders: Some(r#"{"remind_days": 5, "expire_days": 10}"#.into()), ..Default::default() };
        assert!(Settings::from_raw(raw).is_ok_and(|s| s.orders.remind_days == 5 && s.orders.follow_up_attempts == 2));
        for bad in
            [r#"{"remind_days": 30, "expire_days": 30}"#, r#"{"expiry": 3}"#, "[]", r#"{"follow_up_attempts": 0}"#]
        {
            let raw = RawEnv { rusreg_orders: Some(bad.into()), ..Default::default() };
            assert!(Settings::from_raw(raw).is_err(), "{bad}");
        }
    }

    #[test]
    fn smtp_is_configured_whole_or_not_at_all() {
        let raw = |host: Option<&str>, from: Option<&str>, tls: Option<&str>| RawEnv {
            rusreg_smtp_host: host.map(Into::into),
            rusreg_smtp_from: from.map(Into::into),
            rusreg_smtp_tls: tls.map(Into::into),
            ..Default::default()
        };
        assert!(Settings::from_raw(raw(None, None, None)).is_ok_and(|s| s.smtp.is_none()));
        let s = Settings::from_raw(raw(Some("smtp.example.no"), Some("KvaRus <noreply@example.no>"), None));
        assert!(s.is_ok_and(|s| s.smtp.is_some_and(|m| m.port == 587 && m.tls == app::outbox::SmtpTls::StartTls)));
        let s = Settings::from_raw(raw(Some("smtp.example.no"), Some("noreply@example.no"), Some("tls")));
        assert!(s.is_ok_and(|s| s.smtp.is_some_and(|m| m.port == 465)));
        assert!(Settings::from_raw(raw(Some("smtp.example.no"), None, None)).is_err(), "no sender");
        assert!(Settings::from_raw(raw(Some("smtp.example.no"), Some("not an address"), None)).is_err());
        assert!(Settings::from_raw(raw(Some("smtp.example.no"), Some("a@example.no"), Some("ssl3"))).is_err());
        assert!(Settings::from_raw(raw(None, Some("a@example.no"), None)).is_err(), "no host");
        let half = RawEnv { rusreg_smtp_username: Some("user".into()), ..raw(Some("h"), Some("a@example.no"), None) };
        assert!(Settings::from_raw(half).is_err(), "a user without a password");
    }

    #[test]
    fn digests_are_made_from_six_unless_another_hour_is_set() {
        assert!(Settings::from_raw(RawEnv::default()).is_ok_and(|s| s.digest_hour == 6));
        let at = |h: u32| RawEnv { rusreg_digest_hour: Some(h), ..Default::default() };
        assert!(Settings::from_raw(at(0)).is_ok_and(|s| s.digest_hour == 0));
        assert!(Settings::from_raw(at(23)).is_ok_and(|s| s.digest_hour == 23));
        assert!(Settings::from_raw(at(24)).is_err());
    }

    #[test]
    fn the_scheduler_runs_every_five_minutes_unless_switched_off() {
        assert!(Settings::from_raw(RawEnv::default()).is_ok_and(|s| s.scheduler_interval_seconds == Some(300)));
        let off = RawEnv { rusreg_scheduler: Some("off".into()), ..Default::default() };
        assert!(Settings::from_raw(off).is_ok_and(|s| s.scheduler_interval_seconds.is_none()));
        let every = RawEnv { rusreg_scheduler_interval_seconds: Some(60), ..Default::default() };
        assert!(Settings::from_raw(every).is_ok_and(|s| s.scheduler_interval_seconds == Some(60)));
        let zero = RawEnv { rusreg_scheduler_interval_seconds: Some(0), ..Default::default() };
        assert!(Settings::from_raw(zero).is_err());
        let bad = RawEnv { rusreg_scheduler: Some("sometimes".into()), ..Default::default() };
        assert!(Settings::from_raw(bad).is_err());
    }

    #[test]
    fn min_cell_below_three_is_refused() {
        let raw = RawEnv { rusreg_min_cell: Some(2), ..Default::default() };
        assert!(Settings::from_raw(raw).is_err());
    }
}
