//! The database role a connection runs as: the server must hold neither superuser nor ownership
//! of the register's tables (either could switch the append-only triggers off).

use diesel::{PgConnection, RunQueryDsl};

use crate::RepoError;

#[derive(diesel::QueryableByName)]
struct RoleFacts {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    superuser: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    owned_tables: i64,
}

/// What makes the connection's role too powerful for the server, or `None`: superuser, or owner
/// (directly or through a role it belongs to) of a table of schema `public`.
pub fn privileged(conn: &mut PgConnection) -> Result<Option<String>, RepoError> {
    let facts: RoleFacts = diesel::sql_query(
        "SELECT current_user::text AS name, \
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, \
                (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
                   AND pg_has_role(current_user, c.relowner, 'USAGE')) AS owned_tables",
    )
    .get_result(conn)?;
    Ok(if facts.superuser {
        Some(format!("({}) is a superuser", facts.name))
    } else if facts.owned_tables > 0 {
        Some(format!("({}) owns {} of the register's tables", facts.name, facts.owned_tables))
    } else {
        None
    })
}
