//! Sign-in through an OpenID provider: the provider identities of people linked to users, and
//! the record systems registered as clients. Both are revoked, never deleted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{oidc_clients, user_identities};
use crate::RepoError;

/// A person's identity at a provider, linked to a user. `pid_tag` is the keyed hash of the
/// national id (`IdKey::person_tag`), never the id.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_identities, check_for_backend(diesel::pg::Pg))]
pub struct IdentityRow {
    pub id: i64,
    pub user_id: Uuid,
    pub issuer: String,
    pub subject: Option<String>,
    pub pid_tag: Option<Vec<u8>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An identity to link.
#[derive(Debug, Clone)]
pub struct NewIdentity<'a> {
    pub user: Uuid,
    pub issuer: &'a str,
    pub subject: Option<&'a str>,
    pub pid_tag: Option<&'a [u8]>,
    pub created_by: Option<Uuid>,
}

/// Links an identity; a subject or national id that finds a user of the issuer already is
/// `UniqueViolation("user_identities_one_subject" | "user_identities_one_pid")`.
pub fn add(conn: &mut PgConnection, new: &NewIdentity<'_>) -> Result<IdentityRow, RepoError> {
    Ok(diesel::insert_into(user_identities::table)
        .values((
            user_identities::user_id.eq(new.user),
            user_identities::issuer.eq(new.issuer),
            user_identities::subject.eq(new.subject),
            user_identities::pid_tag.eq(new.pid_tag),
            user_identities::created_by.eq(new.created_by),
        ))
        .returning(IdentityRow::as_returning())
        .get_result(conn)?)
}

/// The identities of `user` not revoked, oldest first.
pub fn of_user(conn: &mut PgConnection, user: Uuid) -> Result<Vec<IdentityRow>, RepoError> {
    Ok(user_identities::table
        .filter(user_identities::user_id.eq(user))
        .filter(user_identities::revoked_at.is_null())
        .order(user_identities::id.asc())
        .select(IdentityRow::as_select())
        .load(conn)?)
}

/// Revokes identity `id` of `user`; `NotFound` when the user has no such identity not revoked.
pub fn revoke(conn: &mut PgConnection, user: Uuid, id: i64, by: Uuid) -> Result<IdentityRow, RepoError> {
    Ok(diesel::update(user_identities::table.filter(user_identities::id.eq(id)))
        .filter(user_identities::user_id.eq(user))
        .filter(user_identities::revoked_at.is_null())
        .set((user_identities::revoked_by.eq(by), user_identities::revoked_at.eq(Utc::now())))
        .returning(IdentityRow::as_returning())
        .get_result(conn)?)
}

/// The users (distinct, at most two) that the issuer's `subject` or national id tag finds among
/// the identities not revoked.
pub fn users_of(
    conn: &mut PgConnection,
    issuer: &str,
    subject: Option<&str>,
    pid_tag: Option<&[u8]>,
) -> Result<Vec<Uuid>, RepoError> {
    if subject.is_none() && pid_tag.is_none() {
        return Ok(Vec::new());
    }
    let mut query = user_identities::table
        .filter(user_identities::issuer.eq(issuer))
        .filter(user_identities::revoked_at.is_null())
        .into_boxed();
    query = match (subject, pid_tag) {
        (Some(s), Some(t)) => query.filter(user_identities::subject.eq(s).or(user_identities::pid_tag.eq(t.to_vec()))),
        (Some(s), None) => query.filter(user_identities::subject.eq(s)),
        (None, Some(t)) => query.filter(user_identities::pid_tag.eq(t.to_vec())),
        (None, None) => query,
    };
    Ok(query.select(user_identities::user_id).distinct().limit(2).load(conn)?)
}

/// A record system registered as a client of the provider, acting as its own user.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oidc_clients, check_for_backend(diesel::pg::Pg))]
pub struct ClientRow {
    pub id: i64,
    pub issuer: String,
    pub client_id: String,
    pub user_id: Uuid,
    pub legal_entity_id: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewClient<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: Uuid,
    pub legal_entity: i64,
    pub created_by: Option<Uuid>,
}

/// Registers a client; one registered (not revoked) already under the issuer and client id is
/// `UniqueViolation("oidc_clients_one_current")`.
pub fn add_client(conn: &mut PgConnection, new: &NewClient<'_>) -> Result<ClientRow, RepoError> {
    Ok(diesel::insert_into(oidc_clients::table)
        .values((
            oidc_clients::issuer.eq(new.issuer),
            oidc_clients::client_id.eq(new.client_id),
            oidc_clients::user_id.eq(new.user),
            oidc_clients::legal_entity_id.eq(new.legal_entity),
            oidc_clients::created_by.eq(new.created_by),
        ))
        .returning(ClientRow::as_returning())
        .get_result(conn)?)
}

/// The registered (not revoked) client of the issuer with this client id.
pub fn find_client(conn: &mut PgConnection, issuer: &str, client_id: &str) -> Result<Option<ClientRow>, RepoError> {
    Ok(oidc_clients::table
        .filter(oidc_clients::issuer.eq(issuer))
        .filter(oidc_clients::client_id.eq(client_id))
        .filter(oidc_clients::revoked_at.is_null())
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// The client (registered or revoked) whose user is `user`.
pub fn client_of_user(conn: &mut PgConnection, user: Uuid) -> Result<Option<ClientRow>, RepoError> {
    Ok(oidc_clients::table
        .filter(oidc_clients::user_id.eq(user))
        .select(ClientRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every client, registered and revoked, newest first, with the number of them.
pub fn list_clients(conn: &mut PgConnection, limit: i64, offset: i64) -> Result<(Vec<ClientRow>, i64), RepoError> {
    let total = oidc_clients::table.count().get_result(conn)?;
    let rows = oidc_clients::table
        .order(oidc_clients::id.desc())
        .limit(limit)
        .offset(offset)
        .select(ClientRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Revokes client `id`; `NotFound` when there is no such client not revoked.
pub fn revoke_client(conn: &mut PgConnection, id: i64, by: Uuid) -> Result<ClientRow, RepoError> {
    Ok(diesel::update(oidc_clients::table.filter(oidc_clients::id.eq(id)))
        .filter(oidc_clients::revoked_at.is_null())
        .set((oidc_clients::revoked_by.eq(by), oidc_clients::revoked_at.eq(Utc::now())))
        .returning(ClientRow::as_returning())
        .get_result(conn)?)
}

/// The client `id`, registered or revoked.
pub fn find_client_by_id(conn: &mut PgConnection, id: i64) -> Result<ClientRow, RepoError> {
    Ok(oidc_clients::table.find(id).select(ClientRow::as_select()).first(conn)?)
}

/// Records a DPoP proof (the SHA-256 of its key thumbprint and `jti`, hex) as used until
/// `until`: true when it was not in use, false for a replay. A recorded proof whose end has
/// passed is taken over. Shared by every process on the database (docs/operations.md, DPoP).
pub fn first_use_of_proof(
    conn: &mut PgConnection,
    key: &str,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<bool, RepoError> {
    let taken = diesel::sql_query(
        "INSERT INTO dpop_proofs (key, expires_at) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE dpop_proofs.expires_at < now()",
    )
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::Timestamptz, _>(until)
    .execute(conn)?;
    Ok(taken == 1)
}

/// Removes up to `batch` proofs whose end has passed; returns how many.
pub fn sweep_proofs(conn: &mut PgConnection, batch: i64) -> Result<usize, RepoError> {
    Ok(diesel::sql_query(
        "DELETE FROM dpop_proofs WHERE key IN \
         (SELECT key FROM dpop_proofs WHERE expires_at < now() ORDER BY expires_at LIMIT $1)",
    )
    .bind::<diesel::sql_types::BigInt, _>(batch)
    .execute(conn)?)
}
