//! `ApiError`: every failure mapped in one place to an RFC 7807 `application/problem+json` body
//! with a stable `code`. A 500 always says "internal error"; its cause is logged, never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use domain::{DomainError, FieldError};
use persistence::RepoError;
use serde::Serialize;
use utoipa::ToSchema;

/// `Retry-After` of a 503 (no free database connection within the pool's timeout, or the
/// database down): a short wait, by which a burst has usually drained.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Marks a response as a refusal, so the audit middleware records it (also for 404s that hide
/// an out-of-scope target).
#[derive(Debug, Clone, Copy)]
pub struct Refused;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or a token that is malformed, expired, wrongly signed or revoked (401).
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// Wrong username or password, unknown user or locked account: all look the same (401).
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden")]
    Forbidden,
    /// Forbidden for a reason with its own code (segregation of duties), 403.
    #[error("forbidden: {code}")]
    ForbiddenBecause { code: &'static str, message: &'static str },
    /// Out of scope where even existence must not leak: looks exactly like a missing target.
    #[error("not found (hidden)")]
    Hidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Field-level validation failure (422).
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// Query parameters of the wrong type (400 `invalid_query`), one entry per field.
    #[error("invalid query")]
    InvalidQuery(Vec<FieldError>),
    /// A body or query that could not be read at all (400).
    #[error("{code}: {message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("precondition required")]
    PreconditionRequired,
    #[error("service unavailable")]
    Unavailable,
    /// The OpenID provider's keys could not be fetched, so its token cannot be checked (503).
    #[error("the OpenID provider is unavailable")]
    ProviderUnavailable,
    /// Too many attempts (429); try again after so many seconds (`Retry-After`).
    #[error("too many requests")]
    RateLimited { retry_after: u64 },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The problem document (RFC 7807).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code.
    pub code: String,
    pub detail: String,
    /// One entry per failing field (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorDoc>>,
}

/// One failing field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, code, message)])
    }

    /// The stable code of the problem document (and of a FHIR OperationOutcome's `details`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::ForbiddenBecause { code, .. } => code,
            Self::Hidden | Self::NotFound => "not_found",
            Self::Conflict { code, .. } => code,
            Self::Invalid(_) => "validation_failed",
            Self::InvalidQuery(_) => "invalid_query",
            Self::BadRequest { code, .. } => code,
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PreconditionRequired => "precondition_required",
            Self::Unavailable => "unavailable",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::RateLimited { .. } => "too_many_requests",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The problem document's `detail`.
    pub fn detail(&self) -> String {
        match self {
            Self::Unauthenticated(why) => format!("authentication required: {why}"),
            Self::InvalidCredentials => "wrong username or password, or the account is locked".into(),
            Self::Forbidden => "your grants do not allow this".into(),
            Self::ForbiddenBecause { message, .. } => (*message).into(),
            Self::Hidden | Self::NotFound => "no such resource".into(),
            Self::Conflict { message, .. } => message.clone(),
            Self::Invalid(errors) => format!("{} field(s) failed validation", errors.len()),
            Self::InvalidQuery(errors) => format!("{} query parameter(s) could not be read", errors.len()),
            Self::BadRequest { message, .. } => message.clone(),
            Self::PayloadTooLarge => "the request body is larger than allowed".into(),
            Self::UnsupportedMediaType => "send the body as application/json".into(),
            Self::PreconditionRequired => "send If-Match with the version you read".into(),
            Self::Unavailable => {
                "the database is busy or not available (no free connection in time): retry after Retry-After".into()
            }
            Self::ProviderUnavailable => {
                "the OpenID provider's keys could not be fetched, so the token cannot be checked: retry after \
                 Retry-After"
                    .into()
            }
            Self::RateLimited { retry_after } => format!("too many attempts: try again in {retry_after} s"),
            Self::Internal(_) => "internal error".into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::ForbiddenBecause { .. } => StatusCode::FORBIDDEN,
            Self::Hidden | Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } | Self::InvalidQuery(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Unavailable | Self::ProviderUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::Internal(e) = self {
            let mut chain = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "internal error");
        }
        let problem = Problem {
            type_: format!("https://rusreg.example/problems/{}", self.code()),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            status: status.as_u16(),
            code: self.code().to_owned(),
            detail: self.detail(),
            errors: match self {
                Self::Invalid(errors) | Self::InvalidQuery(errors) => Some(
                    errors
                        .iter()
                        .map(|e| FieldErrorDoc {
                            field: e.field.clone(),
                            code: e.code.clone(),
                            message: e.message.clone(),
                        })
                        .collect(),
                ),
                _ => None,
            },
        };
        let mut res = HttpResponse::build(status).content_type("application/problem+json").json(problem);
        let retry_after = match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            Self::Unavailable | Self::ProviderUnavailable => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(seconds));
        }
        if matches!(self, Self::Forbidden | Self::ForbiddenBecause { .. } | Self::Hidden | Self::Unauthenticated(_)) {
            res.extensions_mut().insert(Refused);
        }
        res
    }
}

/// Middleware hook (`ErrorHandlers::default_handler`): an error answer that is not yet a problem
/// document — one made by actix-web itself, such as 413 from the `web::Bytes` body limit, 405 or
/// 415 — is rewritten into one, with a code for its status. Its old body (actix-web's plain text,
/// which may quote the request) is dropped. An HTML page (the patient pages' own error pages,
/// rendered by rusreg) is left as it is.
pub fn problem_for_plain_errors<B: actix_web::body::MessageBody + 'static>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<actix_web::middleware::ErrorHandlerResponse<B>> {
    use actix_web::http::header::CONTENT_TYPE;
    use actix_web::middleware::ErrorHandlerResponse;
    let is_problem = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.starts_with("application/problem+json") || v.starts_with("text/html") || v.starts_with(crate::fhir::FHIR_JSON)
    });
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        s if s.is_server_error() => ApiError::Internal("an error answer of the HTTP layer".into()),
        StatusCode::UNAUTHORIZED => ApiError::Unauthenticated("authentication required"),
        StatusCode::FORBIDDEN => ApiError::Forbidden,
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::bad_request("method_not_allowed", "this method is not allowed here")
        }
        _ => ApiError::bad_request("bad_request", "the request could not be read"),
    };
    let problem = Problem {
        type_: format!("https://rusreg.example/problems/{}", error.code()),
        title: status.canonical_reason().unwrap_or("error").to_owned(),
        status: status.as_u16(),
        code: error.code().to_owned(),
        detail: error.detail(),
        errors: None,
    };
    let fresh = HttpResponse::build(status).content_type("application/problem+json").json(problem);
    let (req, old) = res.into_parts();
    let mut fresh = fresh.map_into_boxed_body();
    for (name, value) in old.headers() {
        if name != CONTENT_TYPE && name != actix_web::http::header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(actix_web::dev::ServiceResponse::new(req, fresh).map_into_right_body()))
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => Self::Invalid(errors),
            DomainError::NotFound => Self::NotFound,
            DomainError::Conflict { code, message } => Self::Conflict { code, message },
            DomainError::Forbidden => Self::Forbidden,
            DomainError::Unexpected(e) => Self::Internal(e),
        }
    }
}

impl From<app::Error> for ApiError {
    fn from(e: app::Error) -> Self {
        use app::Error as E;
        match e {
            E::Forbidden => Self::Forbidden,
            E::Refused { code, message } => Self::ForbiddenBecause { code, message },
            E::Hidden => Self::Hidden,
            E::NotFound => Self::NotFound,
            E::Conflict(c) => Self::Conflict { code: c.code(), message: c.message() },
            E::Invalid(errors) => Self::Invalid(errors),
            E::Unreadable { code, message } => Self::BadRequest { code, message },
            E::UnsupportedFormat => Self::UnsupportedMediaType,
            E::VersionRequired => Self::PreconditionRequired,
            E::Unavailable => Self::Unavailable,
            E::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => Self::NotFound,
            RepoError::Pool(_) => Self::Unavailable,
            other => Self::from(DomainError::from(other)),
        }
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(e: validator::ValidationErrors) -> Self {
        let mut out = Vec::new();
        collect_validation(&e, "", &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field));
        Self::Invalid(out)
    }
}

fn collect_validation(e: &validator::ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    use validator::ValidationErrorsKind;
    for (field, kind) in e.errors() {
        let name = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(errs) => {
                for err in errs {
                    let message = err.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| describe(err));
                    out.push(FieldError::new(&name, err.code.as_ref(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validation(inner, &name, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect_validation(inner, &format!("{name}[{i}]"), out);
                }
            }
        }
    }
}

fn describe(err: &validator::ValidationError) -> String {
    let param = |k: &str| err.params.get(k).map(|v| v.to_string());
    match err.code.as_ref() {
        "range" => {
            format!("must be between {} and {}", param("min").unwrap_or_default(), param("max").unwrap_or_default())
        }
        "length" => format!(
            "length must be between {} and {}",
            param("min").unwrap_or_else(|| "0".into()),
            param("max").unwrap_or_else(|| "any".into())
        ),
        other => format!("failed the {other} rule"),
    }
}
