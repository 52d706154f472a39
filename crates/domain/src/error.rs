//! The one error type of the domain: what went wrong, never with identifiable data in it.

use std::fmt;

/// One failing field of a validation, as sent to clients in a 422 body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name as the client sent it (JSON key, dotted for nested values).
    pub field: String,
    /// A stable machine-readable code (`required`, `range`, `code_list`, `date_order`, ...).
    pub code: String,
    /// A human message. Never contains a national id or other identifying value.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// One or more fields failed validation (422).
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// The target does not exist, or the caller may not know that it exists (404).
    #[error("not found")]
    NotFound,
    /// The action conflicts with the current state (409). `code` is stable (`conflict`,
    /// `reserved`, `stale_version`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The caller is authenticated but not allowed (403).
    #[error("forbidden")]
    Forbidden,
    /// Anything else: a bug or an infrastructure failure (500). Never shown to clients.
    #[error("unexpected error")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DomainError {
    /// A single invalid field.
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, code, message)])
    }

    /// A conflict with the generic code `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict { code: "conflict", message: message.into() }
    }

    /// Turn a list of field errors into `Ok(())` when empty, else `Invalid`.
    pub fn check(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::Invalid(errors))
        }
    }

    pub fn unexpected(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unexpected(Box::new(e))
    }
}
