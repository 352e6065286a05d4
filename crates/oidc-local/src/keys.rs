//! The issuer's RS256 signing key: generated once, kept in the data directory, published as a JWK.

use std::fmt;
use std::path::Path;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use serde_json::{Value, json};

use crate::Error;
use crate::util::{b64url, sha256, write_atomic};

/// The key file's name inside the data directory (unencrypted PKCS#8 DER, mode 0600).
pub(crate) const KEY_FILE: &str = "signing-key.pk8.der";

/// A 2048-bit RSA key pair with its JWK id.
pub(crate) struct SigningKey {
    pair: KeyPair,
    kid: String,
    n: String,
    e: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads the key from `dir`, or generates one and stores it there when there is none.
    pub(crate) fn load_or_generate(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(der) => {
                let pair = KeyPair::from_pkcs8(&der).map_err(|e| Error::Corrupt {
                    path: path.display().to_string(),
                    message: format!("not an RSA PKCS#8 private key ({e})"),
                })?;
                Self::new(pair)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| Error::Crypto("generating an RSA-2048 key failed".into()))?;
                let der = pair.as_der().map_err(|_| Error::Crypto("encoding the RSA key failed".into()))?;
                write_atomic(&path, der.as_ref(), 0o600)?;
                tracing::info!(path = %path.display(), "generated a new RS256 signing key");
                Self::new(pair)
            }
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    fn new(pair: KeyPair) -> Result<Self, Error> {
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        // kid: the first 16 bytes of SHA-256 over the DER `RSAPublicKey`, base64url (22 characters).
        let kid = b64url(&sha256(public.as_ref())[..16]);
        if pair.public_modulus_len() < 256 {
            return Err(Error::Crypto("the stored RSA key is shorter than 2048 bits".into()));
        }
        Ok(Self { pair, kid, n: b64url(n), e: b64url(e) })
    }

    /// The key id published in the JWKS and put in token headers.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        json!({ "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e })
    }

    /// A compact JWS of `claims` under `header` (taken as given: the caller sets `alg`/`kid`),
    /// signed RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
    pub(crate) fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, Error> {
        let signing_input = format!("{}.{}", b64url(header.to_string()), b64url(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| Error::Crypto("RS256 signing failed".into()))?;
        Ok(format!("{signing_input}.{}", b64url(sig)))
    }

    /// A JWT of `claims` with the standard header `{"alg":"RS256","kid":..,"typ":"JWT"}`.
    pub(crate) fn sign(&self, claims: &Value) -> Result<String, Error> {
        self.sign_with_header(&json!({ "alg": "RS256", "kid": self.kid, "typ": "JWT" }), claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn key_is_kept_and_signatures_verify() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = SigningKey::load_or_generate(dir).unwrap();
        let second = SigningKey::load_or_generate(dir).unwrap();
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.jwk(), second.jwk());
        assert_eq!(first.kid().len(), 22);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let token = first.sign(&json!({ "sub": "x" })).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
        let public = signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            second.pair.public_key().as_ref().to_vec(),
        );
        public.verify(input.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn corrupt_key_file_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join(KEY_FILE), b"not a key").unwrap();
        let err = SigningKey::load_or_generate(dir).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}
