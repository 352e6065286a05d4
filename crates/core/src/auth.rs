//! `[auth]` of `thumbforge.toml`: who signs users in, what the API's JWT authorizer trusts, token
//! lifetimes and the password policy.
//!
//! - `provider = "cognito"` (the default): the stack creates a Cognito user pool, its hosted UI
//!   domain and a public app client (authorization code + PKCE, no secret); the authorizer trusts
//!   that pool. Locally, the embedded issuer plays the pool.
//! - `provider = "oidc"`: bring your own OpenID Connect provider (Auth0, Okta, Keycloak, Entra
//!   ID…). No pool is created; the authorizer trusts `issuer` for `audience`, and the page signs in
//!   through `authorize_url` / `token_url` with the first audience as its client id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::env;

/// Who issues the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// A Cognito user pool created by the stack.
    #[default]
    Cognito,
    /// An existing OpenID Connect provider.
    Oidc,
}

impl Provider {
    /// The name written in `thumbforge.toml` and passed to Terraform.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cognito => "cognito",
            Self::Oidc => "oidc",
        }
    }
}

/// Sign-in and the API's authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// `cognito` or `oidc`.
    pub provider: Provider,
    /// `oidc` only: the issuer (`iss`), an `https://` URL without a trailing slash; its
    /// `/.well-known/openid-configuration` must name the `jwks_uri`.
    pub issuer: Option<String>,
    /// `oidc` only: the accepted audiences (`aud`, or `client_id` when a token has no `aud`). The
    /// first is the page's client id (a public client: code + PKCE, no secret).
    pub audience: Vec<String>,
    /// `oidc` only: the provider's authorization endpoint.
    pub authorize_url: Option<String>,
    /// `oidc` only: the provider's token endpoint.
    pub token_url: Option<String>,
    /// `oidc` only, optional: where signing out sends the browser (`end_session_endpoint`).
    pub logout_url: Option<String>,
    /// The scopes the page asks for.
    pub scopes: Vec<String>,
    /// The API's routes accept a token holding any one of these scopes. Code-flow access tokens
    /// carry `openid`, `AdminInitiateAuth` ones `aws.cognito.signin.user.admin`; ID tokens carry
    /// none, so they are refused (`403`). Empty: no scope is required (ID tokens then pass).
    pub route_scopes: Vec<String>,
    /// Lifetime of access tokens in minutes (Cognito: 5–1440).
    pub access_token_minutes: u32,
    /// Lifetime of ID tokens in minutes (Cognito: 5–1440).
    pub id_token_minutes: u32,
    /// Lifetime of refresh tokens in days (1–3650).
    pub refresh_token_days: u32,
    /// What a password must be (Cognito's policy; the local issuer enforces the same).
    pub password: PasswordPolicy,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            provider: Provider::Cognito,
            issuer: None,
            audience: Vec::new(),
            authorize_url: None,
            token_url: None,
            logout_url: None,
            scopes: vec!["openid".to_owned(), "email".to_owned()],
            route_scopes: vec!["openid".to_owned(), "aws.cognito.signin.user.admin".to_owned()],
            access_token_minutes: 60,
            id_token_minutes: 60,
            refresh_token_days: 30,
            password: PasswordPolicy::default(),
        }
    }
}

/// A password policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    /// Fewest characters (Cognito: 6–99).
    pub min_length: u8,
    /// At least one lower-case letter.
    pub require_lowercase: bool,
    /// At least one upper-case letter.
    pub require_uppercase: bool,
    /// At least one digit.
    pub require_numbers: bool,
    /// At least one symbol.
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 10,
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: false,
        }
    }
}

/// The characters Cognito counts as symbols (its documented list); a space inside the password
/// (not leading or trailing) counts too.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// The longest password Cognito accepts.
pub const MAX_PASSWORD_CHARS: usize = 256;

impl PasswordPolicy {
    /// Everything wrong with `password`, one sentence each (empty when it is acceptable).
    /// Besides the policy, like Cognito: at most 256 characters, and no leading or trailing space.
    #[must_use]
    pub fn problems(&self, password: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let chars = password.chars().count();
        if chars < usize::from(self.min_length) {
            problems.push(format!("Password must be at least {} characters long.", self.min_length));
        }
        if chars > MAX_PASSWORD_CHARS {
            problems.push(format!("Password must be at most {MAX_PASSWORD_CHARS} characters long."));
        }
        if password.starts_with(char::is_whitespace) || password.ends_with(char::is_whitespace) {
            problems.push("Password must not begin or end with a space.".to_owned());
        }
        if self.require_lowercase && !password.chars().any(|c| c.is_ascii_lowercase()) {
            problems.push("Password must contain a lower-case letter.".to_owned());
        }
        if self.require_uppercase && !password.chars().any(|c| c.is_ascii_uppercase()) {
            problems.push("Password must contain an upper-case letter.".to_owned());
        }
        if self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
            problems.push("Password must contain a number.".to_owned());
        }
        if self.require_symbols && !password.trim().chars().any(|c| SYMBOLS.contains(c)) {
            problems.push("Password must contain a symbol.".to_owned());
        }
        problems
    }
}

/// Whether `url` is an `https://` URL with a host.
fn is_https_url(url: &str) -> bool {
    url.strip_prefix("https://").is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !rest.contains(char::is_whitespace)
    })
}

/// The scopes a Cognito app client may ask for without a resource server (the stack creates
/// none, so Cognito refuses any other; terraform/variables.tf checks the same).
const COGNITO_SCOPES: [&str; 5] = ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"];

/// Scope names as OAuth allows them (printable ASCII but space, `"` and `\`).
fn is_scope(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

impl Auth {
    /// Every problem, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut range = |field: &str, value: u32, min: u32, max: u32| {
            if !(min..=max).contains(&value) {
                problems.push(format!("`auth.{field}` is {value}, must be between {min} and {max}"));
            }
        };
        range("access_token_minutes", self.access_token_minutes, 5, 1440);
        range("id_token_minutes", self.id_token_minutes, 5, 1440);
        range("refresh_token_days", self.refresh_token_days, 1, 3650);
        range("password.min_length", u32::from(self.password.min_length), 6, 99);
        if !self.scopes.iter().any(|s| s == "openid") {
            problems.push("`auth.scopes` must include \"openid\"".to_owned());
        }
        for (field, scopes) in [("scopes", &self.scopes), ("route_scopes", &self.route_scopes)] {
            if let Some(bad) = scopes.iter().find(|s| !is_scope(s)) {
                problems.push(format!("`auth.{field}` has an invalid scope {bad:?}"));
            }
        }
        let urls = [
            ("issuer", &self.issuer),
            ("authorize_url", &self.authorize_url),
            ("token_url", &self.token_url),
            ("logout_url", &self.logout_url),
        ];
        match self.provider {
            Provider::Cognito => {
                for (field, value) in urls {
                    if value.is_some() {
                        problems.push(format!(
                            "`auth.{field}` is for provider = \"oidc\"; with Cognito the stack derives it"
                        ));
                    }
                }
                let unknown: Vec<&str> =
                    self.scopes.iter().map(String::as_str).filter(|s| !COGNITO_SCOPES.contains(s)).collect();
                if !unknown.is_empty() {
                    problems.push(format!(
                        "`auth.scopes` has {unknown:?}: with provider = \"cognito\" every scope must be one \
                         of {} (the stack creates no resource server, so Cognito refuses others)",
                        COGNITO_SCOPES.join(", ")
                    ));
                }
                if !self.audience.is_empty() {
                    problems.push(
                        "`auth.audience` is for provider = \"oidc\"; with Cognito it is the app client's id"
                            .to_owned(),
                    );
                }
            }
            Provider::Oidc => {
                for (field, value) in urls {
                    match value {
                        None if field == "logout_url" => {}
                        None => problems.push(format!("`auth.{field}` is required with provider = \"oidc\"")),
                        Some(url) if !is_https_url(url) => {
                            problems.push(format!("`auth.{field}` must be an https:// URL, not {url:?}"));
                        }
                        Some(_) => {}
                    }
                }
                if self.issuer.as_deref().is_some_and(|i| i.ends_with('/')) {
                    problems.push(
                        "`auth.issuer` must not end with `/` (it is compared with `iss` exactly)".to_owned(),
                    );
                }
                if self.audience.is_empty() {
                    problems.push(
                        "`auth.audience` must name at least one audience (the page's client id first)"
                            .to_owned(),
                    );
                }
                if self.audience.iter().any(|a| a.trim().is_empty() || a.len() > 256) {
                    problems.push("`auth.audience` entries must be 1-256 characters".to_owned());
                }
            }
        }
        problems
    }
}

/// What the page needs to sign in (served by `GET /api/config` as `auth`): the provider's
/// endpoints and the page's public client. The API function reads it from the `AUTH_*` variables
/// of [`crate::env`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    /// The page's OAuth client id.
    pub client_id: String,
    /// The authorization endpoint (the hosted sign-in pages start here).
    pub authorize_url: String,
    /// The token endpoint (code + PKCE verifier, refresh token).
    pub token_url: String,
    /// Where signing out sends the browser; `None` when the provider has no such page.
    pub logout_url: Option<String>,
    /// The scopes the page asks for.
    pub scopes: Vec<String>,
}

impl SignIn {
    /// The variables that carry it to the API function.
    pub fn to_env(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            (env::AUTH_CLIENT_ID, self.client_id.clone()),
            (env::AUTH_AUTHORIZE_URL, self.authorize_url.clone()),
            (env::AUTH_TOKEN_URL, self.token_url.clone()),
            (env::AUTH_LOGOUT_URL, self.logout_url.clone().unwrap_or_default()),
            (env::AUTH_SCOPES, self.scopes.join(" ")),
        ])
    }

    /// Reads it through `lookup`; every variable but the logout URL must be set and non-empty.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut missing = Vec::new();
        let mut get = |name: &'static str| {
            let value = lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            if value.is_none() && name != env::AUTH_LOGOUT_URL {
                missing.push(name);
            }
            value
        };
        let client_id = get(env::AUTH_CLIENT_ID);
        let authorize_url = get(env::AUTH_AUTHORIZE_URL);
        let token_url = get(env::AUTH_TOKEN_URL);
        let logout_url = get(env::AUTH_LOGOUT_URL);
        let scopes = get(env::AUTH_SCOPES);
        match (client_id, authorize_url, token_url, scopes) {
            (Some(client_id), Some(authorize_url), Some(token_url), Some(scopes)) => Ok(Self {
                client_id,
                authorize_url,
                token_url,
                logout_url,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            }),
            _ => Err(format!("environment variables not set: {}", missing.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn sign_in_settings_round_trip_through_the_environment() {
        let sign_in = SignIn {
            client_id: "abc".into(),
            authorize_url: "https://x.auth.eu-west-1.amazoncognito.com/oauth2/authorize".into(),
            token_url: "https://x.auth.eu-west-1.amazoncognito.com/oauth2/token".into(),
            logout_url: None,
            scopes: vec!["openid".into(), "email".into()],
        };
        let vars = sign_in.to_env();
        assert_eq!(SignIn::from_env(|name| vars.get(name).cloned()).unwrap(), sign_in);
        let err =
            SignIn::from_env(|name| (name == env::AUTH_SCOPES).then(|| "openid".to_owned())).unwrap_err();
        assert!(err.contains(env::AUTH_CLIENT_ID) && err.contains(env::AUTH_TOKEN_URL), "{err}");
        assert!(!err.contains(env::AUTH_LOGOUT_URL), "{err}");
    }

    #[test]
    fn the_default_is_a_valid_cognito_setup() {
        assert_eq!(Auth::default().problems(), Vec::<String>::new());
        assert_eq!(Auth::default().provider.name(), "cognito");
    }

    /// A valid `oidc` setup.
    fn auth0() -> Auth {
        Auth {
            provider: Provider::Oidc,
            issuer: Some("https://example.eu.auth0.com".into()),
            audience: vec!["abc123".into()],
            authorize_url: Some("https://example.eu.auth0.com/authorize".into()),
            token_url: Some("https://example.eu.auth0.com/oauth/token".into()),
            ..Auth::default()
        }
    }

    #[test]
    fn oidc_needs_an_issuer_an_audience_and_endpoints() {
        let oidc = Auth { provider: Provider::Oidc, ..Auth::default() };
        let problems = oidc.problems();
        for field in ["issuer", "authorize_url", "token_url", "audience"] {
            assert!(problems.iter().any(|p| p.contains(&format!("`auth.{field}`"))), "{field}: {problems:?}");
        }
        assert!(!problems.iter().any(|p| p.contains("logout_url")), "{problems:?}");
        let good = auth0();
        assert_eq!(good.problems(), Vec::<String>::new());
        let slash = Auth { issuer: Some("https://example.eu.auth0.com/".into()), ..good.clone() };
        assert_eq!(slash.problems().len(), 1, "{:?}", slash.problems());
        let plain = Auth { token_url: Some("http://example.com/token".into()), ..good };
        assert!(plain.problems()[0].contains("https://"), "{:?}", plain.problems());
    }

    #[test]
    fn cognito_takes_only_its_built_in_scopes() {
        let every =
            Auth { scopes: COGNITO_SCOPES.iter().map(|s| (*s).to_owned()).collect(), ..Auth::default() };
        assert_eq!(every.problems(), Vec::<String>::new());
        let custom = Auth {
            scopes: vec!["openid".into(), "images/read".into(), "email".into(), "offline_access".into()],
            ..Auth::default()
        };
        let problems = custom.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(r#"["images/read", "offline_access"]"#), "{problems:?}");
        assert!(problems[0].contains("`auth.scopes`"), "{problems:?}");
        // Route scopes are what the authorizer requires, not what the client asks for: not limited.
        let routes = Auth { route_scopes: vec!["images/read".into()], ..Auth::default() };
        assert_eq!(routes.problems(), Vec::<String>::new());
        // With a provider of your own, any scope its resource servers define.
        let oidc =
            Auth { scopes: vec!["openid".into(), "offline_access".into(), "images/read".into()], ..auth0() };
        assert_eq!(oidc.problems(), Vec::<String>::new());
    }

    #[test]
    fn cognito_refuses_oidc_fields_and_bounds_lifetimes() {
        let auth = Auth {
            issuer: Some("https://x".into()),
            audience: vec!["a".into()],
            access_token_minutes: 4,
            refresh_token_days: 0,
            scopes: vec!["email".into()],
            route_scopes: vec!["bad scope".into()],
            ..Auth::default()
        };
        let problems = auth.problems();
        assert_eq!(problems.len(), 6, "{problems:?}");
    }
}
