//! The thumbnail Lambda: S3 `ObjectCreated` events on `raw/` in, thumbnails out and the outcome
//! recorded in the metadata table. All logic is in the library; see `handler.rs`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use thumbforge_lambda::Settings;
use thumbnail::handler::{Handler, Summary};
use thumbnail::store::{self, S3Store};

#[tokio::main]
async fn main() -> Result<(), Error> {
    thumbforge_lambda::init_logging();
    let settings = Settings::load()?;
    let store = S3Store::new(settings.s3_client(store::timeouts()).await, settings.bucket.clone());
    let catalog = settings.catalog(store::catalog_timeouts()).await;
    let handler = &Handler::new(store, catalog, settings.bucket, settings.config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let summary: Summary = handler.handle(&event.payload).await?;
        Ok::<Summary, Error>(summary)
    }))
    .await
}
