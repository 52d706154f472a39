//! The provider's signing keys: found through its discovery document, cached, fetched again when
//! older than the maximum age, and on a key id the cache does not hold — at most once in the
//! minimum interval, so a rotation works without a restart and forged key ids cost no fetch each.
//! When a fetch fails the keys already held stay in use.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::config::{check_provider_url, OidcSettings};

/// The largest discovery document or key set read.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the keys could not be fetched (logged; the caller answers 503).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request to the provider failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the provider answered {0}")]
    Status(u16),
    #[error("the provider's answer is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the provider's answer is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the discovery document names another issuer")]
    IssuerMismatch,
    #[error("the discovery document's jwks_uri is not an https URL")]
    InsecureJwksUri,
    #[error("no key set has been fetched yet, and the last attempt failed moments ago")]
    NotYet,
}

/// A verification key with the JWK it came from.
#[derive(Clone)]
pub struct Key {
    pub jwk: Jwk,
    pub decoding: DecodingKey,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

pub struct Jwks {
    http: reqwest::Client,
    issuer: String,
    max_age: Duration,
    min_refresh: Duration,
    cached: RwLock<Cached>,
    /// One fetch at a time; the others wait and use its result.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// A key rusreg can verify with: a key id, for signing, of a kind the pinned algorithms use.
fn usable(jwk: &Jwk) -> bool {
    let signing = !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_)));
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => true,
        AlgorithmParameters::EllipticCurve(ec) => ec.curve == EllipticCurve::P256,
        _ => false,
    };
    jwk.common.key_id.is_some() && signing && kind
}

impl Jwks {
    pub fn new(settings: &OidcSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // Requests come from any worker's runtime: no connection outlives its request.
            .pool_max_idle_per_host(0)
            .build()?;
        Ok(Self {
            http,
            issuer: settings.issuer.clone(),
            max_age: Duration::from_secs(settings.jwks_max_age_seconds),
            min_refresh: Duration::from_secs(settings.jwks_min_refresh_seconds),
            cached: RwLock::new(Cached::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The key with id `kid`: from the cache while it is fresh, else fetched again (rate-limited).
    /// `Ok(None)`: the provider publishes no such key (or did not at the last fetch).
    pub async fn key(&self, kid: &str) -> Result<Option<Key>, FetchError> {
        let (found, fresh, may_fetch) = self.look(kid);
        if (found.is_some() && fresh) || !may_fetch {
            return self.held(found);
        }
        let _one = self.fetching.lock().await;
        // Someone else may have fetched while this request waited.
        let (found, fresh, may_fetch) = self.look(kid);
        if (found.is_some() && fresh) || !may_fetch {
            return self.held(found);
        }
        self.write().last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let key = keys.get(kid).cloned();
                let mut cached = self.write();
                cached.keys = keys;
                cached.fetched_at = Some(Instant::now());
                Ok(key)
            }
            Err(e) if found.is_some() => {
                tracing::warn!(error = %e, "could not fetch the OpenID provider's keys; the cached keys stay in use");
                Ok(found)
            }
            Err(e) => Err(e),
        }
    }

    /// The key held, when no fetch is due or allowed now: while no key set was ever fetched, that
    /// is the provider being unavailable, not an unknown key.
    fn held(&self, found: Option<Key>) -> Result<Option<Key>, FetchError> {
        let ever = self.cached.read().unwrap_or_else(|p| p.into_inner()).fetched_at.is_some();
        if found.is_none() && !ever {
            return Err(FetchError::NotYet);
        }
        Ok(found)
    }

    /// (the cached key, whether the cache is fresh, whether a fetch is allowed now)
    fn look(&self, kid: &str) -> (Option<Key>, bool, bool) {
        let cached = self.cached.read().unwrap_or_else(|p| p.into_inner());
        let fresh = cached.fetched_at.is_some_and(|t| t.elapsed() < self.max_age);
        let may_fetch = cached.last_attempt.is_none_or(|t| t.elapsed() >= self.min_refresh);
        (cached.keys.get(kid).cloned(), fresh, may_fetch)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cached> {
        self.cached.write().unwrap_or_else(|p| p.into_inner())
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut res = self.http.get(url).header("accept", "application/json").send().await?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        if res.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The discovery document (its issuer must be the configured one), then the key set.
    async fn fetch(&self) -> Result<HashMap<String, Key>, FetchError> {
        let discovery_url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let discovery: Discovery = serde_json::from_slice(&self.get(&discovery_url).await?)?;
        if discovery.issuer != self.issuer {
            return Err(FetchError::IssuerMismatch);
        }
        check_provider_url("jwks_uri", &discovery.jwks_uri).map_err(|_| FetchError::InsecureJwksUri)?;
        // Key by key: a key of a kind this crate cannot read (an encryption key, a new algorithm)
        // is skipped, not a reason to refuse the whole set.
        let set: KeySet = serde_json::from_slice(&self.get(&discovery.jwks_uri).await?)?;
        let mut keys = HashMap::new();
        let readable = set.keys.into_iter().filter_map(|k| serde_json::from_value::<Jwk>(k).ok());
        for jwk in readable.filter(usable) {
            let (Some(kid), Ok(decoding)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(&jwk)) else {
                continue;
            };
            keys.insert(kid, Key { jwk, decoding });
        }
        tracing::info!(keys = keys.len(), "fetched the OpenID provider's keys");
        Ok(keys)
    }
}
