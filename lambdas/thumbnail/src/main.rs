//! The thumbnail Lambda: S3 `ObjectCreated` events on `raw/` in, thumbnails and a manifest out.
//! All logic is in the library; see `handler.rs`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use thumbnail::{handler::Summary, runtime};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime::init_logging();
    let handler = match runtime::handler_from_env().await {
        Ok(handler) => handler,
        Err(message) => {
            tracing::error!(%message, "invalid configuration; refusing to start");
            return Err(message.into());
        }
    };
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let summary: Summary = handler.handle(&event.payload).await?;
        Ok::<Summary, Error>(summary)
    }))
    .await
}
