//! An embedded DynamoDB-compatible server for thumbforge's tests and local stack.
//!
//! [`LocalDynamo::start`] serves the DynamoDB JSON API (and DynamoDB Streams) over HTTP on a local
//! TCP port, from tasks on the current tokio runtime. It wraps [`dynoxide`] (`dynoxide-rs`, a
//! DynamoDB emulator over SQLite) and adds what dynoxide's own server leaves to its embedder:
//!
//! - **A TTL sweeper.** dynoxide never deletes expired items by itself; a task here calls
//!   [`dynoxide::Database::sweep_ttl`] every [`Options::ttl_sweep_every`] (the first time one
//!   interval after start), so items whose TTL attribute is in the past disappear, with a `REMOVE` stream record, as
//!   on DynamoDB (which takes up to a few days; here it is at most one interval).
//!   [`LocalDynamo::sweep_ttl`] runs one sweep on demand.
//! - **One server per data directory.** With [`Options::data_dir`] set, the data lives in
//!   `{data_dir}/`[`DATABASE_FILE`] and the server holds an exclusive lock on
//!   `{data_dir}/`[`LOCK_FILE`] while it runs; a second start on the same directory (in this
//!   process or another) fails with [`Error::Locked`] instead of sharing the SQLite file.
//!
//! Requests must carry SigV4 auth headers (dynoxide checks they are present and complete, never
//! the signature): any access key works. The region is [`REGION`].
//!
//! # Known divergences from DynamoDB (dynoxide 3.2.0)
//!
//! - **Table names under 11 characters break stream reads.** Shard ids are
//!   `shardId-00000001-{table}`, and the AWS SDKs refuse shard ids shorter than 28 characters,
//!   so `DescribeStream` / `GetShardIterator` fail from an SDK client for short table names. Use
//!   names of at least [`MIN_STREAM_TABLE_NAME_LEN`] characters (e.g. `thumbforge-dev-images`).
//! - `DescribeContinuousBackups` / `UpdateContinuousBackups` answer `UnknownOperationException`.
//! - Streams have one shard, which always reports an `EndingSequenceNumber`.
//! - Writes are serialised through one lock (no `TransactionConflict` ever happens here).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), thumbforge_dynamo_local::Error> {
//! use thumbforge_dynamo_local::{LocalDynamo, Options};
//!
//! let dynamo = LocalDynamo::start(Options::default().data_dir("/tmp/dynamo-demo")).await?;
//! println!("DynamoDB at {}", dynamo.endpoint());
//! # #[cfg(feature = "client")]
//! let client = dynamo.client(); // with the `client` feature
//! dynamo.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! - `client`: [`LocalDynamo::client`] and [`LocalDynamo::client_config`] (pulls
//!   `aws-sdk-dynamodb`).

#[cfg(feature = "client")]
mod client;

/// The emulator itself, so embedders can name the types of [`LocalDynamo::database`]'s
/// requests and answers (e.g. the DynamoDB Streams calls the local stack's stream poller makes)
/// without depending on the pinned `dynoxide-rs` version separately.
pub use dynoxide;

use std::fmt;
use std::fs::{File, TryLockError};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dynoxide::Database;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The region the server claims to be in.
pub const REGION: &str = "us-east-1";

/// The access key [`LocalDynamo::client`] signs with (the server accepts any).
pub const ACCESS_KEY: &str = "thumbforge-local";

/// The secret key [`LocalDynamo::client`] signs with (the server checks no signature).
pub const SECRET_KEY: &str = "thumbforge-local-secret";

/// The SQLite database's file name inside [`Options::data_dir`].
pub const DATABASE_FILE: &str = "dynamodb.sqlite";

/// The lock file's name inside [`Options::data_dir`]; held exclusively while a server runs.
pub const LOCK_FILE: &str = "dynamodb.lock";

/// The shortest table name whose stream can be read through an AWS SDK (see the crate docs).
pub const MIN_STREAM_TABLE_NAME_LEN: usize = 11;

/// How often expired items are swept unless [`Options::ttl_sweep_every`] says otherwise.
pub const DEFAULT_TTL_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How [`LocalDynamo::start`] sets the server up.
///
/// [`Options::default`] keeps the data in memory, listens on `127.0.0.1:0` (a free port) and
/// sweeps expired items every 60 seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where the SQLite file and the lock file live (created if missing; existing data is served
    /// as is). `None` keeps everything in memory, gone at shutdown.
    pub data_dir: Option<PathBuf>,
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// How often the TTL sweeper runs (at least 10 ms).
    pub ttl_sweep_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            data_dir: None,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            ttl_sweep_every: DEFAULT_TTL_SWEEP_EVERY,
        }
    }
}

impl Options {
    /// Keeps the data in `dir` (see [`Options::data_dir`](field@Options::data_dir)).
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Listens on `addr`.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sweeps expired items every `every`.
    #[must_use]
    pub fn ttl_sweep_every(mut self, every: Duration) -> Self {
        self.ttl_sweep_every = every;
        self
    }
}

/// Why the server could not start, or a sweep failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation on the data directory failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Another server (in this process or another) holds the data directory's lock.
    #[error(
        "the DynamoDB data directory {} is in use by another server (lock {} is held); stop it \
         or use another directory",
        dir.display(),
        lock.display()
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// dynoxide needs a UTF-8 path for its database file.
    #[error("the DynamoDB data directory path is not valid UTF-8: {}", .0.display())]
    NonUtf8Path(PathBuf),
    /// dynoxide could not open the database or run a sweep.
    #[error("dynoxide: {context}: {message}")]
    Database {
        /// What was being done.
        context: String,
        /// dynoxide's message.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("binding the DynamoDB server to {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        source: io::Error,
    },
}

/// A running embedded DynamoDB server.
///
/// It runs until [`LocalDynamo::shutdown`], or until this value is dropped (which signals the
/// server and the sweeper to stop and lets them finish in the background). The data
/// directory's lock is held until both this value is gone and the background tasks have ended.
pub struct LocalDynamo {
    addr: SocketAddr,
    db: Database,
    data_dir: Option<PathBuf>,
    stop: watch::Sender<bool>,
    /// Serves, then waits for the sweeper, then closes its handle on the lock.
    task: Option<JoinHandle<Result<(), String>>>,
    /// One of two handles on the data directory's lock file (the task has the other): the
    /// exclusive lock lasts until both are closed. Declared last, so it closes after `db`.
    _lock: Option<File>,
}

impl LocalDynamo {
    /// Starts a server: takes the data directory's lock, opens (or creates) the database, binds
    /// the listener and spawns the serving and sweeping tasks on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] when another server uses the data directory; [`Error::Io`] when it
    /// cannot be created or the lock file opened; [`Error::Database`] when dynoxide cannot open
    /// the database; [`Error::Bind`] when the address is taken.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(options: Options) -> Result<Self, Error> {
        let Options { data_dir, listen, ttl_sweep_every } = options;

        let (db, data_dir, lock) = match data_dir {
            None => {
                let db = Database::memory().map_err(|e| Error::Database {
                    context: "opening an in-memory database".to_owned(),
                    message: e.to_string(),
                })?;
                (db, None, None)
            }
            Some(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                    context: "creating the data directory",
                    path: dir.clone(),
                    source,
                })?;
                let dir = dir.canonicalize().map_err(|source| Error::Io {
                    context: "resolving the data directory",
                    path: dir.clone(),
                    source,
                })?;
                let lock = lock_dir(&dir)?;
                let file = dir.join(DATABASE_FILE);
                let path = file.to_str().ok_or_else(|| Error::NonUtf8Path(file.clone()))?;
                let db = Database::new(path).map_err(|e| Error::Database {
                    context: format!("opening {path}"),
                    message: e.to_string(),
                })?;
                (db, Some(dir), Some(lock))
            }
        };

        let listener =
            TcpListener::bind(listen).await.map_err(|source| Error::Bind { addr: listen, source })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind { addr: listen, source })?;

        // The lock stays held while either handle is open (flock locks belong to the open file
        // description, which `try_clone` shares).
        let task_lock = match &lock {
            Some(file) => Some(file.try_clone().map_err(|source| Error::Io {
                context: "duplicating the lock file handle",
                path: data_dir.as_deref().map(|dir| dir.join(LOCK_FILE)).unwrap_or_default(),
                source,
            })?),
            None => None,
        };

        let (stop, stopped) = watch::channel(false);
        let sweeper = tokio::spawn(sweep_every(
            db.clone(),
            ttl_sweep_every.max(Duration::from_millis(10)),
            stopped.clone(),
        ));
        let served = dynoxide::server::serve_with_shutdown(listener, db.clone(), wait_for_stop(stopped));
        let task = tokio::spawn(async move {
            let result = served.await;
            let _ = sweeper.await;
            drop(task_lock);
            result
        });

        Ok(Self { addr, db, data_dir, stop, task: Some(task), _lock: lock })
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

    /// The data directory (canonical path), or `None` when the data is in memory.
    #[must_use]
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// The region clients should sign for ([`REGION`]).
    #[must_use]
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// The database the server serves, for direct (in-process, synchronous) access.
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Runs one TTL sweep now (on a blocking thread) and returns how many items it deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Database`] when dynoxide's sweep fails.
    pub async fn sweep_ttl(&self) -> Result<usize, Error> {
        sweep_once(self.db.clone()).await
    }

    /// Stops accepting connections, lets requests in flight finish, waits for the server and the
    /// sweeper to end, then closes the database and releases the data directory's lock.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(message)) => tracing::warn!(%message, "the local DynamoDB server failed"),
                Err(error) => tracing::warn!(%error, "the local DynamoDB server task failed"),
            }
        }
        // Dropping `self` closes this handle on the database, then the last one on the lock.
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

impl Drop for LocalDynamo {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl fmt::Debug for LocalDynamo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDynamo")
            .field("endpoint", &self.endpoint())
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Opens `{dir}/LOCK_FILE` and takes an exclusive, non-blocking lock on it.
fn lock_dir(dir: &Path) -> Result<File, Error> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| Error::Io { context: "opening the lock file", path: path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked { dir: dir.to_path_buf(), lock: path }),
        Err(TryLockError::Error(source)) => Err(Error::Io { context: "locking", path, source }),
    }
}

/// Resolves once `true` is sent on the channel (or its sender is gone).
async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Sweeps every `every` (the first time one interval from now) until told to stop.
async fn sweep_every(db: Database, every: Duration, mut stopped: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stop = tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => true,
            _ = ticks.tick() => false,
        };
        if stop {
            return;
        }
        match sweep_once(db.clone()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "swept expired items"),
            Err(error) => tracing::warn!(%error, "TTL sweep failed"),
        }
    }
}

/// One sweep on a blocking thread (it takes the database lock page by page and may wait).
async fn sweep_once(db: Database) -> Result<usize, Error> {
    tokio::task::spawn_blocking(move || db.sweep_ttl())
        .await
        .map_err(|e| Error::Database { context: "TTL sweep".to_owned(), message: e.to_string() })?
        .map_err(|e| Error::Database { context: "TTL sweep".to_owned(), message: e.to_string() })
}
