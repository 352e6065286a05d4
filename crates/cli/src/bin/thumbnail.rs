//! `thumbforge-thumbnail`: the engine on local files, with the configured sizes, formats and watermark
//! (`cargo xtask thumbnail` builds and runs it).
//!
//! ```text
//! thumbforge-thumbnail [--config FILE] --out DIR INPUT...
//! ```
//!
//! Writes `DIR/<name>/<size>.<ext>` for each input that gets its renditions and prints one JSON
//! line per input. Exits 0 when every input got an outcome (ready or rejected), non-zero only
//! when the tool itself fails (an unreadable path, a bad configuration).

#![allow(clippy::print_stderr, reason = "a command-line tool reports its summary on stderr")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use serde::Serialize;
use thumbforge_cli::peak_rss;
use thumbforge_core::config::human_bytes;
use thumbforge_core::{Config, FailReason};
use thumbforge_engine as engine;
use thumbforge_engine::watermark::Mark;

/// The engine on local files.
#[derive(Debug, Parser)]
#[command(name = "thumbforge-thumbnail")]
struct Args {
    /// The configuration file.
    #[arg(long, default_value = "thumbforge.toml")]
    config: PathBuf,
    /// Where the renditions are written, one folder per input.
    #[arg(long)]
    out: PathBuf,
    /// Image files, or folders whose files are all processed.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

/// One input's outcome, printed as a JSON line.
#[derive(Debug, Serialize)]
struct Line {
    input: String,
    status: &'static str,
    reason: Option<String>,
    message: Option<String>,
    source: Option<SourceLine>,
    renditions: Vec<RenditionLine>,
}

#[derive(Debug, Serialize)]
struct SourceLine {
    format: String,
    width: u32,
    height: u32,
}

#[derive(Debug, Serialize)]
struct RenditionLine {
    path: String,
    width: u32,
    height: u32,
    format: String,
    bytes: usize,
}

/// Expands folders into their files (sorted; hidden files skipped).
fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// A folder name for `input` under `out` that no earlier input of this run took.
fn folder_for(input: &Path, taken: &mut BTreeSet<String>) -> String {
    let stem = input.file_stem().map_or_else(|| "input".to_owned(), |s| s.to_string_lossy().into_owned());
    let mut name = stem.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{stem}-{n}");
        n += 1;
    }
    name
}

/// Processes one file, writing its renditions into a folder of `out` when it gets any.
fn process_file(
    file: &Path,
    config: &thumbforge_core::RuntimeConfig,
    watermark: Option<&Mark>,
    out: &Path,
    taken: &mut BTreeSet<String>,
) -> anyhow::Result<Line> {
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut line = Line {
        input: file.display().to_string(),
        status: "ready",
        reason: None,
        message: None,
        source: None,
        renditions: Vec::new(),
    };
    match engine::process_with(&data, config, engine::Options { watermark, deadline: None }) {
        Ok(thumbs) => {
            let dir = out.join(folder_for(file, taken));
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            line.source = Some(SourceLine {
                format: thumbs.source.format.to_string(),
                width: thumbs.source.width,
                height: thumbs.source.height,
            });
            for r in thumbs.renditions {
                let path = dir.join(format!("{}.{}", r.size, r.format.extension()));
                std::fs::write(&path, &r.data).with_context(|| format!("cannot write {}", path.display()))?;
                line.renditions.push(RenditionLine {
                    path: path.display().to_string(),
                    width: r.width,
                    height: r.height,
                    format: r.format.to_string(),
                    bytes: r.data.len(),
                });
            }
        }
        Err(engine::Failure::Rejected(reject)) => {
            line.status = "rejected";
            line.reason = Some(reject.reason.to_string());
            line.message = Some(reject.message);
        }
        Err(engine::Failure::Internal(what)) => {
            line.status = "failed";
            line.reason = Some(FailReason::InternalError.to_string());
            line.message = Some(what);
        }
    }
    Ok(line)
}

/// Runs the engine on every input, handing each outcome to `emit`; counts the ready ones and
/// the others.
fn run(args: &Args, mut emit: impl FnMut(&Line) -> anyhow::Result<()>) -> anyhow::Result<(usize, usize)> {
    let full = Config::load(&args.config)?;
    let config = full.runtime();
    let png = full.watermark.read_beside(&args.config).map_err(anyhow::Error::msg)?;
    let mark =
        png.map(|png| Mark::from_png(&png, &full.watermark)).transpose().map_err(anyhow::Error::msg)?;
    let files = expand(&args.inputs)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut taken = BTreeSet::new();
    let (mut ready, mut not_ready) = (0, 0);
    for file in &files {
        let line = process_file(file, &config, mark.as_ref(), &args.out, &mut taken)?;
        if line.status == "ready" {
            ready += 1;
        } else {
            not_ready += 1;
        }
        emit(&line)?;
    }
    Ok((ready, not_ready))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (ready, not_ready) = run(&args, |line| {
        println!("{}", serde_json::to_string(line).context("serialising the result")?);
        Ok(())
    })?;
    let peak = peak_rss().map_or_else(|| "unknown".to_owned(), human_bytes);
    eprintln!(
        "{} inputs: {ready} ready, {not_ready} rejected or failed; peak memory {peak}",
        ready + not_ready
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn folders_never_collide() {
        let mut taken = BTreeSet::new();
        assert_eq!(folder_for(Path::new("a/x.jpg"), &mut taken), "x");
        assert_eq!(folder_for(Path::new("b/x.png"), &mut taken), "x-2");
        assert_eq!(folder_for(Path::new("c/x.gif"), &mut taken), "x-3");
    }

    #[test]
    fn a_folder_gives_one_outcome_per_file_and_renditions_on_disk() {
        let inputs = tempfile::tempdir().unwrap();
        std::fs::copy(root().join("fixtures/photos/orient_6.jpg"), inputs.path().join("a.jpg")).unwrap();
        std::fs::write(inputs.path().join("b.jpg"), b"not a photo").unwrap();
        std::fs::write(inputs.path().join(".hidden.jpg"), b"skipped").unwrap();
        let out = tempfile::tempdir().unwrap();
        let args = Args {
            config: root().join("thumbforge.toml"),
            out: out.path().to_path_buf(),
            inputs: vec![inputs.path().to_path_buf()],
        };
        let mut lines = Vec::new();
        let counts = run(&args, |line| {
            lines.push(serde_json::to_value(line)?);
            Ok(())
        })
        .unwrap();
        assert_eq!(counts, (1, 1));
        assert_eq!(lines[0]["status"], "ready");
        assert_eq!(
            (lines[0]["source"]["width"].as_u64(), lines[0]["source"]["height"].as_u64()),
            (Some(1800), Some(1200)),
            "stored 1200×1800 with orientation 6: upright 1800×1200"
        );
        let written = lines[0]["renditions"].as_array().unwrap();
        assert!(!written.is_empty());
        for r in written {
            let bytes = std::fs::metadata(r["path"].as_str().unwrap()).unwrap().len();
            assert_eq!(bytes, r["bytes"].as_u64().unwrap());
        }
        assert_eq!(
            (lines[1]["status"].as_str(), lines[1]["reason"].as_str()),
            (Some("rejected"), Some("not_an_image"))
        );
    }

    #[test]
    fn a_missing_input_is_the_tool_failing() {
        let out = tempfile::tempdir().unwrap();
        let args = Args {
            config: root().join("thumbforge.toml"),
            out: out.path().to_path_buf(),
            inputs: vec![out.path().join("nope.jpg")],
        };
        let error = run(&args, |_| Ok(())).unwrap_err();
        assert!(format!("{error:#}").contains("nope.jpg"), "{error:#}");
    }
}
