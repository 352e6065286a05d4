//! The issuer's state: users and refresh tokens (persisted as JSON files in the data directory,
//! each rewritten atomically on change), authorization codes and hosted-UI sessions (memory only).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::util::{ct_eq, sha256_hex, write_atomic};

/// The users file's name inside the data directory.
pub(crate) const USERS_FILE: &str = "users.json";
/// The refresh tokens file's name inside the data directory.
pub(crate) const REFRESH_FILE: &str = "refresh-tokens.json";
/// Wrong guesses a confirmation or reset code survives; after that a new code is needed.
pub(crate) const MAX_CODE_ATTEMPTS: u8 = 5;

/// A user of the pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    /// The subject (UUID), also the Cognito username (pools with email as the username attribute).
    pub sub: String,
    /// Normalised email (the sign-in name).
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Whether the email has been confirmed (Cognito's `CONFIRMED` status).
    pub confirmed: bool,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Seconds since the epoch.
    pub updated_at: u64,
    /// The pending sign-up confirmation code, if any.
    #[serde(default)]
    pub confirmation: Option<PendingCode>,
    /// The pending password reset code, if any.
    #[serde(default)]
    pub reset: Option<PendingCode>,
}

/// A code sent by mail (stored hashed), with its expiry and wrong-guess count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingCode {
    /// Hex SHA-256 of the code.
    pub code_sha256: String,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// Wrong guesses so far.
    pub failed_attempts: u8,
}

/// What checking a mailed code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeCheck {
    /// The code is right (the caller consumes it).
    Valid,
    /// Wrong code (the attempt was counted).
    Wrong,
    /// Expired, or no code pending.
    Expired,
    /// Too many wrong guesses: a new code is needed.
    Exhausted,
}

impl PendingCode {
    /// A fresh code valid for `lifetime` seconds from `now`.
    pub(crate) fn new(code: &str, now: u64, lifetime: u64) -> Self {
        Self { code_sha256: sha256_hex(code), expires_at: now.saturating_add(lifetime), failed_attempts: 0 }
    }

    /// Checks `code` at time `now`, counting a wrong guess.
    pub(crate) fn check(&mut self, code: &str, now: u64) -> CodeCheck {
        if self.failed_attempts >= MAX_CODE_ATTEMPTS {
            return CodeCheck::Exhausted;
        }
        if now >= self.expires_at {
            return CodeCheck::Expired;
        }
        if ct_eq(sha256_hex(code.trim()).as_bytes(), self.code_sha256.as_bytes()) {
            CodeCheck::Valid
        } else {
            self.failed_attempts += 1;
            CodeCheck::Wrong
        }
    }
}

/// A refresh token's grant (the token itself is only kept as its SHA-256).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshRecord {
    pub sub: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub auth_time: u64,
    pub origin_jti: String,
    pub event_id: String,
    pub issued_at: u64,
    pub expires_at: u64,
}

/// A one-time authorization code's binding.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub sub: String,
    pub auth_time: u64,
    pub expires_at: u64,
}

/// A hosted-UI session (what the session cookie names).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub sub: String,
    pub auth_time: u64,
    pub expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct UsersFile {
    version: u32,
    users: Vec<User>,
}

#[derive(Serialize, Deserialize)]
struct RefreshFile {
    version: u32,
    /// Keyed by hex SHA-256 of the token.
    tokens: BTreeMap<String, RefreshRecord>,
}

/// Everything the issuer keeps, behind one async mutex in the server.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
    /// Keyed by normalised email.
    pub users: BTreeMap<String, User>,
    /// Keyed by hex SHA-256 of the token.
    pub refresh: BTreeMap<String, RefreshRecord>,
    /// Keyed by the code itself.
    pub codes: HashMap<String, AuthCode>,
    /// Keyed by the session cookie's value.
    pub sessions: HashMap<String, Session>,
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt { path: path.display().to_string(), message: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

impl Store {
    /// Loads the users and refresh tokens kept in `dir` (none yet is fine); drops expired tokens.
    pub(crate) fn load(dir: &Path, now: u64) -> Result<Self, Error> {
        let users_file: Option<UsersFile> = read_json(&dir.join(USERS_FILE))?;
        let refresh_file: Option<RefreshFile> = read_json(&dir.join(REFRESH_FILE))?;
        let mut users = BTreeMap::new();
        for user in users_file.map(|f| f.users).unwrap_or_default() {
            users.insert(user.email.clone(), user);
        }
        let mut refresh = refresh_file.map(|f| f.tokens).unwrap_or_default();
        refresh.retain(|_, r| r.expires_at > now && users.values().any(|u: &User| u.sub == r.sub));
        Ok(Self { dir: dir.to_owned(), users, refresh, codes: HashMap::new(), sessions: HashMap::new() })
    }

    /// Writes the users file.
    pub(crate) fn save_users(&self) -> Result<(), Error> {
        let file = UsersFile { version: 1, users: self.users.values().cloned().collect() };
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Internal(format!("serialising users: {e}")))?;
        write_atomic(&self.dir.join(USERS_FILE), &json, 0o600)
    }

    /// Writes the refresh tokens file.
    pub(crate) fn save_refresh(&self) -> Result<(), Error> {
        let file = RefreshFile { version: 1, tokens: self.refresh.clone() };
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Internal(format!("serialising refresh tokens: {e}")))?;
        write_atomic(&self.dir.join(REFRESH_FILE), &json, 0o600)
    }

    /// The user with subject `sub`.
    pub(crate) fn user_by_sub(&self, sub: &str) -> Option<&User> {
        self.users.values().find(|u| u.sub == sub)
    }

    /// Forgets expired codes, sessions and refresh tokens (memory only; refresh tokens are
    /// rewritten with the next change).
    pub(crate) fn prune(&mut self, now: u64) {
        self.codes.retain(|_, c| c.expires_at > now);
        self.sessions.retain(|_, s| s.expires_at > now);
        self.refresh.retain(|_, r| r.expires_at > now);
    }

    /// Removes a user and everything bound to them (sessions, codes, refresh tokens), saving
    /// both files. Returns whether the user existed.
    pub(crate) fn delete_user(&mut self, email: &str) -> Result<bool, Error> {
        let Some(user) = self.users.remove(email) else { return Ok(false) };
        self.sessions.retain(|_, s| s.sub != user.sub);
        self.codes.retain(|_, c| c.sub != user.sub);
        self.refresh.retain(|_, r| r.sub != user.sub);
        self.save_users()?;
        self.save_refresh()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn user(email: &str, sub: &str) -> User {
        User {
            sub: sub.into(),
            email: email.into(),
            password_hash: "x".into(),
            confirmed: true,
            created_at: 1,
            updated_at: 1,
            confirmation: None,
            reset: None,
        }
    }

    #[test]
    fn code_right_wrong_expired_exhausted() {
        let mut code = PendingCode::new("123456", 1000, 60);
        assert_eq!(code.check("000000", 1001), CodeCheck::Wrong);
        assert_eq!(code.check(" 123456 ", 1001), CodeCheck::Valid);
        assert_eq!(code.check("123456", 1060), CodeCheck::Expired);

        let mut code = PendingCode::new("123456", 1000, 60);
        for _ in 0..MAX_CODE_ATTEMPTS {
            assert_eq!(code.check("654321", 1001), CodeCheck::Wrong);
        }
        assert_eq!(code.check("123456", 1001), CodeCheck::Exhausted);
    }

    #[test]
    fn files_round_trip_and_expired_tokens_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::load(dir.path(), 100).unwrap();
        assert!(store.users.is_empty());
        store.users.insert("a@example.com".into(), user("a@example.com", "sub-a"));
        let record = |sub: &str, expires_at| RefreshRecord {
            sub: sub.into(),
            client_id: "c".into(),
            scopes: vec!["openid".into()],
            auth_time: 1,
            origin_jti: "o".into(),
            event_id: "e".into(),
            issued_at: 1,
            expires_at,
        };
        store.refresh.insert("live".into(), record("sub-a", 1000));
        store.refresh.insert("old".into(), record("sub-a", 150));
        store.refresh.insert("orphan".into(), record("sub-gone", 1000));
        store.save_users().unwrap();
        store.save_refresh().unwrap();

        let loaded = Store::load(dir.path(), 200).unwrap();
        assert_eq!(loaded.users.len(), 1);
        assert_eq!(loaded.user_by_sub("sub-a").unwrap().email, "a@example.com");
        assert_eq!(loaded.refresh.keys().collect::<Vec<_>>(), vec!["live"]);
    }

    #[test]
    fn corrupt_users_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(USERS_FILE), b"{not json").unwrap();
        assert!(matches!(Store::load(dir.path(), 0), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn delete_user_removes_everything_bound_to_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::load(dir.path(), 0).unwrap();
        store.users.insert("a@example.com".into(), user("a@example.com", "sub-a"));
        store.users.insert("b@example.com".into(), user("b@example.com", "sub-b"));
        store.sessions.insert("s1".into(), Session { sub: "sub-a".into(), auth_time: 1, expires_at: 10 });
        store.sessions.insert("s2".into(), Session { sub: "sub-b".into(), auth_time: 1, expires_at: 10 });
        assert!(store.delete_user("a@example.com").unwrap());
        assert!(!store.delete_user("a@example.com").unwrap());
        assert_eq!(store.sessions.keys().collect::<Vec<_>>(), vec!["s2"]);
        assert_eq!(Store::load(dir.path(), 0).unwrap().users.len(), 1);
    }
}
