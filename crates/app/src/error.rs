//! What a use case reports when it does not succeed. Every variant names a reason a client can
//! act on; the entry points map them (the API to status codes and problem documents in
//! `api::error`). No variant carries a value the caller submitted.

use domain::{DomainError, FieldError};
use persistence::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's grants do not allow this, and the target is one they may know exists.
    #[error("forbidden")]
    Forbidden,
    /// Not allowed for a reason with its own stable code (segregation of duties: `own_grant`,
    /// `second_admin_required`); a refusal like [`Error::Forbidden`].
    #[error("forbidden: {code}")]
    Refused { code: &'static str, message: &'static str },
    /// Out of the caller's scope where even existence must not leak: indistinguishable from
    /// [`Error::NotFound`] to the caller.
    #[error("not found (hidden)")]
    Hidden,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(Conflict),
    /// One or more fields failed validation; one entry per failing field.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// Input that could not be read at all (not the right structure, not JSON, ...).
    #[error("{code}: {message}")]
    Unreadable { code: &'static str, message: String },
    /// Input in a format the use case does not take.
    #[error("unsupported format")]
    UnsupportedFormat,
    /// An optimistic update without the version it was based on.
    #[error("version required")]
    VersionRequired,
    /// The database cannot be reached.
    #[error("unavailable")]
    Unavailable,
    /// A bug or an infrastructure failure; logged by the entry point, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The conflicts a use case reports by name: the state of the register does not allow the
/// action now. `code()` is the stable machine-readable name clients rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A second baseline, discharge or follow-up on one pathway.
    FormExists { kind: domain::forms::FormKind },
    /// A form of this kind cannot be started in the pathway's status.
    FormNotStartable { kind: domain::forms::FormKind, status: i16 },
    /// The form is completed; reopen it to change it.
    FormCompleted,
    /// Only a completed form can be reopened.
    FormNotCompleted,
    /// The form was changed by someone else since the caller read it.
    StaleVersion,
    /// The patient already has an active pathway.
    ActivePathway,
    /// Reopening would make a second active pathway of the patient.
    AnotherActivePathway,
    /// The person has reserved against registration.
    Reserved,
    /// The person is on the reservation list already.
    AlreadyReserved,
    /// A user with this username exists.
    UsernameTaken,
    /// The user holds this grant already.
    GrantExists,
    /// Only a pending grant can be approved.
    GrantNotPending,
    /// An organisation node with the same identifier (organisation number, RESH-id) exists;
    /// `constraint` names which.
    NodeExists { constraint: String },
    /// A move must start after the start of the node's current link.
    LinkNotAfterCurrent,
    /// The release failed the disclosure audit; the summary line says why.
    ReleaseRefused { audit: String },
    /// The release is published already.
    AlreadyPublished,
    /// Another release or completeness snapshot of the year came after this draft.
    StaleRelease,
    /// A rule of the domain with its own code.
    Rule { code: &'static str, message: String },
}

impl Conflict {
    pub fn code(&self) -> &'static str {
        match self {
            Self::FormExists { .. } => "form_exists",
            Self::FormCompleted => "form_completed",
            Self::FormNotCompleted => "not_completed",
            Self::StaleVersion => "stale_version",
            Self::Reserved => "reserved",
            Self::AlreadyReserved => "already_reserved",
            Self::UsernameTaken => "username_taken",
            Self::GrantNotPending => "not_pending",
            Self::GrantExists | Self::NodeExists { .. } | Self::LinkNotAfterCurrent => "conflict",
            Self::ReleaseRefused { .. } => "release_refused",
            Self::AlreadyPublished => "already_published",
            Self::StaleRelease => "stale_release",
            Self::FormNotStartable { .. } | Self::ActivePathway | Self::AnotherActivePathway => "conflict",
            Self::Rule { code, .. } => code,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::FormExists { kind } => format!("the pathway already has a {kind} form"),
            Self::FormNotStartable { kind, status } => {
                format!("a {kind} form cannot be started on a pathway with status {status}")
            }
            Self::FormCompleted => "the form is completed; reopen it to change it".into(),
            Self::FormNotCompleted => "only a completed form can be reopened".into(),
            Self::StaleVersion => "the form was changed since you read it; read it again and redo your change".into(),
            Self::ActivePathway => "the patient already has an active pathway".into(),
            Self::AnotherActivePathway => {
                "the patient has another active pathway; this one cannot become active again".into()
            }
            Self::Reserved => "the person has reserved against registration".into(),
            Self::AlreadyReserved => "the person is already on the reservation list".into(),
            Self::UsernameTaken => "a user with this username exists".into(),
            Self::GrantExists => "the user already holds this grant".into(),
            Self::GrantNotPending => "the grant is in effect already; only a pending grant is approved".into(),
            Self::NodeExists { constraint } => {
                format!("an organisation node with the same identifier exists ({constraint})")
            }
            Self::LinkNotAfterCurrent => "valid_from must be after the start of the current link".into(),
            Self::ReleaseRefused { audit } => {
                format!("the release failed the disclosure audit ({audit}); nothing was stored")
            }
            Self::AlreadyPublished => "the release is already published".into(),
            Self::StaleRelease => "another release or completeness snapshot of the year was made after this one was \
                                   built; build a new one"
                .into(),
            Self::Rule { message, .. } => message.clone(),
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl Error {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    /// A single invalid field.
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, code, message)])
    }

    /// Anything that should never happen with consistent data.
    pub fn inconsistent(what: &'static str) -> Self {
        Self::Internal(what.into())
    }
}

impl From<domain::access::DutyConflict> for Error {
    fn from(c: domain::access::DutyConflict) -> Self {
        Self::Refused { code: c.code(), message: c.message() }
    }
}

impl From<Conflict> for Error {
    fn from(c: Conflict) -> Self {
        Self::Conflict(c)
    }
}

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => Self::Invalid(errors),
            DomainError::NotFound => Self::NotFound,
            DomainError::Conflict { code, message } => Self::Conflict(Conflict::Rule { code, message }),
            DomainError::Forbidden => Self::Forbidden,
            DomainError::Unexpected(e) => Self::Internal(e),
        }
    }
}

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => Self::NotFound,
            RepoError::Pool(_) => Self::Unavailable,
            other => Self::from(DomainError::from(other)),
        }
    }
}
