//! An aws-sdk-s3 client aimed at the server (feature `client`).

use aws_sdk_s3::config::{BehaviorVersion, Builder, Credentials, Region};

use crate::{LocalS3, REGION};

impl LocalS3 {
    /// An `aws_sdk_s3` config builder for this server: its endpoint, [`REGION`], path-style
    /// addressing and its static credentials, with the SDK's defaults otherwise (retries
    /// included). Adjust it (e.g. `.retry_config(..)`) and `.build()` it for
    /// `aws_sdk_s3::Client::from_conf`.
    #[must_use]
    pub fn client_config(&self) -> Builder {
        Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(REGION))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                self.access_key(),
                self.secret_key(),
                None,
                None,
                "thumbforge-s3-local",
            ))
    }

    /// An `aws_sdk_s3::Client` for this server; see [`LocalS3::client_config`].
    #[must_use]
    pub fn client(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.client_config().build())
    }
}
