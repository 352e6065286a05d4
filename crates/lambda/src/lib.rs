//! What both thumbforge Lambdas share at cold start: structured logging, their settings from the
//! environment, an S3 client and the metadata table with bounded timeouts, and a readable form of
//! SDK errors.

pub mod emf;

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use thumbforge_core::{RuntimeConfig, env};

/// Structured JSON logs on stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .init();
}

/// What a function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The runtime configuration.
    pub config: RuntimeConfig,
    /// The media bucket.
    pub bucket: String,
    /// An S3-compatible endpoint (local stack, emulators); `None` on AWS.
    pub endpoint: Option<String>,
    /// The image metadata table.
    pub table: String,
    /// A DynamoDB-compatible endpoint (local stack, emulators); `None` on AWS.
    pub dynamodb_endpoint: Option<String>,
}

impl Settings {
    /// Reads the settings through `lookup` (e.g. `|name| std::env::var(name).ok()`), or says
    /// exactly what is wrong.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let config = RuntimeConfig::from_env(&lookup).map_err(|e| e.to_string())?;
        let bucket = lookup(env::BUCKET)
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| format!("environment variable `{}` is not set", env::BUCKET))?;
        let endpoint = lookup(env::S3_ENDPOINT).filter(|e| !e.trim().is_empty());
        let table = lookup(env::TABLE)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| format!("environment variable `{}` is not set", env::TABLE))?;
        let dynamodb_endpoint = lookup(env::DYNAMODB_ENDPOINT).filter(|e| !e.trim().is_empty());
        Ok(Self { config, bucket, endpoint, table, dynamodb_endpoint })
    }

    /// Reads the settings from the process environment; on failure logs one error line naming
    /// every problem (the cold start then fails with the same message).
    pub fn load() -> Result<Self, String> {
        Self::from_env(|name| std::env::var(name).ok()).inspect_err(|error| {
            tracing::error!(%error, "invalid configuration; refusing to start");
        })
    }

    /// An S3 client for the function's role (or the local stack's endpoint). Each function
    /// passes [`timeouts`] that make a stalled call a retryable error well inside its own timeout.
    pub async fn s3_client(&self, timeouts: TimeoutConfig) -> aws_sdk_s3::Client {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut s3 = aws_sdk_s3::config::Builder::from(&shared).timeout_config(timeouts);
        if let Some(endpoint) = &self.endpoint {
            s3 = s3.endpoint_url(endpoint).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(s3.build())
    }

    /// The metadata table for the function's role (or the local stack's endpoint), its calls
    /// bounded by `timeouts` like the bucket's.
    pub async fn catalog(&self, timeouts: TimeoutConfig) -> thumbforge_catalog::DynamoCatalog {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&shared).timeout_config(timeouts);
        if let Some(endpoint) = &self.dynamodb_endpoint {
            dynamodb = dynamodb.endpoint_url(endpoint);
        }
        let client = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
        thumbforge_catalog::DynamoCatalog::new(client, self.table.clone())
    }
}

/// The bucket failed to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} {key}: {message}")]
pub struct StoreError {
    /// The operation (`GetObject`, `ListObjectsV2`, …).
    pub operation: &'static str,
    /// The key or prefix.
    pub key: String,
    /// What went wrong.
    pub message: String,
    /// A timeout, a dropped connection, throttling or a 5xx: retrying later may help.
    pub transient: bool,
}

impl StoreError {
    /// Describes and classifies an SDK error.
    pub fn from_sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        key: &str,
        err: &SdkError<E, HttpResponse>,
    ) -> Self {
        Self { operation, key: key.to_owned(), message: describe(err), transient: is_transient(err) }
    }
}

/// S3 timeouts: connect, each attempt and the whole operation (retries included).
pub fn timeouts(connect: Duration, attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(connect)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The HTTP status S3 answered with, if it answered.
pub fn http_status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// Whether retrying may help: timeouts, connection failures, throttling and 5xx answers.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => {
            http_status(err).is_some_and(|s| s >= 500 || s == 429)
                || matches!(
                    err.code().unwrap_or_default(),
                    "SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout"
                )
        }
        _ => false,
    }
}

/// `Code (HTTP n): message` for a service error, the whole error chain otherwise.
pub fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> String {
    match err {
        SdkError::ServiceError(service) => format!(
            "{} (HTTP {}): {}",
            service.err().code().unwrap_or("error"),
            http_status(err).map_or_else(|| "?".to_owned(), |s| s.to_string()),
            service.err().message().unwrap_or("no message")
        ),
        other => DisplayErrorContext(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn settings_come_from_the_environment() {
        let config = RuntimeConfig::default();
        let mut vars: BTreeMap<&str, String> = config.to_env();
        vars.insert(env::BUCKET, "media".into());
        vars.insert(env::TABLE, "thumbforge-dev-images".into());
        let settings = Settings::from_env(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(
            settings,
            Settings {
                config,
                bucket: "media".into(),
                endpoint: None,
                table: "thumbforge-dev-images".into(),
                dynamodb_endpoint: None
            }
        );

        vars.insert(env::S3_ENDPOINT, "http://127.0.0.1:9000".into());
        let settings = Settings::from_env(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9000"));

        vars.remove(env::BUCKET);
        let err = Settings::from_env(|name| vars.get(name).cloned()).unwrap_err();
        assert_eq!(err, "environment variable `THUMBFORGE_BUCKET` is not set");

        vars.insert(env::BUCKET, "media".into());
        vars.remove(env::TABLE);
        let err = Settings::from_env(|name| vars.get(name).cloned()).unwrap_err();
        assert_eq!(err, "environment variable `THUMBFORGE_TABLE` is not set");

        vars.insert(env::TABLE, "thumbforge-dev-images".into());
        vars.insert(env::PRESIGN_EXPIRY_SECONDS, "7200".into());
        let err = Settings::from_env(|name| vars.get(name).cloned()).unwrap_err();
        assert!(err.contains("`upload.presign_expiry_seconds` is 7200, must be between 1 and 3600"), "{err}");
    }
}
