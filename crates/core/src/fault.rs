//! Fault injection for tests, named once: the engine (`thumbforge-engine`, under its
//! `fault-injection` feature, which only the workspace's test build turns on) panics on an upload
//! that carries [`PANIC_MARKER`], and `cargo xtask build` refuses a Lambda zip whose binary
//! contains it (the code that acts on it would be in there).

/// The bytes that, anywhere in an upload (a JPEG comment, say), make a test build of the engine
/// panic while encoding.
pub const PANIC_MARKER: &[u8] = b"thumbforge-fault-injection:panic-while-encoding";
