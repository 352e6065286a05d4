//! Cold-start wiring shared by `main.rs`: logging, configuration and the S3 client.

use thumbforge_core::{RuntimeConfig, env};

use crate::handler::Handler;
use crate::store::S3Store;

/// Structured JSON logs on stderr-free stdout (CloudWatch), level from `RUST_LOG` (default info).
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

/// Reads the configuration from the environment and builds the handler, or says exactly what
/// is wrong (the cold start fails with that message).
pub async fn handler_from_env() -> Result<Handler<S3Store>, String> {
    let lookup = |name: &str| std::env::var(name).ok();
    let config = RuntimeConfig::from_env(lookup).map_err(|e| e.to_string())?;
    let bucket =
        lookup(env::BUCKET).ok_or_else(|| format!("environment variable `{}` is not set", env::BUCKET))?;
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut s3 = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(endpoint) = lookup(env::S3_ENDPOINT) {
        s3 = s3.endpoint_url(endpoint).force_path_style(true);
    }
    let client = aws_sdk_s3::Client::from_conf(s3.build());
    Ok(Handler::new(S3Store::new(client, bucket.clone()), bucket, config))
}
