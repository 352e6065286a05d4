//! `cargo xtask deploy`: build → tfvars → terraform init → apply (the page is uploaded by
//! Terraform, with its Content-Type and Cache-Control) → CloudFront invalidation of the page →
//! smoke test through the public URL → the URL.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::aws::{self, Aws, SdkContext};
use crate::build;
use crate::flags;
use crate::terraform::{Outputs, Terraform};
use crate::tfvars;
use crate::util;

/// The image the smoke test uploads (a real photo, MIT, shipped with the tests).
const SMOKE_IMAGE: &str = "fixtures/photos/orient_6.jpg";

/// How long the smoke test waits for the thumbnail function (cold start, retries included).
const SMOKE_TIMEOUT: Duration = Duration::from_secs(120);

impl flags::Deploy {
    /// Runs every step; each failure says what to do next.
    pub fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let target = &self.target;
        crate::terraform::require_answerable(target.yes)?;
        crate::tools::terraform()?;
        let total = if self.no_smoke { 5 } else { 6 };
        let step = |n: usize, what: &str| println!("==> [{n}/{total}] {what}");

        step(1, "build the Lambda zips");
        if self.no_build {
            for lambda in build::LAMBDAS {
                let zip = build::dist_zip(lambda);
                if !zip.is_file() {
                    bail!("{} is missing: run `cargo xtask build` (or drop --no-build)", zip.display());
                }
            }
            println!("using the zips already in target/dist (--no-build)");
        } else {
            build::build()?;
        }

        step(2, "write the deployment's Terraform variables (target/terraform/ENV.tfvars.json)");
        let vars = tfvars::write_deployment(&util::from_caller(&self.config), &target.env)?;

        step(3, &format!("terraform apply (environment `{}`, region {})", target.env, target.region));
        let terraform = Terraform::new(target)?;
        terraform.init()?;
        terraform.apply(target.yes)?;
        let outputs = terraform.outputs()?.context("terraform applied, but the state has no outputs")?;

        step(4, "invalidate the page in CloudFront");
        let runtime = aws::runtime()?;
        let aws = runtime.block_on(Aws::new(&target.region, target.endpoint.as_deref()));
        let paths = invalidation_paths(vars.site_paths());
        runtime.block_on(invalidate(&aws, &outputs.distribution_id, &paths))?;

        if self.no_smoke {
            println!("==> smoke test skipped (--no-smoke)");
        } else {
            step(5, "smoke test: upload an image through the public URL and wait for its thumbnails");
            smoke_test(&outputs).context(
                "the stack is deployed but does not work end to end: read the function logs \
                 (aws logs tail /aws/lambda/<function> --since 10m), fix, deploy again",
            )?;
        }

        step(total, "done");
        println!("deployed `{}` in {:.0?}", target.env, started.elapsed());
        println!("  site:          {}", outputs.site_url);
        println!("  API:           {}", outputs.api_url);
        println!("  media bucket:  {}", outputs.media_bucket);
        println!("  functions:     {}, {}", outputs.presign_function, outputs.thumbnail_function);
        println!("  dead letters:  {}", outputs.dlq_url);
        println!("(CloudFront may take a few minutes to serve a new distribution everywhere)");
        Ok(())
    }
}

/// The page's paths to refresh at the edge: `/` and every published file.
pub fn invalidation_paths<'a>(site_paths: impl Iterator<Item = &'a str>) -> Vec<String> {
    std::iter::once("/".to_owned()).chain(site_paths.map(|p| format!("/{p}"))).collect()
}

async fn invalidate(aws: &Aws, distribution: &str, paths: &[String]) -> anyhow::Result<()> {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    let caller_reference = format!(
        "thumbforge-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
    );
    let batch = InvalidationBatch::builder()
        .caller_reference(caller_reference)
        .paths(
            Paths::builder()
                .quantity(i32::try_from(paths.len()).unwrap_or(i32::MAX))
                .set_items(Some(paths.to_vec()))
                .build()?,
        )
        .build()?;
    println!("CloudFront CreateInvalidation {distribution}: {}", paths.join(" "));
    let result = aws
        .cloudfront()
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .sdk_context(
            "creating the CloudFront invalidation (the deployment itself succeeded; run deploy again)",
        )?;
    if let Some(invalidation) = result.invalidation() {
        println!("invalidation {} {}", invalidation.id(), invalidation.status());
    }
    Ok(())
}

/// What `POST /api/uploads` answers (the fields the smoke test uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ticket {
    upload: Upload,
    status_url: String,
}

#[derive(Debug, Deserialize)]
struct Upload {
    method: String,
    url: String,
    headers: std::collections::BTreeMap<String, String>,
}

/// What `GET /api/images/{id}` answers (the fields the smoke test uses).
#[derive(Debug, Deserialize)]
struct Status {
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    thumbnails: Vec<Thumbnail>,
}

#[derive(Debug, Deserialize)]
struct Thumbnail {
    url: String,
}

/// `curl` with the flags every smoke request uses (fail on HTTP errors, quiet, bounded).
fn curl() -> Command {
    let mut command = Command::new("curl");
    command.args(["--silent", "--show-error", "--fail-with-body", "--max-time", "30"]);
    command
}

/// Runs `command`, echoed, and returns its standard output.
fn output(command: &mut Command, hint: &str) -> anyhow::Result<String> {
    let shown = util::display(command);
    println!("$ {shown}");
    let output =
        command.output().with_context(|| format!("could not start `{shown}`: is curl installed?"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}): {}{} — {hint}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("curl printed something that is not UTF-8")
}

/// Presign, upload, wait for the manifest, fetch a thumbnail, check the page's headers.
fn smoke_test(outputs: &Outputs) -> anyhow::Result<()> {
    let site = outputs.site_url.trim_end_matches('/');
    let image = util::project_root().join(SMOKE_IMAGE);
    let size = std::fs::metadata(&image).with_context(|| format!("reading {}", image.display()))?.len();

    let headers = output(curl().args(["--head", &format!("{site}/")]), "the page is not served")?;
    let lower = headers.to_ascii_lowercase();
    for header in
        ["content-security-policy:", "strict-transport-security:", "x-content-type-options: nosniff"]
    {
        if !lower.contains(header) {
            bail!("the page lacks `{header}` (response headers policy not attached?):\n{headers}");
        }
    }

    let request =
        serde_json::json!({ "filename": "smoke-test.jpg", "contentType": "image/jpeg", "size": size });
    let body = output(
        curl().args([
            "--request",
            "POST",
            "--header",
            "content-type: application/json",
            "--data",
            &request.to_string(),
            &format!("{}/uploads", outputs.api_url),
        ]),
        "POST /api/uploads failed",
    )?;
    let ticket: Ticket =
        serde_json::from_str(&body).with_context(|| format!("not an upload ticket: {body}"))?;

    let mut put = curl();
    put.args(["--request", &ticket.upload.method, "--upload-file"]).arg(&image);
    for (name, value) in &ticket.upload.headers {
        put.args(["--header", &format!("{name}: {value}")]);
    }
    put.arg(&ticket.upload.url);
    output(&mut put, "S3 refused the pre-signed upload")?;

    let deadline = Instant::now() + SMOKE_TIMEOUT;
    let status = loop {
        let body = output(curl().arg(format!("{site}{}", ticket.status_url)), "the status request failed")?;
        let status: Status =
            serde_json::from_str(&body).with_context(|| format!("not an image status: {body}"))?;
        if status.status != "pending" {
            break status;
        }
        if Instant::now() > deadline {
            bail!(
                "no manifest after {SMOKE_TIMEOUT:?}: is the thumbnail function triggered? (its logs, the DLQ)"
            );
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    if status.status != "ready" {
        bail!("the smoke image was {} ({:?}), expected ready", status.status, status.reason);
    }
    let thumbnail = status.thumbnails.first().context("a ready image without thumbnails")?;
    let fetched = output(
        curl()
            .args(["--output", "/dev/null", "--write-out", "%{http_code} %{content_type}"])
            .arg(format!("{site}{}", thumbnail.url)),
        "the thumbnail is not served through CloudFront",
    )?;
    if !fetched.starts_with("200 image/") {
        bail!("the thumbnail answered `{fetched}`, expected 200 and an image type");
    }
    println!("smoke test passed: {} → {}", ticket.status_url, thumbnail.url);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_each_of_its_files_are_invalidated() {
        let paths = invalidation_paths(["index.html", "app.js", "img/logo.svg"].into_iter());
        assert_eq!(paths, ["/", "/index.html", "/app.js", "/img/logo.svg"]);
    }

    #[test]
    fn the_smoke_image_exists_and_fits_the_default_limit() {
        let size = std::fs::metadata(util::project_root().join(SMOKE_IMAGE)).unwrap().len();
        assert!(size > 0 && size <= thumbforge_core::Config::default().limits.max_upload_bytes);
    }

    #[test]
    fn tickets_and_statuses_parse_as_the_api_writes_them() {
        let ticket: Ticket = serde_json::from_str(
            r#"{"id":"x","key":"raw/x.jpg","upload":{"method":"PUT","url":"https://b.s3.amazonaws.com/raw/x.jpg?X-Amz-Signature=1","headers":{"content-type":"image/jpeg"}},"expiresAt":"t","statusUrl":"/api/images/x","thumbnails":[]}"#,
        )
        .unwrap();
        assert_eq!(ticket.status_url, "/api/images/x");
        assert_eq!(ticket.upload.headers["content-type"], "image/jpeg");
        let status: Status = serde_json::from_str(
            r#"{"id":"x","status":"ready","thumbnails":[{"url":"/thumbs/x/256.jpg","width":256}]}"#,
        )
        .unwrap();
        assert_eq!(status.thumbnails[0].url, "/thumbs/x/256.jpg");
    }
}
