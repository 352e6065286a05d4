//! criterion micro-benchmarks of the engine's stages on a fixture photo (1800×1200 baseline JPEG,
//! `fixtures/photos/orient_1.jpg`): the structural scan, decoding at each DCT scale, resizing to
//! the default renditions, JPEG and WebP encoding, and the whole `process` call.
//!
//! `cargo bench -p thumbforge-engine --bench engine` (add `-- --quick` for a shorter run);
//! `cargo xtask bench --criterion` runs it with `--quick`. The corpus-wide comparison against
//! libvips, sharp and Pillow is `cargo xtask bench`.

#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use thumbforge_core::config::Sizes;
use thumbforge_core::{Config, OutputFormat};
use thumbforge_engine::{self as engine, encode, jpeg, pixels};

fn photo() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/photos/orient_1.jpg");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn decode(c: &mut Criterion) {
    let data = photo();
    let info = jpeg::scan(&data).unwrap();
    let mut group = c.benchmark_group("decode");
    group.bench_function("scan", |b| b.iter(|| jpeg::scan(black_box(&data)).unwrap()));
    for numerator in [1u8, 2, 4, 8] {
        group.bench_function(format!("jpeg {numerator}/8"), |b| {
            b.iter(|| jpeg::decode(black_box(&data), &info, numerator).unwrap());
        });
    }
    group.finish();
}

fn resize(c: &mut Criterion) {
    let data = photo();
    let info = jpeg::scan(&data).unwrap();
    let full = jpeg::decode(&data, &info, 8).unwrap();
    let eighth = jpeg::decode(&data, &info, 2).unwrap();
    let mut group = c.benchmark_group("resize");
    group.bench_function("1800x1200 -> 1024x683", |b| {
        b.iter(|| pixels::resize(black_box(&full), 1024, 683).unwrap());
    });
    group.bench_function("450x300 -> 256x171", |b| {
        b.iter(|| pixels::resize(black_box(&eighth), 256, 171).unwrap());
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let data = photo();
    let info = jpeg::scan(&data).unwrap();
    let full = jpeg::decode(&data, &info, 8).unwrap();
    let large = pixels::resize(&full, 1024, 683).unwrap();
    let small = pixels::resize(&large, 256, 171).unwrap();
    let mut group = c.benchmark_group("encode");
    for (name, pixels) in [("1024x683", &large), ("256x171", &small)] {
        group.bench_function(format!("jpeg q80 {name}"), |b| {
            b.iter(|| encode::jpeg(black_box(pixels), 80).unwrap())
        });
        for effort in [0, 2, 4] {
            group.bench_function(format!("webp q80 effort {effort} {name}"), |b| {
                b.iter(|| encode::webp(black_box(pixels), 80, effort).unwrap())
            });
        }
    }
    group.finish();
}

fn process(c: &mut Criterion) {
    let data = photo();
    let full = Config::default().runtime();
    let mut small = full.clone();
    small.thumbnails.sizes = Sizes::from([("small", 256)]);
    small.thumbnails.formats = vec![OutputFormat::Jpeg];
    let mut group = c.benchmark_group("process");
    group.bench_function("256 px jpeg", |b| b.iter(|| engine::process(black_box(&data), &small).unwrap()));
    group.bench_function("configured (256 + 1024, jpeg + webp)", |b| {
        b.iter(|| engine::process(black_box(&data), &full).unwrap());
    });
    group.finish();
}

criterion_group!(benches, decode, resize, encode, process);
criterion_main!(benches);
