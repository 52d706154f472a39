//! DPoP (RFC 9449): the proof a client sends with a DPoP-bound access token. It is a JWT signed
//! with the client's key, carried in its own header (`jwk`); rusreg checks its type, algorithm
//! and signature, that it is for this request (`htm`, `htu`), fresh (`iat`) and not replayed
//! (`jti`), that it is for this access token (`ath`), and that its key is the one the token is
//! bound to (the token's `cnf.jkt`, the key's RFC 7638 thumbprint).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How old a proof may be (beyond the clock skew).
pub const MAX_AGE_SECONDS: i64 = 60;
/// The signature algorithms of proofs (asymmetric only).
const PROOF_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];
/// Members of a private key, which a proof's `jwk` must not have.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// Why a proof is refused (each a 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the DPoP proof is malformed")]
    Malformed,
    #[error("the DPoP proof is not of type dpop+jwt or not signed with an asymmetric algorithm")]
    Type,
    #[error("the DPoP proof's key is missing or private")]
    Key,
    #[error("the DPoP proof's signature is wrong")]
    Signature,
    #[error("the DPoP proof is for another method or URL")]
    Target,
    #[error("the DPoP proof is too old or from the future")]
    Time,
    #[error("the DPoP proof is for another access token")]
    AccessToken,
    #[error("the DPoP proof's key is not the one the token is bound to")]
    Binding,
}

#[derive(Deserialize)]
struct ProofClaims {
    htm: String,
    htu: String,
    iat: i64,
    jti: String,
    ath: Option<String>,
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK given as JSON.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(|v| serde_json::to_string(v).ok());
    let kty = jwk.get("kty").and_then(Value::as_str)?;
    let canonical = match kty {
        "EC" => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, member("crv")?, member("x")?, member("y")?),
        "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, member("e")?, member("n")?),
        "OKP" => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, member("crv")?, member("x")?),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// `ath`: the SHA-256 of the access token, base64url.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Whether two URLs name the same resource for `htu`: scheme, host, port and path, without
/// query and fragment (RFC 9449, 4.3).
pub fn same_target(proof_htu: &str, request_url: &str) -> bool {
    let (Ok(a), Ok(b)) = (reqwest::Url::parse(proof_htu), reqwest::Url::parse(request_url)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

/// The request a proof must be for.
pub struct Request<'a> {
    pub method: &'a str,
    /// The URL the client called, without query.
    pub url: &'a str,
    pub now: i64,
    pub leeway: i64,
}

/// A proof that passed every check but the replay check: the SHA-256 of its key thumbprint and
/// `jti` (hex) and until when it must be remembered (when it would be refused as too old
/// anyway). The caller records it in PostgreSQL (`persistence::identities::first_use_of_proof`),
/// so that every rusreg process on the database refuses a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub key: String,
    pub until: i64,
}

/// Checks `proof` for the access token `token` bound to the key thumbprint `jkt`.
pub fn verify(proof: &str, token: &str, jkt: &str, request: &Request<'_>) -> Result<Proof, ProofError> {
    let header_b64 = proof.split('.').next().ok_or(ProofError::Malformed)?;
    let raw_header: Value = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(ProofError::Malformed)?;
    let header = jsonwebtoken::decode_header(proof).map_err(|_| ProofError::Malformed)?;
    if header.typ.as_deref() != Some("dpop+jwt") || !PROOF_ALGORITHMS.contains(&header.alg) {
        return Err(ProofError::Type);
    }
    let raw_jwk = raw_header.get("jwk").filter(|j| j.is_object()).ok_or(ProofError::Key)?;
    if PRIVATE_MEMBERS.iter().any(|m| raw_jwk.get(m).is_some()) {
        return Err(ProofError::Key);
    }
    let jwk = header.jwk.as_ref().ok_or(ProofError::Key)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| ProofError::Key)?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::Signature,
            _ => ProofError::Malformed,
        })?
        .claims;
    if thumbprint(raw_jwk).as_deref() != Some(jkt) {
        return Err(ProofError::Binding);
    }
    if !claims.htm.eq_ignore_ascii_case(request.method) || !same_target(&claims.htu, request.url) {
        return Err(ProofError::Target);
    }
    let oldest = request.now - MAX_AGE_SECONDS - request.leeway;
    if claims.iat < oldest || claims.iat > request.now + request.leeway {
        return Err(ProofError::Time);
    }
    if claims.ath.as_deref() != Some(access_token_hash(token).as_str()) {
        return Err(ProofError::AccessToken);
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(ProofError::Malformed);
    }
    // Replays are remembered per key, until the proof would be refused as too old.
    let until = claims.iat + MAX_AGE_SECONDS + 2 * request.leeway;
    Ok(Proof { key: hex::encode(Sha256::digest(format!("{jkt}:{}", claims.jti))), until })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_of_rfc_7638s_example() {
        // RFC 7638, 3.1.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(thumbprint(&jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert_eq!(thumbprint(&serde_json::json!({"kty": "oct", "k": "x"})), None);
    }

    #[test]
    fn htu_ignores_query_and_fragment_and_default_ports() {
        assert!(same_target("https://rusreg.example/api/v1/me?x=1", "https://rusreg.example:443/api/v1/me"));
        assert!(same_target("https://RUSREG.example/api/v1/me#f", "https://rusreg.example/api/v1/me"));
        assert!(!same_target("https://rusreg.example/api/v1/me", "http://rusreg.example/api/v1/me"));
        assert!(!same_target("https://rusreg.example/api/v1/me", "https://rusreg.example/api/v1/patients"));
        assert!(!same_target("https://other.example/api/v1/me", "https://rusreg.example/api/v1/me"));
    }
}
