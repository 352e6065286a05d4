//! What the edge adds to every answer: security headers and cache policies, named once here.
//!
//! `cargo xtask tfvars` exports these values to Terraform (the CloudFront response headers policy
//! and the site objects' `Cache-Control`), and the local stack's gateway sets the very same
//! headers, so the page is tested under the policy it is deployed with.

/// Placeholder in [`CONTENT_SECURITY_POLICY_TEMPLATE`] for the origin the browser sends the
/// pre-signed upload to (the media bucket's regional endpoint on AWS, the local S3 server in dev).
pub const UPLOAD_ORIGIN_PLACEHOLDER: &str = "{upload_origin}";

/// Placeholder in [`CONTENT_SECURITY_POLICY_TEMPLATE`] for the identity provider's origin, whose
/// token endpoint the page calls (the Cognito hosted UI's domain on AWS, the embedded issuer in
/// dev).
pub const IDENTITY_ORIGIN_PLACEHOLDER: &str = "{identity_origin}";

/// The page's Content-Security-Policy, with [`UPLOAD_ORIGIN_PLACEHOLDER`] and
/// [`IDENTITY_ORIGIN_PLACEHOLDER`] to fill in: scripts, styles and images from the site only, API
/// calls to the site, uploads to the bucket, tokens from the identity provider, no framing.
pub const CONTENT_SECURITY_POLICY_TEMPLATE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self' {upload_origin} {identity_origin}; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `Strict-Transport-Security: max-age=…; includeSubDomains` (two years).
pub const HSTS_MAX_AGE_SECONDS: u32 = 63_072_000;

/// `X-Frame-Options`.
pub const FRAME_OPTIONS: &str = "DENY";

/// `Referrer-Policy`.
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// `Cross-Origin-Opener-Policy`: the page shares no browsing context group with a window of
/// another site it opens or was opened by.
pub const CROSS_ORIGIN_OPENER_POLICY: &str = "same-origin";

/// `Permissions-Policy`: the page uses none of these powerful features, so no script (its own
/// or an injected one) may ask for them.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), geolocation=(), \
     gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()";

/// The headers of every answer besides those CloudFront's response headers policy names
/// (its `custom_headers_config`): lower-case name, value.
pub const CUSTOM_SECURITY_HEADERS: [(&str, &str); 2] =
    [("cross-origin-opener-policy", CROSS_ORIGIN_OPENER_POLICY), ("permissions-policy", PERMISSIONS_POLICY)];

/// What `/thumbs/*` answers add: no other site may embed the renditions (`Cross-Origin-
/// Resource-Policy`), and as `/thumbs/{id}/{width}` is WebP or JPEG by the request's `Accept`
/// (the viewer-request function), caches keep one copy per `Accept` (`Vary`).
pub const THUMBS_HEADERS: [(&str, &str); 2] =
    [("cross-origin-resource-policy", "same-origin"), ("vary", "Accept")];

/// The header CloudFront adds to every request it forwards to the API (an origin custom header,
/// which overwrites one a viewer sent) and the API function checks in constant time against
/// [`crate::env::ORIGIN_SECRET`]: only the edge reaches the API, not the execute-api URL.
pub const ORIGIN_SECRET_HEADER: &str = "x-thumbforge-origin-secret";

/// The shortest origin secret the API function starts with, in characters.
pub const ORIGIN_SECRET_MIN_CHARS: usize = 32;

/// `Cache-Control` of the page's HTML: always revalidated, so a deploy shows at once.
pub const SITE_HTML_CACHE_CONTROL: &str = "no-cache";

/// `Cache-Control` of the page's scripts, styles and icons (not fingerprinted: kept short).
pub const SITE_ASSET_CACHE_CONTROL: &str = "public, max-age=300";

/// Request headers the page sends with its pre-signed `PUT` (besides `Content-Length`, which
/// the browser sets): the media bucket's CORS rule allows exactly these, from the site's origin.
pub const UPLOAD_CORS_ALLOWED_HEADERS: [&str; 4] =
    ["content-type", "if-none-match", "x-amz-meta-filename", "x-amz-meta-owner"];

/// Response headers of the upload the page may read.
pub const UPLOAD_CORS_EXPOSE_HEADERS: [&str; 1] = ["ETag"];

/// How long a browser may cache the upload preflight, in seconds.
pub const UPLOAD_CORS_MAX_AGE_SECONDS: u32 = 3000;

/// Response headers of a download of an original the page may read: it `fetch()`es the signed
/// URL `GET /api/images/{id}/content?size=original` redirects to, and the media bucket's CORS
/// rule for `GET` from the site's origin exposes these (`Content-Type` and `Content-Length` are
/// readable anyway).
pub const DOWNLOAD_CORS_EXPOSE_HEADERS: [&str; 1] = ["Content-Disposition"];

/// The CSP for a deployment whose uploads go to `upload_origin` (e.g.
/// `https://b.s3.eu-west-1.amazonaws.com`) and whose tokens come from `identity_origin` (e.g.
/// `https://x.auth.eu-west-1.amazoncognito.com`).
pub fn content_security_policy(upload_origin: &str, identity_origin: &str) -> String {
    CONTENT_SECURITY_POLICY_TEMPLATE
        .replace(UPLOAD_ORIGIN_PLACEHOLDER, upload_origin)
        .replace(IDENTITY_ORIGIN_PLACEHOLDER, identity_origin)
}

/// The origin (`scheme://host[:port]`) of a URL; `None` when it has none.
pub fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    (!host.is_empty()).then(|| &url[..scheme.len() + 3 + host.len()])
}

/// Every security header the edge adds to every answer, in a fixed order.
pub fn security_headers(upload_origin: &str, identity_origin: &str) -> [(&'static str, String); 7] {
    let [(coop, coop_value), (permissions, permissions_value)] = CUSTOM_SECURITY_HEADERS;
    [
        ("content-security-policy", content_security_policy(upload_origin, identity_origin)),
        ("strict-transport-security", format!("max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains")),
        ("x-content-type-options", "nosniff".to_owned()),
        ("x-frame-options", FRAME_OPTIONS.to_owned()),
        ("referrer-policy", REFERRER_POLICY.to_owned()),
        (coop, coop_value.to_owned()),
        (permissions, permissions_value.to_owned()),
    ]
}

/// The `Content-Type` and `Cache-Control` the site serves a page file with, by its extension;
/// `None` for a file that is not part of the page (it is not published).
pub fn site_file_headers(path: &str) -> Option<(&'static str, &'static str)> {
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    let (content_type, cache) = match extension.as_str() {
        "html" => ("text/html; charset=utf-8", SITE_HTML_CACHE_CONTROL),
        "js" => ("text/javascript; charset=utf-8", SITE_ASSET_CACHE_CONTROL),
        "css" => ("text/css; charset=utf-8", SITE_ASSET_CACHE_CONTROL),
        "svg" => ("image/svg+xml", SITE_ASSET_CACHE_CONTROL),
        "png" => ("image/png", SITE_ASSET_CACHE_CONTROL),
        "ico" => ("image/x-icon", SITE_ASSET_CACHE_CONTROL),
        "json" | "webmanifest" => ("application/json", SITE_ASSET_CACHE_CONTROL),
        "txt" => ("text/plain; charset=utf-8", SITE_ASSET_CACHE_CONTROL),
        _ => return None,
    };
    Some((content_type, cache))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_names_the_upload_and_identity_origins_once_and_nothing_unsafe() {
        let csp = content_security_policy(
            "https://b.s3.eu-west-1.amazonaws.com",
            "https://x.auth.eu-west-1.amazoncognito.com",
        );
        assert!(
            csp.contains(
                "connect-src 'self' https://b.s3.eu-west-1.amazonaws.com https://x.auth.eu-west-1.amazoncognito.com;"
            ),
            "{csp}"
        );
        assert!(!csp.contains(UPLOAD_ORIGIN_PLACEHOLDER) && !csp.contains(IDENTITY_ORIGIN_PLACEHOLDER));
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("img-src 'self';"), "the page shows images of its own origin only: {csp}");
        assert_eq!(CONTENT_SECURITY_POLICY_TEMPLATE.matches(UPLOAD_ORIGIN_PLACEHOLDER).count(), 1);
        assert_eq!(CONTENT_SECURITY_POLICY_TEMPLATE.matches(IDENTITY_ORIGIN_PLACEHOLDER).count(), 1);
    }

    #[test]
    fn origins_of_urls() {
        assert_eq!(
            origin_of("https://x.auth.eu-west-1.amazoncognito.com/oauth2/token"),
            Some("https://x.auth.eu-west-1.amazoncognito.com")
        );
        assert_eq!(origin_of("http://127.0.0.1:4000/oauth2/token?x"), Some("http://127.0.0.1:4000"));
        assert_eq!(origin_of("http://127.0.0.1:4000"), Some("http://127.0.0.1:4000"));
        assert_eq!(origin_of("/oauth2/token"), None);
        assert_eq!(origin_of("https:///x"), None);
    }

    #[test]
    fn security_headers_are_complete() {
        let headers = security_headers("http://127.0.0.1:9000", "http://127.0.0.1:9001");
        let names: Vec<_> = headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "content-security-policy",
                "strict-transport-security",
                "x-content-type-options",
                "x-frame-options",
                "referrer-policy",
                "cross-origin-opener-policy",
                "permissions-policy",
            ]
        );
        assert_eq!(headers[1].1, "max-age=63072000; includeSubDomains");
        assert_eq!(headers[5].1, "same-origin");
        assert!(headers[6].1.split(", ").all(|feature| feature.ends_with("=()")), "{}", headers[6].1);
        assert!(headers[6].1.contains("camera=()") && headers[6].1.contains("geolocation=()"));
    }

    #[test]
    fn site_files_get_types_and_cache_policies() {
        assert_eq!(site_file_headers("index.html"), Some(("text/html; charset=utf-8", "no-cache")));
        assert_eq!(site_file_headers("app.JS").map(|h| h.0), Some("text/javascript; charset=utf-8"));
        assert_eq!(site_file_headers("app.css").map(|h| h.1), Some(SITE_ASSET_CACHE_CONTROL));
        assert_eq!(site_file_headers("README.md"), None);
        assert_eq!(site_file_headers("Makefile"), None);
    }
}
