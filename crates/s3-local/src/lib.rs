//! An embedded S3-compatible server for thumbforge's integration tests and local stack.
//!
//! [`LocalS3::start`] serves the S3 REST API over HTTP/1.1 on a local TCP port, from a task on the
//! current tokio runtime. It is [`s3s`] verifying AWS Signature V4 (header-signed requests and
//! presigned URLs) for one access key, in front of [`s3s_fs`] storing objects as files under a
//! directory, plus what tests of S3 clients need:
//!
//! - **Metadata round trip.** `Content-Type`, `Cache-Control`, the other standard headers and
//!   `x-amz-meta-*` given on `PutObject` (or `CreateMultipartUpload`) come back on `GetObject` and
//!   `HeadObject` (s3s-fs keeps them in a JSON sidecar). An object stored without a
//!   `Content-Type` reads back as `binary/octet-stream`, and non-ASCII metadata values come back
//!   RFC 2047-encoded (`=?UTF-8?B?...?=`), as on S3.
//! - **Conditional writes.** `PutObject` with `If-None-Match: *` fails with
//!   `412 PreconditionFailed` when the key exists (and `If-Match: <etag>` when it does not match).
//!   The check and the write are atomic with respect to every other write of that key made
//!   through this server.
//! - **Fault injection and call counters**: [`LocalS3::faults`].
//! - **Creation events** for an S3 → Lambda notification emulator: [`LocalS3::subscribe`].
//!
//! Addressing is path-style (`http://127.0.0.1:PORT/bucket/key`); the region is [`REGION`].
//! Bodies are streamed to and from disk, never held whole in memory.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use thumbforge_s3_local::{LocalS3, Operation, Options};
//!
//! let dir = std::env::temp_dir().join("s3-local-demo");
//! let s3 = LocalS3::start(Options::new(&dir).bucket("uploads")).await?;
//! println!("S3 at {} as {}", s3.endpoint(), s3.access_key());
//!
//! // With the `client` feature: an aws-sdk-s3 client aimed at the server.
//! # #[cfg(feature = "client")]
//! let client = s3.client();
//!
//! s3.faults().fail_next(Operation::GetObject, 1, 503);
//! let mut events = s3.subscribe();
//! // ... exercise the code under test ...
//! assert_eq!(s3.calls(Operation::PutObject), 0);
//! s3.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Limitations (s3s-fs's storage layout)
//!
//! Keys map to file paths: a key cannot be both an object and a "directory" prefix of another
//! (`a` and `a/b`), and keys with `.`, `..` or empty segments are not supported. Metadata sidecar
//! files are named after the base64 of bucket and key, which caps keys at about 160 bytes (less
//! with long bucket names, about 128 by multipart upload): longer ones get `400 KeyTooLongError`
//! and store nothing (S3 allows 1024). There is no versioning, no ACLs or policies (every
//! correctly signed request is allowed), and no virtual-hosted-style addressing.
//!
//! # Cargo features
//!
//! - `client`: [`LocalS3::client`] and [`LocalS3::client_config`] (pulls `aws-sdk-s3`).

mod cors;
mod events;
mod faults;
mod locks;
mod store;

#[cfg(feature = "client")]
mod client;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use tokio::task::{JoinHandle, JoinSet};

pub use cors::CorsRule;
pub use events::{EventName, ObjectCreated};
pub use faults::{Fault, Faults, Operation};

/// The region the server claims to be in; clients must sign for it.
pub const REGION: &str = "us-east-1";

/// The access key used unless [`Options::credentials`] sets another.
pub const DEFAULT_ACCESS_KEY: &str = "thumbforge-local";

/// The secret key used unless [`Options::credentials`] sets another.
pub const DEFAULT_SECRET_KEY: &str = "thumbforge-local-secret";

/// How many events [`LocalS3::subscribe`] receivers may fall behind by, unless
/// [`Options::event_capacity`] sets another bound.
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// How long [`LocalS3::shutdown`] lets requests in flight finish before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How [`LocalS3::start`] sets the server up. Build with [`Options::new`] and the chained setters.
#[derive(Clone)]
pub struct Options {
    root: PathBuf,
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    buckets: Vec<String>,
    event_capacity: usize,
    cors: Vec<CorsRule>,
}

impl Options {
    /// Stores data under `root` (created if missing; existing data is served as is), listens on
    /// `127.0.0.1:0` (a free port), uses [`DEFAULT_ACCESS_KEY`] / [`DEFAULT_SECRET_KEY`] and
    /// creates no bucket.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            access_key: DEFAULT_ACCESS_KEY.to_owned(),
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            buckets: Vec::new(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
            cors: Vec::new(),
        }
    }

    /// The address to listen on (port 0 picks a free port).
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The one access key / secret key pair requests must be signed with.
    #[must_use]
    pub fn credentials(mut self, access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.access_key = access_key.into();
        self.secret_key = secret_key.into();
        self
    }

    /// A bucket to create at start if it does not exist yet; may be called repeatedly.
    #[must_use]
    pub fn bucket(mut self, name: impl Into<String>) -> Self {
        self.buckets.push(name.into());
        self
    }

    /// Buckets to create at start if they do not exist yet.
    #[must_use]
    pub fn buckets<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.buckets.extend(names.into_iter().map(Into::into));
        self
    }

    /// A CORS rule for every bucket (like a bucket CORS configuration; may be called repeatedly).
    /// Without one, answers carry no CORS headers and preflight requests get `403`.
    #[must_use]
    pub fn cors(mut self, rule: CorsRule) -> Self {
        self.cors.push(rule);
        self
    }

    /// How many [`ObjectCreated`] events a subscriber may fall behind by before it loses the
    /// oldest ones (at least 1).
    #[must_use]
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("root", &self.root)
            .field("addr", &self.addr)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("buckets", &self.buckets)
            .field("event_capacity", &self.event_capacity)
            .field("cors", &self.cors)
            .finish()
    }
}

/// A running embedded S3 server.
///
/// The server runs until [`LocalS3::shutdown`] or until this value is dropped (which stops
/// accepting connections at once and lets requests in flight finish in the background).
pub struct LocalS3 {
    addr: SocketAddr,
    root: PathBuf,
    access_key: String,
    secret_key: String,
    faults: Faults,
    events: broadcast::Sender<ObjectCreated>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LocalS3 {
    /// Starts a server: prepares the data directory and the buckets, binds the listener and
    /// spawns the serving task on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The data directory or a bucket directory cannot be created, a bucket name is not a valid
    /// S3 bucket name (`InvalidInput`), or the address cannot be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(options: Options) -> io::Result<Self> {
        let Options { root, addr, access_key, secret_key, buckets, event_capacity, cors } = options;

        for bucket in &buckets {
            if !s3s::path::check_bucket_name(bucket) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a valid S3 bucket name: {bucket:?}"),
                ));
            }
        }
        std::fs::create_dir_all(&root)?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| io::Error::other(format!("{e:?}")))?;
        let root = root.canonicalize()?;
        for bucket in &buckets {
            std::fs::create_dir_all(root.join(bucket))?;
        }

        let faults = Faults::default();
        let events = events::Events::new(event_capacity);
        let event_tx = events.sender();
        let store = store::Store { fs, faults: faults.clone(), events, locks: locks::KeyLocks::default() };
        let service = {
            let mut b = S3ServiceBuilder::new(store);
            b.set_auth(SimpleAuth::from_single(access_key.clone(), secret_key.clone()));
            b.build()
        };

        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let service = cors::Cors { inner: service, rules: cors.into() };
        let task = tokio::spawn(serve(listener, service, stopped));

        Ok(Self {
            addr,
            root,
            access_key,
            secret_key,
            faults,
            events: event_tx,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:41234` (a wildcard listen address is
    /// reported as the loopback address).
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.connect_addr())
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory the data lives in (canonical path).
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The access key requests must be signed with.
    #[must_use]
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key requests must be signed with.
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The region clients must sign for ([`REGION`]).
    #[must_use]
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// A handle to inject faults and read call counters; clones act on this server.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// How many calls of `op` the server has received; shorthand for
    /// `self.faults().calls(op)`.
    #[must_use]
    pub fn calls(&self, op: Operation) -> u64 {
        self.faults.calls(op)
    }

    /// Receives an [`ObjectCreated`] for every successful `PutObject`, `CopyObject` and
    /// `CompleteMultipartUpload` made after this call, in the order they took effect.
    ///
    /// The channel is a bounded [`broadcast`]: the server never waits for receivers. A receiver
    /// that falls more than the event capacity ([`Options::event_capacity`]) behind gets
    /// [`broadcast::error::RecvError::Lagged`] with the number of events it lost, then continues
    /// with the oldest event still held. Events sent while nobody subscribes are dropped.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<ObjectCreated> {
        self.events.subscribe()
    }

    /// Stops accepting connections, lets requests in flight finish (for up to 5 seconds) and
    /// waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn connect_addr(&self) -> SocketAddr {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, self.addr.port())
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        // Dropping the sender wakes the server task too; sending is just explicit.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for LocalS3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalS3")
            .field("endpoint", &self.endpoint())
            .field("root", &self.root)
            .field("access_key", &self.access_key)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

/// Accepts connections until told to stop, then shuts the open ones down gracefully.
async fn serve(listener: TcpListener, service: cors::Cors, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    // Connection tasks live in this set so that none outlives the server for long.
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());

    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => {
                    let _ = socket.set_nodelay(true);
                    let service = service.clone();
                    let service = hyper::service::service_fn(move |request| service.clone().call(request));
                    let conn = http.serve_connection(TokioIo::new(socket), service);
                    let conn = graceful.watch(conn);
                    connections.spawn(async move {
                        // A connection error (client gone, malformed HTTP) concerns that client only.
                        let _ = conn.await;
                    });
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }

    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    connections.shutdown().await;
}
