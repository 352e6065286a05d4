//! thumbforge's local stack: the whole product on one machine, through the real code paths.
//!
//! Each AWS part is replaced by an embedded equivalent that speaks the same protocol, and the
//! Lambdas run as their real binaries:
//!
//! | AWS | here |
//! |---|---|
//! | S3 (media bucket, CORS for the page) | [`thumbforge_s3_local`]: s3s + s3s-fs, SigV4 and presigned URLs verified |
//! | Lambda | [`lambda`]: a Runtime API emulator per function running its binary as child processes |
//! | S3 → Lambda notification, async retries, DLQ | [`notify`] |
//! | DynamoDB stream → Lambda event source mapping (clean-up of deleted images), on-failure destination | [`streams`] |
//! | CloudFront + API Gateway HTTP API | [`gateway`]: the page, `/api/*` as payload-2.0 events behind the JWT authorizer ([`authorizer`]), `/thumbs/*` from the bucket |
//! | DynamoDB (the metadata table) | [`thumbforge_dynamo_local`]: dynoxide on SQLite under the data folder |
//! | Cognito user pool + hosted UI | [`thumbforge_oidc_local`]: an OpenID Connect issuer with the hosted UI's sign-in, sign-up and reset pages, code + PKCE and refresh tokens |
//!
//! The functions get the same variables Terraform sets, from the same [`Config`], plus the local
//! S3 endpoint and credentials. [`Stack::start`] boots it all; `cargo xtask dev` is the command.

pub mod authorizer;
pub mod binaries;
pub mod gateway;
pub mod lambda;
pub mod logs;
pub mod notify;
pub mod streams;
pub mod time;
pub mod viewer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use thumbforge_core::auth::SignIn;
use thumbforge_core::config::{PRESIGN, THUMBNAIL};
use thumbforge_core::{Config, env, keys, web};
use thumbforge_dynamo_local::{LocalDynamo, Options as DynamoOptions};
use thumbforge_oidc_local::{ClientOptions, Issuer, IssuerOptions};
use thumbforge_s3_local::{CorsRule, LocalS3, Options};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use authorizer::JwtAuthorizer;

/// Where the functions find what they call: everything of their environment but the typed
/// configuration's own variables.
#[derive(Debug, Clone, Copy)]
pub struct Services<'a> {
    /// The media bucket.
    pub bucket: &'a str,
    /// The S3 endpoint.
    pub s3_endpoint: &'a str,
    /// The metadata table.
    pub table: &'a str,
    /// The DynamoDB endpoint.
    pub dynamodb_endpoint: &'a str,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key: &'a str,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: &'a str,
    /// How the page signs in (the API function serves it).
    pub sign_in: &'a SignIn,
    /// The secret the edge adds to API requests (the API function's).
    pub origin_secret: &'a str,
    /// The user pool a deleted account's user is removed from (the thumbnail function's).
    pub user_pool_id: &'a str,
    /// Cognito's endpoint (the thumbnail function's).
    pub cognito_endpoint: &'a str,
}

/// The environment of `function` ([`PRESIGN`] or [`THUMBNAIL`]), as the dev stack and the
/// bench's cold starts give it: `runtime`'s variables, the services both use, and its own.
pub fn function_env(
    function: &str,
    runtime: &thumbforge_core::RuntimeConfig,
    services: &Services<'_>,
) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> =
        runtime.to_env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let mut set = |key: &str, value: &str| {
        vars.insert(key.to_owned(), value.to_owned());
    };
    set(env::BUCKET, services.bucket);
    set(env::S3_ENDPOINT, services.s3_endpoint);
    set(env::TABLE, services.table);
    set(env::DYNAMODB_ENDPOINT, services.dynamodb_endpoint);
    set("AWS_ACCESS_KEY_ID", services.access_key);
    set("AWS_SECRET_ACCESS_KEY", services.secret_key);
    if function == PRESIGN {
        set(env::ORIGIN_SECRET, services.origin_secret);
        for (key, value) in services.sign_in.to_env() {
            set(key, &value);
        }
    } else {
        set(env::USER_POOL_ID, services.user_pool_id);
        set(env::COGNITO_ENDPOINT, services.cognito_endpoint);
    }
    vars
}
pub use binaries::{Binaries, Runner};
pub use lambda::{Function, FunctionSpec, InvokeError};
pub use logs::LogSink;
pub use notify::{Delivery, Notifications, RetryPolicy};
pub use streams::{Backoff, BatchDelivery, BatchOutcome, StreamOptions, StreamPoller};

/// Resolves once `stop` holds `true` (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// The media bucket's name in the local stack.
pub const BUCKET: &str = "thumbforge-dev-media";

/// The metadata table in the local stack (dynoxide needs 11 characters or more for its streams).
pub const TABLE: &str = "thumbforge-dev-images";

/// The page's OAuth client id in the local stack.
pub const CLIENT_ID: &str = "thumbforge-dev-page";

/// The region the local stack claims to be in.
pub const REGION: &str = thumbforge_s3_local::REGION;

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The configuration (sizes, limits, memory, timeouts…).
    pub config: Config,
    /// Where the bucket's data and the dead-letter folder live.
    pub data_dir: PathBuf,
    /// The page's files.
    pub frontend_dir: PathBuf,
    /// Where the edge listens (`127.0.0.1:8080` for `cargo xtask dev`; port 0 for a free one).
    pub listen: SocketAddr,
    /// Where S3 listens (port 0 for a free one).
    pub s3_listen: SocketAddr,
    /// Where API Gateway's own endpoint listens (port 0 for a free one): the API without the
    /// edge, which the function refuses for want of the origin secret.
    pub api_listen: SocketAddr,
    /// Where the identity issuer listens (port 0 for a free one).
    pub identity_listen: SocketAddr,
    /// Where DynamoDB listens (port 0 for a free one).
    pub dynamodb_listen: SocketAddr,
    /// The function binaries.
    pub binaries: Binaries,
    /// Execution environments per function.
    pub instances: usize,
    /// Retries of failed S3 events.
    pub retry: RetryPolicy,
    /// The waits between retries of failed clean-up batches (the stream's event source mapping;
    /// how many retries, the batch size and the record age come from `config.cleanup`).
    pub cleanup_backoff: Backoff,
    /// Where log lines go.
    pub logs: LogSink,
    /// The watermark PNG `config.watermark` names, read and checked
    /// ([`thumbforge_core::watermark::Watermark::read_beside`]): seeded at its key in the bucket,
    /// as Terraform uploads it. Required when `config.watermark` is on.
    pub watermark: Option<Vec<u8>>,
}

impl StackOptions {
    /// The defaults of `cargo xtask dev`: `127.0.0.1:8080`, S3 on a free port, two environments
    /// per function, Lambda's retry policy (with short waits), logs on standard error.
    #[must_use]
    pub fn new(config: Config, data_dir: PathBuf, frontend_dir: PathBuf, binaries: Binaries) -> Self {
        Self {
            config,
            data_dir,
            frontend_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            s3_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            identity_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dynamodb_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            binaries,
            instances: 2,
            retry: RetryPolicy::default(),
            cleanup_backoff: Backoff::default(),
            logs: LogSink::stderr(),
            watermark: None,
        }
    }
}

/// The running stack. [`Stack::shutdown`] stops it; dropping it stops the servers and kills
/// the function processes too.
#[derive(Debug)]
pub struct Stack {
    url: String,
    api_url: String,
    origin_secret: String,
    s3: LocalS3,
    dynamo: LocalDynamo,
    identity: Issuer,
    presign: Function,
    thumbnail: Function,
    notifications: Arc<Notifications>,
    streams: Arc<StreamPoller>,
    stop: watch::Sender<bool>,
    gateway: tokio::task::JoinHandle<()>,
    execute_api: tokio::task::JoinHandle<()>,
    notify: tokio::task::JoinHandle<()>,
}

impl Stack {
    /// Starts S3, both functions (waiting until each environment is ready), the notification,
    /// the table stream's event source mapping and the edge.
    ///
    /// # Errors
    ///
    /// A port cannot be bound, the data folder cannot be created, or a function fails to start
    /// (its log lines say why).
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        let StackOptions {
            config,
            data_dir,
            frontend_dir,
            listen,
            s3_listen,
            api_listen,
            identity_listen,
            dynamodb_listen,
            binaries,
            instances,
            retry,
            cleanup_backoff,
            logs,
            watermark,
        } = options;
        config.validate().context("the configuration is invalid")?;
        if !frontend_dir.join("index.html").is_file() {
            anyhow::bail!("{} has no index.html: is this the page's folder?", frontend_dir.display());
        }

        // The edge's port first: the bucket's CORS rule names the page's origin.
        let edge = TcpListener::bind(listen).await.with_context(|| {
            format!("cannot listen on {listen} (is another `cargo xtask dev` running? try --port)")
        })?;
        let edge_addr = edge.local_addr().context("reading the edge's address")?;
        let url = format!("http://{edge_addr}");
        let execute_api_listener = TcpListener::bind(api_listen)
            .await
            .with_context(|| format!("cannot listen on {api_listen} for the API's own endpoint"))?;
        let api_url = format!(
            "http://{}",
            execute_api_listener.local_addr().context("reading the API endpoint's address")?
        );
        let origins = if edge_addr.ip().is_loopback() {
            vec![url.clone(), format!("http://localhost:{}", edge_addr.port())]
        } else {
            vec![url.clone()]
        };
        let cors = CorsRule {
            allowed_origins: origins.clone(),
            allowed_methods: vec!["PUT".to_owned()],
            allowed_headers: web::UPLOAD_CORS_ALLOWED_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            expose_headers: web::UPLOAD_CORS_EXPOSE_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            max_age: Duration::from_secs(u64::from(web::UPLOAD_CORS_MAX_AGE_SECONDS)),
        };
        // The page also fetch()es an original from the signed GET its API redirects to.
        let download = CorsRule {
            allowed_origins: origins.clone(),
            allowed_methods: vec!["GET".to_owned()],
            allowed_headers: Vec::new(),
            expose_headers: web::DOWNLOAD_CORS_EXPOSE_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            max_age: Duration::ZERO,
        };
        let s3 = LocalS3::start(
            Options::new(data_dir.join("s3")).addr(s3_listen).bucket(BUCKET).cors(cors).cors(download),
        )
        .await
        .with_context(|| {
            format!("starting the local S3 server on {s3_listen} with data in {}", data_dir.display())
        })?;
        let events = s3.subscribe();
        match watermark {
            Some(png) => {
                thumbforge_core::watermark::check_png(&png).map_err(anyhow::Error::msg)?;
                let bytes = png.len();
                s3.client()
                    .put_object()
                    .bucket(BUCKET)
                    .key(keys::WATERMARK)
                    .content_type("image/png")
                    .body(png.into())
                    .send()
                    .await
                    .with_context(|| format!("seeding the watermark at {}", keys::WATERMARK))?;
                logs.line(
                    "dev",
                    &format!("watermark ({bytes} bytes) seeded at {BUCKET}/{}", keys::WATERMARK),
                );
            }
            None if config.watermark.is_on() => anyhow::bail!(
                "`watermark.image` is set but the stack was given no watermark (StackOptions::watermark)"
            ),
            None => {}
        }
        logs.line(
            "dev",
            &format!("S3 at {} (bucket {BUCKET}, data in {})", s3.endpoint(), s3.root().display()),
        );

        // The user pool: the page's origins are its client's callback and sign-out URLs.
        let auth = &config.auth;
        let pages: Vec<String> = origins.iter().map(|origin| format!("{origin}/")).collect();
        let client = ClientOptions {
            client_id: CLIENT_ID.to_owned(),
            callback_urls: pages.clone(),
            logout_urls: pages,
            scopes: auth.scopes.clone(),
        };
        let mut identity_options = IssuerOptions::new(data_dir.join("identity"));
        identity_options.listen = identity_listen;
        identity_options.clients = vec![client];
        identity_options.password_policy = auth.password;
        identity_options.access_token_lifetime =
            Duration::from_secs(u64::from(auth.access_token_minutes) * 60);
        identity_options.id_token_lifetime = Duration::from_secs(u64::from(auth.id_token_minutes) * 60);
        identity_options.refresh_token_lifetime =
            Duration::from_secs(u64::from(auth.refresh_token_days) * 86_400);
        let identity = Issuer::start(identity_options)
            .await
            .with_context(|| format!("starting the identity issuer on {identity_listen}"))?;
        logs.line(
            "dev",
            &format!(
                "identity issuer at {} (users in {}; sign-up codes in {})",
                identity.url(),
                identity.data_dir().display(),
                identity.outbox_path().display()
            ),
        );
        // The metadata table, kept under the data folder like the bucket.
        let dynamo = LocalDynamo::start(
            DynamoOptions::default().data_dir(data_dir.join("dynamodb")).listen(dynamodb_listen),
        )
        .await
        .with_context(|| format!("starting the local DynamoDB on {dynamodb_listen}"))?;
        thumbforge_catalog::schema::create_table(&dynamo.client(), TABLE)
            .await
            .with_context(|| format!("creating the table {TABLE}"))?;
        logs.line(
            "dev",
            &format!(
                "DynamoDB at {} (table {TABLE}, data in {})",
                dynamo.endpoint(),
                data_dir.join("dynamodb").display()
            ),
        );

        let sign_in = SignIn {
            client_id: CLIENT_ID.to_owned(),
            authorize_url: identity.authorize_url(),
            token_url: identity.token_url(),
            logout_url: Some(identity.logout_url()),
            scopes: auth.scopes.clone(),
        };

        // What Terraform generates for CloudFront and the API function, new at every start.
        let origin_secret = thumbforge_oidc_local::random_token().context("generating the origin secret")?;
        let user_pool_id = identity.user_pool_id().to_owned();
        let s3_endpoint = s3.endpoint();
        let dynamodb_endpoint = dynamo.endpoint();
        let services = Services {
            bucket: BUCKET,
            s3_endpoint: &s3_endpoint,
            table: TABLE,
            dynamodb_endpoint: &dynamodb_endpoint,
            access_key: s3.access_key(),
            secret_key: s3.secret_key(),
            sign_in: &sign_in,
            origin_secret: &origin_secret,
            // A deleted account's user goes from the issuer, through Cognito's own API.
            user_pool_id: &user_pool_id,
            cognito_endpoint: identity.url(),
        };
        let runtime = config.runtime();
        let startup_timeout =
            if binaries.runner.is_some() { Duration::from_secs(120) } else { Duration::from_secs(30) };
        let spec = |name: &str, executable: &PathBuf, settings: &thumbforge_core::config::Function| {
            let (program, args, runner_env) = binaries.command(executable);
            let mut env = function_env(name, &runtime, &services);
            env.extend(runner_env);
            FunctionSpec {
                name: format!("thumbforge-dev-{name}"),
                program,
                args,
                env,
                timeout: Duration::from_secs(u64::from(settings.timeout_seconds)),
                memory_mb: settings.memory_mb,
                instances,
                region: REGION.to_owned(),
                startup_timeout,
            }
        };
        let presign_spec = spec(PRESIGN, &binaries.presign, &config.functions.presign);
        let thumbnail_spec = spec(THUMBNAIL, &binaries.thumbnail, &config.functions.thumbnail);
        let (presign, thumbnail) = match tokio::join!(
            Function::start(presign_spec, logs.clone()),
            Function::start(thumbnail_spec, logs.clone())
        ) {
            (Ok(presign), Ok(thumbnail)) => (presign, thumbnail),
            (presign, thumbnail) => {
                // Stop whichever did start, then report the first failure.
                let mut failure = None;
                for started in [presign, thumbnail] {
                    match started {
                        Ok(function) => function.stop().await,
                        Err(err) => failure = failure.or(Some(err)),
                    }
                }
                return Err(failure.unwrap_or_else(|| anyhow::anyhow!("a function failed to start")));
            }
        };
        let notifications = Notifications::new(
            thumbnail.clone(),
            BUCKET,
            REGION,
            data_dir.join("dead-letter"),
            retry,
            logs.clone(),
        );
        let notify = tokio::spawn(Arc::clone(&notifications).run(events));

        // The table stream → thumbnail clean-up mapping (removed image items), as on AWS.
        let mut stream_options = StreamOptions::cleanup(&config.cleanup, TABLE, REGION, &data_dir);
        stream_options.backoff = cleanup_backoff;
        let streams = match StreamPoller::start(
            dynamo.database().clone(),
            thumbnail.clone(),
            stream_options,
            logs.clone(),
        )
        .await
        {
            Ok(streams) => streams,
            Err(err) => {
                notify.abort();
                tokio::join!(presign.stop(), thumbnail.stop());
                return Err(anyhow::Error::new(err).context(format!("starting the {TABLE} stream poller")));
            }
        };

        let (stop, stopped) = watch::channel(false);
        let edge_routes = gateway::Edge {
            frontend_dir,
            api: presign.clone(),
            s3: s3.client(),
            bucket: BUCKET.to_owned(),
            upload_origin: s3.endpoint(),
            identity_origin: identity.url().to_owned(),
            region: REGION.to_owned(),
            authorizer: Arc::new(JwtAuthorizer::new(identity.url(), vec![CLIENT_ID.to_owned()])),
            route_scopes: auth.route_scopes.clone(),
            logs: logs.clone(),
            origin_secret: origin_secret.clone(),
            negotiated: config.thumbnails.negotiated_formats(),
        };
        let edge_routes = Arc::new(edge_routes);
        logs.line(
            "dev",
            &format!("API Gateway's own endpoint at {api_url} (refused without the edge's origin secret)"),
        );
        let gateway = tokio::spawn(gateway::serve(
            edge,
            Arc::clone(&edge_routes),
            gateway::Listener::Edge,
            stopped.clone(),
        ));
        let execute_api = tokio::spawn(gateway::serve(
            execute_api_listener,
            edge_routes,
            gateway::Listener::ExecuteApi,
            stopped,
        ));
        Ok(Self {
            url,
            api_url,
            origin_secret,
            s3,
            dynamo,
            identity,
            presign,
            thumbnail,
            notifications,
            streams,
            stop,
            gateway,
            execute_api,
            notify,
        })
    }

    /// The page's URL, e.g. `http://127.0.0.1:8080`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// API Gateway's own endpoint (execute-api): the API without the edge, refused by the
    /// function for want of the origin secret.
    #[must_use]
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The secret the edge sends the API with every request.
    #[must_use]
    pub fn origin_secret(&self) -> &str {
        &self.origin_secret
    }

    /// The S3 server (endpoint, credentials, call counters, fault injection).
    #[must_use]
    pub fn s3(&self) -> &LocalS3 {
        &self.s3
    }

    /// The metadata table's server.
    #[must_use]
    pub fn dynamo(&self) -> &LocalDynamo {
        &self.dynamo
    }

    /// The metadata table, as the functions see it.
    #[must_use]
    pub fn catalog(&self) -> thumbforge_catalog::DynamoCatalog {
        thumbforge_catalog::DynamoCatalog::new(self.dynamo.client(), TABLE)
    }

    /// The identity issuer (the user pool and its hosted sign-in pages).
    #[must_use]
    pub fn identity(&self) -> &Issuer {
        &self.identity
    }

    /// The API function.
    #[must_use]
    pub fn presign(&self) -> &Function {
        &self.presign
    }

    /// The thumbnail function.
    #[must_use]
    pub fn thumbnail(&self) -> &Function {
        &self.thumbnail
    }

    /// The S3 → thumbnail notification and its deliveries.
    #[must_use]
    pub fn notifications(&self) -> &Arc<Notifications> {
        &self.notifications
    }

    /// The table stream → thumbnail event source mapping (the clean-up of deleted images): its
    /// invocations, dead letters (`{data_dir}/dead-letters/cleanup/`), checkpoint
    /// (`{data_dir}/streams/{TABLE}.checkpoint`) and [`StreamPoller::wait_drained`].
    #[must_use]
    pub fn streams(&self) -> &Arc<StreamPoller> {
        &self.streams
    }

    /// Stops the edge, the stream poller, the functions (killing their processes) and S3.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = tokio::join!(self.gateway, self.execute_api);
        self.streams.shutdown().await;
        tokio::join!(self.presign.stop(), self.thumbnail.stop());
        self.notify.abort();
        tokio::join!(self.s3.shutdown(), self.identity.shutdown(), self.dynamo.shutdown());
    }
}
