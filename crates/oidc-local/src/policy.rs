//! The user pool's password policy and email normalisation, as Cognito applies them.

/// The characters Cognito counts as symbols (its documented list); a space inside the password
/// (not leading or trailing) counts too.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// The longest password Cognito accepts.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// A Cognito user pool password policy. [`Default`] is Cognito's default: at least 8
/// characters with a lower-case letter, an upper-case letter, a number and a symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (Cognito allows 6 to 99).
    pub min_length: u8,
    /// Require a lower-case ASCII letter.
    pub require_lowercase: bool,
    /// Require an upper-case ASCII letter.
    pub require_uppercase: bool,
    /// Require an ASCII digit.
    pub require_numbers: bool,
    /// Require one of Cognito's symbols (`^ $ * . [ ] { } ( ) ? " ! @ # % & / \ , > < ' : ; | _ ~ `
    /// = + -` or an inner space).
    pub require_symbols: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: true,
        }
    }
}

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

    #[test]
    fn default_policy_accepts_a_strong_password() {
        assert!(PasswordPolicy::default().problems("Correct-Horse9").is_empty());
    }

    #[test]
    fn default_policy_lists_every_problem() {
        let problems = PasswordPolicy::default().problems("abc");
        assert_eq!(
            problems,
            vec![
                "Password must be at least 8 characters long.",
                "Password must contain an upper-case letter.",
                "Password must contain a number.",
                "Password must contain a symbol.",
            ]
        );
        let problems = PasswordPolicy::default().problems("ABCDEFGH1!");
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
        let policy = PasswordPolicy { min_length: 4, ..PasswordPolicy::default() };
        // Four characters, eight bytes: long enough.
        assert!(!policy.problems("ééA1").iter().any(|p| p.contains("at least")));
        assert!(policy.problems(&"aA1!".repeat(65)).iter().any(|p| p.contains("at most 256")));
    }

    #[test]
    fn inner_space_is_a_symbol_but_edges_are_refused() {
        let policy = PasswordPolicy::default();
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
