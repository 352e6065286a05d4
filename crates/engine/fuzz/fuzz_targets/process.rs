//! `cargo +nightly fuzz run process`: see `thumbforge_engine::fuzzing::Target::Process`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| thumbforge_engine::fuzzing::Target::Process.run(data));
