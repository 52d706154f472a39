//! Access tokens of the configured OpenID provider (HelseID; docs/operations.md, OpenID Connect).
//!
//! A token is verified against the provider's published keys ([`jwks`]): its algorithm must be
//! one of the pinned ones and its key's, the signature right, `iss` the configured issuer, `aud`
//! rusreg's audience, `exp` and `nbf` (and `iat`) within the allowed clock skew, and the required
//! scope among its scopes. A token bound to a key (`cnf.jkt`) needs a DPoP proof ([`dpop`]); with
//! `require_dpop` every token must be bound.
//!
//! What the token names: a person (a subject other than the client, or HelseID's pid claim) with
//! a security level, or a record system (client credentials: the client id and HelseID's
//! organisation number claims). Which user that is, and with which grants, is rusreg's business
//! (`app::identities`).

pub mod dpop;
pub mod jwks;

use std::collections::HashSet;

use jsonwebtoken::{Header, Validation};
use serde_json::{Map, Value};

use crate::config::OidcSettings;
use crate::error::ApiError;

/// HelseID's claim names.
pub mod claims {
    /// The person's national id (fødselsnummer or D-number).
    pub const PID: &str = "helseid://claims/identity/pid";
    /// The person's HPR number (health personnel register), when they have one.
    pub const HPR_NUMBER: &str = "helseid://claims/hpr/hpr_number";
    /// The assurance of the person's sign-in: 4 is eIDAS high (BankID, Buypass), 3 substantial.
    pub const SECURITY_LEVEL: &str = "helseid://claims/identity/security_level";
    /// The same as eIDAS words (`high`, `substantial`, `low`), read when the level is missing.
    pub const ASSURANCE_LEVEL: &str = "helseid://claims/identity/assurance_level";
    /// A client's legal entity (its organisation number).
    pub const ORG_PARENT: &str = "helseid://claims/client/claims/orgnr_parent";
    /// A client's sub-unit (its organisation number); asserted by the client, not checked by
    /// HelseID.
    pub const ORG_CHILD: &str = "helseid://claims/client/claims/orgnr_child";
}

/// What a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person, with the security level of their sign-in (0 when the token has none).
    Person { subject: Option<String>, national_id: Option<String>, security_level: u8 },
    /// A record system signed in with its client credentials.
    System { client_id: String, org_parent: Option<String>, org_child: Option<String> },
}

/// How the client presented the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    DPoP,
}

/// The request a token comes with (for its DPoP proof).
pub struct Presented<'a> {
    pub token: &'a str,
    pub scheme: Scheme,
    /// The `DPoP` header, when there is exactly one.
    pub proof: Option<&'a str>,
    pub method: &'a str,
    /// The URL the client called (scheme, host, path), without query.
    pub url: String,
}

/// A security level claim as HelseID writes it (a string such as `"4"`) or as a number; without
/// it, the eIDAS assurance level (`high` is 4, `substantial` 3, `low` 2); 0 when neither says.
pub fn security_level(claim: Option<&Value>, assurance: Option<&Value>) -> u8 {
    match claim {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()).unwrap_or(0),
        _ => match assurance.and_then(Value::as_str).map(str::trim) {
            Some("high") => 4,
            Some("substantial") => 3,
            Some("low") => 2,
            _ => 0,
        },
    }
}

/// The scopes of a token: `scope` as a space-separated string (RFC 9068) or an array (HelseID),
/// or `scp`.
fn scopes(claims: &Map<String, Value>) -> HashSet<String> {
    let mut out = HashSet::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
            _ => {}
        }
    }
    out
}

fn string(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The configured provider and its cached keys.
pub struct Provider {
    pub settings: OidcSettings,
    keys: jwks::Jwks,
}

impl Provider {
    pub fn new(settings: OidcSettings) -> Result<Self, ApiError> {
        let keys = jwks::Jwks::new(&settings).map_err(ApiError::internal)?;
        Ok(Self { settings, keys })
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verifies `presented` (whose header is `header`) and says what it names, with its DPoP
    /// proof when the token is bound to a key: the caller records the proof as used (and refuses
    /// a replay) before it lets the request through.
    pub async fn verify(
        &self,
        header: &Header,
        presented: &Presented<'_>,
    ) -> Result<(Principal, Option<dpop::Proof>), ApiError> {
        use ApiError::Unauthenticated as Refuse;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(Refuse("the token's signing algorithm is not accepted"));
        }
        if header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
            return Err(Refuse("a DPoP proof is not an access token"));
        }
        let kid = header.kid.as_deref().ok_or(Refuse("the token names no signing key (kid)"))?;
        let key = match self.keys.key(kid).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(Refuse("the token is not signed with a key of the provider")),
            Err(e) => {
                tracing::error!(error = %e, "could not fetch the OpenID provider's keys");
                return Err(ApiError::ProviderUnavailable);
            }
        };
        if key.jwk.common.key_algorithm.is_some_and(|a| format!("{a:?}") != format!("{:?}", header.alg)) {
            return Err(Refuse("the token's signing algorithm is not its key's"));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.settings.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(presented.token, &key.decoding, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                Refuse(match e.kind() {
                    K::ExpiredSignature => "the token has expired",
                    K::ImmatureSignature => "the token is not valid yet",
                    K::InvalidIssuer => "the token is from another issuer",
                    K::InvalidAudience => "the token is for another audience",
                    K::InvalidSignature => "the token's signature is wrong",
                    K::MissingRequiredClaim(_) => "the token lacks exp, iss or aud",
                    _ => "the token is malformed",
                })
            })?
            .claims;
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(self.settings.leeway_seconds).unwrap_or(0);
        if claims.get("iat").and_then(Value::as_i64).is_some_and(|iat| iat > now + leeway) {
            return Err(Refuse("the token is issued in the future"));
        }
        if !scopes(&claims).contains(&self.settings.scope) {
            return Err(Refuse("the token lacks the required scope"));
        }
        let proof = self.check_binding(&claims, presented, now, leeway)?;
        let client_id = string(&claims, "client_id");
        let subject = string(&claims, "sub");
        let national_id = string(&claims, claims::PID);
        let person = national_id.is_some() || subject.as_ref().is_some_and(|s| Some(s) != client_id.as_ref());
        if person {
            let level = security_level(claims.get(claims::SECURITY_LEVEL), claims.get(claims::ASSURANCE_LEVEL));
            return Ok((Principal::Person { subject, national_id, security_level: level }, proof));
        }
        let client_id = client_id.ok_or(Refuse("the token names neither a person nor a client"))?;
        let principal = Principal::System {
            client_id,
            org_parent: string(&claims, claims::ORG_PARENT),
            org_child: string(&claims, claims::ORG_CHILD),
        };
        Ok((principal, proof))
    }

    /// A token bound to a key (`cnf.jkt`) comes with `Authorization: DPoP` and a proof of that
    /// key; an unbound one with `Bearer`, and only while DPoP is not required.
    fn check_binding(
        &self,
        claims: &Map<String, Value>,
        presented: &Presented<'_>,
        now: i64,
        leeway: i64,
    ) -> Result<Option<dpop::Proof>, ApiError> {
        use ApiError::Unauthenticated as Refuse;
        let jkt = claims.get("cnf").and_then(|c| c.get("jkt")).and_then(Value::as_str);
        match (jkt, presented.scheme) {
            (None, _) if self.settings.require_dpop => Err(Refuse("a DPoP-bound token is required")),
            (None, Scheme::Bearer) => Ok(None),
            (None, Scheme::DPoP) => Err(Refuse("the token is not DPoP-bound: send it as a bearer token")),
            (Some(_), Scheme::Bearer) => Err(Refuse("the token is DPoP-bound: send it with Authorization: DPoP")),
            (Some(jkt), Scheme::DPoP) => {
                let proof = presented.proof.ok_or(Refuse("a DPoP-bound token needs one DPoP proof header"))?;
                let request = dpop::Request { method: presented.method, url: &presented.url, now, leeway };
                dpop::verify(proof, presented.token, jkt, &request).map(Some).map_err(|e| {
                    tracing::info!(reason = %e, "DPoP proof refused");
                    Refuse(match e {
                        dpop::ProofError::Target => "the DPoP proof is for another method or URL",
                        dpop::ProofError::Binding => "the DPoP proof's key is not the one the token is bound to",
                        dpop::ProofError::AccessToken => "the DPoP proof is for another access token",
                        dpop::ProofError::Time => "the DPoP proof is too old or from the future",
                        _ => "the DPoP proof is invalid",
                    })
                })
            }
        }
    }
}

/// Route patterns that read or write identifiable data, or change who may: a person signed in
/// below security level 4 gets 403 `security_level` there (docs/operations.md, Security level).
/// Everything else (the caller's own account, organisation units, aggregate reports, releases,
/// published results) is open at any level the provider issues.
pub const IDENTIFIABLE_ROUTES: [&str; 15] = [
    "/api/v1/patients",
    "/api/v1/imports",
    "/api/v1/orders",
    "/api/v1/pathways",
    "/api/v1/forms",
    "/api/v1/units/{id}/worklist",
    "/api/v1/reservations",
    "/api/v1/research",
    "/api/v1/audit",
    "/api/v1/users",
    "/api/v1/authorisations",
    "/api/v1/clients",
    "/fhir/Patient",
    "/fhir/EpisodeOfCare",
    "/fhir/QuestionnaireResponse",
];

/// Whether the route `pattern` needs security level 4.
pub fn needs_high_level(pattern: &str) -> bool {
    IDENTIFIABLE_ROUTES
        .iter()
        .any(|p| pattern == *p || pattern.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_levels_as_strings_or_numbers() {
        let high = serde_json::json!("high");
        assert_eq!(security_level(Some(&serde_json::json!("4")), None), 4);
        assert_eq!(security_level(Some(&serde_json::json!(3)), Some(&high)), 3, "the level wins");
        assert_eq!(security_level(Some(&serde_json::json!("high")), None), 0);
        assert_eq!(security_level(None, Some(&high)), 4);
        assert_eq!(security_level(None, Some(&serde_json::json!("substantial"))), 3);
        assert_eq!(security_level(None, None), 0);
    }

    #[test]
    fn scopes_as_a_string_or_an_array() {
        let claims = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(scopes(&claims(serde_json::json!({"scope": "openid nhn:rusreg/api"}))).contains("nhn:rusreg/api"));
        assert!(scopes(&claims(serde_json::json!({"scope": ["openid", "nhn:rusreg/api"]}))).contains("nhn:rusreg/api"));
        assert!(scopes(&claims(serde_json::json!({"scp": ["nhn:rusreg/api"]}))).contains("nhn:rusreg/api"));
        assert!(!scopes(&claims(serde_json::json!({"scope": "nhn:rusreg/api2"}))).contains("nhn:rusreg/api"));
    }

    /// Every path of the OpenAPI document is classified on purpose: a new one must be added to
    /// one of these lists (and to `IDENTIFIABLE_ROUTES` when it shows or changes identifiable
    /// data or who may see it).
    #[test]
    fn every_route_is_classified_by_security_level() {
        use utoipa::OpenApi;
        let open_at_any_level = [
            "/api/v1/auth/token",
            "/api/v1/me",
            "/api/v1/me/password",
            "/api/v1/org-units",
            "/api/v1/org-units/{id}",
            "/api/v1/org-units/{id}/links",
            "/api/v1/reports/indicators",
            "/api/v1/reports/completeness",
            "/api/v1/reports/variable-completeness",
            "/api/v1/reports/residence",
            "/api/v1/coverage/reference-counts",
            "/api/v1/releases",
            "/api/v1/releases/{id}",
            "/api/v1/releases/jobs/{id}",
            "/api/v1/releases/{id}/publish",
            "/api/v1/releases/{id}/download",
            "/api/v1/public/indicators",
            "/api/v1/directory",
            "/api/v1/directory/import",
            "/api/v1/directory/{unit}",
            "/api/v1/directory/{unit}/history",
            "/api/v1/residence/areas",
            "/api/v1/residence/catchment",
            "/api/v1/residence/population",
            "/health/live",
            "/health/ready",
            "/metrics",
        ];
        for path in crate::openapi::ApiDoc::openapi().paths.paths.keys() {
            let open = open_at_any_level.contains(&path.as_str());
            assert_ne!(needs_high_level(path), open, "{path}: classify it here and in IDENTIFIABLE_ROUTES");
        }
        assert!(needs_high_level("/api/v1/patients/{id}"));
        assert!(needs_high_level("/api/v1/users/{id}/identities"));
        assert!(!needs_high_level("/api/v1/patientsx"));
    }

    /// The FHIR facade is described by its CapabilityStatement, not the OpenAPI document: each
    /// of its routes is classified here on purpose, the same way.
    #[test]
    fn every_fhir_route_is_classified_by_security_level() {
        let open_at_any_level = [
            "/fhir/metadata",
            "/fhir/Questionnaire",
            "/fhir/Questionnaire/{id}",
            "/fhir/CodeSystem",
            "/fhir/CodeSystem/{id}",
            "/fhir/ValueSet",
            "/fhir/ValueSet/{id}",
            "/fhir/Organization",
            "/fhir/Organization/{id}",
            "/fhir/Measure",
            "/fhir/Measure/{id}",
            "/fhir/MeasureReport",
        ];
        for path in crate::fhir::ROUTES {
            let open = open_at_any_level.contains(path);
            assert_ne!(needs_high_level(path), open, "{path}: classify it here and in IDENTIFIABLE_ROUTES");
        }
    }
}
