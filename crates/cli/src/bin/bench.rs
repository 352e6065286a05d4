//! `thumbforge-bench`: thumbforge's side of `cargo xtask bench`.
//!
//! Runs the thumbnail engine on local files exactly as the Lambda does (`engine::process` on the
//! file's bytes, every rendition written out), `--repeat` times per file in one process, and
//! prints one JSON line per file with the wall time of each repetition (read + process + write)
//! and the engine's own stage timings.
//!
//! ```text
//! thumbforge-bench (--size N | --full [--config FILE] [--avif]) [--repeat K] [--out DIR] FILE...
//! ```
//!
//! `--size N` is the peers' job: one JPEG fitting inside N×N, quality 80, no WebP. `--full` is
//! the configured job (`thumbforge.toml`, or the defaults without `--config`): every rendition
//! in every format; `--avif` adds AVIF to its formats (what turning it on costs). Without `--out`
//! the outputs are only counted, not written.

#![allow(clippy::print_stderr, reason = "a command-line tool reports usage errors on stderr")]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;
use thumbforge_cli::peak_rss;
use thumbforge_core::config::Sizes;
use thumbforge_core::{Config, OutputFormat, RuntimeConfig};
use thumbforge_engine as engine;

const USAGE: &str =
    "usage: thumbforge-bench (--size N | --full [--config FILE] [--avif]) [--repeat K] [--out DIR] FILE...";

#[derive(Debug)]
struct Args {
    job: String,
    config: RuntimeConfig,
    repeat: usize,
    out: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut size, mut full, mut avif, mut config_file, mut repeat, mut out, mut files) =
        (None, false, false, None, 1, None, Vec::new());
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--size" => {
                size = Some(value("--size")?.parse::<u32>().map_err(|e| format!("--size: {e}"))?);
            }
            "--full" => full = true,
            "--avif" => avif = true,
            "--config" => config_file = Some(PathBuf::from(value("--config")?)),
            "--repeat" => {
                repeat = value("--repeat")?.parse::<usize>().map_err(|e| format!("--repeat: {e}"))?;
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}")),
            file => files.push(PathBuf::from(file)),
        }
    }
    if files.is_empty() || repeat == 0 {
        return Err("give at least one file and a --repeat of 1 or more".into());
    }
    let base = match &config_file {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let (job, config) = match (size, full) {
        (Some(_), false) if avif => return Err("--avif goes with --full".into()),
        (Some(size), false) => {
            let mut config = base.runtime();
            config.thumbnails.sizes = Sizes::from([("bench", size)]);
            config.thumbnails.jpeg_quality = 80;
            config.thumbnails.formats = vec![OutputFormat::Jpeg];
            (format!("{size}px"), config)
        }
        (None, true) if avif => {
            let mut config = base.runtime();
            if !config.thumbnails.writes(OutputFormat::Avif) {
                config.thumbnails.formats.push(OutputFormat::Avif);
            }
            ("full+avif".to_owned(), config)
        }
        (None, true) => ("full".to_owned(), base.runtime()),
        _ => return Err("give exactly one of --size N and --full".into()),
    };
    Ok(Args { job, config, repeat, out, files })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn run_file(args: &Args, file: &Path) -> Result<serde_json::Value, String> {
    let stem = file.file_stem().map_or_else(|| "input".into(), |s| s.to_string_lossy().into_owned());
    let (mut wall, mut decode, mut resize, mut encode) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..args.repeat {
        let started = Instant::now();
        let data = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let outcome = engine::process(&data, &args.config);
        if let (Ok(thumbs), Some(dir)) = (&outcome, &args.out) {
            for r in &thumbs.renditions {
                let path = dir.join(format!("{stem}.{}.{}", r.size, r.format.extension()));
                std::fs::write(&path, &r.data)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
        }
        wall.push(ms(started.elapsed()));
        if let Ok(thumbs) = &outcome {
            decode.push(ms(thumbs.timings.decode));
            resize.push(ms(thumbs.timings.resize));
            encode.push(ms(thumbs.timings.encode));
        }
        last = Some(outcome);
    }
    let mut line = json!({
        "file": file.display().to_string(),
        "job": args.job,
        "repeat": args.repeat,
        "wall_ms": wall,
        "decode_ms": decode,
        "resize_ms": resize,
        "encode_ms": encode,
    });
    match last {
        Some(Ok(thumbs)) => {
            line["status"] = json!("ready");
            line["source"] = json!({
                "format": thumbs.source.format.to_string(),
                "width": thumbs.source.width,
                "height": thumbs.source.height,
            });
            line["renditions"] = thumbs
                .renditions
                .iter()
                .map(|r| {
                    json!({"size": r.size, "format": r.format.to_string(), "width": r.width,
                           "height": r.height, "bytes": r.data.len()})
                })
                .collect();
        }
        Some(Err(engine::Failure::Rejected(reject))) => {
            line["status"] = json!("rejected");
            line["reason"] = json!(reject.reason.to_string());
            line["message"] = json!(reject.message);
        }
        Some(Err(engine::Failure::Internal(what))) => {
            line["status"] = json!("failed");
            line["message"] = json!(what);
        }
        None => {}
    }
    line["peak_rss_bytes"] = json!(peak_rss());
    Ok(line)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("thumbforge-bench: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.out
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("thumbforge-bench: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for file in &args.files {
        match run_file(&args, file) {
            Ok(line) => println!("{line}"),
            Err(why) => {
                eprintln!("thumbforge-bench: {why}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn the_size_job_is_one_jpeg_at_quality_80() {
        let a = args(&["--size", "256", "--repeat", "3", "x.jpg"]).unwrap();
        assert_eq!(a.config.thumbnails.sizes, Sizes::from([("bench", 256)]));
        assert_eq!(a.config.thumbnails.formats, [OutputFormat::Jpeg]);
        assert_eq!((a.config.thumbnails.jpeg_quality, a.repeat, a.job.as_str()), (80, 3, "256px"));
    }

    #[test]
    fn the_full_job_is_the_configuration() {
        let a = args(&["--full", "x.jpg"]).unwrap();
        assert_eq!(a.config, Config::default().runtime());
        assert!(args(&["--full", "--size", "256", "x.jpg"]).is_err());
        assert!(args(&["--size", "256"]).is_err());
        assert!(args(&["--size", "256", "--repeat", "0", "x.jpg"]).is_err());
    }

    #[test]
    fn avif_is_added_to_the_full_job_only() {
        let a = args(&["--full", "--avif", "x.jpg"]).unwrap();
        assert_eq!(a.config.thumbnails.output_formats(), OutputFormat::ALL);
        assert_eq!(a.job, "full+avif");
        assert!(args(&["--size", "256", "--avif", "x.jpg"]).is_err());
    }

    #[test]
    fn a_fixture_photo_gets_its_renditions() {
        let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/photos/orient_6.jpg");
        let a = args(&["--full", "--repeat", "2", photo.to_str().unwrap()]).unwrap();
        let line = run_file(&a, &photo).unwrap();
        assert_eq!(line["status"], "ready");
        assert_eq!(line["wall_ms"].as_array().unwrap().len(), 2);
        assert_eq!(line["renditions"].as_array().unwrap().len(), 4);
    }
}
