//! Email normalisation as Cognito applies it; the password policy is `thumbforge_core`'s.

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// The policy is thumbforge's one `[auth.password]` type, with Cognito's checks.
pub use thumbforge_core::auth::{MAX_PASSWORD_CHARS, PasswordPolicy};

/// Normalises an email address (trims it, lower-cases it) and checks it loosely: at most 254
/// bytes, exactly one `@` with something before it, a domain with a dot that neither starts nor
/// ends it, no whitespace or control characters. `None` when it is not acceptable.
#[must_use]
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return None;
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || domain.contains('@') {
        return None;
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return None;
    }
    Some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cognito's own default policy.
    fn cognito() -> PasswordPolicy {
        PasswordPolicy {
            min_length: 8,
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }

    #[test]
    fn default_policy_accepts_a_strong_password() {
        assert!(cognito().problems("Correct-Horse9").is_empty());
    }

    #[test]
    fn default_policy_lists_every_problem() {
        let problems = cognito().problems("abc");
        assert_eq!(
            problems,
            vec![
                "Password must be at least 8 characters long.",
                "Password must contain an upper-case letter.",
                "Password must contain a number.",
                "Password must contain a symbol.",
            ]
        );
        let problems = cognito().problems("ABCDEFGH1!");
        assert_eq!(problems, vec!["Password must contain a lower-case letter."]);
    }

    #[test]
    fn relaxed_policy_checks_only_length() {
        let policy = PasswordPolicy {
            min_length: 6,
            require_lowercase: false,
            require_uppercase: false,
            require_numbers: false,
            require_symbols: false,
        };
        assert!(policy.problems("aaaaaa").is_empty());
        assert_eq!(policy.problems("aaaaa").len(), 1);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let policy = PasswordPolicy { min_length: 4, ..cognito() };
        // Four characters, eight bytes: long enough.
        assert!(!policy.problems("ééA1").iter().any(|p| p.contains("at least")));
        assert!(policy.problems(&"aA1!".repeat(65)).iter().any(|p| p.contains("at most 256")));
    }

    #[test]
    fn inner_space_is_a_symbol_but_edges_are_refused() {
        let policy = cognito();
        assert!(policy.problems("Correct horse9").is_empty());
        assert_eq!(policy.problems(" Correct-horse9"), vec!["Password must not begin or end with a space."]);
        assert_eq!(policy.problems("Correct-horse9 "), vec!["Password must not begin or end with a space."]);
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(normalize_email("  Alice@Example.COM \n").as_deref(), Some("alice@example.com"));
        assert_eq!(normalize_email("a.b+tag@sub.example.org").as_deref(), Some("a.b+tag@sub.example.org"));
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "",
            "   ",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "alice@@example.com",
            "a@b@example.com",
            "alice@.example.com",
            "alice@example.com.",
            "alice@example..com",
            "al ice@example.com",
            "alice@exa\u{7}mple.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN));
        assert_eq!(normalize_email(&long), None);
        let fits = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN - 12));
        assert_eq!(normalize_email(&fits).map(|e| e.len()), Some(MAX_EMAIL_LEN));
    }
}
