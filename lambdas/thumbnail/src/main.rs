//! The thumbnail Lambda: S3 `ObjectCreated` events on `raw/` in, thumbnails and a manifest out.
//! All logic is in the library; see `handler.rs`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use thumbforge_lambda::Settings;
use thumbnail::handler::{Handler, Summary};
use thumbnail::store::S3Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    thumbforge_lambda::init_logging();
    let settings = Settings::load()?;
    let store = S3Store::new(settings.s3_client(thumbnail::store::timeouts()).await, settings.bucket.clone());
    let handler = &Handler::new(store, settings.bucket, settings.config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let summary: Summary = handler.handle(&event.payload).await?;
        Ok::<Summary, Error>(summary)
    }))
    .await
}
