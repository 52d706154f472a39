//! `RepoError`: what persistence reports upward. Diesel's errors stop here.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("not found")]
    NotFound,
    /// A unique constraint failed; the constraint's name says which.
    #[error("unique violation on {0}")]
    UniqueViolation(String),
    #[error("foreign key violation on {0}")]
    ForeignKeyViolation(String),
    #[error("check violation on {0}")]
    CheckViolation(String),
    #[error("database error: {0}")]
    Database(#[source] DieselError),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("{0}")]
    Other(String),
}

impl From<DieselError> for RepoError {
    fn from(e: DieselError) -> Self {
        match &e {
            DieselError::NotFound => RepoError::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let name = info.constraint_name().unwrap_or("unknown").to_owned();
                match kind {
                    DatabaseErrorKind::UniqueViolation => RepoError::UniqueViolation(name),
                    DatabaseErrorKind::ForeignKeyViolation => RepoError::ForeignKeyViolation(name),
                    DatabaseErrorKind::CheckViolation => RepoError::CheckViolation(name),
                    _ => RepoError::Database(e),
                }
            }
            _ => RepoError::Database(e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for RepoError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        RepoError::Pool(e.to_string())
    }
}

impl From<RepoError> for DomainError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => DomainError::NotFound,
            RepoError::UniqueViolation(c) => DomainError::conflict(format!("already exists ({c})")),
            other => DomainError::unexpected(other),
        }
    }
}
