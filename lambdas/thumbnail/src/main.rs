//! The thumbnail Lambda. Two event sources, told apart by their records' `eventSource`:
//! S3 `ObjectCreated` events on `raw/` (thumbnails out, the outcome recorded in the metadata
//! table; see `handler.rs`) and the table's stream of removed images and deleted accounts (their
//! objects, items and users deleted; see `cleanup.rs` and `account.rs`). All logic is in the
//! library.

// The stream handler nests the clean-up, the account purge and the SDK calls in one future.
#![recursion_limit = "256"]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use thumbforge_core::env;
use thumbforge_lambda::Settings;
use thumbnail::account::CognitoDirectory;
use thumbnail::cleanup::{self, Cleanup};
use thumbnail::handler::Handler;
use thumbnail::store::{self, S3Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
    thumbforge_lambda::init_logging();
    let settings = Settings::load()?;
    let store = S3Store::new(settings.s3_client(store::timeouts()).await, settings.bucket.clone());
    let catalog = settings.catalog(store::catalog_timeouts()).await;
    let watermark = thumbnail::handler::load_watermark(&store, &settings.config).await.map_err(|e| {
        tracing::error!(error = %e, "the configured watermark cannot be used; the function does not start");
        e
    })?;
    let pool_id = std::env::var(env::USER_POOL_ID).ok().filter(|id| !id.trim().is_empty());
    let Some(pool_id) = pool_id else {
        tracing::info!("no user pool: deleted accounts' users stay in the external identity provider");
        let cleanup = Cleanup::new(store.clone(), catalog.clone());
        let handler =
            Handler::new(store, catalog, settings.bucket, settings.config).with_watermark(watermark);
        return run(cleanup, handler).await;
    };
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut cognito = aws_sdk_cognitoidentityprovider::config::Builder::from(&shared)
        .timeout_config(store::catalog_timeouts());
    if let Some(endpoint) = std::env::var(env::COGNITO_ENDPOINT).ok().filter(|e| !e.trim().is_empty()) {
        cognito = cognito.endpoint_url(endpoint);
    }
    let directory =
        CognitoDirectory::new(aws_sdk_cognitoidentityprovider::Client::from_conf(cognito.build()), pool_id);
    let cleanup = Cleanup::new(store.clone(), catalog.clone()).with_directory(directory);
    run(cleanup, Handler::new(store, catalog, settings.bucket, settings.config).with_watermark(watermark))
        .await
}

async fn run<D: thumbnail::account::Directory>(
    cleanup: Cleanup<S3Store, thumbforge_catalog::DynamoCatalog, D>,
    handler: Handler<S3Store, thumbforge_catalog::DynamoCatalog>,
) -> Result<(), Error> {
    let (cleanup, handler) = (&cleanup, &handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        // The invocation's deadline (epoch ms) as an instant on this process's clock.
        let left = Duration::from_millis(event.context.deadline).saturating_sub(now);
        let deadline = Instant::now() + left;
        if cleanup::is_stream_event(&event.payload) {
            let response = cleanup.handle_until(&event.payload, now.as_secs(), deadline).await;
            return Ok::<Value, Error>(serde_json::to_value(response)?);
        }
        Ok(serde_json::to_value(handler.handle_until(&event.payload, Some(deadline)).await?)?)
    }))
    .await
}
