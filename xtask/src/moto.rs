//! `cargo xtask moto`: the real Terraform stack, through the real AWS provider, against a local
//! moto server: `cargo xtask deploy --endpoint … --yes --no-smoke` (the real deploy code path),
//! then what moto holds is read back through the AWS SDK and compared with the typed config, then
//! `terraform plan` must show no changes, then `cargo xtask destroy --yes` must leave moto empty.
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
use thumbforge_core::config::{FUNCTION_NAMES, PRESIGN, THUMBNAIL};
use thumbforge_core::{Config, env, web};

use crate::aws::{self, Aws, SdkContext};
use crate::build;
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

impl flags::Moto {
    /// Runs the whole check; moto is stopped whatever happens.
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let work = util::project_root().join("target").join("moto");
        std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let venv = tools::MAIN_VENV.ensure()?;
        tools::terraform()?;

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

        println!("==> [2/6] cargo xtask deploy --endpoint {endpoint} --yes --no-smoke");
        let mut deploy = cli("deploy");
        deploy.arg("--no-smoke");
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
        let config =
            Config::load(&util::project_root().join("thumbforge.toml")).context("loading thumbforge.toml")?;
        let (vars, _) = tfvars::generate(&util::project_root().join("thumbforge.toml"))?;
        let runtime = aws::runtime()?;
        let aws = runtime.block_on(Aws::new(REGION, Some(&endpoint)));
        let site_paths: Vec<String> = vars.site_paths().map(str::to_owned).collect();
        let mut report = Report::default();
        runtime.block_on(check_stack(&aws, &outputs, &config, &site_paths, &mut report))?;
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
        again.args(["--no-smoke", "--no-build"]);
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
    let rule = cors.cors_rules().first();
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
        report.eq(
            &format!("{name}: environment = RuntimeConfig::to_env() + THUMBFORGE_BUCKET"),
            &actual,
            &environment,
        );
        let zip = std::fs::read(build::dist_zip(name))
            .with_context(|| format!("reading target/dist/{name}.zip"))?;
        report.eq(
            &format!("{name}: runs target/dist/{name}.zip (CodeSha256)"),
            function.code_sha256().unwrap_or_default().to_owned(),
            build::base64_sha256(&zip),
        );
    }

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
    report.eq(
        "thumbnail role: GetObject on raw/* and thumbs/*",
        thumbnail_grants.get("s3:GetObject"),
        Some(&set([raw.as_str(), thumbs.as_str()])),
    );
    report.eq(
        "thumbnail role: SendMessage to its DLQ only",
        thumbnail_grants.get("sqs:SendMessage").cloned(),
        queue_arn.map(|a| BTreeSet::from([a])),
    );
    for (name, grants) in &role_grants {
        let actions: BTreeSet<&str> = grants.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = if *name == PRESIGN {
            ["logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
                .into()
        } else {
            [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:PutObject",
                "sqs:SendMessage",
            ]
            .into()
        };
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
        "API: the presign routes, all to the integration",
        routes
            .items()
            .iter()
            .map(|r| {
                (r.route_key().unwrap_or_default().to_owned(), r.target().unwrap_or_default().to_owned())
            })
            .collect::<BTreeSet<_>>(),
        [
            "POST /api/uploads",
            "GET /api/images",
            "GET /api/images/{id}",
            "GET /api/config",
            "ANY /api/{proxy+}",
        ]
        .iter()
        .map(|k| ((*k).to_owned(), integration_target.clone()))
        .collect(),
    );
    let stages = api.get_stages().api_id(&outputs.api_id).send().await.sdk_context("reading the stages")?;
    let stage = stages.items().iter().find(|s| s.stage_name() == Some("$default"));
    report.eq("API: $default stage, auto-deployed", stage.and_then(|s| s.auto_deploy()), Some(true));
    report.eq(
        "API: stage throttling",
        stage
            .and_then(|s| s.default_route_settings())
            .map(|r| (r.throttling_burst_limit(), r.throttling_rate_limit())),
        Some((Some(100), Some(50.0))),
    );
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
    let shipped = std::fs::read(util::project_root().join("cloudfront/viewer-request.js"))
        .context("reading cloudfront/viewer-request.js")?;
    report.check(
        "CloudFront Function: its code is cloudfront/viewer-request.js",
        code.function_code().is_some_and(|c| c.as_ref() == shipped.as_slice()),
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
        "CloudFront: /thumbs/* → media (long TTL), /api/* → API (uncached, all methods)",
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
    let api_host = outputs.api_gateway_url.trim_start_matches("https://").trim_end_matches('/').to_owned();
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
    let queues = aws.sqs().list_queues().send().await.sdk_context("listing queues")?;
    report.eq("no queue left", queues.queue_urls().len(), 0);
    let functions =
        aws.cloudfront().list_functions().send().await.sdk_context("listing CloudFront Functions")?;
    report.eq("no CloudFront Function left", functions.function_list().map_or(0, |l| l.items().len()), 0);
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

    #[test]
    fn iam_policy_documents_are_url_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(policy_json(encoded).unwrap()["Version"], "2012-10-17");
        assert_eq!(policy_json("{\"a\":1}").unwrap()["a"], 1);
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
