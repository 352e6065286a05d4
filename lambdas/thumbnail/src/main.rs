//! The thumbnail Lambda. Two event sources, told apart by their records' `eventSource`:
//! S3 `ObjectCreated` events on `raw/` (thumbnails out, the outcome recorded in the metadata
//! table; see `handler.rs`) and the table's stream of removed images (their objects deleted; see
//! `cleanup.rs`). All logic is in the library.

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use thumbforge_lambda::Settings;
use thumbnail::cleanup::{self, Cleanup};
use thumbnail::handler::Handler;
use thumbnail::store::{self, S3Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
    thumbforge_lambda::init_logging();
    let settings = Settings::load()?;
    let store = S3Store::new(settings.s3_client(store::timeouts()).await, settings.bucket.clone());
    let catalog = settings.catalog(store::catalog_timeouts()).await;
    let cleanup = &Cleanup::new(store.clone(), catalog.clone());
    let handler = &Handler::new(store, catalog, settings.bucket, settings.config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if cleanup::is_stream_event(&event.payload) {
            let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return Ok::<Value, Error>(serde_json::to_value(cleanup.handle(&event.payload, now_s).await)?);
        }
        Ok(serde_json::to_value(handler.handle(&event.payload).await?)?)
    }))
    .await
}
