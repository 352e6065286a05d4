//! Cold-start wiring for `main.rs`: the S3 signer and the metadata table with the API's timeouts,
//! and the API over them.
//! Logging and settings come from `thumbforge-lambda`, shared with the thumbnail function.

use std::time::Duration;

use aws_sdk_s3::config::timeout::TimeoutConfig;
use thumbforge_catalog::DynamoCatalog;
use thumbforge_core::auth::SignIn;
use thumbforge_lambda::Settings;

use crate::api::Api;
use crate::origin::OriginSecret;
use crate::s3::S3Presigner;

/// The API as deployed.
pub type LambdaApi = Api<DynamoCatalog, S3Presigner>;

/// The API's S3 and DynamoDB timeouts: a stalled call becomes a retryable error, then a JSON 503, well inside
/// the function's 10 s timeout (`functions.presign`), instead of API Gateway's bare 503 after a
/// Lambda timeout.
pub fn timeouts() -> TimeoutConfig {
    thumbforge_lambda::timeouts(Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4))
}

/// The API for `settings` and `sign_in`, serving only requests that carry `origin`: the
/// function role's credentials (or the local stack's endpoint).
pub async fn api(settings: Settings, sign_in: SignIn, origin: OriginSecret) -> LambdaApi {
    let client = settings.s3_client(timeouts()).await;
    let catalog = settings.catalog(timeouts()).await;
    Api::new(catalog, S3Presigner::new(client, settings.bucket), settings.config, sign_in)
        .with_origin_secret(origin)
}

/// The secret CloudFront sends, from the environment; on failure logs one error line (the cold
/// start then fails with the same message).
pub fn origin_secret() -> Result<OriginSecret, String> {
    OriginSecret::from_env(|name| std::env::var(name).ok()).inspect_err(|error| {
        tracing::error!(%error, "the origin secret is missing or unusable; refusing to start");
    })
}

/// How the page signs in, from the environment; on failure logs one error line naming every
/// missing variable (the cold start then fails with the same message).
pub fn sign_in() -> Result<SignIn, String> {
    SignIn::from_env(|name| std::env::var(name).ok()).inspect_err(|error| {
        tracing::error!(%error, "the sign-in settings are missing; refusing to start");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalled_calls_fail_well_inside_the_function_timeout() {
        let timeouts = timeouts();
        let function = thumbforge_core::Config::default().functions.presign.timeout_seconds;
        let operation = timeouts.operation_timeout().unwrap();
        assert!(timeouts.operation_attempt_timeout().unwrap() < operation);
        assert!(operation * 2 <= Duration::from_secs(u64::from(function)), "{operation:?} vs {function} s");
    }
}
