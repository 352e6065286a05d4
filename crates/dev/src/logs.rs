//! Where the stack's log lines go: each line tagged with its source (a function instance, or
//! `dev` for the stack itself).

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Writes one line from a source.
type WriteLine = dyn Fn(&str, &str) + Send + Sync;

/// A destination for log lines. Clones share the destination.
#[derive(Clone)]
pub struct LogSink(Arc<WriteLine>);

impl LogSink {
    /// Calls `write(source, line)` for every line.
    pub fn new(write: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(write))
    }

    /// Writes `source | line` to standard error, the source right-aligned so lines line up.
    #[must_use]
    pub fn stderr() -> Self {
        Self::new(|source, line| {
            let _ = writeln!(std::io::stderr().lock(), "{source:>12} | {line}");
        })
    }

    /// Keeps every line in memory (for tests), returning the sink and the lines it collects.
    #[must_use]
    pub fn memory() -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&lines);
        let sink = Self::new(move |source, line| {
            kept.lock().unwrap_or_else(PoisonError::into_inner).push(format!("{source} | {line}"));
        });
        (sink, lines)
    }

    /// Sends one line.
    pub fn line(&self, source: &str, line: &str) {
        (self.0)(source, line);
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink")
    }
}
