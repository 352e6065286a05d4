//! The ID and access tokens, with the claims Cognito puts in hosted-UI (code flow) tokens.
//!
//! Access token: `sub, iss, version (2), client_id, origin_jti, event_id, token_use ("access"),
//! scope, auth_time, exp, iat, jti, username` and no `aud`. ID token: `at_hash, sub, aud
//! (the client id), email_verified, iss, cognito:username, origin_jti, event_id, token_use ("id"),
//! auth_time, exp, iat, jti, email`, plus `nonce` when the authorize request had one. The
//! username is the subject, as in pools that sign users in by email.

use serde_json::{Value, json};

use crate::Error;
use crate::keys::SigningKey;
use crate::util::{b64url, sha256};

/// Who and what a token pair is for.
#[derive(Debug)]
pub(crate) struct Grant<'a> {
    pub sub: &'a str,
    pub email: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub auth_time: u64,
    pub origin_jti: &'a str,
    pub event_id: &'a str,
    pub nonce: Option<&'a str>,
}

/// Freshly signed tokens.
#[derive(Debug)]
pub(crate) struct Minted {
    pub access_token: String,
    /// Only when the `openid` scope was granted (as on Cognito).
    pub id_token: Option<String>,
}

/// Signs an access token (and an ID token when `openid` is granted) at time `now`.
pub(crate) fn mint(
    key: &SigningKey,
    issuer: &str,
    grant: &Grant<'_>,
    access_lifetime: u64,
    id_lifetime: u64,
    now: u64,
) -> Result<Minted, Error> {
    let access = json!({
        "sub": grant.sub,
        "iss": issuer,
        "version": 2,
        "client_id": grant.client_id,
        "origin_jti": grant.origin_jti,
        "event_id": grant.event_id,
        "token_use": "access",
        "scope": grant.scopes.join(" "),
        "auth_time": grant.auth_time,
        "exp": now.saturating_add(access_lifetime),
        "iat": now,
        "jti": uuid::Uuid::now_v7().to_string(),
        "username": grant.sub,
    });
    let access_token = key.sign(&access)?;
    let id_token = if grant.scopes.iter().any(|s| s == "openid") {
        // at_hash: base64url of the left half of SHA-256 over the access token (OIDC core 3.1.3.6).
        let digest = sha256(access_token.as_bytes());
        let mut id = json!({
            "at_hash": b64url(&digest[..16]),
            "sub": grant.sub,
            "aud": grant.client_id,
            "email_verified": true,
            "iss": issuer,
            "cognito:username": grant.sub,
            "origin_jti": grant.origin_jti,
            "event_id": grant.event_id,
            "token_use": "id",
            "auth_time": grant.auth_time,
            "exp": now.saturating_add(id_lifetime),
            "iat": now,
            "jti": uuid::Uuid::now_v7().to_string(),
            "email": grant.email,
        });
        if let (Some(nonce), Value::Object(map)) = (grant.nonce, &mut id) {
            map.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        Some(key.sign(&id)?)
    } else {
        None
    };
    Ok(Minted { access_token, id_token })
}
