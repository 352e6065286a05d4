//! HTTP plumbing for API Gateway HTTP API events (payload format 2.0): the path the router sees,
//! the request body, query parameters, and JSON answers.

use std::time::SystemTime;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderName, RETRY_AFTER};
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use aws_smithy_types::date_time::{DateTime, Format};
use serde::Serialize;
use serde_json::json;

use thumbforge_catalog::{CatalogError, DAY_MS, Owner, Quota, utc_day};
use thumbforge_core::config::human_bytes;

use crate::ports::PresignError;

/// The largest request body accepted, decoded.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every path the API serves starts with this.
pub const API_ROOT: &str = "/api";

/// A request the API answers with an error: the status, a stable snake_case code and a message
/// for humans. Rendered as `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
    /// The `Retry-After` header, in seconds (a 503 without one says `1`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any error.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), allow: None, retry_after: None }
    }

    /// 400 `invalid_request`: a body or parameter of the wrong shape.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    /// 404 `not_found`: no such route.
    pub fn no_route(path: &str) -> Self {
        Self::new(404, "not_found", format!("no route for {path}"))
    }

    /// 405 `method_not_allowed`, with the `Allow` header.
    pub fn method_not_allowed(method: &str, path: &str, allow: &str) -> Self {
        Self {
            allow: Some(allow.to_owned()),
            ..Self::new(405, "method_not_allowed", format!("{method} is not allowed on {path}; use {allow}"))
        }
    }

    /// 503 `storage_unavailable` for a transient failure of the metadata table, 502
    /// `storage_error` otherwise. The details go to the log, not to the client.
    pub fn catalog(err: &CatalogError) -> Self {
        match err {
            CatalogError::AccountDeleted => {
                return Self::new(
                    410,
                    "account_deleted",
                    "this account has been deleted; nothing can be added to it any more",
                );
            }
            CatalogError::LimitReached { what, limit } => {
                return Self::new(409, "too_many_albums", format!("you can have at most {limit} {what}"));
            }
            _ => {}
        }
        let transient = err.is_transient();
        tracing::error!(error = %err, transient, "the metadata table failed");
        if transient {
            Self::new(503, "storage_unavailable", "the image store is unavailable; try again shortly")
        } else {
            Self::new(502, "storage_error", "the image store failed to answer")
        }
    }

    /// A quota the upload would exceed: `429` with `Retry-After` (the next 00:00 UTC) for a
    /// daily one, `413` for what is stored (it frees up as photos are deleted); the message
    /// names the limit and when it resets. `now_ms` is the request's time.
    pub fn quota(quota: Quota, limit: u64, now_ms: u64) -> Self {
        let reset_ms = (utc_day(now_ms) + 1) * DAY_MS;
        let wait_s = (reset_ms - now_ms).div_ceil(1000);
        let resets =
            format!("it resets at 00:00 UTC ({}), in {}", rfc3339_millis(reset_ms), human_duration(wait_s));
        let (status, code, message) = match quota {
            Quota::UploadsPerDay => (
                429,
                "daily_upload_quota_exceeded",
                format!("you have started {limit} uploads today, the most allowed per day; {resets}"),
            ),
            Quota::BytesPerDay => (
                429,
                "daily_bytes_quota_exceeded",
                format!(
                    "this upload would take today's uploads past {}, the most allowed per day; {resets}",
                    human_bytes(limit)
                ),
            ),
            Quota::PhotosStored => (
                413,
                "photo_quota_exceeded",
                format!("you keep {limit} photos, the most allowed; delete some to upload more"),
            ),
            Quota::BytesStored => (
                413,
                "storage_quota_exceeded",
                format!(
                    "this upload would take your photos past {} stored, the most allowed; delete some to upload more",
                    human_bytes(limit)
                ),
            ),
        };
        Self { retry_after: quota.is_daily().then_some(wait_s), ..Self::new(status, code, message) }
    }

    /// 503 `signing_unavailable`: no upload URL could be signed (credentials).
    pub fn presign(err: &PresignError) -> Self {
        tracing::error!(error = %err, "signing the upload URL failed");
        Self::new(503, "signing_unavailable", "upload URLs cannot be signed right now; try again shortly")
    }

    /// The error as an API Gateway response.
    pub fn into_response(self) -> ApiGatewayV2httpResponse {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = json_response(self.status, &body);
        if let Some(allow) = self.allow.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
            response.headers.insert(ALLOW, allow);
        }
        if let Some(seconds) = self.retry_after {
            response.headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        } else if self.status == 503 {
            response.headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A JSON answer: `Content-Type: application/json`, never cached (statuses change and upload
/// URLs are single-use).
pub fn json_response(status: u16, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    let text = serde_json::to_string(body).unwrap_or_else(|_| {
        r#"{"error":{"code":"internal_error","message":"unserialisable answer"}}"#.into()
    });
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(Body::Text(text));
    response.is_base64_encoded = false;
    response
}

/// An answer without a body (`204 No Content`), not to be cached.
pub fn empty_response(status: u16) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = None;
    response.is_base64_encoded = false;
    response
}

/// Adds a header to a response (values that are not valid header text are skipped).
pub fn with_header(
    mut response: ApiGatewayV2httpResponse,
    name: HeaderName,
    value: &str,
) -> ApiGatewayV2httpResponse {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers.insert(name, value);
    }
    response
}

/// The path the router matches: `rawPath` (or `requestContext.http.path`) without the stage
/// prefix API Gateway adds when a named stage is invoked through its default endpoint
/// (`/prod/api/uploads`). The `$default` stage and custom domains add none, so the prefix is
/// removed only when a named stage is set and what follows it is under `/api`.
pub fn route_path(request: &ApiGatewayV2httpRequest) -> &str {
    let raw = request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let stage = request.request_context.stage.as_deref().filter(|s| !s.is_empty() && *s != "$default");
    if let Some(stage) = stage
        && let Some(rest) = raw.strip_prefix('/').and_then(|p| p.strip_prefix(stage))
        && (rest == API_ROOT || rest.strip_prefix(API_ROOT).is_some_and(|r| r.starts_with('/')))
    {
        return rest;
    }
    raw
}

/// The request body as bytes, decoded from base64 when API Gateway says so, refused above
/// [`MAX_BODY_BYTES`].
pub fn body_bytes(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, ApiError> {
    let text = request.body.as_deref().unwrap_or("");
    let too_large = || {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the request body is larger than {}", human_bytes(MAX_BODY_BYTES as u64)),
        )
    };
    if !request.is_base64_encoded {
        if text.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        return Ok(text.as_bytes().to_vec());
    }
    // Base64 takes 4 characters per 3 bytes: a longer text cannot decode to an acceptable body,
    // so it is refused before any work.
    if text.len() > MAX_BODY_BYTES.div_ceil(3) * 4 {
        return Err(too_large());
    }
    let bytes = aws_smithy_types::base64::decode(text.trim()).map_err(|_| {
        ApiError::invalid_request("the request body is marked as base64-encoded but is not valid base64")
    })?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A request body read as JSON: `400 invalid_json`, naming the expected `shape`, when it is not
/// (an empty body included). What the value holds is the caller's to check.
pub fn json_body(body: &[u8], shape: &str) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(400, "invalid_json", format!("the body must be JSON of the form {shape}: {e}"))
    })
}

/// The one value of a query parameter: `None` when absent, an error when repeated.
pub fn query_param<'a>(
    request: &'a ApiGatewayV2httpRequest,
    name: &str,
    code: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    let values = request.query_string_parameters.all(name).unwrap_or_default();
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(ApiError::new(400, code, format!("`{name}` is given more than once"))),
    }
}

/// RFC 3339 in UTC, e.g. `2025-03-12T14:03:11.123Z` (fractional seconds only when non-zero).
pub fn rfc3339(time: SystemTime) -> String {
    DateTime::from(time).fmt(Format::DateTime).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// A wait in words: `3 h 12 min`, `5 min`, `40 s`.
pub fn human_duration(seconds: u64) -> String {
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Unix milliseconds as RFC 3339 in UTC, with the milliseconds when there are any.
pub fn rfc3339_millis(millis: u64) -> String {
    rfc3339(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis))
}

/// The caller: the `sub` claim the JWT authorizer verified (`requestContext.authorizer.jwt`).
/// Every route but `GET /api/config` has the authorizer, so a request without one means the API
/// is deployed wrong: that is our fault (`500`), not the caller's.
pub fn owner(request: &ApiGatewayV2httpRequest) -> Result<Owner, ApiError> {
    let sub = request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"));
    let Some(sub) = sub else {
        tracing::error!(
            "a request reached the API without verified claims: is the JWT authorizer on every route?"
        );
        return Err(ApiError::new(
            500,
            "no_identity",
            "the request reached the API without a verified user; this is a deployment fault",
        ));
    };
    Owner::new(sub.clone()).map_err(|err| {
        tracing::error!(error = %err, "the verified `sub` claim is unusable");
        ApiError::new(500, "no_identity", "the verified user id is unusable; this is a deployment fault")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw_path: &str, stage: &str) -> ApiGatewayV2httpRequest {
        let mut value: serde_json::Value =
            serde_json::from_str(include_str!("../tests/events/get_image_proxy.json")).unwrap();
        value["rawPath"] = json!(raw_path);
        value["requestContext"]["http"]["path"] = json!(raw_path);
        value["requestContext"]["stage"] = json!(stage);
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn stage_prefix_is_removed_only_before_api_paths() {
        for (raw, stage, routed) in [
            ("/api/images", "$default", "/api/images"),
            ("/prod/api/images", "prod", "/api/images"),
            ("/prod/api", "prod", "/api"),
            ("/api/images", "prod", "/api/images"), // custom domain: no prefix
            ("/api/api/images", "api", "/api/images"), // a stage named `api`
            ("/api/images", "api", "/api/images"),  // … behind a custom domain
            ("/prod/apix/images", "prod", "/prod/apix/images"),
            ("/production/api/images", "prod", "/production/api/images"),
            ("/prod/other", "prod", "/prod/other"),
        ] {
            assert_eq!(route_path(&request(raw, stage)), routed, "{raw} at stage {stage}");
        }
        let mut no_path = request("/x", "$default");
        no_path.raw_path = None;
        no_path.request_context.http.path = Some("/api/images".into());
        assert_eq!(route_path(&no_path), "/api/images");
        no_path.request_context.http.path = None;
        assert_eq!(route_path(&no_path), "/");
    }

    #[test]
    fn bodies_plain_and_base64() {
        let mut r = request("/api/uploads", "$default");
        r.body = Some("{}".into());
        assert_eq!(body_bytes(&r).unwrap(), b"{}");
        r.body = None;
        assert_eq!(body_bytes(&r).unwrap(), b"");
        r.is_base64_encoded = true;
        r.body = Some("eyJhIjoxfQ==".into());
        assert_eq!(body_bytes(&r).unwrap(), br#"{"a":1}"#);
        r.body = Some("not base64!".into());
        assert_eq!(body_bytes(&r).unwrap_err().status, 400);
        r.body = Some(aws_smithy_types::base64::encode(vec![b' '; MAX_BODY_BYTES + 1]));
        assert_eq!(body_bytes(&r).unwrap_err().status, 413);
        r.body = Some(aws_smithy_types::base64::encode(vec![b' '; MAX_BODY_BYTES]));
        assert_eq!(body_bytes(&r).unwrap().len(), MAX_BODY_BYTES);
        r.body = Some("A".repeat(40_000));
        assert_eq!(body_bytes(&r).unwrap_err().status, 413);
        r.is_base64_encoded = false;
        r.body = Some(" ".repeat(MAX_BODY_BYTES + 1));
        assert_eq!(body_bytes(&r).unwrap_err().code, "payload_too_large");
    }

    #[test]
    fn errors_render_as_json_with_their_headers() {
        let response = ApiError::method_not_allowed("PUT", "/api/uploads", "POST").into_response();
        assert_eq!(response.status_code, 405);
        assert_eq!(response.headers["allow"], "POST");
        assert_eq!(response.headers["content-type"], "application/json");
        let Some(Body::Text(text)) = response.body else { panic!("a text body") };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["error"]["code"], "method_not_allowed");
        assert!(value["error"]["message"].as_str().unwrap().contains("use POST"));
    }

    #[test]
    fn times_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_741_788_191_123);
        assert_eq!(rfc3339(t), "2025-03-12T14:03:11.123Z");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_741_788_191);
        assert_eq!(rfc3339(t), "2025-03-12T14:03:11Z");
    }
}
