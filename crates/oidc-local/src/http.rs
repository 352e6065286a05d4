//! HTTP plumbing: parameters, cookies, bounded bodies and the response builders.

use std::collections::HashMap;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;

/// The response type of every handler.
pub(crate) type Resp = Response<Full<Bytes>>;

/// The largest request body accepted (forms and token requests); more gets `413`.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// The Content-Security-Policy of every page. No `form-action`: browsers apply it to the
/// redirects that follow a form post too, and a successful sign-in redirects to the app's
/// callback URL on another origin (the pages render no user-supplied markup, and handlebars
/// escapes every value).
pub(crate) const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Decoded `application/x-www-form-urlencoded` pairs (a query or a form body), in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body (`+` is a space, bad percent escapes are kept as is).
    pub(crate) fn parse(input: &[u8]) -> Self {
        Self(form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The value of `name`: `Ok(None)` when absent, `Err(())` when given more than once.
    pub(crate) fn single(&self, name: &str) -> Result<Option<&str>, Duplicate> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(Duplicate(name.to_owned()));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// The first value of `name` (for form fields where a duplicate is harmless).
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A parameter given more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate(pub String);

/// Encodes pairs as `application/x-www-form-urlencoded`.
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The request's cookies by name (the first one wins when a name repeats).
pub(crate) fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut jar = HashMap::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(';') {
            if let Some((name, val)) = part.trim().split_once('=') {
                jar.entry(name.trim().to_owned()).or_insert_with(|| val.trim().to_owned());
            }
        }
    }
    jar
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than [`MAX_BODY`].
    TooLarge,
    /// The connection failed mid-body.
    Read,
}

/// Reads the whole body, at most [`MAX_BODY`] bytes.
pub(crate) async fn read_body(headers: &HeaderMap, body: Incoming) -> Result<Bytes, BodyError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Read),
    }
}

/// Whether the request says its body is a form.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

fn base(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Adds the headers every page carries (CSP, no framing, no caching, no referrer).
pub(crate) fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// An HTML page.
pub(crate) fn html(status: StatusCode, body: String) -> Resp {
    let mut resp = base(status, "text/html; charset=utf-8", body);
    page_headers(resp.headers_mut());
    resp
}

/// A plain-text answer (used when even a page cannot be rendered).
pub(crate) fn text(status: StatusCode, body: &'static str) -> Resp {
    let mut resp = base(status, "text/plain; charset=utf-8", body);
    page_headers(resp.headers_mut());
    resp
}

/// A JSON answer, never cached (token responses must not be).
pub(crate) fn json(status: StatusCode, value: &Value) -> Resp {
    let mut resp = base(status, "application/json;charset=UTF-8", value.to_string());
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// A public JSON document (discovery, JWKS): cacheable briefly, readable from any origin.
pub(crate) fn public_json(value: &Value) -> Resp {
    let mut resp = base(StatusCode::OK, "application/json;charset=UTF-8", value.to_string());
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    resp
}

/// The stylesheet.
pub(crate) fn css(body: &'static str) -> Resp {
    let mut resp = base(StatusCode::OK, "text/css; charset=utf-8", body);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// `302 Found` to `location`; `None` when the location cannot be a header value.
pub(crate) fn redirect(location: &str) -> Option<Resp> {
    let value = HeaderValue::from_str(location).ok()?;
    let mut resp = base(StatusCode::FOUND, "text/plain; charset=utf-8", Bytes::new());
    resp.headers_mut().insert(header::LOCATION, value);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Some(resp)
}

/// Adds a `Set-Cookie` header.
pub(crate) fn set_cookie(resp: &mut Resp, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `405 Method Not Allowed` with the `Allow` header.
pub(crate) fn method_not_allowed(allow: &'static str) -> Resp {
    let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.\n");
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Appends `query` to `uri` (which may already have a query).
pub(crate) fn with_query(uri: &str, query: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

/// The origin (`scheme://host[:port]`) of an absolute URL, lower-cased.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if scheme.is_empty() || authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_decode_plus_and_percent_and_spot_duplicates() {
        let p = Params::parse(b"a=1+2&b=%C3%A9%26&c=%zz&a=3");
        assert_eq!(p.single("b"), Ok(Some("é&")));
        assert_eq!(p.single("c"), Ok(Some("%zz")));
        assert_eq!(p.single("a"), Err(Duplicate("a".into())));
        assert_eq!(p.first("a"), Some("1 2"));
        assert_eq!(p.single("missing"), Ok(None));
    }

    #[test]
    fn cookie_header_parsing() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=two=2 ; a=ignored"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=3"));
        let jar = cookies(&headers);
        assert_eq!(jar.get("a").map(String::as_str), Some("1"));
        assert_eq!(jar.get("b").map(String::as_str), Some("two=2"));
        assert_eq!(jar.get("c").map(String::as_str), Some("3"));
    }

    #[test]
    fn origins() {
        assert_eq!(origin_of("http://LocalHost:5173/cb?x=1").as_deref(), Some("http://localhost:5173"));
        assert_eq!(origin_of("https://app.example.com").as_deref(), Some("https://app.example.com"));
        assert_eq!(origin_of("https://user@evil.example.com/"), None);
        assert_eq!(origin_of("not a url"), None);
    }

    #[test]
    fn query_appending() {
        assert_eq!(with_query("http://a/cb", "code=1"), "http://a/cb?code=1");
        assert_eq!(with_query("http://a/cb?x=y", "code=1"), "http://a/cb?x=y&code=1");
    }

    #[test]
    fn form_content_type() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
        );
        assert!(is_form(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&h));
    }
}
