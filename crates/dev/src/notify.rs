//! S3 → Lambda event notifications: the bucket's `ObjectCreated:*` notification for the `raw/`
//! prefix, delivered as Lambda delivers asynchronous invocations.
//!
//! Every object created under `raw/` becomes one S3 event, shaped as S3 sends it (form-encoded
//! key, size, eTag, sequencer, eventTime with milliseconds and `Z`). It is invoked
//! asynchronously; a failed invocation is retried twice with back-off, and an event that still
//! fails is written to the dead-letter folder as a Lambda on-failure destination record (and
//! logged). Writes anywhere else, `thumbs/` included, trigger nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use thumbforge_core::keys::RAW_PREFIX;
use thumbforge_s3_local::ObjectCreated;
use tokio::sync::{Notify, broadcast};

use crate::lambda::{Function, InvokeError};
use crate::logs::LogSink;
use crate::time::{epoch_millis, rfc3339_millis};

/// How failed asynchronous invocations are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before each retry; Lambda retries twice (about one, then two minutes apart).
    pub delays: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// Lambda's two retries, with the waits shortened to 1 s and 2 s for a local stack.
    fn default() -> Self {
        Self { delays: vec![Duration::from_secs(1), Duration::from_secs(2)] }
    }
}

/// What became of one event.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The object's key (raw).
    pub key: String,
    /// The event as delivered.
    pub event: Value,
    /// How many invocations it took (1 + retries).
    pub attempts: u32,
    /// The function's last answer, or its last error.
    pub outcome: Result<Value, InvokeError>,
    /// From the object's creation to the last answer.
    pub elapsed: Duration,
}

/// The notification configuration and its deliveries.
#[derive(Debug)]
pub struct Notifications {
    function: Function,
    bucket: String,
    region: String,
    dead_letters: PathBuf,
    retry: RetryPolicy,
    logs: LogSink,
    in_flight: AtomicUsize,
    idle: Notify,
    deliveries: Mutex<Vec<Delivery>>,
}

const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/')
    .remove(b'*')
    .remove(b' ');

/// A key as S3 writes it in event records: URL-encoded, with `+` for a space.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ENCODE).to_string().replace(' ', "+")
}

/// The S3 event for one created object.
pub fn s3_event(created: &ObjectCreated, region: &str) -> Value {
    let request_id = format!("{:016X}", epoch_millis(created.time));
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": rfc3339_millis(created.time),
            "eventName": created.event_name.as_str(),
            "userIdentity": {"principalId": "AWS:LOCALUSER"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": "local"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "thumbnail-on-raw-upload",
                "bucket": {
                    "name": created.bucket,
                    "ownerIdentity": {"principalId": "LOCALOWNER"},
                    "arn": format!("arn:aws:s3:::{}", created.bucket),
                },
                "object": {
                    "key": encode_key(&created.key),
                    "size": created.size,
                    "eTag": created.etag,
                    "sequencer": created.sequencer,
                },
            },
        }]
    })
}

impl Notifications {
    /// Notifications of `bucket`'s `raw/` creations to `function`; failures land in
    /// `dead_letters`.
    #[must_use]
    pub fn new(
        function: Function,
        bucket: impl Into<String>,
        region: impl Into<String>,
        dead_letters: PathBuf,
        retry: RetryPolicy,
        logs: LogSink,
    ) -> Arc<Self> {
        Arc::new(Self {
            function,
            bucket: bucket.into(),
            region: region.into(),
            dead_letters,
            retry,
            logs,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            deliveries: Mutex::new(Vec::new()),
        })
    }

    /// Whether the notification configuration matches: this bucket, prefix `raw/`.
    #[must_use]
    pub fn matches(&self, created: &ObjectCreated) -> bool {
        created.bucket == self.bucket && created.key.starts_with(RAW_PREFIX)
    }

    /// Delivers every matching creation received from `events` until the channel closes.
    pub async fn run(self: Arc<Self>, mut events: broadcast::Receiver<ObjectCreated>) {
        loop {
            match events.recv().await {
                Ok(created) if self.matches(&created) => {
                    let event = s3_event(&created, &self.region);
                    let this = Arc::clone(&self);
                    this.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let started = created.time.elapsed().map_or_else(
                            |_| Instant::now(),
                            |age| Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
                        );
                        this.deliver(created.key, event, started).await;
                        if this.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                            this.idle.notify_waiters();
                        }
                    });
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => self.logs.line(
                    "dev",
                    &format!("ERROR: {missed} S3 events were lost before they could be delivered"),
                ),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Invokes the function with `event` as an asynchronous invocation: retries, then the
    /// dead-letter folder. Returns the delivery (also kept for [`Notifications::deliveries`]).
    pub async fn deliver(&self, key: String, event: Value, started: Instant) -> Delivery {
        let payload = event.to_string();
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let outcome = self.function.invoke(payload.clone()).await.and_then(|answer| {
                serde_json::from_slice::<Value>(&answer).map_err(|e| InvokeError::Function {
                    error_type: "Runtime.InvalidResponse".to_owned(),
                    message: format!("the answer is not JSON: {e}"),
                })
            });
            let retry_in = self.retry.delays.get(attempts as usize - 1).copied();
            match (&outcome, retry_in) {
                (Ok(answer), _) => {
                    self.logs.line(
                        "dev",
                        &format!(
                            "{key} → {}: {answer} ({attempts} attempt(s), {:.0?})",
                            self.function.name(),
                            started.elapsed()
                        ),
                    );
                    break outcome;
                }
                (Err(InvokeError::Stopped), _) | (Err(_), None) => break outcome,
                (Err(error), Some(delay)) => {
                    self.logs.line(
                        "dev",
                        &format!(
                            "{key} → {}: attempt {attempts} failed: {error}; retrying in {delay:?}",
                            self.function.name()
                        ),
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        };
        if let Err(error) = &outcome
            && *error != InvokeError::Stopped
        {
            self.dead_letter(&event, attempts, error).await;
        }
        let delivery = Delivery { key, event, attempts, outcome, elapsed: started.elapsed() };
        self.deliveries.lock().unwrap_or_else(PoisonError::into_inner).push(delivery.clone());
        delivery
    }

    /// Every delivery finished so far, in the order they finished.
    #[must_use]
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many deliveries are under way (retries included).
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no delivery is under way.
    pub async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.in_flight() == 0 {
                return;
            }
            idle.await;
        }
    }

    /// The dead-letter folder.
    #[must_use]
    pub fn dead_letter_dir(&self) -> &std::path::Path {
        &self.dead_letters
    }

    /// Writes a Lambda on-failure destination record for an event that failed every attempt.
    async fn dead_letter(&self, event: &Value, attempts: u32, error: &InvokeError) {
        let now = SystemTime::now();
        let request_id = uuid::Uuid::now_v7().to_string();
        let (error_type, message) = match error {
            InvokeError::Function { error_type, message } => (error_type.clone(), message.clone()),
            other => ("Unhandled".to_owned(), other.to_string()),
        };
        let record = json!({
            "version": "1.0",
            "timestamp": rfc3339_millis(now),
            "requestContext": {
                "requestId": request_id,
                "functionArn": format!("{}:$LATEST", self.function.arn()),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": error_type, "errorMessage": message},
        });
        let path = self.dead_letters.join(format!("{}-{request_id}.json", epoch_millis(now)));
        let written = match tokio::fs::create_dir_all(&self.dead_letters).await {
            Ok(()) => tokio::fs::write(&path, format!("{record:#}\n")).await,
            Err(err) => Err(err),
        };
        match written {
            Ok(()) => self.logs.line(
                "dev",
                &format!("ERROR: an event failed {attempts} times ({error}); kept in {}", path.display()),
            ),
            Err(err) => self.logs.line(
                "dev",
                &format!(
                    "ERROR: an event failed {attempts} times ({error}) and could not be kept: {err}: {record}"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use thumbforge_s3_local::EventName;

    use super::*;

    #[test]
    fn keys_are_encoded_as_s3_encodes_them() {
        assert_eq!(encode_key("raw/a b+c.jpg"), "raw/a+b%2Bc.jpg");
        assert_eq!(encode_key("raw/été=1.jpg"), "raw/%C3%A9t%C3%A9%3D1.jpg");
        assert_eq!(encode_key("raw/0192f0c4-7d1e.jpg"), "raw/0192f0c4-7d1e.jpg");
    }

    #[test]
    fn events_are_shaped_as_s3_sends_them() {
        let created = ObjectCreated {
            bucket: "media".into(),
            key: "raw/a b.jpg".into(),
            size: 42,
            etag: "0123456789abcdef0123456789abcdef".into(),
            sequencer: "00000000000000AB".into(),
            event_name: EventName::Put,
            time: UNIX_EPOCH + Duration::from_millis(1_741_788_191_007),
        };
        let event = s3_event(&created, "eu-west-1");
        let record = &event["Records"][0];
        assert_eq!(record["eventName"], "ObjectCreated:Put");
        assert_eq!(record["eventTime"], "2025-03-12T14:03:11.007Z");
        assert_eq!(record["awsRegion"], "eu-west-1");
        assert_eq!(record["s3"]["bucket"]["arn"], "arn:aws:s3:::media");
        assert_eq!(record["s3"]["object"]["key"], "raw/a+b.jpg");
        assert_eq!(record["s3"]["object"]["size"], 42);
        assert_eq!(record["s3"]["object"]["sequencer"], "00000000000000AB");
        // aws_lambda_events reads it as an S3 event.
        let parsed: aws_lambda_events::event::s3::S3Event = serde_json::from_value(event).unwrap();
        assert_eq!(parsed.records[0].s3.object.size, Some(42));
        assert_eq!(parsed.records[0].event_time.timestamp_millis(), 1_741_788_191_007);
    }
}
