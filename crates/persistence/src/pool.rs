//! The r2d2 connection pool.

use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::PgConnection;

use crate::RepoError;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type PooledConn = PooledConnection<ConnectionManager<PgConnection>>;

/// Builds a pool of `size` connections to `url`. Fails when the database cannot be reached.
pub fn build_pool(url: &str, size: u32) -> Result<DbPool, RepoError> {
    Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(10))
        .build(ConnectionManager::<PgConnection>::new(url))
        .map_err(|e| RepoError::Pool(e.to_string()))
}

/// `SELECT 1`: whether the database answers on this connection.
pub fn ping(conn: &mut PgConnection) -> Result<(), RepoError> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}
