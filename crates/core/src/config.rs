//! The one typed configuration of thumbforge.
//!
//! Every tunable lives here, with its default in code. `thumbforge.toml` at the repository root
//! overrides the defaults; xtask serialises the result into Terraform variables and the local stack
//! reads it too. The Lambdas receive the runtime part ([`RuntimeConfig`]) through the environment
//! variables named in [`crate::env`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::Auth;
use crate::env;
use crate::format::{InputFormat, OutputFormat};
use crate::keys;
use crate::watermark::{Gravity, Watermark};

/// A byte count with a readable `Display` (`25 MiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match UNITS.into_iter().find(|&(_, size)| bytes >= size) {
        Some((unit, size)) if bytes.is_multiple_of(size) => format!("{} {unit}", bytes / size),
        Some((unit, size)) => format!("{:.1} {unit}", bytes as f64 / size as f64),
        None => format!("{bytes} bytes"),
    }
}

/// The whole configuration, as written in `thumbforge.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// What the thumbnail function produces.
    pub thumbnails: Thumbnails,
    /// What an upload may be.
    pub limits: Limits,
    /// The pre-signed upload handed out by the presign function.
    pub upload: Upload,
    /// The pre-signed download of an original (`GET /api/images/{id}/content?size=original`).
    pub download: Download,
    /// What one user may upload per day and keep.
    pub quotas: Quotas,
    /// Lambda sizing (deployment only).
    pub functions: Functions,
    /// The HTTP API's throttles (deployment only).
    pub api: Api,
    /// How long the media bucket keeps what (deployment only).
    pub storage: Storage,
    /// Log retention (deployment only).
    pub logs: Logs,
    /// CloudFront's access logs and the optional web application firewall (deployment only).
    pub edge: Edge,
    /// Alarms, their subscribers, tracing and the cost budget (deployment only).
    pub alarms: Alarms,
    /// Sign-in and the API's authorizer.
    pub auth: Auth,
    /// The clean-up of deleted images (deployment: the table stream's event source mapping;
    /// locally: the stream poller that emulates it).
    pub cleanup: Cleanup,
    /// The optional watermark drawn on the larger renditions.
    pub watermark: Watermark,
}

/// How the table's stream drives the clean-up of deleted images: batches of removed image items
/// go to the thumbnail function, a failed batch is retried (split in two after each failure),
/// and what still fails goes to the clean-up dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cleanup {
    /// Most stream records per invocation (1–1000).
    pub batch_size: u16,
    /// Retries of a failing batch before its records go to the dead-letter queue (0–10000).
    pub max_retries: u32,
    /// Oldest record still retried, in seconds (60–86400: the stream keeps records a day).
    pub max_record_age_seconds: u32,
}

impl Default for Cleanup {
    fn default() -> Self {
        Self { batch_size: 10, max_retries: 10, max_record_age_seconds: 86_400 }
    }
}

/// The name `GET /api/images/{id}/content?size=` gives the uploaded file itself: no rendition
/// may be called so.
pub const ORIGINAL: &str = "original";
/// Longest rendition name.
pub const SIZE_NAME_MAX_CHARS: usize = 16;
/// The box sizes a rendition may have, in pixels.
pub const SIZE_PX: (u32, u32) = (16, 4096);

/// The renditions by name (`small = 256`): each fits inside a square box of that many pixels.
/// Names are what clients ask for (`?size=small`); keys stay `thumbs/{id}/{px}.{ext}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sizes(BTreeMap<String, u32>);

impl Sizes {
    /// The sizes of `pairs` (a later pair of the same name replaces an earlier one).
    pub fn new<S: Into<String>>(pairs: impl IntoIterator<Item = (S, u32)>) -> Self {
        Self(pairs.into_iter().map(|(name, px)| (name.into(), px)).collect())
    }

    /// The box of the size called `name`.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.0.get(name).copied()
    }

    /// How many sizes are named.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `(name, px)`, smallest box first (equal boxes, which validation refuses, by name).
    pub fn smallest_first(&self) -> Vec<(&str, u32)> {
        let mut sizes: Vec<(&str, u32)> = self.0.iter().map(|(name, &px)| (name.as_str(), px)).collect();
        sizes.sort_by_key(|&(name, px)| (px, name));
        sizes
    }

    /// The names, smallest box first.
    pub fn names(&self) -> Vec<&str> {
        self.smallest_first().into_iter().map(|(name, _)| name).collect()
    }

    /// The boxes, largest first, without duplicates.
    pub fn px_largest_first(&self) -> Vec<u32> {
        let mut px: Vec<u32> = self.0.values().copied().collect();
        px.sort_unstable_by(|a, b| b.cmp(a));
        px.dedup();
        px
    }
}

impl<S: Into<String>, const N: usize> From<[(S, u32); N]> for Sizes {
    fn from(pairs: [(S, u32); N]) -> Self {
        Self::new(pairs)
    }
}

/// Whether `name` may name a rendition: 1–[`SIZE_NAME_MAX_CHARS`] characters of `a-z`, not
/// [`ORIGINAL`].
pub fn is_size_name(name: &str) -> bool {
    (1..=SIZE_NAME_MAX_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase())
        && name != ORIGINAL
}

/// Renditions and output formats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thumbnails {
    /// The renditions by name; each fits inside a square box of its many pixels (never upscaled).
    pub sizes: Sizes,
    /// JPEG output quality (1–100). JPEG is always written.
    pub jpeg_quality: u8,
    /// The formats every rendition is written in; must hold `jpeg`, each once.
    pub formats: Vec<OutputFormat>,
    /// Lossy WebP output quality (1–100).
    pub webp_quality: u8,
    /// libwebp's `method` (0–6, sharp's `effort`): higher spends more time on smaller files.
    pub webp_effort: u8,
    /// AVIF output quality (1–100), when `formats` lists `avif`.
    pub avif_quality: u8,
    /// rav1e's speed preset (1–10): lower spends (much) more time on smaller files.
    pub avif_speed: u8,
    /// How long, in seconds, browsers and CloudFront may keep a rendition (60–86400): the
    /// longest a deleted photo's thumbnail can still be served from a cache.
    pub cache_seconds: u32,
}

impl Default for Thumbnails {
    fn default() -> Self {
        Self {
            sizes: Sizes::from([("small", 256), ("medium", 1024)]),
            jpeg_quality: 80,
            formats: vec![OutputFormat::Jpeg, OutputFormat::Webp],
            webp_quality: 80,
            webp_effort: 2,
            avif_quality: 60,
            avif_speed: 9,
            cache_seconds: 3600,
        }
    }
}

impl Thumbnails {
    /// The formats every rendition is written in, in the manifest's order ([`OutputFormat::ALL`]:
    /// JPEG first), whatever order the config lists them in. The engine writes, and the API
    /// announces, renditions in this order.
    pub fn output_formats(&self) -> Vec<OutputFormat> {
        OutputFormat::ALL.into_iter().filter(|f| self.formats.contains(f)).collect()
    }

    /// Whether renditions are written in `format`.
    pub fn writes(&self, format: OutputFormat) -> bool {
        self.formats.contains(&format)
    }

    /// The written formats a client may be offered instead of JPEG, best (smallest files)
    /// first: what the CloudFront Function and the local edge pick from by `Accept` for an
    /// extension-less `/thumbs/{id}/{px}`, and what the page's `<picture>` lists before the
    /// JPEG `<img>`. JPEG, the fallback every browser decodes, is never in it.
    pub fn negotiated_formats(&self) -> Vec<OutputFormat> {
        let mut formats = self.output_formats();
        formats.retain(|&f| f != OutputFormat::Jpeg);
        formats.reverse();
        formats
    }

    /// The `Cache-Control` every rendition is written with: public, for
    /// [`cache_seconds`](Self::cache_seconds), in browsers and at the edge alike. Never
    /// `immutable`: a deleted photo's thumbnails must stop being served.
    pub fn cache_control(&self) -> String {
        format!("public, max-age={}", self.cache_seconds)
    }
}

/// Hard limits on what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest upload in bytes, signed into the upload URL and re-checked before download.
    pub max_upload_bytes: u64,
    /// Largest image in pixels (width × height), checked from the header before decoding.
    pub max_pixels: u64,
    /// Largest width or height in pixels, checked from the header before decoding.
    pub max_side: u32,
    /// Most memory one decoder may allocate, in bytes (`image::Limits::max_alloc`).
    pub max_decode_bytes: u64,
    /// Input formats accepted, detected from the bytes themselves.
    pub allowed_types: Vec<InputFormat>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 25 << 20,
            max_pixels: 50_000_000,
            max_side: 16_384,
            max_decode_bytes: 512 << 20,
            allowed_types: InputFormat::ALL.to_vec(),
        }
    }
}

/// The pre-signed upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upload {
    /// How long an upload URL stays valid, in seconds (1–3600).
    pub presign_expiry_seconds: u32,
}

impl Default for Upload {
    fn default() -> Self {
        Self { presign_expiry_seconds: 300 }
    }
}

/// The pre-signed download of an original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Download {
    /// How long a download URL of an original stays valid, in seconds (1–3600).
    pub url_expiry_seconds: u32,
}

impl Default for Download {
    fn default() -> Self {
        Self { url_expiry_seconds: 60 }
    }
}

/// Per-user ceilings, kept in the user's profile item with conditional writes
/// (`POST /api/uploads` past one answers `429` for a daily one, `413` for storage).
///
/// A day is a UTC calendar day: its counts start again at 00:00 UTC. What is stored counts every
/// image the user has (pending ones included) until it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Uploads one user may start per day (1–1 000 000).
    pub uploads_per_day: u32,
    /// Bytes one user may upload per day (at least `limits.max_upload_bytes`, at most 1 TiB).
    pub bytes_per_day: u64,
    /// Photos one user may keep (1–10 000 000).
    pub photos_stored: u32,
    /// Bytes one user may keep (at least `limits.max_upload_bytes`, at most 100 TiB).
    pub bytes_stored: u64,
}

impl Quotas {
    /// No ceiling at all (tests and tools that write items without a user behind them).
    pub const UNLIMITED: Self = Self {
        uploads_per_day: u32::MAX,
        bytes_per_day: u64::MAX,
        photos_stored: u32::MAX,
        bytes_stored: u64::MAX,
    };
}

impl Default for Quotas {
    fn default() -> Self {
        Self { uploads_per_day: 500, bytes_per_day: 5 << 30, photos_stored: 20_000, bytes_stored: 50 << 30 }
    }
}

/// Lambda sizing for both functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Functions {
    /// The thumbnail function (memory also buys CPU on Lambda).
    pub thumbnail: Function,
    /// The presign function.
    pub presign: Function,
    /// Concurrent executions reserved for, and capping, the thumbnail function outside a `dev`
    /// environment (0–1000; 0: none). A cap on what a flood of uploads can cost at once; an
    /// account must keep 100 unreserved, so new accounts (a limit of 10) deploy with 0.
    pub thumbnail_reserved_concurrency: u32,
}

impl Default for Functions {
    fn default() -> Self {
        Self {
            thumbnail: Function { memory_mb: 1024, timeout_seconds: 30 },
            presign: Function { memory_mb: 256, timeout_seconds: 10 },
            thumbnail_reserved_concurrency: 20,
        }
    }
}

/// The media bucket's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Days after which an original under `raw/` is deleted (its thumbnails and item stay; the
    /// original can no longer be downloaded or exported); 0 keeps originals (0–36 500).
    pub raw_expiration_days: u32,
    /// Days an overwritten or deleted object version is kept (1–36 500).
    pub noncurrent_version_days: u32,
}

impl Default for Storage {
    fn default() -> Self {
        Self { raw_expiration_days: 0, noncurrent_version_days: 30 }
    }
}

/// API Gateway's token bucket for a route: requests per second, and the burst above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Steady requests per second (1–10 000).
    pub rate_per_second: u32,
    /// Burst (1–5000).
    pub burst: u32,
}

/// The HTTP API's throttles, per kind of route (shared by every caller: a ceiling on what the
/// API can cost, not a per-user limit; the quotas are that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// `GET` routes (and the stage's default).
    pub reads: Throttle,
    /// Routes that change something (`POST`, `PATCH`, `PUT`, `DELETE`), the export too.
    pub writes: Throttle,
    /// `POST /api/uploads`: each one can start an upload and a thumbnail job.
    pub uploads: Throttle,
}

impl Default for Api {
    fn default() -> Self {
        Self {
            reads: Throttle { rate_per_second: 50, burst: 100 },
            writes: Throttle { rate_per_second: 20, burst: 40 },
            uploads: Throttle { rate_per_second: 5, burst: 20 },
        }
    }
}

impl Api {
    /// The throttle of `route`.
    pub fn throttle_of(&self, route: &crate::routes::Route) -> Throttle {
        use crate::routes::Endpoint;
        match route.endpoint {
            Endpoint::CreateUpload => self.uploads,
            Endpoint::ExportAccount => self.writes,
            _ if route.method == "GET" => self.reads,
            _ => self.writes,
        }
    }
}

/// The API function's name: its package, binary, deployment zip and Terraform module.
pub const PRESIGN: &str = "presign";
/// The thumbnail function's name, likewise.
pub const THUMBNAIL: &str = "thumbnail";
/// Both functions, in the order every tool lists them.
pub const FUNCTION_NAMES: [&str; 2] = [PRESIGN, THUMBNAIL];

impl Functions {
    /// Each function's sizing by its name, in [`FUNCTION_NAMES`] order.
    pub fn by_name(&self) -> [(&'static str, Function); 2] {
        [(PRESIGN, self.presign), (THUMBNAIL, self.thumbnail)]
    }
}

/// One function's memory and timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// Memory in MB ([`MEMORY_MB`]).
    pub memory_mb: u32,
    /// Timeout in seconds (1 to [`PRESIGN_MAX_TIMEOUT_SECONDS`] or [`LAMBDA_MAX_TIMEOUT_SECONDS`]).
    pub timeout_seconds: u32,
}

/// The memory Lambda lets a function have, in MB.
pub const MEMORY_MB: (u32, u32) = (128, 10_240);
/// The longest timeout Lambda allows.
pub const LAMBDA_MAX_TIMEOUT_SECONDS: u32 = 900;
/// The longest the API function may run: API Gateway gives up on an integration after 30 s, so a
/// longer timeout would only turn a slow answer into API Gateway's own 503.
pub const PRESIGN_MAX_TIMEOUT_SECONDS: u32 = 29;

/// CloudWatch log retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logs {
    /// Days to keep function and API logs (a CloudWatch-supported value).
    pub retention_days: u32,
}

impl Default for Logs {
    fn default() -> Self {
        Self { retention_days: 14 }
    }
}

/// What sits at the edge besides the distribution itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Edge {
    /// CloudFront standard logging (v2) of every request (client IP, path, status) to a
    /// CloudWatch log group in us-east-1, kept `logs.retention_days`.
    pub access_logs: bool,
    /// An AWS WAF web ACL on the distribution: the AWS managed common rule set and a per-IP rate
    /// rule on `/api/*`. It has a monthly cost (see the README's "Costs and limits").
    pub waf: bool,
    /// The WAF's rate rule: requests one IP may make to `/api/*` in any 5 minutes before it is
    /// blocked (100–2 000 000 000).
    pub waf_api_requests_per_5_minutes: u32,
}

impl Default for Edge {
    fn default() -> Self {
        Self { access_logs: true, waf: false, waf_api_requests_per_5_minutes: 1000 }
    }
}

/// Alarms (terraform/observability.tf) and who hears them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Alarms {
    /// Email addresses subscribed to the alarm topic (each confirms the subscription from a
    /// mail AWS sends); empty: the alarms only show in the console.
    pub emails: Vec<String>,
    /// A monthly AWS Budgets cost budget in USD, mailed to `emails` at 80 % of the forecast and
    /// at 100 % of the actual; 0: none (0–1 000 000).
    pub monthly_budget_usd: u32,
    /// Alarm when the 95th percentile of the time from upload to ready over 15 minutes passes
    /// this many seconds (1–3600).
    pub time_to_ready_p95_seconds: u32,
    /// Alarm when more than this percent of the API's answers over 5 minutes are 5xx (1–100).
    pub api_5xx_percent: u32,
    /// AWS X-Ray active tracing of both functions (billed per trace past the free tier).
    pub xray: bool,
}

impl Default for Alarms {
    fn default() -> Self {
        Self {
            emails: Vec::new(),
            monthly_budget_usd: 0,
            time_to_ready_p95_seconds: 60,
            api_5xx_percent: 5,
            xray: false,
        }
    }
}

impl Alarms {
    fn problems(&self, problems: &mut Vec<String>) {
        for email in &self.emails {
            let valid = email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.contains(char::is_whitespace)
                    && email.matches('@').count() == 1
            });
            if !valid {
                problems.push(format!("`alarms.emails` has {email:?}, which is not an email address"));
            }
        }
        check_range(problems, "alarms.monthly_budget_usd", self.monthly_budget_usd, 0, 1_000_000);
        if self.monthly_budget_usd > 0 && self.emails.is_empty() {
            problems.push(
                "`alarms.monthly_budget_usd` is set but `alarms.emails` is empty: the budget would tell no one"
                    .to_owned(),
            );
        }
        check_range(problems, "alarms.time_to_ready_p95_seconds", self.time_to_ready_p95_seconds, 1, 3600);
        check_range(problems, "alarms.api_5xx_percent", self.api_5xx_percent, 1, 100);
    }
}

/// The retention periods CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// Largest object a single S3 `PutObject` accepts.
pub const S3_MAX_PUT_BYTES: u64 = 5 << 30;

/// A configuration that is not valid, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// One message per problem, each naming the field.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid thumbforge configuration: {}", self.problems.join("; "))
    }
}

fn check_range<T: PartialOrd + fmt::Display>(
    problems: &mut Vec<String>,
    field: &str,
    value: T,
    min: T,
    max: T,
) {
    if value < min || value > max {
        problems.push(format!("`{field}` is {value}, must be between {min} and {max}"));
    }
}

impl Config {
    /// Parses `thumbforge.toml` text; missing fields take their defaults.
    #[cfg(feature = "file")]
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError { problems: vec![e.to_string()] })?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as `thumbforge.toml` text (every field written out).
    #[cfg(feature = "file")]
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError { problems: vec![e.to_string()] })
    }

    /// Reads and validates a config file.
    #[cfg(feature = "file")]
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { problems: vec![format!("cannot read {}: {e}", path.display())] })?;
        Self::from_toml(&text).map_err(|mut e| {
            e.problems.iter_mut().for_each(|p| *p = format!("{}: {p}", path.display()));
            e
        })
    }

    /// Checks every field and every relation between fields.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = self.runtime().problems();
        problems.extend(self.auth.problems());
        let image = self.watermark.image.trim();
        if self.watermark.is_on()
            && (!image.to_ascii_lowercase().ends_with(".png")
                || image.starts_with('/')
                || image.contains('\\')
                || image.split('/').any(|part| part == ".." || part.is_empty()))
        {
            problems.push(format!(
                "`watermark.image` is {image:?}: it must be a relative path to a .png file beside or \
                 below thumbforge.toml (forward slashes, no `..`)"
            ));
        }
        for (name, function) in self.functions.by_name() {
            let max_timeout =
                if name == PRESIGN { PRESIGN_MAX_TIMEOUT_SECONDS } else { LAMBDA_MAX_TIMEOUT_SECONDS };
            let field = format!("functions.{name}");
            check_range(
                &mut problems,
                &format!("{field}.memory_mb"),
                function.memory_mb,
                MEMORY_MB.0,
                MEMORY_MB.1,
            );
            check_range(
                &mut problems,
                &format!("{field}.timeout_seconds"),
                function.timeout_seconds,
                1,
                max_timeout,
            );
        }
        check_range(
            &mut problems,
            "functions.thumbnail_reserved_concurrency",
            self.functions.thumbnail_reserved_concurrency,
            0,
            1000,
        );
        for (name, throttle) in
            [("reads", self.api.reads), ("writes", self.api.writes), ("uploads", self.api.uploads)]
        {
            check_range(
                &mut problems,
                &format!("api.{name}.rate_per_second"),
                throttle.rate_per_second,
                1,
                10_000,
            );
            check_range(&mut problems, &format!("api.{name}.burst"), throttle.burst, 1, 5000);
        }
        check_range(
            &mut problems,
            "storage.raw_expiration_days",
            self.storage.raw_expiration_days,
            0,
            36_500,
        );
        check_range(
            &mut problems,
            "storage.noncurrent_version_days",
            self.storage.noncurrent_version_days,
            1,
            36_500,
        );
        let c = &self.cleanup;
        check_range(&mut problems, "cleanup.batch_size", c.batch_size, 1, 1000);
        check_range(&mut problems, "cleanup.max_retries", c.max_retries, 0, 10_000);
        check_range(&mut problems, "cleanup.max_record_age_seconds", c.max_record_age_seconds, 60, 86_400);
        if !LOG_RETENTION_DAYS.contains(&self.logs.retention_days) {
            problems.push(format!(
                "`logs.retention_days` is {}, must be one of {LOG_RETENTION_DAYS:?}",
                self.logs.retention_days
            ));
        }
        check_range(
            &mut problems,
            "edge.waf_api_requests_per_5_minutes",
            self.edge.waf_api_requests_per_5_minutes,
            100,
            2_000_000_000,
        );
        self.alarms.problems(&mut problems);
        let decode_mb = self.limits.max_decode_bytes >> 20;
        if decode_mb >= u64::from(self.functions.thumbnail.memory_mb) {
            problems.push(format!(
                "`limits.max_decode_bytes` ({}) must stay below `functions.thumbnail.memory_mb` ({} MB)",
                human_bytes(self.limits.max_decode_bytes),
                self.functions.thumbnail.memory_mb
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError { problems }) }
    }

    /// The part of the configuration the Lambdas need at run time.
    pub fn runtime(&self) -> RuntimeConfig {
        RuntimeConfig {
            thumbnails: self.thumbnails.clone(),
            limits: self.limits.clone(),
            upload: self.upload.clone(),
            download: self.download.clone(),
            quotas: self.quotas,
            // Deployed, the image is the one at its fixed key in the media bucket.
            watermark: Watermark {
                image: if self.watermark.is_on() { keys::WATERMARK.to_owned() } else { String::new() },
                ..self.watermark.clone()
            },
        }
    }
}

/// What the functions read at cold start, from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RuntimeConfig {
    /// Renditions and formats.
    pub thumbnails: Thumbnails,
    /// Input limits.
    pub limits: Limits,
    /// Upload URL settings.
    pub upload: Upload,
    /// Download URL settings.
    pub download: Download,
    /// Per-user quotas.
    pub quotas: Quotas,
    /// The watermark; its `image` is the PNG's key in the media bucket (empty: none).
    pub watermark: Watermark,
}

fn parse_list<T>(name: &str, raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| parse(item).ok_or_else(|| format!("`{name}` has an invalid item `{item}`")))
        .collect()
}

impl RuntimeConfig {
    /// The renditions' box sizes, largest first, without duplicates.
    pub fn sizes_largest_first(&self) -> Vec<u32> {
        self.thumbnails.sizes.px_largest_first()
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let t = &self.thumbnails;
        let l = &self.limits;
        if t.sizes.is_empty() {
            problems.push("`thumbnails.sizes` must name at least one size".to_owned());
        }
        for (name, size) in t.sizes.smallest_first() {
            if name == ORIGINAL {
                problems.push(format!(
                    "`thumbnails.sizes` must not name a size `{ORIGINAL}`: it is the uploaded file"
                ));
            } else if !is_size_name(name) {
                problems.push(format!(
                    "`thumbnails.sizes` has the name {name:?}, must be 1 to {SIZE_NAME_MAX_CHARS} \
                     characters of a-z"
                ));
            }
            check_range(&mut problems, &format!("thumbnails.sizes.{name}"), size, SIZE_PX.0, SIZE_PX.1);
        }
        if self.sizes_largest_first().len() != t.sizes.len() {
            problems.push("`thumbnails.sizes` must not repeat a size".to_owned());
        }
        check_range(&mut problems, "thumbnails.jpeg_quality", t.jpeg_quality, 1, 100);
        if !t.writes(OutputFormat::Jpeg) {
            problems.push(
                "`thumbnails.formats` must include \"jpeg\": it is the format every browser decodes"
                    .to_owned(),
            );
        }
        if t.output_formats().len() != t.formats.len() {
            problems.push("`thumbnails.formats` must not repeat a format".to_owned());
        }
        check_range(&mut problems, "thumbnails.webp_quality", t.webp_quality, 1, 100);
        check_range(&mut problems, "thumbnails.webp_effort", t.webp_effort, 0, 6);
        check_range(&mut problems, "thumbnails.avif_quality", t.avif_quality, 1, 100);
        check_range(&mut problems, "thumbnails.avif_speed", t.avif_speed, 1, 10);
        check_range(&mut problems, "thumbnails.cache_seconds", t.cache_seconds, 60, 86_400);
        check_range(&mut problems, "limits.max_upload_bytes", l.max_upload_bytes, 1, S3_MAX_PUT_BYTES);
        check_range(&mut problems, "limits.max_pixels", l.max_pixels, 1, 1 << 32);
        check_range(&mut problems, "limits.max_side", l.max_side, 1, 65_535);
        check_range(&mut problems, "limits.max_decode_bytes", l.max_decode_bytes, 16 << 20, 8 << 30);
        if l.allowed_types.is_empty() {
            problems.push("`limits.allowed_types` must list at least one type".to_owned());
        }
        let mut unique = l.allowed_types.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != l.allowed_types.len() {
            problems.push("`limits.allowed_types` must not repeat a type".to_owned());
        }
        check_range(
            &mut problems,
            "upload.presign_expiry_seconds",
            self.upload.presign_expiry_seconds,
            1,
            3600,
        );
        check_range(&mut problems, "download.url_expiry_seconds", self.download.url_expiry_seconds, 1, 3600);
        let q = &self.quotas;
        check_range(&mut problems, "quotas.uploads_per_day", q.uploads_per_day, 1, 1_000_000);
        check_range(&mut problems, "quotas.photos_stored", q.photos_stored, 1, 10_000_000);
        for (field, value, max) in [
            ("quotas.bytes_per_day", q.bytes_per_day, 1 << 40),
            ("quotas.bytes_stored", q.bytes_stored, 100 << 40),
        ] {
            if value < l.max_upload_bytes {
                problems.push(format!(
                    "`{field}` ({}) must be at least `limits.max_upload_bytes` ({}): no upload could fit",
                    human_bytes(value),
                    human_bytes(l.max_upload_bytes)
                ));
            }
            check_range(&mut problems, field, value, 1, max);
        }
        problems.extend(self.watermark.problems(self.sizes_largest_first().first().copied()));
        let key = self.watermark.image.as_str();
        if self.watermark.is_on()
            && (key.starts_with(keys::RAW_PREFIX) || key.starts_with(keys::THUMBS_PREFIX))
        {
            problems.push(format!("the watermark's key {key:?} must not be under raw/ or thumbs/"));
        }
        problems
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() { Ok(()) } else { Err(ConfigError { problems }) }
    }

    /// The environment variables that carry this configuration to a function.
    pub fn to_env(&self) -> BTreeMap<&'static str, String> {
        let join = |items: Vec<String>| items.join(",");
        BTreeMap::from([
            (
                env::SIZES,
                join(
                    self.thumbnails
                        .sizes
                        .smallest_first()
                        .into_iter()
                        .map(|(name, px)| format!("{name}={px}"))
                        .collect(),
                ),
            ),
            (env::JPEG_QUALITY, self.thumbnails.jpeg_quality.to_string()),
            (
                env::FORMATS,
                join(self.thumbnails.output_formats().iter().map(|f| f.name().to_owned()).collect()),
            ),
            (env::WEBP_QUALITY, self.thumbnails.webp_quality.to_string()),
            (env::WEBP_EFFORT, self.thumbnails.webp_effort.to_string()),
            (env::AVIF_QUALITY, self.thumbnails.avif_quality.to_string()),
            (env::AVIF_SPEED, self.thumbnails.avif_speed.to_string()),
            (env::CACHE_SECONDS, self.thumbnails.cache_seconds.to_string()),
            (env::MAX_UPLOAD_BYTES, self.limits.max_upload_bytes.to_string()),
            (env::MAX_PIXELS, self.limits.max_pixels.to_string()),
            (env::MAX_SIDE, self.limits.max_side.to_string()),
            (env::MAX_DECODE_BYTES, self.limits.max_decode_bytes.to_string()),
            (
                env::ALLOWED_TYPES,
                join(self.limits.allowed_types.iter().map(|t| t.name().to_owned()).collect()),
            ),
            (env::PRESIGN_EXPIRY_SECONDS, self.upload.presign_expiry_seconds.to_string()),
            (env::DOWNLOAD_EXPIRY_SECONDS, self.download.url_expiry_seconds.to_string()),
            (env::QUOTA_UPLOADS_PER_DAY, self.quotas.uploads_per_day.to_string()),
            (env::QUOTA_BYTES_PER_DAY, self.quotas.bytes_per_day.to_string()),
            (env::QUOTA_PHOTOS_STORED, self.quotas.photos_stored.to_string()),
            (env::QUOTA_BYTES_STORED, self.quotas.bytes_stored.to_string()),
            (env::WATERMARK, self.watermark.image.clone()),
            (env::WATERMARK_OPACITY, self.watermark.opacity_percent.to_string()),
            (env::WATERMARK_GRAVITY, self.watermark.gravity.name().to_owned()),
            (env::WATERMARK_SCALE, self.watermark.scale_percent.to_string()),
            (env::WATERMARK_MARGIN, self.watermark.margin_percent.to_string()),
            (env::WATERMARK_MIN_SIZE, self.watermark.min_size.to_string()),
        ])
    }

    /// Reads the configuration from environment variables through `lookup` (for example
    /// `|name| std::env::var(name).ok()`). Every variable is required: a function never runs on
    /// silently defaulted settings.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut get = |name: &str| {
            let value = lookup(name);
            if value.is_none() {
                problems.push(format!("environment variable `{name}` is not set"));
            }
            value.unwrap_or_default()
        };
        let raw: BTreeMap<&str, String> = env::RUNTIME.iter().map(|&n| (n, get(n))).collect();
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let mut errors = Vec::new();
        let mut number = |name: &str| -> u64 {
            raw[name].trim().parse().unwrap_or_else(|_| {
                errors.push(format!("`{name}` is `{}`, expected a whole number", raw[name]));
                0
            })
        };
        let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let narrow8 = |v: u64| u8::try_from(v).unwrap_or(u8::MAX);
        let jpeg_quality = narrow8(number(env::JPEG_QUALITY));
        let max_upload_bytes = number(env::MAX_UPLOAD_BYTES);
        let max_pixels = number(env::MAX_PIXELS);
        let max_side = narrow(number(env::MAX_SIDE));
        let max_decode_bytes = number(env::MAX_DECODE_BYTES);
        let presign_expiry_seconds = narrow(number(env::PRESIGN_EXPIRY_SECONDS));
        let url_expiry_seconds = narrow(number(env::DOWNLOAD_EXPIRY_SECONDS));
        let webp_quality = narrow8(number(env::WEBP_QUALITY));
        let webp_effort = narrow8(number(env::WEBP_EFFORT));
        let avif_quality = narrow8(number(env::AVIF_QUALITY));
        let avif_speed = narrow8(number(env::AVIF_SPEED));
        let cache_seconds = narrow(number(env::CACHE_SECONDS));
        let quotas = Quotas {
            uploads_per_day: narrow(number(env::QUOTA_UPLOADS_PER_DAY)),
            bytes_per_day: number(env::QUOTA_BYTES_PER_DAY),
            photos_stored: narrow(number(env::QUOTA_PHOTOS_STORED)),
            bytes_stored: number(env::QUOTA_BYTES_STORED),
        };
        let mut watermark = Watermark {
            image: raw[env::WATERMARK].trim().to_owned(),
            opacity_percent: narrow8(number(env::WATERMARK_OPACITY)),
            gravity: Gravity::default(),
            scale_percent: narrow8(number(env::WATERMARK_SCALE)),
            margin_percent: narrow8(number(env::WATERMARK_MARGIN)),
            min_size: narrow(number(env::WATERMARK_MIN_SIZE)),
        };
        match Gravity::from_name(raw[env::WATERMARK_GRAVITY].trim()) {
            Some(gravity) => watermark.gravity = gravity,
            None => errors.push(format!(
                "`{}` is `{}`, expected one of {}",
                env::WATERMARK_GRAVITY,
                raw[env::WATERMARK_GRAVITY],
                Gravity::ALL.map(Gravity::name).join(", ")
            )),
        }
        let formats =
            parse_list(env::FORMATS, &raw[env::FORMATS], OutputFormat::from_name).unwrap_or_else(|e| {
                errors.push(e);
                Vec::new()
            });
        let sizes = parse_list(env::SIZES, &raw[env::SIZES], |item| {
            let (name, px) = item.split_once('=')?;
            Some((name.trim().to_owned(), px.trim().parse::<u32>().ok()?))
        })
        .map(|pairs| {
            let mut sizes = BTreeMap::new();
            for (name, px) in pairs {
                if sizes.insert(name.clone(), px).is_some() {
                    errors.push(format!("`{}` names the size `{name}` more than once", env::SIZES));
                }
            }
            Sizes(sizes)
        })
        .unwrap_or_else(|e| {
            errors.push(e);
            Sizes::default()
        });
        let allowed_types = parse_list(env::ALLOWED_TYPES, &raw[env::ALLOWED_TYPES], InputFormat::from_name)
            .unwrap_or_else(|e| {
                errors.push(e);
                Vec::new()
            });
        if !errors.is_empty() {
            return Err(ConfigError { problems: errors });
        }
        let config = Self {
            thumbnails: Thumbnails {
                sizes,
                jpeg_quality,
                formats,
                webp_quality,
                webp_effort,
                avif_quality,
                avif_speed,
                cache_seconds,
            },
            limits: Limits { max_upload_bytes, max_pixels, max_side, max_decode_bytes, allowed_types },
            upload: Upload { presign_expiry_seconds },
            download: Download { url_expiry_seconds },
            quotas,
            watermark,
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_documented_values() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.thumbnails.sizes.smallest_first(), [("small", 256), ("medium", 1024)]);
        assert_eq!(config.thumbnails.jpeg_quality, 80);
        assert_eq!(config.thumbnails.formats, [OutputFormat::Jpeg, OutputFormat::Webp]);
        assert_eq!(config.thumbnails.negotiated_formats(), [OutputFormat::Webp]);
        assert_eq!(config.thumbnails.webp_quality, 80);
        assert_eq!(config.limits.max_upload_bytes, 25 * 1024 * 1024);
        assert_eq!(config.limits.max_pixels, 50_000_000);
        assert_eq!(config.limits.max_side, 16_384);
        assert_eq!(config.upload.presign_expiry_seconds, 300);
        assert_eq!(config.download.url_expiry_seconds, 60);
        assert_eq!(config.limits.allowed_types, InputFormat::ALL);
    }

    #[test]
    fn env_round_trips() {
        let mut runtime = Config::default().runtime();
        runtime.thumbnails.formats = vec![OutputFormat::Jpeg, OutputFormat::Avif];
        runtime.thumbnails.webp_quality = 55;
        runtime.thumbnails.webp_effort = 6;
        runtime.thumbnails.avif_quality = 42;
        runtime.thumbnails.avif_speed = 3;
        runtime.thumbnails.sizes = Sizes::from([("large", 512), ("tiny", 64), ("small", 128)]);
        runtime.limits.allowed_types = vec![InputFormat::Png, InputFormat::Jpeg];
        runtime.download.url_expiry_seconds = 2;
        runtime.watermark = Watermark {
            image: keys::WATERMARK.into(),
            opacity_percent: 35,
            gravity: Gravity::North,
            scale_percent: 40,
            margin_percent: 0,
            min_size: 128,
        };
        let env = runtime.to_env();
        assert_eq!(env.len(), env::RUNTIME.len());
        assert_eq!(env[env::SIZES], "tiny=64,small=128,large=512", "smallest first");
        assert_eq!(env[env::DOWNLOAD_EXPIRY_SECONDS], "2");
        let back = RuntimeConfig::from_env(|name| env.get(name).cloned()).unwrap();
        assert_eq!(back, runtime);
    }

    #[test]
    fn a_watermark_is_deployed_at_its_key_and_its_path_and_settings_are_checked() {
        let mut config = Config::default();
        assert_eq!(config.runtime().to_env()[env::WATERMARK], "", "off by default");
        config.watermark.image = "branding/mark.png".into();
        config.validate().unwrap();
        assert_eq!(config.runtime().watermark.image, keys::WATERMARK);
        assert_eq!(config.runtime().to_env()[env::WATERMARK_GRAVITY], "south-east");
        for bad in ["/etc/mark.png", "../mark.png", "a//b.png", "mark.gif", "a\\b.png"] {
            config.watermark.image = bad.into();
            let text = config.validate().unwrap_err().to_string();
            assert!(text.contains("`watermark.image` is"), "{bad}: {text}");
        }
        config.watermark.image = "mark.PNG".into();
        config.watermark.min_size = 2048;
        let text = config.validate().unwrap_err().to_string();
        assert!(
            text.contains("`watermark.min_size` is 2048, larger than the largest rendition (1024 px)"),
            "{text}"
        );

        let mut vars = Config::default().runtime().to_env();
        vars.insert(env::WATERMARK, "thumbs/mark.png".into());
        vars.insert(env::WATERMARK_GRAVITY, "middle".into());
        let text = RuntimeConfig::from_env(|name| vars.get(name).cloned()).unwrap_err().to_string();
        assert!(
            text.contains("`THUMBFORGE_WATERMARK_GRAVITY` is `middle`, expected one of north-west"),
            "{text}"
        );
        vars.insert(env::WATERMARK_GRAVITY, "west".into());
        let text = RuntimeConfig::from_env(|name| vars.get(name).cloned()).unwrap_err().to_string();
        assert!(text.contains("must not be under raw/ or thumbs/"), "{text}");
    }

    #[cfg(feature = "file")]
    #[test]
    fn the_toml_written_reads_back_as_the_same_config() {
        let mut config = Config::default();
        config.watermark.image = "brand/mark.png".into();
        config.watermark.gravity = Gravity::NorthWest;
        config.thumbnails.sizes = Sizes::from([("tiny", 64), ("huge", 2048)]);
        let text = config.to_toml().unwrap();
        assert!(text.contains("gravity = \"north-west\""), "{text}");
        assert_eq!(Config::from_toml(&text).unwrap(), config);
    }

    #[test]
    fn env_errors_name_every_missing_or_bad_variable() {
        let err = RuntimeConfig::from_env(|_| None).unwrap_err();
        assert_eq!(err.problems.len(), env::RUNTIME.len());
        assert!(err.to_string().contains(env::SIZES), "{err}");

        let mut vars = Config::default().runtime().to_env();
        vars.insert(env::MAX_SIDE, "huge".into());
        vars.insert(env::ALLOWED_TYPES, "jpeg,bmp".into());
        let err = RuntimeConfig::from_env(|name| vars.get(name).cloned()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`THUMBFORGE_MAX_SIDE` is `huge`"), "{text}");
        assert!(text.contains("invalid item `bmp`"), "{text}");

        for (bad, needle) in [
            ("256,1024", "`THUMBFORGE_SIZES` has an invalid item `256`"),
            ("small=big", "invalid item `small=big`"),
            ("small=256,small=512", "names the size `small` more than once"),
            ("original=256", "must not name a size `original`"),
            ("small=8", "`thumbnails.sizes.small` is 8, must be between 16 and 4096"),
            ("", "must name at least one size"),
        ] {
            let mut vars = Config::default().runtime().to_env();
            vars.insert(env::SIZES, bad.into());
            let err = RuntimeConfig::from_env(|name| vars.get(name).cloned()).unwrap_err();
            assert!(err.to_string().contains(needle), "{bad:?}: missing {needle:?} in {err}");
        }
        let mut vars = Config::default().runtime().to_env();
        vars.insert(env::SIZES, " small = 200 , big=900 ".into());
        let back = RuntimeConfig::from_env(|name| vars.get(name).cloned()).unwrap();
        assert_eq!(back.thumbnails.sizes, Sizes::from([("small", 200), ("big", 900)]));
    }

    #[test]
    fn alarm_and_edge_settings_are_validated() {
        let mut config = Config::default();
        config.alarms.emails = vec!["ops@example.com".into(), "nobody".into(), "a b@example.com".into()];
        config.alarms.time_to_ready_p95_seconds = 0;
        config.alarms.api_5xx_percent = 101;
        config.edge.waf_api_requests_per_5_minutes = 99;
        let text = config.validate().unwrap_err().to_string();
        for needle in [
            "`alarms.emails` has \"nobody\"",
            "`alarms.emails` has \"a b@example.com\"",
            "`alarms.time_to_ready_p95_seconds` is 0",
            "`alarms.api_5xx_percent` is 101",
            "`edge.waf_api_requests_per_5_minutes` is 99, must be between 100 and 2000000000",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in {text}");
        }
        assert!(!text.contains("ops@example.com"), "{text}");

        let mut budget = Config::default();
        budget.alarms.monthly_budget_usd = 20;
        assert!(budget.validate().unwrap_err().to_string().contains("the budget would tell no one"));
        budget.alarms.emails = vec!["ops@example.com".into()];
        assert_eq!(budget.validate(), Ok(()));
    }

    #[test]
    fn validation_reports_each_problem() {
        let mut config = Config::default();
        config.thumbnails.sizes = Sizes::from([("small", 256), ("also", 256), ("tiny", 8)]);
        config.thumbnails.jpeg_quality = 0;
        config.thumbnails.webp_effort = 7;
        config.thumbnails.avif_quality = 0;
        config.thumbnails.avif_speed = 11;
        config.thumbnails.formats = vec![OutputFormat::Webp, OutputFormat::Webp];
        config.upload.presign_expiry_seconds = 7200;
        config.download.url_expiry_seconds = 0;
        config.logs.retention_days = 10;
        config.functions.thumbnail.memory_mb = 256;
        let text = config.validate().unwrap_err().to_string();
        for needle in [
            "must not repeat a size",
            "`thumbnails.sizes.tiny` is 8, must be between 16 and 4096",
            "`thumbnails.jpeg_quality` is 0",
            "`thumbnails.webp_effort` is 7, must be between 0 and 6",
            "`thumbnails.avif_quality` is 0, must be between 1 and 100",
            "`thumbnails.avif_speed` is 11, must be between 1 and 10",
            "`thumbnails.formats` must include \"jpeg\"",
            "`thumbnails.formats` must not repeat a format",
            "`upload.presign_expiry_seconds` is 7200, must be between 1 and 3600",
            "`download.url_expiry_seconds` is 0, must be between 1 and 3600",
            "`logs.retention_days` is 10",
            "must stay below `functions.thumbnail.memory_mb`",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in {text}");
        }
    }

    #[test]
    fn size_names_are_short_lower_case_words_and_never_original() {
        for good in ["small", "a", "xxxxxxxxxxxxxxxx"] {
            assert!(is_size_name(good), "{good}");
        }
        for bad in ["", "original", "Small", "x1", "big-one", "é", "xxxxxxxxxxxxxxxxx", " small"] {
            assert!(!is_size_name(bad), "{bad:?}");
        }
        let mut config = Config::default();
        config.thumbnails.sizes =
            Sizes::from([("original", 300), ("Big", 400), ("x".repeat(17).as_str(), 500), ("", 600)]);
        let text = config.validate().unwrap_err().to_string();
        for needle in [
            "`thumbnails.sizes` must not name a size `original`: it is the uploaded file",
            "`thumbnails.sizes` has the name \"Big\", must be 1 to 16 characters of a-z",
            "`thumbnails.sizes` has the name \"xxxxxxxxxxxxxxxxx\"",
            "`thumbnails.sizes` has the name \"\"",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in {text}");
        }
        config.thumbnails.sizes = Sizes::default();
        let text = config.validate().unwrap_err().to_string();
        assert!(text.contains("`thumbnails.sizes` must name at least one size"), "{text}");
        config.thumbnails.sizes = Sizes::from([("huge", 4097)]);
        let text = config.validate().unwrap_err().to_string();
        assert!(text.contains("`thumbnails.sizes.huge` is 4097, must be between 16 and 4096"), "{text}");
    }

    #[test]
    fn sizes_largest_first() {
        let mut runtime = RuntimeConfig::default();
        runtime.thumbnails.sizes = Sizes::from([("small", 256), ("large", 1024), ("medium", 512)]);
        assert_eq!(runtime.sizes_largest_first(), [1024, 512, 256]);
        assert_eq!(runtime.thumbnails.sizes.names(), ["small", "medium", "large"]);
        assert_eq!(runtime.thumbnails.sizes.get("medium"), Some(512));
        assert_eq!(runtime.thumbnails.sizes.get("original"), None);
    }

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(25 << 20), "25 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(83912 * 1024), "81.9 MiB");
    }

    #[cfg(feature = "file")]
    /// `thumbforge.toml` documents every default: a newcomer reading it reads what runs.
    #[cfg(feature = "file")]
    #[test]
    fn the_committed_file_writes_out_the_defaults() {
        let text = include_str!("../../../thumbforge.toml");
        assert_eq!(Config::from_toml(text).unwrap(), Config::default());
    }

    #[cfg(feature = "file")]
    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_fields() {
        let config =
            Config::from_toml("[thumbnails]\nformats = [\"jpeg\"]\n\n[thumbnails.sizes]\nthumb = 128\n")
                .unwrap();
        assert_eq!(config.thumbnails.sizes, Sizes::from([("thumb", 128)]));
        assert_eq!(config.thumbnails.output_formats(), [OutputFormat::Jpeg]);
        assert_eq!(config.thumbnails.negotiated_formats(), []);
        // The config's order does not matter: renditions are written JPEG first.
        let config = Config::from_toml("[thumbnails]\nformats = [\"webp\", \"jpeg\"]\n").unwrap();
        assert_eq!(config.thumbnails.output_formats(), [OutputFormat::Jpeg, OutputFormat::Webp]);
        // With AVIF on, it is offered first: the smallest files of the three.
        let config = Config::from_toml("[thumbnails]\nformats = [\"avif\", \"jpeg\", \"webp\"]\n").unwrap();
        assert_eq!(config.thumbnails.output_formats(), OutputFormat::ALL);
        assert_eq!(config.thumbnails.negotiated_formats(), [OutputFormat::Avif, OutputFormat::Webp]);
        let config = Config::from_toml("[thumbnails]\nformats = [\"jpeg\", \"avif\"]\n").unwrap();
        assert_eq!(config.thumbnails.negotiated_formats(), [OutputFormat::Avif]);
        let err = Config::from_toml("[thumbnails]\nformats = [\"png\"]\n").unwrap_err();
        assert!(err.to_string().contains("png"), "{err}");
        assert_eq!(config.thumbnails.webp_quality, 80);
        assert_eq!(config.limits, Limits::default());

        let err = Config::from_toml("[thumbnails]\nsize = [128]\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `size`"), "{err}");
        let err = Config::from_toml("[limits]\nallowed_types = [\"bmp\"]\n").unwrap_err();
        assert!(err.to_string().contains("bmp"), "{err}");
        // The list of the past is refused with the field's name, not taken for a table.
        let err = Config::from_toml("[thumbnails]\nsizes = [256, 1024]\n").unwrap_err();
        assert!(err.to_string().contains("sizes"), "{err}");
        let err = Config::from_toml("[download]\nurl_expiry_seconds = 4000\n").unwrap_err();
        assert!(err.to_string().contains("`download.url_expiry_seconds` is 4000"), "{err}");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn quotas_throttles_and_storage_are_checked() {
        let mut config = Config::default();
        config.quotas.uploads_per_day = 0;
        config.quotas.bytes_per_day = config.limits.max_upload_bytes - 1;
        config.api.uploads.burst = 0;
        config.storage.noncurrent_version_days = 0;
        config.functions.thumbnail_reserved_concurrency = 1001;
        let problems = config.validate().unwrap_err().problems;
        for needle in [
            "`quotas.uploads_per_day` is 0",
            "`quotas.bytes_per_day` (25.0 MiB) must be at least `limits.max_upload_bytes` (25 MiB)",
            "`api.uploads.burst` is 0",
            "`storage.noncurrent_version_days` is 0",
            "`functions.thumbnail_reserved_concurrency` is 1001",
        ] {
            assert!(problems.iter().any(|p| p.contains(needle)), "{needle} in {problems:?}");
        }
        assert_eq!(problems.len(), 5, "{problems:?}");
        let routes = crate::routes::ROUTES;
        let upload = routes.iter().find(|r| r.endpoint == crate::routes::Endpoint::CreateUpload).unwrap();
        let list = routes.iter().find(|r| r.key() == "GET /api/images").unwrap();
        let api = Api::default();
        assert!(api.throttle_of(upload).rate_per_second < api.throttle_of(list).rate_per_second);
    }
}
