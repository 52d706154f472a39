//! rusreg persistence: the diesel schema and rows, repositories, the r2d2 pool, embedded
//! migrations, the audit-log writer, reference-data seeding and the managed local PostgreSQL
//! cluster used by `rusreg demo` and the tests.

pub mod audit;
pub mod deferred;
pub mod digests;
pub mod directory;
pub mod error;
pub mod forms;
pub mod identities;
pub mod imports;
pub mod migrations;
pub mod orders;
pub mod organisations;
pub mod outbox;
pub mod pathways;
pub mod patients;
pub mod pool;
pub mod releases;
pub mod reports;
pub mod research;
pub mod reservations;
pub mod residence;
pub mod roles;
pub mod scheduler;
pub mod schema;
pub mod seeds;
pub mod synthetic;
pub mod users;
pub mod worklist;

pub use diesel::PgConnection;
pub use error::RepoError;
pub use pool::{build_pool, DbPool, PooledConn};

/// Runs `f` in a database transaction; diesel's errors become `RepoError`, so callers above
/// persistence never see diesel. Any error rolls the whole transaction back.
pub fn in_transaction<T, E>(conn: &mut PgConnection, f: impl FnOnce(&mut PgConnection) -> Result<T, E>) -> Result<T, E>
where
    E: From<RepoError>,
{
    use diesel::Connection;
    let mut result: Option<Result<T, E>> = None;
    // Log rows collected for a later flush inside a part that rolls back go with it.
    let mark = deferred::mark(conn);
    let outcome = conn.transaction::<(), TxAbort, _>(|conn| match f(conn) {
        Ok(v) => {
            result = Some(Ok(v));
            Ok(())
        }
        Err(e) => {
            result = Some(Err(e));
            Err(TxAbort::Rollback)
        }
    });
    if outcome.is_err() {
        deferred::rewind(mark);
    }
    match (outcome, result) {
        (Err(TxAbort::Db(e)), _) => Err(E::from(RepoError::from(e))),
        (_, Some(r)) => r,
        (Ok(()), None) | (Err(TxAbort::Rollback), None) => {
            Err(E::from(RepoError::Other("transaction produced no result".into())))
        }
    }
}

enum TxAbort {
    Rollback,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxAbort {
    fn from(e: diesel::result::Error) -> Self {
        TxAbort::Db(e)
    }
}
