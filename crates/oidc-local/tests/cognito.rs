//! The Cognito admin API (`POST /`, `AdminGetUser`, `AdminDeleteUser`) driven by the real
//! `aws-sdk-cognitoidentityprovider` client, as the Lambdas call it, plus the protocol's
//! refusals over raw HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata as _;
use aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserOutput;
use aws_sdk_cognitoidentityprovider::types::UserStatusType;
use hyper::Method;
use serde_json::json;
use support::*;
use thumbforge_oidc_local::{DEFAULT_USER_POOL_ID, Error, Issuer};

const TARGET: &str = "AWSCognitoIdentityProviderService.";
const SIGV4: &str = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/cognito-idp/aws4_request, \
                     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123abcd";

/// An SDK client configured as a Lambda's would be with the endpoint override: static
/// credentials, us-east-1, the issuer as the endpoint.
fn sdk(issuer: &Issuer) -> Client {
    let config = aws_sdk_cognitoidentityprovider::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDLOCAL", "local-secret", None, None, "test"))
        .endpoint_url(issuer.url())
        .build();
    Client::from_conf(config)
}

fn attribute<'a>(user: &'a AdminGetUserOutput, name: &str) -> Option<&'a str> {
    user.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value())
}

async fn get_user(client: &Client, pool: &str, username: &str) -> AdminGetUserOutput {
    client.admin_get_user().user_pool_id(pool).username(username).send().await.unwrap()
}

/// Signs up and confirms through the pages; returns the token response of the code exchange.
async fn sign_up_and_confirm(issuer: &Issuer, email: &str) -> (Browser, serde_json::Value) {
    let (mut browser, confirm_page, verifier) = sign_up(issuer, email, PASSWORD).await;
    let code = mailed_code(issuer, email, "signup").expect("a signup mail");
    let back = browser
        .submit(
            &confirm_page,
            &format!("{}/confirm", issuer.url()),
            &[("email", email), ("code", &code), ("action", "confirm")],
        )
        .await;
    assert_eq!(back.status, 302, "{back:?}");
    let reply = exchange(issuer, &back.location_params()["code"], CALLBACK, &verifier).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    (browser, reply.json())
}

/// A raw Cognito protocol request (for what the SDK would never send).
async fn raw(issuer: &Issuer, headers: &[(&str, &str)], body: &str) -> Reply {
    Browser::new().request(Method::POST, &format!("{}/", issuer.url()), headers, Some(body.to_owned())).await
}

async fn raw_op(issuer: &Issuer, op: &str, body: &str) -> Reply {
    let target = format!("{TARGET}{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", target.as_str()),
        ("authorization", SIGV4),
    ];
    raw(issuer, &headers, body).await
}

fn assert_fault(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/x-amz-json-1.1"), "{reply:?}");
    let body = reply.json();
    assert_eq!(body["__type"], kind, "{reply:?}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{reply:?}");
}

#[tokio::test]
async fn sdk_admin_get_user_then_delete_user_ends_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    assert_eq!(issuer.user_pool_id(), DEFAULT_USER_POOL_ID);
    let pool = issuer.user_pool_id().to_owned();
    let client = sdk(&issuer);

    let email = "jo@example.com";
    let (mut browser, tokens) = sign_up_and_confirm(&issuer, email).await;
    let sub = issuer.admin_user_sub(email).await.unwrap();
    let id = verify(&issuer, tokens["id_token"].as_str().unwrap(), Some(CLIENT)).await.unwrap();
    assert_eq!(id["cognito:username"], sub.as_str());

    // Found by username (= sub, what the tokens carry) and by email, in any case.
    for username in [sub.as_str(), email, "JO@Example.com"] {
        let user = get_user(&client, &pool, username).await;
        assert_eq!(user.username(), sub, "{username}");
        assert_eq!(attribute(&user, "sub"), Some(sub.as_str()));
        assert_eq!(attribute(&user, "email"), Some(email));
        assert_eq!(attribute(&user, "email_verified"), Some("true"));
        assert_eq!(user.user_status(), Some(&UserStatusType::Confirmed));
        assert!(user.enabled());
        assert!(user.user_create_date().is_some() && user.user_last_modified_date().is_some());
    }
    // Another user, to check that deletion touches only the one named.
    let kim_sub = issuer.admin_create_confirmed_user("kim@example.com", PASSWORD).await.unwrap();
    let kim_tokens = login_tokens(&issuer, "kim@example.com", PASSWORD).await;

    client.admin_delete_user().user_pool_id(&pool).username(&sub).send().await.unwrap();

    // Gone, and a second deletion is the SDK's typed UserNotFoundException.
    let err = client.admin_get_user().user_pool_id(&pool).username(&sub).send().await.unwrap_err();
    assert!(err.as_service_error().is_some_and(|e| e.is_user_not_found_exception()), "{err:?}");
    let err = client.admin_delete_user().user_pool_id(&pool).username(&sub).send().await.unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_user_not_found_exception(), "{service:?}");
    assert_eq!(service.message(), Some("User does not exist."));
    let err = client.admin_delete_user().user_pool_id(&pool).username(email).send().await.unwrap_err();
    assert!(err.into_service_error().is_user_not_found_exception());

    // The old refresh token is refused, the hosted-UI session is over, the password is useless.
    let reply = refresh(&issuer, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_grant" })));
    let (_, challenge) = pkce();
    let again = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    assert!(again.location().starts_with(&format!("{}/login?", issuer.url())), "{again:?}");
    let reply = login(&mut Browser::new(), &issuer, email, PASSWORD, &challenge).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(error_text(&reply.body).as_deref(), Some("Incorrect username or password."));

    // The other user is untouched.
    assert_eq!(get_user(&client, &pool, "kim@example.com").await.username(), kim_sub);
    assert_eq!(refresh(&issuer, kim_tokens["refresh_token"].as_str().unwrap()).await.status, 200);

    // Signing up again with the same email is a new user with a new sub; deletion by email works.
    sign_up_and_confirm(&issuer, email).await;
    let user = get_user(&client, &pool, email).await;
    assert_ne!(user.username(), sub);
    assert_eq!(issuer.admin_user_sub(email).await.as_deref(), Some(user.username()));
    client.admin_delete_user().user_pool_id(&pool).username("Jo@Example.com").send().await.unwrap();
    assert_eq!(issuer.admin_user_sub(email).await, None);

    // Deleted for good: not back after a restart.
    issuer.shutdown().await;
    let issuer = start(dir.path()).await;
    let err = sdk(&issuer).admin_get_user().user_pool_id(&pool).username(email).send().await.unwrap_err();
    assert!(err.into_service_error().is_user_not_found_exception());
    issuer.shutdown().await;
}

#[tokio::test]
async fn sdk_unconfirmed_user_and_wrong_pool() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.user_pool_id = "us-east-1_Local42".into();
    let issuer = Issuer::start(options).await.unwrap();
    assert_eq!(issuer.user_pool_id(), "us-east-1_Local42");
    let client = sdk(&issuer);

    let (_browser, _page, _verifier) = sign_up(&issuer, "ann@example.com", PASSWORD).await;
    let user = get_user(&client, "us-east-1_Local42", "ann@example.com").await;
    assert_eq!(user.user_status(), Some(&UserStatusType::Unconfirmed));
    assert_eq!(attribute(&user, "email_verified"), Some("false"));

    // Another pool (the default one included) does not exist here, whether or not the user does.
    for pool in [DEFAULT_USER_POOL_ID, "us-east-1_Other"] {
        let err = client.admin_get_user().user_pool_id(pool).username(user.username()).send().await;
        let err = err.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        let err = client.admin_delete_user().user_pool_id(pool).username("ann@example.com").send().await;
        let err = err.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        assert_eq!(err.message(), Some(format!("User pool {pool} does not exist.").as_str()));
    }
    assert!(issuer.admin_user_sub("ann@example.com").await.is_some(), "a wrong pool deletes nothing");

    // A malformed pool id is the SDK's typed InvalidParameterException.
    let err =
        client.admin_delete_user().user_pool_id("no-underscore").username("ann@example.com").send().await;
    assert!(err.unwrap_err().into_service_error().is_invalid_parameter_exception());
    issuer.shutdown().await;

    // The option is validated.
    for bad in ["", "local", "local_", "local_thumb-forge", "a b_c"] {
        let mut options = support::options(dir.path());
        options.user_pool_id = bad.into();
        assert!(matches!(Issuer::start(options).await, Err(Error::Config(_))), "{bad:?}");
    }
}

#[tokio::test]
async fn protocol_refusals_over_raw_http() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let sub = issuer.admin_create_confirmed_user("lee@example.com", PASSWORD).await.unwrap();
    let body = json!({ "UserPoolId": DEFAULT_USER_POOL_ID, "Username": sub }).to_string();

    // No Authorization header: refused before anything is looked at, and nothing is deleted.
    let target = format!("{TARGET}AdminDeleteUser");
    let unsigned = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
    let reply = raw(&issuer, &unsigned, &body).await;
    assert_fault(&reply, 400, "MissingAuthenticationTokenException");
    assert_eq!(issuer.admin_user_sub("lee@example.com").await.as_deref(), Some(sub.as_str()));
    // An Authorization that is not a complete SigV4 one.
    let bearer = [unsigned[0], unsigned[1], ("authorization", "Bearer x")];
    assert_fault(&raw(&issuer, &bearer, &body).await, 400, "IncompleteSignatureException");

    // Malformed bodies.
    for bad in [
        "",
        "{",
        "[1]",
        r#"{"UserPoolId":"local_thumbforge"}"#,
        r#"{"Username":"x"}"#,
        r#"{"UserPoolId":"local_thumbforge","Username":42}"#,
        r#"{"UserPoolId":"local_thumbforge","Username":""}"#,
    ] {
        assert_fault(&raw_op(&issuer, "AdminDeleteUser", bad).await, 400, "InvalidParameterException");
    }
    let huge = json!({ "UserPoolId": DEFAULT_USER_POOL_ID, "Username": "x".repeat(20_000) }).to_string();
    assert_fault(&raw_op(&issuer, "AdminGetUser", &huge).await, 413, "InvalidParameterException");

    // Other operations, targets and content types.
    assert_fault(&raw_op(&issuer, "AdminCreateUser", &body).await, 400, "UnknownOperationException");
    assert_fault(&raw_op(&issuer, "ListUsers", "{}").await, 400, "UnknownOperationException");
    let json_type =
        [("content-type", "application/json"), ("x-amz-target", target.as_str()), ("authorization", SIGV4)];
    assert_fault(&raw(&issuer, &json_type, &body).await, 400, "UnknownOperationException");
    let other_service = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ("authorization", SIGV4),
    ];
    assert_fault(&raw(&issuer, &other_service, &body).await, 400, "UnknownOperationException");
    assert_eq!(Browser::new().get(&format!("{}/", issuer.url())).await.status, 405);

    // Unknown user, then the real thing by raw HTTP: `200 {}`.
    let ghost = json!({ "UserPoolId": DEFAULT_USER_POOL_ID, "Username": "ghost@example.com" }).to_string();
    let reply = raw_op(&issuer, "AdminGetUser", &ghost).await;
    assert_fault(&reply, 400, "UserNotFoundException");
    assert_eq!(reply.json()["message"], "User does not exist.");
    let reply = raw_op(&issuer, "AdminDeleteUser", &body).await;
    assert_eq!((reply.status, reply.json()), (200, json!({})));
    assert_eq!(reply.header("content-type"), Some("application/x-amz-json-1.1"));
    assert!(reply.header("x-amzn-requestid").is_some());
    assert_eq!(issuer.admin_user_sub("lee@example.com").await, None);
    issuer.shutdown().await;
}
