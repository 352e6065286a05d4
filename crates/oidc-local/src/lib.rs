//! An embedded OpenID Connect issuer that behaves like the Amazon Cognito hosted UI for the
//! authorization code flow with PKCE, for thumbforge's tests and local stack (`cargo xtask dev`).
//!
//! A web page (at another origin) sends the user to [`Issuer::authorize_url`]; the user signs in
//! (or signs up, confirms the mailed code, resets a password) on pages served here; the page
//! gets `?code=...&state=...` back on its callback URL and exchanges the code at
//! [`Issuer::token_url`] for an ID token, an access token and a refresh token. A gateway verifies
//! the access tokens against [`Issuer::jwks_url`] as API Gateway's JWT authorizer verifies
//! Cognito's: RS256, `kid` in the JWKS, `iss` = [`Issuer::url`], `client_id` (access tokens have
//! no `aud`), `exp`, and `scope`.
//!
//! # Endpoints (Cognito's paths)
//!
//! | path | what |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | discovery document |
//! | `GET /.well-known/jwks.json` | the one RS256 public key |
//! | `GET /oauth2/authorize` | starts the flow (`response_type=code`, PKCE `S256` required) |
//! | `GET/POST /login`, `/signup`, `/confirm`, `/forgotPassword`, `/confirmForgotPassword` | hosted pages |
//! | `POST /oauth2/token` | `authorization_code` and `refresh_token` grants (public clients, CORS) |
//! | `POST /oauth2/revoke` | revokes a refresh token |
//! | `GET /logout` | ends the hosted-UI session, back to a registered `logout_uri` |
//! | `GET /static/login.css` | the pages' stylesheet |
//! | `POST /` | Cognito's admin API (`AdminGetUser`, `AdminDeleteUser`), see below |
//!
//! Token endpoint errors are `400 {"error": "..."}` with Cognito's codes (`invalid_request`,
//! `invalid_client` for an unknown client id, `invalid_grant`, `unsupported_grant_type`), a
//! too-large body `413 {"error":"invalid_request"}`.
//!
//! # Cognito admin API
//!
//! The backend's Lambdas call Cognito through `aws-sdk-cognitoidentityprovider`; locally their
//! endpoint is the issuer (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=`[`Issuer::url`]) and
//! their user pool id [`Issuer::user_pool_id`] ([`IssuerOptions::user_pool_id`], default
//! [`DEFAULT_USER_POOL_ID`]), so the same code runs on AWS and here. Cognito's JSON protocol:
//! `POST /`, `Content-Type: application/x-amz-json-1.1`,
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`, a JSON body `{"UserPoolId","Username"}`
//! (at most the forms' 16 KiB), where `Username` is the user's username (their `sub`, as in the
//! tokens' `username`/`cognito:username`) or their email.
//!
//! | operation | answer |
//! |---|---|
//! | `AdminGetUser` | `{"Username","UserAttributes":[sub, email_verified, email],"UserCreateDate","UserLastModifiedDate","Enabled":true,"UserStatus":"CONFIRMED"/"UNCONFIRMED"}` |
//! | `AdminDeleteUser` | `{}`; the user, their hosted-UI sessions, authorization codes, pending mailed codes and refresh tokens are gone (issued access/ID tokens stay valid until they expire, as on Cognito); signing up again gives a new `sub` |
//!
//! Refusals are Cognito's `{"__type","message"}` (status 400 unless noted):
//! `UserNotFoundException` ("User does not exist."), `ResourceNotFoundException` (another pool
//! id), `InvalidParameterException` (a malformed body or member; 413 for a body over the limit),
//! `UnknownOperationException` (another target, or not the protocol's content type),
//! `MissingAuthenticationTokenException` (no `Authorization` header),
//! `IncompleteSignatureException` (an `Authorization` that is not a complete
//! `AWS4-HMAC-SHA256 Credential=.../SignedHeaders=.../Signature=...`), and
//! `InternalErrorException` (500, a data file could not be written). The SigV4 signature is
//! required but **not verified**: the issuer knows no AWS secret to check it with (any static
//! credentials do). Requiring it still makes a caller without credentials fail locally as it
//! would on AWS.
//!
//! # Data directory
//!
//! - `signing-key.pk8.der`: the RSA-2048 private key (PKCS#8 DER, mode 0600), generated on the
//!   first start and reused afterwards (same `kid`).
//! - `users.json`: users (email, sub, Argon2id hash, confirmation state, pending codes hashed).
//!   The user pool id is not stored: it is whatever the options say at each start.
//! - `refresh-tokens.json`: refresh tokens, keyed by their SHA-256, with user, client, scopes, expiry.
//! - `outbox.jsonl`: the mails (one JSON object a line, see [`Issuer::outbox_path`]).
//!
//! Authorization codes and hosted-UI sessions live in memory only: a restart signs everyone out
//! of the hosted UI (refresh tokens keep working).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), thumbforge_oidc_local::Error> {
//! use thumbforge_oidc_local::{ClientOptions, Issuer, IssuerOptions};
//!
//! let mut options = IssuerOptions::new("/tmp/oidc-local");
//! options.clients.push(ClientOptions::new("web", "http://localhost:5173/callback", "http://localhost:5173/"));
//! let issuer = Issuer::start(options).await?;
//! let sub = issuer.admin_create_confirmed_user("alice@example.com", "Correct-Horse9").await?;
//! println!("issuer {} (JWKS {}), user {sub}", issuer.url(), issuer.jwks_url());
//! issuer.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! - `test-support`: `Issuer::sign_for_tests`, `Issuer::sign_with_header_for_tests` and
//!   `Issuer::tokens_for_tests` (tokens with arbitrary claims or header signed by the issuer's
//!   key, and tokens for a user without the browser).

mod cognito;
mod error;
mod http;
mod keys;
mod mail;
mod pages;
mod passwords;
mod pkce;
mod policy;
mod server;
mod store;
mod tokens;
mod util;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

pub use cognito::{DEFAULT_USER_POOL_ID, is_valid_user_pool_id};
pub use error::Error;
pub use policy::{MAX_EMAIL_LEN, MAX_PASSWORD_CHARS, PasswordPolicy, normalize_email};
pub use util::random_token;

/// How long [`Issuer::shutdown`] lets requests in flight finish before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How [`Issuer::start`] sets the issuer up. [`IssuerOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// Users, signing key, refresh tokens and outbox live here (created if missing).
    pub data_dir: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The issuer URL (`iss`, and the base of every endpoint) when the server is reached through
    /// another address (a proxy, a container); default `http://{bound address}`. No trailing `/`.
    pub public_url: Option<String>,
    /// The registered public clients (no secret).
    pub clients: Vec<ClientOptions>,
    /// The user pool id the Cognito admin API (`POST /`) answers for; requests naming another
    /// pool get `ResourceNotFoundException`. Default [`DEFAULT_USER_POOL_ID`]. Must match
    /// Cognito's pattern `[\w-]+_[0-9a-zA-Z]+` (at most 55 characters, see
    /// [`is_valid_user_pool_id`]). Give the Lambdas the same value ([`Issuer::user_pool_id`]).
    pub user_pool_id: String,
    /// The password policy for sign-up, resets and admin-created users.
    pub password_policy: PasswordPolicy,
    /// Access token lifetime (default 1 hour; whole seconds count).
    pub access_token_lifetime: Duration,
    /// ID token lifetime (default 1 hour).
    pub id_token_lifetime: Duration,
    /// Refresh token lifetime (default 30 days).
    pub refresh_token_lifetime: Duration,
}

impl IssuerOptions {
    /// Data in `data_dir`, listening on `127.0.0.1:0`, no client yet, user pool id
    /// [`DEFAULT_USER_POOL_ID`], thumbforge's default password policy (`[auth.password]`) and Cognito's default token lifetimes (1 h, 1 h,
    /// 30 days).
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            public_url: None,
            clients: Vec::new(),
            user_pool_id: DEFAULT_USER_POOL_ID.to_owned(),
            password_policy: PasswordPolicy::default(),
            access_token_lifetime: Duration::from_secs(3600),
            id_token_lifetime: Duration::from_secs(3600),
            refresh_token_lifetime: Duration::from_secs(30 * 86_400),
        }
    }
}

/// A registered public app client (like a Cognito user pool client without a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The client id (`client_id` in requests and access tokens, `aud` in ID tokens).
    pub client_id: String,
    /// Allowed `redirect_uri`s, compared exactly. Their origins may call the token endpoint (CORS).
    pub callback_urls: Vec<String>,
    /// Allowed `logout_uri`s, compared exactly.
    pub logout_urls: Vec<String>,
    /// Allowed OAuth scopes (e.g. `openid email profile`); an authorize request without `scope`
    /// gets all of them.
    pub scopes: Vec<String>,
}

impl ClientOptions {
    /// A client with one callback URL, one logout URL and the scopes `openid email profile`.
    #[must_use]
    pub fn new(
        client_id: impl Into<String>,
        callback_url: impl Into<String>,
        logout_url: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            callback_urls: vec![callback_url.into()],
            logout_urls: vec![logout_url.into()],
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
        }
    }
}

/// A running issuer. It serves until [`Issuer::shutdown`] or until dropped (which stops accepting
/// connections at once and lets requests in flight finish in the background).
pub struct Issuer {
    shared: Arc<server::Shared>,
    addr: SocketAddr,
    data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

fn check_url(what: &str, url: &str) -> Result<(), Error> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && http::origin_of(url).is_some()
        && !url.contains('#')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!("{what} {url:?} is not an absolute http(s) URL without fragment")))
    }
}

fn validate_clients(clients: &[ClientOptions]) -> Result<HashMap<String, ClientOptions>, Error> {
    let mut map = HashMap::new();
    for client in clients {
        let id = &client.client_id;
        if id.is_empty()
            || id.len() > 128
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
        {
            return Err(Error::Config(format!(
                "client id {id:?} must be 1-128 characters of [A-Za-z0-9-_+.]"
            )));
        }
        if client.callback_urls.is_empty() {
            return Err(Error::Config(format!("client {id:?} has no callback URL")));
        }
        for url in &client.callback_urls {
            check_url("callback URL", url)?;
        }
        for url in &client.logout_urls {
            check_url("logout URL", url)?;
        }
        if client
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(Error::Config(format!(
                "client {id:?} has a scope that is empty or contains whitespace"
            )));
        }
        if map.insert(id.clone(), client.clone()).is_some() {
            return Err(Error::Config(format!("client id {id:?} is registered twice")));
        }
    }
    Ok(map)
}

fn connect_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

impl Issuer {
    /// Prepares the data directory (loading or generating the key, loading users and refresh
    /// tokens), binds the listener and spawns the server on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// Inconsistent options ([`Error::Config`]), an unreadable or corrupt data file, a failed key
    /// generation, or an address that cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(options: IssuerOptions) -> Result<Self, Error> {
        let clients = validate_clients(&options.clients)?;
        if !is_valid_user_pool_id(&options.user_pool_id) {
            return Err(Error::Config(format!(
                "user pool id {:?} must match [\\w-]+_[0-9a-zA-Z]+ (at most 55 characters)",
                options.user_pool_id
            )));
        }
        if let Some(url) = &options.public_url {
            check_url("public URL", url)?;
            if url.ends_with('/') || url.contains('?') {
                return Err(Error::Config(format!(
                    "public URL {url:?} must not end with '/' or have a query"
                )));
            }
        }
        let data_dir = options.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| Error::io(format!("creating the data directory {}", data_dir.display()), e))?;
        let key_dir = data_dir.clone();
        let key = tokio::task::spawn_blocking(move || keys::SigningKey::load_or_generate(&key_dir))
            .await
            .map_err(|e| Error::Internal(format!("key generation task: {e}")))??;
        let store = store::Store::load(&data_dir, util::now_secs())?;

        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| Error::io(format!("binding {}", options.listen), e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?;
        let issuer = options.public_url.clone().unwrap_or_else(|| format!("http://{}", connect_addr(addr)));

        let shared = Arc::new(server::Shared {
            secure_cookies: issuer.starts_with("https://"),
            issuer,
            user_pool_id: options.user_pool_id.clone(),
            clients,
            client_order: options.clients.iter().map(|c| c.client_id.clone()).collect(),
            policy: options.password_policy,
            access_lifetime: options.access_token_lifetime.as_secs(),
            id_lifetime: options.id_token_lifetime.as_secs(),
            refresh_lifetime: options.refresh_token_lifetime.as_secs(),
            key,
            store: tokio::sync::Mutex::new(store),
            outbox: mail::Outbox::new(data_dir.join(mail::OUTBOX_FILE)),
            pages: pages::Pages::new()?,
            dummy_hash: tokio::sync::OnceCell::new(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), stopped));
        tracing::info!(issuer = %shared.issuer, data_dir = %data_dir.display(), "local OpenID Connect issuer started");
        Ok(Self { shared, addr, data_dir, stop: Some(stop), task: Some(task) })
    }

    /// The issuer identifier (`iss`), e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.shared.issuer
    }

    /// The user pool id the Cognito admin API answers for ([`IssuerOptions::user_pool_id`]): what
    /// the Lambdas get as their user pool id, with `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` =
    /// [`Issuer::url`].
    #[must_use]
    pub fn user_pool_id(&self) -> &str {
        &self.shared.user_pool_id
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{url}/oauth2/authorize`.
    #[must_use]
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/authorize", self.url())
    }

    /// `{url}/oauth2/token`.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.url())
    }

    /// `{url}/oauth2/revoke`.
    #[must_use]
    pub fn revoke_url(&self) -> String {
        format!("{}/oauth2/revoke", self.url())
    }

    /// `{url}/logout`.
    #[must_use]
    pub fn logout_url(&self) -> String {
        format!("{}/logout", self.url())
    }

    /// `{url}/.well-known/jwks.json`.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.url())
    }

    /// `{url}/.well-known/openid-configuration`.
    #[must_use]
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.url())
    }

    /// The signing key's id (`kid` in the JWKS and in token headers).
    #[must_use]
    pub fn kid(&self) -> &str {
        self.shared.key.kid()
    }

    /// `{data_dir}/outbox.jsonl`: one JSON object a line, `{"time","timestamp","kind"
    /// ("signup"|"reset"),"to","subject","text","code"}`, appended for each mail.
    #[must_use]
    pub fn outbox_path(&self) -> PathBuf {
        self.shared.outbox.path().to_owned()
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Stops accepting connections, lets requests in flight finish (for up to 5 seconds) and
    /// waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Creates a user whose email is confirmed, with a permanent password (like `AdminCreateUser`
    /// followed by `AdminSetUserPassword --permanent`). Returns the new user's `sub`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEmail`], [`Error::InvalidPassword`] (policy problems), [`Error::UserExists`],
    /// or a failure writing `users.json`.
    pub async fn admin_create_confirmed_user(&self, email: &str, password: &str) -> Result<String, Error> {
        server::create_user(&self.shared, email, password, true).await.map(|(sub, _)| sub)
    }

    /// Deletes the user with this email (normalised), their sessions and refresh tokens (like
    /// `AdminDeleteUser`). Returns whether the user existed.
    ///
    /// # Errors
    ///
    /// A failure writing the data files.
    pub async fn admin_delete_user(&self, email: &str) -> Result<bool, Error> {
        let Some(email) = normalize_email(email) else { return Ok(false) };
        self.shared.store.lock().await.delete_user(&email)
    }

    /// The `sub` of the user with this email, if any (like `AdminGetUser`).
    pub async fn admin_user_sub(&self, email: &str) -> Option<String> {
        let email = normalize_email(email)?;
        self.shared.store.lock().await.users.get(&email).map(|u| u.sub.clone())
    }

    /// A JWT of `claims` (taken as given: no claim is added) signed with the issuer's key, header
    /// `{"alg":"RS256","typ":"JWT"}` plus `"kid"` when `header_kid` is given. For verifier tests:
    /// expired, not yet valid, wrong issuer, unknown kid...
    ///
    /// # Panics
    ///
    /// If signing fails (the system random generator or aws-lc broke).
    #[cfg(feature = "test-support")]
    #[must_use]
    pub fn sign_for_tests(&self, header_kid: Option<&str>, claims: &serde_json::Value) -> String {
        let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
        if let (Some(kid), serde_json::Value::Object(map)) = (header_kid, &mut header) {
            map.insert("kid".into(), kid.into());
        }
        self.sign_with_header_for_tests(&header, claims)
    }

    /// Like [`Issuer::sign_for_tests`] with a whole header of your choice (e.g. `"alg":"HS256"`
    /// or no `kid`); the signature is always RS256 with the issuer's key.
    ///
    /// # Panics
    ///
    /// If signing fails.
    #[cfg(feature = "test-support")]
    #[must_use]
    #[allow(clippy::expect_used, reason = "test support: a signing failure is a broken machine")]
    pub fn sign_with_header_for_tests(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> String {
        self.shared.key.sign_with_header(header, claims).expect("RS256 signing failed")
    }

    /// Tokens for an existing confirmed user as the code flow would issue them to `client_id`
    /// (every scope of the client, a refresh token stored like any other), without the browser.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unknown client, [`Error::InvalidEmail`] for an unknown or
    /// unconfirmed user, or a failure writing the refresh tokens.
    #[cfg(feature = "test-support")]
    pub async fn tokens_for_tests(&self, email: &str, client_id: &str) -> Result<TokenSet, Error> {
        server::tokens_for_user(&self.shared, email, client_id).await
    }
}

/// What the token endpoint answers for a code exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The ID token (present when `openid` was granted).
    pub id_token: Option<String>,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: u64,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("url", &self.shared.issuer)
            .field("user_pool_id", &self.shared.user_pool_id)
            .field("data_dir", &self.data_dir)
            .field("kid", &self.shared.key.kid())
            .finish_non_exhaustive()
    }
}

/// Accepts connections until told to stop, then shuts the open ones down gracefully.
async fn serve(listener: TcpListener, shared: Arc<server::Shared>, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    http.header_read_timeout(Duration::from_secs(30));

    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => {
                    let _ = socket.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    let service = hyper::service::service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, std::convert::Infallible>(server::handle(shared, request).await) }
                    });
                    let conn = graceful.watch(http.serve_connection(TokioIo::new(socket), service));
                    connections.spawn(async move {
                        // A connection error (client gone, malformed HTTP) concerns that client only.
                        let _ = conn.await;
                    });
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }

    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    connections.shutdown().await;
}
