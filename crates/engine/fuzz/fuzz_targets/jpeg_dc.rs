//! `cargo +nightly fuzz run jpeg_dc`: see `thumbforge_engine::fuzzing::Target::JpegDc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| thumbforge_engine::fuzzing::Target::JpegDc.run(data));
