//! What the engine's command-line tools share.

/// Peak resident memory of this process so far, in bytes (Linux; `None` elsewhere).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_memory_is_read_on_linux() {
        let peak = super::peak_rss();
        if cfg!(target_os = "linux") {
            assert!(peak.is_some_and(|bytes| bytes > 1024 * 1024), "{peak:?}");
        } else {
            assert_eq!(peak, None);
        }
    }
}
