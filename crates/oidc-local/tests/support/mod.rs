//! Test helpers: a tiny browser over hyper's HTTP/1 client (cookie jar, no redirect following),
//! HTML form scraping, the outbox reader, PKCE pairs and JWT verification with `jsonwebtoken`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, reason = "tests")]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use thumbforge_oidc_local::{ClientOptions, Issuer, IssuerOptions};

pub const CLIENT: &str = "web";
pub const CALLBACK: &str = "http://localhost:5173/callback";
pub const OTHER_CALLBACK: &str = "http://app.test:8080/cb?x=1";
pub const LOGOUT: &str = "http://localhost:5173/";
pub const PASSWORD: &str = "Correct-Horse9";

/// The options every test uses: one client `web` with two callbacks and one logout URL.
pub fn options(dir: &Path) -> IssuerOptions {
    let mut options = IssuerOptions::new(dir);
    let mut client = ClientOptions::new(CLIENT, CALLBACK, LOGOUT);
    client.callback_urls.push(OTHER_CALLBACK.into());
    options.clients.push(client);
    options.clients.push(ClientOptions::new("other", "http://other.test/cb", "http://other.test/"));
    options
}

pub async fn start(dir: &Path) -> Issuer {
    Issuer::start(options(dir)).await.unwrap()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_else(|| panic!("no Location in {self:?}"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The query parameters of the Location.
    pub fn location_params(&self) -> HashMap<String, String> {
        query_params(self.location())
    }

    /// The hidden fields of the page's form, unescaped.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        hidden_fields(&self.body)
    }
}

pub fn query_params(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// A cookie-keeping client that never follows redirects.
#[derive(Debug, Default)]
pub struct Browser {
    pub jar: HashMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http URL: {url}"));
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let stream = tokio::net::TcpStream::connect(authority).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let mut builder = Request::builder().method(method).uri(path).header("host", authority);
        if !self.jar.is_empty() {
            let cookie = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            builder = builder.header("cookie", cookie);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default()))).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        for value in headers.get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let (pair, attrs) = value.split_once(';').unwrap_or((value, ""));
            let (name, val) = pair.split_once('=').unwrap();
            if attrs.to_ascii_lowercase().contains("max-age=0") {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), val.trim().to_owned());
            }
        }
        Reply { status, headers, body: String::from_utf8(body.to_vec()).unwrap() }
    }

    pub async fn get(&mut self, url: &str) -> Reply {
        self.request(Method::GET, url, &[], None).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(String, String)]) -> Reply {
        let body = encode(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.request(Method::POST, url, &[("content-type", "application/x-www-form-urlencoded")], Some(body))
            .await
    }

    /// Submits the form of `page` to `url`: its hidden fields plus `fields`.
    pub async fn submit(&mut self, page: &Reply, url: &str, fields: &[(&str, &str)]) -> Reply {
        let mut all = page.hidden_fields();
        all.extend(fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self.post_form(url, &all).await
    }
}

pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + 27..];
        let name_end = rest.find('"').unwrap();
        let name = &rest[..name_end];
        rest = &rest[name_end..];
        let value_start = rest.find("value=\"").unwrap() + 7;
        rest = &rest[value_start..];
        let value_end = rest.find('"').unwrap();
        fields.push((unescape(name), unescape(&rest[..value_end])));
        rest = &rest[value_end..];
    }
    fields
}

/// The text of the page's error region (`data-testid="error"`), if any.
pub fn error_text(html: &str) -> Option<String> {
    let start = html.find("data-testid=\"error\">")? + 20;
    let end = html[start..].find("</div>")? + start;
    Some(unescape(&html[start..end].replace("<p>", "").replace("</p>", " ")).trim().to_owned())
}

/// The newest code mailed to `to` for `kind` ("signup" or "reset").
pub fn mailed_code(issuer: &Issuer, to: &str, kind: &str) -> Option<String> {
    let text = std::fs::read_to_string(issuer.outbox_path()).ok()?;
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|m| m["to"] == to && m["kind"] == kind)
        .map(|m| m["code"].as_str().unwrap().to_owned())
}

pub fn mail_count(issuer: &Issuer) -> usize {
    std::fs::read_to_string(issuer.outbox_path()).map_or(0, |t| t.lines().count())
}

/// A fresh PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    static N: AtomicU64 = AtomicU64::new(0);
    let verifier = format!("verifier-{}-{:040}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// `{authorize}?response_type=code&client_id=web&redirect_uri=CALLBACK&state&scope&code_challenge...`.
pub fn authorize_url(issuer: &Issuer, challenge: &str, state: &str) -> String {
    format!(
        "{}?{}",
        issuer.authorize_url(),
        encode([
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", CALLBACK),
            ("state", state),
            ("scope", "openid email"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
    )
}

/// Exchanges `code` at the token endpoint.
pub async fn exchange(issuer: &Issuer, code: &str, redirect_uri: &str, verifier: &str) -> Reply {
    let fields = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    post_token(issuer, &fields).await
}

pub async fn post_token(issuer: &Issuer, fields: &[(&str, &str)]) -> Reply {
    let fields: Vec<(String, String)> =
        fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Browser::new().post_form(&issuer.token_url(), &fields).await
}

pub async fn refresh(issuer: &Issuer, refresh_token: &str) -> Reply {
    post_token(
        issuer,
        &[("grant_type", "refresh_token"), ("client_id", CLIENT), ("refresh_token", refresh_token)],
    )
    .await
}

/// Goes through authorize → login with the browser; returns the redirect to the callback.
pub async fn login(
    browser: &mut Browser,
    issuer: &Issuer,
    email: &str,
    password: &str,
    challenge: &str,
) -> Reply {
    let authorize = browser.get(&authorize_url(issuer, challenge, "st-login")).await;
    assert_eq!(authorize.status, 302, "{authorize:?}");
    let page = browser.get(authorize.location()).await;
    assert_eq!(page.status, 200, "{page:?}");
    browser
        .submit(&page, &format!("{}/login", issuer.url()), &[("email", email), ("password", password)])
        .await
}

/// Signs in an existing confirmed user and exchanges the code: the token response.
pub async fn login_tokens(issuer: &Issuer, email: &str, password: &str) -> Value {
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let back = login(&mut browser, issuer, email, password, &challenge).await;
    assert_eq!(back.status, 302, "{back:?}");
    assert!(back.location().starts_with(CALLBACK), "{back:?}");
    let code = back.location_params()["code"].clone();
    let reply = exchange(issuer, &code, CALLBACK, &verifier).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// Fetches the JWKS and verifies `token` (RS256, issuer, optional audience), returning the claims.
pub async fn verify(
    issuer: &Issuer,
    token: &str,
    audience: Option<&str>,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks = Browser::new().get(&issuer.jwks_url()).await.json();
    let jwk = &jwks["keys"][0];
    let header = jsonwebtoken::decode_header(token)?;
    assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
    let key = DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer.url()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.leeway = 0;
    match audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims)
}

/// Signs up through the pages (authorize → signup → confirm page), returning the browser, the
/// confirm page and the PKCE verifier of the flow.
pub async fn sign_up(issuer: &Issuer, email: &str, password: &str) -> (Browser, Reply, String) {
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let authorize = browser.get(&authorize_url(issuer, &challenge, "st-signup")).await;
    let login_page = browser.get(authorize.location()).await;
    assert!(login_page.body.contains("data-testid=\"signup-link\""), "{login_page:?}");
    let signup_url = authorize.location().replacen("/login?", "/signup?", 1);
    let page = browser.get(&signup_url).await;
    assert_eq!(page.status, 200, "{page:?}");
    let done = browser
        .submit(
            &page,
            &format!("{}/signup", issuer.url()),
            &[("email", email), ("password", password), ("confirm_password", password)],
        )
        .await;
    assert_eq!(done.status, 302, "{done:?}");
    assert!(done.location().starts_with(&format!("{}/confirm?", issuer.url())), "{done:?}");
    let confirm = browser.get(done.location()).await;
    assert_eq!(confirm.status, 200, "{confirm:?}");
    (browser, confirm, verifier)
}
