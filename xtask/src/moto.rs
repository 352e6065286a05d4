//! `cargo xtask moto`: the real Terraform stack, through the real AWS provider, against a local
//! moto server: `cargo xtask deploy --endpoint … --yes --no-smoke` (the real deploy code path),
//! then what moto holds is read back through the AWS SDK and compared with the typed config, then
//! `terraform plan` must show no changes, then `cargo xtask destroy --yes` must leave moto empty.
//! Between the read-back and the plan, a temporary user signs in to the user pool
//! (AdminInitiateAuth, with the deploy smoke test's [`deploy::with_test_user`]) and its tokens are
//! verified against the pool's JWKS as the API's JWT authorizer would; then thumbforge-catalog's
//! contract suite runs against the deployed table through moto's DynamoDB.
//!
//! The clean-up of deleted images (the table stream's event source mapping, terraform/cleanup.tf)
//! is read back like the rest; moto keeps the stream's records but never hands them to the
//! function (xtask/moto/serve.py says why).
//!
//! moto cannot run the functions (that needs Docker), so the smoke test is skipped; the local
//! stack's `--arm64` check runs the same zips.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use sha2::Digest;
use thumbforge_core::config::{FUNCTION_NAMES, PRESIGN, THUMBNAIL};
use thumbforge_core::{Config, env, web};

use crate::aws::{self, Aws, SdkContext};
use crate::build;
use crate::deploy::{self, TestUser};
use crate::flags;
use crate::terraform::{Outputs, Terraform};
use crate::tfvars;
use crate::tools;
use crate::util::{self, run, run_lines};

/// The environment (and Terraform workspace) of the check, reserved for it.
pub const ENV: &str = "moto";
/// The region of the check.
const REGION: &str = "us-east-1";
/// The patched launcher (see the file for why).
const SERVER_SCRIPT: &str = "xtask/moto/serve.py";
/// The watermark the check deploys with (the engine's golden-test mark), so that its upload,
/// grant and environment are read back too.
const WATERMARK_PNG: &[u8] = include_bytes!("../../crates/engine/fixtures/watermark.png");

/// Writes the check's configuration under `work`: `thumbforge.toml` with a watermark beside it.
fn check_config(work: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut config =
        Config::load(&util::project_root().join("thumbforge.toml")).context("loading thumbforge.toml")?;
    config.watermark.image = "watermark.png".to_owned();
    let png = work.join("watermark.png");
    std::fs::write(&png, WATERMARK_PNG).with_context(|| format!("writing {}", png.display()))?;
    let path = work.join("thumbforge.toml");
    let text = config.to_toml().context("writing the check's configuration")?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

impl flags::Moto {
    /// Runs the whole check; moto is stopped whatever happens.
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let work = util::project_root().join("target").join("moto");
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let venv = tools::MAIN_VENV.ensure()?;
        tools::terraform()?;
        let config_path = check_config(&work)?;

        println!("==> [1/6] start moto");
        let server = Server::start(&venv, &work.join("moto.log"))?;
        let endpoint = server.endpoint();
        // The emulator is new, so any state left by an earlier, interrupted run is stale.
        let stale = util::project_root().join("terraform").join("terraform.tfstate.d").join(ENV);
        if stale.exists() {
            std::fs::remove_dir_all(&stale)
                .with_context(|| format!("removing the stale state {}", stale.display()))?;
        }
        let data_dir = work.join("terraform-data");
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let cli = |command: &str| {
            let mut c = Command::new(&exe);
            c.args([command, "--env", ENV, "--region", REGION, "--endpoint", &endpoint, "--yes"]);
            if let Some(dir) = &self.plugin_dir {
                c.arg("--plugin-dir").arg(util::from_caller(dir));
            }
            c.env("TF_DATA_DIR", &data_dir);
            c
        };

        println!(
            "==> [2/6] cargo xtask deploy --endpoint {endpoint} --yes --no-smoke --config {}",
            config_path.display()
        );
        let mut deploy = cli("deploy");
        deploy.arg("--no-smoke").arg("--config").arg(&config_path);
        if self.no_build {
            deploy.arg("--no-build");
        }
        run(&mut deploy, "the deploy failed against moto: see above (moto's log: target/moto/moto.log)")?;

        println!("==> [3/6] read back what moto holds");
        let target = flags::Target {
            env: ENV.to_owned(),
            region: REGION.to_owned(),
            endpoint: Some(endpoint.clone()),
            plugin_dir: self.plugin_dir.clone(),
            yes: true,
        };
        let terraform = Terraform::new(&target)?.with_data_dir(&data_dir);
        let outputs = terraform.outputs()?.context("the deploy left no outputs")?;
        let config = Config::load(&config_path).context("loading the check's configuration")?;
        let (vars, _) = tfvars::generate(&config_path)?;
        let runtime = aws::runtime()?;
        let aws = runtime.block_on(Aws::new(REGION, Some(&endpoint)));
        let site_paths: Vec<String> = vars.site_paths().map(str::to_owned).collect();
        let mut report = Report::default();
        runtime.block_on(check_stack(&aws, &outputs, &config, &site_paths, &mut report))?;
        let signed_in = runtime.block_on(deploy::with_test_user(
            &aws,
            &outputs,
            config.auth.password,
            "moto-check",
            async |user: &TestUser| check_tokens(&endpoint, &outputs, &config, user, &mut report),
        ));
        report.check(
            "Cognito: a temporary user signs in (AdminInitiateAuth, ADMIN_USER_PASSWORD_AUTH: access and \
             ID tokens) and is deleted afterwards (AdminGetUser: UserNotFoundException)",
            signed_in.is_ok(),
            signed_in.as_ref().err().map(|e| format!("{e:#}")).unwrap_or_default(),
        );
        runtime.block_on(check_catalog(&aws, &outputs, &mut report));
        report.finish("what moto holds differs from the configuration")?;
        runtime.block_on(leave_versions(&aws, &outputs.media_bucket))?;

        println!("==> [4/6] terraform plan shows no changes");
        if terraform.has_changes()? {
            bail!(
                "`terraform plan` right after the apply wants changes (above): the configuration does \
                 not converge; fix the attribute it keeps changing"
            );
        }
        println!("ok   no changes");

        println!("==> [5/6] a second cargo xtask deploy changes nothing");
        let mut again = cli("deploy");
        again.args(["--no-smoke", "--no-build"]).arg("--config").arg(&config_path);
        let mut applied = Vec::new();
        run_lines(&mut again, "the second deploy failed against moto: see above", |line| {
            if line.starts_with("Apply complete!") {
                applied.push(line.trim().to_owned());
            }
        })?;
        let mut report = Report::default();
        report.eq(
            "the second deploy applies nothing",
            applied,
            vec!["Apply complete! Resources: 0 added, 0 changed, 0 destroyed.".to_owned()],
        );
        report.finish(
            "a deploy right after a deploy is not a no-op (on AWS each CloudFront update costs minutes)",
        )?;

        println!("==> [6/6] cargo xtask destroy --endpoint {endpoint} --yes");
        run(&mut cli("destroy"), "the destroy failed against moto: see above")?;
        let mut report = Report::default();
        runtime.block_on(check_empty(&aws, &mut report))?;
        report.finish("moto is not empty after destroy")?;

        drop(server);
        println!(
            "==> the stack applied, matched, converged and was destroyed on moto in {:.0?}",
            started.elapsed()
        );
        Ok(())
    }
}

/// A moto server on a loopback port it bound itself (`xtask/moto/serve.py` binds port 0 and
/// says which port it got, so no other process can take the port in between). It runs while
/// this process holds its standard input: dropped, it is stopped; and if xtask dies without
/// dropping it (Ctrl-C, SIGKILL), the kernel closes the pipe and moto ends too.
#[derive(Debug)]
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(venv: &tools::Venv<'_>, log: &Path) -> anyhow::Result<Self> {
        let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(venv.bin("python3"));
        command
            .arg(util::project_root().join(SERVER_SCRIPT))
            .arg("127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file);
        println!("$ {}  (log: {})", util::display(&command), log.display());
        let mut child = command.spawn().context("starting moto")?;
        let stdout = child.stdout.take().context("moto's standard output")?;
        // The first line names the port; read it on a thread so that a silent start times out.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let mut server = Self { child, port: 0 };
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(line)) => line,
            Ok(Err(err)) => bail!("reading moto's first line: {err}; see {}", log.display()),
            Err(_) => bail!("moto said nothing within a minute; see {}", log.display()),
        };
        server.port = match parse_listening(&line) {
            Some(port) => port,
            None => match server.child.try_wait().context("watching moto")? {
                Some(status) => bail!("moto exited at start ({status}); see {}", log.display()),
                None => {
                    bail!("moto's first line is {line:?}, not `listening on PORT`; see {}", log.display())
                }
            },
        };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port));
        TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .with_context(|| format!("moto said it listens on {address}, but it does not answer there"))?;
        println!("moto is listening on {} (pid {})", server.endpoint(), server.child.id());
        Ok(server)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The port in serve.py's first line, `listening on PORT`.
fn parse_listening(line: &str) -> Option<u16> {
    line.trim().strip_prefix("listening on ")?.parse().ok().filter(|&p| p != 0)
}

impl Drop for Server {
    fn drop(&mut self) {
        println!("stopping moto (pid {})", self.child.id());
        // Closing its standard input asks it to stop; killing it makes sure.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.child.kill().is_ok() {
            let _ = self.child.wait();
        }
    }
}

/// Checks, each printed as it is made; failures are collected and reported together.
#[derive(Debug, Default)]
struct Report {
    failures: Vec<String>,
    passed: usize,
}

impl Report {
    fn check(&mut self, what: &str, ok: bool, actual: impl Display) {
        if ok {
            self.passed += 1;
            println!("ok   {what}");
        } else {
            println!("FAIL {what}: got {actual}");
            self.failures.push(format!("{what} (got {actual})"));
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, actual: T, expected: T) {
        let ok = actual == expected;
        self.check(what, ok, format!("{actual:?}, expected {expected:?}"));
    }

    fn finish(self, summary: &str) -> anyhow::Result<()> {
        if self.passed == 0 && self.failures.is_empty() {
            bail!("{summary}: no check ran");
        }
        if self.failures.is_empty() {
            println!("{} checks passed", self.passed);
            Ok(())
        } else {
            bail!("{summary}:\n  {}", self.failures.join("\n  "))
        }
    }
}

/// A policy document as IAM returns it (URL-encoded) or as S3 does (plain JSON).
fn policy_json(document: &str) -> anyhow::Result<Value> {
    let text = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_encoding::percent_decode_str(document)
            .decode_utf8()
            .context("decoding a policy")?
            .into_owned()
    };
    serde_json::from_str(&text).with_context(|| format!("not a policy document: {text}"))
}

/// A JSON string or array of strings as a set.
fn strings(value: &Value) -> BTreeSet<String> {
    match value {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => BTreeSet::new(),
    }
}

/// Action → resources granted, over every Allow statement of a policy.
fn grants(policy: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let statements = match &policy["Statement"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in statements.iter().filter(|s| s["Effect"] == "Allow") {
        for action in strings(&statement["Action"]) {
            grants.entry(action).or_default().extend(strings(&statement["Resource"]));
        }
    }
    grants
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn check_stack(
    aws: &Aws,
    outputs: &Outputs,
    config: &Config,
    site_paths: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    let media = &outputs.media_bucket;
    let site = &outputs.site_bucket;
    let media_arn = format!("arn:aws:s3:::{media}");
    let s3 = aws.s3();
    let lambda = aws.lambda();
    let cloudfront = aws.cloudfront();

    let thumbnail = lambda
        .get_function_configuration()
        .function_name(&outputs.thumbnail_function)
        .send()
        .await
        .sdk_context("reading the thumbnail function")?;
    let presign = lambda
        .get_function_configuration()
        .function_name(&outputs.presign_function)
        .send()
        .await
        .sdk_context("reading the presign function")?;
    let thumbnail_arn = thumbnail.function_arn().unwrap_or_default().to_owned();
    let table = check_table(aws, outputs, report).await?;
    let distribution = cloudfront
        .get_distribution()
        .id(&outputs.distribution_id)
        .send()
        .await
        .sdk_context("reading the distribution")?;
    let distribution = distribution.distribution().context("no distribution in the answer")?;
    let dlq_arn = aws
        .sqs()
        .get_queue_attributes()
        .queue_url(&outputs.dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .sdk_context("reading the dead-letter queue")?
        .attributes()
        .cloned()
        .unwrap_or_default();
    let cleanup_dlq_url =
        outputs.cleanup_dlq_url.as_deref().context("the stack has no cleanup_dlq_url output")?;
    let cleanup_dlq = aws
        .sqs()
        .get_queue_attributes()
        .queue_url(cleanup_dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .sdk_context("reading the clean-up dead-letter queue")?
        .attributes()
        .cloned()
        .unwrap_or_default();
    let cleanup_queue_arn = cleanup_dlq.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned();

    // --- S3: the trigger.
    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(media)
        .send()
        .await
        .sdk_context("reading the bucket notification")?;
    let lambdas = notification.lambda_function_configurations();
    report.eq("media bucket: one Lambda notification", lambdas.len(), 1);
    if let Some(n) = lambdas.first() {
        report.eq(
            "notification targets the thumbnail function",
            n.lambda_function_arn(),
            thumbnail_arn.as_str(),
        );
        report.eq(
            "notification fires on s3:ObjectCreated:*",
            n.events().iter().map(|e| e.as_str()).collect::<Vec<_>>(),
            vec!["s3:ObjectCreated:*"],
        );
        let rules: Vec<(String, String)> = n
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r.name().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default(),
                    r.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        report.eq(
            "notification filters on the prefix raw/",
            rules,
            vec![("prefix".to_owned(), "raw/".to_owned())],
        );
    }

    // --- S3: the watermark at its key, as the thumbnail function reads it at cold start.
    if config.watermark.is_on() {
        let object = s3
            .get_object()
            .bucket(media)
            .key(thumbforge_core::keys::WATERMARK)
            .send()
            .await
            .sdk_context("reading the watermark")?;
        let content_type = object.content_type().unwrap_or_default().to_owned();
        let body = object.body.collect().await.context("reading the watermark's body")?.to_vec();
        report.eq(
            "media bucket: the watermark PNG at settings/watermark.png, as image/png",
            (body.as_slice() == WATERMARK_PNG, content_type.as_str()),
            (true, "image/png"),
        );
    }

    // --- S3: both buckets private, owner-enforced, encrypted, versioned.
    for bucket in [media, site] {
        let block = s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .sdk_context("reading the public access block")?;
        let b = block.public_access_block_configuration();
        let all = b.is_some_and(|b| {
            b.block_public_acls() == Some(true)
                && b.block_public_policy() == Some(true)
                && b.ignore_public_acls() == Some(true)
                && b.restrict_public_buckets() == Some(true)
        });
        report.check(&format!("{bucket}: every public access is blocked"), all, format!("{b:?}"));

        let ownership = s3
            .get_bucket_ownership_controls()
            .bucket(bucket)
            .send()
            .await
            .sdk_context("reading ownership")?;
        let rules: Vec<_> = ownership
            .ownership_controls()
            .map(|o| o.rules().iter().map(|r| r.object_ownership().as_str().to_owned()).collect())
            .unwrap_or_default();
        report.eq(&format!("{bucket}: BucketOwnerEnforced"), rules, vec!["BucketOwnerEnforced".to_owned()]);

        let encryption =
            s3.get_bucket_encryption().bucket(bucket).send().await.sdk_context("reading encryption")?;
        let algorithms: Vec<_> = encryption
            .server_side_encryption_configuration()
            .map(|c| {
                c.rules()
                    .iter()
                    .filter_map(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| d.sse_algorithm().as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        report.eq(&format!("{bucket}: encrypted (SSE-S3)"), algorithms, vec!["AES256".to_owned()]);

        // Versioning is not read back here: moto answers GetBucketVersioning with a root element
        // real S3 does not use, which the Rust SDK refuses; the provider reads it (no drift).

        let lifecycle = s3
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .sdk_context("reading the lifecycle")?;
        report.check(
            &format!("{bucket}: incomplete multipart uploads are aborted"),
            lifecycle.rules().iter().any(|r| r.abort_incomplete_multipart_upload().is_some()),
            format!("{:?}", lifecycle.rules()),
        );

        // Bucket policies: CloudFront (this distribution only) may read.
        let policy =
            s3.get_bucket_policy().bucket(bucket).send().await.sdk_context("reading the bucket policy")?;
        let policy = policy_json(policy.policy().unwrap_or_default())?;
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        let reads = statements.iter().find(|s| s["Sid"] == "CloudFrontReads").cloned().unwrap_or_default();
        let readable =
            if bucket == media { format!("{media_arn}/thumbs/*") } else { format!("arn:aws:s3:::{site}/*") };
        report.eq(
            &format!("{bucket}: policy lets CloudFront read {readable}"),
            strings(&reads["Resource"]),
            BTreeSet::from([readable.clone()]),
        );
        report.eq(
            &format!("{bucket}: policy names the CloudFront service"),
            reads["Principal"]["Service"].as_str(),
            Some("cloudfront.amazonaws.com"),
        );
        report.eq(
            &format!("{bucket}: only this distribution may read"),
            reads["Condition"]["StringEquals"]["AWS:SourceArn"].as_str(),
            Some(distribution.arn()),
        );
        let tls =
            statements.iter().find(|s| s["Sid"] == "DenyInsecureTransport").cloned().unwrap_or_default();
        report.eq(
            &format!("{bucket}: policy denies every request without TLS"),
            (
                tls["Effect"].as_str(),
                tls["Action"].as_str(),
                tls["Condition"]["Bool"]["aws:SecureTransport"].as_str(),
            ),
            (Some("Deny"), Some("s3:*"), Some("false")),
        );
    }

    // --- S3: the browser's upload, from the site only, to the bucket's regional endpoint.
    report.eq(
        "uploads go to the media bucket's regional endpoint (CSP connect-src)",
        outputs.upload_origin.as_str(),
        format!("https://{media}.s3.{REGION}.amazonaws.com").as_str(),
    );
    let cors = s3.get_bucket_cors().bucket(media).send().await.sdk_context("reading CORS")?;
    // By their ids (storage.tf): S3 does not promise to list the rules in their written order.
    let by_id = |id: &str| cors.cors_rules().iter().find(|r| r.id() == Some(id));
    let rule = by_id("upload");
    report.eq("CORS: PUT only", rule.map(|r| r.allowed_methods().to_vec()), Some(vec!["PUT".to_owned()]));
    report.eq(
        "CORS: from the site's origin only",
        rule.map(|r| r.allowed_origins().to_vec()),
        Some(vec![format!("https://{}", distribution.domain_name())]),
    );
    report.eq(
        "CORS: the headers the upload URL signs",
        rule.map(|r| r.allowed_headers().iter().cloned().collect::<BTreeSet<_>>()),
        Some(web::UPLOAD_CORS_ALLOWED_HEADERS.iter().map(|h| (*h).to_owned()).collect()),
    );
    let download = by_id("download");
    report.eq(
        "CORS: the original's signed GET, from the site's origin only",
        download.map(|r| (r.allowed_methods().to_vec(), r.allowed_origins().to_vec())),
        Some((vec!["GET".to_owned()], vec![format!("https://{}", distribution.domain_name())])),
    );
    report.eq(
        "CORS: the download exposes its file name",
        download.map(|r| r.expose_headers().to_vec()),
        Some(web::DOWNLOAD_CORS_EXPOSE_HEADERS.iter().map(|h| (*h).to_owned()).collect()),
    );
    report.eq("CORS: exactly the upload and download rules", cors.cors_rules().len(), 2);

    // --- S3: the page, with its types and cache policies.
    for path in site_paths {
        let head =
            s3.head_object().bucket(site).key(path).send().await.sdk_context(&format!("reading {path}"))?;
        let expected = web::site_file_headers(path).map(|(t, c)| (t.to_owned(), c.to_owned()));
        report.eq(
            &format!("site: {path} has its Content-Type and Cache-Control"),
            Some((
                head.content_type().unwrap_or_default().to_owned(),
                head.cache_control().unwrap_or_default().to_owned(),
            )),
            expected,
        );
    }

    // --- Lambda: both functions as the typed config says, running the zips built here.
    let mut environment: BTreeMap<String, String> =
        config.runtime().to_env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    environment.insert(env::BUCKET.to_owned(), media.clone());
    environment.insert(env::TABLE.to_owned(), outputs.table_name.clone().unwrap_or_default());
    // The API function also serves the page how to sign in (the hosted UI of the pool).
    let mut presign_environment = environment.clone();
    // The thumbnail function also deletes a deleted account's user from the pool (cognito only).
    let mut thumbnail_environment = environment.clone();
    if let Some(pool) = &outputs.user_pool_id {
        thumbnail_environment.insert(env::USER_POOL_ID.to_owned(), pool.clone());
    }
    // With a watermark, its hash, which restarts the function when the image changes.
    if config.watermark.is_on() {
        let hash: String = sha2::Sha256::digest(WATERMARK_PNG).iter().map(|b| format!("{b:02x}")).collect();
        thumbnail_environment.insert("THUMBFORGE_WATERMARK_SHA256".to_owned(), hash);
    }
    let hosted_ui = format!("https://{}", outputs.auth_domain.as_deref().unwrap_or("?"));
    presign_environment.extend([
        (env::AUTH_CLIENT_ID.to_owned(), outputs.auth_client_id.clone().unwrap_or_default()),
        (env::AUTH_AUTHORIZE_URL.to_owned(), format!("{hosted_ui}/oauth2/authorize")),
        (env::AUTH_TOKEN_URL.to_owned(), format!("{hosted_ui}/oauth2/token")),
        (env::AUTH_LOGOUT_URL.to_owned(), format!("{hosted_ui}/logout")),
        (env::AUTH_SCOPES.to_owned(), config.auth.scopes.join(" ")),
    ]);
    // The origin secret Terraform drew (terraform_data.origin_secret), which CloudFront sends.
    let origin_secret = presign
        .environment()
        .and_then(|e| e.variables())
        .and_then(|v| v.get(env::ORIGIN_SECRET))
        .cloned()
        .unwrap_or_default();
    report.check(
        "presign: an origin secret of 64 hex digits (256 bits)",
        origin_secret.len() == 64 && origin_secret.bytes().all(|b| b.is_ascii_hexdigit()),
        format!("{} characters", origin_secret.len()),
    );
    presign_environment.insert(env::ORIGIN_SECRET.to_owned(), origin_secret.clone());
    for ((name, sizing), function) in config.functions.by_name().into_iter().zip([&presign, &thumbnail]) {
        report.eq(
            &format!("{name}: runtime provided.al2023"),
            function.runtime().map(|r| r.as_str()),
            Some("provided.al2023"),
        );
        report.eq(
            &format!("{name}: arm64"),
            function.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            vec!["arm64"],
        );
        report.eq(&format!("{name}: handler bootstrap"), function.handler(), Some("bootstrap"));
        report.eq(
            &format!("{name}: memory from thumbforge.toml"),
            function.memory_size(),
            i32::try_from(sizing.memory_mb).ok(),
        );
        report.eq(
            &format!("{name}: timeout from thumbforge.toml"),
            function.timeout(),
            i32::try_from(sizing.timeout_seconds).ok(),
        );
        let actual: BTreeMap<String, String> = function
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let (what, expected) = if name == PRESIGN {
            (
                "RuntimeConfig::to_env() + bucket, table, THUMBFORGE_AUTH_* and the origin secret",
                &presign_environment,
            )
        } else {
            (
                "RuntimeConfig::to_env() + bucket, table, THUMBFORGE_USER_POOL_ID and the watermark's hash",
                &thumbnail_environment,
            )
        };
        report.eq(&format!("{name}: environment = {what}"), &actual, expected);
        let zip = std::fs::read(build::dist_zip(name))
            .with_context(|| format!("reading target/dist/{name}.zip"))?;
        report.eq(
            &format!("{name}: runs target/dist/{name}.zip (CodeSha256)"),
            function.code_sha256().unwrap_or_default().to_owned(),
            build::base64_sha256(&zip),
        );
    }

    // --- Lambda: the thumbnail function's concurrency is capped outside dev.
    let concurrency = lambda
        .get_function_concurrency()
        .function_name(&outputs.thumbnail_function)
        .send()
        .await
        .sdk_context("reading the thumbnail function's concurrency")?;
    let reserved = config.functions.thumbnail_reserved_concurrency;
    report.eq(
        &format!("thumbnail: {reserved} concurrent executions reserved (environment {ENV}, not dev)"),
        concurrency.reserved_concurrent_executions(),
        (reserved > 0).then(|| i32::try_from(reserved)).transpose()?,
    );

    // --- Lambda: failures of the thumbnail function go to the encrypted dead-letter queue.
    let invoke = lambda
        .get_function_event_invoke_config()
        .function_name(&outputs.thumbnail_function)
        .send()
        .await
        .sdk_context("reading the async invoke config")?;
    let queue_arn = dlq_arn.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned();
    report.eq(
        "thumbnail: on-failure destination is the DLQ",
        invoke
            .destination_config()
            .and_then(|d| d.on_failure())
            .and_then(|f| f.destination())
            .map(str::to_owned),
        queue_arn.clone(),
    );
    report.eq("thumbnail: 2 async retries", invoke.maximum_retry_attempts(), Some(2));
    report.eq("thumbnail: events up to an hour old", invoke.maximum_event_age_in_seconds(), Some(3600));
    report.eq(
        "DLQ: encrypted (SQS-managed SSE)",
        dlq_arn.get(&aws_sdk_sqs::types::QueueAttributeName::SqsManagedSseEnabled).map(String::as_str),
        Some("true"),
    );
    let permission = lambda
        .get_policy()
        .function_name(&outputs.thumbnail_function)
        .send()
        .await
        .sdk_context("reading the thumbnail function's policy")?;
    let permission = policy_json(permission.policy().unwrap_or_default())?;
    report.eq(
        "thumbnail: S3 may invoke it for the media bucket only",
        permission["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"].as_str(),
        Some(media_arn.as_str()),
    );

    // --- Lambda: the table's stream drives the clean-up of deleted images.
    check_cleanup(aws, outputs, config, &cleanup_dlq, &table, &thumbnail_arn, report).await?;

    // --- IAM: least privilege.
    let iam = aws.iam();
    let mut role_grants = BTreeMap::new();
    for (name, function) in FUNCTION_NAMES.into_iter().zip([&presign, &thumbnail]) {
        let role = function.role().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
        let names =
            iam.list_role_policies().role_name(&role).send().await.sdk_context("listing role policies")?;
        let mut all = BTreeMap::new();
        for policy_name in names.policy_names() {
            let policy = iam
                .get_role_policy()
                .role_name(&role)
                .policy_name(policy_name)
                .send()
                .await
                .sdk_context("reading a role policy")?;
            for (action, resources) in grants(&policy_json(policy.policy_document())?) {
                all.entry(action).or_insert_with(BTreeSet::new).extend(resources);
            }
        }
        role_grants.insert(name, all);
    }
    let raw = format!("{media_arn}/raw/*");
    let thumbs = format!("{media_arn}/thumbs/*");
    let presign_grants = &role_grants[PRESIGN];
    let thumbnail_grants = &role_grants[THUMBNAIL];
    report.eq(
        "presign role: PutObject on raw/* only",
        presign_grants.get("s3:PutObject"),
        Some(&set([raw.as_str()])),
    );
    report.eq(
        "presign role: GetObject on raw/* and thumbs/*",
        presign_grants.get("s3:GetObject"),
        Some(&set([raw.as_str(), thumbs.as_str()])),
    );
    report.eq(
        "presign role: ListBucket on the media bucket",
        presign_grants.get("s3:ListBucket"),
        Some(&set([media_arn.as_str()])),
    );
    report.eq(
        "thumbnail role: PutObject on thumbs/* only",
        thumbnail_grants.get("s3:PutObject"),
        Some(&set([thumbs.as_str()])),
    );
    let mut thumbnail_reads = set([raw.as_str()]);
    if config.watermark.is_on() {
        thumbnail_reads.insert(format!("{media_arn}/{}", thumbforge_core::keys::WATERMARK));
    }
    report.eq(
        "thumbnail role: GetObject on raw/* and, with one, the watermark's key only",
        thumbnail_grants.get("s3:GetObject"),
        Some(&thumbnail_reads),
    );
    report.eq(
        "thumbnail role: DeleteObject on raw/* and thumbs/* only",
        thumbnail_grants.get("s3:DeleteObject"),
        Some(&set([raw.as_str(), thumbs.as_str()])),
    );
    report.eq(
        "thumbnail role: DeleteObjectVersion (the clean-up) on raw/* and thumbs/* only",
        thumbnail_grants.get("s3:DeleteObjectVersion"),
        Some(&set([raw.as_str(), thumbs.as_str()])),
    );
    report.eq(
        "thumbnail role: ListBucketVersions on the media bucket only",
        thumbnail_grants.get("s3:ListBucketVersions"),
        Some(&set([media_arn.as_str()])),
    );
    let pool_arn = match outputs.user_pool_id.as_deref() {
        Some(pool) => aws_sdk_cognitoidentityprovider::Client::new(&aws.config)
            .describe_user_pool()
            .user_pool_id(pool)
            .send()
            .await
            .sdk_context("reading the user pool")?
            .user_pool()
            .and_then(|p| p.arn())
            .map(str::to_owned),
        None => None,
    };
    report.eq(
        &format!("thumbnail role: {DELETE_USERS} (deleted accounts) on the stack's user pool only"),
        thumbnail_grants.get(DELETE_USERS).cloned(),
        pool_arn.map(|arn| BTreeSet::from([arn])),
    );
    report.eq(
        "presign role: no Cognito action",
        presign_grants.keys().filter(|a| a.starts_with("cognito-idp:")).count(),
        0,
    );
    report.eq(
        "thumbnail role: SendMessage to its two DLQs only (S3 events, the clean-up)",
        thumbnail_grants.get("sqs:SendMessage").cloned(),
        queue_arn.into_iter().chain(cleanup_queue_arn).collect::<BTreeSet<_>>().into(),
    );
    let table_only = BTreeSet::from([table.arn.clone()]);
    let stream_only = BTreeSet::from([table.stream_arn.clone()]);
    let anywhere = BTreeSet::from(["*".to_owned()]);
    for (name, grants) in &role_grants {
        let on_dynamodb: BTreeMap<&str, &BTreeSet<String>> = grants
            .iter()
            .filter(|(action, _)| action.starts_with("dynamodb:"))
            .map(|(action, resources)| (action.as_str(), resources))
            .collect();
        let (what, dynamodb): (String, BTreeMap<&str, &BTreeSet<String>>) = if *name == PRESIGN {
            (
                format!("{} on the table's ARN only", PRESIGN_TABLE_ACTIONS.join(", ")),
                PRESIGN_TABLE_ACTIONS.iter().map(|a| (*a, &table_only)).collect(),
            )
        } else {
            (
                format!(
                    "{} on the table's ARN, {} on its stream's, {LIST_STREAMS} on * (no resource type)",
                    THUMBNAIL_TABLE_ACTIONS.join(", "),
                    THUMBNAIL_STREAM_ACTIONS.join(", ")
                ),
                THUMBNAIL_TABLE_ACTIONS
                    .iter()
                    .map(|a| (*a, &table_only))
                    .chain(THUMBNAIL_STREAM_ACTIONS.iter().map(|a| (*a, &stream_only)))
                    .chain([(LIST_STREAMS, &anywhere)])
                    .collect(),
            )
        };
        report.eq(&format!("{name} role: {what}"), on_dynamodb, dynamodb.clone());
        let actions: BTreeSet<&str> = grants.keys().map(String::as_str).collect();
        let mut expected: BTreeSet<&str> = if *name == PRESIGN {
            ["logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
                .into()
        } else {
            [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:PutObject",
                "sqs:SendMessage",
            ]
            .into()
        };
        expected.extend(dynamodb.keys());
        if *name == THUMBNAIL && outputs.user_pool_id.is_some() {
            expected.insert(DELETE_USERS);
        }
        report.eq(&format!("{name} role: no other action"), actions, expected);
        report.eq(
            &format!("{name} role: logs to its own group only"),
            grants.get("logs:PutLogEvents").map(|r| {
                r.iter().all(|arn| arn.contains(&format!(":log-group:/aws/lambda/thumbforge-{ENV}-{name}:")))
            }),
            Some(true),
        );
    }

    // --- API Gateway: the routes, the Lambda proxy integration (payload 2.0), the stage.
    let api = aws.apigateway();
    let routes = api.get_routes().api_id(&outputs.api_id).send().await.sdk_context("reading the routes")?;
    let integrations = api
        .get_integrations()
        .api_id(&outputs.api_id)
        .send()
        .await
        .sdk_context("reading the integrations")?;
    let integration = integrations.items().first();
    report.eq("API: one integration", integrations.items().len(), 1);
    report.eq(
        "API: Lambda proxy",
        integration.and_then(|i| i.integration_type()).map(|t| t.as_str()),
        Some("AWS_PROXY"),
    );
    report.eq("API: payload format 2.0", integration.and_then(|i| i.payload_format_version()), Some("2.0"));
    report.check(
        "API: integrates the presign function",
        integration
            .and_then(|i| i.integration_uri())
            .is_some_and(|uri| uri.contains(presign.function_arn().unwrap_or("?"))),
        format!("{:?}", integration.and_then(|i| i.integration_uri())),
    );
    let integration_target =
        format!("integrations/{}", integration.and_then(|i| i.integration_id()).unwrap_or_default());
    report.eq(
        "API: every route of the route table, all to the integration",
        routes
            .items()
            .iter()
            .map(|r| {
                (r.route_key().unwrap_or_default().to_owned(), r.target().unwrap_or_default().to_owned())
            })
            .collect::<BTreeSet<_>>(),
        thumbforge_core::routes::ROUTES.iter().map(|r| (r.key(), integration_target.clone())).collect(),
    );
    check_authorizer(aws, outputs, config, routes.items(), report).await?;
    let stages = api.get_stages().api_id(&outputs.api_id).send().await.sdk_context("reading the stages")?;
    let stage = stages.items().iter().find(|s| s.stage_name() == Some("$default"));
    report.eq("API: $default stage, auto-deployed", stage.and_then(|s| s.auto_deploy()), Some(true));
    report.eq(
        "API: stage throttling",
        stage
            .and_then(|s| s.default_route_settings())
            .map(|r| (r.throttling_burst_limit(), r.throttling_rate_limit())),
        Some((
            Some(i32::try_from(config.api.reads.burst)?),
            Some(f64::from(config.api.reads.rate_per_second)),
        )),
    );
    let route_settings = stage.and_then(|s| s.route_settings());
    for route in thumbforge_core::routes::ROUTES.iter() {
        let throttle = config.api.throttle_of(route);
        let key = route.key();
        report.eq(
            &format!("API: {key} throttled at {}/s, burst {}", throttle.rate_per_second, throttle.burst),
            route_settings
                .and_then(|settings| settings.get(&key))
                .map(|r| (r.throttling_rate_limit(), r.throttling_burst_limit())),
            Some((Some(f64::from(throttle.rate_per_second)), Some(i32::try_from(throttle.burst)?))),
        );
    }
    report.check(
        "API: access logs to its log group",
        stage
            .and_then(|s| s.access_log_settings())
            .and_then(|a| a.destination_arn())
            .is_some_and(|arn| arn.contains(&format!("/aws/apigateway/thumbforge-{ENV}-api"))),
        format!("{:?}", stage.and_then(|s| s.access_log_settings())),
    );

    // --- CloudFront: behaviours and origins.
    let config_answer = cloudfront
        .get_distribution_config()
        .id(&outputs.distribution_id)
        .send()
        .await
        .sdk_context("reading the distribution config")?;
    let dc = config_answer.distribution_config().context("no distribution config")?;
    let oacs = cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .sdk_context("listing origin access controls")?;
    let oac = oacs
        .origin_access_control_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .find(|o| o.name() == format!("thumbforge-{ENV}-s3"))
        .map(|o| o.id().to_owned());
    report.check("CloudFront: the S3 origin access control exists", oac.is_some(), "none");
    let default = dc.default_cache_behavior();
    report.eq(
        "CloudFront: default behaviour → site bucket",
        default.map(|d| d.target_origin_id()),
        Some("site"),
    );

    // --- CloudFront Function: cloudfront/viewer-request.js, published, on the page and thumbnails.
    let function_name = format!("thumbforge-{ENV}-viewer-request");
    let function = cloudfront
        .describe_function()
        .name(&function_name)
        .send()
        .await
        .sdk_context("reading the CloudFront Function")?;
    let summary = function.function_summary();
    let function_arn = summary.and_then(|s| s.function_metadata()).map(|m| m.function_arn().to_owned());
    report.eq(
        "CloudFront Function: cloudfront-js-2.0, published",
        (
            summary.and_then(|s| s.function_config()).map(|c| c.runtime().as_str().to_owned()),
            summary
                .and_then(|s| s.function_metadata())
                .and_then(|m| m.stage())
                .map(|s| s.as_str().to_owned()),
        ),
        (Some("cloudfront-js-2.0".to_owned()), Some("LIVE".to_owned())),
    );
    let code = cloudfront.get_function().name(&function_name).send().await.sdk_context("reading its code")?;
    let source = std::fs::read_to_string(util::project_root().join("cloudfront/viewer-request.js"))
        .context("reading cloudfront/viewer-request.js")?;
    let negotiated = config.thumbnails.negotiated_formats();
    let shipped = thumbforge_dev::viewer::deployed_code(&source, &negotiated)
        .context("cloudfront/viewer-request.js has no single `const NEGOTIATED = …;` line")?;
    report.check(
        &format!(
            "CloudFront Function: its code is cloudfront/viewer-request.js negotiating {}",
            thumbforge_dev::viewer::negotiated_json(&negotiated)
        ),
        code.function_code().is_some_and(|c| c.as_ref() == shipped.as_bytes()),
        "other code",
    );
    let associations =
        |b: Option<&[aws_sdk_cloudfront::types::FunctionAssociation]>| -> Vec<(String, String)> {
            b.unwrap_or_default()
                .iter()
                .map(|a| (a.event_type().as_str().to_owned(), a.function_arn().to_owned()))
                .collect()
        };
    let viewer_request = vec![("viewer-request".to_owned(), function_arn.clone().unwrap_or_default())];
    report.eq(
        "CloudFront: the default behaviour runs the function on viewer requests",
        associations(default.and_then(|d| d.function_associations()).map(|f| f.items())),
        viewer_request.clone(),
    );
    report.eq(
        "CloudFront: /thumbs/* runs the function on viewer requests",
        associations(
            dc.cache_behaviors()
                .and_then(|c| c.items().first())
                .and_then(|b| b.function_associations())
                .map(|f| f.items()),
        ),
        viewer_request,
    );
    let behaviours: Vec<(String, String, Option<String>, i32)> = dc
        .cache_behaviors()
        .map(|c| c.items())
        .unwrap_or_default()
        .iter()
        .map(|b| {
            (
                b.path_pattern().to_owned(),
                b.target_origin_id().to_owned(),
                b.cache_policy_id().map(str::to_owned),
                b.allowed_methods().map_or(0, |m| m.quantity()),
            )
        })
        .collect();
    report.eq(
        "CloudFront: /thumbs/* → media (the renditions' max-age), /api/* → API (uncached, all methods)",
        behaviours,
        vec![
            (
                "/thumbs/*".to_owned(),
                "media-thumbs".to_owned(),
                Some("658327ea-f89d-4fab-a63d-7e88639e58f6".to_owned()),
                2,
            ),
            (
                "/api/*".to_owned(),
                "api".to_owned(),
                Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad".to_owned()),
                7,
            ),
        ],
    );
    report.eq(
        "CloudFront: /api/* forwards every viewer header but Host",
        dc.cache_behaviors().and_then(|c| c.items().get(1)).and_then(|b| b.origin_request_policy_id()),
        Some("b689b0a8-53d0-40ab-baf2-68738e2966ac"),
    );
    let origins: BTreeMap<String, (String, Option<String>)> = dc
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|o| {
            (
                o.id().to_owned(),
                (
                    o.domain_name().to_owned(),
                    o.origin_access_control_id().filter(|s| !s.is_empty()).map(str::to_owned),
                ),
            )
        })
        .collect();
    let api_endpoint = aws
        .apigateway()
        .get_api()
        .api_id(&outputs.api_id)
        .send()
        .await
        .sdk_context("reading the API")?
        .api_endpoint
        .unwrap_or_default();
    let api_host = api_endpoint.trim_start_matches("https://").trim_end_matches('/').to_owned();
    let api_headers: Vec<(String, String)> = dc
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .filter(|o| o.id() == "api")
        .flat_map(|o| o.custom_headers().map(|h| h.items()).unwrap_or_default())
        .map(|h| (h.header_name().to_owned(), h.header_value().to_owned()))
        .collect();
    report.eq(
        "CloudFront: the API origin carries the function's origin secret",
        api_headers,
        vec![(web::ORIGIN_SECRET_HEADER.to_owned(), origin_secret.clone())],
    );
    report.eq(
        "CloudFront: origins (both buckets through OAC, the API host)",
        origins,
        BTreeMap::from([
            ("api".to_owned(), (api_host, None)),
            ("media-thumbs".to_owned(), (format!("{media}.s3.{REGION}.amazonaws.com"), oac.clone())),
            ("site".to_owned(), (format!("{site}.s3.{REGION}.amazonaws.com"), oac)),
        ]),
    );
    report.eq("CloudFront: price class", dc.price_class().map(|p| p.as_str()), Some("PriceClass_100"));
    report.eq("CloudFront: index.html at /", dc.default_root_object(), Some("index.html"));
    check_user_pool(aws, outputs, config, report).await?;
    Ok(())
}

/// What each function may do on the catalog table (terraform/iam.tf), sorted. The API also reads
/// the images of its tag and album listings in batches.
const PRESIGN_TABLE_ACTIONS: [&str; 7] = [
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
];
/// The thumbnail function also puts the marker item of an expired upload's settlement, and lists
/// and deletes a deleted account's items (in transactions and in batches).
const THUMBNAIL_TABLE_ACTIONS: [&str; 8] = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
];
/// The thumbnail function deletes a deleted account's user, in the stack's pool only.
const DELETE_USERS: &str = "cognito-idp:AdminDeleteUser";
/// What the clean-up's event source mapping needs on the table's stream, through the thumbnail
/// function's role.
const THUMBNAIL_STREAM_ACTIONS: [&str; 3] =
    ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"];
/// Also needed by the mapping; granted on `*`, as it has no resource type.
const LIST_STREAMS: &str = "dynamodb:ListStreams";

/// The catalog table's ARN and its stream's.
#[derive(Debug, Clone)]
struct TableArns {
    arn: String,
    stream_arn: String,
}

/// The clean-up of deleted images and accounts (terraform/cleanup.tf): one event source mapping
/// from the table's stream to the thumbnail function, as `[cleanup]` says, with two filters,
/// [`REMOVED_IMAGES_FILTER`](thumbforge_catalog::schema::REMOVED_IMAGES_FILTER) and
/// [`ACCOUNT_DELETION_FILTER`](thumbforge_catalog::schema::ACCOUNT_DELETION_FILTER), failing over
/// to the clean-up dead-letter queue (`cleanup_dlq`: its attributes).
async fn check_cleanup(
    aws: &Aws,
    outputs: &Outputs,
    config: &Config,
    cleanup_dlq: &std::collections::HashMap<aws_sdk_sqs::types::QueueAttributeName, String>,
    table: &TableArns,
    thumbnail_arn: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let queue_arn = cleanup_dlq.get(&QueueAttributeName::QueueArn).map(String::as_str);
    report.check(
        "clean-up DLQ: thumbforge-<env>-cleanup-dlq exists",
        queue_arn.is_some_and(|arn| arn.ends_with(&format!(":thumbforge-{ENV}-cleanup-dlq"))),
        format!("{queue_arn:?}"),
    );
    report.eq(
        "clean-up DLQ: encrypted (SQS-managed SSE)",
        cleanup_dlq.get(&QueueAttributeName::SqsManagedSseEnabled).map(String::as_str),
        Some("true"),
    );
    let mappings = aws
        .lambda()
        .list_event_source_mappings()
        .function_name(&outputs.thumbnail_function)
        .send()
        .await
        .sdk_context("listing the thumbnail function's event source mappings")?;
    let mappings = mappings.event_source_mappings();
    report.eq("thumbnail: one event source mapping (the clean-up)", mappings.len(), 1);
    let Some(mapping) = mappings.first() else {
        return Ok(());
    };
    report.eq(
        "clean-up mapping: its UUID is the stack's cleanup_mapping_uuid output (destroy checks it is gone)",
        mapping.uuid(),
        outputs.cleanup_mapping_uuid.as_deref(),
    );
    report.eq(
        "clean-up mapping: from the table's stream to the thumbnail function",
        (mapping.event_source_arn(), mapping.function_arn()),
        (Some(table.stream_arn.as_str()), Some(thumbnail_arn)),
    );
    report.eq(
        "clean-up mapping: enabled, from the oldest record (TRIM_HORIZON)",
        (mapping.state(), mapping.starting_position().map(|p| p.as_str())),
        (Some("Enabled"), Some("TRIM_HORIZON")),
    );
    let patterns: Vec<Option<Value>> = mapping
        .filter_criteria()
        .map(|f| f.filters())
        .unwrap_or_default()
        .iter()
        .map(|f| f.pattern().and_then(|p| serde_json::from_str(p).ok()))
        .collect();
    report.eq(
        "clean-up mapping: two filters, REMOVED_IMAGES_FILTER (removed image items) and \
         ACCOUNT_DELETION_FILTER (an account's tombstone while it is deleting)",
        cleanup_filters(patterns),
        cleanup_filters(expected_cleanup_filters()?.into_iter().map(Some).collect()),
    );
    let cleanup = &config.cleanup;
    report.eq(
        "clean-up mapping: batch size, retries and oldest record from [cleanup]",
        (mapping.batch_size(), mapping.maximum_retry_attempts(), mapping.maximum_record_age_in_seconds()),
        (
            Some(i32::from(cleanup.batch_size)),
            i32::try_from(cleanup.max_retries).ok(),
            i32::try_from(cleanup.max_record_age_seconds).ok(),
        ),
    );
    report.eq(
        "clean-up mapping: a failing batch is split, the function reports its failed records",
        (
            mapping.bisect_batch_on_function_error(),
            mapping.function_response_types().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        ),
        (Some(true), vec!["ReportBatchItemFailures"]),
    );
    report.eq(
        "clean-up mapping: on-failure destination is the clean-up DLQ",
        mapping.destination_config().and_then(|d| d.on_failure()).and_then(|f| f.destination()),
        queue_arn,
    );
    Ok(())
}

/// The clean-up mapping's patterns (tfvars.rs writes them in this order): the removed image items,
/// then the tombstone of an account being deleted.
fn expected_cleanup_filters() -> anyhow::Result<Vec<Value>> {
    use thumbforge_catalog::schema;
    [
        ("REMOVED_IMAGES_FILTER", schema::REMOVED_IMAGES_FILTER),
        ("ACCOUNT_DELETION_FILTER", schema::ACCOUNT_DELETION_FILTER),
    ]
    .into_iter()
    .map(|(name, pattern)| serde_json::from_str(pattern).with_context(|| format!("{name} is not JSON")))
    .collect()
}

/// A mapping's filters as Lambda uses them: it invokes the function for a record any of them
/// matches, so their order means nothing, and Terraform's provider keeps them as a set (it sends
/// them in an order of its own). Sorted by their JSON text, a pattern that is not JSON first.
fn cleanup_filters(mut patterns: Vec<Option<Value>>) -> Vec<Option<Value>> {
    patterns.sort_by_cached_key(|p| p.as_ref().map(Value::to_string));
    patterns
}

/// The catalog table as thumbforge-catalog's schema says; returns its ARN and its stream's.
async fn check_table(aws: &Aws, outputs: &Outputs, report: &mut Report) -> anyhow::Result<TableArns> {
    use thumbforge_catalog::schema;
    let name = outputs.table_name.as_deref().context("the stack has no table_name output")?;
    report.eq(
        "DynamoDB: the table is thumbforge-<env>-images",
        name,
        format!("thumbforge-{ENV}-images").as_str(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws.config);
    let described =
        dynamodb.describe_table().table_name(name).send().await.sdk_context("reading the table")?;
    let table = described.table().context("DescribeTable answered no table")?;
    report.eq(
        "DynamoDB: keys pk (hash) and sk (range)",
        table
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
            .collect::<Vec<_>>(),
        vec![(schema::PK.to_owned(), "HASH".to_owned()), (schema::SK.to_owned(), "RANGE".to_owned())],
    );
    report.eq(
        "DynamoDB: both keys are strings, no other attribute declared",
        table
            .attribute_definitions()
            .iter()
            .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([(schema::PK.to_owned(), "S".to_owned()), (schema::SK.to_owned(), "S".to_owned())]),
    );
    report.eq(
        "DynamoDB: no index",
        (table.global_secondary_indexes().len(), table.local_secondary_indexes().len()),
        (0, 0),
    );
    report.eq(
        "DynamoDB: on-demand (PAY_PER_REQUEST)",
        table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str()),
        Some(schema::BILLING_MODE),
    );
    report.eq(
        "DynamoDB: stream of new and old images",
        table.stream_specification().map(|s| (s.stream_enabled(), s.stream_view_type().map(|v| v.as_str()))),
        Some((true, Some(schema::STREAM_VIEW_TYPE))),
    );
    report.eq(
        "DynamoDB: encrypted with KMS (the AWS-managed key)",
        table.sse_description().map(|d| {
            (d.status().map(|s| s.as_str().to_owned()), d.sse_type().map(|t| t.as_str().to_owned()))
        }),
        Some((Some("ENABLED".to_owned()), Some("KMS".to_owned()))),
    );
    report.eq("DynamoDB: no deletion protection (default)", table.deletion_protection_enabled(), Some(false));
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .sdk_context("reading the table's TTL")?;
    report.eq(
        "DynamoDB: items expire at expiresAt (TTL)",
        ttl.time_to_live_description().map(|d| {
            (d.attribute_name().map(str::to_owned), d.time_to_live_status().map(|s| s.as_str().to_owned()))
        }),
        Some((Some(schema::TTL_ATTRIBUTE.to_owned()), Some("ENABLED".to_owned()))),
    );
    let backups = dynamodb
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .sdk_context("reading the table's continuous backups")?;
    report.eq(
        "DynamoDB: point-in-time recovery on",
        backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str().to_owned()),
        Some("ENABLED".to_owned()),
    );
    Ok(TableArns {
        arn: table.table_arn().map(str::to_owned).context("DescribeTable answered no ARN")?,
        stream_arn: table
            .latest_stream_arn()
            .map(str::to_owned)
            .context("DescribeTable answered no stream ARN (the clean-up reads the stream)")?,
    })
}

/// thumbforge-catalog's contract ([`thumbforge_catalog::contract::run_all`]) on the deployed
/// table, through moto's DynamoDB: each check that passes counts into `report`, a failure fails it.
async fn check_catalog(aws: &Aws, outputs: &Outputs, report: &mut Report) {
    use thumbforge_catalog::contract;
    let Some(table) = outputs.table_name.as_deref() else {
        report.check("catalog contract: the stack has a table", false, "no table_name output");
        return;
    };
    let catalog = thumbforge_catalog::DynamoCatalog::new(aws_sdk_dynamodb::Client::new(&aws.config), table);
    match contract::run_all(&catalog).await {
        Ok(passed) => {
            for check in contract::CHECKS.iter().take(passed) {
                report.check(&format!("catalog contract on {table}: {check}"), true, "");
            }
        }
        Err(err) => report.check(&format!("catalog contract on {table}"), false, err),
    }
}

/// The JWT authorizer (the pool, for the page's client) and which routes run it, with which
/// scopes.
async fn check_authorizer(
    aws: &Aws,
    outputs: &Outputs,
    config: &Config,
    routes: &[aws_sdk_apigatewayv2::types::Route],
    report: &mut Report,
) -> anyhow::Result<()> {
    use thumbforge_core::routes::{Access, ROUTES};
    // moto has no GetAuthorizers (the list): the routes name the authorizer, GetAuthorizer reads it.
    let used: BTreeSet<&str> =
        routes.iter().filter_map(|r| r.authorizer_id()).filter(|id| !id.is_empty()).collect();
    report.eq("API: the routes share one authorizer", used.len(), 1);
    let authorizer = match used.first() {
        Some(id) => Some(
            aws.apigateway()
                .get_authorizer()
                .api_id(&outputs.api_id)
                .authorizer_id(*id)
                .send()
                .await
                .sdk_context("reading the authorizer")?,
        ),
        None => None,
    };
    let authorizer = authorizer.as_ref();
    let pool = outputs.user_pool_id.as_deref().unwrap_or("?");
    let issuer = format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}");
    report.eq(
        "API: a JWT authorizer reading the Authorization header",
        authorizer
            .map(|a| (a.authorizer_type().map(|t| t.as_str().to_owned()), a.identity_source().to_vec())),
        Some((Some("JWT".to_owned()), vec!["$request.header.Authorization".to_owned()])),
    );
    report.eq(
        "API: the authorizer trusts the pool (issuer) for the page's client (audience)",
        authorizer
            .and_then(|a| a.jwt_configuration())
            .map(|j| (j.issuer().map(str::to_owned), j.audience().iter().cloned().collect::<BTreeSet<_>>())),
        Some((Some(issuer.clone()), outputs.auth_client_id.iter().cloned().collect())),
    );
    report.eq(
        "outputs: user_pool_issuer is the authorizer's issuer",
        outputs.user_pool_issuer.as_deref(),
        Some(issuer.as_str()),
    );
    let authorizer_id = authorizer.and_then(|a| a.authorizer_id()).map(str::to_owned);
    let scopes: BTreeSet<String> = config.auth.route_scopes.iter().cloned().collect();
    let actual: BTreeMap<String, (String, Option<String>, BTreeSet<String>)> = routes
        .iter()
        .map(|r| {
            (
                r.route_key().unwrap_or_default().to_owned(),
                (
                    r.authorization_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                    r.authorizer_id().filter(|id| !id.is_empty()).map(str::to_owned),
                    r.authorization_scopes().iter().cloned().collect(),
                ),
            )
        })
        .collect();
    let expected = ROUTES
        .iter()
        .map(|r| {
            let auth = match r.access {
                Access::SignedIn => ("JWT".to_owned(), authorizer_id.clone(), scopes.clone()),
                Access::Public => ("NONE".to_owned(), None, BTreeSet::new()),
            };
            (r.key(), auth)
        })
        .collect();
    report.eq(
        "API: every route but GET /api/config runs the authorizer and needs a route scope",
        actual,
        expected,
    );
    Ok(())
}

/// The user pool, its hosted UI domain and the page's client, as `[auth]` says.
async fn check_user_pool(
    aws: &Aws,
    outputs: &Outputs,
    config: &Config,
    report: &mut Report,
) -> anyhow::Result<()> {
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws.config);
    let pool_id = outputs.user_pool_id.as_deref().context("the stack has no user_pool_id output")?;
    let client_id = outputs.auth_client_id.as_deref().context("the stack has no auth_client_id output")?;
    let domain = outputs.auth_domain.as_deref().context("the stack has no auth_domain output")?;
    let described = cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .sdk_context("reading the user pool")?;
    let pool = described.user_pool().context("DescribeUserPool answered no pool")?;
    let strs = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    report.eq(
        "Cognito: the pool is thumbforge-<env>-users",
        pool.name(),
        Some(format!("thumbforge-{ENV}-users").as_str()),
    );
    report.eq(
        "Cognito: users sign in with their (verified) email address",
        (
            pool.username_attributes().iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>(),
            pool.auto_verified_attributes().iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>(),
            pool.username_configuration().map(|u| u.case_sensitive()),
        ),
        (strs(&["email"]), strs(&["email"]), Some(false)),
    );
    report.eq(
        "Cognito: self sign-up, confirmed with an emailed {####} code",
        (
            pool.admin_create_user_config().map(|c| c.allow_admin_create_user_only()),
            pool.verification_message_template()
                .and_then(|t| t.default_email_option())
                .map(|o| o.as_str().to_owned()),
            pool.verification_message_template()
                .and_then(|t| t.email_message())
                .is_some_and(|m| m.contains("{####}")),
        ),
        (Some(false), Some("CONFIRM_WITH_CODE".to_owned()), true),
    );
    report.eq(
        "Cognito: a new address must be verified before it replaces the old one",
        pool.user_attribute_update_settings().map(|u| {
            u.attributes_require_verification_before_update().iter().map(|a| a.as_str().to_owned()).collect()
        }),
        Some(strs(&["email"])),
    );
    let wanted = config.auth.password;
    report.eq(
        "Cognito: the password policy is auth.password",
        pool.policies().and_then(|p| p.password_policy()).map(|p| {
            (
                p.minimum_length(),
                p.require_lowercase(),
                p.require_uppercase(),
                p.require_numbers(),
                p.require_symbols(),
            )
        }),
        Some((
            Some(i32::from(wanted.min_length)),
            wanted.require_lowercase,
            wanted.require_uppercase,
            wanted.require_numbers,
            wanted.require_symbols,
        )),
    );
    let mfa =
        cognito.get_user_pool_mfa_config().user_pool_id(pool_id).send().await.sdk_context("reading MFA")?;
    report.eq(
        "Cognito: MFA optional, by authenticator app (TOTP)",
        (
            mfa.mfa_configuration().map(|m| m.as_str().to_owned()),
            mfa.software_token_mfa_configuration().map(|t| t.enabled()),
        ),
        (Some("OPTIONAL".to_owned()), Some(true)),
    );
    report.eq(
        "Cognito: accounts are recovered by verified email only",
        pool.account_recovery_setting().map(|r| {
            r.recovery_mechanisms()
                .iter()
                .map(|m| (m.name().as_str().to_owned(), m.priority()))
                .collect::<Vec<_>>()
        }),
        Some(vec![("verified_email".to_owned(), 1)]),
    );
    report.eq(
        "Cognito: no deletion protection (default)",
        pool.deletion_protection().map(|d| d.as_str().to_owned()),
        Some("INACTIVE".to_owned()),
    );

    // The hosted UI's domain.
    let prefix = domain.split('.').next().unwrap_or_default();
    report.check(
        "Cognito: the hosted UI is thumbforge-<env>-<8 hex digits>.auth.<region>.amazoncognito.com",
        prefix
            .strip_prefix(&format!("thumbforge-{ENV}-"))
            .is_some_and(|h| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            && domain == format!("{prefix}.auth.{REGION}.amazoncognito.com"),
        domain,
    );
    let described = cognito
        .describe_user_pool_domain()
        .domain(prefix)
        .send()
        .await
        .sdk_context("reading the user pool domain")?;
    report.eq(
        "Cognito: the domain belongs to the pool",
        described.domain_description().and_then(|d| d.user_pool_id()),
        Some(pool_id),
    );
    report.eq("Cognito: the pool names its domain", pool.domain(), Some(prefix));
    report.eq(
        "outputs: the hosted UI's authorize, token and logout endpoints",
        (outputs.auth_authorize_url.clone(), outputs.auth_token_url.clone(), outputs.auth_logout_url.clone()),
        (
            Some(format!("https://{domain}/oauth2/authorize")),
            Some(format!("https://{domain}/oauth2/token")),
            Some(format!("https://{domain}/logout")),
        ),
    );

    // The page's client.
    let described = cognito
        .describe_user_pool_client()
        .user_pool_id(pool_id)
        .client_id(client_id)
        .send()
        .await
        .sdk_context("reading the app client")?;
    let client = described.user_pool_client().context("DescribeUserPoolClient answered no client")?;
    let as_set = |items: &[String]| items.iter().cloned().collect::<BTreeSet<_>>();
    report.eq("Cognito client: public (no secret)", client.client_secret(), None);
    report.eq(
        "Cognito client: the authorization code flow only, for users of the pool",
        (
            client.allowed_o_auth_flows_user_pool_client(),
            client.allowed_o_auth_flows().iter().map(|f| f.as_str().to_owned()).collect::<Vec<_>>(),
            client.supported_identity_providers().to_vec(),
        ),
        (Some(true), strs(&["code"]), strs(&["COGNITO"])),
    );
    report.eq(
        "Cognito client: may ask for auth.scopes",
        as_set(client.allowed_o_auth_scopes()),
        as_set(&config.auth.scopes),
    );
    let returns: BTreeSet<String> = [outputs.site_url.clone(), "http://localhost:8080/".to_owned()].into();
    report.eq(
        "Cognito client: sign-in and sign-out return to the site and the local stack only",
        (as_set(client.callback_urls()), as_set(client.logout_urls())),
        (returns.clone(), returns),
    );
    report.eq(
        "Cognito client: besides the hosted UI, refresh and the admin sign-in only",
        client.explicit_auth_flows().iter().map(|f| f.as_str().to_owned()).collect::<BTreeSet<_>>(),
        BTreeSet::from(["ALLOW_ADMIN_USER_PASSWORD_AUTH".to_owned(), "ALLOW_REFRESH_TOKEN_AUTH".to_owned()]),
    );
    report.eq(
        "Cognito client: no user enumeration, revocable refresh tokens",
        (
            client.prevent_user_existence_errors().map(|p| p.as_str().to_owned()),
            client.enable_token_revocation(),
        ),
        (Some("ENABLED".to_owned()), Some(true)),
    );
    let units = client.token_validity_units();
    report.eq(
        "Cognito client: token lifetimes from auth (minutes, minutes, days)",
        (
            client.access_token_validity(),
            client.id_token_validity(),
            client.refresh_token_validity(),
            units.and_then(|u| u.access_token()).map(|t| t.as_str().to_owned()),
            units.and_then(|u| u.id_token()).map(|t| t.as_str().to_owned()),
            units.and_then(|u| u.refresh_token()).map(|t| t.as_str().to_owned()),
        ),
        (
            i32::try_from(config.auth.access_token_minutes).ok(),
            i32::try_from(config.auth.id_token_minutes).ok(),
            i32::try_from(config.auth.refresh_token_days).unwrap_or_default(),
            Some("minutes".to_owned()),
            Some("minutes".to_owned()),
            Some("days".to_owned()),
        ),
    );
    Ok(())
}

/// The body of a plain-HTTP GET (moto's JWKS; the SDK has no call for it).
fn http_get(url: &str) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").with_context(|| format!("{url}: only http:// URLs here"))?;
    let (host, path) = match rest.split_once('/') {
        Some((host, path)) => (host, format!("/{path}")),
        None => (rest, "/".to_owned()),
    };
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).context("setting a read timeout")?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("sending GET {url}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).with_context(|| format!("reading the answer to GET {url}"))?;
    let response = String::from_utf8(response).with_context(|| format!("GET {url}: not UTF-8"))?;
    let (head, body) =
        response.split_once("\r\n\r\n").with_context(|| format!("GET {url}: no header end"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("GET {url} answered `{status}`: {body}");
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        bail!("GET {url} answered a chunked body, which this reader does not decode");
    }
    Ok(body.to_owned())
}

/// Verifies `token` as API Gateway's JWT authorizer does: RS256, a key of `jwks` by `kid`,
/// signature, `exp`, `iss`, and `aud` when `audience` is given; returns its claims.
fn verify_jwt(token: &str, jwks: &Value, issuer: &str, audience: Option<&str>) -> anyhow::Result<Value> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header = jsonwebtoken::decode_header(token).context("not a JWT")?;
    if header.alg != Algorithm::RS256 {
        bail!("signed with {:?}, not RS256", header.alg);
    }
    let kid = header.kid.context("the token names no key (kid)")?;
    let keys = jwks["keys"].as_array().context("the JWKS has no keys")?;
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .with_context(|| format!("no key {kid} in the JWKS"))?;
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().context("the key has no modulus")?,
        jwk["e"].as_str().context("the key has no exponent")?,
    )
    .context("the JWKS key is not an RSA key")?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    Ok(jsonwebtoken::decode::<Value>(token, &key, &validation).context("the token does not verify")?.claims)
}

/// The test user's tokens verify against the pool's JWKS (served by moto) with the authorizer's
/// issuer and audience, and carry what the routes check.
fn check_tokens(
    endpoint: &str,
    outputs: &Outputs,
    config: &Config,
    user: &TestUser,
    report: &mut Report,
) -> anyhow::Result<()> {
    let pool = outputs.user_pool_id.as_deref().context("the stack has no user_pool_id output")?;
    let client = outputs.auth_client_id.as_deref().unwrap_or_default();
    let issuer = format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}");
    let jwks_url = format!("{endpoint}/{pool}/.well-known/jwks.json");
    let jwks: Value =
        serde_json::from_str(&http_get(&jwks_url)?).with_context(|| format!("{jwks_url}: not JSON"))?;
    match verify_jwt(&user.access_token, &jwks, &issuer, None) {
        Ok(claims) => {
            report.check("access token: RS256, verified with the pool's JWKS, iss = the pool", true, "");
            report.eq(
                "access token: client_id is the page's client (the authorizer's audience)",
                (claims["client_id"].as_str(), claims["token_use"].as_str()),
                (Some(client), Some("access")),
            );
            let scopes: BTreeSet<&str> = claims["scope"].as_str().unwrap_or_default().split(' ').collect();
            report.check(
                "access token: holds one of auth.route_scopes (the routes accept it)",
                config.auth.route_scopes.is_empty()
                    || config.auth.route_scopes.iter().any(|s| scopes.contains(s.as_str())),
                format!("{scopes:?}"),
            );
        }
        Err(err) => report.check(
            "access token: RS256, verified with the pool's JWKS, iss = the pool",
            false,
            format!("{err:#}"),
        ),
    }
    match verify_jwt(&user.id_token, &jwks, &issuer, Some(client)) {
        Ok(claims) => {
            report.check(
                "ID token: RS256, verified with the pool's JWKS, iss = the pool, aud = the client",
                true,
                "",
            );
            report.eq(
                "ID token: the user's email, no scope (the routes refuse it)",
                (claims["token_use"].as_str(), claims["email"].as_str(), claims.get("scope")),
                (Some("id"), Some(user.email.as_str()), None),
            );
        }
        Err(err) => report.check(
            "ID token: RS256, verified with the pool's JWKS, iss = the pool, aud = the client",
            false,
            format!("{err:#}"),
        ),
    }
    Ok(())
}

/// Leaves two versions and a delete marker in the media bucket, as real use does, so that the
/// destroy below must empty a versioned bucket. (Under `thumbs/`: moto would try to run the
/// thumbnail function for `raw/`, which needs Docker.)
async fn leave_versions(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    let s3 = aws.s3();
    let key = "thumbs/0192f0c4-7d1e-7c3a-9b1e-6f4d2c1a0b9e/256.jpg";
    for body in ["first", "second"] {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .sdk_context("writing a test object")?;
    }
    s3.delete_object().bucket(bucket).key(key).send().await.sdk_context("deleting the test object")?;
    println!("left 2 versions and a delete marker of s3://{bucket}/{key} for destroy to empty");
    Ok(())
}

/// Every service the stack used holds nothing any more.
async fn check_empty(aws: &Aws, report: &mut Report) -> anyhow::Result<()> {
    let buckets = aws.s3().list_buckets().send().await.sdk_context("listing buckets")?;
    report.eq("no bucket left", buckets.buckets().len(), 0);
    let functions = aws.lambda().list_functions().send().await.sdk_context("listing functions")?;
    report.eq("no function left", functions.functions().len(), 0);
    let roles = aws.iam().list_roles().send().await.sdk_context("listing roles")?;
    report.eq(
        "no role left",
        roles.roles().iter().map(|r| r.role_name().to_owned()).collect::<Vec<_>>(),
        Vec::<String>::new(),
    );
    let apis = aws.apigateway().get_apis().send().await.sdk_context("listing APIs")?;
    report.eq("no HTTP API left", apis.items().len(), 0);
    let distributions =
        aws.cloudfront().list_distributions().send().await.sdk_context("listing distributions")?;
    report.eq("no distribution left", distributions.distribution_list().map_or(0, |l| l.quantity()), 0);
    let oacs = aws.cloudfront().list_origin_access_controls().send().await.sdk_context("listing OACs")?;
    report.eq(
        "no origin access control left",
        oacs.origin_access_control_list().map_or(0, |l| l.items().len()),
        0,
    );
    let mappings = aws
        .lambda()
        .list_event_source_mappings()
        .send()
        .await
        .sdk_context("listing event source mappings")?;
    report.eq("no event source mapping left", mappings.event_source_mappings().len(), 0);
    let queues = aws.sqs().list_queues().send().await.sdk_context("listing queues")?;
    report.eq(
        "no queue left (neither dead-letter queue)",
        queues.queue_urls().to_vec(),
        Vec::<String>::new(),
    );
    let functions =
        aws.cloudfront().list_functions().send().await.sdk_context("listing CloudFront Functions")?;
    report.eq("no CloudFront Function left", functions.function_list().map_or(0, |l| l.items().len()), 0);
    let pools = aws_sdk_cognitoidentityprovider::Client::new(&aws.config)
        .list_user_pools()
        .max_results(60)
        .send()
        .await
        .sdk_context("listing user pools")?;
    report.eq("no user pool left", pools.user_pools().len(), 0);
    let tables = aws_sdk_dynamodb::Client::new(&aws.config)
        .list_tables()
        .send()
        .await
        .sdk_context("listing tables")?;
    report.eq("no table left", tables.table_names().to_vec(), Vec::<String>::new());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_map_actions_to_resources() {
        let policy = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["a/raw/*", "a/thumbs/*"]},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "a/raw/*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        ]});
        let grants = grants(&policy);
        assert_eq!(grants["s3:GetObject"], set(["a/raw/*", "a/thumbs/*"]));
        assert_eq!(grants["s3:PutObject"], set(["a/raw/*"]));
        assert!(!grants.contains_key("s3:*"), "Deny statements grant nothing");
    }

    /// The mapping's filters are compared as Lambda uses them: in any order, each once.
    #[test]
    fn cleanup_filters_compare_in_any_order() {
        let expected = expected_cleanup_filters().unwrap();
        assert_eq!(expected.len(), 2);
        assert_eq!(expected[0]["eventName"], serde_json::json!(["REMOVE"]));
        assert_eq!(expected[1]["eventName"], serde_json::json!(["INSERT", "MODIFY"]));
        let wanted = cleanup_filters(expected.iter().cloned().map(Some).collect());
        assert_eq!(cleanup_filters(expected.iter().rev().cloned().map(Some).collect()), wanted);
        assert_ne!(cleanup_filters(vec![Some(expected[0].clone())]), wanted, "one filter is not two");
        assert_ne!(
            cleanup_filters(vec![Some(expected[1].clone()), None]),
            wanted,
            "a pattern that is not JSON matches nothing"
        );
    }

    #[test]
    fn iam_policy_documents_are_url_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(policy_json(encoded).unwrap()["Version"], "2012-10-17");
        assert_eq!(policy_json("{\"a\":1}").unwrap()["a"], 1);
    }

    /// moto's JWKS path on a server that answers `response` once.
    fn serve_once(response: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let (base, server) = deploy::tests::serve_once(response);
        (format!("{base}/pool_1/.well-known/jwks.json"), server)
    }

    #[test]
    fn http_get_reads_the_body_of_a_200() {
        let (url, server) = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"keys\":[]}",
        );
        assert_eq!(http_get(&url).unwrap(), "{\"keys\":[]}");
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /pool_1/.well-known/jwks.json HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
    }

    #[test]
    fn http_get_refuses_other_statuses_and_chunked_bodies() {
        let (url, server) = serve_once("HTTP/1.1 404 NOT FOUND\r\nContent-Length: 4\r\n\r\nnope");
        let err = http_get(&url).unwrap_err();
        assert!(format!("{err:#}").contains("404 NOT FOUND"), "{err:#}");
        server.join().unwrap();
        let (url, server) =
            serve_once("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
        assert!(format!("{:#}", http_get(&url).unwrap_err()).contains("chunked"));
        server.join().unwrap();
        assert!(http_get("https://example.com/").is_err(), "only plain http");
    }

    /// What the authorizer refuses, the check refuses: another algorithm, an unknown key.
    #[test]
    fn tokens_must_be_rs256_with_a_key_of_the_jwks() {
        use jsonwebtoken::{EncodingKey, Header, encode};
        let claims = serde_json::json!({"iss": "https://issuer", "sub": "u", "exp": 4_000_000_000_u64});
        let jwks = serde_json::json!({"keys": [{"kid": "dummy", "kty": "RSA", "n": "AQAB", "e": "AQAB"}]});
        let hs256 =
            encode(&Header::default(), &claims, &EncodingKey::from_secret(b"secret").unwrap()).unwrap();
        let err = verify_jwt(&hs256, &jwks, "https://issuer", None).unwrap_err();
        assert!(format!("{err:#}").contains("not RS256"), "{err:#}");
        // An RS256 header with a kid the JWKS lacks (the signature is never reached).
        let header = aws_smithy_types::base64::encode(r#"{"alg":"RS256","kid":"other","typ":"JWT"}"#);
        let unsigned =
            format!("{}.e30.c2ln", header.trim_end_matches('=').replace('+', "-").replace('/', "_"));
        let err = verify_jwt(&unsigned, &jwks, "https://issuer", None).unwrap_err();
        assert!(format!("{err:#}").contains("no key other in the JWKS"), "{err:#}");
    }

    #[test]
    fn the_port_comes_from_the_servers_first_line() {
        assert_eq!(parse_listening("listening on 43117\n"), Some(43117));
        assert_eq!(parse_listening("listening on 0"), None);
        assert_eq!(parse_listening(" * Running on http://127.0.0.1:5000"), None);
    }

    fn server(log: &str) -> Server {
        let venv = tools::MAIN_VENV;
        assert!(venv.bin("python3").is_file(), "needs the moto venv: run `cargo xtask setup` first");
        let dir = util::project_root().join("target").join("moto");
        std::fs::create_dir_all(&dir).unwrap();
        Server::start(&venv, &dir.join(log)).unwrap()
    }

    /// Each server binds a port of its own (no window in which another process can take it).
    #[test]
    #[ignore = "needs the moto venv; `cargo xtask test` runs it in its moto step"]
    fn server_binds_its_own_port_even_when_two_start_at_once() {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| server("server-a.log"));
            let b = s.spawn(|| server("server-b.log"));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a.port, b.port);
        for server in [&a, &b] {
            TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
        }
    }

    /// When xtask dies without running its destructors (Ctrl-C, SIGKILL), its end of moto's
    /// standard input closes, and moto stops by itself: no server is left behind.
    #[test]
    #[ignore = "needs the moto venv; `cargo xtask test` runs it in its moto step"]
    fn server_stops_when_xtask_goes_away() {
        let mut server = server("server-orphan.log");
        let port = server.port;
        // What the kernel does for a process that dies: close the pipe, nothing else.
        drop(server.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "moto still runs after its parent went away");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{status}");
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(), "port {port} still answers");
    }
}
