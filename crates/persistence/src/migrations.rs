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
