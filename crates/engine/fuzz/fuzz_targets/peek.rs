//! `cargo +nightly fuzz run peek`: see `thumbforge_engine::fuzzing::Target::Peek`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| thumbforge_engine::fuzzing::Target::Peek.run(data));
