//! The crate's error type (start-up and admin calls; HTTP requests answer with pages or OAuth errors).

/// What can go wrong starting the issuer or in an admin call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (names the path or address).
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A data file exists but cannot be read as what it should hold.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// [`crate::IssuerOptions`] are inconsistent (duplicate client, bad callback URL...).
    #[error("invalid issuer options: {0}")]
    Config(String),
    /// Key generation, signing or random generation failed.
    #[error("crypto failure: {0}")]
    Crypto(String),
    /// The email address is not acceptable.
    #[error("invalid email address: {0:?}")]
    InvalidEmail(String),
    /// The password breaks the [`crate::PasswordPolicy`]; one sentence per problem.
    #[error("password does not meet the policy: {}", .0.join(" "))]
    InvalidPassword(Vec<String>),
    /// An account with this email already exists.
    #[error("an account with the email {0:?} already exists")]
    UserExists(String),
    /// Something that should not fail did (serialising JSON, a worker task).
    #[error("internal error: {0}")]
    Internal(String),
    /// A template failed to render (a bug in this crate's templates).
    #[error("rendering page {page}: {message}")]
    Template {
        /// The template name.
        page: String,
        /// The renderer's message.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
