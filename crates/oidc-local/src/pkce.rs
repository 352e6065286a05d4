//! PKCE (RFC 7636) with the `S256` method only, as the hosted UI flow here requires.

use crate::util::{b64url, ct_eq, sha256};

/// Whether `challenge` can be an `S256` code challenge: 43 base64url characters (a SHA-256).
pub(crate) fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` is a well-formed code verifier: 43 to 128 unreserved characters.
pub(crate) fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The `S256` challenge of `verifier`: base64url(SHA-256(verifier)).
pub(crate) fn challenge_of(verifier: &str) -> String {
    b64url(sha256(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and hashes to `challenge`.
pub(crate) fn verify(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier) && ct_eq(challenge_of(verifier).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636, appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_example() {
        assert_eq!(challenge_of(RFC_VERIFIER), RFC_CHALLENGE);
        assert!(verify(RFC_VERIFIER, RFC_CHALLENGE));
    }

    #[test]
    fn wrong_verifier_fails() {
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(!verify(other, RFC_CHALLENGE));
    }

    #[test]
    fn malformed_verifiers_fail_even_if_they_hash_right() {
        let short = "abc";
        assert!(!verify(short, &challenge_of(short)));
        let long = "a".repeat(129);
        assert!(!verify(&long, &challenge_of(&long)));
        let bad_chars = format!("{}+/", "a".repeat(41));
        assert!(!verify(&bad_chars, &challenge_of(&bad_chars)));
        let max = "~".repeat(128);
        assert!(verify(&max, &challenge_of(&max)));
    }

    #[test]
    fn challenge_shape() {
        assert!(is_valid_challenge(RFC_CHALLENGE));
        assert!(!is_valid_challenge(&RFC_CHALLENGE[..42]));
        assert!(!is_valid_challenge(&format!("{RFC_CHALLENGE}A")));
        assert!(!is_valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
        assert!(!is_valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw=cM"));
    }
}
