//! DynamoDB stream → Lambda: the event source mapping that feeds the table's stream to the
//! thumbnail function, as Lambda's event source mappings for DynamoDB streams do it.
//!
//! The poller reads each shard of the table's stream in sequence order, one page
//! ([`GetRecords`](Database::get_records), at most [`MAX_PAGE`] records) at a time, and keeps a
//! checkpoint (the last sequence number handled, per shard) in
//! `{checkpoint_dir}/{table}.checkpoint`, written atomically, so a restarted stack continues where
//! it stopped; with no checkpoint it starts at the trim horizon. Records are matched against the
//! mapping's filter patterns ([`FilterPattern`]: the subset of EventBridge's pattern syntax the
//! clean-up uses); those that do not match are checkpointed past without an invocation.
//!
//! Matching records go to the function synchronously, `{"Records": [...]}` in Lambda's shape, at
//! most [`StreamOptions::batch_size`] per invocation, one batch at a time per shard. With
//! `ReportBatchItemFailures`, a `{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}`
//! answer checkpoints everything before the lowest reported record and retries from it; an
//! identifier that is not in the batch (or a malformed answer) fails the whole batch. A failed
//! invocation (error, timeout, crash) splits the batch in two when
//! [`StreamOptions::bisect_batch_on_function_error`] is set. Retries are counted per record range
//! (a range inherits the count of the invocations its records were part of), wait a short
//! back-off ([`Backoff`]), stop after [`StreamOptions::max_retries`] or once the records are older
//! than [`StreamOptions::max_record_age`]; what still fails is written to the dead-letter folder as
//! the on-failure record Lambda sends to an SQS destination (adjacent failed ranges of one batch in
//! one record), logged, and checkpointed past, so the shard never blocks for good.
//!
//! # Divergences from AWS
//!
//! - Records older than the maximum age are dead-lettered only instead of being retried, never
//!   before their first delivery (a local stack restarted after a day keeps its deletions).
//! - dynoxide's single shard always reports an `EndingSequenceNumber`; it is never treated as
//!   closed. [`StreamPoller::wait_drained`] uses it as "the last record in the stream".
//! - TTL deletions: dynoxide's [`sweep_ttl`](Database::sweep_ttl) writes their `REMOVE` records
//!   with `userIdentity` `{"type": "Service", "principalId": "dynamodb.amazonaws.com"}`, as
//!   DynamoDB does; the poller passes the field through untouched.
//! - `eventSourceARN` and `awsRegion` carry the stack's region (dynoxide's own ARNs say
//!   `dynoxide`).

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use hyper::body::Bytes;
use serde_json::{Value, json};
use thumbforge_core::config::Cleanup;
use thumbforge_dynamo_local::dynoxide::actions::describe_stream::DescribeStreamRequest;
use thumbforge_dynamo_local::dynoxide::actions::get_records::{GetRecordsRequest, Record};
use thumbforge_dynamo_local::dynoxide::actions::get_shard_iterator::GetShardIteratorRequest;
use thumbforge_dynamo_local::dynoxide::actions::list_streams::ListStreamsRequest;
use thumbforge_dynamo_local::dynoxide::{self, Database};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::lambda::{Function, InvokeError};
use crate::logs::LogSink;
use crate::time::{epoch_millis, rfc3339_millis};

/// The most records one `GetRecords` call returns (DynamoDB's limit).
pub const MAX_PAGE: usize = 1000;

/// The largest batch an event source mapping on a DynamoDB stream takes.
pub const MAX_BATCH_SIZE: u16 = 1000;

/// How often an idle shard is polled (Lambda polls stream shards four times a second).
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_millis(200);

/// The folder of the checkpoints, under the stack's data folder.
pub const CHECKPOINT_DIR: &str = "streams";

/// The clean-up mapping's dead-letter folder, under the stack's data folder.
pub const CLEANUP_DEAD_LETTER_DIR: &str = "dead-letters/cleanup";

/// What the poller invokes: a Lambda function, synchronously (`RequestResponse`).
pub trait Invoke: Send + Sync + 'static {
    /// The function's name (for log lines).
    fn name(&self) -> &str;

    /// The function's ARN (unqualified), as the on-failure records name it.
    fn arn(&self) -> &str;

    /// Invokes the function with `payload` and waits for its answer.
    fn invoke(&self, payload: Bytes) -> impl Future<Output = Result<Bytes, InvokeError>> + Send;
}

impl Invoke for Function {
    fn name(&self) -> &str {
        Function::name(self)
    }

    fn arn(&self) -> &str {
        Function::arn(self)
    }

    fn invoke(&self, payload: Bytes) -> impl Future<Output = Result<Bytes, InvokeError>> + Send {
        Function::invoke(self, payload)
    }
}

/// The waits before retries: `first`, doubling each retry, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 250 ms doubling up to 4 s: short, for a local stack.
    fn default() -> Self {
        Self { first: Duration::from_millis(250), max: Duration::from_secs(4) }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry).
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// The event source mapping's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// The table whose stream is read (its `NEW_AND_OLD_IMAGES` stream must be enabled).
    pub table: String,
    /// The region the records and ARNs carry.
    pub region: String,
    /// The filter criteria's patterns ([`FilterPattern`] syntax): a record is delivered when it
    /// matches any of them; none delivers every record.
    pub filters: Vec<String>,
    /// Most records per invocation (1–[`MAX_BATCH_SIZE`]).
    pub batch_size: u16,
    /// Retries of a failing record range before it is dead-lettered.
    pub max_retries: u32,
    /// Records older than this are not retried (dead-lettered with `RecordAgeExceeded`).
    pub max_record_age: Duration,
    /// `BisectBatchOnFunctionError`: split a batch whose invocation failed in two before
    /// retrying.
    pub bisect_batch_on_function_error: bool,
    /// `FunctionResponseTypes: ["ReportBatchItemFailures"]`: read `batchItemFailures` from the
    /// answers (otherwise any answer is a success).
    pub report_batch_item_failures: bool,
    /// The waits before retries (and after a failed read of the stream).
    pub backoff: Backoff,
    /// How often an idle stream is polled.
    pub poll_every: Duration,
    /// Most records read per `GetRecords` call (1–[`MAX_PAGE`]).
    pub page_limit: usize,
    /// Where the checkpoint file lives.
    pub checkpoint_dir: PathBuf,
    /// Where the on-failure records go, one JSON file per failed batch.
    pub dead_letters: PathBuf,
}

impl StreamOptions {
    /// The clean-up mapping: `table`'s stream filtered by
    /// [`REMOVED_IMAGES_FILTER`](thumbforge_catalog::schema::REMOVED_IMAGES_FILTER) or
    /// [`ACCOUNT_DELETION_FILTER`](thumbforge_catalog::schema::ACCOUNT_DELETION_FILTER), batch size,
    /// retries and record age from `cleanup`, bisection and `ReportBatchItemFailures` on, the
    /// checkpoint in `{data_dir}/streams/` and dead letters in `{data_dir}/dead-letters/cleanup/`.
    #[must_use]
    pub fn cleanup(
        cleanup: &Cleanup,
        table: impl Into<String>,
        region: impl Into<String>,
        data_dir: &Path,
    ) -> Self {
        Self {
            table: table.into(),
            region: region.into(),
            filters: vec![
                thumbforge_catalog::schema::REMOVED_IMAGES_FILTER.to_owned(),
                thumbforge_catalog::schema::ACCOUNT_DELETION_FILTER.to_owned(),
            ],
            batch_size: cleanup.batch_size,
            max_retries: cleanup.max_retries,
            max_record_age: Duration::from_secs(u64::from(cleanup.max_record_age_seconds)),
            bisect_batch_on_function_error: true,
            report_batch_item_failures: true,
            backoff: Backoff::default(),
            poll_every: DEFAULT_POLL_EVERY,
            page_limit: MAX_PAGE,
            checkpoint_dir: data_dir.join(CHECKPOINT_DIR),
            dead_letters: data_dir.join(CLEANUP_DEAD_LETTER_DIR),
        }
    }

    /// The checkpoint file: `{checkpoint_dir}/{table}.checkpoint`.
    #[must_use]
    pub fn checkpoint_path(&self) -> PathBuf {
        self.checkpoint_dir.join(format!("{}.checkpoint", self.table))
    }
}

/// Why the poller could not start, or the stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A filter pattern is not valid, or uses an operator this emulation does not support.
    #[error("the filter pattern {pattern} is refused: {error}")]
    Filter {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        error: FilterError,
    },
    /// An option is out of range.
    #[error("invalid stream options: {0}")]
    Options(String),
    /// The table has no stream (or does not exist).
    #[error("the table {0} has no stream")]
    NoStream(String),
    /// A DynamoDB Streams call failed.
    #[error("dynoxide: {context}: {message}")]
    Database {
        /// The call.
        context: &'static str,
        /// dynoxide's message.
        message: String,
    },
    /// The poller has stopped (shut down, or its function was stopped).
    #[error("the stream poller has stopped")]
    Stopped,
}

/// What one invocation answered, as the event source mapping reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every record was processed.
    Succeeded,
    /// The function reported these records (sequence numbers) as failed.
    PartiallyFailed {
        /// The reported `itemIdentifier`s, in the function's order.
        failed: Vec<String>,
    },
    /// The answer is not a valid batch response (so the whole batch failed).
    InvalidResponse(String),
    /// The invocation failed (function error, timeout, crash).
    Failed(InvokeError),
}

impl fmt::Display for BatchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Succeeded => f.write_str("ok"),
            Self::PartiallyFailed { failed } => {
                write!(f, "{} record(s) reported failed ({})", failed.len(), failed.join(", "))
            }
            Self::InvalidResponse(why) => write!(f, "invalid batch response: {why}"),
            Self::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

/// One invocation of the function.
#[derive(Debug, Clone)]
pub struct BatchDelivery {
    /// The shard the records come from.
    pub shard_id: String,
    /// The records' sequence numbers, in order.
    pub sequence_numbers: Vec<String>,
    /// The event: `{"Records": [...]}`.
    pub payload: Value,
    /// How many invocations these records have been part of, this one included (1 = first).
    pub attempt: u32,
    /// What the answer meant.
    pub outcome: BatchOutcome,
    /// How long the invocation took.
    pub elapsed: Duration,
}

/// One on-failure record.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its file, or `None` when it could not be written (it was logged instead).
    pub path: Option<PathBuf>,
    /// The record, as Lambda sends it to an SQS on-failure destination.
    pub record: Value,
}

/// The event source mapping: a task polling the stream, and what it delivered.
///
/// Dropping it stops the task; [`StreamPoller::shutdown`] stops it and waits.
pub struct StreamPoller<F: Invoke = Function> {
    shared: Arc<Shared<F>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct Shared<F> {
    function: F,
    db: Database,
    options: StreamOptions,
    filters: Vec<FilterPattern>,
    /// The stream's ARN as dynoxide names it (for its calls and the checkpoint).
    table_stream_arn: String,
    /// The stream's ARN as delivered (`eventSourceARN`), in the stack's region.
    stream_arn: String,
    logs: LogSink,
    stop: watch::Sender<bool>,
    kick: Notify,
    progress: watch::Sender<Progress>,
    deliveries: Mutex<Vec<BatchDelivery>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    skipped: AtomicU64,
}

#[derive(Debug, Clone)]
struct Progress {
    /// The last sequence number handled, per shard.
    checkpoints: BTreeMap<String, String>,
    running: bool,
}

/// Why processing stopped early.
enum Flow {
    Stopped,
    Failed(StreamError),
}

impl From<StreamError> for Flow {
    fn from(error: StreamError) -> Self {
        Self::Failed(error)
    }
}

/// Where the run loop is: the checkpoints and the shard iterators to continue with.
struct Cursor {
    checkpoints: BTreeMap<String, String>,
    iterators: BTreeMap<String, String>,
}

/// One record as delivered.
struct StreamRecord {
    value: Value,
    sequence: String,
    /// `ApproximateCreationDateTime`, epoch seconds.
    created: u64,
}

/// A range of a batch still to deliver.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    /// Failed invocations these records were part of.
    attempts: u32,
    /// Whether the last failure was an invocation error (not a batch response).
    function_error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// Adjacent failed records of one batch, not yet dead-lettered.
#[derive(Debug, Clone, Copy)]
struct FailedRun {
    start: usize,
    end: usize,
    condition: Condition,
    invocations: u32,
    function_error: bool,
}

/// What to do after an invocation.
enum Verdict {
    Done,
    RetryFrom(usize),
    RetryAll,
    FunctionError,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs a (synchronous, lock-taking) dynoxide call on a blocking thread.
async fn blocking<T: Send + 'static>(
    db: &Database,
    context: &'static str,
    call: impl FnOnce(&Database) -> dynoxide::Result<T> + Send + 'static,
) -> Result<T, StreamError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || call(&db))
        .await
        .map_err(|e| StreamError::Database { context, message: e.to_string() })?
        .map_err(|e| StreamError::Database { context, message: e.to_string() })
}

/// Orders sequence numbers (decimal strings without leading zeros, up to 40 digits).
fn sequence_order(a: &str, b: &str) -> CmpOrdering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `2026-11-22T08:00:00Z`: RFC 3339 in UTC to the second, as the on-failure records carry the
/// records' arrival.
fn rfc3339_seconds(epoch_seconds: u64) -> String {
    DateTime::from_secs(i64::try_from(epoch_seconds).unwrap_or(i64::MAX))
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// dynoxide's stream ARN with the stack's region in place of `dynoxide`.
fn public_stream_arn(arn: &str, region: &str) -> String {
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    match parts.as_slice() {
        [arn, partition, service, _region, rest] => format!("{arn}:{partition}:{service}:{region}:{rest}"),
        _ => arn.to_owned(),
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, so the file is either the
/// old or the new contents, never a mix.
async fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let mut file = tokio::fs::File::create(&temporary).await?;
    file.write_all(contents).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&temporary, path).await
}

impl<F: Invoke> StreamPoller<F> {
    /// Checks the options and filters, finds `options.table`'s stream in `db`, reads the
    /// checkpoint, and starts polling (on the current tokio runtime).
    ///
    /// # Errors
    ///
    /// [`StreamError::Filter`] for a pattern that is not valid or not supported,
    /// [`StreamError::Options`] for an out-of-range option, [`StreamError::NoStream`] when the
    /// table has no stream, [`StreamError::Database`] when dynoxide fails.
    pub async fn start(
        db: Database,
        function: F,
        options: StreamOptions,
        logs: LogSink,
    ) -> Result<Arc<Self>, StreamError> {
        if !(1..=MAX_BATCH_SIZE).contains(&options.batch_size) {
            return Err(StreamError::Options(format!(
                "batch_size is {}, must be 1 to {MAX_BATCH_SIZE}",
                options.batch_size
            )));
        }
        if !(1..=MAX_PAGE).contains(&options.page_limit) {
            return Err(StreamError::Options(format!(
                "page_limit is {}, must be 1 to {MAX_PAGE}",
                options.page_limit
            )));
        }
        if options.poll_every.is_zero() {
            return Err(StreamError::Options("poll_every must not be zero".to_owned()));
        }
        let filters = options
            .filters
            .iter()
            .map(|pattern| {
                FilterPattern::parse(pattern)
                    .map_err(|error| StreamError::Filter { pattern: pattern.clone(), error })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let table = options.table.clone();
        let listed = blocking(&db, "ListStreams", move |db| {
            db.list_streams(ListStreamsRequest { table_name: Some(table), ..Default::default() })
        })
        .await?;
        let table_stream_arn = listed
            .streams
            .into_iter()
            .find(|stream| stream.table_name == options.table)
            .map(|stream| stream.stream_arn)
            .ok_or_else(|| StreamError::NoStream(options.table.clone()))?;
        let stream_arn = public_stream_arn(&table_stream_arn, &options.region);

        let checkpoint_path = options.checkpoint_path();
        let checkpoints = load_checkpoint(&checkpoint_path, &table_stream_arn, &logs).await;
        let resuming = if checkpoints.is_empty() {
            "from the trim horizon".to_owned()
        } else {
            let after: Vec<&str> = checkpoints.values().map(String::as_str).collect();
            format!("after {}", after.join(", "))
        };
        logs.line(
            "dev",
            &format!(
                "stream {stream_arn} → {}: batches of up to {}, {} retries, reading {resuming} \
                 (checkpoint {}, dead letters in {})",
                function.name(),
                options.batch_size,
                options.max_retries,
                checkpoint_path.display(),
                options.dead_letters.display()
            ),
        );

        let (stop, _) = watch::channel(false);
        let (progress, _) = watch::channel(Progress { checkpoints: checkpoints.clone(), running: true });
        let shared = Arc::new(Shared {
            function,
            db,
            options,
            filters,
            table_stream_arn,
            stream_arn,
            logs,
            stop,
            kick: Notify::new(),
            progress,
            deliveries: Mutex::new(Vec::new()),
            dead_letters: Mutex::new(Vec::new()),
            skipped: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(Arc::clone(&shared), checkpoints));
        Ok(Arc::new(Self { shared, task: Mutex::new(Some(task)) }))
    }

    /// The stream's ARN, as the records' `eventSourceARN` carries it.
    #[must_use]
    pub fn stream_arn(&self) -> &str {
        &self.shared.stream_arn
    }

    /// The mapping's settings.
    #[must_use]
    pub fn options(&self) -> &StreamOptions {
        &self.shared.options
    }

    /// The checkpoint file.
    #[must_use]
    pub fn checkpoint_path(&self) -> PathBuf {
        self.shared.options.checkpoint_path()
    }

    /// The last sequence number handled, per shard (what the checkpoint file holds).
    #[must_use]
    pub fn checkpoints(&self) -> BTreeMap<String, String> {
        self.shared.progress.borrow().checkpoints.clone()
    }

    /// Every invocation so far, in order.
    #[must_use]
    pub fn deliveries(&self) -> Vec<BatchDelivery> {
        lock(&self.shared.deliveries).clone()
    }

    /// Every on-failure record written so far, in order.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        lock(&self.shared.dead_letters).clone()
    }

    /// The dead-letter folder.
    #[must_use]
    pub fn dead_letter_dir(&self) -> &Path {
        &self.shared.options.dead_letters
    }

    /// How many records the filters left out so far.
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.shared.skipped.load(Ordering::SeqCst)
    }

    /// Whether the polling task still runs.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.shared.progress.borrow().running
    }

    /// Waits until every record in the stream when called has been handled: delivered, left out
    /// by the filters, or dead-lettered (and checkpointed past).
    ///
    /// # Errors
    ///
    /// [`StreamError::Stopped`] when the poller stops first; [`StreamError::Database`] when the
    /// stream cannot be described.
    pub async fn wait_drained(&self) -> Result<(), StreamError> {
        let targets = self.shared.stream_ends().await?;
        let drained = |checkpoints: &BTreeMap<String, String>| {
            targets.iter().all(|(shard, last)| {
                checkpoints
                    .get(shard)
                    .is_some_and(|handled| sequence_order(handled, last) != CmpOrdering::Less)
            })
        };
        let mut progress = self.shared.progress.subscribe();
        self.shared.kick.notify_one();
        let done = match progress.wait_for(|p| !p.running || drained(&p.checkpoints)).await {
            Ok(progress) => drained(&progress.checkpoints),
            Err(_) => false,
        };
        if done { Ok(()) } else { Err(StreamError::Stopped) }
    }

    /// Stops polling and waits for the task to end. An invocation under way is abandoned: its
    /// records are not checkpointed, so the next start delivers them again (at least once, as
    /// on AWS).
    pub async fn shutdown(&self) {
        self.shared.stop.send_replace(true);
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl<F: Invoke> Drop for StreamPoller<F> {
    fn drop(&mut self) {
        self.shared.stop.send_replace(true);
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

impl<F: Invoke> fmt::Debug for StreamPoller<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamPoller")
            .field("stream_arn", &self.shared.stream_arn)
            .field("function", &self.shared.function.name())
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// Reads the checkpoint file: empty (the trim horizon) when there is none, when it is for
/// another stream (the table was recreated), or when it cannot be read (logged).
async fn load_checkpoint(path: &Path, stream_arn: &str, logs: &LogSink) -> BTreeMap<String, String> {
    let text = match tokio::fs::read_to_string(path).await {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(err) => {
            logs.line(
                "dev",
                &format!(
                    "ERROR: cannot read the stream checkpoint {}: {err}; reading from the trim horizon",
                    path.display()
                ),
            );
            return BTreeMap::new();
        }
    };
    let parsed: Option<(String, BTreeMap<String, String>)> =
        serde_json::from_str::<Value>(&text).ok().and_then(|value| {
            let arn = value.get("streamArn")?.as_str()?.to_owned();
            let shards = serde_json::from_value(value.get("shards")?.clone()).ok()?;
            Some((arn, shards))
        });
    match parsed {
        Some((arn, shards)) if arn == stream_arn => shards,
        Some((arn, _)) => {
            logs.line(
                "dev",
                &format!(
                    "the stream checkpoint {} is for {arn}, not {stream_arn} (the table was \
                     recreated): reading from the trim horizon",
                    path.display()
                ),
            );
            BTreeMap::new()
        }
        None => {
            logs.line(
                "dev",
                &format!(
                    "ERROR: the stream checkpoint {} is not valid: reading from the trim horizon",
                    path.display()
                ),
            );
            BTreeMap::new()
        }
    }
}

/// Polls until stopped: pages while there are records, every `poll_every` when idle.
async fn run<F: Invoke>(shared: Arc<Shared<F>>, checkpoints: BTreeMap<String, String>) {
    let mut cursor = Cursor { checkpoints, iterators: BTreeMap::new() };
    let mut stop = shared.stop.subscribe();
    let mut read_failures = 0_u32;
    loop {
        if *stop.borrow() {
            break;
        }
        match shared.poll(&mut cursor).await {
            Ok(true) => read_failures = 0,
            Ok(false) => {
                read_failures = 0;
                tokio::select! {
                    () = tokio::time::sleep(shared.options.poll_every) => {}
                    () = shared.kick.notified() => {}
                    () = crate::stopped(&mut stop) => break,
                }
            }
            Err(Flow::Stopped) => break,
            Err(Flow::Failed(error)) => {
                read_failures = read_failures.saturating_add(1);
                cursor.iterators.clear();
                let delay = shared.options.backoff.delay(read_failures);
                shared.logs.line(
                    "dev",
                    &format!("ERROR: reading the stream {}: {error}; again in {delay:?}", shared.stream_arn),
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = crate::stopped(&mut stop) => break,
                }
            }
        }
    }
    shared.progress.send_modify(|progress| progress.running = false);
}

impl<F: Invoke> Shared<F> {
    /// The shards, in the stream's order.
    async fn shards(&self) -> Result<Vec<(String, Option<String>)>, StreamError> {
        let arn = self.table_stream_arn.clone();
        let described = blocking(&self.db, "DescribeStream", move |db| {
            db.describe_stream(DescribeStreamRequest { stream_arn: arn, ..Default::default() })
        })
        .await?;
        Ok(described
            .stream_description
            .shards
            .into_iter()
            .map(|shard| (shard.shard_id, shard.sequence_number_range.ending_sequence_number))
            .collect())
    }

    /// The last record of each shard that has one.
    async fn stream_ends(&self) -> Result<BTreeMap<String, String>, StreamError> {
        Ok(self
            .shards()
            .await?
            .into_iter()
            .filter_map(|(shard, last)| last.map(|last| (shard, last)))
            .collect())
    }

    /// Reads one page from each shard and handles it; `true` when any record was read.
    async fn poll(&self, cursor: &mut Cursor) -> Result<bool, Flow> {
        let mut read_any = false;
        for (shard, _) in self.shards().await? {
            let iterator = match cursor.iterators.get(&shard) {
                Some(iterator) => iterator.clone(),
                None => self.iterator(&shard, cursor.checkpoints.get(&shard).cloned()).await?,
            };
            let limit = self.options.page_limit;
            let page = blocking(&self.db, "GetRecords", move |db| {
                db.get_records(GetRecordsRequest { shard_iterator: iterator, limit: Some(limit) })
            })
            .await?;
            let records: Vec<StreamRecord> =
                page.records.into_iter().map(|record| self.record(record)).collect::<Result<_, _>>()?;
            if !records.is_empty() {
                read_any = true;
                self.handle_page(cursor, &shard, records).await?;
            }
            match page.next_shard_iterator {
                Some(next) => cursor.iterators.insert(shard, next),
                None => cursor.iterators.remove(&shard),
            };
        }
        Ok(read_any)
    }

    /// A shard iterator after the checkpoint, or at the trim horizon.
    async fn iterator(&self, shard: &str, after: Option<String>) -> Result<String, StreamError> {
        let request = GetShardIteratorRequest {
            stream_arn: self.table_stream_arn.clone(),
            shard_id: shard.to_owned(),
            shard_iterator_type: if after.is_some() { "AFTER_SEQUENCE_NUMBER" } else { "TRIM_HORIZON" }
                .to_owned(),
            sequence_number: after,
        };
        blocking(&self.db, "GetShardIterator", move |db| db.get_shard_iterator(request))
            .await?
            .shard_iterator
            .ok_or(StreamError::Database {
                context: "GetShardIterator",
                message: "no iterator returned".to_owned(),
            })
    }

    /// A stream record in the shape Lambda delivers it.
    fn record(&self, record: Record) -> Result<StreamRecord, StreamError> {
        let sequence = record.dynamodb.sequence_number.clone();
        let created = record.dynamodb.approximate_creation_date_time;
        let created = if created.is_finite() && created > 0.0 { created.trunc() as u64 } else { 0 };
        let mut value = serde_json::to_value(&record).map_err(|e| StreamError::Database {
            context: "GetRecords",
            message: format!("a record cannot be serialised: {e}"),
        })?;
        if let Value::Object(fields) = &mut value {
            fields.insert("awsRegion".to_owned(), json!(self.options.region));
            fields.insert("eventSourceARN".to_owned(), json!(self.stream_arn));
            if let Some(Value::Object(dynamodb)) = fields.get_mut("dynamodb") {
                dynamodb.insert("ApproximateCreationDateTime".to_owned(), json!(created));
            }
        }
        Ok(StreamRecord { value, sequence, created })
    }

    fn wanted(&self, record: &Value) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|filter| filter.matches(record))
    }

    /// Filters and batches one page, delivers the batches, and checkpoints past the page.
    async fn handle_page(
        &self,
        cursor: &mut Cursor,
        shard: &str,
        records: Vec<StreamRecord>,
    ) -> Result<(), Flow> {
        let Some(last) = records.last().map(|record| record.sequence.clone()) else {
            return Ok(());
        };
        let batch_size = usize::from(self.options.batch_size);
        let mut batch = Vec::with_capacity(batch_size.min(records.len()));
        for record in records {
            if self.wanted(&record.value) {
                batch.push(record);
                if batch.len() >= batch_size {
                    self.deliver_batch(cursor, shard, std::mem::take(&mut batch)).await?;
                }
            } else {
                self.skipped.fetch_add(1, Ordering::SeqCst);
            }
        }
        if !batch.is_empty() {
            self.deliver_batch(cursor, shard, batch).await?;
        }
        self.checkpoint(cursor, shard, &last).await;
        Ok(())
    }

    /// Delivers one batch until each of its records succeeded or was dead-lettered.
    async fn deliver_batch(
        &self,
        cursor: &mut Cursor,
        shard: &str,
        records: Vec<StreamRecord>,
    ) -> Result<(), Flow> {
        let mut queue =
            VecDeque::from([Span { start: 0, end: records.len(), attempts: 0, function_error: false }]);
        let mut failed: Option<FailedRun> = None;
        while let Some(mut span) = queue.pop_front() {
            if span.attempts > 0 {
                if span.attempts > self.options.max_retries {
                    self.fail(&mut failed, cursor, shard, &records, span, Condition::RetryAttemptsExhausted)
                        .await;
                    continue;
                }
                // The arrival is known to the second, so a record is taken as slightly older than
                // it is (never younger).
                let now = epoch_millis(SystemTime::now());
                let max_age = self.options.max_record_age;
                let young = (span.start..span.end)
                    .find(|&i| {
                        let arrived = records[i].created.saturating_mul(1000);
                        Duration::from_millis(now.saturating_sub(arrived)) <= max_age
                    })
                    .unwrap_or(span.end);
                if young > span.start {
                    let old = Span { end: young, ..span };
                    self.fail(&mut failed, cursor, shard, &records, old, Condition::RecordAgeExceeded).await;
                    if young == span.end {
                        continue;
                    }
                    span.start = young;
                }
                self.pause(self.options.backoff.delay(span.attempts)).await?;
            }

            let slice = &records[span.start..span.end];
            let payload = json!({"Records": slice.iter().map(|r| r.value.clone()).collect::<Vec<_>>()});
            let started = Instant::now();
            let answer = self.invoke(payload.to_string()).await?;
            let elapsed = started.elapsed();
            let (outcome, verdict) = self.judge(answer, slice);
            let attempt = span.attempts + 1;
            let first = slice.first().map_or("", |r| r.sequence.as_str());
            let last = slice.last().map_or("", |r| r.sequence.as_str());
            self.logs.line(
                "dev",
                &format!(
                    "stream → {}: {} record(s) {first}..{last}: {outcome} (attempt {attempt}, {elapsed:.0?})",
                    self.function.name(),
                    slice.len(),
                ),
            );
            lock(&self.deliveries).push(BatchDelivery {
                shard_id: shard.to_owned(),
                sequence_numbers: slice.iter().map(|r| r.sequence.clone()).collect(),
                payload,
                attempt,
                outcome,
                elapsed,
            });

            match verdict {
                Verdict::Done => {
                    self.flush(&mut failed, cursor, shard, &records).await;
                    self.checkpoint(cursor, shard, &records[span.end - 1].sequence).await;
                }
                Verdict::RetryFrom(index) => {
                    let from = span.start + index;
                    if from > span.start {
                        self.flush(&mut failed, cursor, shard, &records).await;
                        self.checkpoint(cursor, shard, &records[from - 1].sequence).await;
                    }
                    queue.push_front(Span {
                        start: from,
                        end: span.end,
                        attempts: attempt,
                        function_error: false,
                    });
                }
                Verdict::RetryAll => {
                    queue.push_front(Span { attempts: attempt, function_error: false, ..span });
                }
                Verdict::FunctionError => {
                    let len = span.end - span.start;
                    if self.options.bisect_batch_on_function_error && len > 1 {
                        let middle = span.start + len / 2;
                        queue.push_front(Span {
                            start: middle,
                            attempts: attempt,
                            function_error: true,
                            ..span
                        });
                        queue.push_front(Span {
                            end: middle,
                            attempts: attempt,
                            function_error: true,
                            ..span
                        });
                    } else {
                        queue.push_front(Span { attempts: attempt, function_error: true, ..span });
                    }
                }
            }
        }
        self.flush(&mut failed, cursor, shard, &records).await;
        Ok(())
    }

    /// Reads an answer as `ReportBatchItemFailures` does.
    fn judge(&self, answer: Result<Bytes, InvokeError>, slice: &[StreamRecord]) -> (BatchOutcome, Verdict) {
        let body = match answer {
            Err(error) => return (BatchOutcome::Failed(error), Verdict::FunctionError),
            Ok(body) => body,
        };
        if !self.options.report_batch_item_failures || body.iter().all(u8::is_ascii_whitespace) {
            return (BatchOutcome::Succeeded, Verdict::Done);
        }
        let failures = serde_json::from_slice::<Value>(&body)
            .map_err(|e| format!("the answer is not JSON: {e}"))
            .and_then(|answer| batch_item_failures(&answer));
        let failed = match failures {
            Err(why) => return (BatchOutcome::InvalidResponse(why), Verdict::RetryAll),
            Ok(failed) if failed.is_empty() => return (BatchOutcome::Succeeded, Verdict::Done),
            Ok(failed) => failed,
        };
        let mut lowest = usize::MAX;
        for id in &failed {
            match slice.iter().position(|record| record.sequence == *id) {
                Some(index) => lowest = lowest.min(index),
                None => {
                    return (
                        BatchOutcome::InvalidResponse(format!("itemIdentifier {id:?} is not in the batch")),
                        Verdict::RetryAll,
                    );
                }
            }
        }
        (BatchOutcome::PartiallyFailed { failed }, Verdict::RetryFrom(lowest))
    }

    /// Adds a failed range to the pending run (dead-lettering the run before it if it cannot be
    /// merged).
    async fn fail(
        &self,
        failed: &mut Option<FailedRun>,
        cursor: &mut Cursor,
        shard: &str,
        records: &[StreamRecord],
        span: Span,
        condition: Condition,
    ) {
        if let Some(run) = failed
            && run.end == span.start
            && run.condition == condition
        {
            run.end = span.end;
            run.invocations = run.invocations.max(span.attempts);
            run.function_error |= span.function_error;
            return;
        }
        self.flush(failed, cursor, shard, records).await;
        *failed = Some(FailedRun {
            start: span.start,
            end: span.end,
            condition,
            invocations: span.attempts,
            function_error: span.function_error,
        });
    }

    /// Dead-letters the pending failed run, if any, and checkpoints past it.
    async fn flush(
        &self,
        failed: &mut Option<FailedRun>,
        cursor: &mut Cursor,
        shard: &str,
        records: &[StreamRecord],
    ) {
        if let Some(run) = failed.take() {
            let slice = &records[run.start..run.end];
            self.dead_letter(shard, slice, run).await;
            if let Some(last) = slice.last() {
                self.checkpoint(cursor, shard, &last.sequence).await;
            }
        }
    }

    /// Moves the shard's checkpoint to `sequence` and writes the checkpoint file.
    async fn checkpoint(&self, cursor: &mut Cursor, shard: &str, sequence: &str) {
        if cursor.checkpoints.get(shard).is_some_and(|current| current == sequence) {
            return;
        }
        cursor.checkpoints.insert(shard.to_owned(), sequence.to_owned());
        let path = self.options.checkpoint_path();
        let contents = json!({"streamArn": self.table_stream_arn, "shards": cursor.checkpoints});
        if let Err(err) = write_atomically(&path, format!("{contents:#}\n").as_bytes()).await {
            self.logs.line(
                "dev",
                &format!(
                    "ERROR: cannot write the stream checkpoint {}: {err} (a restart would deliver \
                     records again)",
                    path.display()
                ),
            );
        }
        let checkpoints = cursor.checkpoints.clone();
        self.progress.send_modify(|progress| progress.checkpoints = checkpoints);
    }

    /// Writes the on-failure record of `slice` (and logs it).
    async fn dead_letter(&self, shard: &str, slice: &[StreamRecord], run: FailedRun) {
        let (Some(first), Some(last)) = (slice.first(), slice.last()) else {
            return;
        };
        let now = SystemTime::now();
        let request_id = uuid::Uuid::now_v7().to_string();
        let mut response = json!({"statusCode": 200, "executedVersion": "$LATEST"});
        if run.function_error {
            response["functionError"] = json!("Unhandled");
        }
        let record = json!({
            "requestContext": {
                "requestId": request_id,
                "functionArn": self.function.arn(),
                "condition": run.condition.as_str(),
                "approximateInvokeCount": run.invocations,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": rfc3339_millis(now),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first.sequence,
                "endSequenceNumber": last.sequence,
                "approximateArrivalOfFirstRecord": rfc3339_seconds(first.created),
                "approximateArrivalOfLastRecord": rfc3339_seconds(last.created),
                "batchSize": slice.len(),
                "streamArn": self.stream_arn,
            },
        });
        let dir = &self.options.dead_letters;
        let path = dir.join(format!("{}-{request_id}.json", epoch_millis(now)));
        let what = format!(
            "{} stream record(s) {}..{} failed ({}, {} invocation(s))",
            slice.len(),
            first.sequence,
            last.sequence,
            run.condition.as_str(),
            run.invocations
        );
        let written = match write_atomically(&path, format!("{record:#}\n").as_bytes()).await {
            Ok(()) => {
                self.logs.line("dev", &format!("ERROR: {what}; kept in {}", path.display()));
                Some(path)
            }
            Err(err) => {
                self.logs.line("dev", &format!("ERROR: {what} and could not be kept: {err}: {record}"));
                None
            }
        };
        lock(&self.dead_letters).push(DeadLetter { path: written, record });
    }

    /// Invokes the function, giving up when the poller is stopped.
    async fn invoke(&self, payload: String) -> Result<Result<Bytes, InvokeError>, Flow> {
        let mut stop = self.stop.subscribe();
        tokio::select! {
            answer = self.function.invoke(Bytes::from(payload)) => match answer {
                Err(InvokeError::Stopped) => Err(Flow::Stopped),
                answer => Ok(answer),
            },
            () = crate::stopped(&mut stop) => Err(Flow::Stopped),
        }
    }

    /// Waits `delay`, giving up when the poller is stopped.
    async fn pause(&self, delay: Duration) -> Result<(), Flow> {
        let mut stop = self.stop.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => Ok(()),
            () = crate::stopped(&mut stop) => Err(Flow::Stopped),
        }
    }
}

/// The reported failures of a `ReportBatchItemFailures` answer: `null`, `{}` and an empty or
/// null `batchItemFailures` are no failures; anything malformed is an error.
fn batch_item_failures(answer: &Value) -> Result<Vec<String>, String> {
    match answer {
        Value::Null => Ok(Vec::new()),
        Value::Object(fields) => match fields.get("batchItemFailures") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item.get("itemIdentifier") {
                    Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
                    _ => Err(format!("invalid batch item failure {item}")),
                })
                .collect(),
            Some(other) => Err(format!("batchItemFailures is not a list: {other}")),
        },
        other => Err(format!("the answer is not a batch response: {other}")),
    }
}

/// Why a filter pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {path})")]
pub struct FilterError {
    /// Where in the pattern, e.g. `$.dynamodb.Keys.sk.S[0]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// An event filter pattern, in the subset of EventBridge's syntax that Lambda's filter criteria
/// take and the clean-up needs: an object of fields, each either a nested object (matching the
/// nested field) or a non-empty list of allowed values, each a literal (string, number, boolean,
/// `null`) or `{"prefix": "..."}`. A field matches when it is present and its value (or, for a
/// list, any of its elements) is one of the allowed values; numbers compare by value. Any other
/// operator (`anything-but`, `numeric`, `exists`, `suffix`…) is refused when the pattern is
/// parsed, never silently matched.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPattern {
    fields: Vec<(String, Node)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Fields(Vec<(String, Node)>),
    Values(Vec<Allowed>),
}

#[derive(Debug, Clone, PartialEq)]
enum Allowed {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
    Prefix(String),
}

impl FilterPattern {
    /// Parses a pattern (JSON text).
    ///
    /// # Errors
    ///
    /// The text is not JSON, not an object of fields, or uses an unsupported operator.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FilterError { path: "$".to_owned(), message: format!("not JSON: {e}") })?;
        Self::from_value(&value)
    }

    /// Parses a pattern (JSON value).
    ///
    /// # Errors
    ///
    /// As [`FilterPattern::parse`].
    pub fn from_value(value: &Value) -> Result<Self, FilterError> {
        if !value.is_object() {
            return Err(FilterError {
                path: "$".to_owned(),
                message: "a pattern is an object of fields".to_owned(),
            });
        }
        match parse_node(value, "$")? {
            Node::Fields(fields) => Ok(Self { fields }),
            Node::Values(_) => Err(FilterError {
                path: "$".to_owned(),
                message: "a pattern is an object of fields".to_owned(),
            }),
        }
    }

    /// Whether `event` matches.
    #[must_use]
    pub fn matches(&self, event: &Value) -> bool {
        fields_match(&self.fields, event)
    }
}

fn parse_node(value: &Value, path: &str) -> Result<Node, FilterError> {
    let refuse = |message: String| Err(FilterError { path: path.to_owned(), message });
    match value {
        Value::Object(fields) if fields.is_empty() => {
            refuse("an empty object would match anything: name at least one field".to_owned())
        }
        Value::Object(fields) => fields
            .iter()
            .map(|(name, node)| Ok((name.clone(), parse_node(node, &format!("{path}.{name}"))?)))
            .collect::<Result<Vec<_>, _>>()
            .map(Node::Fields),
        Value::Array(items) if items.is_empty() => {
            refuse("an empty list of values matches nothing".to_owned())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| parse_allowed(item, &format!("{path}[{index}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Node::Values),
        other => refuse(format!("a field's pattern is a list of values or an object, not {other}")),
    }
}

fn parse_allowed(value: &Value, path: &str) -> Result<Allowed, FilterError> {
    let refuse = |message: String| Err(FilterError { path: path.to_owned(), message });
    match value {
        Value::String(text) => Ok(Allowed::String(text.clone())),
        Value::Number(number) => match number.as_f64() {
            Some(number) => Ok(Allowed::Number(number)),
            None => refuse(format!("the number {number} is out of range")),
        },
        Value::Bool(flag) => Ok(Allowed::Bool(*flag)),
        Value::Null => Ok(Allowed::Null),
        Value::Array(_) => refuse("a list inside a list of values is not a pattern".to_owned()),
        Value::Object(operator) => {
            let mut entries = operator.iter();
            match (entries.next(), entries.next()) {
                (Some((name, Value::String(prefix))), None) if name == "prefix" => {
                    Ok(Allowed::Prefix(prefix.clone()))
                }
                (Some((name, other)), None) if name == "prefix" => {
                    refuse(format!("`prefix` takes a string here, not {other}"))
                }
                (Some((name, _)), None) => refuse(format!(
                    "the operator `{name}` is not supported by the local stack (only literals and \
                     `prefix`)"
                )),
                _ => refuse(format!("an operator is an object with one key, not {value}")),
            }
        }
    }
}

fn fields_match(fields: &[(String, Node)], event: &Value) -> bool {
    let Value::Object(event) = event else {
        return false;
    };
    fields.iter().all(|(name, node)| event.get(name).is_some_and(|value| node_matches(node, value)))
}

fn node_matches(node: &Node, value: &Value) -> bool {
    match node {
        Node::Fields(fields) => fields_match(fields, value),
        Node::Values(allowed) => match value {
            Value::Array(items) => items.iter().any(|item| allowed.iter().any(|a| a.matches(item))),
            scalar => allowed.iter().any(|a| a.matches(scalar)),
        },
    }
}

impl Allowed {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::String(expected), Value::String(actual)) => expected == actual,
            (Self::Number(expected), Value::Number(actual)) => actual.as_f64() == Some(*expected),
            (Self::Bool(expected), Value::Bool(actual)) => expected == actual,
            (Self::Null, Value::Null) => true,
            (Self::Prefix(prefix), Value::String(actual)) => actual.starts_with(prefix.as_str()),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::atomic::AtomicBool;
    use std::time::UNIX_EPOCH;

    use thumbforge_catalog::schema;
    use thumbforge_dynamo_local::{LocalDynamo, Options};

    use super::*;

    const TABLE: &str = "thumbforge-test-images";
    const REGION: &str = "us-east-1";
    const WAIT: Duration = Duration::from_secs(30);

    fn epoch_seconds_now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    /// A function answering with `handler(event)`.
    struct Fake<H>(H);

    impl<H> Invoke for Fake<H>
    where
        H: Fn(&Value) -> Result<Value, InvokeError> + Send + Sync + 'static,
    {
        fn name(&self) -> &str {
            "thumbforge-test-thumbnail"
        }

        fn arn(&self) -> &str {
            "arn:aws:lambda:us-east-1:000000000000:function:thumbforge-test-thumbnail"
        }

        fn invoke(&self, payload: Bytes) -> impl Future<Output = Result<Bytes, InvokeError>> + Send {
            let event: Value = serde_json::from_slice(&payload).unwrap();
            std::future::ready((self.0)(&event).map(|answer| Bytes::from(answer.to_string())))
        }
    }

    fn ok(_: &Value) -> Result<Value, InvokeError> {
        Ok(json!({"batchItemFailures": []}))
    }

    fn boom() -> InvokeError {
        InvokeError::Function { error_type: "Boom".to_owned(), message: "the test says no".to_owned() }
    }

    /// The `sk` of every record of an event.
    fn sort_keys(event: &Value) -> Vec<String> {
        event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dynamodb"]["Keys"]["sk"]["S"].as_str().unwrap().to_owned())
            .collect()
    }

    struct Env {
        dir: tempfile::TempDir,
        dynamo: LocalDynamo,
    }

    impl Env {
        async fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let dynamo = start_dynamo(dir.path()).await;
            schema::create_table(&dynamo.client(), TABLE).await.unwrap();
            Self { dir, dynamo }
        }

        fn db(&self) -> &Database {
            self.dynamo.database()
        }

        fn options(&self) -> StreamOptions {
            let cleanup = Cleanup { batch_size: 10, max_retries: 2, max_record_age_seconds: 86_400 };
            let mut options = StreamOptions::cleanup(&cleanup, TABLE, REGION, self.dir.path());
            options.backoff = Backoff { first: Duration::from_millis(1), max: Duration::from_millis(4) };
            options.poll_every = Duration::from_millis(20);
            options
        }

        async fn poller<H>(&self, options: StreamOptions, handler: H) -> Arc<StreamPoller<Fake<H>>>
        where
            H: Fn(&Value) -> Result<Value, InvokeError> + Send + Sync + 'static,
        {
            let (logs, _) = LogSink::memory();
            StreamPoller::start(self.db().clone(), Fake(handler), options, logs).await.unwrap()
        }

        fn dead_letter_files(&self) -> Vec<Value> {
            let dir = self.dir.path().join(CLEANUP_DEAD_LETTER_DIR);
            let Ok(entries) = std::fs::read_dir(dir) else {
                return Vec::new();
            };
            let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            files
                .iter()
                .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
                .collect()
        }
    }

    async fn start_dynamo(dir: &Path) -> LocalDynamo {
        LocalDynamo::start(Options::default().data_dir(dir.join("dynamodb"))).await.unwrap()
    }

    async fn drained<F: Invoke>(poller: &StreamPoller<F>) {
        tokio::time::timeout(WAIT, poller.wait_drained()).await.expect("drained in time").unwrap();
    }

    fn put(db: &Database, item: Value) {
        db.put_item(serde_json::from_value(json!({"TableName": TABLE, "Item": item})).unwrap()).unwrap();
    }

    fn delete(db: &Database, pk: &str, sk: &str) {
        db.delete_item(
            serde_json::from_value(json!({"TableName": TABLE, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}))
                .unwrap(),
        )
        .unwrap();
    }

    fn image(owner: &str, id: &str, status: &str) -> Value {
        json!({
            "pk": {"S": format!("USER#{owner}")},
            "sk": {"S": format!("IMAGE#{id}")},
            "type": {"S": "image"},
            "id": {"S": id},
            "owner": {"S": owner},
            "status": {"S": status},
            "size": {"N": "1234"},
            "renditions": {"L": [{"M": {"key": {"S": format!("thumbs/{id}/256.jpg")}, "width": {"N": "256"}}}]},
        })
    }

    /// Puts then deletes an image; returns its `sk`.
    fn removed_image(db: &Database, owner: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        put(db, image(owner, &id, "ready"));
        delete(db, &format!("USER#{owner}"), &format!("IMAGE#{id}"));
        format!("IMAGE#{id}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_removed_image_is_delivered_in_lambdas_shape_and_the_rest_is_filtered_out() {
        let env = Env::new().await;
        let db = env.db();
        let id = uuid::Uuid::now_v7().to_string();
        let before = epoch_seconds_now();
        put(db, image("alice", &id, "pending")); // INSERT
        put(db, image("alice", &id, "ready")); // MODIFY
        put(
            db,
            json!({"pk": {"S": "USER#alice"}, "sk": {"S": "PROFILE"}, "type": {"S": "profile"}, "images": {"N": "1"}}),
        );
        delete(db, "USER#alice", "PROFILE"); // a removed profile: not an image
        delete(db, "USER#alice", &format!("IMAGE#{id}"));
        let after = epoch_seconds_now();

        let poller = env.poller(env.options(), ok).await;
        drained(&poller).await;

        let deliveries = poller.deliveries();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        assert_eq!(poller.skipped(), 4, "INSERT, MODIFY, INSERT and REMOVE of the profile");
        let delivery = &deliveries[0];
        assert_eq!(delivery.outcome, BatchOutcome::Succeeded);
        assert_eq!(delivery.attempt, 1);
        let records = delivery.payload["Records"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        let record = &records[0];
        assert_eq!(record["eventName"], "REMOVE");
        assert_eq!(record["eventVersion"], "1.1");
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["awsRegion"], REGION);
        let event_id = record["eventID"].as_str().unwrap();
        assert!(!event_id.is_empty() && event_id.chars().all(|c| c.is_ascii_hexdigit()), "{event_id}");
        let arn = record["eventSourceARN"].as_str().unwrap();
        assert_eq!(arn, poller.stream_arn());
        assert!(
            arn.starts_with(&format!("arn:aws:dynamodb:{REGION}:000000000000:table/{TABLE}/stream/")),
            "{arn}"
        );
        assert!(record.get("userIdentity").is_none(), "a delete through the API has no userIdentity");

        let ddb = &record["dynamodb"];
        assert_eq!(ddb["Keys"], json!({"pk": {"S": "USER#alice"}, "sk": {"S": format!("IMAGE#{id}")}}));
        assert_eq!(ddb["OldImage"], image("alice", &id, "ready"));
        assert!(ddb.get("NewImage").is_none());
        assert_eq!(ddb["StreamViewType"], "NEW_AND_OLD_IMAGES");
        let sequence = ddb["SequenceNumber"].as_str().unwrap();
        assert!(sequence.len() >= 21 && sequence.chars().all(|c| c.is_ascii_digit()), "{sequence}");
        assert_eq!(delivery.sequence_numbers, vec![sequence.to_owned()]);
        assert!(ddb["SizeBytes"].as_u64().unwrap() > 0);
        let created = ddb["ApproximateCreationDateTime"].as_u64().expect("epoch seconds, an integer");
        assert!((before..=after).contains(&created), "{created} not in {before}..={after}");

        // Everything was handled: the checkpoint is the stream's last record (the image's REMOVE).
        let shard = format!("shardId-00000001-{TABLE}");
        assert_eq!(poller.checkpoints().get(&shard).map(String::as_str), Some(sequence));
        assert!(env.dead_letter_files().is_empty());
        poller.shutdown().await;
        assert!(!poller.is_running());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ttl_removals_carry_dynamodbs_service_identity() {
        let env = Env::new().await;
        let db = env.db();
        let id = uuid::Uuid::now_v7().to_string();
        let mut pending = image("bob", &id, "pending");
        pending["expiresAt"] = json!({"N": "1000"});
        put(db, pending);
        assert_eq!(env.dynamo.sweep_ttl().await.unwrap(), 1);

        let poller = env.poller(env.options(), ok).await;
        drained(&poller).await;
        let deliveries = poller.deliveries();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        let record = &deliveries[0].payload["Records"][0];
        assert_eq!(record["eventName"], "REMOVE");
        assert_eq!(record["dynamodb"]["Keys"]["sk"]["S"], format!("IMAGE#{id}"));
        assert_eq!(
            record["userIdentity"],
            json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_partial_failure_is_retried_from_the_reported_record_only() {
        let env = Env::new().await;
        let db = env.db();
        let keys: Vec<String> = (0..3).map(|_| removed_image(db, "carol")).collect();
        let second = keys[1].clone();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let poller = env
            .poller(env.options(), move |event: &Value| {
                if counted.fetch_add(1, Ordering::SeqCst) > 0 {
                    return Ok(json!({}));
                }
                let failed = event["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["dynamodb"]["Keys"]["sk"]["S"] == second.as_str())
                    .map(|r| r["dynamodb"]["SequenceNumber"].clone())
                    .unwrap();
                Ok(json!({"batchItemFailures": [{"itemIdentifier": failed}]}))
            })
            .await;
        drained(&poller).await;

        let deliveries = poller.deliveries();
        assert_eq!(deliveries.len(), 2, "{deliveries:?}");
        assert_eq!(sort_keys(&deliveries[0].payload), keys);
        assert_eq!(
            deliveries[0].outcome,
            BatchOutcome::PartiallyFailed { failed: vec![deliveries[0].sequence_numbers[1].clone()] }
        );
        // The first record is not delivered again; the retry starts at the reported one.
        assert_eq!(sort_keys(&deliveries[1].payload), keys[1..].to_vec());
        assert_eq!(deliveries[1].sequence_numbers, deliveries[0].sequence_numbers[1..].to_vec());
        assert_eq!(deliveries[1].attempt, 2);
        assert_eq!(deliveries[1].outcome, BatchOutcome::Succeeded);
        assert!(env.dead_letter_files().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_identifier_not_in_the_batch_fails_the_whole_batch() {
        let env = Env::new().await;
        let db = env.db();
        let keys: Vec<String> = (0..2).map(|_| removed_image(db, "dan")).collect();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let poller = env
            .poller(env.options(), move |_: &Value| {
                if counted.fetch_add(1, Ordering::SeqCst) > 0 {
                    Ok(Value::Null)
                } else {
                    Ok(json!({"batchItemFailures": [{"itemIdentifier": "100000000000000000001"}]}))
                }
            })
            .await;
        drained(&poller).await;
        let deliveries = poller.deliveries();
        assert_eq!(deliveries.len(), 2, "{deliveries:?}");
        assert!(matches!(deliveries[0].outcome, BatchOutcome::InvalidResponse(_)), "{:?}", deliveries[0]);
        // Retried whole (no bisection: the function did not fail).
        assert_eq!(sort_keys(&deliveries[1].payload), keys);
        assert_eq!(deliveries[1].attempt, 2);
        assert_eq!(deliveries[1].outcome, BatchOutcome::Succeeded);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_batch_ends_in_one_dead_letter_and_later_records_still_flow() {
        let env = Env::new().await;
        let db = env.db();
        let keys: Vec<String> = (0..2).map(|_| removed_image(db, "erin")).collect();
        let failing = Arc::new(AtomicBool::new(true));
        let fails = Arc::clone(&failing);
        let options = env.options();
        let max_retries = options.max_retries;
        let poller = env
            .poller(
                options,
                move |_: &Value| if fails.load(Ordering::SeqCst) { Err(boom()) } else { ok(&Value::Null) },
            )
            .await;
        drained(&poller).await;

        // Bisected: [a, b] fails, then [a] and [b] each until their retries are spent.
        let deliveries = poller.deliveries();
        assert!(deliveries.iter().all(|d| d.outcome == BatchOutcome::Failed(boom())), "{deliveries:?}");
        let invoked: Vec<Vec<String>> = deliveries.iter().map(|d| sort_keys(&d.payload)).collect();
        let only = |key: &String| vec![key.clone()];
        assert_eq!(
            invoked,
            vec![keys.clone(), only(&keys[0]), only(&keys[0]), only(&keys[1]), only(&keys[1])],
            "each record is part of 1 + max_retries invocations"
        );
        assert_eq!(deliveries.iter().map(|d| d.attempt).max(), Some(max_retries + 1));

        let letters = env.dead_letter_files();
        assert_eq!(letters.len(), 1, "{letters:#?}");
        let letter = &letters[0];
        assert_eq!(poller.dead_letters().len(), 1);
        assert_eq!(&poller.dead_letters()[0].record, letter);
        assert_eq!(letter["version"], "1.0");
        assert!(letter["timestamp"].as_str().unwrap().ends_with('Z'));
        let context = &letter["requestContext"];
        assert_eq!(context["condition"], "RetryAttemptsExhausted");
        assert_eq!(context["approximateInvokeCount"], max_retries + 1);
        assert_eq!(
            context["functionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:thumbforge-test-thumbnail"
        );
        assert!(uuid::Uuid::parse_str(context["requestId"].as_str().unwrap()).is_ok());
        assert_eq!(
            letter["responseContext"],
            json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
        );
        let info = &letter["DDBStreamBatchInfo"];
        let sequences = &deliveries[0].sequence_numbers;
        assert_eq!(info["shardId"], format!("shardId-00000001-{TABLE}"));
        assert_eq!(info["startSequenceNumber"], sequences[0].as_str());
        assert_eq!(info["endSequenceNumber"], sequences[1].as_str());
        assert_eq!(info["batchSize"], 2);
        assert_eq!(info["streamArn"], poller.stream_arn());
        let arrival = |record: &Value| {
            rfc3339_seconds(record["dynamodb"]["ApproximateCreationDateTime"].as_u64().unwrap())
        };
        assert_eq!(info["approximateArrivalOfFirstRecord"], arrival(&deliveries[0].payload["Records"][0]));
        assert_eq!(info["approximateArrivalOfLastRecord"], arrival(&deliveries[0].payload["Records"][1]));
        assert!(info["approximateArrivalOfFirstRecord"].as_str().unwrap().ends_with('Z'));

        // The shard goes on: a later removal is delivered.
        failing.store(false, Ordering::SeqCst);
        let later = removed_image(db, "erin");
        drained(&poller).await;
        let last = poller.deliveries().pop().unwrap();
        assert_eq!(sort_keys(&last.payload), vec![later]);
        assert_eq!(last.outcome, BatchOutcome::Succeeded);
        assert_eq!(env.dead_letter_files().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bisection_isolates_a_poison_record() {
        let env = Env::new().await;
        let db = env.db();
        let keys: Vec<String> = (0..3).map(|_| removed_image(db, "fay")).collect();
        let poison = keys[1].clone();
        let poller =
            env.poller(env.options(), move |event: &Value| {
                if sort_keys(event).contains(&poison) { Err(boom()) } else { ok(event) }
            })
            .await;
        drained(&poller).await;

        let deliveries = poller.deliveries();
        let delivered: Vec<String> = deliveries
            .iter()
            .filter(|d| d.outcome == BatchOutcome::Succeeded)
            .flat_map(|d| sort_keys(&d.payload))
            .collect();
        assert_eq!(delivered, vec![keys[0].clone(), keys[2].clone()], "{deliveries:#?}");
        let letters = env.dead_letter_files();
        assert_eq!(letters.len(), 1, "{letters:#?}");
        let info = &letters[0]["DDBStreamBatchInfo"];
        let poison_sequence = &deliveries[0].sequence_numbers[1];
        assert_eq!(info["startSequenceNumber"], poison_sequence.as_str());
        assert_eq!(info["endSequenceNumber"], poison_sequence.as_str());
        assert_eq!(info["batchSize"], 1);
        // The checkpoint is past everything.
        assert_eq!(
            poller.checkpoints().values().next(),
            deliveries.iter().flat_map(|d| d.sequence_numbers.iter()).max_by(|a, b| sequence_order(a, b))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_older_than_the_maximum_age_are_not_retried() {
        let env = Env::new().await;
        let key = removed_image(env.db(), "gus");
        let mut options = env.options();
        options.max_record_age = Duration::ZERO;
        options.max_retries = 100;
        // Every record is older than zero by the time its first invocation has failed.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let poller = env.poller(options, |_: &Value| Err(boom())).await;
        drained(&poller).await;
        let deliveries = poller.deliveries();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        assert_eq!(sort_keys(&deliveries[0].payload), vec![key]);
        let letters = env.dead_letter_files();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0]["requestContext"]["condition"], "RecordAgeExceeded");
        assert_eq!(letters[0]["requestContext"]["approximateInvokeCount"], 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_and_batches_keep_the_stream_order() {
        let env = Env::new().await;
        let db = env.db();
        let keys: Vec<String> = (0..7).map(|_| removed_image(db, "hal")).collect();
        let mut options = env.options();
        options.page_limit = 3;
        options.batch_size = 2;
        let poller = env.poller(options, ok).await;
        drained(&poller).await;
        let deliveries = poller.deliveries();
        assert!(deliveries.iter().all(|d| d.sequence_numbers.len() <= 2), "{deliveries:?}");
        let delivered: Vec<String> = deliveries.iter().flat_map(|d| sort_keys(&d.payload)).collect();
        assert_eq!(delivered, keys);
        assert_eq!(poller.skipped(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpoint_survives_a_restart() {
        let env = Env::new().await;
        let first = removed_image(env.db(), "ida");
        let poller = env.poller(env.options(), ok).await;
        drained(&poller).await;
        assert_eq!(poller.deliveries().len(), 1);
        let checkpoint_path = poller.checkpoint_path();
        assert_eq!(checkpoint_path, env.dir.path().join("streams").join(format!("{TABLE}.checkpoint")));
        poller.shutdown().await;

        // The stack goes down; the table is reopened from its folder; a deletion happens while
        // no poller runs.
        let Env { dir, dynamo } = env;
        dynamo.shutdown().await;
        let env = Env { dynamo: start_dynamo(dir.path()).await, dir };
        let second = removed_image(env.db(), "ida");

        let checkpoint: Value =
            serde_json::from_str(&std::fs::read_to_string(&checkpoint_path).unwrap()).unwrap();
        let poller = env.poller(env.options(), ok).await;
        assert_eq!(checkpoint["streamArn"].as_str().map(|a| a.contains(TABLE)), Some(true));
        assert_eq!(serde_json::to_value(poller.checkpoints()).unwrap(), checkpoint["shards"]);
        drained(&poller).await;
        let deliveries = poller.deliveries();
        assert_eq!(deliveries.len(), 1, "{deliveries:?}");
        assert_eq!(sort_keys(&deliveries[0].payload), vec![second.clone()], "nothing again, nothing lost");
        poller.shutdown().await;

        // Without the checkpoint, the stream is read from the trim horizon.
        let mut fresh = env.options();
        fresh.checkpoint_dir = env.dir.path().join("elsewhere");
        let poller = env.poller(fresh, ok).await;
        drained(&poller).await;
        let delivered: Vec<String> = poller.deliveries().iter().flat_map(|d| sort_keys(&d.payload)).collect();
        assert_eq!(delivered, vec![first, second]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unsupported_filter_is_refused_at_start() {
        let env = Env::new().await;
        let mut options = env.options();
        options.filters = vec![r#"{"eventName": [{"anything-but": ["INSERT"]}]}"#.to_owned()];
        let (logs, _) = LogSink::memory();
        let refused = StreamPoller::start(env.db().clone(), Fake(ok), options, logs).await.unwrap_err();
        assert!(matches!(&refused, StreamError::Filter { .. }), "{refused}");
        assert!(refused.to_string().contains("anything-but"), "{refused}");
    }

    #[test]
    fn the_matcher_takes_literals_prefixes_and_nested_fields() {
        let removed = FilterPattern::parse(schema::REMOVED_IMAGES_FILTER).unwrap();
        let record = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": "USER#a"}, "sk": {"S": sk}}}});
        assert!(removed.matches(&record("REMOVE", "IMAGE#0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b")));
        assert!(!removed.matches(&record("INSERT", "IMAGE#0190a1b2")));
        assert!(!removed.matches(&record("MODIFY", "IMAGE#0190a1b2")));
        assert!(!removed.matches(&record("REMOVE", "PROFILE")));
        assert!(!removed.matches(&record("REMOVE", "image#lower")), "prefixes are case-sensitive");
        assert!(!removed.matches(&json!({"eventName": "REMOVE"})), "a missing field does not match");
        assert!(!removed.matches(&json!({"eventName": "REMOVE", "dynamodb": {"Keys": {"sk": {"N": "1"}}}})));
        assert!(!removed.matches(&json!({"eventName": "REMOVE", "dynamodb": "IMAGE#"})));
        assert!(!removed.matches(&json!(["REMOVE"])));

        let literals = FilterPattern::parse(
            r#"{"size": [5, 7], "kind": ["a", {"prefix": "b-"}], "ok": [true], "none": [null]}"#,
        )
        .unwrap();
        let event = json!({"size": 5.0, "kind": "b-1", "ok": true, "none": null});
        assert!(literals.matches(&event), "numbers compare by value");
        assert!(
            literals.matches(&json!({"size": 7, "kind": ["x", "a"], "ok": true, "none": null})),
            "any element"
        );
        assert!(
            !literals.matches(&json!({"size": "5", "kind": "a", "ok": true, "none": null})),
            "a string is not 5"
        );
        assert!(!literals.matches(&json!({"size": 6, "kind": "a", "ok": true, "none": null})));
        assert!(!literals.matches(&json!({"size": 5, "kind": "c", "ok": true, "none": null})));
        assert!(!literals.matches(&json!({"size": 5, "kind": "a", "ok": false, "none": null})));
        assert!(!literals.matches(&json!({"size": 5, "kind": "a", "ok": true})), "null needs the field");
        assert!(!literals.matches(&json!({"size": 5, "kind": {"prefix": "b-"}, "ok": true, "none": null})));
    }

    #[test]
    fn the_matcher_refuses_what_it_does_not_support() {
        for (pattern, expected) in [
            (r#"{"a": [{"anything-but": "x"}]}"#, "`anything-but` is not supported"),
            (r#"{"a": [{"numeric": [">", 1]}]}"#, "`numeric` is not supported"),
            (r#"{"a": [{"exists": true}]}"#, "`exists` is not supported"),
            (r#"{"a": {"b": [{"suffix": ".jpg"}]}}"#, "`suffix` is not supported"),
            (r#"{"a": [{"prefix": {"equals-ignore-case": "x"}}]}"#, "`prefix` takes a string"),
            (r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, "one key"),
            (r#"{"a": "REMOVE"}"#, "a list of values or an object"),
            (r#"{"a": []}"#, "empty list"),
            (r#"{"a": {}}"#, "empty object"),
            (r#"{"a": [["x"]]}"#, "a list inside a list"),
            ("{}", "empty object"),
            (r#"["REMOVE"]"#, "an object of fields"),
            ("not json", "not JSON"),
        ] {
            let error = FilterPattern::parse(pattern).unwrap_err();
            assert!(error.to_string().contains(expected), "{pattern}: {error}");
        }
        let error =
            FilterPattern::parse(r#"{"dynamodb": {"Keys": {"sk": {"S": [{"suffix": "x"}]}}}}"#).unwrap_err();
        assert_eq!(error.path, "$.dynamodb.Keys.sk.S[0]");
    }

    #[test]
    fn batch_responses_are_read_as_lambda_reads_them() {
        for empty in
            [json!(null), json!({}), json!({"batchItemFailures": []}), json!({"batchItemFailures": null})]
        {
            assert_eq!(batch_item_failures(&empty), Ok(Vec::new()), "{empty}");
        }
        assert_eq!(
            batch_item_failures(
                &json!({"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "13"}]})
            ),
            Ok(vec!["12".to_owned(), "13".to_owned()])
        );
        for invalid in [
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": null}]}),
            json!({"batchItemFailures": [{"id": "12"}]}),
            json!({"batchItemFailures": "12"}),
            json!("ok"),
        ] {
            assert!(batch_item_failures(&invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_sequence_numbers_order_numerically() {
        let backoff = Backoff::default();
        let delays: Vec<Duration> = (1..=7).map(|retry| backoff.delay(retry)).collect();
        let ms = Duration::from_millis;
        assert_eq!(delays, vec![ms(250), ms(500), ms(1000), ms(2000), ms(4000), ms(4000), ms(4000)]);
        assert_eq!(backoff.delay(u32::MAX), ms(4000));
        assert_eq!(sequence_order("99", "100"), CmpOrdering::Less);
        assert_eq!(sequence_order("100000000000000000010", "100000000000000000009"), CmpOrdering::Greater);
        assert_eq!(
            public_stream_arn("arn:aws:dynamodb:dynoxide:000000000000:table/t/stream/1.2", "eu-west-1"),
            "arn:aws:dynamodb:eu-west-1:000000000000:table/t/stream/1.2"
        );
        assert_eq!(rfc3339_seconds(1_741_788_191), "2025-03-12T14:03:11Z");
    }
}
