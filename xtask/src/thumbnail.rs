//! `cargo xtask thumbnail`: the engine on local files, with the configured sizes and formats.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use thumbforge_core::Config;
use thumbforge_core::config::human_bytes;
use thumbnail::engine;

use crate::flags;
use crate::util::{self, from_caller};

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
        let input = from_caller(input);
        let meta = std::fs::metadata(&input).with_context(|| format!("cannot read {}", input.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&input)
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
            files.push(input);
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

impl flags::Thumbnail {
    /// Runs the engine on every input; exit 0 when each got an outcome.
    pub fn run(self) -> anyhow::Result<()> {
        let config_path = from_caller(&self.config);
        let config = Config::load(&config_path)?;
        let runtime = config.runtime();
        let out = from_caller(&self.out);
        let files = expand(&self.inputs)?;
        std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        let mut taken = BTreeSet::new();
        let (mut ready, mut rejected) = (0, 0);
        for file in &files {
            let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut line = Line {
                input: file.display().to_string(),
                status: "ready",
                reason: None,
                message: None,
                source: None,
                renditions: Vec::new(),
            };
            match engine::process(&data, &runtime) {
                Ok(thumbs) => {
                    ready += 1;
                    let dir = out.join(folder_for(file, &mut taken));
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    line.source = Some(SourceLine {
                        format: thumbs.source.format.to_string(),
                        width: thumbs.source.width,
                        height: thumbs.source.height,
                    });
                    for r in thumbs.renditions {
                        let path = dir.join(format!("{}.{}", r.size, r.format.extension()));
                        std::fs::write(&path, &r.data)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        line.renditions.push(RenditionLine {
                            path: path.display().to_string(),
                            width: r.width,
                            height: r.height,
                            format: r.format.to_string(),
                            bytes: r.data.len(),
                        });
                    }
                }
                Err(reject) => {
                    rejected += 1;
                    line.status = "rejected";
                    line.reason = Some(reject.reason.to_string());
                    line.message = Some(reject.message);
                }
            }
            println!("{}", serde_json::to_string(&line).context("serialising the result")?);
        }
        let peak = util::peak_rss().map_or_else(|| "unknown".to_owned(), human_bytes);
        eprintln!("{} inputs: {ready} ready, {rejected} rejected; peak memory {peak}", files.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_never_collide() {
        let mut taken = BTreeSet::new();
        assert_eq!(folder_for(Path::new("a/x.jpg"), &mut taken), "x");
        assert_eq!(folder_for(Path::new("b/x.png"), &mut taken), "x-2");
        assert_eq!(folder_for(Path::new("c/x.gif"), &mut taken), "x-3");
    }

    #[test]
    fn the_committed_config_is_valid() {
        Config::load(&util::project_root().join("thumbforge.toml")).unwrap();
    }
}
