//! Bucket CORS, as S3 applies a bucket's CORS configuration: answers preflight `OPTIONS`
//! requests itself and adds `Access-Control-*` headers to the answers of allowed origins.
//!
//! A browser page on another origin (the local stack's gateway) sends its pre-signed `PUT`
//! straight to the server, as it does to S3 in a deployment, so the same rule must hold here.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use s3s::service::S3Service;
use s3s::{Body, HttpError, HttpResponse};

/// One CORS rule, like an S3 bucket CORS rule (`AllowedOrigins`, `AllowedMethods`,
/// `AllowedHeaders`, `ExposeHeaders`, `MaxAgeSeconds`). Origins and headers are compared
/// exactly (case-insensitively for headers); wildcards are not supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRule {
    /// Origins allowed, e.g. `http://127.0.0.1:8080`.
    pub allowed_origins: Vec<String>,
    /// Methods allowed, e.g. `PUT`.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for (lower case).
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age: Duration,
}

/// Serves S3 through `inner`, applying `rules` (none: no CORS headers, preflights refused).
#[derive(Clone)]
pub(crate) struct Cors {
    pub(crate) inner: S3Service,
    pub(crate) rules: Arc<[CorsRule]>,
}

impl Cors {
    pub(crate) async fn call(self, request: Request<Incoming>) -> Result<HttpResponse, HttpError> {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Some(origin) = origin else {
            return hyper::service::Service::call(&self.inner, request).await;
        };
        if request.method() == Method::OPTIONS {
            return Ok(self.preflight(&origin, request.headers()));
        }
        let method = request.method().as_str().to_owned();
        let mut response = hyper::service::Service::call(&self.inner, request).await?;
        if let Some(rule) = self.matching(&origin, &method) {
            allow(response.headers_mut(), &origin);
            if !rule.expose_headers.is_empty() {
                insert(
                    response.headers_mut(),
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    &rule.expose_headers.join(", "),
                );
            }
        }
        Ok(response)
    }

    fn matching(&self, origin: &str, method: &str) -> Option<&CorsRule> {
        self.rules.iter().find(|rule| {
            rule.allowed_origins.iter().any(|o| o == origin)
                && rule.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method))
        })
    }

    fn preflight(&self, origin: &str, headers: &HeaderMap) -> HttpResponse {
        let method = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|v| v.to_str().ok());
        let requested: Vec<String> = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let rule = method.and_then(|m| self.matching(origin, m)).filter(|rule| {
            requested.iter().all(|h| rule.allowed_headers.iter().any(|a| a.eq_ignore_ascii_case(h)))
        });
        let Some(rule) = rule else {
            // S3's words for a refused preflight.
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessForbidden</Code>\
                        <Message>CORSResponse: This CORS request is not allowed.</Message></Error>";
            let mut response = Response::new(Body::from(body.to_owned()));
            *response.status_mut() = StatusCode::FORBIDDEN;
            insert(response.headers_mut(), header::CONTENT_TYPE, "application/xml");
            return response;
        };
        let mut response = Response::new(Body::empty());
        allow(response.headers_mut(), origin);
        insert(
            response.headers_mut(),
            header::ACCESS_CONTROL_ALLOW_METHODS,
            &rule.allowed_methods.join(", "),
        );
        if !requested.is_empty() {
            insert(response.headers_mut(), header::ACCESS_CONTROL_ALLOW_HEADERS, &requested.join(", "));
        }
        insert(response.headers_mut(), header::ACCESS_CONTROL_MAX_AGE, &rule.max_age.as_secs().to_string());
        response
    }
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    insert(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
