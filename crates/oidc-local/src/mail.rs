//! "Mail" without SMTP: each message is logged and appended as one JSON line to
//! `{data_dir}/outbox.jsonl`, the local stack's mail catcher.
//!
//! A line: `{"time":"2026-04-30T12:34:56Z","timestamp":1777552496,"kind":"signup"|"reset",
//! "to":"alice@example.com","subject":"...","text":"...","code":"123456"}`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::Error;
use crate::util::{now_secs, rfc3339};

/// The outbox file's name inside the data directory.
pub(crate) const OUTBOX_FILE: &str = "outbox.jsonl";

/// Why a mail is sent.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MailKind {
    /// Sign-up confirmation code.
    Signup,
    /// Password reset code.
    Reset,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    timestamp: u64,
    kind: MailKind,
    to: &'a str,
    subject: &'a str,
    text: &'a str,
    code: &'a str,
}

/// Appends mails to the outbox file, one writer at a time.
#[derive(Debug)]
pub(crate) struct Outbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Outbox {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, lock: Mutex::new(()) }
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Sends the code `code` to `to`.
    pub(crate) fn send(&self, kind: MailKind, to: &str, code: &str) -> Result<(), Error> {
        let (subject, text) = match kind {
            MailKind::Signup => (
                "Your verification code",
                format!("Your verification code is {code}. It is valid for 24 hours."),
            ),
            MailKind::Reset => (
                "Your password reset code",
                format!("Your password reset code is {code}. It is valid for 1 hour."),
            ),
        };
        let now = now_secs();
        let line = Line { time: rfc3339(now), timestamp: now, kind, to, subject, text: &text, code };
        let mut json =
            serde_json::to_string(&line).map_err(|e| Error::Internal(format!("serialising a mail: {e}")))?;
        json.push('\n');
        tracing::info!(?kind, to, subject, code, outbox = %self.path.display(), "mail sent");
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(json.as_bytes()));
        result.map_err(|e| Error::io(format!("appending to {}", self.path.display()), e))
    }
}
