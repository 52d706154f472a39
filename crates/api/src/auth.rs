//! Authentication over HTTP: short-lived HS256 tokens with a token generation, the `AuthUser`
//! extractor, and the endpoints `POST /auth/token`, `GET /me`, `POST /me/password` (the login
//! rule, the lockout and argon2id passwords are in `app::users`).
//!
//! `AuthUser` takes rusreg's own tokens (HS256, unless password sign-in is switched off) and the
//! configured OpenID provider's access tokens (`crate::oidc`: any other algorithm, as
//! `Authorization: Bearer` or, DPoP-bound, `Authorization: DPoP`); a provider token finds its
//! user through `app::identities`.

use app::access::NoActor;
use app::identities::NoSignIn;
use app::users::{GrantView, Login};
use domain::identities::IDENTIFIABLE_DATA_LEVEL;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::Utc;
use domain::access::Actor;
use domain::audit::{Action, Outcome};
use persistence::audit::AuditEntry;
use persistence::PgConnection;
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::oidc::{Presented, Principal, Scheme};
use crate::state::AppState;

pub use app::users::{hash_password, verify_password};

pub use crate::tokens::{Claims, Tokens};

/// Who made the request, for the audit middleware.
#[derive(Debug, Clone)]
pub struct AuthInfo {
    pub user_id: Uuid,
    pub username: String,
}

/// The authenticated caller. Grants are read from the database on every request, never trusted
/// from the token; a disabled user or a token of an older generation is refused.
pub struct AuthUser {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl AuthUser {
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }

    /// The caller of a use case: this actor, with the request's id for the audit log.
    pub fn caller(&self) -> app::Caller {
        app::Caller::new(self.actor.clone(), self.request_id.clone())
    }

    /// An audit entry by this user.
    pub fn audit(&self, action: Action, outcome: Outcome) -> AuditEntry {
        AuditEntry::new(action, outcome).by(self.actor.user_id, &self.actor.username).request(self.request_id.clone())
    }
}

pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.to_string())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let (scheme, token) = authorization(&req)?;
            let header = jsonwebtoken::decode_header(token).map_err(|_| {
                ApiError::Unauthenticated("the token is malformed, expired or not signed by this server")
            })?;
            if header.alg == jsonwebtoken::Algorithm::HS256 {
                return own_token(&state, &req, scheme, token).await;
            }
            let Some(provider) = state.oidc.clone() else {
                return Err(ApiError::Unauthenticated("the token is malformed, expired or not signed by this server"));
            };
            let presented = Presented {
                token,
                scheme,
                proof: dpop_proof(&req),
                method: req.method().as_str(),
                url: request_url(&state, &req),
            };
            let (principal, proof) = provider.verify(&header, &presented).await?;
            if let Some(proof) = proof {
                first_use_of_proof(&state, proof).await?;
            }
            provider_actor(&state, &req, provider.issuer(), principal).await
        })
    }
}

/// Records a DPoP proof as used, in PostgreSQL (shared by every rusreg process on the
/// database); a proof used before is refused. Every 256th proof also sweeps out up to 1,000
/// proofs whose end has passed.
async fn first_use_of_proof(state: &AppState, proof: crate::oidc::dpop::Proof) -> Result<(), ApiError> {
    static RECORDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sweep = RECORDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(256);
    let until = chrono::DateTime::from_timestamp(proof.until, 0)
        .ok_or(ApiError::Unauthenticated("the DPoP proof is invalid"))?;
    let first = state
        .run_db(move |conn| {
            if sweep {
                persistence::identities::sweep_proofs(conn, 1_000)?;
            }
            Ok(persistence::identities::first_use_of_proof(conn, &proof.key, until)?)
        })
        .await?;
    if !first {
        tracing::info!(reason = "the DPoP proof has been used before", "DPoP proof refused");
        return Err(ApiError::Unauthenticated("the DPoP proof has been used before"));
    }
    Ok(())
}

/// The token of `Authorization: Bearer <token>` or `Authorization: DPoP <token>`.
fn authorization(req: &HttpRequest) -> Result<(Scheme, &str), ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated("no bearer token"))?;
    let value =
        header.to_str().map_err(|_| ApiError::Unauthenticated("the Authorization header is not a bearer token"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::DPoP
    } else {
        return Err(ApiError::Unauthenticated("the Authorization header is not a bearer token"));
    };
    let token = rest.trim();
    if token.is_empty() {
        return Err(ApiError::Unauthenticated("the Authorization header is not a bearer token"));
    }
    Ok((scheme, token))
}

/// The one `DPoP` header of the request (none when there are several).
fn dpop_proof(req: &HttpRequest) -> Option<&str> {
    let mut proofs = req.headers().get_all("dpop");
    let first = proofs.next()?;
    if proofs.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// The URL the client called, for a DPoP proof's `htu`: `RUSREG_PUBLIC_URL` and the path, or
/// the request's scheme and host (as a proxy forwards them) and the path.
fn request_url(state: &AppState, req: &HttpRequest) -> String {
    match &state.settings.public_url {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), req.path()),
        None => {
            let info = req.connection_info();
            format!("{}://{}{}", info.scheme(), info.host(), req.path())
        }
    }
}

/// rusreg's own token (HS256, from `POST /auth/token`): refused when password sign-in is off.
async fn own_token(state: &AppState, req: &HttpRequest, scheme: Scheme, token: &str) -> Result<AuthUser, ApiError> {
    if scheme == Scheme::DPoP {
        return Err(ApiError::Unauthenticated("rusreg's own tokens are bearer tokens"));
    }
    if !state.settings.password_login {
        return Err(ApiError::Unauthenticated("password sign-in is switched off: sign in through the OpenID provider"));
    }
    let claims = state.tokens.verify(token)?;
    let actor = state.run_db(move |conn| load_actor(conn, claims.sub, claims.gen)).await?;
    req.extensions_mut().insert(AuthInfo { user_id: actor.user_id, username: actor.username.clone() });
    Ok(AuthUser { actor, request_id: request_id(req) })
}

/// The user a verified provider token names, with their grants from rusreg. A person signed in
/// below security level 4 is refused on routes with identifiable data (403 `security_level`).
async fn provider_actor(
    state: &AppState,
    req: &HttpRequest,
    issuer: &str,
    principal: Principal,
) -> Result<AuthUser, ApiError> {
    let issuer = issuer.to_owned();
    let today = state.today();
    let key = state.id_key.clone();
    let (found, level) = match principal {
        Principal::Person { subject, national_id, security_level } => {
            let found = state
                .run_db(move |conn| {
                    Ok(app::identities::person_actor(conn, &key, &issuer, subject.as_deref(), national_id.as_deref())?)
                })
                .await?;
            (found, Some(security_level))
        }
        Principal::System { client_id, org_parent, org_child } => {
            let found = state
                .run_db(move |conn| {
                    Ok(app::identities::client_actor(
                        conn,
                        &issuer,
                        &client_id,
                        org_parent.as_deref(),
                        org_child.as_deref(),
                        today,
                    )?)
                })
                .await?;
            (found, None)
        }
    };
    let actor = found.map_err(|why| match why {
        NoSignIn::IdentityNotLinked => ApiError::ForbiddenBecause {
            code: "identity_not_linked",
            message: "no rusreg user is linked to this identity: an admin links it (POST /users/{id}/identities)",
        },
        NoSignIn::IdentityAmbiguous => ApiError::ForbiddenBecause {
            code: "identity_ambiguous",
            message: "the subject and the national id of this identity are linked to different users",
        },
        NoSignIn::Disabled => ApiError::Unauthenticated("the user is disabled"),
        NoSignIn::ClientNotRegistered => ApiError::ForbiddenBecause {
            code: "client_not_registered",
            message: "this client is not registered in rusreg: an admin registers it (POST /clients)",
        },
        NoSignIn::OrganisationMismatch => ApiError::ForbiddenBecause {
            code: "organisation_mismatch",
            message: "the token's organisation numbers are not those of the client's legal entity and its units",
        },
    })?;
    req.extensions_mut().insert(AuthInfo { user_id: actor.user_id, username: actor.username.clone() });
    let route = req.match_pattern().unwrap_or_default();
    if level.is_some_and(|l| l < IDENTIFIABLE_DATA_LEVEL) && crate::oidc::needs_high_level(&route) {
        return Err(ApiError::ForbiddenBecause {
            code: "security_level",
            message: "identifiable data needs a sign-in at security level 4 (for example BankID)",
        });
    }
    Ok(AuthUser { actor, request_id: request_id(req) })
}

/// Loads the user and grants; refuses disabled users and revoked tokens.
pub fn load_actor(conn: &mut PgConnection, user_id: Uuid, generation: i32) -> Result<Actor, ApiError> {
    app::access::actor_of(conn, user_id, Some(generation))?.map_err(|why| match why {
        NoActor::Unknown => ApiError::Unauthenticated("unknown user"),
        NoActor::Revoked => ApiError::Unauthenticated("the token has been revoked"),
    })
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[validate(length(min = 1, max = 64))]
    pub username: String,
    #[validate(length(min = 1, max = 256))]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// Exchanges username and password for an access token. With password sign-in switched off
/// (`RUSREG_PASSWORD_LOGIN=off`) it answers 403 `password_login_disabled`: people sign in through
/// the OpenID provider.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem, description = "password sign-in is switched off"),
              (status = 422, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem, description = "too many attempts from this address or for this username; see Retry-After",
               headers(("Retry-After" = u64, description = "seconds to wait")))))]
pub async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.password_login {
        return Err(ApiError::ForbiddenBecause {
            code: "password_login_disabled",
            message: "password sign-in is switched off: sign in through the OpenID provider",
        });
    }
    let body = body.into_inner();
    body.validate()?;
    let request_id = request_id(&req);
    // Limits first: a refused attempt costs neither a connection nor argon2.
    let tag = state.id_key.username_tag(&body.username);
    let address = req.peer_addr().map(|a| a.ip());
    if let Err(wait) = state.login_limits.check(address, &tag) {
        state.metrics.observe("POST", "(login rate limited)", "429", 0.0);
        // The answer is held back (up to a second, costing no thread): a client that does not
        // wait for Retry-After gets one answer a second per connection, not thousands.
        actix_web::rt::time::sleep(wait.min(crate::login_limits::TARPIT_MAX)).await;
        return Err(ApiError::RateLimited { retry_after: crate::login_limits::retry_after_seconds(wait) });
    }
    let _slot = state.login_slots.clone().acquire_owned().await.map_err(ApiError::internal)?;
    let (pool, key, dummy) = (state.pool.clone(), state.id_key.clone(), state.dummy_hash.clone());
    // No connection is held while argon2 runs (app::users::login checks out twice).
    let outcome =
        web::block(move || app::users::login(&pool, &key, &body.username, &body.password, &dummy, request_id))
            .await
            .map_err(ApiError::internal)??;
    match outcome {
        Login::Success { user, generation } => {
            let token = state.tokens.issue(user, generation, Utc::now())?;
            Ok(HttpResponse::Ok().json(TokenResponse {
                access_token: token,
                token_type: "Bearer".into(),
                expires_in: state.tokens.ttl_seconds(),
            }))
        }
        Login::Failure => Err(ApiError::InvalidCredentials),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantResponse {
    pub id: i64,
    pub role: String,
    pub node_id: i64,
    pub node_kind: String,
    pub node_name: String,
    /// `active`, or `pending` (a register_staff or admin grant waiting for a second admin's
    /// approval: it gives no access).
    pub status: String,
    pub reason: Option<String>,
    /// The admin who granted it (none: the operator's command line).
    pub granted_by: Option<Uuid>,
    pub approved_by: Option<Uuid>,
    /// When it took effect (none while pending).
    pub valid_from: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub grants: Vec<GrantResponse>,
}

impl From<GrantView> for GrantResponse {
    fn from(g: GrantView) -> Self {
        Self {
            id: g.row.id,
            status: g.row.status().as_str().to_owned(),
            role: g.row.role,
            node_id: g.row.node_id,
            node_kind: g.node_kind,
            node_name: g.node_name,
            reason: g.row.reason,
            granted_by: g.row.granted_by,
            approved_by: g.row.approved_by,
            valid_from: g.row.valid_from,
        }
    }
}

/// The caller and their grants.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = crate::error::Problem)))]
pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let caller = user.caller();
    let me = state.run_db(move |conn| Ok(app::users::me(conn, &caller)?)).await?;
    let grants = me.grants.into_iter().map(GrantResponse::from).collect();
    Ok(HttpResponse::Ok().json(MeResponse {
        id: me.row.id,
        username: me.row.username,
        display_name: me.row.display_name,
        grants,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's own password; every token issued before stops working.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn change_own_password(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let caller = user.caller();
    state
        .run_db(move |conn| {
            Ok(app::users::change_own_password(conn, &caller, &body.current_password, &body.new_password)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/token", web::post().to(issue_token))
        .route("/me", web::get().to(get_me))
        .route("/me/password", web::post().to(change_own_password));
}
