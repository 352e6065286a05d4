//! The edge: what CloudFront and API Gateway do in a deployment, on one local HTTP listener.
//!
//! - `/api/*` → the API function, as an API Gateway HTTP API (payload format 2.0) proxy
//!   integration: the route selected from [`thumbforge_core::routes::ROUTES`] (its `routeKey` and
//!   `pathParameters`, API Gateway's `404` when none matches), the event, the response mapping,
//!   the 10 MB request limit and API Gateway's own answers when the function fails (`500`) or
//!   times out (`503`).
//! - `/thumbs/*` → the media bucket (`GET`/`HEAD`), read through the S3 API as CloudFront's
//!   origin access control does, with the object's `Content-Type`, `Cache-Control` and `ETag`.
//! - everything else → the page in `frontend/` (the site bucket), `/` being `index.html`, each
//!   file with the `Content-Type` and `Cache-Control` it is published with.
//!
//! Every answer carries the security headers of the distribution's response headers policy
//! ([`thumbforge_core::web::security_headers`]).
//!
//! As CloudFront does with its origin custom header, the edge adds the origin secret
//! ([`web::ORIGIN_SECRET_HEADER`]) to every request it passes to the API, replacing one the
//! browser sent. A second listener stands for API Gateway's own (execute-api) endpoint: `/api/*`
//! straight to the same integration with no header added, so the function's refusal of
//! requests that skipped the edge is tested as deployed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Component, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_smithy_types::base64;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};
use thumbforge_core::keys::THUMBS_PREFIX;
use thumbforge_core::routes::{self, Access, Selected};
use thumbforge_core::{OutputFormat, web};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::authorizer::{JwtAuthorizer, Refusal};
use crate::lambda::{ACCOUNT_ID, Function, InvokeError};
use crate::logs::LogSink;
use crate::time::{apigw_time, epoch_millis};
use crate::viewer;

/// API Gateway's largest request payload.
pub const MAX_API_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// The emulated HTTP API's id.
pub const API_ID: &str = "local";

/// What the edge routes to.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The page's files.
    pub frontend_dir: PathBuf,
    /// The API function.
    pub api: Function,
    /// A client of the media bucket's S3 server.
    pub s3: aws_sdk_s3::Client,
    /// The media bucket.
    pub bucket: String,
    /// Where browsers send uploads (for the CSP's `connect-src`).
    pub upload_origin: String,
    /// Where the page gets its tokens (for the CSP's `connect-src`).
    pub identity_origin: String,
    /// The region the API claims to be in.
    pub region: String,
    /// The JWT authorizer of every route that needs a signed-in user.
    pub authorizer: Arc<JwtAuthorizer>,
    /// The scopes those routes accept (any one of them); empty: no scope check.
    pub route_scopes: Vec<String>,
    /// Where the edge logs why it refused a token.
    pub logs: LogSink,
    /// The secret the edge adds to API requests (the function's `THUMBFORGE_ORIGIN_SECRET`).
    pub origin_secret: String,
    /// The formats an extension-less `/thumbs/{id}/{px}` is negotiated among, best first
    /// (`thumbnails.negotiated_formats()`), as the CloudFront Function is deployed with.
    pub negotiated: Vec<OutputFormat>,
}

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The distribution: the page, `/thumbs/*` and `/api/*` with the origin secret added.
    Edge,
    /// API Gateway's execute-api endpoint: `/api/*` as the caller sent it.
    ExecuteApi,
}

type Answer = Response<Full<Bytes>>;

/// Serves `edge` as `role` on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, edge: Arc<Edge>, role: Listener, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = crate::stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = socket.set_nodelay(true);
                let edge = Arc::clone(&edge);
                let service = hyper::service::service_fn(move |request| {
                    let edge = Arc::clone(&edge);
                    async move {
                        let answer = match role {
                            Listener::Edge => edge.answer(request, peer).await,
                            Listener::ExecuteApi => edge.execute_api(request, peer).await,
                        };
                        Ok::<_, Infallible>(answer)
                    }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        }
    }
    connections.shutdown().await;
}

fn plain(status: StatusCode, text: &str) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    set(response.headers_mut(), header::CONTENT_TYPE, "text/plain; charset=utf-8");
    response
}

fn json_message(status: StatusCode, message: &str) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(json!({ "message": message }).to_string())));
    *response.status_mut() = status;
    set(response.headers_mut(), header::CONTENT_TYPE, "application/json");
    response
}

/// API Gateway's own answer when the authorizer refuses a request.
fn refused(refusal: &Refusal) -> Answer {
    let (status, message, challenge) = refusal.answer();
    let mut response =
        json_message(StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), message);
    if let Some(challenge) = challenge {
        set(response.headers_mut(), header::WWW_AUTHENTICATE, challenge);
    }
    response
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

impl Edge {
    async fn answer(&self, request: Request<Incoming>, peer: SocketAddr) -> Answer {
        let head = request.method() == Method::HEAD;
        // The viewer-request function runs on the page's and the thumbnails' behaviours.
        let path = if is_api_path(request.uri().path()) {
            request.uri().path().to_owned()
        } else {
            let accept: Vec<&str> =
                request.headers().get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
            viewer::rewrite_uri(request.uri().path(), &accept, &self.negotiated)
        };
        let mut response = if is_api_path(&path) {
            let mut request = request;
            set(
                request.headers_mut(),
                HeaderName::from_static(web::ORIGIN_SECRET_HEADER),
                &self.origin_secret,
            );
            self.api(request, peer).await
        } else if path.starts_with(&format!("/{THUMBS_PREFIX}")) {
            let mut response = self.thumbs(request.method(), &path).await;
            for (name, value) in web::THUMBS_HEADERS {
                set(response.headers_mut(), HeaderName::from_static(name), value);
            }
            response
        } else {
            self.site(request.method(), &path).await
        };
        for (name, value) in web::security_headers(&self.upload_origin, &self.identity_origin) {
            set(response.headers_mut(), HeaderName::from_static(name), &value);
        }
        if head {
            *response.body_mut() = Full::new(Bytes::new());
        }
        response
    }

    /// API Gateway's own endpoint: the API's routes with nothing added (API Gateway's `404`
    /// for anything else).
    async fn execute_api(&self, request: Request<Incoming>, peer: SocketAddr) -> Answer {
        if is_api_path(request.uri().path()) {
            self.api(request, peer).await
        } else {
            json_message(StatusCode::NOT_FOUND, "Not Found")
        }
    }

    /// The site bucket behind the default behaviour.
    async fn site(&self, method: &Method, path: &str) -> Answer {
        if method != Method::GET && method != Method::HEAD {
            return plain(StatusCode::FORBIDDEN, "This distribution only allows GET and HEAD here.");
        }
        let Some(relative) = site_path(path) else {
            return plain(StatusCode::NOT_FOUND, "Not found");
        };
        let Some((content_type, cache_control)) = web::site_file_headers(&relative.to_string_lossy()) else {
            return plain(StatusCode::NOT_FOUND, "Not found");
        };
        match tokio::fs::read(self.frontend_dir.join(&relative)).await {
            Ok(bytes) => {
                let mut response = Response::new(Full::new(Bytes::from(bytes)));
                set(response.headers_mut(), header::CONTENT_TYPE, content_type);
                set(response.headers_mut(), header::CACHE_CONTROL, cache_control);
                response
            }
            Err(_) => plain(StatusCode::NOT_FOUND, "Not found"),
        }
    }

    /// The media bucket behind `/thumbs/*`.
    async fn thumbs(&self, method: &Method, path: &str) -> Answer {
        if method != Method::GET && method != Method::HEAD {
            return plain(StatusCode::FORBIDDEN, "This distribution only allows GET and HEAD here.");
        }
        let Ok(key) = percent_decode_str(path.trim_start_matches('/')).decode_utf8() else {
            return plain(StatusCode::NOT_FOUND, "Not found");
        };
        let object = match self.s3.get_object().bucket(&self.bucket).key(key.as_ref()).send().await {
            Ok(object) => object,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return plain(StatusCode::NOT_FOUND, "Not found");
            }
            Err(err) => {
                let text = thumbforge_s3_error(&err);
                return plain(StatusCode::BAD_GATEWAY, &format!("The origin failed: {text}"));
            }
        };
        let content_type = object.content_type.clone();
        let cache_control = object.cache_control.clone();
        let etag = object.e_tag.clone();
        let bytes = match object.body.collect().await {
            Ok(data) => data.into_bytes(),
            Err(err) => return plain(StatusCode::BAD_GATEWAY, &format!("The origin failed: {err}")),
        };
        let mut response = Response::new(Full::new(bytes));
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache_control),
            (header::ETAG, etag),
        ] {
            if let Some(value) = value {
                set(headers, name, &value);
            }
        }
        response
    }

    /// API Gateway's proxy integration with the API function.
    async fn api(&self, request: Request<Incoming>, peer: SocketAddr) -> Answer {
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, MAX_API_REQUEST_BYTES).collect().await.map(|b| b.to_bytes()) else {
            return json_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        };
        let Some(route) = routes::select(parts.method.as_str(), parts.uri.path()) else {
            return json_message(StatusCode::NOT_FOUND, "Not Found");
        };
        let authorized = match route.route.access {
            Access::Public => None,
            Access::SignedIn => {
                let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                match self.authorizer.authorize(header, &self.route_scopes).await {
                    Ok(accepted) => Some(accepted),
                    Err(refusal) => {
                        if let Refusal::Unauthorized(why) = &refusal {
                            self.logs
                                .line("edge", &format!("401 {} {}: {why}", parts.method, parts.uri.path()));
                        }
                        return refused(&refusal);
                    }
                }
            }
        };
        let mut event = api_event(&parts, &route, &body, peer, &self.region, SystemTime::now());
        if let (Some(accepted), Some(context)) = (authorized, event.get_mut("requestContext")) {
            context["authorizer"] = accepted.to_event();
        }
        match self.api.invoke(event.to_string()).await {
            Ok(answer) => map_api_response(&answer),
            Err(InvokeError::Timeout(_)) => {
                json_message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
            Err(_) => json_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn thumbforge_s3_error<E: std::error::Error + 'static>(err: &aws_sdk_s3::error::SdkError<E>) -> String {
    use std::error::Error as _;
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The file a site path names, relative to the page's folder; `None` for anything that could
/// leave it or is not a plain file name (`..`, hidden files, empty segments, bad encoding).
pub fn site_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let relative = decoded.strip_prefix('/')?;
    let relative = if relative.is_empty() { "index.html" } else { relative };
    if relative.split('/').any(|s| s.is_empty() || s.starts_with('.') || s.contains(['\\', '\0'])) {
        return None;
    }
    let path = PathBuf::from(relative);
    path.components().all(|c| matches!(c, Component::Normal(_))).then_some(path)
}

/// The API Gateway HTTP API (payload format 2.0) event for a request on `route`.
pub fn api_event(
    parts: &hyper::http::request::Parts,
    route: &Selected,
    body: &[u8],
    peer: SocketAddr,
    region: &str,
    now: SystemTime,
) -> Value {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if *name == header::COOKIE {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| (*v).push_str(&format!(",{value}")))
            .or_insert(value);
    }
    // CloudFront forwards every viewer header but Host to the API's own domain.
    let domain = format!("{API_ID}.execute-api.{region}.amazonaws.com");
    headers.insert("host".to_owned(), domain.clone());
    headers.insert("x-forwarded-for".to_owned(), peer.ip().to_string());
    headers.insert("x-forwarded-proto".to_owned(), "https".to_owned());
    headers.insert("x-forwarded-port".to_owned(), "443".to_owned());

    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let value = decode(value);
        query.entry(decode(name)).and_modify(|v| (*v).push_str(&format!(",{value}"))).or_insert(value);
    }
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::encode(body), true),
    };
    let method = parts.method.as_str();
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    let route_key = route.route.key();
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(raw_path));
    event.insert("rawQueryString".into(), json!(raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    if !route.parameters.is_empty() {
        // API Gateway hands the function decoded parameter values.
        let decoded: BTreeMap<&str, String> = route
            .parameters
            .iter()
            .map(|(name, value)| (*name, percent_decode_str(value).decode_utf8_lossy().into_owned()))
            .collect();
        event.insert("pathParameters".into(), json!(decoded));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": apigw_time(now),
            "timeEpoch": epoch_millis(now),
        }),
    );
    if !body.is_empty() {
        event.insert("body".into(), json!(body));
    }
    event.insert("isBase64Encoded".into(), json!(encoded));
    Value::Object(event)
}

/// Maps the function's answer to an HTTP response as API Gateway (payload 2.0) does: a
/// `statusCode` object is a full response; any other JSON is a `200` with that JSON as body.
pub fn map_api_response(answer: &[u8]) -> Answer {
    let Ok(value) = serde_json::from_slice::<Value>(answer) else {
        return json_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let Some(status) = value.get("statusCode") else {
        let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
        set(response.headers_mut(), header::CONTENT_TYPE, "application/json");
        return response;
    };
    let Some(status) =
        status.as_u64().and_then(|s| u16::try_from(s).ok()).and_then(|s| StatusCode::from_u16(s).ok())
    else {
        return json_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let text = value.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if value.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        match base64::decode(text) {
            Ok(bytes) => Bytes::from(bytes),
            Err(_) => return json_message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    } else {
        Bytes::from(text.to_owned())
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(map) = value.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name.as_str()), HeaderValue::from_str(&value))
            {
                headers.insert(name, value);
            }
        }
    }
    for cookie in
        value.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_paths_never_leave_the_folder() {
        assert_eq!(site_path("/"), Some(PathBuf::from("index.html")));
        assert_eq!(site_path("/app.js"), Some(PathBuf::from("app.js")));
        assert_eq!(site_path("/icons/a%20b.svg"), Some(PathBuf::from("icons/a b.svg")));
        for bad in [
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/a/../../x",
            "/.git/config",
            "//etc/passwd",
            "/a//b",
            "/%00",
            "app.js",
            "/a\\b",
            "/%ff",
        ] {
            assert_eq!(site_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn api_events_follow_payload_format_2() {
        let request = Request::builder()
            .method("GET")
            .uri("/api/images?limit=2&cursor=a%2Bb&x=1&x=2")
            .header("accept", "application/json")
            .header("cookie", "a=1; b=2")
            .header("host", "127.0.0.1:8080")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_741_788_191_007);
        let route = routes::select("GET", "/api/images").unwrap();
        let event = api_event(&parts, &route, b"", "127.0.0.1:5000".parse().unwrap(), "eu-west-1", now);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/api/images");
        assert_eq!(event["rawQueryString"], "limit=2&cursor=a%2Bb&x=1&x=2");
        assert_eq!(event["queryStringParameters"], json!({"limit": "2", "cursor": "a+b", "x": "1,2"}));
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["headers"]["host"], "local.execute-api.eu-west-1.amazonaws.com");
        assert_eq!(event["routeKey"], "GET /api/images");
        assert_eq!(event["requestContext"]["routeKey"], "GET /api/images");
        assert!(event.get("pathParameters").is_none());
        assert_eq!(event["requestContext"]["time"], "12/Mar/2025:14:03:11 +0000");
        assert_eq!(event["requestContext"]["timeEpoch"], 1_741_788_191_007_u64);
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("body").is_none());
        // What the API function parses.
        let parsed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
            serde_json::from_value(event).unwrap();
        assert_eq!(parsed.request_context.http.method, Method::GET);

        let (parts, ()) =
            Request::builder().method("POST").uri("/api/uploads").body(()).unwrap().into_parts();
        let route = routes::select("POST", "/api/uploads").unwrap();
        let event =
            api_event(&parts, &route, &[0xff, 0x00], "127.0.0.1:1".parse().unwrap(), "eu-west-1", now);
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);

        // Path parameters, decoded; anything else under /api/ on the greedy fallback.
        for (method, uri, key, parameters) in [
            ("GET", "/api/images/a%20b", "GET /api/images/{id}", json!({"id": "a b"})),
            ("DELETE", "/api/uploads", "ANY /api/{proxy+}", json!({"proxy": "uploads"})),
            ("GET", "/api/x/y%2Fz", "ANY /api/{proxy+}", json!({"proxy": "x/y/z"})),
        ] {
            let (parts, ()) = Request::builder().method(method).uri(uri).body(()).unwrap().into_parts();
            let route = routes::select(method, parts.uri.path()).unwrap();
            let event = api_event(&parts, &route, b"", "127.0.0.1:1".parse().unwrap(), "eu-west-1", now);
            assert_eq!(event["routeKey"], key, "{uri}");
            assert_eq!(event["pathParameters"], parameters, "{uri}");
        }
    }

    #[test]
    fn api_responses_are_mapped_as_api_gateway_maps_them() {
        let full = json!({"statusCode": 201, "headers": {"content-type": "application/json", "location": "/x"},
            "cookies": ["a=1"], "body": "{\"ok\":true}", "isBase64Encoded": false});
        let response = map_api_response(full.to_string().as_bytes());
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["location"], "/x");
        assert_eq!(response.headers()["set-cookie"], "a=1");

        let encoded = json!({"statusCode": 200, "body": "aGk=", "isBase64Encoded": true});
        let response = map_api_response(encoded.to_string().as_bytes());
        let body = futures_body(response);
        assert_eq!(body, b"hi");

        let inferred = map_api_response(b"{\"hello\":1}");
        assert_eq!(inferred.status(), 200);
        assert_eq!(futures_body(inferred), b"{\"hello\":1}");

        for broken in [&b"not json"[..], b"{\"statusCode\": 99}", b"{\"statusCode\": \"x\"}"] {
            assert_eq!(map_api_response(broken).status(), 500);
        }
    }

    fn futures_body(response: Answer) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async { response.into_body().collect().await.unwrap().to_bytes().to_vec() })
    }
}
