//! An aws-sdk-dynamodb client aimed at the server (feature `client`).

use aws_sdk_dynamodb::config::{BehaviorVersion, Builder, Credentials, Region};

use crate::{ACCESS_KEY, LocalDynamo, REGION, SECRET_KEY};

impl LocalDynamo {
    /// An `aws_sdk_dynamodb` config builder for this server: its endpoint, [`REGION`] and static
    /// credentials ([`ACCESS_KEY`] / [`SECRET_KEY`]), with the SDK's defaults otherwise (retries
    /// included). Adjust it and `.build()` it for `aws_sdk_dynamodb::Client::from_conf`.
    #[must_use]
    pub fn client_config(&self) -> Builder {
        Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(
                ACCESS_KEY,
                SECRET_KEY,
                None,
                None,
                "thumbforge-dynamo-local",
            ))
    }

    /// An `aws_sdk_dynamodb::Client` for this server; see [`LocalDynamo::client_config`].
    #[must_use]
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(self.client_config().build())
    }
}
