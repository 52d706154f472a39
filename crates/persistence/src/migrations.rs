//! The diesel migrations of migrations/, embedded in the binary.

use diesel::PgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::RepoError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Applies every pending migration; returns the names of those applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>, RepoError> {
    let applied =
        conn.run_pending_migrations(MIGRATIONS).map_err(|e| RepoError::Other(format!("migration failed: {e}")))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Reverts every applied migration, newest first (runs each down.sql).
pub fn revert_all(conn: &mut PgConnection) -> Result<Vec<String>, RepoError> {
    let reverted =
        conn.revert_all_migrations(MIGRATIONS).map_err(|e| RepoError::Other(format!("revert failed: {e}")))?;
    Ok(reverted.iter().map(|v| v.to_string()).collect())
}

/// Applies the next pending migration only; `None` when none is pending.
pub fn run_next(conn: &mut PgConnection) -> Result<Option<String>, RepoError> {
    let pending = conn.pending_migrations(MIGRATIONS).map_err(|e| RepoError::Other(format!("migrations: {e}")))?;
    if pending.is_empty() {
        return Ok(None);
    }
    let version =
        conn.run_next_migration(MIGRATIONS).map_err(|e| RepoError::Other(format!("migration failed: {e}")))?;
    Ok(Some(version.to_string()))
}

/// Reverts the newest applied migration only (runs its down.sql); `None` when none is applied.
pub fn revert_last(conn: &mut PgConnection) -> Result<Option<String>, RepoError> {
    let applied = conn.applied_migrations().map_err(|e| RepoError::Other(format!("migrations: {e}")))?;
    if applied.is_empty() {
        return Ok(None);
    }
    let version =
        conn.revert_last_migration(MIGRATIONS).map_err(|e| RepoError::Other(format!("revert failed: {e}")))?;
    Ok(Some(version.to_string()))
}
