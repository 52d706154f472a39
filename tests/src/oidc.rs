//! A real OpenID provider for the tests: tests/oidc/provider.mjs, the certified `oidc-provider`
//! package under Node, in a child process of the test, with HelseID-like claims; and what a
//! client does against it: the authorization-code flow with PKCE (a person), client credentials
//! (a record system), DPoP proofs.
//!
//! Node is required: a machine without it fails these tests (.ci/run installs the packages with
//! `npm ci --prefix tests/oidc`; without node_modules the first test does the same).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// rusreg as a resource of the provider: its indicator, the audience its tokens carry, its scope.
pub const RESOURCE: &str = "https://rusreg.test/api";
pub const AUDIENCE: &str = "rusreg-api";
pub const SCOPE: &str = "nhn:rusreg/api";
/// Another API of the same provider (tokens for it have another audience).
pub const OTHER_RESOURCE: &str = "https://other.test/api";
pub const OTHER_SCOPE: &str = "other:api";
/// Where the person's browser would return to (never called).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// HelseID's claims.
pub const PID: &str = "helseid://claims/identity/pid";
pub const SECURITY_LEVEL: &str = "helseid://claims/identity/security_level";
pub const HPR_NUMBER: &str = "helseid://claims/hpr/hpr_number";
pub const ORG_PARENT: &str = "helseid://claims/client/claims/orgnr_parent";
pub const ORG_CHILD: &str = "helseid://claims/client/claims/orgnr_child";

static INSTALL: Mutex<()> = Mutex::new(());

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// Installs the provider's packages from package-lock.json (`npm ci`) when node_modules is
/// missing. Panics when Node or npm is missing: these tests never skip.
pub fn ensure_installed() {
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node is required for the OpenID provider tests (apt-get install nodejs npm): {node:?}"
    );
    if package_dir().join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(package_dir())
        .status()
        .expect("npm is required for the OpenID provider tests (apt-get install npm)");
    assert!(status.success(), "npm ci --prefix tests/oidc failed");
}

/// A client of the provider: its registration and what goes into its tokens.
pub fn client(id: &str, grant: &str, alg: &str, token_claims: Value) -> Value {
    let metadata = match grant {
        "authorization_code" => json!({
            "client_id": id, "client_secret": secret_of(id), "grant_types": ["authorization_code"],
            "response_types": ["code"], "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_post",
        }),
        _ => json!({
            "client_id": id, "client_secret": secret_of(id), "grant_types": ["client_credentials"],
            "response_types": [], "redirect_uris": [], "token_endpoint_auth_method": "client_secret_post",
        }),
    };
    json!({"metadata": metadata, "alg": alg, "token_claims": token_claims})
}

/// The secret of a test client.
pub fn secret_of(client_id: &str) -> String {
    format!("{client_id}-secret-0123456789abcdef")
}

/// A person at the provider, with HelseID's person claims.
pub fn person(pid: &str, level: &str) -> Value {
    json!({"claims": {PID: pid, SECURITY_LEVEL: level, HPR_NUMBER: "565501872"}})
}

/// The provider, running.
pub struct Provider {
    child: Child,
    _stdin: ChildStdin,
    pub issuer: String,
    dir: PathBuf,
    config: Value,
    http: reqwest::Client,
}

/// What `Provider::start` is given: keys (`[{kid, alg}]`, the first of an algorithm signs),
/// accounts (`{sub: person(..)}`) and clients (`[client(..)]`).
pub struct Spec {
    pub keys: Value,
    pub accounts: Value,
    pub clients: Vec<Value>,
}

fn spawn(dir: &Path, config: &Value) -> (Child, ChildStdin, String) {
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let log = std::fs::File::create(dir.join("provider.log")).unwrap();
    let mut child = Command::new("node")
        .arg(package_dir().join("provider.mjs"))
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start node tests/oidc/provider.mjs");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // The first line says where it listens; the rest (the provider's notices) is drained, so
    // that its writes never fail on a closed pipe.
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    // Node starts the provider in a second or two, but a loaded machine (a full run builds and
    // tests at once) has taken over a minute.
    let line = rx.recv_timeout(Duration::from_secs(180)).unwrap_or_default();
    let ready: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    let Some(issuer) = ready["issuer"].as_str() else {
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.join("provider.log")).unwrap_or_default();
        panic!("the OpenID provider did not start: {line}\n{log}");
    };
    (child, stdin, issuer.to_owned())
}

impl Provider {
    pub fn start(spec: Spec) -> Self {
        ensure_installed();
        let dir = std::env::temp_dir().join(format!("rusreg-oidc-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = json!({
            "port": 0,
            "keys_file": dir.join("keys.json"),
            "keys": spec.keys,
            "resources": [
                {"indicator": RESOURCE, "audience": AUDIENCE, "scope": SCOPE},
                {"indicator": OTHER_RESOURCE, "audience": "other-api", "scope": OTHER_SCOPE},
            ],
            "accounts": spec.accounts,
            "clients": spec.clients,
        });
        Self::start_with(dir, config)
    }

    fn start_with(dir: PathBuf, mut config: Value) -> Self {
        let (child, stdin, issuer) = spawn(&dir, &config);
        let port = issuer.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap();
        config["port"] = json!(port);
        // A connection per request: the provider restarts in some tests.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Self { child, _stdin: stdin, issuer, dir, config, http }
    }

    /// A second provider (another issuer: another port) with the same keys, accounts and clients.
    pub fn twin(&self) -> Self {
        let dir = std::env::temp_dir().join(format!("rusreg-oidc-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(self.dir.join("keys.json"), dir.join("keys.json")).unwrap();
        let mut config = self.config.clone();
        config["port"] = json!(0);
        config["keys_file"] = json!(dir.join("keys.json"));
        Self::start_with(dir, config)
    }

    /// Stops the provider and starts it again on the same address with the key set `keys`
    /// (keys it had are kept, new ones are made): a key rotation.
    pub fn restart_with_keys(&mut self, keys: Value) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.config["keys"] = keys;
        let (child, stdin, issuer) = spawn(&self.dir, &self.config);
        assert_eq!(issuer, self.issuer, "restarted on the same address");
        self.child = child;
        self._stdin = stdin;
    }

    /// Stops the provider (as in an outage); `restart_with_keys` brings it back.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The key set the provider publishes now.
    pub async fn jwks(&self) -> Value {
        self.http.get(format!("{}/jwks", self.issuer)).send().await.unwrap().json().await.unwrap()
    }

    /// A client-credentials token request; the provider's JSON answer (with `access_token` on
    /// success).
    pub async fn client_credentials(
        &self,
        client_id: &str,
        scope: &str,
        resource: &str,
        dpop: Option<&DpopKey>,
    ) -> Value {
        let url = format!("{}/token", self.issuer);
        let secret = secret_of(client_id);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", &secret),
            ("scope", scope),
            ("resource", resource),
        ];
        let mut req = self.http.post(&url).form(&form);
        if let Some(key) = dpop {
            req = req.header("DPoP", key.proof("POST", &url, None));
        }
        req.send().await.unwrap().json().await.unwrap()
    }

    /// A record system's access token for rusreg.
    pub async fn system_token(&self, client_id: &str) -> String {
        let answer = self.client_credentials(client_id, SCOPE, RESOURCE, None).await;
        answer["access_token"].as_str().unwrap_or_else(|| panic!("no token for {client_id}: {answer}")).to_owned()
    }

    /// A person signs in through the authorization-code flow with PKCE at the web client
    /// `client_id`: the authorization request (the provider's interaction logs the account named
    /// by login_hint in), the redirects with the provider's cookies, and the code exchanged for an
    /// access token for `resource`.
    pub async fn sign_in(&self, client_id: &str, account: &str, resource: &str, scope: &str) -> String {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = uuid::Uuid::new_v4().simple().to_string();
        let mut url = reqwest::Url::parse(&format!("{}/auth", self.issuer)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", &format!("openid {scope}"))
            .append_pair("resource", resource)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("login_hint", account)
            .append_pair("state", &state);
        let mut cookies: BTreeMap<String, String> = BTreeMap::new();
        let mut next = url;
        let code = loop {
            let cookie = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            let res = self.http.get(next.clone()).header("cookie", cookie).send().await.unwrap();
            for set in res.headers().get_all("set-cookie") {
                let pair = set.to_str().unwrap().split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    cookies.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
            assert!(res.status().is_redirection(), "sign-in stopped at {next}: {}", res.status());
            let location = res.headers()["location"].to_str().unwrap().to_owned();
            let target = next.join(&location).unwrap();
            if target.as_str().starts_with(REDIRECT_URI) {
                let pairs: BTreeMap<String, String> = target.query_pairs().into_owned().collect();
                assert_eq!(pairs.get("state"), Some(&state));
                break pairs.get("code").cloned().unwrap_or_else(|| panic!("no code: {target}"));
            }
            next = target;
        };
        let secret = secret_of(client_id);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
            ("client_id", client_id),
            ("client_secret", secret.as_str()),
            ("resource", resource),
        ];
        let answer: Value =
            self.http.post(format!("{}/token", self.issuer)).form(&form).send().await.unwrap().json().await.unwrap();
        answer["access_token"].as_str().unwrap_or_else(|| panic!("no token for {account}: {answer}")).to_owned()
    }

    /// rusreg's settings for this provider (every algorithm the tests use, keys fetched again
    /// at once on an unknown key id).
    pub fn settings(&self) -> api::config::OidcSettings {
        let mut s = api::config::OidcSettings::new(&self.issuer, AUDIENCE, SCOPE);
        s.algorithms = vec![Algorithm::RS256, Algorithm::ES256];
        s.jwks_min_refresh_seconds = 0;
        s
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self._stdin.flush();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("RUSREG_KEEP_OIDC").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The payload of a JWT, unverified (to look at what the provider issued).
pub fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A client's DPoP key (P-256) and its proofs.
pub struct DpopKey {
    encoding: EncodingKey,
    jwk: Jwk,
}

impl DpopKey {
    pub fn generate() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
        };
        Self { encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
    }

    /// A proof for `method` on `url` (with `ath` of `access_token` when given), issued now.
    pub fn proof(&self, method: &str, url: &str, access_token: Option<&str>) -> String {
        self.proof_at(method, url, access_token, chrono::Utc::now().timestamp())
    }

    pub fn proof_at(&self, method: &str, url: &str, access_token: Option<&str>, iat: i64) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let mut claims = json!({"htm": method, "htu": url, "iat": iat, "jti": uuid::Uuid::new_v4().to_string()});
        if let Some(token) = access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}
