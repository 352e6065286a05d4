//! The issuer over real HTTP: discovery, JWKS, the hosted pages, the token endpoint, logout,
//! CORS, persistence across restarts and the admin calls.

#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use serde_json::{Value, json};
use support::*;
use thumbforge_oidc_local::{Error, Issuer, PasswordPolicy};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn discovery_and_jwks_have_cognito_shape() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let mut browser = Browser::new();

    let reply = browser.get(&format!("{}/.well-known/openid-configuration", issuer.url())).await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    let base = issuer.url();
    assert_eq!(doc["issuer"], base);
    assert_eq!(doc["authorization_endpoint"], issuer.authorize_url());
    assert_eq!(doc["token_endpoint"], issuer.token_url());
    assert_eq!(doc["jwks_uri"], issuer.jwks_url());
    assert_eq!(doc["end_session_endpoint"], issuer.logout_url());
    assert_eq!(doc["revocation_endpoint"], format!("{base}/oauth2/revoke"));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(doc["token_endpoint_auth_methods_supported"], json!(["none"]));
    assert_eq!(doc["scopes_supported"], json!(["openid", "email", "profile"]));
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(issuer.authorize_url().ends_with("/oauth2/authorize"));
    assert!(issuer.logout_url().ends_with("/logout"));

    let reply = browser.get(&issuer.jwks_url()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let jwks = reply.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    let mut names: Vec<&str> = key.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], issuer.kid());
    assert_eq!(key["e"], "AQAB");
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(key["n"].as_str().unwrap().len(), 342);
    issuer.shutdown().await;
}

#[tokio::test]
async fn signup_confirm_code_exchange_and_claims() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let email = "Alice@Example.com";
    let (mut browser, confirm_page, verifier) = sign_up(&issuer, email, PASSWORD).await;
    assert!(confirm_page.body.contains("data-testid=\"notice\""), "{confirm_page:?}");
    assert!(confirm_page.body.contains("value=\"alice@example.com\""), "{confirm_page:?}");

    let code = mailed_code(&issuer, "alice@example.com", "signup").expect("a signup mail in the outbox");
    assert_eq!(code.len(), 6);
    let outbox = std::fs::read_to_string(issuer.outbox_path()).unwrap();
    let mail: Value = serde_json::from_str(outbox.lines().last().unwrap()).unwrap();
    assert_eq!(mail["kind"], "signup");
    assert!(mail["text"].as_str().unwrap().contains(&code));
    assert!(mail["subject"].is_string() && mail["time"].is_string());
    assert!(!outbox.contains(PASSWORD), "the outbox must never hold a password");

    let back = browser
        .submit(
            &confirm_page,
            &format!("{}/confirm", issuer.url()),
            &[("email", "alice@example.com"), ("code", &code), ("action", "confirm")],
        )
        .await;
    assert_eq!(back.status, 302, "{back:?}");
    assert!(back.location().starts_with(&format!("{CALLBACK}?")), "{back:?}");
    let params = back.location_params();
    assert_eq!(params["state"], "st-signup");
    let cookie = back.header("set-cookie").unwrap();
    assert!(cookie.starts_with("cognito="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );

    let reply = exchange(&issuer, &params["code"], CALLBACK, &verifier).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);

    let sub = issuer.admin_user_sub("alice@example.com").await.unwrap();
    let access = verify(&issuer, tokens["access_token"].as_str().unwrap(), None).await.unwrap();
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], CLIENT);
    assert_eq!(access["scope"], "openid email");
    assert_eq!(access["sub"], sub.as_str());
    assert_eq!(access["username"], sub.as_str());
    assert_eq!(access["iss"], issuer.url());
    assert!(access.get("aud").is_none(), "access tokens have no aud: {access}");
    for claim in ["origin_jti", "event_id", "jti"] {
        assert!(access[claim].is_string(), "{claim}: {access}");
    }
    let (iat, exp, auth_time) = (
        access["iat"].as_u64().unwrap(),
        access["exp"].as_u64().unwrap(),
        access["auth_time"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    assert!(auth_time <= iat && iat <= now());

    let id = verify(&issuer, tokens["id_token"].as_str().unwrap(), Some(CLIENT)).await.unwrap();
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], CLIENT);
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["cognito:username"], sub.as_str());
    assert_eq!(id["sub"], sub.as_str());
    assert_eq!(id["origin_jti"], access["origin_jti"]);
    assert!(id.get("client_id").is_none() && id.get("scope").is_none(), "{id}");
    // The ID token does not pass for an access token of another audience.
    assert!(verify(&issuer, tokens["id_token"].as_str().unwrap(), Some("other")).await.is_err());

    let header = jsonwebtoken::decode_header(tokens["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some(issuer.kid()));
    issuer.shutdown().await;
}

#[tokio::test]
async fn code_exchange_failures() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    issuer.admin_create_confirmed_user("bob@example.com", PASSWORD).await.unwrap();

    // One browser session, several codes.
    let mut browser = Browser::new();
    let (verifier, challenge) = pkce();
    let first = login(&mut browser, &issuer, "bob@example.com", PASSWORD, &challenge).await;
    let code = first.location_params()["code"].clone();

    // Wrong verifier: invalid_grant, and the code is spent.
    let (other_verifier, _) = pkce();
    let reply = exchange(&issuer, &code, CALLBACK, &other_verifier).await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_grant" })));
    let reply = exchange(&issuer, &code, CALLBACK, &verifier).await;
    assert_eq!(reply.json()["error"], "invalid_grant");

    let new_code = async |browser: &mut Browser| {
        let reply = browser.get(&authorize_url(&issuer, &challenge, "again")).await;
        assert!(reply.location().starts_with(CALLBACK), "{reply:?}");
        reply.location_params()["code"].clone()
    };

    // Wrong redirect_uri (registered, but not the one the code was issued for).
    let code = new_code(&mut browser).await;
    let reply = exchange(&issuer, &code, OTHER_CALLBACK, &verifier).await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_grant" })));

    // Another registered client cannot redeem web's code.
    let code = new_code(&mut browser).await;
    let reply = post_token(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "other"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(reply.json()["error"], "invalid_grant");

    // Right exchange, then a replay.
    let code = new_code(&mut browser).await;
    assert_eq!(exchange(&issuer, &code, CALLBACK, &verifier).await.status, 200);
    let replay = exchange(&issuer, &code, CALLBACK, &verifier).await;
    assert_eq!((replay.status, replay.json()), (400, json!({ "error": "invalid_grant" })));

    // Unknown code, client, grant type; missing parameters; wrong content type.
    assert_eq!(exchange(&issuer, "nope", CALLBACK, &verifier).await.json()["error"], "invalid_grant");
    let code = new_code(&mut browser).await;
    let reply = post_token(
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "ghost"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_client" })));
    let reply = post_token(&issuer, &[("grant_type", "password"), ("client_id", CLIENT)]).await;
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
    let reply =
        post_token(&issuer, &[("grant_type", "authorization_code"), ("client_id", CLIENT), ("code", &code)])
            .await;
    assert_eq!(reply.json()["error"], "invalid_request");
    let reply = post_token(&issuer, &[("client_id", CLIENT)]).await;
    assert_eq!(reply.json()["error"], "invalid_request");
    let reply = Browser::new()
        .request(
            hyper::Method::POST,
            &issuer.token_url(),
            &[("content-type", "application/json")],
            Some("{\"grant_type\":\"authorization_code\"}".into()),
        )
        .await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_request" })));
    // The code spent by none of the above still works once.
    assert_eq!(exchange(&issuer, &code, CALLBACK, &verifier).await.status, 200);
    issuer.shutdown().await;
}

#[tokio::test]
async fn refresh_grant_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let sub = issuer.admin_create_confirmed_user("carol@example.com", PASSWORD).await.unwrap();
    let tokens = login_tokens(&issuer, "carol@example.com", PASSWORD).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let first_access = verify(&issuer, tokens["access_token"].as_str().unwrap(), None).await.unwrap();

    let reply = refresh(&issuer, refresh_token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let renewed = reply.json();
    assert!(renewed.get("refresh_token").is_none(), "Cognito issues no new refresh token: {renewed}");
    assert_eq!(renewed["token_type"], "Bearer");
    assert_eq!(renewed["expires_in"], 3600);
    let access = verify(&issuer, renewed["access_token"].as_str().unwrap(), None).await.unwrap();
    assert_eq!(access["sub"], sub.as_str());
    assert_eq!(access["scope"], "openid email");
    assert_eq!(access["origin_jti"], first_access["origin_jti"]);
    assert_eq!(access["auth_time"], first_access["auth_time"]);
    assert_ne!(access["jti"], first_access["jti"]);
    let id = verify(&issuer, renewed["id_token"].as_str().unwrap(), Some(CLIENT)).await.unwrap();
    assert_eq!(id["email"], "carol@example.com");

    // Another client cannot use web's refresh token, nor revoke it.
    let reply = post_token(
        &issuer,
        &[("grant_type", "refresh_token"), ("client_id", "other"), ("refresh_token", refresh_token)],
    )
    .await;
    assert_eq!(reply.json()["error"], "invalid_grant");
    let revoke = |client: &'static str, token: String| {
        let url = format!("{}/oauth2/revoke", issuer.url());
        async move {
            let fields = vec![("token".to_owned(), token), ("client_id".to_owned(), client.to_owned())];
            Browser::new().post_form(&url, &fields).await
        }
    };
    assert_eq!(revoke("other", refresh_token.to_owned()).await.status, 400);
    assert_eq!(refresh(&issuer, refresh_token).await.status, 200);

    let reply = revoke(CLIENT, refresh_token.to_owned()).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    let reply = refresh(&issuer, refresh_token).await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_grant" })));
    // Revoking again (or an unknown token) is fine, as RFC 7009 says.
    assert_eq!(revoke(CLIENT, refresh_token.to_owned()).await.status, 200);
    assert_eq!(refresh(&issuer, "garbage").await.json()["error"], "invalid_grant");
    issuer.shutdown().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    issuer.admin_create_confirmed_user("dave@example.com", PASSWORD).await.unwrap();
    let (_, challenge) = pkce();

    let mut browser = Browser::new();
    let wrong = login(&mut browser, &issuer, "dave@example.com", "Wrong-Horse9", &challenge).await;
    let unknown = login(&mut browser, &issuer, "nobody@example.com", PASSWORD, &challenge).await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 400, "{reply:?}");
        assert!(reply.header("location").is_none());
        assert_eq!(error_text(&reply.body).as_deref(), Some("Incorrect username or password."), "{reply:?}");
        assert!(reply.body.contains("role=\"alert\""));
        assert!(!browser.jar.contains_key("cognito"));
    }
    // The same page apart from the email typed in.
    assert_eq!(
        wrong.body.replace("dave@example.com", "X"),
        unknown.body.replace("nobody@example.com", "X"),
        "the two answers must not differ"
    );
    // Email case and spaces do not matter.
    let ok = login(&mut browser, &issuer, "  DAVE@example.COM ", PASSWORD, &challenge).await;
    assert!(ok.location().starts_with(CALLBACK), "{ok:?}");
    issuer.shutdown().await;
}

#[tokio::test]
async fn unconfirmed_user_gets_no_code_until_confirmed_and_attempts_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let (_, first_confirm_page, _) = sign_up(&issuer, "erin@example.com", PASSWORD).await;
    let first_code = mailed_code(&issuer, "erin@example.com", "signup").unwrap();

    // Right password, unconfirmed: to the confirm page, no code, no session.
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let reply = login(&mut browser, &issuer, "erin@example.com", PASSWORD, &challenge).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert!(reply.location().starts_with(&format!("{}/confirm?", issuer.url())), "{reply:?}");
    assert!(!reply.location_params().contains_key("code"));
    assert!(!browser.jar.contains_key("cognito"));
    let again = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    assert!(again.location().starts_with(&format!("{}/login?", issuer.url())), "{again:?}");

    let confirm_page = browser.get(reply.location()).await;
    assert!(confirm_page.body.contains("autocomplete=\"one-time-code\""));
    let confirm_url = format!("{}/confirm", issuer.url());
    let wrong = if first_code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let reply = browser
            .submit(
                &confirm_page,
                &confirm_url,
                &[("email", "erin@example.com"), ("code", wrong), ("action", "confirm")],
            )
            .await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            error_text(&reply.body).as_deref(),
            Some("Invalid verification code provided, please try again.")
        );
    }
    // Five wrong guesses: even the right code is refused now.
    let reply = browser
        .submit(
            &confirm_page,
            &confirm_url,
            &[("email", "erin@example.com"), ("code", &first_code), ("action", "confirm")],
        )
        .await;
    assert_eq!(
        error_text(&reply.body).as_deref(),
        Some("Attempt limit exceeded, please request a new code.")
    );

    // Resend: a fresh code that works; the old one is gone.
    let mails = mail_count(&issuer);
    let reply = browser
        .submit(&confirm_page, &confirm_url, &[("email", "erin@example.com"), ("action", "resend")])
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("data-testid=\"notice\""));
    assert_eq!(mail_count(&issuer), mails + 1);
    let fresh = mailed_code(&issuer, "erin@example.com", "signup").unwrap();
    // Resending for an unknown account answers the same and sends nothing.
    let unknown = browser
        .submit(&confirm_page, &confirm_url, &[("email", "ghost@example.com"), ("action", "resend")])
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(mail_count(&issuer), mails + 1);

    if fresh != first_code {
        let reply = browser
            .submit(
                &confirm_page,
                &confirm_url,
                &[("email", "erin@example.com"), ("code", &first_code), ("action", "confirm")],
            )
            .await;
        assert_eq!(reply.status, 400, "the old code must not work");
    }
    let reply = browser
        .submit(&first_confirm_page, &confirm_url, &[("email", "erin@example.com"), ("code", &fresh)])
        .await;
    // The first confirm page belongs to another browser (other CSRF cookie): refused.
    assert_eq!(reply.status, 403, "{reply:?}");
    let reply = browser
        .submit(
            &confirm_page,
            &confirm_url,
            &[("email", "erin@example.com"), ("code", &fresh), ("action", "confirm")],
        )
        .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    let params = reply.location_params();
    assert_eq!(exchange(&issuer, &params["code"], CALLBACK, &verifier).await.status, 200);
    issuer.shutdown().await;
}

#[tokio::test]
async fn authorize_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let url =
        |pairs: &[(&str, &str)]| format!("{}?{}", issuer.authorize_url(), encode(pairs.iter().copied()));
    let base = [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", CALLBACK),
        ("state", "xyz"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |changes: &[(&'static str, Option<&'static str>)]| {
        let mut pairs: Vec<(&str, &str)> = base.to_vec();
        for (name, value) in changes {
            pairs.retain(|(k, _)| k != name);
            if let Some(value) = value {
                pairs.push((name, value));
            }
        }
        url(&pairs)
    };

    // Untrusted client or redirect URI: 400 page, never a redirect.
    for bad in [
        with(&[("redirect_uri", Some("http://evil.test/callback"))]),
        with(&[("redirect_uri", Some("http://localhost:5173/callback/"))]),
        with(&[("redirect_uri", None)]),
        with(&[("client_id", Some("ghost"))]),
        with(&[("client_id", None)]),
    ] {
        let reply = browser.get(&bad).await;
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
        assert!(reply.header("location").is_none(), "{bad}");
        assert!(reply.header("content-type").unwrap().starts_with("text/html"));
        assert!(error_text(&reply.body).is_some(), "{reply:?}");
    }

    // Errors sent back to the client, with the state.
    for (changes, error) in [
        (vec![("code_challenge", None), ("code_challenge_method", None)], "invalid_request"),
        (vec![("code_challenge", None)], "invalid_request"),
        (vec![("code_challenge_method", Some("plain"))], "invalid_request"),
        (vec![("code_challenge", Some("too-short"))], "invalid_request"),
        (vec![("response_type", Some("token"))], "unsupported_response_type"),
        (vec![("response_type", None)], "invalid_request"),
        (vec![("scope", Some("openid admin"))], "invalid_scope"),
    ] {
        let reply = browser.get(&with(&changes)).await;
        assert_eq!(reply.status, 302, "{changes:?}: {reply:?}");
        assert!(reply.location().starts_with(&format!("{CALLBACK}?")), "{reply:?}");
        let params = reply.location_params();
        assert_eq!(params["error"], error, "{changes:?}");
        assert_eq!(params["state"], "xyz");
        assert!(!params.contains_key("code"));
    }
    // A duplicated parameter is refused too.
    let reply = browser.get(&format!("{}&state=again", with(&[]))).await;
    assert_eq!(reply.location_params()["error"], "invalid_request");

    // A valid request without a session goes to the sign-in page with the same parameters.
    let reply = browser.get(&with(&[])).await;
    assert!(reply.location().starts_with(&format!("{}/login?", issuer.url())), "{reply:?}");
    let params = reply.location_params();
    assert_eq!(params["client_id"], CLIENT);
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["scope"], "openid email profile");
    assert_eq!(params["code_challenge"], challenge);
    // The sign-in page carries them in hidden fields and its links.
    let page = browser.get(reply.location()).await;
    let hidden = page.hidden_fields();
    assert!(hidden.contains(&("redirect_uri".into(), CALLBACK.into())), "{hidden:?}");
    assert!(hidden.contains(&("state".into(), "xyz".into())), "{hidden:?}");
    assert!(page.body.contains("href=\"/signup?response_type"), "{page:?}");
    assert!(page.body.contains("data-testid=\"forgot-link\""));
    issuer.shutdown().await;
}

#[tokio::test]
async fn session_cookie_skips_the_form_and_logout_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    issuer.admin_create_confirmed_user("fay@example.com", PASSWORD).await.unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let first = login(&mut browser, &issuer, "fay@example.com", PASSWORD, &challenge).await;
    assert!(first.location().starts_with(CALLBACK));
    assert!(browser.jar.contains_key("cognito"));

    // Second authorize: straight back with a code.
    let second = browser.get(&authorize_url(&issuer, &challenge, "two")).await;
    assert_eq!(second.status, 302);
    let params = second.location_params();
    assert!(second.location().starts_with(CALLBACK), "{second:?}");
    assert_eq!(params["state"], "two");
    assert_eq!(exchange(&issuer, &params["code"], CALLBACK, &verifier).await.status, 200);

    // Logout to an unregistered URI: refused, session kept.
    let logout = |uri: &str| {
        format!("{}?{}", issuer.logout_url(), encode([("client_id", CLIENT), ("logout_uri", uri)]))
    };
    let reply = browser.get(&logout("http://evil.test/")).await;
    assert_eq!(reply.status, 400);
    assert!(reply.header("location").is_none());
    let reply = browser.get(&format!("{}?client_id=ghost&logout_uri={LOGOUT}", issuer.logout_url())).await;
    assert_eq!(reply.status, 400);
    assert!(browser.jar.contains_key("cognito"));

    // A stolen copy of the cookie stops working too (the server forgets the session).
    let cookie = browser.jar["cognito"].clone();
    let reply = browser.get(&logout(LOGOUT)).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.location(), LOGOUT);
    assert!(!browser.jar.contains_key("cognito"));
    let next = browser.get(&authorize_url(&issuer, &challenge, "three")).await;
    assert!(next.location().starts_with(&format!("{}/login?", issuer.url())), "{next:?}");
    let mut thief = Browser::new();
    thief.jar.insert("cognito".into(), cookie);
    let stolen = thief.get(&authorize_url(&issuer, &challenge, "four")).await;
    assert!(stolen.location().starts_with(&format!("{}/login?", issuer.url())), "{stolen:?}");
    issuer.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_users_key_and_refresh_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let kid = issuer.kid().to_owned();
    issuer.admin_create_confirmed_user("gus@example.com", PASSWORD).await.unwrap();
    let tokens = login_tokens(&issuer, "gus@example.com", PASSWORD).await;
    issuer.shutdown().await;

    let issuer = start(dir.path()).await;
    assert_eq!(issuer.kid(), kid);
    let jwks = Browser::new().get(&issuer.jwks_url()).await.json();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    // The port changed, so the issuer did: old tokens verify by key, not by iss.
    let reply = refresh(&issuer, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    verify(&issuer, reply.json()["access_token"].as_str().unwrap(), None).await.unwrap();
    // The user can still sign in.
    login_tokens(&issuer, "gus@example.com", PASSWORD).await;
    for file in ["users.json", "refresh-tokens.json", "signing-key.pk8.der"] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
    let refresh_file = std::fs::read_to_string(dir.path().join("refresh-tokens.json")).unwrap();
    assert!(
        !refresh_file.contains(tokens["refresh_token"].as_str().unwrap()),
        "refresh tokens are stored hashed"
    );
    issuer.shutdown().await;
}

#[tokio::test]
async fn cors_only_for_callback_origins() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let post = |origin: &'static str| {
        let url = issuer.token_url();
        async move {
            Browser::new()
                .request(
                    hyper::Method::POST,
                    &url,
                    &[("content-type", "application/x-www-form-urlencoded"), ("origin", origin)],
                    Some("grant_type=refresh_token&client_id=web&refresh_token=x".into()),
                )
                .await
        }
    };
    let allowed = post("http://localhost:5173").await;
    assert_eq!(allowed.status, 400);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert_eq!(allowed.header("vary"), Some("Origin"));
    let second_callback = post("http://app.test:8080").await;
    assert_eq!(second_callback.header("access-control-allow-origin"), Some("http://app.test:8080"));
    // Another client's callback origin is not web's.
    let other_client = post("http://other.test").await;
    assert_eq!(other_client.header("access-control-allow-origin"), None);
    let evil = post("http://evil.test").await;
    assert_eq!(evil.header("access-control-allow-origin"), None);
    assert_eq!(evil.header("vary"), Some("Origin"));

    let preflight = |origin: &'static str| {
        let url = issuer.token_url();
        async move {
            Browser::new()
                .request(
                    hyper::Method::OPTIONS,
                    &url,
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        ("access-control-request-headers", "content-type"),
                    ],
                    None,
                )
                .await
        }
    };
    let ok = preflight("http://localhost:5173").await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert!(ok.header("access-control-allow-methods").unwrap().contains("POST"));
    assert!(ok.header("access-control-allow-headers").unwrap().to_ascii_lowercase().contains("content-type"));
    let refused = preflight("http://evil.test").await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    issuer.shutdown().await;
}

#[tokio::test]
async fn forgot_password_then_sign_in_with_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    issuer.admin_create_confirmed_user("hal@example.com", PASSWORD).await.unwrap();
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let authorize = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    let forgot_url = authorize.location().replacen("/login?", "/forgotPassword?", 1);
    let page = browser.get(&forgot_url).await;
    assert_eq!(page.status, 200);

    // Unknown account: the same answer, no mail.
    let ghost = browser
        .submit(&page, &format!("{}/forgotPassword", issuer.url()), &[("email", "ghost@example.com")])
        .await;
    assert_eq!(ghost.status, 302);
    assert_eq!(mail_count(&issuer), 0);
    let reply = browser
        .submit(&page, &format!("{}/forgotPassword", issuer.url()), &[("email", "hal@example.com")])
        .await;
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.location().replace("hal%40example.com", "X"),
        ghost.location().replace("ghost%40example.com", "X"),
        "no enumeration"
    );
    let code = mailed_code(&issuer, "hal@example.com", "reset").unwrap();

    let page = browser.get(reply.location()).await;
    assert!(page.body.contains("data-testid=\"notice\""));
    assert!(page.body.contains("autocomplete=\"new-password\""));
    let url = format!("{}/confirmForgotPassword", issuer.url());
    let new_password = "Brand-New-Pass7";
    // Policy and mismatch problems are listed before the code is even looked at.
    let weak = browser
        .submit(
            &page,
            &url,
            &[
                ("email", "hal@example.com"),
                ("code", &code),
                ("password", "weak"),
                ("confirm_password", "weaker"),
            ],
        )
        .await;
    assert_eq!(weak.status, 400);
    let text = error_text(&weak.body).unwrap();
    let minimum = format!("at least {} characters", PasswordPolicy::default().min_length);
    assert!(text.contains(&minimum) && text.contains("Passwords do not match."), "{text}");
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let wrong = browser
        .submit(
            &page,
            &url,
            &[
                ("email", "hal@example.com"),
                ("code", wrong_code),
                ("password", new_password),
                ("confirm_password", new_password),
            ],
        )
        .await;
    assert_eq!(
        error_text(&wrong.body).as_deref(),
        Some("Invalid verification code provided, please try again.")
    );
    let done = browser
        .submit(
            &page,
            &url,
            &[
                ("email", "hal@example.com"),
                ("code", &code),
                ("password", new_password),
                ("confirm_password", new_password),
            ],
        )
        .await;
    assert_eq!(done.status, 302, "{done:?}");
    assert!(done.location().starts_with(&format!("{}/login?", issuer.url())));
    let login_page = browser.get(done.location()).await;
    assert!(login_page.body.contains("Your password has been changed."), "{login_page:?}");

    let old = login(&mut Browser::new(), &issuer, "hal@example.com", PASSWORD, &challenge).await;
    assert_eq!(old.status, 400);
    login_tokens(&issuer, "hal@example.com", new_password).await;
    // The code was used up.
    let again = browser
        .submit(
            &page,
            &url,
            &[
                ("email", "hal@example.com"),
                ("code", &code),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status, 400);
    issuer.shutdown().await;
}

#[tokio::test]
async fn signup_lists_policy_problems_and_refuses_existing_email() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    issuer.admin_create_confirmed_user("ivy@example.com", PASSWORD).await.unwrap();
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let authorize = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    let page = browser.get(&authorize.location().replacen("/login?", "/signup?", 1)).await;
    assert!(page.body.contains("data-testid=\"confirm-password\""));
    assert!(page.body.contains("data-testid=\"password-rules\""));
    let url = format!("{}/signup", issuer.url());

    let reply = browser
        .submit(
            &page,
            &url,
            &[("email", "new@example.com"), ("password", "abc"), ("confirm_password", "abc")],
        )
        .await;
    assert_eq!(reply.status, 400);
    let text = error_text(&reply.body).unwrap();
    for problem in PasswordPolicy::default().problems("abc") {
        assert!(text.contains(&problem), "{problem} missing from {text}");
    }
    assert!(reply.body.contains("value=\"new@example.com\""), "the email is kept");

    let reply = browser
        .submit(
            &page,
            &url,
            &[("email", "not-an-email"), ("password", PASSWORD), ("confirm_password", "Other-Pass9")],
        )
        .await;
    let text = error_text(&reply.body).unwrap();
    assert!(
        text.contains("Enter a valid email address.") && text.contains("Passwords do not match."),
        "{text}"
    );

    let reply = browser
        .submit(
            &page,
            &url,
            &[("email", " IVY@example.com"), ("password", PASSWORD), ("confirm_password", PASSWORD)],
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(error_text(&reply.body).as_deref(), Some("An account with the given email already exists."));
    assert_eq!(mail_count(&issuer), 0);
    issuer.shutdown().await;
}

#[tokio::test]
async fn admin_create_and_delete_user() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let sub = issuer.admin_create_confirmed_user(" Jo@Example.com ", PASSWORD).await.unwrap();
    assert_eq!(uuid::Uuid::parse_str(&sub).unwrap().get_version_num(), 7);
    assert!(matches!(
        issuer.admin_create_confirmed_user("jo@example.com", PASSWORD).await,
        Err(Error::UserExists(_))
    ));
    assert!(matches!(issuer.admin_create_confirmed_user("jo", PASSWORD).await, Err(Error::InvalidEmail(_))));
    match issuer.admin_create_confirmed_user("kim@example.com", "short").await {
        Err(Error::InvalidPassword(problems)) => assert!(problems.len() >= 3, "{problems:?}"),
        other => panic!("{other:?}"),
    }

    let tokens = login_tokens(&issuer, "jo@example.com", PASSWORD).await;
    let access = verify(&issuer, tokens["access_token"].as_str().unwrap(), None).await.unwrap();
    assert_eq!(access["sub"], sub.as_str());
    assert_eq!(mail_count(&issuer), 0, "admin-created users get no confirmation mail");

    // A session to check that deletion ends it.
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    login(&mut browser, &issuer, "jo@example.com", PASSWORD, &challenge).await;

    assert!(issuer.admin_delete_user("JO@example.com").await.unwrap());
    assert!(!issuer.admin_delete_user("jo@example.com").await.unwrap());
    assert!(!issuer.admin_delete_user("not an email").await.unwrap());
    let reply = refresh(&issuer, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((reply.status, reply.json()), (400, json!({ "error": "invalid_grant" })));
    let reply = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    assert!(reply.location().starts_with(&format!("{}/login?", issuer.url())), "{reply:?}");
    let reply = login(&mut Browser::new(), &issuer, "jo@example.com", PASSWORD, &challenge).await;
    assert_eq!(reply.status, 400);
    // Deleted for good: not back after a restart.
    issuer.shutdown().await;
    let issuer = start(dir.path()).await;
    assert_eq!(issuer.admin_user_sub("jo@example.com").await, None);
    issuer.shutdown().await;
}

#[tokio::test]
async fn forms_need_the_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    issuer.admin_create_confirmed_user("lee@example.com", PASSWORD).await.unwrap();
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let authorize = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    let page = browser.get(authorize.location()).await;
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("XSRF-TOKEN=")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("HttpOnly")
    );
    let url = format!("{}/login", issuer.url());
    let fields = [("email", "lee@example.com"), ("password", PASSWORD)];

    // Without the cookie (a cross-site form post), the right password does not sign in.
    let mut stranger = Browser::new();
    let reply = stranger.submit(&page, &url, &fields).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert!(reply.header("location").is_none());
    // With the cookie but a forged field.
    let mut forged: Vec<(String, String)> =
        page.hidden_fields().into_iter().filter(|(k, _)| k != "_csrf").collect();
    forged.push(("_csrf".into(), "forged".into()));
    forged.extend(fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    assert_eq!(browser.post_form(&url, &forged).await.status, 403);
    // The real thing works.
    let reply = browser.submit(&page, &url, &fields).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    issuer.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_and_pages_carry_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let mut browser = Browser::new();
    let base = issuer.url().to_owned();

    assert_eq!(browser.get(&format!("{base}/nope")).await.status, 404);
    assert_eq!(browser.get(&format!("{base}/oauth2/authorize/")).await.status, 404);
    let reply = browser.get(&issuer.token_url()).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
    let reply = browser.request(hyper::Method::DELETE, &format!("{base}/login"), &[], None).await;
    assert_eq!(reply.status, 405);
    let reply = browser.request(hyper::Method::POST, &issuer.jwks_url(), &[], None).await;
    assert_eq!(reply.status, 405);

    // Bodies over 16 KiB.
    let big = format!("grant_type=refresh_token&client_id=web&refresh_token={}", "a".repeat(17 * 1024));
    let reply = browser
        .request(
            hyper::Method::POST,
            &issuer.token_url(),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(big.clone()),
        )
        .await;
    assert_eq!(reply.status, 413);
    let reply = browser
        .request(
            hyper::Method::POST,
            &format!("{base}/login"),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(big),
        )
        .await;
    assert_eq!(reply.status, 413);
    // A form that is not a form; garbage percent escapes; a page without OAuth parameters.
    let reply = browser
        .request(
            hyper::Method::POST,
            &format!("{base}/signup"),
            &[("content-type", "text/plain")],
            Some("x".into()),
        )
        .await;
    assert_eq!(reply.status, 415);
    let reply = browser.get(&format!("{base}/oauth2/authorize?client_id=%ZZ%&redirect_uri=%")).await;
    assert_eq!(reply.status, 400);
    let reply = browser.get(&format!("{base}/login")).await;
    assert_eq!(reply.status, 400);
    let reply = browser.get(&format!("{base}/logout")).await;
    assert_eq!(reply.status, 400);

    // Page headers.
    let (_, challenge) = pkce();
    let authorize = browser.get(&authorize_url(&issuer, &challenge, "s")).await;
    let page = browser.get(authorize.location()).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    for needle in [
        "<label for=\"email\">",
        "autocomplete=\"email\"",
        "autocomplete=\"current-password\"",
        "data-testid=\"email\"",
        "data-testid=\"password\"",
        "data-testid=\"submit\"",
        "data-testid=\"signup-link\"",
        "href=\"/static/login.css\"",
    ] {
        assert!(page.body.contains(needle), "{needle} missing");
    }
    assert!(!page.body.contains("<script") && !page.body.contains("style="));
    let css = browser.get(&format!("{base}/static/login.css")).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    issuer.shutdown().await;
}

#[tokio::test]
async fn options_are_validated_and_public_url_is_the_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options(dir.path());
    options.clients.push(options.clients[0].clone());
    assert!(matches!(Issuer::start(options).await, Err(Error::Config(_))));
    let mut options = support::options(dir.path());
    options.clients[0].callback_urls.push("javascript:alert(1)".into());
    assert!(matches!(Issuer::start(options).await, Err(Error::Config(_))));

    let mut options = support::options(dir.path());
    options.public_url = Some("http://auth.localhost:9999".into());
    let issuer = Issuer::start(options).await.unwrap();
    assert_eq!(issuer.url(), "http://auth.localhost:9999");
    assert_eq!(issuer.token_url(), "http://auth.localhost:9999/oauth2/token");
    // Served on the bound address, describing itself by the public URL.
    let doc = Browser::new()
        .get(&format!("http://{}/.well-known/openid-configuration", issuer.local_addr()))
        .await
        .json();
    assert_eq!(doc["issuer"], "http://auth.localhost:9999");
    assert_eq!(doc["jwks_uri"], "http://auth.localhost:9999/.well-known/jwks.json");
    issuer.shutdown().await;
}

#[tokio::test]
async fn test_support_signs_arbitrary_tokens_with_the_issuer_key() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = start(dir.path()).await;
    let claims = json!({ "sub": "s", "iss": issuer.url(), "client_id": CLIENT, "exp": now() + 60, "token_use": "access" });
    let token = issuer.sign_for_tests(Some(issuer.kid()), &claims);
    assert_eq!(verify(&issuer, &token, None).await.unwrap(), claims);

    let expired = json!({ "sub": "s", "iss": issuer.url(), "exp": now() - 60 });
    let token = issuer.sign_for_tests(Some(issuer.kid()), &expired);
    let err = verify(&issuer, &token, None).await.unwrap_err();
    assert!(matches!(err.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature), "{err:?}");

    let wrong_iss = json!({ "sub": "s", "iss": "http://evil.test", "exp": now() + 60 });
    let token = issuer.sign_for_tests(Some(issuer.kid()), &wrong_iss);
    assert!(matches!(
        verify(&issuer, &token, None).await.unwrap_err().kind(),
        jsonwebtoken::errors::ErrorKind::InvalidIssuer
    ));

    let token = issuer.sign_for_tests(Some("unknown-kid"), &claims);
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some("unknown-kid"));
    let token = issuer.sign_for_tests(None, &claims);
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid, None);
    let token = issuer.sign_with_header_for_tests(&json!({ "alg": "HS256", "kid": issuer.kid() }), &claims);
    assert_eq!(jsonwebtoken::decode_header(&token).unwrap().alg, jsonwebtoken::Algorithm::HS256);

    issuer.admin_create_confirmed_user("max@example.com", PASSWORD).await.unwrap();
    let set = issuer.tokens_for_tests("max@example.com", CLIENT).await.unwrap();
    let access = verify(&issuer, &set.access_token, None).await.unwrap();
    assert_eq!(access["scope"], "openid email profile");
    verify(&issuer, set.id_token.as_deref().unwrap(), Some(CLIENT)).await.unwrap();
    assert_eq!(refresh(&issuer, &set.refresh_token).await.status, 200);
    issuer.shutdown().await;
}
