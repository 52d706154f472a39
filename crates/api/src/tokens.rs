//! Access tokens: short-lived HS256 JWTs carrying the user id and the user's token generation
//! (a password change or disabling the user raises it, revoking every older token).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    /// The user's token generation when the token was issued.
    pub gen: i32,
    pub jti: Uuid,
}

/// Issues and checks tokens. The algorithm is pinned to HS256.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_minutes: i64,
}

impl Tokens {
    pub fn new(secret: &[u8], ttl_minutes: i64) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), ttl_minutes }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_minutes * 60
    }

    pub fn issue(&self, user: Uuid, generation: i32, now: DateTime<Utc>) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user,
            iat: now.timestamp(),
            exp: now.timestamp() + self.ttl_seconds(),
            gen: generation,
            jti: Uuid::new_v4(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// Checks signature, algorithm (HS256 only) and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|_| ApiError::Unauthenticated("the token is malformed, expired or not signed by this server"))
    }
}
