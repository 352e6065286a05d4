//! `cargo +nightly fuzz run jpeg_scan`: see `thumbforge_engine::fuzzing::Target::JpegScan`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| thumbforge_engine::fuzzing::Target::JpegScan.run(data));
