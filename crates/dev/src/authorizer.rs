//! API Gateway's JWT authorizer, as the local edge runs it before every route that needs it.
//!
//! It does what the HTTP API's JWT authorizer does (AWS developer guide, "Controlling access to
//! HTTP APIs with JWT authorizers"), no more and no less:
//!
//! 1. the token is the `Authorization` header, with or without `Bearer `;
//! 2. it must be an RS256 JWT whose `kid` is in the issuer's JWKS, found through the issuer's
//!    discovery document (`{issuer}/.well-known/openid-configuration` → `jwks_uri`), cached and
//!    fetched again when a token names a `kid` the cache does not hold;
//! 3. `iss` must be the issuer; `aud` must hold one of the audiences, or, for a token without
//!    `aud`, `client_id` must be one of them;
//! 4. `exp` and `nbf` are checked against the current time (no leeway);
//! 5. when the route names scopes, the token's `scope` (or `scp`) must hold one of them.
//!
//! Failing 1–4 is `401 {"message":"Unauthorized"}` with a `www-authenticate` challenge; failing 5
//! is `403 {"message":"Forbidden"}`. On success the function's event gets
//! `requestContext.authorizer.jwt` with every claim as a string and the token's scopes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

/// The most often the JWKS is fetched again because of unknown `kid`s: a flood of made-up key
/// ids must not turn into a flood of requests to the issuer.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(5);

/// How long one discovery or JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the authorizer trusts.
#[derive(Debug)]
pub struct JwtAuthorizer {
    issuer: String,
    audience: Vec<String>,
    jwks_uri: Option<String>,
    keys: Mutex<KeyCache>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").field("kids", &self.keys.keys().collect::<Vec<_>>()).finish()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `401`: no token, or one that is not valid; the detail goes to the log only.
    Unauthorized(String),
    /// `403`: a valid token without any of the route's scopes.
    Forbidden,
}

impl Refusal {
    /// The status, the body's `message` and the `www-authenticate` header API Gateway answers with.
    pub fn answer(&self) -> (u16, &'static str, Option<&'static str>) {
        match self {
            Self::Unauthorized(_) => (401, "Unauthorized", Some("Bearer")),
            Self::Forbidden => (403, "Forbidden", None),
        }
    }
}

/// An accepted token: what `requestContext.authorizer.jwt` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Every claim, each value rendered as a string as API Gateway renders it.
    pub claims: BTreeMap<String, String>,
    /// The token's scopes; `None` when it has none.
    pub scopes: Option<Vec<String>>,
}

impl Accepted {
    /// The `authorizer` object of the payload-2.0 event's `requestContext`.
    pub fn to_event(&self) -> Value {
        serde_json::json!({ "jwt": { "claims": self.claims, "scopes": self.scopes } })
    }
}

/// A claim value as API Gateway hands it to the function: strings as they are, arrays as
/// `[a b]`, anything else in its JSON form.
fn claim_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_string).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

impl JwtAuthorizer {
    /// An authorizer trusting `issuer` (compared with `iss` exactly) for `audience`.
    pub fn new(issuer: impl Into<String>, audience: Vec<String>) -> Self {
        Self { issuer: issuer.into(), audience, jwks_uri: None, keys: Mutex::new(KeyCache::default()) }
    }

    /// The same authorizer reading the keys from `jwks_uri` instead of the discovery document
    /// (an emulator whose issuer URL is not its own address, such as moto's Cognito).
    #[must_use]
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(jwks_uri.into());
        self
    }

    /// The issuer it trusts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks the `Authorization` header for a route requiring any one of `route_scopes` (none:
    /// no scope check).
    pub async fn authorize(
        &self,
        header: Option<&str>,
        route_scopes: &[String],
    ) -> Result<Accepted, Refusal> {
        let unauthorized = |why: &str| Refusal::Unauthorized(why.to_owned());
        let header =
            header.map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| unauthorized("no token"))?;
        let token = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => header,
        };
        let jwt_header =
            jsonwebtoken::decode_header(token).map_err(|e| unauthorized(&format!("malformed token: {e}")))?;
        if jwt_header.alg != Algorithm::RS256 {
            return Err(unauthorized(&format!("algorithm {:?} is not RS256", jwt_header.alg)));
        }
        let kid = jwt_header.kid.ok_or_else(|| unauthorized("the token names no kid"))?;
        let key = self.key(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| unauthorized(&format!("invalid token: {e}")))?;
        let claims = data.claims;

        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audience.contains(aud),
            Some(Value::Array(auds)) => {
                auds.iter().filter_map(Value::as_str).any(|a| self.audience.iter().any(|x| x == a))
            }
            Some(_) => false,
            None => claims
                .get("client_id")
                .and_then(Value::as_str)
                .is_some_and(|c| self.audience.iter().any(|x| x == c)),
        };
        if !audience_ok {
            return Err(unauthorized("the token does not have a valid audience"));
        }

        let scopes: Option<Vec<String>> = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(text)) => Some(text.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(items)) => {
                Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            }
            _ => None,
        };
        if !route_scopes.is_empty()
            && !scopes.as_ref().is_some_and(|held| held.iter().any(|s| route_scopes.contains(s)))
        {
            return Err(Refusal::Forbidden);
        }
        let claims = claims.iter().map(|(name, value)| (name.clone(), claim_string(value))).collect();
        Ok(Accepted { claims, scopes })
    }

    /// The key with id `kid`, from the cache or, when it is not there, from a fresh JWKS.
    async fn key(&self, kid: &str) -> Result<DecodingKey, Refusal> {
        let mut cache = self.keys.lock().await;
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_fetch = cache.fetched.is_none_or(|at| at.elapsed() >= REFETCH_AT_MOST_EVERY);
        if may_fetch {
            match fetch_keys(&self.issuer, self.jwks_uri.as_deref()).await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(err) => {
                    return Err(Refusal::Unauthorized(format!("the issuer's keys are unavailable: {err}")));
                }
            }
        }
        cache.keys.get(kid).cloned().ok_or_else(|| Refusal::Unauthorized(format!("unknown kid {kid:?}")))
    }
}

/// The RS256 keys of the issuer's JWKS, by `kid`.
async fn fetch_keys(issuer: &str, jwks_uri: Option<&str>) -> Result<HashMap<String, DecodingKey>, String> {
    let jwks_uri = match jwks_uri {
        Some(uri) => uri.to_owned(),
        None => {
            let discovery = get_json(&format!("{issuer}/.well-known/openid-configuration")).await?;
            discovery
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or("the discovery document has no jwks_uri")?
                .to_owned()
        }
    };
    let jwks = get_json(&jwks_uri).await?;
    let mut keys = HashMap::new();
    for jwk in jwks.get("keys").and_then(Value::as_array).ok_or("the JWKS has no keys")? {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        if field("kty") != Some("RSA") || field("alg").is_some_and(|a| a != "RS256") {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (field("kid"), field("n"), field("e")) else { continue };
        let key = DecodingKey::from_rsa_components(n, e).map_err(|err| format!("key {kid:?}: {err}"))?;
        keys.insert(kid.to_owned(), key);
    }
    Ok(keys)
}

/// `GET url` (plain `http://`: the local issuer) as JSON.
async fn get_json(url: &str) -> Result<Value, String> {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;

    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// issuers run locally"))?;
    let (authority, path) =
        rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let fetch = async {
        let stream = tokio::net::TcpStream::connect(authority).await.map_err(|e| format!("{url}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("{url}: {e}"))?;
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("{url}: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("{url}: {e}"))?.to_bytes();
        if !status.is_success() {
            return Err(format!("{url}: HTTP {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
    };
    tokio::time::timeout(FETCH_TIMEOUT, fetch)
        .await
        .map_err(|_| format!("{url}: no answer within {FETCH_TIMEOUT:?}"))?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;
    use thumbforge_oidc_local::{ClientOptions, Issuer, IssuerOptions};

    use super::*;

    const CLIENT: &str = "page-client";

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn scopes() -> Vec<String> {
        vec!["openid".to_owned(), "aws.cognito.signin.user.admin".to_owned()]
    }

    struct Fixture {
        issuer: Issuer,
        authorizer: JwtAuthorizer,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut options = IssuerOptions::new(dir.path());
            options.clients = vec![ClientOptions::new(CLIENT, "http://127.0.0.1:1/", "http://127.0.0.1:1/")];
            let issuer = Issuer::start(options).await.unwrap();
            let authorizer = JwtAuthorizer::new(issuer.url(), vec![CLIENT.to_owned()]);
            Self { issuer, authorizer, _dir: dir }
        }

        /// An access token as Cognito issues it, with `change` applied to its claims.
        fn access(&self, change: impl FnOnce(&mut Map<String, Value>)) -> String {
            let mut claims = json!({
                "sub": "7d1c3c1e-0000-4000-8000-000000000001", "iss": self.issuer.url(), "client_id": CLIENT,
                "token_use": "access", "scope": "openid email", "auth_time": now(), "iat": now(),
                "exp": now() + 600, "jti": "j1", "username": "u1",
            });
            change(claims.as_object_mut().unwrap());
            self.issuer.sign_for_tests(Some(self.issuer.kid()), &claims)
        }

        async fn check(&self, header: Option<&str>) -> Result<Accepted, Refusal> {
            self.authorizer.authorize(header, &scopes()).await
        }
    }

    fn is_unauthorized(outcome: &Result<Accepted, Refusal>) -> bool {
        matches!(outcome, Err(Refusal::Unauthorized(_)))
    }

    #[tokio::test]
    async fn a_good_access_token_passes_with_or_without_bearer() {
        let f = Fixture::new().await;
        let token = f.access(|_| {});
        for header in [format!("Bearer {token}"), format!("bearer {token}"), token.clone()] {
            let accepted = f.check(Some(&header)).await.unwrap();
            assert_eq!(accepted.claims["client_id"], CLIENT);
            assert_eq!(accepted.claims["sub"], "7d1c3c1e-0000-4000-8000-000000000001");
            assert_eq!(accepted.claims["exp"], (now() + 600).to_string(), "numbers become strings");
            assert_eq!(accepted.scopes, Some(vec!["openid".to_owned(), "email".to_owned()]));
        }
        let event = f.check(Some(&token)).await.unwrap().to_event();
        assert_eq!(event["jwt"]["claims"]["token_use"], "access");
        assert_eq!(event["jwt"]["scopes"], json!(["openid", "email"]));
        // The issuer's own code-flow tokens pass too.
        f.issuer.admin_create_confirmed_user("a@example.com", "Correct-horse-9").await.unwrap();
        let tokens = f.issuer.tokens_for_tests("a@example.com", CLIENT).await.unwrap();
        let accepted = f.check(Some(&format!("Bearer {}", tokens.access_token))).await.unwrap();
        assert_eq!(accepted.claims["token_use"], "access");
        assert_eq!(Some(&accepted.claims["sub"]), f.issuer.admin_user_sub("a@example.com").await.as_ref());
    }

    #[tokio::test]
    async fn every_broken_token_is_unauthorized() {
        let f = Fixture::new().await;
        let good = f.access(|_| {});
        let (head, rest) = good.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let flipped = format!(
            "{head}.{payload}.{}{}",
            if signature.starts_with('A') { 'B' } else { 'A' },
            &signature[1..]
        );
        let other_issuer = f.access(|c| {
            c.insert("iss".into(), json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"));
        });
        let cases = [
            ("no header", None),
            ("empty", Some(String::new())),
            ("only the scheme", Some("Bearer ".to_owned())),
            ("malformed", Some("Bearer not-a-jwt".to_owned())),
            ("bad signature", Some(flipped)),
            ("unknown kid", Some(f.issuer.sign_for_tests(Some("made-up"), &json!({"iss": f.issuer.url(), "exp": now() + 60, "client_id": CLIENT, "scope": "openid"})))),
            ("no kid", Some(f.issuer.sign_for_tests(None, &json!({"iss": f.issuer.url(), "exp": now() + 60, "client_id": CLIENT, "scope": "openid"})))),
            ("HS256 header", Some(f.issuer.sign_with_header_for_tests(&json!({"alg": "HS256", "kid": f.issuer.kid()}), &json!({"iss": f.issuer.url(), "exp": now() + 60, "client_id": CLIENT})))),
            ("expired", Some(f.access(|c| { c.insert("exp".into(), json!(now() - 1)); }))),
            ("no exp", Some(f.access(|c| { c.remove("exp"); }))),
            ("not yet valid", Some(f.access(|c| { c.insert("nbf".into(), json!(now() + 120)); }))),
            ("wrong issuer", Some(other_issuer)),
            ("wrong client_id", Some(f.access(|c| { c.insert("client_id".into(), json!("another-app")); }))),
            ("neither aud nor client_id", Some(f.access(|c| { c.remove("client_id"); }))),
            ("wrong aud", Some(f.access(|c| { c.remove("client_id"); c.insert("aud".into(), json!("another-app")); }))),
        ];
        for (name, token) in cases {
            let outcome = f.check(token.as_deref()).await;
            assert!(is_unauthorized(&outcome), "{name}: {outcome:?}");
        }
        // `aud` wins over `client_id` when both are there (an ID token with a stray claim).
        let both = f.access(|c| {
            c.insert("aud".into(), json!("another-app"));
        });
        assert!(is_unauthorized(&f.check(Some(&both)).await));
        // An `aud` list holding the client passes.
        let listed = f.access(|c| {
            c.remove("client_id");
            c.insert("aud".into(), json!(["x", CLIENT]));
        });
        assert!(f.check(Some(&listed)).await.is_ok());
    }

    #[tokio::test]
    async fn id_tokens_and_tokens_without_a_route_scope_are_forbidden() {
        let f = Fixture::new().await;
        f.issuer.admin_create_confirmed_user("b@example.com", "Correct-horse-9").await.unwrap();
        let tokens = f.issuer.tokens_for_tests("b@example.com", CLIENT).await.unwrap();
        let id_token = tokens.id_token.unwrap();
        assert_eq!(f.check(Some(&id_token)).await, Err(Refusal::Forbidden));
        let no_scope = f.access(|c| {
            c.remove("scope");
        });
        assert_eq!(f.check(Some(&no_scope)).await, Err(Refusal::Forbidden));
        let other_scope = f.access(|c| {
            c.insert("scope".into(), json!("email profile"));
        });
        assert_eq!(f.check(Some(&other_scope)).await, Err(Refusal::Forbidden));
        let admin = f.access(|c| {
            c.insert("scope".into(), json!("aws.cognito.signin.user.admin"));
        });
        assert!(f.check(Some(&admin)).await.is_ok());
        let scp = f.access(|c| {
            c.remove("scope");
            c.insert("scp".into(), json!(["openid"]));
        });
        assert!(f.check(Some(&scp)).await.is_ok());
        // A route without scopes takes the ID token (its `aud` is the client).
        let accepted = f.authorizer.authorize(Some(&id_token), &[]).await.unwrap();
        assert_eq!(accepted.claims["token_use"], "id");
        assert_eq!(accepted.scopes, None);
    }

    #[tokio::test]
    async fn an_unreachable_issuer_is_unauthorized_not_a_hang() {
        let f = Fixture::new().await;
        let token = f.access(|_| {});
        let url = f.issuer.url().to_owned();
        f.issuer.shutdown().await;
        let authorizer = JwtAuthorizer::new(url, vec![CLIENT.to_owned()]);
        let outcome = authorizer.authorize(Some(&token), &scopes()).await;
        assert!(
            matches!(&outcome, Err(Refusal::Unauthorized(why)) if why.contains("keys are unavailable")),
            "{outcome:?}"
        );
    }

    #[test]
    fn claims_are_rendered_as_api_gateway_renders_them() {
        assert_eq!(claim_string(&json!("a")), "a");
        assert_eq!(claim_string(&json!(["a", "b"])), "[a b]");
        assert_eq!(claim_string(&json!(1_700_000_000)), "1700000000");
        assert_eq!(claim_string(&json!(true)), "true");
    }

    #[test]
    fn refusals_answer_as_api_gateway() {
        assert_eq!(Refusal::Unauthorized("x".into()).answer(), (401, "Unauthorized", Some("Bearer")));
        assert_eq!(Refusal::Forbidden.answer(), (403, "Forbidden", None));
    }
}
