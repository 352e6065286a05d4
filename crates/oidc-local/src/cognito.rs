//! Cognito's admin API over its JSON protocol (`POST /`, `application/x-amz-json-1.1`,
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`), for the operations the backend calls
//! through `aws-sdk-cognitoidentityprovider`: `AdminGetUser` and `AdminDeleteUser`. Pointing the
//! SDK at the issuer (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`) keeps the Lambda code the same
//! on AWS and locally.
//!
//! Authentication: an admin call must carry an AWS SigV4 `Authorization` header
//! (`AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`), or it is refused as AWS
//! refuses it (`MissingAuthenticationTokenException`, or `IncompleteSignatureException` for a
//! header missing a part). The signature itself is **not** verified: the issuer holds no AWS
//! secret to check it against, and a local stack's callers are its own processes. The header is
//! still required so that code which forgot to configure credentials fails here as it would on
//! AWS, instead of working locally only.
//!
//! Errors are Cognito's: status 400 (500 for `InternalErrorException`, 413 for a body over the
//! forms' limit) with `{"__type": "...", "message": "..."}`, which the SDK maps to its typed errors.

use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use serde_json::{Map, Value, json};

use crate::http::{self, BodyError, Resp};
use crate::server::Shared;
use crate::store::{Store, User};
use crate::{Error, normalize_email};

/// The `X-Amz-Target` prefix of Cognito user pool operations.
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
/// The content type of Cognito's protocol (requests and responses).
const AMZ_JSON: &str = "application/x-amz-json-1.1";
/// Cognito's limit on user pool ids.
const MAX_POOL_ID_LEN: usize = 55;
/// Cognito's limit on usernames.
const MAX_USERNAME_CHARS: usize = 128;

/// The user pool id `IssuerOptions::new` gives.
pub const DEFAULT_USER_POOL_ID: &str = "local_thumbforge";

/// Whether `id` is a user pool id as Cognito accepts them: `[\w-]+_[0-9a-zA-Z]+`, at most 55
/// characters (`\w` being ASCII letters, digits and `_`).
#[must_use]
pub fn is_valid_user_pool_id(id: &str) -> bool {
    let Some((region, suffix)) = id.rsplit_once('_') else { return false };
    id.len() <= MAX_POOL_ID_LEN
        && !region.is_empty()
        && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A refusal in Cognito's shape.
#[derive(Debug)]
struct Fault {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl Fault {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    fn user_not_found() -> Self {
        Self::new("UserNotFoundException", "User does not exist.")
    }

    fn into_resp(self) -> Resp {
        let mut resp = amz_json(self.status, &json!({ "__type": self.kind, "message": self.message }));
        if let Ok(value) = HeaderValue::from_str(self.kind) {
            resp.headers_mut().insert("x-amzn-errortype", value);
        }
        resp
    }
}

impl From<Error> for Fault {
    fn from(error: Error) -> Self {
        tracing::error!(%error, "Cognito admin call failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "InternalErrorException",
            message: "Internal server error.".into(),
        }
    }
}

/// A JSON answer in the protocol's content type, with a request id as AWS sends one.
fn amz_json(status: StatusCode, value: &Value) -> Resp {
    let mut resp = http::json(status, value);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    resp
}

/// The operations implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    AdminGetUser,
    AdminDeleteUser,
}

fn has_amz_json_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(AMZ_JSON))
}

/// The operation the request names; `UnknownOperationException` for anything else (another
/// target, no target, or not the protocol's content type, as AWS's JSON front ends answer).
fn operation(headers: &HeaderMap) -> Result<Operation, Fault> {
    let unknown = || Fault::new("UnknownOperationException", "Unknown operation.");
    if !has_amz_json_type(headers) {
        return Err(unknown());
    }
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).ok_or_else(unknown)?;
    match target.trim().strip_prefix(TARGET_PREFIX) {
        Some("AdminGetUser") => Ok(Operation::AdminGetUser),
        Some("AdminDeleteUser") => Ok(Operation::AdminDeleteUser),
        _ => Err(unknown()),
    }
}

/// Requires a well-formed SigV4 `Authorization` header (the signature is not checked, see the
/// module doc).
fn check_sigv4(headers: &HeaderMap) -> Result<(), Fault> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Fault::new("MissingAuthenticationTokenException", "Missing Authentication Token"));
    };
    let value = value.to_str().unwrap_or("");
    let Some(params) = value.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(Fault::new(
            "IncompleteSignatureException",
            "Authorization header must use the AWS4-HMAC-SHA256 algorithm.",
        ));
    };
    let mut credential = None;
    let (mut signed_headers, mut signature) = (false, false);
    for part in params.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = !v.is_empty(),
            Some(("Signature", v)) => signature = !v.is_empty(),
            _ => {}
        }
    }
    // `<access key id>/<date>/<region>/<service>/aws4_request`.
    let scope_ok = credential.is_some_and(|c| {
        let parts: Vec<&str> = c.split('/').collect();
        parts.len() == 5 && parts.iter().all(|p| !p.is_empty()) && parts[4] == "aws4_request"
    });
    if scope_ok && signed_headers && signature {
        Ok(())
    } else {
        Err(Fault::new(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ))
    }
}

/// The request's `UserPoolId` and `Username`, checked as Cognito checks them.
#[derive(Debug)]
struct UserRef {
    user_pool_id: String,
    username: String,
}

fn required_string(body: &Map<String, Value>, field: &str, member: &str) -> Result<String, Fault> {
    match body.get(field) {
        None | Some(Value::Null) => Err(Fault::invalid(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Fault::invalid(format!("The {field} member must be a string."))),
    }
}

fn parse_user_ref(bytes: &[u8]) -> Result<UserRef, Fault> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|_| Fault::invalid("The request body is not valid JSON."))?;
    let Value::Object(body) = body else {
        return Err(Fault::invalid("The request body must be a JSON object."));
    };
    let user_pool_id = required_string(&body, "UserPoolId", "userPoolId")?;
    let username = required_string(&body, "Username", "username")?;
    if !is_valid_user_pool_id(&user_pool_id) {
        return Err(Fault::invalid(
            "1 validation error detected: Value at 'userPoolId' failed to satisfy constraint: Member \
             must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+",
        ));
    }
    let chars = username.chars().count();
    if chars == 0
        || chars > MAX_USERNAME_CHARS
        || username.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Fault::invalid(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member \
             must have length between 1 and 128 and contain no whitespace",
        ));
    }
    Ok(UserRef { user_pool_id, username })
}

/// The user a `Username` names: their username (the `sub`, in a pool that signs in by email) or
/// their email (normalised, as the pages compare it).
fn find_user<'s>(store: &'s Store, username: &str) -> Option<&'s User> {
    store
        .user_by_sub(username)
        .or_else(|| normalize_email(username).and_then(|email| store.users.get(&email)))
}

/// Answers a Cognito protocol request (`POST /`).
pub(crate) async fn handle(shared: &Shared, parts: &Parts, body: Incoming) -> Resp {
    match answer(shared, parts, body).await {
        Ok(resp) => resp,
        Err(fault) => fault.into_resp(),
    }
}

async fn answer(shared: &Shared, parts: &Parts, body: Incoming) -> Result<Resp, Fault> {
    let op = operation(&parts.headers)?;
    check_sigv4(&parts.headers)?;
    let bytes = match http::read_body(&parts.headers, body).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return Err(Fault {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                kind: "InvalidParameterException",
                message: format!("The request body is larger than {} bytes.", http::MAX_BODY),
            });
        }
        Err(BodyError::Read) => return Err(Fault::invalid("The request body could not be read.")),
    };
    let request = parse_user_ref(&bytes)?;
    if request.user_pool_id != shared.user_pool_id {
        return Err(Fault::new(
            "ResourceNotFoundException",
            format!("User pool {} does not exist.", request.user_pool_id),
        ));
    }
    match op {
        Operation::AdminGetUser => admin_get_user(shared, &request.username).await,
        Operation::AdminDeleteUser => admin_delete_user(shared, &request.username).await,
    }
}

async fn admin_get_user(shared: &Shared, username: &str) -> Result<Resp, Fault> {
    let store = shared.store.lock().await;
    let user = find_user(&store, username).ok_or_else(Fault::user_not_found)?;
    let body = json!({
        "Username": user.sub,
        "UserAttributes": [
            { "Name": "sub", "Value": user.sub },
            { "Name": "email_verified", "Value": if user.confirmed { "true" } else { "false" } },
            { "Name": "email", "Value": user.email },
        ],
        "UserCreateDate": user.created_at,
        "UserLastModifiedDate": user.updated_at,
        "Enabled": true,
        "UserStatus": if user.confirmed { "CONFIRMED" } else { "UNCONFIRMED" },
    });
    drop(store);
    Ok(amz_json(StatusCode::OK, &body))
}

async fn admin_delete_user(shared: &Shared, username: &str) -> Result<Resp, Fault> {
    let mut store = shared.store.lock().await;
    let (email, sub) = find_user(&store, username)
        .map(|u| (u.email.clone(), u.sub.clone()))
        .ok_or_else(Fault::user_not_found)?;
    if !store.delete_user(&email)? {
        return Err(Fault::user_not_found());
    }
    drop(store);
    tracing::info!(sub, "user deleted (AdminDeleteUser)");
    Ok(amz_json(StatusCode::OK, &json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_pool_ids_follow_cognitos_pattern() {
        for ok in ["local_thumbforge", "us-east-1_AbC123", "a_b", "x_y_z9", "eu-west-3_0"] {
            assert!(is_valid_user_pool_id(ok), "{ok}");
        }
        for bad in ["", "nounderscore", "_abc", "abc_", "us-east-1_ab-c", "a b_c", "a_b.c", "ü_x"] {
            assert!(!is_valid_user_pool_id(bad), "{bad}");
        }
        assert!(!is_valid_user_pool_id(&format!("{}_x", "a".repeat(54))));
        assert!(is_valid_user_pool_id(&format!("{}_x", "a".repeat(53))));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn operations_need_the_protocol_content_type_and_a_known_target() {
        let target = |t| headers(&[("content-type", AMZ_JSON), ("x-amz-target", t)]);
        let op = |h: &HeaderMap| operation(h).map_err(|f| f.kind);
        assert_eq!(
            op(&target("AWSCognitoIdentityProviderService.AdminGetUser")),
            Ok(Operation::AdminGetUser)
        );
        assert_eq!(
            op(&target("AWSCognitoIdentityProviderService.AdminDeleteUser")),
            Ok(Operation::AdminDeleteUser)
        );
        for unknown in ["AWSCognitoIdentityProviderService.AdminCreateUser", "DynamoDB_20120810.AdminGetUser"]
        {
            assert_eq!(op(&target(unknown)), Err("UnknownOperationException"));
        }
        assert_eq!(op(&headers(&[("content-type", AMZ_JSON)])), Err("UnknownOperationException"));
        let json = headers(&[
            ("content-type", "application/json"),
            ("x-amz-target", "AWSCognitoIdentityProviderService.AdminGetUser"),
        ]);
        assert_eq!(op(&json), Err("UnknownOperationException"));
    }

    #[test]
    fn sigv4_header_is_required_and_must_be_complete() {
        let kind = |h: &HeaderMap| check_sigv4(h).map_err(|f| f.kind);
        assert_eq!(kind(&HeaderMap::new()), Err("MissingAuthenticationTokenException"));
        let good = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/cognito-idp/aws4_request, \
                    SignedHeaders=host;x-amz-date, Signature=abcdef";
        assert_eq!(kind(&headers(&[("authorization", good)])), Ok(()));
        for bad in [
            "Bearer abc",
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/cognito-idp/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AKID, SignedHeaders=host, Signature=abc",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
        ] {
            assert_eq!(
                kind(&headers(&[("authorization", bad)])),
                Err("IncompleteSignatureException"),
                "{bad}"
            );
        }
    }

    #[test]
    fn bodies_are_validated() {
        let kind =
            |b: &str| parse_user_ref(b.as_bytes()).map(|r| (r.user_pool_id, r.username)).map_err(|f| f.kind);
        assert_eq!(
            kind(r#"{"UserPoolId":"local_x","Username":"jo@example.com"}"#),
            Ok(("local_x".into(), "jo@example.com".into()))
        );
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"Username":"u"}"#,
            r#"{"UserPoolId":"local_x"}"#,
            r#"{"UserPoolId":"local_x","Username":null}"#,
            r#"{"UserPoolId":7,"Username":"u"}"#,
            r#"{"UserPoolId":"nope","Username":"u"}"#,
            r#"{"UserPoolId":"local_x","Username":""}"#,
            r#"{"UserPoolId":"local_x","Username":"a b"}"#,
        ] {
            assert_eq!(kind(bad), Err("InvalidParameterException"), "{bad}");
        }
    }
}
