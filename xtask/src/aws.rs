//! AWS SDK clients for xtask's own calls (invalidations, emptying buckets, checking an emulator),
//! pointed at the same place as Terraform: AWS, or the `--endpoint` of an emulator.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;

use crate::terraform::EMULATOR_ACCESS_KEY;

/// The clients of one deployment.
#[derive(Debug, Clone)]
pub struct Aws {
    /// The shared configuration (region, credentials, endpoint).
    pub config: SdkConfig,
    /// Whether an emulator is behind it.
    pub emulated: bool,
}

impl Aws {
    /// The default credential chain on AWS; fixed dummy credentials and `endpoint` for an emulator.
    pub async fn new(region: &str, endpoint: Option<&str>) -> Self {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint).credentials_provider(Credentials::new(
                EMULATOR_ACCESS_KEY,
                EMULATOR_ACCESS_KEY,
                None,
                None,
                "emulator",
            ));
        }
        Self { config: loader.load().await, emulated: endpoint.is_some() }
    }

    /// S3; path-style against an emulator (no wildcard DNS on 127.0.0.1).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.config).force_path_style(self.emulated).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// CloudFront.
    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.config)
    }

    /// Lambda.
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    /// IAM.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    /// API Gateway v2.
    pub fn apigateway(&self) -> aws_sdk_apigatewayv2::Client {
        aws_sdk_apigatewayv2::Client::new(&self.config)
    }

    /// SQS.
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }
}

/// A tokio runtime for the async SDK, from synchronous command code.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")
}

/// `context` for SDK calls: the error's whole chain on one line (an SDK error's own `Display` is
/// only "service error").
pub trait SdkContext<T> {
    /// Wraps the error with `what` and every cause.
    fn sdk_context(self, what: &str) -> anyhow::Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> SdkContext<T> for Result<T, E> {
    fn sdk_context(self, what: &str) -> anyhow::Result<T> {
        self.map_err(|err| {
            anyhow::anyhow!("{what}: {}", aws_smithy_types::error::display::DisplayErrorContext(&err))
        })
    }
}
