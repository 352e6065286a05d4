//! Request routing and the endpoint handlers (authorize, hosted pages, token, revoke, logout;
//! the Cognito admin API is in `cognito`).
//!
//! Handlers return [`Handled`]: `Err` carries an early answer (a refusal, or a `500` built from
//! an [`Error`] through `?`), so every path ends in a response and nothing panics on input.

// The `Err` side is a whole HTTP response (144 bytes), built and moved once per request.
#![allow(clippy::result_large_err, reason = "early answers are responses; one move per request")]

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::http::{self, BodyError, Params, Resp, encode_pairs, with_query};
use crate::mail::{MailKind, Outbox};
use crate::pages::{Hidden, Page, PageData, Pages};
use crate::store::{AuthCode, CodeCheck, PendingCode, RefreshRecord, Session, Store, User};
use crate::tokens::{self, Grant};
use crate::util::{ct_eq, now_secs, random_six_digits, random_token, sha256_hex};
use crate::{ClientOptions, Error, PasswordPolicy, keys::SigningKey, normalize_email, passwords, pkce};

/// The hosted-UI session cookie (Cognito's name).
pub(crate) const SESSION_COOKIE: &str = "cognito";
/// The CSRF double-submit cookie (Cognito's name) and its form field.
pub(crate) const CSRF_COOKIE: &str = "XSRF-TOKEN";
const CSRF_FIELD: &str = "_csrf";
/// Hosted-UI session lifetime (Cognito: 1 hour).
const SESSION_LIFETIME: u64 = 3600;
/// Authorization code lifetime (Cognito: 5 minutes).
const AUTH_CODE_LIFETIME: u64 = 300;
/// Sign-up confirmation code lifetime (Cognito: 24 hours).
const SIGNUP_CODE_LIFETIME: u64 = 86_400;
/// Password reset code lifetime (Cognito: 1 hour).
const RESET_CODE_LIFETIME: u64 = 3600;

const INCORRECT_LOGIN: &str = "Incorrect username or password.";
const INVALID_CODE: &str = "Invalid verification code provided, please try again.";
const CODE_EXHAUSTED: &str = "Attempt limit exceeded, please request a new code.";
const USER_EXISTS: &str = "An account with the given email already exists.";
const INVALID_EMAIL: &str = "Enter a valid email address.";
const PASSWORD_MISMATCH: &str = "Passwords do not match.";
const FORM_EXPIRED: &str = "This form has expired. Please try again.";
const RESENT: &str = "If this account exists and is not confirmed yet, we have sent it a new code.";

const STYLESHEET: &str = include_str!("../static/login.css");

/// The OAuth parameters the hosted pages carry from page to page.
const OAUTH_KEYS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "nonce",
];

/// What the server shares between requests.
#[derive(Debug)]
pub(crate) struct Shared {
    pub issuer: String,
    /// The user pool id the Cognito admin API answers for.
    pub user_pool_id: String,
    pub clients: HashMap<String, ClientOptions>,
    /// Client ids in registration order (for a stable `scopes_supported`).
    pub client_order: Vec<String>,
    pub policy: PasswordPolicy,
    pub access_lifetime: u64,
    pub id_lifetime: u64,
    pub refresh_lifetime: u64,
    pub key: SigningKey,
    pub store: tokio::sync::Mutex<Store>,
    pub outbox: Outbox,
    pub pages: Pages,
    pub secure_cookies: bool,
    /// A hash checked for unknown users, so a wrong email costs as much as a wrong password.
    pub dummy_hash: tokio::sync::OnceCell<String>,
}

/// A handler's result: `Err` is an early answer.
type Handled = Result<Resp, Resp>;

impl From<Error> for Response<http_body_util::Full<Bytes>> {
    fn from(error: Error) -> Self {
        tracing::error!(%error, "request failed");
        http::text(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.\n")
    }
}

/// Answers one request.
pub(crate) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Resp {
    let (parts, body) = request.into_parts();
    match route(&shared, parts, body).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn route(shared: &Shared, parts: Parts, body: Incoming) -> Handled {
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    let post = parts.method == Method::POST;
    let options = parts.method == Method::OPTIONS;
    let path = parts.uri.path().to_owned();
    match path.as_str() {
        "/.well-known/openid-configuration" if get => Ok(http::public_json(&discovery(shared))),
        "/.well-known/jwks.json" if get => Ok(http::public_json(&json!({ "keys": [shared.key.jwk()] }))),
        "/static/login.css" if get => Ok(http::css(STYLESHEET)),
        "/oauth2/authorize" if get => authorize(shared, &parts).await,
        "/login" if get => show_form(shared, &parts, Page::Login),
        "/login" if post => login(shared, &parts, body).await,
        "/signup" if get => show_form(shared, &parts, Page::Signup),
        "/signup" if post => signup(shared, &parts, body).await,
        "/confirm" if get => show_form(shared, &parts, Page::Confirm),
        "/confirm" if post => confirm(shared, &parts, body).await,
        "/forgotPassword" if get => show_form(shared, &parts, Page::ForgotPassword),
        "/forgotPassword" if post => forgot_password(shared, &parts, body).await,
        "/confirmForgotPassword" if get => show_form(shared, &parts, Page::ConfirmForgotPassword),
        "/confirmForgotPassword" if post => confirm_forgot_password(shared, &parts, body).await,
        "/oauth2/token" | "/oauth2/revoke" if options => Ok(preflight(shared, &parts.headers)),
        "/oauth2/token" if post => Ok(token(shared, &parts, body).await),
        "/oauth2/revoke" if post => Ok(revoke(shared, &parts, body).await),
        "/logout" if get => logout(shared, &parts).await,
        // Cognito's JSON protocol (the admin API the backend calls through the AWS SDK).
        "/" if post => Ok(crate::cognito::handle(shared, &parts, body).await),
        "/" => Ok(http::method_not_allowed("POST")),
        "/.well-known/openid-configuration"
        | "/.well-known/jwks.json"
        | "/static/login.css"
        | "/oauth2/authorize"
        | "/logout" => Ok(http::method_not_allowed("GET, HEAD")),
        "/login" | "/signup" | "/confirm" | "/forgotPassword" | "/confirmForgotPassword" => {
            Ok(http::method_not_allowed("GET, HEAD, POST"))
        }
        "/oauth2/token" | "/oauth2/revoke" => Ok(http::method_not_allowed("POST, OPTIONS")),
        _ => Ok(http::text(StatusCode::NOT_FOUND, "Not found.\n")),
    }
}

fn discovery(shared: &Shared) -> Value {
    let mut scopes: Vec<&str> = Vec::new();
    for id in &shared.client_order {
        for scope in shared.clients.get(id).map(|c| c.scopes.as_slice()).unwrap_or_default() {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
    }
    let base = &shared.issuer;
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "end_session_endpoint": format!("{base}/logout"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": scopes,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "email", "email_verified", "cognito:username"],
    })
}

// ---------------------------------------------------------------------------------------------
// The authorize request and what the pages carry.

/// A validated authorize request.
#[derive(Debug, Clone)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    code_challenge: String,
    nonce: Option<String>,
}

impl AuthRequest {
    /// The canonical OAuth parameters (what links and hidden fields carry).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state.clone()));
        }
        pairs.push(("scope", self.scopes.join(" ")));
        pairs.push(("code_challenge", self.code_challenge.clone()));
        pairs.push(("code_challenge_method", "S256".to_owned()));
        if let Some(nonce) = &self.nonce {
            pairs.push(("nonce", nonce.clone()));
        }
        pairs
    }

    /// The OAuth query plus `extra` pairs.
    fn query_with(&self, extra: &[(&str, &str)]) -> String {
        let pairs = self.pairs();
        encode_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())).chain(extra.iter().copied()))
    }

    fn hidden(&self) -> Vec<Hidden> {
        self.pairs().into_iter().map(|(name, value)| Hidden { name: name.to_owned(), value }).collect()
    }
}

/// Why an authorize request is refused.
enum Refusal {
    /// The client or redirect URI cannot be trusted: an error page, never a redirect.
    Page(String),
    /// An error sent back to the (registered) redirect URI.
    Redirect(Resp),
}

fn redirect_or_page(location: &str) -> Resp {
    http::redirect(location)
        .unwrap_or_else(|| http::text(StatusCode::BAD_REQUEST, "The redirect location is not a valid URL.\n"))
}

fn error_redirect(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Resp {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    redirect_or_page(&with_query(redirect_uri, &encode_pairs(pairs)))
}

fn validate_authorize(shared: &Shared, p: &Params) -> Result<AuthRequest, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_owned());
    let client_id = p
        .single("client_id")
        .map_err(|_| page("The client_id parameter is given more than once."))?
        .ok_or_else(|| page("Required parameter client_id is missing."))?;
    let client = shared
        .clients
        .get(client_id)
        .ok_or_else(|| page("The client_id is not registered (invalid_client)."))?;
    let redirect_uri = p
        .single("redirect_uri")
        .map_err(|_| page("The redirect_uri parameter is given more than once."))?
        .ok_or_else(|| page("Required parameter redirect_uri is missing."))?;
    if !client.callback_urls.iter().any(|u| u == redirect_uri) {
        return Err(page("The redirect_uri is not registered for this client (redirect_mismatch)."));
    }

    // From here on the redirect URI is trusted: errors go back to the client.
    let state = p.first("state");
    let fail = |error: &str, description: &str| {
        Refusal::Redirect(error_redirect(redirect_uri, error, description, state))
    };
    for key in OAUTH_KEYS {
        if p.single(key).is_err() {
            return Err(fail("invalid_request", &format!("The {key} parameter is given more than once.")));
        }
    }
    match p.first("response_type") {
        None => return Err(fail("invalid_request", "Required parameter response_type is missing.")),
        Some("code") => {}
        Some(_) => return Err(fail("unsupported_response_type", "Only response_type=code is supported.")),
    }
    if p.first("code_challenge_method") != Some("S256") {
        return Err(fail("invalid_request", "PKCE is required: code_challenge_method must be S256."));
    }
    let code_challenge = match p.first("code_challenge") {
        Some(c) if pkce::is_valid_challenge(c) => c.to_owned(),
        Some(_) => return Err(fail("invalid_request", "code_challenge must be 43 base64url characters.")),
        None => return Err(fail("invalid_request", "PKCE is required: code_challenge is missing.")),
    };
    let scopes = match p.first("scope").map(str::split_whitespace) {
        Some(requested) => {
            let mut scopes: Vec<String> = Vec::new();
            for scope in requested {
                if !client.scopes.iter().any(|s| s == scope) {
                    return Err(fail(
                        "invalid_scope",
                        &format!("The scope {scope} is not allowed for this client."),
                    ));
                }
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_owned());
                }
            }
            if scopes.is_empty() { client.scopes.clone() } else { scopes }
        }
        None => client.scopes.clone(),
    };
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        scopes,
        code_challenge,
        nonce: p.first("nonce").map(str::to_owned),
    })
}

fn refusal(shared: &Shared, refusal: Refusal) -> Resp {
    match refusal {
        Refusal::Page(message) => error_page(shared, StatusCode::BAD_REQUEST, &message),
        Refusal::Redirect(resp) => resp,
    }
}

fn error_page(shared: &Shared, status: StatusCode, message: &str) -> Resp {
    let data = PageData { errors: vec![message.to_owned()], ..PageData::default() };
    match shared.pages.render(Page::Error, data) {
        Ok(body) => http::html(status, body),
        Err(e) => e.into(),
    }
}

fn query_params(parts: &Parts) -> Params {
    Params::parse(parts.uri.query().unwrap_or("").as_bytes())
}

fn cookie_attrs(shared: &Shared) -> &'static str {
    if shared.secure_cookies { "; Secure" } else { "" }
}

fn session_cookie(shared: &Shared, id: &str, max_age: u64) -> String {
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        cookie_attrs(shared)
    )
}

fn csrf_cookie(shared: &Shared, token: &str) -> String {
    format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}", cookie_attrs(shared))
}

/// The valid session the request's cookie names, if any.
fn current_session(store: &Store, cookies: &HashMap<String, String>, now: u64) -> Option<Session> {
    let session = store.sessions.get(cookies.get(SESSION_COOKIE)?)?;
    let live = session.expires_at > now && store.user_by_sub(&session.sub).is_some_and(|u| u.confirmed);
    live.then(|| session.clone())
}

/// Starts a session (replacing the one the request had) and returns its cookie's value.
fn new_session(
    store: &mut Store,
    cookies: &HashMap<String, String>,
    sub: &str,
    now: u64,
) -> Result<String, Error> {
    if let Some(old) = cookies.get(SESSION_COOKIE) {
        store.sessions.remove(old);
    }
    let id = random_token()?;
    store.sessions.insert(
        id.clone(),
        Session { sub: sub.to_owned(), auth_time: now, expires_at: now + SESSION_LIFETIME },
    );
    Ok(id)
}

/// Issues a one-time authorization code and answers with the redirect carrying it.
fn code_redirect(
    store: &mut Store,
    auth: &AuthRequest,
    sub: &str,
    auth_time: u64,
    now: u64,
) -> Result<Resp, Error> {
    let code = random_token()?;
    store.codes.insert(
        code.clone(),
        AuthCode {
            client_id: auth.client_id.clone(),
            redirect_uri: auth.redirect_uri.clone(),
            code_challenge: auth.code_challenge.clone(),
            scopes: auth.scopes.clone(),
            nonce: auth.nonce.clone(),
            sub: sub.to_owned(),
            auth_time,
            expires_at: now + AUTH_CODE_LIFETIME,
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &auth.state {
        pairs.push(("state", state));
    }
    Ok(redirect_or_page(&with_query(&auth.redirect_uri, &encode_pairs(pairs))))
}

/// Signs `sub` in: a session cookie and the redirect with a code.
async fn sign_in(shared: &Shared, parts: &Parts, auth: &AuthRequest, sub: &str) -> Result<Resp, Error> {
    let cookies = http::cookies(&parts.headers);
    let now = now_secs();
    let mut store = shared.store.lock().await;
    let session = new_session(&mut store, &cookies, sub, now)?;
    let mut resp = code_redirect(&mut store, auth, sub, now, now)?;
    drop(store);
    http::set_cookie(&mut resp, &session_cookie(shared, &session, SESSION_LIFETIME));
    tracing::info!(sub, client_id = %auth.client_id, "user signed in");
    Ok(resp)
}

async fn authorize(shared: &Shared, parts: &Parts) -> Handled {
    let auth = validate_authorize(shared, &query_params(parts)).map_err(|r| refusal(shared, r))?;
    let cookies = http::cookies(&parts.headers);
    let now = now_secs();
    let mut store = shared.store.lock().await;
    store.prune(now);
    if let Some(session) = current_session(&store, &cookies, now) {
        return Ok(code_redirect(&mut store, &auth, &session.sub, session.auth_time, now)?);
    }
    drop(store);
    Ok(redirect_or_page(&format!("{}/login?{}", shared.issuer, auth.query_with(&[]))))
}

// ---------------------------------------------------------------------------------------------
// The hosted pages.

fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "code_sent" => "We have sent a verification code by email.",
        "unconfirmed" => {
            "Your account is not confirmed yet. Enter the code we sent by email, or ask for a new one."
        }
        "reset_sent" => "If an account exists for this email, we have sent it a code to reset the password.",
        "password_reset" => "Your password has been changed. Sign in with your new password.",
        _ => return None,
    })
}

/// The request's CSRF token if it has a well-formed one, else a new one.
fn csrf_token(cookies: &HashMap<String, String>) -> Result<String, Error> {
    match cookies.get(CSRF_COOKIE) {
        Some(t)
            if t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(t.clone())
        }
        _ => random_token(),
    }
}

#[allow(clippy::too_many_arguments, reason = "one call site per page; a struct would only rename them")]
fn render_form(
    shared: &Shared,
    page: Page,
    status: StatusCode,
    auth: &AuthRequest,
    csrf: &str,
    email: &str,
    errors: Vec<String>,
    notice: Option<&str>,
) -> Resp {
    let rules = if matches!(page, Page::Signup | Page::ConfirmForgotPassword) {
        shared.policy.problems("")
    } else {
        Vec::new()
    };
    let data = PageData {
        notice: notice.map(str::to_owned),
        errors,
        csrf: csrf.to_owned(),
        oauth: auth.hidden(),
        query: auth.query_with(&[]),
        email: email.trim().chars().take(crate::MAX_EMAIL_LEN).collect(),
        rules,
        ..PageData::default()
    };
    match shared.pages.render(page, data) {
        Ok(body) => {
            let mut resp = http::html(status, body);
            http::set_cookie(&mut resp, &csrf_cookie(shared, csrf));
            resp
        }
        Err(e) => e.into(),
    }
}

fn show_form(shared: &Shared, parts: &Parts, page: Page) -> Handled {
    let params = query_params(parts);
    let auth = validate_authorize(shared, &params).map_err(|r| refusal(shared, r))?;
    let csrf = csrf_token(&http::cookies(&parts.headers))?;
    let email = params.first("username").or_else(|| params.first("email")).unwrap_or("");
    let notice = params.first("notice").and_then(notice_text);
    Ok(render_form(shared, page, StatusCode::OK, &auth, &csrf, email, Vec::new(), notice))
}

/// A submitted form whose OAuth parameters and CSRF token check out.
struct Form {
    params: Params,
    auth: AuthRequest,
    csrf: String,
}

impl Form {
    fn field(&self, name: &str) -> &str {
        self.params.first(name).unwrap_or("")
    }

    /// The form again with `errors` (status 400).
    fn again(&self, shared: &Shared, page: Page, errors: Vec<String>) -> Resp {
        render_form(
            shared,
            page,
            StatusCode::BAD_REQUEST,
            &self.auth,
            &self.csrf,
            self.field("email"),
            errors,
            None,
        )
    }
}

async fn read_form(shared: &Shared, parts: &Parts, body: Incoming, page: Page) -> Result<Form, Resp> {
    if !http::is_form(&parts.headers) {
        return Err(error_page(
            shared,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The form must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let bytes = match http::read_body(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return Err(error_page(shared, StatusCode::PAYLOAD_TOO_LARGE, "The request is too large."));
        }
        Err(BodyError::Read) => {
            return Err(error_page(shared, StatusCode::BAD_REQUEST, "The request body could not be read."));
        }
    };
    let params = Params::parse(&bytes);
    let auth = validate_authorize(shared, &params).map_err(|r| refusal(shared, r))?;
    let cookies = http::cookies(&parts.headers);
    let cookie = cookies.get(CSRF_COOKIE).filter(|c| !c.is_empty());
    let valid = match (cookie, params.first(CSRF_FIELD)) {
        (Some(cookie), Some(field)) => ct_eq(cookie.as_bytes(), field.as_bytes()),
        _ => false,
    };
    if !valid {
        // Keep the browser's token when it has one, so a forged post cannot spoil its open forms.
        let csrf = csrf_token(&cookies)?;
        let email = params.first("email").unwrap_or("");
        return Err(render_form(
            shared,
            page,
            StatusCode::FORBIDDEN,
            &auth,
            &csrf,
            email,
            vec![FORM_EXPIRED.into()],
            None,
        ));
    }
    let csrf = cookie.cloned().unwrap_or_default();
    Ok(Form { params, auth, csrf })
}

async fn dummy_hash(shared: &Shared) -> Result<String, Error> {
    shared
        .dummy_hash
        .get_or_try_init(|| passwords::hash("not-a-real-password-just-for-timing".to_owned()))
        .await
        .cloned()
}

async fn login(shared: &Shared, parts: &Parts, body: Incoming) -> Handled {
    let form = read_form(shared, parts, body, Page::Login).await?;
    let email = normalize_email(form.field("email"));
    let candidate = match &email {
        Some(email) => shared
            .store
            .lock()
            .await
            .users
            .get(email)
            .map(|u| (u.sub.clone(), u.password_hash.clone(), u.confirmed)),
        None => None,
    };
    // Unknown users cost one hash too, and get the same message: no account enumeration.
    let hash = match &candidate {
        Some((_, hash, _)) => hash.clone(),
        None => dummy_hash(shared).await?,
    };
    let matches = passwords::verify(form.field("password").to_owned(), hash).await;
    let (Some(email), Some((sub, _, confirmed)), true) = (email, candidate, matches) else {
        return Err(form.again(shared, Page::Login, vec![INCORRECT_LOGIN.into()]));
    };
    if !confirmed {
        let query = form.auth.query_with(&[("username", &email), ("notice", "unconfirmed")]);
        return Ok(redirect_or_page(&format!("{}/confirm?{query}", shared.issuer)));
    }
    // The user may have been deleted while the hash was checked.
    if shared.store.lock().await.user_by_sub(&sub).is_none() {
        return Err(form.again(shared, Page::Login, vec![INCORRECT_LOGIN.into()]));
    }
    Ok(sign_in(shared, parts, &form.auth, &sub).await?)
}

/// Creates a user (sending the confirmation mail when not `confirmed`); returns the sub and,
/// for an unconfirmed user, the code sent.
pub(crate) async fn create_user(
    shared: &Shared,
    email: &str,
    password: &str,
    confirmed: bool,
) -> Result<(String, Option<String>), Error> {
    let email = normalize_email(email).ok_or_else(|| Error::InvalidEmail(email.to_owned()))?;
    let problems = shared.policy.problems(password);
    if !problems.is_empty() {
        return Err(Error::InvalidPassword(problems));
    }
    if shared.store.lock().await.users.contains_key(&email) {
        return Err(Error::UserExists(email));
    }
    let password_hash = passwords::hash(password.to_owned()).await?;
    let now = now_secs();
    let code = if confirmed { None } else { Some(random_six_digits()?) };
    let sub = uuid::Uuid::now_v7().to_string();
    let user = User {
        sub: sub.clone(),
        email: email.clone(),
        password_hash,
        confirmed,
        created_at: now,
        updated_at: now,
        confirmation: code.as_deref().map(|c| PendingCode::new(c, now, SIGNUP_CODE_LIFETIME)),
        reset: None,
    };
    let mut store = shared.store.lock().await;
    if store.users.contains_key(&email) {
        return Err(Error::UserExists(email));
    }
    store.users.insert(email.clone(), user);
    if let Err(e) = store.save_users() {
        store.users.remove(&email);
        return Err(e);
    }
    if let Some(code) = &code {
        shared.outbox.send(MailKind::Signup, &email, code)?;
    }
    drop(store);
    tracing::info!(sub, confirmed, "user created");
    Ok((sub, code))
}

async fn signup(shared: &Shared, parts: &Parts, body: Incoming) -> Handled {
    let form = read_form(shared, parts, body, Page::Signup).await?;
    let password = form.field("password");
    let mut errors = Vec::new();
    let email = normalize_email(form.field("email"));
    if email.is_none() {
        errors.push(INVALID_EMAIL.to_owned());
    }
    errors.extend(shared.policy.problems(password));
    if form.field("confirm_password") != password {
        errors.push(PASSWORD_MISMATCH.to_owned());
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(form.again(shared, Page::Signup, errors));
    };
    match create_user(shared, &email, password, false).await {
        Ok(_) => {}
        Err(Error::UserExists(_)) => return Err(form.again(shared, Page::Signup, vec![USER_EXISTS.into()])),
        Err(Error::InvalidPassword(problems)) => return Err(form.again(shared, Page::Signup, problems)),
        Err(Error::InvalidEmail(_)) => {
            return Err(form.again(shared, Page::Signup, vec![INVALID_EMAIL.into()]));
        }
        Err(e) => return Err(e.into()),
    }
    let query = form.auth.query_with(&[("username", &email), ("notice", "code_sent")]);
    Ok(redirect_or_page(&format!("{}/confirm?{query}", shared.issuer)))
}

/// Sends a fresh confirmation code when the account exists and is not confirmed yet.
async fn resend_confirmation(shared: &Shared, email: &str) -> Result<(), Error> {
    let now = now_secs();
    let mut store = shared.store.lock().await;
    let Some(user) = store.users.get_mut(email).filter(|u| !u.confirmed) else { return Ok(()) };
    let code = random_six_digits()?;
    user.confirmation = Some(PendingCode::new(&code, now, SIGNUP_CODE_LIFETIME));
    user.updated_at = now;
    store.save_users()?;
    shared.outbox.send(MailKind::Signup, email, &code)
}

fn code_error(check: CodeCheck) -> &'static str {
    if check == CodeCheck::Exhausted { CODE_EXHAUSTED } else { INVALID_CODE }
}

async fn confirm(shared: &Shared, parts: &Parts, body: Incoming) -> Handled {
    let form = read_form(shared, parts, body, Page::Confirm).await?;
    let email = normalize_email(form.field("email"));
    if form.field("action") == "resend" {
        if let Some(email) = &email {
            resend_confirmation(shared, email).await?;
        }
        let (auth, csrf) = (&form.auth, &form.csrf);
        return Ok(render_form(
            shared,
            Page::Confirm,
            StatusCode::OK,
            auth,
            csrf,
            form.field("email"),
            Vec::new(),
            Some(RESENT),
        ));
    }
    let now = now_secs();
    let mut store = shared.store.lock().await;
    let (check, sub) = match email.as_ref().and_then(|e| store.users.get_mut(e)) {
        Some(user) if !user.confirmed => {
            let check =
                user.confirmation.as_mut().map_or(CodeCheck::Expired, |p| p.check(form.field("code"), now));
            if check == CodeCheck::Valid {
                user.confirmed = true;
                user.confirmation = None;
                user.updated_at = now;
            }
            (check, Some(user.sub.clone()))
        }
        // Unknown or already confirmed: the same answer as a wrong code.
        _ => (CodeCheck::Wrong, None),
    };
    if sub.is_some() && matches!(check, CodeCheck::Valid | CodeCheck::Wrong) {
        store.save_users()?;
    }
    drop(store);
    match (check, sub) {
        (CodeCheck::Valid, Some(sub)) => {
            tracing::info!(sub, "user confirmed");
            Ok(sign_in(shared, parts, &form.auth, &sub).await?)
        }
        (check, _) => Err(form.again(shared, Page::Confirm, vec![code_error(check).into()])),
    }
}

async fn forgot_password(shared: &Shared, parts: &Parts, body: Incoming) -> Handled {
    let form = read_form(shared, parts, body, Page::ForgotPassword).await?;
    let Some(email) = normalize_email(form.field("email")) else {
        return Err(form.again(shared, Page::ForgotPassword, vec![INVALID_EMAIL.into()]));
    };
    {
        let now = now_secs();
        let mut store = shared.store.lock().await;
        if let Some(user) = store.users.get_mut(&email).filter(|u| u.confirmed) {
            let code = random_six_digits()?;
            user.reset = Some(PendingCode::new(&code, now, RESET_CODE_LIFETIME));
            user.updated_at = now;
            store.save_users()?;
            shared.outbox.send(MailKind::Reset, &email, &code)?;
        }
    }
    // The same answer whether or not the account exists.
    let query = form.auth.query_with(&[("username", &email), ("notice", "reset_sent")]);
    Ok(redirect_or_page(&format!("{}/confirmForgotPassword?{query}", shared.issuer)))
}

async fn confirm_forgot_password(shared: &Shared, parts: &Parts, body: Incoming) -> Handled {
    let page = Page::ConfirmForgotPassword;
    let form = read_form(shared, parts, body, page).await?;
    let password = form.field("password");
    let mut errors = Vec::new();
    let email = normalize_email(form.field("email"));
    if email.is_none() {
        errors.push(INVALID_EMAIL.to_owned());
    }
    errors.extend(shared.policy.problems(password));
    if form.field("confirm_password") != password {
        errors.push(PASSWORD_MISMATCH.to_owned());
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(form.again(shared, page, errors));
    };
    // Hash first, so checking the code and changing the password happen under one lock.
    let password_hash = passwords::hash(password.to_owned()).await?;
    let now = now_secs();
    let mut store = shared.store.lock().await;
    let check = match store.users.get_mut(&email).filter(|u| u.confirmed) {
        Some(user) => {
            let check = user.reset.as_mut().map_or(CodeCheck::Expired, |p| p.check(form.field("code"), now));
            if check == CodeCheck::Valid {
                user.password_hash = password_hash;
                user.reset = None;
                user.updated_at = now;
            }
            if matches!(check, CodeCheck::Valid | CodeCheck::Wrong) {
                store.save_users()?;
            }
            check
        }
        None => CodeCheck::Wrong,
    };
    drop(store);
    if check != CodeCheck::Valid {
        return Err(form.again(shared, page, vec![code_error(check).into()]));
    }
    tracing::info!(email, "password reset");
    let query = form.auth.query_with(&[("notice", "password_reset")]);
    Ok(redirect_or_page(&format!("{}/login?{query}", shared.issuer)))
}

async fn logout(shared: &Shared, parts: &Parts) -> Handled {
    let p = query_params(parts);
    let client_id = match p.single("client_id") {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Err(error_page(
                shared,
                StatusCode::BAD_REQUEST,
                "Required parameter client_id is missing.",
            ));
        }
        Err(_) => {
            return Err(error_page(
                shared,
                StatusCode::BAD_REQUEST,
                "The client_id parameter is given more than once.",
            ));
        }
    };
    let Some(client) = shared.clients.get(client_id) else {
        return Err(error_page(
            shared,
            StatusCode::BAD_REQUEST,
            "The client_id is not registered (invalid_client).",
        ));
    };
    let location = match p.single("logout_uri") {
        Ok(Some(uri)) if client.logout_urls.iter().any(|u| u == uri) => uri.to_owned(),
        Ok(Some(_)) | Err(_) => {
            return Err(error_page(
                shared,
                StatusCode::BAD_REQUEST,
                "The logout_uri is not registered for this client.",
            ));
        }
        // Cognito's other form: sign out, then back to the sign-in page for a new authorize request.
        Ok(None) if p.first("redirect_uri").is_some() && p.first("response_type").is_some() => {
            let auth = validate_authorize(shared, &p).map_err(|r| refusal(shared, r))?;
            format!("{}/login?{}", shared.issuer, auth.query_with(&[]))
        }
        Ok(None) => {
            return Err(error_page(
                shared,
                StatusCode::BAD_REQUEST,
                "Required parameter logout_uri is missing.",
            ));
        }
    };
    if let Some(id) = http::cookies(&parts.headers).get(SESSION_COOKIE) {
        shared.store.lock().await.sessions.remove(id);
    }
    let mut resp = redirect_or_page(&location);
    http::set_cookie(&mut resp, &session_cookie(shared, "", 0));
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// The token and revocation endpoints (called by the page from another origin: CORS).

fn oauth_error(error: &str) -> Resp {
    http::json(StatusCode::BAD_REQUEST, &json!({ "error": error }))
}

/// The request's `Origin` when it is the origin of a callback URL of `client_id` (of any client
/// when `client_id` is unknown or absent, so the page can read the error).
fn allowed_origin(shared: &Shared, headers: &HeaderMap, client_id: Option<&str>) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let wanted = origin.to_str().ok()?.to_ascii_lowercase();
    let clients: Vec<&ClientOptions> = match client_id.and_then(|id| shared.clients.get(id)) {
        Some(client) => vec![client],
        None => shared.clients.values().collect(),
    };
    let allowed = clients
        .iter()
        .flat_map(|c| c.callback_urls.iter())
        .filter_map(|u| http::origin_of(u))
        .any(|o| o == wanted);
    allowed.then(|| origin.clone())
}

fn add_cors(resp: &mut Resp, origin: Option<HeaderValue>) {
    resp.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}

fn preflight(shared: &Shared, headers: &HeaderMap) -> Resp {
    let Some(origin) = allowed_origin(shared, headers, None) else {
        let mut resp = http::text(StatusCode::FORBIDDEN, "Origin not allowed.\n");
        add_cors(&mut resp, None);
        return resp;
    };
    let mut resp = Response::new(http_body_util::Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type, Authorization"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    add_cors(&mut resp, Some(origin));
    resp
}

/// Reads a token-endpoint style form body.
async fn read_oauth_form(parts: &Parts, body: Incoming) -> Result<Params, Resp> {
    if !http::is_form(&parts.headers) {
        return Err(oauth_error("invalid_request"));
    }
    match http::read_body(&parts.headers, body).await {
        Ok(bytes) => Ok(Params::parse(&bytes)),
        Err(BodyError::TooLarge) => {
            Err(http::json(StatusCode::PAYLOAD_TOO_LARGE, &json!({ "error": "invalid_request" })))
        }
        Err(BodyError::Read) => Err(oauth_error("invalid_request")),
    }
}

/// A required, single-valued parameter.
fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, Resp> {
    match p.single(name) {
        Ok(Some(value)) if !value.is_empty() => Ok(value),
        _ => Err(oauth_error("invalid_request")),
    }
}

/// A cross-origin form endpoint (token, revoke): reads the form, answers with `handle`, and adds
/// the CORS headers for the origin of the form's `client_id` (or of any client when it has none).
async fn cross_origin_form(
    shared: &Shared,
    parts: &Parts,
    body: Incoming,
    handle: impl AsyncFnOnce(&Params) -> Handled,
) -> Resp {
    let (client_id, mut resp) = match read_oauth_form(parts, body).await {
        Ok(params) => {
            let resp = match handle(&params).await {
                Ok(resp) | Err(resp) => resp,
            };
            (params.first("client_id").map(str::to_owned), resp)
        }
        Err(resp) => (None, resp),
    };
    add_cors(&mut resp, allowed_origin(shared, &parts.headers, client_id.as_deref()));
    resp
}

async fn token(shared: &Shared, parts: &Parts, body: Incoming) -> Resp {
    cross_origin_form(shared, parts, body, async |params| token_grant(shared, params).await).await
}

async fn token_grant(shared: &Shared, p: &Params) -> Handled {
    let grant_type = required(p, "grant_type")?;
    let client_id = required(p, "client_id")?;
    let Some(client) = shared.clients.get(client_id) else { return Err(oauth_error("invalid_client")) };
    match grant_type {
        "authorization_code" => code_grant(shared, p, client).await,
        "refresh_token" => refresh_grant(shared, p, client).await,
        _ => Err(oauth_error("unsupported_grant_type")),
    }
}

async fn code_grant(shared: &Shared, p: &Params, client: &ClientOptions) -> Handled {
    let code = required(p, "code")?;
    let redirect_uri = required(p, "redirect_uri")?;
    let verifier = required(p, "code_verifier")?;
    let now = now_secs();
    let mut store = shared.store.lock().await;
    store.prune(now);
    // Removed whatever happens next: a code is good for one attempt only.
    let Some(record) = store.codes.remove(code) else { return Err(oauth_error("invalid_grant")) };
    let bound = record.expires_at > now
        && record.client_id == client.client_id
        && record.redirect_uri == redirect_uri
        && pkce::verify(verifier, &record.code_challenge);
    let user = store.user_by_sub(&record.sub).filter(|u| u.confirmed).cloned();
    let (true, Some(user)) = (bound, user) else { return Err(oauth_error("invalid_grant")) };

    let origin_jti = uuid::Uuid::now_v7().to_string();
    let event_id = uuid::Uuid::now_v7().to_string();
    let grant = Grant {
        sub: &user.sub,
        email: &user.email,
        client_id: &client.client_id,
        scopes: &record.scopes,
        auth_time: record.auth_time,
        origin_jti: &origin_jti,
        event_id: &event_id,
        nonce: record.nonce.as_deref(),
    };
    let minted =
        tokens::mint(&shared.key, &shared.issuer, &grant, shared.access_lifetime, shared.id_lifetime, now)?;
    let refresh_token = store_refresh(shared, &mut store, &grant, now)?;
    drop(store);
    tracing::info!(sub = %user.sub, client_id = %client.client_id, "authorization code exchanged");
    let mut body = json!({
        "access_token": minted.access_token,
        "refresh_token": refresh_token,
        "expires_in": shared.access_lifetime,
        "token_type": "Bearer",
    });
    if let (Some(id_token), Value::Object(map)) = (minted.id_token, &mut body) {
        map.insert("id_token".into(), Value::String(id_token));
    }
    Ok(http::json(StatusCode::OK, &body))
}

/// Creates, stores (hashed) and returns a refresh token for `grant`.
fn store_refresh(shared: &Shared, store: &mut Store, grant: &Grant<'_>, now: u64) -> Result<String, Error> {
    let token = random_token()?;
    let key = sha256_hex(&token);
    store.refresh.insert(
        key.clone(),
        RefreshRecord {
            sub: grant.sub.to_owned(),
            client_id: grant.client_id.to_owned(),
            scopes: grant.scopes.to_vec(),
            auth_time: grant.auth_time,
            origin_jti: grant.origin_jti.to_owned(),
            event_id: grant.event_id.to_owned(),
            issued_at: now,
            expires_at: now.saturating_add(shared.refresh_lifetime),
        },
    );
    if let Err(e) = store.save_refresh() {
        store.refresh.remove(&key);
        return Err(e);
    }
    Ok(token)
}

async fn refresh_grant(shared: &Shared, p: &Params, client: &ClientOptions) -> Handled {
    let token = required(p, "refresh_token")?;
    let now = now_secs();
    let store = shared.store.lock().await;
    let record = store
        .refresh
        .get(&sha256_hex(token))
        .filter(|r| r.expires_at > now && r.client_id == client.client_id);
    let Some(record) = record.cloned() else { return Err(oauth_error("invalid_grant")) };
    let Some(user) = store.user_by_sub(&record.sub).filter(|u| u.confirmed).cloned() else {
        return Err(oauth_error("invalid_grant"));
    };
    drop(store);
    // Scopes the client has since lost are not granted again.
    let scopes: Vec<String> = record.scopes.iter().filter(|s| client.scopes.contains(s)).cloned().collect();
    let grant = Grant {
        sub: &user.sub,
        email: &user.email,
        client_id: &client.client_id,
        scopes: &scopes,
        auth_time: record.auth_time,
        origin_jti: &record.origin_jti,
        event_id: &record.event_id,
        nonce: None,
    };
    let minted =
        tokens::mint(&shared.key, &shared.issuer, &grant, shared.access_lifetime, shared.id_lifetime, now)?;
    let mut body = json!({
        "access_token": minted.access_token,
        "expires_in": shared.access_lifetime,
        "token_type": "Bearer",
    });
    if let (Some(id_token), Value::Object(map)) = (minted.id_token, &mut body) {
        map.insert("id_token".into(), Value::String(id_token));
    }
    Ok(http::json(StatusCode::OK, &body))
}

async fn revoke(shared: &Shared, parts: &Parts, body: Incoming) -> Resp {
    cross_origin_form(shared, parts, body, async |params| revoke_token(shared, params).await).await
}

async fn revoke_token(shared: &Shared, p: &Params) -> Handled {
    let token = required(p, "token")?;
    let client_id = required(p, "client_id")?;
    if !shared.clients.contains_key(client_id) {
        return Err(oauth_error("invalid_client"));
    }
    let key = sha256_hex(token);
    let mut store = shared.store.lock().await;
    match store.refresh.get(&key) {
        // RFC 7009: an unknown (or already revoked) token is not an error.
        None => {}
        Some(record) if record.client_id != client_id => return Err(oauth_error("invalid_request")),
        Some(_) => {
            if let Some(record) = store.refresh.remove(&key)
                && let Err(e) = store.save_refresh()
            {
                store.refresh.insert(key, record);
                return Err(e.into());
            }
        }
    }
    drop(store);
    let mut resp = Response::new(http_body_util::Full::new(Bytes::new()));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Tokens as the code flow would issue them, without the browser (test support).
#[cfg(feature = "test-support")]
pub(crate) async fn tokens_for_user(
    shared: &Shared,
    email: &str,
    client_id: &str,
) -> Result<crate::TokenSet, Error> {
    let client = shared
        .clients
        .get(client_id)
        .ok_or_else(|| Error::Config(format!("unknown client {client_id:?}")))?;
    let email = normalize_email(email).ok_or_else(|| Error::InvalidEmail(email.to_owned()))?;
    let now = now_secs();
    let mut store = shared.store.lock().await;
    let user = store
        .users
        .get(&email)
        .filter(|u| u.confirmed)
        .cloned()
        .ok_or_else(|| Error::InvalidEmail(email.clone()))?;
    let origin_jti = uuid::Uuid::now_v7().to_string();
    let event_id = uuid::Uuid::now_v7().to_string();
    let grant = Grant {
        sub: &user.sub,
        email: &user.email,
        client_id: &client.client_id,
        scopes: &client.scopes,
        auth_time: now,
        origin_jti: &origin_jti,
        event_id: &event_id,
        nonce: None,
    };
    let minted =
        tokens::mint(&shared.key, &shared.issuer, &grant, shared.access_lifetime, shared.id_lifetime, now)?;
    let refresh_token = store_refresh(shared, &mut store, &grant, now)?;
    Ok(crate::TokenSet {
        id_token: minted.id_token,
        access_token: minted.access_token,
        refresh_token,
        expires_in: shared.access_lifetime,
    })
}
