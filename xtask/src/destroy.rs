//! `cargo xtask destroy`: stops everything that writes into the media bucket (S3's events, both
//! functions, and any upload URL already handed out), empties both buckets until they stay empty
//! (every object version and delete marker: the buckets are versioned), `terraform destroy`, then
//! checks that nothing is left, in the state and in AWS (buckets, functions, roles, API,
//! distribution, both dead-letter queues, the clean-up's event source mapping, the table, the user
//! pool). Only a not-found answer counts as gone.
//!
//! A user pool or table under deletion protection (`user_pool_deletion_protection`,
//! `table_deletion_protection`: production) stops destroy before anything is touched: the
//! protection must be lifted by a deploy first, on purpose.

use std::time::Duration;

use anyhow::{Context, bail};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{Delete, NotificationConfiguration, ObjectIdentifier};

use crate::aws::{self, Aws, SdkContext};
use crate::flags;
use crate::terraform::{self, Outputs, Terraform};

impl flags::Destroy {
    /// Runs every step; each failure says what to do next.
    pub fn run(self) -> anyhow::Result<()> {
        let target = &self.target;
        terraform::require_answerable(target.yes)?;
        crate::tools::terraform()?;
        println!("==> [1/5] terraform init (environment `{}`, region {})", target.env, target.region);
        let terraform = Terraform::new(target)?;
        terraform.init()?;
        let before = terraform.state_list()?;
        if before.is_empty() {
            println!("nothing is deployed in environment `{}`", target.env);
            return Ok(());
        }
        let state = state_json(&terraform)?;
        let protected = protected_in_state(&state);
        if !protected.is_empty() {
            bail!(
                "environment `{}` keeps its users and images under deletion protection ({}): nothing \
                 was destroyed. To delete them for good, set user_pool_deletion_protection = false and \
                 table_deletion_protection = false in terraform/env/{}.tfvars, run `cargo xtask deploy` \
                 for the environment, then destroy again",
                target.env,
                protected.join(", "),
                target.env
            );
        }
        let buckets = buckets_in_state(&state);
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

        let runtime = aws::runtime()?;
        let aws = runtime.block_on(Aws::new(&target.region, target.endpoint.as_deref()));
        println!("==> [2/5] stop what writes into the media bucket");
        match &outputs {
            Some(outputs) => runtime.block_on(stop_inflow(&aws, outputs))?,
            None => println!("the state has no outputs (an apply that failed early): nothing to stop"),
        }

        println!("==> [3/5] empty the buckets (all versions) until they stay empty");
        let s3 = aws.s3();
        for bucket in &buckets {
            let deleted = runtime.block_on(drain_bucket(&s3, bucket, SETTLE))?;
            println!("emptied s3://{bucket}: {deleted} object versions and delete markers");
        }

        println!("==> [4/5] terraform destroy");
        if let Err(first) = terraform.destroy(true) {
            // A write that slipped in before the stop took effect fails the bucket's deletion
            // (BucketNotEmpty): empty what is left and try once more.
            println!("terraform destroy failed ({first:#}); emptying the buckets again and retrying once");
            for bucket in &buckets {
                runtime.block_on(drain_bucket(&s3, bucket, SETTLE))?;
            }
            terraform.destroy(true)?;
        }

        println!("==> [5/5] check that nothing is left");
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

/// The state (`terraform show -json`, which works even when an apply failed before the outputs
/// were written).
fn state_json(terraform: &Terraform) -> anyhow::Result<serde_json::Value> {
    let mut command = terraform.command(["show", "-json"]);
    println!("$ {}", crate::util::display(&command));
    let output = command.output().context("running terraform show")?;
    if !output.status.success() {
        bail!("`terraform show -json` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    serde_json::from_slice(&output.stdout).context("reading terraform show -json")
}

/// The root module's managed resources of `kind`.
fn managed<'a>(state: &'a serde_json::Value, kind: &'a str) -> impl Iterator<Item = &'a serde_json::Value> {
    state["values"]["root_module"]["resources"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(move |r| r["type"] == kind && r["mode"] == "managed")
}

/// The buckets in the state.
fn buckets_in_state(state: &serde_json::Value) -> Vec<String> {
    managed(state, "aws_s3_bucket")
        .filter_map(|r| r["values"]["bucket"].as_str().map(str::to_owned))
        .collect()
}

/// The user pools and tables in the state that AWS would refuse to delete.
fn protected_in_state(state: &serde_json::Value) -> Vec<String> {
    let pools = managed(state, "aws_cognito_user_pool")
        .filter(|r| r["values"]["deletion_protection"] == "ACTIVE")
        .map(|r| format!("user pool {}", r["values"]["name"].as_str().unwrap_or("?")));
    let tables = managed(state, "aws_dynamodb_table")
        .filter(|r| r["values"]["deletion_protection_enabled"] == true)
        .map(|r| format!("table {}", r["values"]["name"].as_str().unwrap_or("?")));
    pools.chain(tables).collect()
}

/// How long a bucket must stay empty after a pass before it counts as empty: writes that were
/// already authorised when the stop took effect land within it.
const SETTLE: Duration = Duration::from_secs(2);

/// How many emptying passes may find new objects before destroy gives up and says so.
const MAX_ROUNDS: usize = 10;

/// Empties `bucket`, waits `settle`, and empties it again for as long as something arrived in
/// between; returns how many versions and delete markers were deleted. A bucket that is gone
/// counts as empty.
pub async fn drain_bucket(s3: &aws_sdk_s3::Client, bucket: &str, settle: Duration) -> anyhow::Result<usize> {
    let mut deleted = 0;
    for round in 1..=MAX_ROUNDS {
        deleted += empty_bucket(s3, bucket).await?;
        tokio::time::sleep(settle).await;
        if is_empty(s3, bucket).await? {
            return Ok(deleted);
        }
        println!("  s3://{bucket}: objects arrived while it was emptied (pass {round}); emptying it again");
    }
    bail!(
        "objects keep arriving in s3://{bucket} after {MAX_ROUNDS} passes: something outside this \
         stack writes to it; stop it, then run destroy again"
    )
}

async fn list_versions(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    max_keys: i32,
) -> anyhow::Result<Option<aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput>> {
    match s3.list_object_versions().bucket(bucket).max_keys(max_keys).send().await {
        Ok(page) => Ok(Some(page)),
        Err(err) if err.as_service_error().is_some_and(|e| e.meta().code() == Some("NoSuchBucket")) => {
            Ok(None)
        }
        Err(err) => Err(err).sdk_context(&format!("listing the versions in s3://{bucket}")),
    }
}

async fn is_empty(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<bool> {
    Ok(list_versions(s3, bucket, 1)
        .await?
        .is_none_or(|page| page.versions().is_empty() && page.delete_markers().is_empty()))
}

/// Deletes every object version and delete marker; returns how many.
pub async fn empty_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> anyhow::Result<usize> {
    let mut deleted = 0;
    loop {
        let Some(page) = list_versions(s3, bucket, 1000).await? else { return Ok(deleted) };
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

/// The bucket policy destroy puts on the media bucket before emptying it: no principal may write
/// an object any more (an explicit deny wins over every role's allow and every upload URL).
pub fn deny_writes_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DestroyInProgressNoWrites",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }],
    })
    .to_string()
}

/// Stops everything that could write into the media bucket while it is emptied, so that an
/// in-flight or retried invocation cannot refill `thumbs/` and fail the bucket's deletion: S3
/// sends no more events, neither function may run (reserved concurrency 0 also stops Lambda's
/// retries), and a deny-all-writes bucket policy refuses the writes of an invocation still running
/// and of every upload URL already handed out. What is already gone is skipped.
///
/// The clean-up's event source mapping (the table's stream → the thumbnail function) is left
/// enabled, on purpose: it invokes only the thumbnail function, which reserved concurrency 0
/// already stops (Lambda holds the stream's batches and retries them as throttled; none runs),
/// and the clean-up only deletes objects anyway. Disabling it would add nothing to a clean
/// destroy and could hinder it: UpdateEventSourceMapping leaves the mapping `Disabling` for a
/// while, and Lambda refuses to delete a mapping in a transitional state (ResourceInUseException),
/// so `terraform destroy` would have to wait it out. Terraform deletes the mapping before the
/// function, the table and the queue, and waits until it is gone; [`remaining`] checks that.
pub async fn stop_inflow(aws: &Aws, outputs: &Outputs) -> anyhow::Result<()> {
    let s3 = aws.s3();
    let media = &outputs.media_bucket;
    let no_events = s3
        .put_bucket_notification_configuration()
        .bucket(media)
        .notification_configuration(NotificationConfiguration::builder().build())
        .send()
        .await;
    report_stop(&format!("S3 events of s3://{media}"), "sends no events", no_events, S3_GONE)?;
    let lambda = aws.lambda();
    for function in [&outputs.presign_function, &outputs.thumbnail_function] {
        let throttled = lambda
            .put_function_concurrency()
            .function_name(function)
            .reserved_concurrent_executions(0)
            .send()
            .await;
        report_stop(
            &format!("function {function}"),
            "throttled (reserved concurrency 0)",
            throttled,
            LAMBDA_GONE,
        )?;
    }
    let denied = s3.put_bucket_policy().bucket(media).policy(deny_writes_policy(media)).send().await;
    report_stop(&format!("s3://{media}"), "refuses every write", denied, S3_GONE)
}

fn report_stop<T, E, R>(
    what: &str,
    done: &str,
    result: Result<T, SdkError<E, R>>,
    gone: &[&str],
) -> anyhow::Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if exists(what, result, gone)? {
        println!("  {what}: {done}");
    } else {
        println!("  {what}: already gone");
    }
    Ok(())
}

/// The error codes that mean "no such resource", per service.
const S3_GONE: &[&str] = &["NoSuchBucket", "NotFound"];
const LAMBDA_GONE: &[&str] = &["ResourceNotFoundException"];
const IAM_GONE: &[&str] = &["NoSuchEntity"];
const APIGATEWAY_GONE: &[&str] = &["NotFoundException"];
const CLOUDFRONT_GONE: &[&str] = &["NoSuchDistribution"];
const SQS_GONE: &[&str] = &["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"];
const COGNITO_GONE: &[&str] = &["ResourceNotFoundException"];
const DYNAMODB_GONE: &[&str] = &["ResourceNotFoundException"];

/// Whether the resource a call read exists: yes on success, no on an answer whose code is one of
/// `gone`; anything else (access denied, throttling, a network failure) is an error naming `what`,
/// never taken for "gone".
fn exists<T, E, R>(what: &str, result: Result<T, SdkError<E, R>>, gone: &[&str]) -> anyhow::Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .and_then(ProvideErrorMetadata::code)
                .is_some_and(|c| gone.contains(&c)) =>
        {
            Ok(false)
        }
        Err(err) => Err(err).sdk_context(&format!(
            "could not tell whether {what} is gone (only a not-found answer counts as gone)"
        )),
    }
}

/// What of `outputs` still exists.
pub async fn remaining(aws: &Aws, outputs: &Outputs) -> anyhow::Result<Vec<String>> {
    let mut left = Vec::new();
    let s3 = aws.s3();
    for bucket in [&outputs.media_bucket, &outputs.site_bucket] {
        let what = format!("bucket {bucket}");
        if exists(&what, s3.head_bucket().bucket(bucket).send().await, S3_GONE)? {
            left.push(what);
        }
    }
    let lambda = aws.lambda();
    for function in [&outputs.presign_function, &outputs.thumbnail_function] {
        let what = format!("function {function}");
        if exists(&what, lambda.get_function().function_name(function).send().await, LAMBDA_GONE)? {
            left.push(what);
        }
        // Each function's execution role carries the function's name.
        let what = format!("role {function}");
        if exists(&what, aws.iam().get_role().role_name(function.as_str()).send().await, IAM_GONE)? {
            left.push(what);
        }
    }
    let what = format!("HTTP API {}", outputs.api_id);
    if exists(&what, aws.apigateway().get_api().api_id(&outputs.api_id).send().await, APIGATEWAY_GONE)? {
        left.push(what);
    }
    let what = format!("distribution {}", outputs.distribution_id);
    let answer = aws.cloudfront().get_distribution().id(&outputs.distribution_id).send().await;
    if exists(&what, answer, CLOUDFRONT_GONE)? {
        left.push(what);
    }
    for queue in std::iter::once(&outputs.dlq_url).chain(&outputs.cleanup_dlq_url) {
        let what = format!("queue {queue}");
        if exists(&what, aws.sqs().get_queue_attributes().queue_url(queue).send().await, SQS_GONE)? {
            left.push(what);
        }
    }
    left.extend(remaining_mappings(&lambda, outputs).await?);
    if let Some(table) = &outputs.table_name {
        let what = format!("table {table}");
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws.config);
        if exists(&what, dynamodb.describe_table().table_name(table).send().await, DYNAMODB_GONE)? {
            left.push(what);
        }
    }
    if let Some(pool) = &outputs.user_pool_id {
        let what = format!("user pool {pool}");
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws.config);
        if exists(&what, cognito.describe_user_pool().user_pool_id(pool).send().await, COGNITO_GONE)? {
            left.push(what);
        }
    }
    Ok(left)
}

/// The clean-up's event source mapping, if it is still there (GetEventSourceMapping by its UUID:
/// only ResourceNotFoundException counts as gone), and any other mapping that still invokes the
/// thumbnail function (every mapping of the region, listed and matched by function ARN rather
/// than asked for by the name of a function that is gone; a stack older than the
/// `cleanup_mapping_uuid` output has no UUID to ask for). Deleting a function does not delete its
/// mappings.
async fn remaining_mappings(
    lambda: &aws_sdk_lambda::Client,
    outputs: &Outputs,
) -> anyhow::Result<Vec<String>> {
    let mut left = Vec::new();
    let known = outputs.cleanup_mapping_uuid.as_deref();
    if let Some(uuid) = known {
        let what = format!("event source mapping {uuid}");
        if exists(&what, lambda.get_event_source_mapping().uuid(uuid).send().await, LAMBDA_GONE)? {
            left.push(what);
        }
    }
    let function = &outputs.thumbnail_function;
    let mut marker = None;
    loop {
        let page =
            lambda.list_event_source_mappings().set_marker(marker).send().await.sdk_context(&format!(
                "could not tell whether an event source mapping still invokes {function} (listing them)"
            ))?;
        for mapping in page.event_source_mappings() {
            let uuid = mapping.uuid().unwrap_or("?");
            if mapping.function_arn().is_some_and(|arn| invokes(arn, function)) && Some(uuid) != known {
                left.push(format!("event source mapping {uuid} (to {function})"));
            }
        }
        marker = page.next_marker().filter(|m| !m.is_empty()).map(str::to_owned);
        if marker.is_none() {
            return Ok(left);
        }
    }
}

/// Whether a mapping's `FunctionArn` (`arn:…:function:NAME`, or `…:NAME:QUALIFIER` for a version
/// or an alias) names the function `name`.
fn invokes(function_arn: &str, name: &str) -> bool {
    function_arn.split_once(":function:").is_some_and(|(_, rest)| rest.split(':').next() == Some(name))
}

#[cfg(test)]
mod tests {
    use thumbforge_s3_local::{LocalS3, Options};

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

    #[test]
    fn protected_pools_and_tables_are_found_in_the_state() {
        let state = |pool: &str, table: bool| {
            serde_json::json!({"values": {"root_module": {"resources": [
                {"mode": "managed", "type": "aws_cognito_user_pool", "index": 0,
                 "values": {"name": "t-users", "deletion_protection": pool}},
                {"mode": "managed", "type": "aws_dynamodb_table",
                 "values": {"name": "t-images", "deletion_protection_enabled": table}},
                {"mode": "managed", "type": "aws_s3_bucket", "values": {"bucket": "media"}},
            ]}}})
        };
        assert!(protected_in_state(&state("INACTIVE", false)).is_empty());
        assert_eq!(protected_in_state(&state("ACTIVE", false)), ["user pool t-users"]);
        assert_eq!(protected_in_state(&state("ACTIVE", true)), ["user pool t-users", "table t-images"]);
        assert_eq!(protected_in_state(&state("INACTIVE", true)), ["table t-images"]);
        // An oidc stack has no pool; an empty state has nothing.
        assert!(protected_in_state(&serde_json::json!({"format_version": "1.0"})).is_empty());
    }

    fn outputs(bucket: &str) -> Outputs {
        let s = |v: &str| v.to_owned();
        Outputs {
            site_url: s("https://d.example/"),
            api_url: s("https://d.example/api"),
            api_id: s("api1"),
            distribution_id: s("E1"),
            media_bucket: s(bucket),
            site_bucket: s(bucket),
            upload_origin: s("https://media.example"),
            presign_function: s("t-presign"),
            thumbnail_function: s("t-thumbnail"),
            dlq_url: s("https://sqs.example/1/dlq"),
            table_name: Some(s("t-images")),
            cleanup_dlq_url: Some(s("https://sqs.example/1/cleanup-dlq")),
            cleanup_mapping_uuid: Some(s("6c1f5c5e-0d7a-4f2e-9a51-3b8f1d2e4c7a")),
            user_pool_id: Some(s("us-east-1_pool")),
            user_pool_issuer: None,
            auth_domain: None,
            auth_client_id: None,
            auth_authorize_url: None,
            auth_token_url: None,
            auth_logout_url: None,
        }
    }

    async fn local_s3(dir: &std::path::Path) -> LocalS3 {
        LocalS3::start(Options::new(dir).bucket("media")).await.unwrap()
    }

    async fn put(s3: &aws_sdk_s3::Client, key: &str) {
        s3.put_object().bucket("media").key(key).body(b"x".to_vec().into()).send().await.unwrap();
    }

    async fn keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
        let page = s3.list_objects_v2().bucket("media").send().await.unwrap();
        page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }

    /// A late write (an invocation that was still running) lands after the first pass emptied the
    /// bucket: emptying goes on until the bucket stays empty. One pass, as destroy made before,
    /// leaves it behind, and `terraform destroy` then fails on a non-empty bucket.
    #[tokio::test]
    async fn emptying_goes_on_until_a_late_write_is_gone_too() {
        let dir = tempfile::tempdir().unwrap();
        let server = local_s3(dir.path()).await;
        let s3 = server.client();
        for key in ["raw/a.jpg", "thumbs/a/256.jpg", "thumbs/a/manifest.json"] {
            put(&s3, key).await;
        }
        // The old single pass leaves a late write behind.
        empty_bucket(&s3, "media").await.unwrap();
        put(&s3, "thumbs/late/256.jpg").await;
        assert_eq!(keys(&s3).await, ["thumbs/late/256.jpg"]);

        put(&s3, "raw/b.jpg").await;
        let late = {
            let s3 = s3.clone();
            tokio::spawn(async move {
                // As soon as the bucket is seen empty, the late invocation writes its rendition.
                while !keys(&s3).await.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                put(&s3, "thumbs/b/256.jpg").await;
            })
        };
        let deleted = drain_bucket(&s3, "media", Duration::from_millis(300)).await.unwrap();
        late.await.unwrap();
        assert_eq!(deleted, 3, "two objects, then the late one");
        assert!(keys(&s3).await.is_empty());
        assert!(is_empty(&s3, "media").await.unwrap());
    }

    #[tokio::test]
    async fn a_bucket_that_is_gone_counts_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let server = local_s3(dir.path()).await;
        assert_eq!(drain_bucket(&server.client(), "no-such-bucket", Duration::ZERO).await.unwrap(), 0);
    }

    /// An answer that is not "not found" (here S3's 403 for credentials it does not know) is an
    /// error naming the resource; destroy used to count it as gone.
    #[tokio::test]
    async fn access_denied_is_not_gone() {
        let dir = tempfile::tempdir().unwrap();
        let server = local_s3(dir.path()).await;
        // Aws::new signs with the emulator key, which this server does not know.
        let aws = Aws::new("us-east-1", Some(&server.endpoint())).await;
        let err = remaining(&aws, &outputs("media")).await.unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("could not tell whether bucket media is gone"), "{text}");
        let err = stop_inflow(&aws, &outputs("media")).await.unwrap_err();
        assert!(format!("{err:#}").contains("S3 events of s3://media"), "{err:#}");
    }

    /// Nothing listens: a network failure is an error, not "gone".
    #[tokio::test]
    async fn an_unreachable_endpoint_is_not_gone() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let aws = Aws::new("us-east-1", Some(&endpoint)).await;
        let err = remaining(&aws, &outputs("media")).await.unwrap_err();
        assert!(format!("{err:#}").contains("could not tell whether bucket media is gone"), "{err:#}");
    }

    /// The right credentials and an existing bucket: it exists; a missing one is gone.
    #[tokio::test]
    async fn only_not_found_means_gone() {
        let dir = tempfile::tempdir().unwrap();
        let server = local_s3(dir.path()).await;
        let s3 = server.client();
        assert!(exists("bucket media", s3.head_bucket().bucket("media").send().await, S3_GONE).unwrap());
        assert!(!exists("bucket other", s3.head_bucket().bucket("other").send().await, S3_GONE).unwrap());
        let err = exists("bucket other", s3.head_bucket().bucket("other").send().await, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("bucket other"), "{err:#}");
    }

    #[test]
    fn a_mapping_is_matched_to_its_function_by_arn() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:t-thumbnail";
        assert!(invokes(arn, "t-thumbnail"));
        assert!(invokes(&format!("{arn}:live"), "t-thumbnail"), "an alias or version of it");
        assert!(!invokes(arn, "t-thumb"));
        assert!(!invokes("arn:aws:lambda:us-east-1:123456789012:function:t-thumbnail-2", "t-thumbnail"));
        assert!(!invokes("t-thumbnail", "t-thumbnail"), "not an ARN");
    }

    #[test]
    fn the_stop_policy_denies_every_write_to_the_bucket() {
        let policy: serde_json::Value = serde_json::from_str(&deny_writes_policy("media")).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(statement["Principal"], "*");
        assert_eq!(statement["Action"], "s3:PutObject");
        assert_eq!(statement["Resource"], "arn:aws:s3:::media/*");
    }
}
