//! `cargo xtask deploy`: build → tfvars → terraform init → apply (the page is uploaded by
//! Terraform, with its Content-Type and Cache-Control) → CloudFront invalidation of the page →
//! smoke test through the public URL → the URL.
//!
//! The smoke test calls the API as a signed-in user: with `auth.provider = "cognito"` it
//! creates a temporary user in the stack's pool, signs it in with AdminInitiateAuth and deletes it
//! afterwards ([`with_test_user`], which `cargo xtask moto` uses too); with `oidc` it cannot sign
//! in to your provider, so it checks only that the API refuses a request without a token.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use thumbforge_core::Config;
use thumbforge_core::auth::{PasswordPolicy, Provider};

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
        let config_path = util::from_caller(&self.config);
        let vars = tfvars::write_deployment(&config_path, &target.env)?;
        let config = Config::load(&config_path).context("loading the configuration")?;

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
            smoke_test(&runtime, &aws, &outputs, &config).context(
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

/// What `GET /api/config` answers (the field the smoke test checks).
#[derive(Debug, Deserialize)]
struct PublicConfig {
    auth: PublicSignIn,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicSignIn {
    client_id: String,
}

/// The arguments every smoke request passes to curl (quiet, errors shown, bounded).
const CURL_FLAGS: [&str; 4] = ["--silent", "--show-error", "--max-time", "30"];

/// `curl` for the requests outside the API (the page, S3, thumbnails): failing on HTTP errors.
fn curl() -> Command {
    let mut command = Command::new("curl");
    command.args(CURL_FLAGS).arg("--fail-with-body");
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

/// One request to the API: curl's arguments, and the header lines curl reads from its standard
/// input (`--header @-`). The access token travels there, never on the command line (where
/// other local users' `ps` would see it) nor in the echoed command. curl writes the status code
/// after the body (`--write-out`), so that an expected `401` is a success like a `200`.
#[derive(Debug)]
struct ApiCall {
    args: Vec<String>,
    stdin: String,
}

impl ApiCall {
    /// `method url`, with `Authorization: Bearer token` when given and `json` as the body.
    fn new(method: &str, url: &str, token: Option<&str>, json: Option<&serde_json::Value>) -> Self {
        let mut args: Vec<String> = CURL_FLAGS.iter().map(|a| (*a).to_owned()).collect();
        args.extend(
            ["--request", method, "--write-out", "\\n%{http_code}", "--header", "@-"].map(str::to_owned),
        );
        if let Some(json) = json {
            args.extend(["--header".to_owned(), "content-type: application/json".to_owned()]);
            args.extend(["--data".to_owned(), json.to_string()]);
        }
        args.push(url.to_owned());
        let stdin = token.map(|t| format!("authorization: Bearer {t}\n")).unwrap_or_default();
        Self { args, stdin }
    }

    /// Sends it and returns the body when the status is `expected`.
    fn send(&self, expected: u16, hint: &str) -> anyhow::Result<String> {
        let mut command = Command::new("curl");
        command.args(&self.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut shown = util::display(&command);
        if !self.stdin.is_empty() {
            shown.push_str("  (authorization header on standard input)");
        }
        println!("$ {shown}");
        let mut child =
            command.spawn().with_context(|| format!("could not start `{shown}`: is curl installed?"))?;
        let mut stdin = child.stdin.take().context("curl's standard input")?;
        // A curl that exits early closes the pipe: its own error, below, says more than this one.
        let written = stdin.write_all(self.stdin.as_bytes());
        drop(stdin);
        let output = child.wait_with_output().with_context(|| format!("waiting for `{shown}`"))?;
        let stdout = String::from_utf8(output.stdout).context("curl printed something that is not UTF-8")?;
        if !output.status.success() {
            bail!(
                "`{shown}` failed ({}): {stdout}{} — {hint}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        written.with_context(|| format!("writing the headers to `{shown}`"))?;
        let (status, body) =
            split_status(&stdout).with_context(|| format!("`{shown}` printed no status code: {stdout:?}"))?;
        if status != expected {
            bail!("`{shown}` answered {status}, expected {expected}: {body} — {hint}");
        }
        Ok(body.to_owned())
    }
}

/// The body and the status code of what `--write-out '\n%{http_code}'` printed.
fn split_status(stdout: &str) -> Option<(u16, &str)> {
    let (body, status) = stdout.rsplit_once('\n')?;
    Some((status.trim().parse().ok()?, body))
}

/// Checks the page's headers and what the API answers without a token, then, with Cognito, the
/// signed-in round trip as a temporary user ([`signed_in_smoke_test`]); with `oidc` that part is
/// skipped (and says so).
fn smoke_test(
    runtime: &tokio::runtime::Runtime,
    aws: &Aws,
    outputs: &Outputs,
    config: &Config,
) -> anyhow::Result<()> {
    let site = outputs.site_url.trim_end_matches('/');
    let headers = output(curl().args(["--head", &format!("{site}/")]), "the page is not served")?;
    let lower = headers.to_ascii_lowercase();
    for header in
        ["content-security-policy:", "strict-transport-security:", "x-content-type-options: nosniff"]
    {
        if !lower.contains(header) {
            bail!("the page lacks `{header}` (response headers policy not attached?):\n{headers}");
        }
    }

    let body = ApiCall::new("GET", &format!("{}/config", outputs.api_url), None, None)
        .send(200, "GET /api/config (public) failed")?;
    let public: PublicConfig =
        serde_json::from_str(&body).with_context(|| format!("not the public configuration: {body}"))?;
    if let Some(client) = outputs.auth_client_id.as_deref()
        && public.auth.client_id != client
    {
        bail!("GET /api/config names the client {}, the stack's is {client}", public.auth.client_id);
    }
    ApiCall::new("GET", &format!("{}/images", outputs.api_url), None, None).send(
        401,
        "GET /api/images without a token must be refused: is the JWT authorizer attached to the route?",
    )?;
    println!("ok: GET /api/config answers without a token; GET /api/images without one answers 401");

    // Only CloudFront reaches the API: its own endpoint refuses a caller without the secret.
    let endpoint = runtime
        .block_on(aws.apigateway().get_api().api_id(&outputs.api_id).send())
        .sdk_context("reading the API's endpoint (GetApi)")?
        .api_endpoint
        .context("the API has no endpoint")?;
    ApiCall::new("GET", &format!("{}/api/config", endpoint.trim_end_matches('/')), None, None).send(
        403,
        "the execute-api endpoint served a request that skipped CloudFront: is the origin secret set on the API function?",
    )?;
    println!("ok: the API's own endpoint refuses a request that skipped CloudFront (403)");

    match config.auth.provider {
        Provider::Cognito => runtime.block_on(with_test_user(
            aws,
            outputs,
            config.auth.password,
            "smoke",
            async |user: &TestUser| signed_in_smoke_test(outputs, &user.access_token),
        )),
        Provider::Oidc => {
            println!(
                "smoke test: the signed-in part (upload, thumbnails) was SKIPPED: with auth.provider = \
                 \"oidc\" xtask cannot sign a user in to your provider. Sign in on {site}/ and upload \
                 an image to check it."
            );
            Ok(())
        }
    }
}

/// Presign, upload, wait for the manifest, fetch a thumbnail: as a user holding `token`.
fn signed_in_smoke_test(outputs: &Outputs, token: &str) -> anyhow::Result<()> {
    let site = outputs.site_url.trim_end_matches('/');
    let image = util::project_root().join(SMOKE_IMAGE);
    let size = std::fs::metadata(&image).with_context(|| format!("reading {}", image.display()))?.len();
    let request =
        serde_json::json!({ "filename": "smoke-test.jpg", "contentType": "image/jpeg", "size": size });
    let body = ApiCall::new("POST", &format!("{}/uploads", outputs.api_url), Some(token), Some(&request))
        .send(201, "POST /api/uploads failed")?;
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
    let status_request = ApiCall::new("GET", &format!("{site}{}", ticket.status_url), Some(token), None);
    let status = loop {
        let body = status_request.send(200, "the status request failed")?;
        let status: Status =
            serde_json::from_str(&body).with_context(|| format!("not an image status: {body}"))?;
        if status.status != "pending" {
            break status;
        }
        if Instant::now() > deadline {
            bail!(
                "still pending after {SMOKE_TIMEOUT:?}: is the thumbnail function triggered? (its logs, the DLQ)"
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
    // The smoke image leaves with the user: the delete answers at once, the image is gone from
    // the API, and the table's stream has its files removed (asynchronously; a failure there
    // lands in the clean-up dead-letter queue).
    let image_url = format!("{site}{}", ticket.status_url);
    ApiCall::new("DELETE", &image_url, Some(token), None).send(204, "DELETE /api/images/{id} failed")?;
    ApiCall::new("GET", &image_url, Some(token), None).send(404, "the deleted image is still served")?;
    println!("smoke test passed (signed in): {} → {}, then deleted", ticket.status_url, thumbnail.url);
    Ok(())
}

/// A temporary user of the stack's Cognito pool, signed in (see [`with_test_user`]).
#[derive(Debug)]
pub struct TestUser {
    /// Its username and email address, `<prefix>-<uuid>@example.com`.
    pub email: String,
    /// Its access token (what the API's routes accept).
    pub access_token: String,
    /// Its ID token (which the routes refuse: it carries no scope).
    pub id_token: String,
}

/// Creates a confirmed user `<prefix>-<random uuid>@example.com` in the stack's pool as an
/// administrator would (AdminCreateUser, email verified, no invitation sent; AdminSetUserPassword,
/// permanent, with a random password `policy` accepts), signs it in through the page's client
/// with AdminInitiateAuth (ADMIN_USER_PASSWORD_AUTH), runs `body` with it, then deletes the user
/// whatever happened and checks it is gone (AdminGetUser: UserNotFoundException).
///
/// `body` may block (the smoke test runs curl): it runs on the thread that awaits this.
///
/// # Errors
///
/// A failed step, `body`'s error, or a user left behind (with the command that deletes it);
/// `body`'s error comes first when the deletion failed too.
pub async fn with_test_user<T>(
    aws: &Aws,
    outputs: &Outputs,
    policy: PasswordPolicy,
    prefix: &str,
    body: impl AsyncFnOnce(&TestUser) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, MessageActionType};
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws.config);
    let pool = outputs
        .user_pool_id
        .as_deref()
        .context("the stack has no user_pool_id output (is auth.provider \"cognito\"? apply again)")?;
    let client = outputs.auth_client_id.as_deref().context("the stack has no auth_client_id output")?;
    let email = format!("{prefix}-{}@example.com", uuid::Uuid::new_v4());
    let password = random_password(policy)?;
    println!("Cognito: creating the temporary user {email} in {pool}");
    cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username(&email)
        .user_attributes(AttributeType::builder().name("email").value(&email).build()?)
        .user_attributes(AttributeType::builder().name("email_verified").value("true").build()?)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .sdk_context("creating the temporary user (AdminCreateUser)")?;
    // The user exists from here on: whatever happens next, it is deleted below.
    let outcome = async {
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(&email)
            .password(&password)
            .permanent(true)
            .send()
            .await
            .sdk_context("setting the temporary user's password (AdminSetUserPassword)")?;
        let answer = cognito
            .admin_initiate_auth()
            .user_pool_id(pool)
            .client_id(client)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", &email)
            .auth_parameters("PASSWORD", &password)
            .send()
            .await
            .sdk_context("signing the temporary user in (AdminInitiateAuth, ADMIN_USER_PASSWORD_AUTH)")?;
        let result = answer.authentication_result();
        let (Some(access), Some(id)) =
            (result.and_then(|r| r.access_token()), result.and_then(|r| r.id_token()))
        else {
            bail!("AdminInitiateAuth answered no tokens (challenge {:?})", answer.challenge_name());
        };
        println!("Cognito: {email} signed in (AdminInitiateAuth)");
        let user =
            TestUser { email: email.clone(), access_token: access.to_owned(), id_token: id.to_owned() };
        body(&user).await
    }
    .await;
    let deleted = delete_test_user(&cognito, pool, &email).await;
    match (outcome, deleted) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(err), Ok(())) | (Ok(_), Err(err)) => Err(err),
        (Err(err), Err(deleting)) => {
            Err(anyhow::anyhow!("{err:#}\nand then the temporary user was not deleted: {deleting:#}"))
        }
    }
}

/// Deletes `email` from `pool` and checks the pool no longer knows it.
async fn delete_test_user(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    email: &str,
) -> anyhow::Result<()> {
    let by_hand = format!("aws cognito-idp admin-delete-user --user-pool-id {pool} --username {email}");
    cognito
        .admin_delete_user()
        .user_pool_id(pool)
        .username(email)
        .send()
        .await
        .sdk_context(&format!("deleting the temporary user {email} (delete it by hand: {by_hand})"))?;
    let after = cognito.admin_get_user().user_pool_id(pool).username(email).send().await;
    match after {
        Err(err) if err.as_service_error().is_some_and(|e| e.is_user_not_found_exception()) => {
            println!("Cognito: deleted the temporary user {email}");
            Ok(())
        }
        Ok(_) => bail!("the temporary user {email} is still there after AdminDeleteUser ({by_hand})"),
        Err(err) => Err(err).sdk_context(&format!("checking that {email} is gone ({by_hand})")),
    }
}

/// The symbols of a password: Cognito's special characters but space, quotes and backslash.
const PASSWORD_SYMBOLS: &str = "^$*.[]{}()?!@#%&/,><:;|_~=+-";

/// Fewest characters of a random password (more when the policy asks for more).
const PASSWORD_LENGTH: u8 = 24;

/// A random password `policy` accepts, from the operating system's random source.
fn random_password(policy: PasswordPolicy) -> anyhow::Result<String> {
    password_from(policy, || getrandom::u32().context("reading the operating system's random source"))
}

/// A password of at least [`PASSWORD_LENGTH`] and `policy.min_length` characters, with a
/// lower-case letter, an upper-case letter, a digit and a symbol whether the policy requires them
/// or not (so every policy accepts it), each character drawn uniformly with `random`.
fn password_from(
    policy: PasswordPolicy,
    mut random: impl FnMut() -> anyhow::Result<u32>,
) -> anyhow::Result<String> {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &str = "0123456789";
    let classes = [LOWER, UPPER, DIGITS, PASSWORD_SYMBOLS];
    let all: Vec<u8> = classes.concat().into_bytes();
    let mut below = |n: usize| -> anyhow::Result<usize> {
        let n = u32::try_from(n).context("too many characters")?;
        // Rejection sampling: only the whole multiples of n, so that every value is as likely.
        let limit = u32::MAX - u32::MAX % n;
        loop {
            let value = random()?;
            if value < limit {
                return Ok(usize::try_from(value % n)?);
            }
        }
    };
    let length = usize::from(policy.min_length.max(PASSWORD_LENGTH));
    let mut password = Vec::with_capacity(length);
    for class in classes {
        password.push(class.as_bytes()[below(class.len())?]);
    }
    while password.len() < length {
        password.push(all[below(all.len())?]);
    }
    // Fisher–Yates, so that the four required characters are not always first.
    for i in (1..password.len()).rev() {
        password.swap(i, below(i + 1)?);
    }
    String::from_utf8(password).context("the password alphabet is ASCII")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One real HTTP exchange on a loopback port: the server reads a request (its head, and as
    /// many body bytes as its Content-Length says), answers `response` and returns the request.
    /// Returns `http://127.0.0.1:PORT` and the server's thread.
    pub(crate) fn serve_once(response: &'static str) -> (String, std::thread::JoinHandle<String>) {
        use std::io::Read;
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            let complete = |request: &[u8]| {
                let text = String::from_utf8_lossy(request);
                let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                body.len() >= length
            };
            while !complete(&request) {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(response.as_bytes()).unwrap();
            String::from_utf8(request).unwrap()
        });
        (base, handle)
    }

    #[test]
    fn api_calls_send_the_token_on_standard_input_and_check_the_status() {
        let (base, server) =
            serve_once("HTTP/1.1 201 Created\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"id\":1}");
        let json = serde_json::json!({"filename": "a.jpg"});
        let call = ApiCall::new("POST", &format!("{base}/api/uploads"), Some("secret.token.x"), Some(&json));
        assert!(!call.args.iter().any(|a| a.contains("secret")), "the token is on the command line");
        assert_eq!(call.send(201, "hint").unwrap(), "{\"id\":1}");
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /api/uploads HTTP/1.1\r\n"), "{request}");
        let lower = request.to_ascii_lowercase();
        assert!(lower.contains("\r\nauthorization: bearer secret.token.x\r\n"), "{request}");
        assert!(lower.contains("\r\ncontent-type: application/json\r\n"), "{request}");
        assert!(request.ends_with("\r\n\r\n{\"filename\":\"a.jpg\"}"), "{request}");
    }

    #[test]
    fn api_calls_without_a_token_send_no_authorization_and_an_unexpected_status_fails() {
        let (base, server) = serve_once(
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 26\r\nConnection: close\r\n\r\n{\"message\":\"Unauthorized\"}",
        );
        let call = ApiCall::new("GET", &format!("{base}/api/images"), None, None);
        let err = call.send(200, "is the authorizer attached?").unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("answered 401, expected 200"), "{message}");
        assert!(
            message.contains("Unauthorized") && message.contains("is the authorizer attached?"),
            "{message}"
        );
        let request = server.join().unwrap();
        assert!(request.starts_with("GET /api/images HTTP/1.1\r\n"), "{request}");
        assert!(!request.to_ascii_lowercase().contains("authorization:"), "{request}");
        // The refusal the smoke test expects is a success.
        let (base, server) =
            serve_once("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        ApiCall::new("GET", &format!("{base}/api/images"), None, None).send(401, "").unwrap();
        server.join().unwrap();
    }

    #[test]
    fn the_status_code_follows_the_body() {
        assert_eq!(split_status("{\"a\":1}\n200"), Some((200, "{\"a\":1}")));
        assert_eq!(split_status("line\nline\n\n401"), Some((401, "line\nline\n")));
        assert_eq!(split_status("\n000"), Some((0, "")));
        assert_eq!(split_status("no status"), None);
        assert_eq!(split_status("body\nOK"), None);
    }

    /// Whether `password` is what Cognito's `policy` accepts (its special characters included).
    fn accepted(policy: PasswordPolicy, password: &str) -> bool {
        let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
        (usize::from(policy.min_length)..=99).contains(&password.len())
            && (!policy.require_lowercase || has(char::is_ascii_lowercase))
            && (!policy.require_uppercase || has(char::is_ascii_uppercase))
            && (!policy.require_numbers || has(char::is_ascii_digit))
            && (!policy.require_symbols || has(|c| PASSWORD_SYMBOLS.contains(*c)))
    }

    #[test]
    fn random_passwords_fit_every_policy_auth_allows() {
        let mut seen = std::collections::BTreeSet::new();
        for min_length in [6, 10, 24, 25, 64, 99] {
            for flags in 0..16_u8 {
                let policy = PasswordPolicy {
                    min_length,
                    require_lowercase: flags & 1 != 0,
                    require_uppercase: flags & 2 != 0,
                    require_numbers: flags & 4 != 0,
                    require_symbols: flags & 8 != 0,
                };
                let password = random_password(policy).unwrap();
                assert!(accepted(policy, &password), "{policy:?}: {password}");
                assert_eq!(password.len(), usize::from(min_length.max(PASSWORD_LENGTH)), "{password}");
                let all = PasswordPolicy {
                    require_lowercase: true,
                    require_uppercase: true,
                    require_numbers: true,
                    require_symbols: true,
                    ..policy
                };
                assert!(accepted(all, &password), "every class, whatever the policy: {password}");
                assert!(
                    password.chars().all(|c| c.is_ascii_alphanumeric() || PASSWORD_SYMBOLS.contains(c)),
                    "{password}"
                );
                assert!(seen.insert(password), "a password came twice");
            }
        }
    }

    #[test]
    fn password_characters_are_drawn_without_modulo_bias() {
        let zeros = || Ok(0);
        let from_zeros = password_from(PasswordPolicy::default(), zeros).unwrap();
        // u32::MAX lies at or past the last whole multiple of any alphabet's size: it is drawn
        // again, not taken modulo (which would give another character).
        let mut first = true;
        let rejected_first = password_from(PasswordPolicy::default(), || {
            Ok(if std::mem::take(&mut first) { u32::MAX } else { 0 })
        })
        .unwrap();
        assert_eq!(rejected_first, from_zeros);
        let failing = password_from(PasswordPolicy::default(), || anyhow::bail!("no entropy"));
        assert_eq!(format!("{:#}", failing.unwrap_err()), "no entropy");
    }

    #[test]
    fn the_page_and_each_of_its_files_are_invalidated() {
        let paths = invalidation_paths(["index.html", "app.js", "img/logo.svg"].into_iter());
        assert_eq!(paths, ["/", "/index.html", "/app.js", "/img/logo.svg"]);
    }

    #[test]
    fn the_smoke_image_exists_and_fits_the_default_limit() {
        let size = std::fs::metadata(util::project_root().join(SMOKE_IMAGE)).unwrap().len();
        assert!(size > 0 && size <= Config::default().limits.max_upload_bytes);
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
        let config: PublicConfig = serde_json::from_str(
            r#"{"maxUploadBytes":1,"allowedContentTypes":["image/jpeg"],"sizes":[256],"formats":["jpeg"],"uploadExpirySeconds":300,"auth":{"clientId":"abc","authorizeUrl":"https://a/authorize","tokenUrl":"https://a/token","logoutUrl":null,"scopes":["openid"]}}"#,
        )
        .unwrap();
        assert_eq!(config.auth.client_id, "abc");
    }
}
