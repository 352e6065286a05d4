//! `cargo xtask destroy`: empties both buckets (every object version and delete marker: the
//! buckets are versioned), `terraform destroy`, then checks that nothing is left, in the state and
//! in AWS.

use anyhow::{Context, bail};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::aws::{self, Aws, SdkContext};
use crate::flags;
use crate::terraform::{self, Outputs, Terraform};

impl flags::Destroy {
    /// Runs every step; each failure says what to do next.
    pub fn run(self) -> anyhow::Result<()> {
        let target = &self.target;
        terraform::require_answerable(target.yes)?;
        println!("==> [1/4] terraform init (environment `{}`, region {})", target.env, target.region);
        let terraform = Terraform::new(target)?;
        terraform.init()?;
        let before = terraform.state_list()?;
        if before.is_empty() {
            println!("nothing is deployed in environment `{}`", target.env);
            return Ok(());
        }
        let buckets = bucket_names(&terraform)?;
        let outputs = terraform.outputs()?;
        if !target.yes
            && !terraform::confirm(&format!(
                "Destroy environment `{}` ({} resources), deleting every upload and thumbnail in {}?",
                target.env,
                before.len(),
                buckets.join(", ")
            ))?
        {
            bail!("nothing was destroyed");
        }

        println!("==> [2/4] empty the buckets (all versions)");
        let runtime = aws::runtime()?;
        let aws = runtime.block_on(Aws::new(&target.region, target.endpoint.as_deref()));
        for bucket in &buckets {
            let deleted = runtime.block_on(empty_bucket(&aws, bucket))?;
            println!("emptied s3://{bucket}: {deleted} object versions and delete markers");
        }

        println!("==> [3/4] terraform destroy");
        terraform.destroy(true)?;

        println!("==> [4/4] check that nothing is left");
        let left = terraform.state_list()?;
        if !left.is_empty() {
            bail!("still in the Terraform state: {}; run destroy again", left.join(", "));
        }
        if let Some(outputs) = outputs {
            let remaining = runtime.block_on(remaining(&aws, &outputs))?;
            if !remaining.is_empty() {
                bail!(
                    "still in AWS after destroy: {}; delete them by hand or run destroy again",
                    remaining.join(", ")
                );
            }
        }
        println!("environment `{}` is gone", target.env);
        Ok(())
    }
}

/// The buckets in the state (from `terraform show -json`, which works even when an apply failed
/// before the outputs were written).
fn bucket_names(terraform: &Terraform) -> anyhow::Result<Vec<String>> {
    let mut command = terraform.command(["show", "-json"]);
    println!("$ {}", crate::util::display(&command));
    let output = command.output().context("running terraform show")?;
    if !output.status.success() {
        bail!("`terraform show -json` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let state: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading terraform show -json")?;
    Ok(buckets_in_state(&state))
}

fn buckets_in_state(state: &serde_json::Value) -> Vec<String> {
    let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
    resources
        .iter()
        .filter(|r| r["type"] == "aws_s3_bucket" && r["mode"] == "managed")
        .filter_map(|r| r["values"]["bucket"].as_str().map(str::to_owned))
        .collect()
}

/// Deletes every object version and delete marker; returns how many.
pub async fn empty_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<usize> {
    let s3 = aws.s3();
    let mut deleted = 0;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).max_keys(1000).send().await {
            Ok(page) => page,
            Err(err) if err.as_service_error().is_some_and(|e| e.meta().code() == Some("NoSuchBucket")) => {
                return Ok(deleted);
            }
            Err(err) => return Err(err).sdk_context(&format!("listing the versions in s3://{bucket}")),
        };
        let mut objects = Vec::new();
        for version in page.versions() {
            objects.push(identifier(version.key(), version.version_id())?);
        }
        for marker in page.delete_markers() {
            objects.push(identifier(marker.key(), marker.version_id())?);
        }
        if objects.is_empty() {
            return Ok(deleted);
        }
        let count = objects.len();
        let result = s3
            .delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(objects)).quiet(true).build()?)
            .send()
            .await
            .sdk_context(&format!("deleting objects from s3://{bucket}"))?;
        if let Some(error) = result.errors().first() {
            bail!(
                "S3 refused to delete {:?} from s3://{bucket}: {:?} {:?}",
                error.key(),
                error.code(),
                error.message()
            );
        }
        deleted += count;
        println!("  s3://{bucket}: {deleted} deleted so far");
    }
}

fn identifier(key: Option<&str>, version: Option<&str>) -> anyhow::Result<ObjectIdentifier> {
    Ok(ObjectIdentifier::builder()
        .key(key.context("S3 listed a version without a key")?)
        .set_version_id(version.map(str::to_owned))
        .build()?)
}

/// What of `outputs` still exists.
pub async fn remaining(aws: &Aws, outputs: &Outputs) -> anyhow::Result<Vec<String>> {
    let mut left = Vec::new();
    let s3 = aws.s3();
    for bucket in [&outputs.media_bucket, &outputs.site_bucket] {
        if s3.head_bucket().bucket(bucket).send().await.is_ok() {
            left.push(format!("bucket {bucket}"));
        }
    }
    let lambda = aws.lambda();
    for function in [&outputs.presign_function, &outputs.thumbnail_function] {
        if lambda.get_function().function_name(function).send().await.is_ok() {
            left.push(format!("function {function}"));
        }
        // Each function's execution role carries the function's name.
        if aws.iam().get_role().role_name(function.as_str()).send().await.is_ok() {
            left.push(format!("role {function}"));
        }
    }
    if aws.apigateway().get_api().api_id(&outputs.api_id).send().await.is_ok() {
        left.push(format!("HTTP API {}", outputs.api_id));
    }
    if aws.cloudfront().get_distribution().id(&outputs.distribution_id).send().await.is_ok() {
        left.push(format!("distribution {}", outputs.distribution_id));
    }
    if aws.sqs().get_queue_attributes().queue_url(&outputs.dlq_url).send().await.is_ok() {
        left.push(format!("queue {}", outputs.dlq_url));
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_found_in_the_state() {
        let state = serde_json::json!({"values": {"root_module": {"resources": [
            {"mode": "managed", "type": "aws_s3_bucket", "values": {"bucket": "media"}},
            {"mode": "managed", "type": "aws_s3_bucket_policy", "values": {"bucket": "media"}},
            {"mode": "data", "type": "aws_s3_bucket", "values": {"bucket": "someone-elses"}},
            {"mode": "managed", "type": "aws_s3_bucket", "values": {"bucket": "site"}},
        ]}}});
        assert_eq!(buckets_in_state(&state), ["media", "site"]);
        assert!(buckets_in_state(&serde_json::json!({"format_version": "1.0"})).is_empty());
    }
}
