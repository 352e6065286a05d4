//! Password hashing: Argon2id with a random salt and the `argon2` crate's default parameters
//! (19 MiB, 2 passes, 1 lane: OWASP's first recommendation), stored as PHC strings. The work
//! runs on tokio's blocking pool so it never stalls the server.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

use crate::Error;

fn hash_blocking(password: &str) -> Result<String, Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Crypto(format!("hashing a password: {e}")))
}

/// Hashes `password` into an Argon2id PHC string.
pub(crate) async fn hash(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
}

/// Whether `password` matches the PHC string `phc` (a malformed hash never matches).
pub(crate) async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        Argon2::default().verify_password(password.as_bytes(), phc.as_str()).is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let phc = hash("Correct-Horse9".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("Correct-Horse9".into(), phc.clone()).await);
        assert!(!verify("correct-Horse9".into(), phc.clone()).await);
        assert!(!verify("Correct-Horse9".into(), "not a hash".into()).await);
        // Salted: the same password hashes differently each time.
        assert_ne!(hash("Correct-Horse9".into()).await.unwrap(), phc);
    }
}
