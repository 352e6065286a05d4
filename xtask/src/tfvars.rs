//! `cargo xtask tfvars [--check]`: the typed configuration (`thumbforge.toml` through
//! `thumbforge_core::Config`, the API's routes from `thumbforge_core::routes`, the edge's
//! headers from `thumbforge_core::web` and the clean-up's stream filters from
//! `thumbforge_catalog::schema`) written as
//! Terraform variables to `terraform/generated.auto.tfvars.json`, which Terraform loads by itself.
//! The file is committed; `--check` fails when it no longer matches its sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;
use thumbforge_catalog::schema;
use thumbforge_core::auth::{Auth, PasswordPolicy};
use thumbforge_core::config::Cleanup;
use thumbforge_core::routes::{self, Access};
use thumbforge_core::{Config, web};

use crate::flags;
use crate::util;

/// The generated file, relative to the project root.
pub const PATH: &str = "terraform/generated.auto.tfvars.json";

/// The page's folder, relative to the project root.
pub const SITE_DIR: &str = "frontend";

/// Names in `frontend/` (folders or files) that are not part of the page.
const NOT_PUBLISHED: [&str; 4] = ["tests", "node_modules", "package.json", "package-lock.json"];

/// Everything Terraform takes from the typed configuration. Field names are Terraform variables.
#[derive(Debug, Serialize)]
pub struct TfVars {
    #[serde(rename = "//")]
    comment: &'static str,
    function_environment: BTreeMap<&'static str, String>,
    max_upload_bytes: u64,
    thumbnail_memory_mb: u32,
    thumbnail_timeout_seconds: u32,
    thumbnail_cache_seconds: u32,
    negotiated_formats: Vec<thumbforge_dev::viewer::NegotiatedFormat>,
    watermark_image: String,
    presign_memory_mb: u32,
    presign_timeout_seconds: u32,
    thumbnail_reserved_concurrency: u32,
    raw_expiration_days: u32,
    noncurrent_version_days: u32,
    api_throttling_rate_limit: u32,
    api_throttling_burst_limit: u32,
    log_retention_days: u32,
    cleanup: CleanupVars,
    api_routes: BTreeMap<String, ApiRoute>,
    auth: AuthVars,
    security_headers: SecurityHeaders,
    origin_secret_header: &'static str,
    edge: thumbforge_core::config::Edge,
    alarms: thumbforge_core::config::Alarms,
    metrics: MetricNames,
    upload_cors: UploadCors,
    download_cors: DownloadCors,
    site_files: BTreeMap<String, SiteFile>,
}

/// One `aws_apigatewayv2_route`, keyed by its route key.
#[derive(Debug, Serialize)]
struct ApiRoute {
    /// `JWT` (the authorizer runs first) or `NONE`.
    authorization_type: &'static str,
    /// The route's throttle (`[api]`): steady requests per second.
    throttling_rate_limit: u32,
    /// Its burst.
    throttling_burst_limit: u32,
}

/// The `metrics` variable: [`thumbforge_core::metrics`], which the alarms and the dashboard read.
#[derive(Debug, Serialize)]
struct MetricNames {
    namespace: &'static str,
    function: &'static str,
    outcome: &'static str,
    reason: &'static str,
    ready: &'static str,
    images: &'static str,
    time_to_ready_ms: &'static str,
    download_ms: &'static str,
    decode_ms: &'static str,
    resize_ms: &'static str,
    encode_ms: &'static str,
    upload_ms: &'static str,
    uploads_started: &'static str,
    quota_refusals: &'static str,
}

impl MetricNames {
    const ALL: Self = {
        use thumbforge_core::metrics as m;
        Self {
            namespace: m::NAMESPACE,
            function: m::FUNCTION,
            outcome: m::OUTCOME,
            reason: m::REASON,
            ready: m::READY,
            images: m::IMAGES,
            time_to_ready_ms: m::TIME_TO_READY_MS,
            download_ms: m::DOWNLOAD_MS,
            decode_ms: m::DECODE_MS,
            resize_ms: m::RESIZE_MS,
            encode_ms: m::ENCODE_MS,
            upload_ms: m::UPLOAD_MS,
            uploads_started: m::UPLOADS_STARTED,
            quota_refusals: m::QUOTA_REFUSALS,
        }
    };
}

/// `[auth]`: the `auth` variable (terraform/variables.tf), field for field.
#[derive(Debug, Serialize)]
struct AuthVars {
    provider: &'static str,
    issuer: Option<String>,
    audience: Vec<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    logout_url: Option<String>,
    scopes: Vec<String>,
    route_scopes: Vec<String>,
    password: PasswordVars,
    access_token_minutes: u32,
    id_token_minutes: u32,
    refresh_token_days: u32,
}

#[derive(Debug, Serialize)]
struct PasswordVars {
    min_length: u8,
    require_lowercase: bool,
    require_uppercase: bool,
    require_numbers: bool,
    require_symbols: bool,
}

impl AuthVars {
    /// Every field of `auth` (destructured, so that a field added to [`Auth`] fails to compile
    /// here until Terraform is told about it).
    fn new(auth: &Auth) -> Self {
        let Auth {
            provider,
            issuer,
            audience,
            authorize_url,
            token_url,
            logout_url,
            scopes,
            route_scopes,
            access_token_minutes,
            id_token_minutes,
            refresh_token_days,
            password,
        } = auth.clone();
        let PasswordPolicy {
            min_length,
            require_lowercase,
            require_uppercase,
            require_numbers,
            require_symbols,
        } = password;
        Self {
            provider: provider.name(),
            issuer,
            audience,
            authorize_url,
            token_url,
            logout_url,
            scopes,
            route_scopes,
            password: PasswordVars {
                min_length,
                require_lowercase,
                require_uppercase,
                require_numbers,
                require_symbols,
            },
            access_token_minutes,
            id_token_minutes,
            refresh_token_days,
        }
    }
}

/// `[cleanup]` and the stream filters: the `cleanup` variable (terraform/variables.tf), which the
/// table stream's event source mapping (terraform/cleanup.tf) is built from.
#[derive(Debug, Serialize)]
struct CleanupVars {
    batch_size: u16,
    max_retries: u32,
    max_record_age_seconds: u32,
    /// [`schema::REMOVED_IMAGES_FILTER`] (removed image items) and
    /// [`schema::ACCOUNT_DELETION_FILTER`] (an account's tombstone while it is deleting), in this
    /// order: the JSON text of each pattern, as Lambda takes it; one filter each on the mapping,
    /// which invokes the function for a record any of them matches.
    filter_patterns: [&'static str; 2],
}

impl CleanupVars {
    /// Every field of `cleanup` (destructured, so that a field added to [`Cleanup`] fails to
    /// compile here until Terraform is told about it).
    fn new(cleanup: &Cleanup) -> Self {
        let Cleanup { batch_size, max_retries, max_record_age_seconds } = cleanup.clone();
        Self {
            batch_size,
            max_retries,
            max_record_age_seconds,
            filter_patterns: [schema::REMOVED_IMAGES_FILTER, schema::ACCOUNT_DELETION_FILTER],
        }
    }
}

#[derive(Debug, Serialize)]
struct SecurityHeaders {
    csp_template: &'static str,
    hsts_max_age_seconds: u32,
    frame_options: &'static str,
    referrer_policy: &'static str,
    /// Headers of every answer beyond CloudFront's named security headers.
    custom: BTreeMap<&'static str, &'static str>,
    /// What `/thumbs/*` answers add.
    thumbs: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug, Serialize)]
struct UploadCors {
    allowed_headers: Vec<&'static str>,
    expose_headers: Vec<&'static str>,
    max_age_seconds: u32,
}

/// The media bucket's CORS rule for the page's `GET` of an original's signed URL.
#[derive(Debug, Serialize)]
struct DownloadCors {
    expose_headers: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct SiteFile {
    content_type: &'static str,
    cache_control: &'static str,
}

impl TfVars {
    /// The variables for `config` (read from `config_path`: the watermark's path is relative to
    /// it) and the page files found in `site_dir`.
    pub fn new(config: &Config, config_path: &Path, site_dir: &Path) -> anyhow::Result<Self> {
        let site_files = site_files(site_dir)?
            .into_iter()
            .filter_map(|path| {
                web::site_file_headers(&path)
                    .map(|(content_type, cache_control)| (path, SiteFile { content_type, cache_control }))
            })
            .collect();
        Ok(Self {
            comment: "Generated by `cargo xtask tfvars` from thumbforge.toml and crates/core: do not edit.",
            function_environment: config.runtime().to_env(),
            max_upload_bytes: config.limits.max_upload_bytes,
            thumbnail_memory_mb: config.functions.thumbnail.memory_mb,
            thumbnail_timeout_seconds: config.functions.thumbnail.timeout_seconds,
            thumbnail_cache_seconds: config.thumbnails.cache_seconds,
            negotiated_formats: thumbforge_dev::viewer::negotiated(&config.thumbnails.negotiated_formats()),
            watermark_image: watermark_image(config, config_path)?,
            presign_memory_mb: config.functions.presign.memory_mb,
            presign_timeout_seconds: config.functions.presign.timeout_seconds,
            thumbnail_reserved_concurrency: config.functions.thumbnail_reserved_concurrency,
            raw_expiration_days: config.storage.raw_expiration_days,
            noncurrent_version_days: config.storage.noncurrent_version_days,
            api_throttling_rate_limit: config.api.reads.rate_per_second,
            api_throttling_burst_limit: config.api.reads.burst,
            log_retention_days: config.logs.retention_days,
            cleanup: CleanupVars::new(&config.cleanup),
            api_routes: routes::ROUTES
                .iter()
                .map(|route| {
                    let authorization_type = match route.access {
                        Access::Public => "NONE",
                        Access::SignedIn => "JWT",
                    };
                    let throttle = config.api.throttle_of(route);
                    let route_vars = ApiRoute {
                        authorization_type,
                        throttling_rate_limit: throttle.rate_per_second,
                        throttling_burst_limit: throttle.burst,
                    };
                    (route.key(), route_vars)
                })
                .collect(),
            auth: AuthVars::new(&config.auth),
            security_headers: SecurityHeaders {
                csp_template: web::CONTENT_SECURITY_POLICY_TEMPLATE,
                hsts_max_age_seconds: web::HSTS_MAX_AGE_SECONDS,
                frame_options: web::FRAME_OPTIONS,
                referrer_policy: web::REFERRER_POLICY,
                custom: web::CUSTOM_SECURITY_HEADERS.into_iter().collect(),
                thumbs: web::THUMBS_HEADERS.into_iter().collect(),
            },
            origin_secret_header: web::ORIGIN_SECRET_HEADER,
            edge: config.edge.clone(),
            alarms: config.alarms.clone(),
            metrics: MetricNames::ALL,
            upload_cors: UploadCors {
                allowed_headers: web::UPLOAD_CORS_ALLOWED_HEADERS.to_vec(),
                expose_headers: web::UPLOAD_CORS_EXPOSE_HEADERS.to_vec(),
                max_age_seconds: web::UPLOAD_CORS_MAX_AGE_SECONDS,
            },
            download_cors: DownloadCors { expose_headers: web::DOWNLOAD_CORS_EXPOSE_HEADERS.to_vec() },
            site_files,
        })
    }

    /// Pretty JSON with a final newline: the file's exact content.
    pub fn render(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self).context("serialising the Terraform variables")? + "\n")
    }

    /// The page files published (paths relative to the page's folder).
    pub fn site_paths(&self) -> impl Iterator<Item = &str> {
        self.site_files.keys().map(String::as_str)
    }
}

/// Every file under `dir`, as `/`-separated relative paths, sorted; dot files and the names in
/// [`NOT_PUBLISHED`] are left out.
fn site_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
        let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with('.') || NOT_PUBLISHED.contains(&name.as_str()) {
                continue;
            }
            let kind = entry.file_type().with_context(|| format!("reading {}", path.display()))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                out.push(
                    relative
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The watermark PNG as Terraform's `watermark_image` names it (empty: none), after the checks
/// the thumbnail function makes at cold start: relative to terraform/ when it is inside the
/// project (so the committed file holds no machine's paths), absolute otherwise.
fn watermark_image(config: &Config, config_path: &Path) -> anyhow::Result<String> {
    if config.watermark.read_beside(config_path).map_err(anyhow::Error::msg)?.is_none() {
        return Ok(String::new());
    }
    let beside = config_path.parent().unwrap_or(Path::new("."));
    let path = beside.join(config.watermark.image.trim());
    let path = path.canonicalize().with_context(|| format!("resolving {}", path.display()))?;
    let root = util::project_root().canonicalize().context("resolving the project root")?;
    Ok(match path.strip_prefix(&root) {
        Ok(inside) => {
            let parts: Vec<String> =
                inside.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            format!("../{}", parts.join("/"))
        }
        Err(_) => path.to_string_lossy().into_owned(),
    })
}

/// Loads the configuration (refusing an invalid one) and renders the file.
pub fn generate(config_path: &Path) -> anyhow::Result<(TfVars, String)> {
    let config = Config::load(config_path).context("loading the configuration")?;
    let vars = TfVars::new(&config, config_path, &util::project_root().join(SITE_DIR))?;
    let text = vars.render()?;
    Ok((vars, text))
}

/// Writes the file if its content changed; returns the variables.
pub fn write(config_path: &Path) -> anyhow::Result<TfVars> {
    let (vars, text) = generate(config_path)?;
    let path = generated_path();
    let changed = std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str());
    if changed {
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {PATH} (commit it)");
    } else {
        println!("{PATH} is up to date");
    }
    println!("page files: {}", vars.site_paths().collect::<Vec<_>>().join(", "));
    Ok(vars)
}

fn generated_path() -> PathBuf {
    util::project_root().join(PATH)
}

/// Where `cargo xtask deploy` writes an environment's variables: outside the tree (under
/// `target/`), so that deploying with another `--config` never rewrites the committed file and
/// the next `tfvars --check` still compares the committed file with `thumbforge.toml` only.
/// Every Terraform command of the environment passes it as `-var-file`, after the committed
/// file Terraform loads by itself, so it wins.
pub fn deployment_path(env: &str) -> PathBuf {
    util::project_root().join("target").join("terraform").join(format!("{env}.tfvars.json"))
}

/// Writes the deployment variables of environment `env` from `config_path`; returns them.
pub fn write_deployment(config_path: &Path, env: &str) -> anyhow::Result<TfVars> {
    let (vars, text) = generate(config_path)?;
    let path = deployment_path(env);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {} from {}", path.display(), config_path.display());
    println!("page files: {}", vars.site_paths().collect::<Vec<_>>().join(", "));
    Ok(vars)
}

/// Whether the committed file is what `config_path` gives.
fn is_current(config_path: &Path) -> anyhow::Result<bool> {
    let (_, text) = generate(config_path)?;
    Ok(std::fs::read_to_string(generated_path()).unwrap_or_default() == text)
}

impl flags::Tfvars {
    /// Writes the file, or with `--check` compares it.
    pub fn run(self) -> anyhow::Result<()> {
        let config = util::from_caller(&self.config);
        if !self.check {
            write(&config)?;
            return Ok(());
        }
        if !is_current(&config)? {
            bail!(
                "{PATH} is stale (thumbforge.toml, crates/core, crates/catalog or frontend/ changed): \
                 run `cargo xtask tfvars` and commit the result"
            );
        }
        println!("{PATH} matches thumbforge.toml, crates/core, crates/catalog and frontend/");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `deploy --config OTHER` used to rewrite the committed file, so the next `tfvars --check`
    /// failed; the deployment's variables now go under target/ and the committed file stays.
    #[test]
    fn a_deployment_with_another_config_leaves_the_committed_file_alone() {
        let committed = std::fs::read_to_string(generated_path()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "[thumbnails]\njpeg_quality = 61\n").unwrap();
        let env = format!("unit-{}", std::process::id());
        write_deployment(&other, &env).unwrap();
        assert_eq!(std::fs::read_to_string(generated_path()).unwrap(), committed);
        assert!(is_current(&util::project_root().join("thumbforge.toml")).unwrap());
        let written = deployment_path(&env);
        assert!(written.starts_with(util::project_root().join("target")));
        let vars: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
        assert_eq!(vars["function_environment"]["THUMBFORGE_JPEG_QUALITY"], "61");
        std::fs::remove_file(written).unwrap();
    }

    fn fixture_site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for path in [
            "index.html",
            "app.js",
            "app.css",
            "img/logo.svg",
            "README.md",
            ".hidden.js",
            "tests/x.js",
            "package.json",
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        dir
    }

    #[test]
    fn the_variables_come_from_the_typed_config() {
        let mut config = Config::default();
        config.functions.thumbnail.memory_mb = 2048;
        config.logs.retention_days = 30;
        config.alarms.emails = vec!["ops@example.com".into()];
        config.alarms.monthly_budget_usd = 25;
        config.edge.waf = true;
        let site = fixture_site();
        let json: serde_json::Value = serde_json::from_str(
            &TfVars::new(&config, Path::new("thumbforge.toml"), site.path()).unwrap().render().unwrap(),
        )
        .unwrap();
        assert_eq!(json["thumbnail_memory_mb"], 2048);
        assert_eq!(json["log_retention_days"], 30);
        assert_eq!(json["presign_timeout_seconds"], config.functions.presign.timeout_seconds);
        assert_eq!(json["max_upload_bytes"], config.limits.max_upload_bytes);
        let env = json["function_environment"].as_object().unwrap();
        assert_eq!(env.len(), thumbforge_core::env::RUNTIME.len());
        assert_eq!(env["THUMBFORGE_SIZES"], "small=256,medium=1024");
        assert_eq!(env["THUMBFORGE_DOWNLOAD_EXPIRY_SECONDS"], "60");
        assert!(!env.contains_key(thumbforge_core::env::BUCKET), "Terraform sets the bucket");
        assert_eq!(json["security_headers"]["csp_template"], web::CONTENT_SECURITY_POLICY_TEMPLATE);
        assert_eq!(json["origin_secret_header"], web::ORIGIN_SECRET_HEADER);
        assert_eq!(
            json["alarms"],
            serde_json::json!({
                "emails": ["ops@example.com"], "monthly_budget_usd": 25, "time_to_ready_p95_seconds": 60,
                "api_5xx_percent": 5, "xray": false
            })
        );
        assert_eq!(
            json["edge"],
            serde_json::json!({"access_logs": true, "waf": true, "waf_api_requests_per_5_minutes": 1000})
        );
        assert_eq!(json["metrics"]["namespace"], thumbforge_core::metrics::NAMESPACE);
        assert_eq!(json["metrics"]["time_to_ready_ms"], thumbforge_core::metrics::TIME_TO_READY_MS);
        assert_eq!(json["security_headers"]["frame_options"], web::FRAME_OPTIONS);
        assert_eq!(json["security_headers"]["custom"]["permissions-policy"], web::PERMISSIONS_POLICY);
        assert_eq!(json["security_headers"]["custom"]["cross-origin-opener-policy"], "same-origin");
        assert_eq!(
            json["security_headers"]["thumbs"],
            serde_json::json!({"cross-origin-resource-policy": "same-origin", "vary": "Accept"})
        );
        assert_eq!(json["upload_cors"]["allowed_headers"][0], web::UPLOAD_CORS_ALLOWED_HEADERS[0]);
        assert_eq!(json["download_cors"]["expose_headers"], serde_json::json!(["Content-Disposition"]));
        assert_eq!(
            json["negotiated_formats"],
            serde_json::json!([{"extension": "webp", "media_type": "image/webp"}])
        );
        assert_eq!(json["function_environment"][thumbforge_core::env::FORMATS], "jpeg,webp");
    }

    /// A watermark beside a config outside the project is deployed by its absolute path; one
    /// inside it by a path relative to terraform/ (the committed file holds no machine's paths);
    /// one without alpha is refused before Terraform runs.
    #[test]
    fn the_watermark_is_checked_and_named_for_terraform() {
        let site = fixture_site();
        let outside = tempfile::tempdir().unwrap();
        let png = include_bytes!("../../crates/engine/fixtures/watermark.png");
        std::fs::create_dir_all(outside.path().join("brand")).unwrap();
        std::fs::write(outside.path().join("brand/mark.png"), png).unwrap();
        let config_path = outside.path().join("thumbforge.toml");
        let mut config = Config::default();
        config.watermark.image = "brand/mark.png".into();
        let json = serde_json::to_value(TfVars::new(&config, &config_path, site.path()).unwrap()).unwrap();
        let expected = outside.path().join("brand/mark.png").canonicalize().unwrap();
        assert_eq!(json["watermark_image"], expected.to_string_lossy().as_ref());
        assert_eq!(
            json["function_environment"][thumbforge_core::env::WATERMARK],
            thumbforge_core::keys::WATERMARK
        );

        config.watermark.image = "crates/engine/fixtures/watermark.png".into();
        let json = serde_json::to_value(
            TfVars::new(&config, &util::project_root().join("thumbforge.toml"), site.path()).unwrap(),
        )
        .unwrap();
        assert_eq!(json["watermark_image"], "../crates/engine/fixtures/watermark.png");

        std::fs::write(
            outside.path().join("brand/mark.png"),
            include_bytes!("../../terraform/tests/fixtures/watermark-rgb.png"),
        )
        .unwrap();
        config.watermark.image = "brand/mark.png".into();
        let error = TfVars::new(&config, &config_path, site.path()).unwrap_err().to_string();
        assert!(error.contains("no alpha channel"), "{error}");
        config.watermark.image = "brand/missing.png".into();
        let error = TfVars::new(&config, &config_path, site.path()).unwrap_err().to_string();
        assert!(error.contains("cannot read"), "{error}");

        let off = serde_json::to_value(TfVars::new(&Config::default(), &config_path, site.path()).unwrap())
            .unwrap();
        assert_eq!(off["watermark_image"], "");
    }

    /// Without WebP, the CloudFront Function is deployed negotiating nothing: an extension-less
    /// thumbnail URL gets the JPEG, the only format written.
    #[test]
    fn the_edge_negotiates_only_the_written_formats() {
        let mut config = Config::default();
        config.thumbnails.formats = vec![thumbforge_core::OutputFormat::Jpeg];
        let site = fixture_site();
        let json: serde_json::Value =
            serde_json::to_value(TfVars::new(&config, Path::new("thumbforge.toml"), site.path()).unwrap())
                .unwrap();
        assert_eq!(json["negotiated_formats"], serde_json::json!([]));
        assert_eq!(json["function_environment"][thumbforge_core::env::FORMATS], "jpeg");
    }

    /// `[cleanup]`, the renditions' cache lifetime and the stream filters reach Terraform (the
    /// event source mapping, the `/thumbs/*` behaviour) from their one source each.
    #[test]
    fn the_cleanup_and_the_cache_lifetime_come_from_the_typed_config() {
        let mut config = Config::default();
        config.cleanup.batch_size = 25;
        config.cleanup.max_retries = 3;
        config.cleanup.max_record_age_seconds = 3600;
        config.thumbnails.cache_seconds = 600;
        let site = fixture_site();
        let json: serde_json::Value = serde_json::from_str(
            &TfVars::new(&config, Path::new("thumbforge.toml"), site.path()).unwrap().render().unwrap(),
        )
        .unwrap();
        assert_eq!(
            json["cleanup"],
            serde_json::json!({
                "batch_size": 25,
                "max_retries": 3,
                "max_record_age_seconds": 3600,
                "filter_patterns": [schema::REMOVED_IMAGES_FILTER, schema::ACCOUNT_DELETION_FILTER],
            })
        );
        // Strings (Lambda's FilterCriteria takes each pattern's JSON text), each valid JSON: the
        // removed image items, then the tombstone of an account being deleted.
        let patterns: Vec<serde_json::Value> = json["cleanup"]["filter_patterns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| serde_json::from_str(p.as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(patterns.len(), 2);
        assert_eq!(patterns[0]["eventName"], serde_json::json!(["REMOVE"]));
        assert_eq!(
            patterns[0]["dynamodb"]["Keys"]["sk"]["S"],
            serde_json::json!([{"prefix": schema::IMAGE_PREFIX}])
        );
        assert_eq!(patterns[1]["eventName"], serde_json::json!(["INSERT", "MODIFY"]));
        assert_eq!(patterns[1]["dynamodb"]["Keys"]["sk"]["S"], serde_json::json!([schema::TOMBSTONE_SK]));
        assert_eq!(
            patterns[1]["dynamodb"]["NewImage"][schema::STATUS]["S"],
            serde_json::json!([schema::STATUS_DELETING])
        );
        assert_eq!(json["thumbnail_cache_seconds"], 600);
        // The functions get the same lifetime (the renditions' Cache-Control), so the edge and
        // the objects agree.
        assert_eq!(json["function_environment"][thumbforge_core::env::CACHE_SECONDS], "600");
    }

    #[test]
    fn only_page_files_are_published_with_their_headers() {
        let site = fixture_site();
        let vars = TfVars::new(&Config::default(), Path::new("thumbforge.toml"), site.path()).unwrap();
        assert_eq!(
            vars.site_paths().collect::<Vec<_>>(),
            ["app.css", "app.js", "img/logo.svg", "index.html"]
        );
        let json: serde_json::Value = serde_json::from_str(&vars.render().unwrap()).unwrap();
        assert_eq!(json["site_files"]["index.html"]["cache_control"], web::SITE_HTML_CACHE_CONTROL);
        assert_eq!(json["site_files"]["app.js"]["content_type"], "text/javascript; charset=utf-8");
    }

    #[test]
    fn the_file_is_pretty_deterministic_json_with_a_final_newline() {
        let site = fixture_site();
        let a = TfVars::new(&Config::default(), Path::new("thumbforge.toml"), site.path())
            .unwrap()
            .render()
            .unwrap();
        let b = TfVars::new(&Config::default(), Path::new("thumbforge.toml"), site.path())
            .unwrap()
            .render()
            .unwrap();
        assert_eq!(a, b);
        assert!(a.ends_with("}\n") && a.starts_with("{\n  \"//\""), "{a}");
    }
}
