//! The presign Lambda behind API Gateway HTTP API (payload 2.0): upload URLs, image status and
//! listing. All logic is in the library; see `api.rs`.
// The SDK's nested futures (DynamoDB transactions inside the handler) outgrow the default depth
// when rustc computes the runtime loop's layout.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use presign::runtime;
use serde_json::Value;
use thumbforge_lambda::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    thumbforge_lambda::init_logging();
    let settings = Settings::load()?;
    let sign_in = runtime::sign_in()?;
    let origin = runtime::origin_secret()?;
    let api = &runtime::api(settings, sign_in, origin).await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(api.handle_event(event.payload).await)
    }))
    .await
}
