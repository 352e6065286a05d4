//! Only the edge reaches the API. CloudFront adds an origin custom header,
//! [`ORIGIN_SECRET_HEADER`], carrying a secret Terraform generated, to every request it forwards
//! to API Gateway (replacing one a viewer may have sent); the function refuses any request whose
//! header does not match, comparing in constant time. So the execute-api URL, public by
//! design, is of no use to a caller who skips CloudFront (and its WAF and security headers).
//!
//! Why a header rather than a private integration: HTTP APIs have no resource policy, and
//! CloudFront cannot sign requests to API Gateway (origin access control covers S3, Lambda
//! function URLs and MediaPackage only), so a shared secret is the one check available; the
//! authorizer still runs first on the signed-in routes.

use std::fmt;

use subtle::ConstantTimeEq;
use thumbforge_core::env;
pub use thumbforge_core::web::{ORIGIN_SECRET_HEADER, ORIGIN_SECRET_MIN_CHARS};

use crate::http::ApiError;

/// The secret the edge presents. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OriginSecret(Box<[u8]>);

impl fmt::Debug for OriginSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OriginSecret({} bytes, redacted)", self.0.len())
    }
}

impl OriginSecret {
    /// A secret of at least [`ORIGIN_SECRET_MIN_CHARS`] visible ASCII characters (a header
    /// value CloudFront sends unchanged).
    ///
    /// # Errors
    ///
    /// Shorter, or a character that is not visible ASCII.
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < ORIGIN_SECRET_MIN_CHARS {
            return Err(format!(
                "{} must be at least {ORIGIN_SECRET_MIN_CHARS} characters (it has {})",
                env::ORIGIN_SECRET,
                secret.len()
            ));
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("{} must be visible ASCII characters only", env::ORIGIN_SECRET));
        }
        Ok(Self(secret.as_bytes().into()))
    }

    /// The secret from [`env::ORIGIN_SECRET`], read through `var`.
    ///
    /// # Errors
    ///
    /// Unset, or refused by [`OriginSecret::new`].
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let secret = var(env::ORIGIN_SECRET).ok_or_else(|| {
            format!("{} is not set: the API must know the secret CloudFront sends", env::ORIGIN_SECRET)
        })?;
        Self::new(&secret)
    }

    /// Whether `presented` (the header's value, if any) is the secret. The comparison takes the
    /// same time wherever the first differing byte is.
    pub fn admits(&self, presented: Option<&[u8]>) -> bool {
        presented.is_some_and(|presented| bool::from(presented.ct_eq(&self.0)))
    }

    /// `Ok` when the request's headers carry the secret; otherwise the `403` the caller gets.
    ///
    /// # Errors
    ///
    /// `403 direct_access_forbidden`.
    pub fn check(&self, headers: &aws_lambda_events::http::HeaderMap) -> Result<(), ApiError> {
        let presented = headers.get(ORIGIN_SECRET_HEADER).map(|value| value.as_bytes());
        if self.admits(presented) {
            return Ok(());
        }
        Err(ApiError::new(
            403,
            "direct_access_forbidden",
            "this API answers only through the site's own address (its CloudFront distribution)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::http::{HeaderMap, HeaderValue};

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_the_exact_secret_is_admitted() {
        let secret = OriginSecret::new(SECRET).unwrap();
        assert!(secret.admits(Some(SECRET.as_bytes())));
        assert!(!secret.admits(None));
        assert!(!secret.admits(Some(b"")));
        assert!(!secret.admits(Some(&SECRET.as_bytes()[..31])));
        assert!(!secret.admits(Some(format!("{SECRET}0").as_bytes())));
        assert!(!secret.admits(Some(SECRET.to_uppercase().as_bytes())));
        let mut last = SECRET.as_bytes().to_vec();
        last[31] = b'g';
        assert!(!secret.admits(Some(&last)));
    }

    #[test]
    fn the_check_reads_the_header_and_refuses_with_403() {
        let secret = OriginSecret::new(SECRET).unwrap();
        let mut headers = HeaderMap::new();
        let refused = secret.check(&headers).unwrap_err();
        assert_eq!((refused.status, refused.code), (403, "direct_access_forbidden"));
        headers.insert(ORIGIN_SECRET_HEADER, HeaderValue::from_static("not-the-secret"));
        assert_eq!(secret.check(&headers).unwrap_err().status, 403);
        headers.insert(ORIGIN_SECRET_HEADER, HeaderValue::from_static(SECRET));
        assert_eq!(secret.check(&headers), Ok(()));
    }

    #[test]
    fn short_unset_or_odd_secrets_stop_the_cold_start() {
        assert!(OriginSecret::new(&SECRET[..31]).unwrap_err().contains("at least 32"));
        assert!(OriginSecret::new(&format!("{SECRET} x")).unwrap_err().contains("visible ASCII"));
        let unset = OriginSecret::from_env(|_| None).unwrap_err();
        assert!(unset.contains(env::ORIGIN_SECRET), "{unset}");
        let read = OriginSecret::from_env(|name| (name == env::ORIGIN_SECRET).then(|| SECRET.to_owned()));
        assert_eq!(read, OriginSecret::new(SECRET));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", OriginSecret::new(SECRET).unwrap());
        assert!(!shown.contains("0123"), "{shown}");
    }
}
