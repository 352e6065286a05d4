//! A Lambda Runtime API emulator that runs a function's real binary.
//!
//! Each instance of a function is one child process with its own Runtime API endpoint
//! (`AWS_LAMBDA_RUNTIME_API`), like one Lambda execution environment: it asks
//! `GET /2018-06-01/runtime/invocation/next` for an event and answers with
//! `POST …/invocation/{id}/response` or `…/error` (or reports `POST …/init/error`). All instances
//! of a function take events from one queue, so a function with `n` instances runs `n`
//! invocations at once.
//!
//! As on Lambda: an invocation that outlives the function's timeout fails and its environment
//! is thrown away (the process is killed and started again); a process that exits fails the
//! invocation it was running and is started again; the environment is the function's variables
//! and the Lambda-defined ones, nothing inherited from the caller.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};

use crate::logs::LogSink;

/// The largest response a function may return (Lambda's synchronous payload limit).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The account id the emulated ARNs carry.
pub const ACCOUNT_ID: &str = "000000000000";

const API_PREFIX: &str = "/2018-06-01/runtime";

/// How to run one function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function's name, e.g. `thumbforge-dev-thumbnail`.
    pub name: String,
    /// The program to start: the function's `bootstrap`, or an emulator such as `qemu-aarch64`.
    pub program: PathBuf,
    /// Arguments (e.g. the `bootstrap` path when `program` is an emulator).
    pub args: Vec<OsString>,
    /// The function's environment variables (the Lambda-defined ones are added).
    pub env: BTreeMap<String, String>,
    /// The function's timeout.
    pub timeout: Duration,
    /// The function's memory in MB (reported to the function; not enforced).
    pub memory_mb: u32,
    /// How many execution environments run at once (at least 1).
    pub instances: usize,
    /// The region the function believes it runs in.
    pub region: String,
    /// How long a process may take to ask for its first event.
    pub startup_timeout: Duration,
}

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function reported an error (`/invocation/{id}/error` or `/init/error`).
    #[error("{error_type}: {message}")]
    Function {
        /// `errorType` of the report.
        error_type: String,
        /// `errorMessage` of the report.
        message: String,
    },
    /// The invocation outlived the function's timeout.
    #[error("Task timed out after {0:?}")]
    Timeout(Duration),
    /// The process exited, or broke the Runtime API protocol, while running the invocation.
    #[error("Runtime.ExitError: {0}")]
    Crashed(String),
    /// The function was stopped.
    #[error("the function was stopped")]
    Stopped,
}

/// A running function: its instances and their shared queue. Clones share the function.
#[derive(Clone, Debug)]
pub struct Function {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    name: String,
    arn: String,
    timeout: Duration,
    queue: mpsc::UnboundedSender<Pending>,
    /// The other end of `queue`, shared by the instances' `next` requests.
    waiting: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    cold_starts: Mutex<Vec<Duration>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

#[derive(Debug)]
struct Pending {
    request_id: String,
    payload: Bytes,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
}

/// What one instance is doing, shared by its Runtime API server and its supervisor.
#[derive(Debug, Default)]
struct InstanceState {
    /// The invocation being run: its id and where its outcome goes.
    running: Option<(String, oneshot::Sender<Result<Bytes, InvokeError>>)>,
    /// The report of a failed initialisation.
    init_error: Option<InvokeError>,
    /// When the current process was started, until it first asks for an event.
    started: Option<Instant>,
    /// Set once the current process has asked for an event.
    ready: bool,
}

#[derive(Debug)]
struct Instance {
    label: String,
    shared: Arc<Shared>,
    state: Mutex<InstanceState>,
    /// Asks the supervisor to kill the process (after a timeout).
    kill: mpsc::UnboundedSender<()>,
    /// Announces readiness (first `next`) and exits of the process to [`Function::start`].
    events: mpsc::UnboundedSender<Lifecycle>,
    logs: LogSink,
}

#[derive(Debug)]
enum Lifecycle {
    Ready,
    Exited(String),
}

impl Function {
    /// Starts every instance and waits until each has asked for its first event.
    ///
    /// # Errors
    ///
    /// A process cannot be started, exits or reports an initialisation error before asking for
    /// an event, or is not ready within [`FunctionSpec::startup_timeout`]. The function's own log
    /// lines (already sent to `logs`) usually say why.
    pub async fn start(spec: FunctionSpec, logs: LogSink) -> anyhow::Result<Self> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            arn: format!("arn:aws:lambda:{}:{ACCOUNT_ID}:function:{}", spec.region, spec.name),
            name: spec.name.clone(),
            timeout: spec.timeout,
            queue: queue_tx,
            waiting: tokio::sync::Mutex::new(queue_rx),
            cold_starts: Mutex::new(Vec::new()),
            stop,
            tasks: Mutex::new(Vec::new()),
        });
        let function = Self { shared: Arc::clone(&shared) };
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let count = spec.instances.max(1);
        for index in 0..count {
            let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                .await
                .context("binding a Runtime API port")?;
            let addr = listener.local_addr().context("reading the Runtime API port")?;
            let (kill_tx, kill_rx) = mpsc::unbounded_channel();
            let label = if count == 1 { spec.name.clone() } else { format!("{}#{index}", spec.name) };
            let instance = Arc::new(Instance {
                label,
                shared: Arc::clone(&shared),
                state: Mutex::new(InstanceState::default()),
                kill: kill_tx,
                events: events_tx.clone(),
                logs: logs.clone(),
            });
            let server =
                tokio::spawn(serve_runtime_api(listener, Arc::clone(&instance), shared.stop.subscribe()));
            let supervisor = tokio::spawn(supervise(spec.clone(), addr, instance, kill_rx));
            lock(&shared.tasks).extend([server, supervisor]);
        }
        drop(events_tx);

        let mut ready = 0;
        let deadline = tokio::time::Instant::now() + spec.startup_timeout;
        while ready < count {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(Lifecycle::Ready)) => ready += 1,
                Ok(Some(Lifecycle::Exited(why))) => {
                    function.stop().await;
                    bail!("function `{}` failed to start: {why} (its log lines above say why)", spec.name);
                }
                Ok(None) => bail!("function `{}` stopped while starting", spec.name),
                Err(_) => {
                    function.stop().await;
                    bail!(
                        "function `{}` did not ask for an event within {:?} of starting",
                        spec.name,
                        spec.startup_timeout
                    );
                }
            }
        }
        Ok(function)
    }

    /// The function's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The function's ARN (unqualified).
    #[must_use]
    pub fn arn(&self) -> &str {
        &self.shared.arn
    }

    /// The function's timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.shared.timeout
    }

    /// How long each process took from its start to its first request for an event, in start
    /// order (restarts included).
    #[must_use]
    pub fn cold_starts(&self) -> Vec<Duration> {
        lock(&self.shared.cold_starts).clone()
    }

    /// Invokes the function with `payload` (an event, as JSON) and waits for its answer.
    ///
    /// # Errors
    ///
    /// The function reported an error, timed out, crashed, or was stopped.
    pub async fn invoke(&self, payload: impl Into<Bytes>) -> Result<Bytes, InvokeError> {
        let (reply, answer) = oneshot::channel();
        let pending =
            Pending { request_id: uuid::Uuid::now_v7().to_string(), payload: payload.into(), reply };
        if *self.shared.stop.borrow() || self.shared.queue.send(pending).is_err() {
            return Err(InvokeError::Stopped);
        }
        answer.await.unwrap_or(Err(InvokeError::Stopped))
    }

    /// Stops every instance: kills the processes, fails what is queued or running, and waits.
    pub async fn stop(&self) {
        self.shared.stop.send_replace(true);
        let tasks = std::mem::take(&mut *lock(&self.shared.tasks));
        for task in tasks {
            let _ = task.await;
        }
        // What was still queued fails, and nothing more can be queued.
        let mut waiting = self.shared.waiting.lock().await;
        waiting.close();
        while let Ok(pending) = waiting.try_recv() {
            let _ = pending.reply.send(Err(InvokeError::Stopped));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Instance {
    fn fail_running(&self, error: InvokeError) {
        if let Some((_, reply)) = lock(&self.state).running.take() {
            let _ = reply.send(Err(error));
        }
    }

    fn log(&self, line: &str) {
        self.logs.line("dev", &format!("{}: {line}", self.label));
    }
}

/// Runs the instance's process, restarting it whenever it exits or is killed, until stopped.
async fn supervise(
    spec: FunctionSpec,
    api: SocketAddr,
    instance: Arc<Instance>,
    mut kill: mpsc::UnboundedReceiver<()>,
) {
    let mut stop = instance.shared.stop.subscribe();
    let mut backoff = Duration::from_millis(100);
    loop {
        {
            let mut state = lock(&instance.state);
            state.started = Some(Instant::now());
            state.ready = false;
            state.init_error = None;
        }
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(lambda_environment(&spec, api))
            .envs(&spec.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                let why = format!("cannot start {}: {err}", spec.program.display());
                instance.log(&why);
                let _ = instance.events.send(Lifecycle::Exited(why));
                return;
            }
        };
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_lines(out, instance.logs.clone(), instance.label.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_lines(err, instance.logs.clone(), instance.label.clone()));
        }

        let why = tokio::select! {
            status = child.wait() => match status {
                Ok(status) => format!("the process exited ({status})"),
                Err(err) => format!("the process could not be waited for: {err}"),
            },
            Some(()) = kill.recv() => {
                let _ = child.kill().await;
                "the process was killed after a timeout".to_owned()
            }
            _ = crate::stopped(&mut stop) => {
                let _ = child.kill().await;
                instance.fail_running(InvokeError::Stopped);
                return;
            }
        };
        let (was_ready, init_error) = {
            let state = lock(&instance.state);
            (state.ready, state.init_error.clone())
        };
        instance.fail_running(InvokeError::Crashed(why.clone()));
        if !was_ready {
            let why = init_error.map_or(why.clone(), |e| format!("{e} ({why})"));
            let _ = instance.events.send(Lifecycle::Exited(why));
        }
        instance.log(&format!("{why}; starting a new environment"));
        // A process that keeps failing before it is ready is restarted ever more slowly.
        backoff =
            if was_ready { Duration::from_millis(100) } else { (backoff * 2).min(Duration::from_secs(5)) };
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = crate::stopped(&mut stop) => return,
        }
    }
}

/// The variables Lambda defines for every function.
fn lambda_environment(spec: &FunctionSpec, api: SocketAddr) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name)),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local".to_owned()),
        ("AWS_REGION", spec.region.clone()),
        ("AWS_DEFAULT_REGION", spec.region.clone()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // The log level may be chosen from outside, as with a function's variables on AWS.
    if let Ok(level) = std::env::var("RUST_LOG") {
        env.insert("RUST_LOG".to_owned(), level);
    }
    env
}

async fn forward_lines(stream: impl AsyncRead + Unpin, logs: LogSink, label: String) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        logs.line(&label, &line);
    }
}

/// Serves one instance's Runtime API until the function stops.
async fn serve_runtime_api(listener: TcpListener, instance: Arc<Instance>, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = crate::stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let instance = Arc::clone(&instance);
                let service = hyper::service::service_fn(move |request| {
                    let instance = Arc::clone(&instance);
                    async move { Ok::<_, Infallible>(route(&instance, request).await) }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        }
    }
    connections.shutdown().await;
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({"errorType": error_type, "errorMessage": message}))
}

async fn route(instance: &Arc<Instance>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown Runtime API path");
    };
    let method = request.method().clone();
    match (method, rest) {
        (Method::GET, "/invocation/next") => next(instance).await,
        (Method::POST, "/init/error") => {
            let report = read_report(request).await;
            instance.log(&format!("initialisation failed: {report}"));
            lock(&instance.state).init_error = Some(report);
            json_response(StatusCode::ACCEPTED, &json!({"status": "OK"}))
        }
        (Method::POST, rest) => {
            let Some((id, kind)) = rest.strip_prefix("/invocation/").and_then(|r| r.rsplit_once('/')) else {
                return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown Runtime API path");
            };
            let outcome = match kind {
                "response" => match Limited::new(request.into_body(), MAX_RESPONSE_BYTES).collect().await {
                    Ok(body) => Ok(body.to_bytes()),
                    Err(_) => Err(InvokeError::Function {
                        error_type: "Function.ResponseSizeTooLarge".to_owned(),
                        message: format!("the response is larger than {MAX_RESPONSE_BYTES} bytes"),
                    }),
                },
                "error" => Err(read_report(request).await),
                _ => return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown Runtime API path"),
            };
            let running = {
                let mut state = lock(&instance.state);
                match &state.running {
                    Some((running, _)) if running == id => state.running.take(),
                    _ => None,
                }
            };
            let Some((_, reply)) = running else {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    "no such invocation is running",
                );
            };
            let _ = reply.send(outcome);
            json_response(StatusCode::ACCEPTED, &json!({"status": "OK"}))
        }
        _ => api_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "method not allowed"),
    }
}

async fn read_report(request: Request<Incoming>) -> InvokeError {
    let body = Limited::new(request.into_body(), 1024 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let report: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |field: &str| report.get(field).and_then(Value::as_str).map(str::to_owned);
    InvokeError::Function {
        error_type: text("errorType").unwrap_or_else(|| "Unhandled".to_owned()),
        message: text("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
    }
}

/// `GET …/invocation/next`: hands out the next queued event (waiting for one).
async fn next(instance: &Arc<Instance>) -> Response<Full<Bytes>> {
    let first = {
        let mut state = lock(&instance.state);
        let first = (!state.ready).then(|| state.started.map(|s| s.elapsed())).flatten();
        state.ready = true;
        first
    };
    // Asking again without answering abandons the running invocation.
    instance
        .fail_running(InvokeError::Crashed("the runtime asked for an event without answering".to_owned()));
    if let Some(cold_start) = first {
        lock(&instance.shared.cold_starts).push(cold_start);
        let _ = instance.events.send(Lifecycle::Ready);
    }

    // While the function stops, the request is left unanswered: the process is killed waiting,
    // as a Lambda environment is frozen, instead of logging a failed poll.
    let mut stop = instance.shared.stop.subscribe();
    let pending = {
        let mut queue = instance.shared.waiting.lock().await;
        tokio::select! {
            pending = queue.recv() => pending,
            () = crate::stopped(&mut stop) => None,
        }
    };
    let Some(pending) = pending else {
        return std::future::pending().await;
    };

    let timeout = instance.shared.timeout;
    let deadline = SystemTime::now() + timeout;
    let deadline_ms = deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let request_id = pending.request_id.clone();
    lock(&instance.state).running = Some((pending.request_id, pending.reply));

    // The timeout: fail the invocation and throw the environment away.
    let watched = Arc::clone(instance);
    let id = request_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        let timed_out = {
            let mut state = lock(&watched.state);
            match &state.running {
                Some((running, _)) if *running == id => state.running.take(),
                _ => None,
            }
        };
        if let Some((_, reply)) = timed_out {
            let _ = reply.send(Err(InvokeError::Timeout(timeout)));
            watched.log(&format!("invocation {id} timed out after {timeout:?}"));
            let _ = watched.kill.send(());
        }
    });

    let mut response = Response::new(Full::new(pending.payload));
    let headers = response.headers_mut();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        ("lambda-runtime-invoked-function-arn", instance.shared.arn.clone()),
        ("lambda-runtime-trace-id", trace_id(deadline_ms / 1000, &request_id)),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// An X-Ray style trace header: `Root=1-{epoch seconds, hex}-{24 hex digits}`.
fn trace_id(epoch_seconds: u128, request_id: &str) -> String {
    let digits: String = request_id.chars().filter(char::is_ascii_hexdigit).take(24).collect();
    format!("Root=1-{epoch_seconds:08x}-{digits:0>24}")
}
