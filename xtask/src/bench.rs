//! `cargo xtask bench`: thumbforge against vipsthumbnail (libvips), sharp and Pillow on the same
//! job, side by side, plus the Lambdas' cold starts and deployment sizes.
//!
//! Two jobs, each done by thumbforge and by peers with the same settings:
//! - the N px job: fit inside N×N, EXIF orientation applied, JPEG quality 80, no metadata
//!   (thumbforge, vipsthumbnail, sharp, Pillow with and without `draft()`);
//! - the whole configured job of `thumbforge.toml` (every rendition, each as JPEG 4:2:0 and
//!   WebP at the configured qualities and effort): thumbforge, sharp (one decode, cloned
//!   pipelines) and libvips through pyvips (one load, then the outputs). `thumbforge-full-avif`
//!   adds AVIF to thumbforge's formats, to show what turning it on costs; no peer does that job.
//!
//! thumbforge's side is the release `thumbforge-bench` binary (`crates/cli`), which runs the
//! engine as the Lambda does. The peers' scripts are in `xtask/bench/`.
//!
//! - **cold**: one process per image; wall time from spawn to exit, peak RSS from
//!   `/usr/bin/time -f %M`.
//! - **warm**: one process, the same image K times (`vipsthumbnail` gets K links to the file, the
//!   others loop); the per-image time is `(T(K) − T(1)) / (K − 1)` from the medians, so process
//!   start and first-use costs cancel the same way for every tool. thumbforge's own in-process
//!   times (what a warm Lambda pays per image) are reported beside it.
//!
//! Every process is pinned to one core (`taskset`); each image gets an untimed warm-up round, then
//! `--runs` timed rounds in which the tools' order rotates, so slow drift hits all of them alike.

mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use thumbforge_core::Config;
use thumbforge_core::config::{FUNCTION_NAMES, PRESIGN, THUMBNAIL};

use crate::flags;
use crate::tools::{self, Venv};
use crate::util::{self, run};

/// Pillow, in its own environment under `target/tools/`.
/// pyvips (libvips from Python, on Debian's libvips) for the whole job shares it.
pub const PILLOW_VENV: Venv<'static> =
    Venv { name: "bench-venv", requirements: &["Pillow==13.0.0", "pyvips==3.2.0"] };

/// sharp from npm (it brings libvips as the prebuilt `@img/sharp-*` packages).
pub const SHARP: &str = "sharp@0.34.5";

/// A tool in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    /// thumbforge, the N px job.
    Thumbforge,
    /// thumbforge, every configured rendition and format.
    ThumbforgeFull,
    /// thumbforge, the whole job with AVIF added to its formats.
    ThumbforgeAvif,
    /// libvips' `vipsthumbnail`.
    Vips,
    /// libvips through pyvips, the whole job: one load, then every output.
    VipsFull,
    /// sharp (libvips under Node).
    Sharp,
    /// sharp, the whole job: one decode, cloned pipelines.
    SharpFull,
    /// Pillow without `draft()`.
    Pillow,
    /// Pillow with `draft()` (shrink-on-load).
    PillowDraft,
}

impl Tool {
    /// Every tool, in report order.
    pub const ALL: [Tool; 9] = [
        Tool::Thumbforge,
        Tool::ThumbforgeFull,
        Tool::ThumbforgeAvif,
        Tool::Vips,
        Tool::VipsFull,
        Tool::Sharp,
        Tool::SharpFull,
        Tool::Pillow,
        Tool::PillowDraft,
    ];

    /// The name used in flags, tables and the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Thumbforge => "thumbforge",
            Tool::ThumbforgeFull => "thumbforge-full",
            Tool::ThumbforgeAvif => "thumbforge-full-avif",
            Tool::Vips => "vipsthumbnail",
            Tool::VipsFull => "libvips-full",
            Tool::Sharp => "sharp",
            Tool::SharpFull => "sharp-full",
            Tool::Pillow => "pillow",
            Tool::PillowDraft => "pillow-draft",
        }
    }

    /// A peer (not thumbforge).
    pub fn is_peer(self) -> bool {
        !matches!(self, Tool::Thumbforge | Tool::ThumbforgeFull | Tool::ThumbforgeAvif)
    }

    /// Does the whole configured job rather than the N px one.
    pub fn is_full(self) -> bool {
        matches!(self, Tool::ThumbforgeFull | Tool::ThumbforgeAvif | Tool::VipsFull | Tool::SharpFull)
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// How the source is stored (for the targets, which differ by kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sequential (baseline or extended) JPEG.
    Baseline,
    /// Progressive JPEG.
    Progressive,
    /// Anything else, by its extension.
    Other(&'static str),
}

impl Kind {
    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline JPEG",
            Kind::Progressive => "progressive JPEG",
            Kind::Other(name) => name,
        }
    }

    /// A JPEG of either kind.
    pub fn is_jpeg(self) -> bool {
        matches!(self, Kind::Baseline | Kind::Progressive)
    }
}

/// One corpus image.
#[derive(Debug, Clone)]
pub struct Image {
    /// The file.
    pub path: PathBuf,
    /// File name.
    pub name: String,
    /// Stored width × height.
    pub width: u32,
    /// Stored height.
    pub height: u32,
    /// Storage kind.
    pub kind: Kind,
    /// File size.
    pub bytes: u64,
}

impl Image {
    /// Megapixels.
    pub fn megapixels(&self) -> f64 {
        f64::from(self.width) * f64::from(self.height) / 1e6
    }

    /// "8 MP or more", as the corpus names its photos: 3264×2448 (7.99 MP) counts as 8 MP.
    pub fn is_8mp_or_more(&self) -> bool {
        self.megapixels() >= 7.95
    }
}

/// One process run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Spawn to exit.
    pub wall: Duration,
    /// Peak resident set, KiB.
    pub rss_kib: u64,
}

/// Measurements of one (image, tool, mode).
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Timed runs (the warm-up round excluded).
    pub samples: Vec<Sample>,
    /// thumbforge only: its own per-image wall times in warm processes (repetitions after the
    /// first), and its stage timings (decode, resize, encode), in ms.
    pub in_process_ms: Vec<f64>,
    /// Stage medians, ms.
    pub stages_ms: Vec<[f64; 3]>,
    /// Why the tool failed on this image, if it did.
    pub error: Option<String>,
}

/// Cold start of one function.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// `presign` or `thumbnail`.
    pub function: &'static str,
    /// Process start → first `next` request, one per start.
    pub samples: Vec<Duration>,
    /// Why it could not be measured.
    pub error: Option<String>,
}

/// Everything the report is made from.
#[derive(Debug, Clone)]
pub struct Results {
    /// The N of the N px job.
    pub size: u32,
    /// Timed runs per measurement.
    pub runs: usize,
    /// K of the warm runs (0: not measured).
    pub warm_repeat: usize,
    /// The core everything was pinned to.
    pub cpu: usize,
    /// The corpus folder.
    pub corpus: PathBuf,
    /// The images, in corpus order.
    pub images: Vec<Image>,
    /// The tools that ran.
    pub tools: Vec<Tool>,
    /// Tools that could not be installed or run, with why.
    pub missing: Vec<(Tool, String)>,
    /// (image index, tool) → cold series.
    pub cold: BTreeMap<(usize, Tool), Series>,
    /// (image index, tool) → warm series (K repetitions per process).
    pub warm: BTreeMap<(usize, Tool), Series>,
    /// Spawn-to-exit time of `taskset … /usr/bin/time … true`: the overhead every cold figure carries.
    pub spawn_overhead: Duration,
    /// Cold starts of both functions.
    pub cold_starts: Vec<ColdStart>,
    /// Deployment zips: name → size in bytes (None: not built).
    pub zips: Vec<(&'static str, Option<u64>)>,
    /// Versions of the tools, for the report.
    pub versions: BTreeMap<String, String>,
    /// Where and when it ran.
    pub machine: Machine,
    /// criterion's output, when it ran.
    pub criterion: Option<String>,
}

/// The machine and the moment.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// UTC date and time.
    pub date: String,
    /// `lscpu` model name.
    pub cpu_model: String,
    /// Online CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// `/proc/loadavg` before the timed runs.
    pub load_before: String,
    /// `/proc/loadavg` after.
    pub load_after: String,
}

impl flags::Bench {
    /// Installs the peers, builds thumbforge's side, measures, writes the report.
    pub fn run(self) -> anyhow::Result<()> {
        let corpus = match &self.corpus {
            Some(dir) => util::from_caller(dir),
            None => {
                let default = util::project_root().join("..").join("shared").join("corpus");
                if !default.is_dir() {
                    bail!(
                        "no corpus: ../shared/corpus does not exist next to the repository; give a folder of \
                         photos with --corpus DIR"
                    );
                }
                default
            }
        };
        if self.runs == 0 {
            bail!("--runs must be at least 1 (the issue asks for 5 or more)");
        }
        let mut tools: Vec<Tool> = if self.tools.is_empty() {
            Tool::ALL.to_vec()
        } else {
            self.tools
                .iter()
                .map(|n| {
                    Tool::parse(n).with_context(|| {
                        let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
                        format!("unknown tool `{n}`; the tools are {}", names.join(", "))
                    })
                })
                .collect::<anyhow::Result<_>>()?
        };
        tools.sort();
        tools.dedup();
        let images = load_corpus(&corpus, &self.images)?;
        if images.is_empty() {
            bail!("no images in {} match", corpus.display());
        }
        let out_dir = util::project_root().join("target").join("bench");
        std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

        println!("==> preparing the tools");
        install_system_packages(&tools)?;
        let mut missing = Vec::new();
        let mut versions = BTreeMap::new();
        let env = prepare_peers(&mut tools, &mut missing, &mut versions);
        let built = build_release()?;
        let cpu = self.cpu.unwrap_or_else(|| available_cpus().saturating_sub(1));

        let zips = zips(self.build_zips)?;
        let machine_before = machine();
        let config_path = util::project_root().join("thumbforge.toml");
        let config =
            Config::load(&config_path).with_context(|| format!("loading {}", config_path.display()))?;
        let full_job = FullJob::of(&config)?;
        let mut bench = Bench {
            size: self.size,
            full_job,
            cpu,
            bench_bin: built.bench.clone(),
            work: out_dir.join("work"),
            env,
            results: Results {
                size: self.size,
                runs: self.runs,
                warm_repeat: self.warm_repeat,
                cpu,
                corpus: corpus.clone(),
                images,
                tools: tools.clone(),
                missing,
                cold: BTreeMap::new(),
                warm: BTreeMap::new(),
                spawn_overhead: Duration::ZERO,
                cold_starts: Vec::new(),
                zips,
                versions,
                machine: machine_before,
                criterion: None,
            },
        };
        bench.results.spawn_overhead = bench.spawn_overhead()?;
        bench.measure(Mode::Cold, self.runs)?;
        if self.warm_repeat >= 2 {
            bench.measure(Mode::Warm(self.warm_repeat), self.runs)?;
        }
        println!(
            "==> cold starts (process start → first Runtime API `next`), {} starts each",
            self.cold_starts
        );
        bench.results.cold_starts = cold_starts(&built, self.cold_starts);
        bench.results.machine.load_after = loadavg();
        if self.criterion {
            bench.results.criterion = Some(criterion()?);
        }
        let results = bench.results;
        let markdown = report::markdown(&results);
        let csv = report::csv(&results);
        let md_path = out_dir.join("report.md");
        let csv_path = out_dir.join("results.csv");
        let chart_path = out_dir.join("chart.svg");
        std::fs::write(&md_path, &markdown).with_context(|| format!("writing {}", md_path.display()))?;
        std::fs::write(&csv_path, csv).with_context(|| format!("writing {}", csv_path.display()))?;
        std::fs::write(&chart_path, report::chart(&results))
            .with_context(|| format!("writing {}", chart_path.display()))?;
        println!("\n{}", report::summary(&results));
        println!("==> wrote {}, {} and {}", md_path.display(), csv_path.display(), chart_path.display());
        Ok(())
    }
}

/// The corpus' image files (sorted), optionally only those whose name contains a filter.
fn load_corpus(dir: &Path, filters: &[String]) -> anyhow::Result<Vec<Image>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    matches!(
                        e.to_string_lossy().to_lowercase().as_str(),
                        "jpg" | "jpeg" | "png" | "webp" | "gif"
                    )
                })
        })
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let (width, height, kind) = match jpeg_frame(&data) {
                Some((width, height, progressive)) => {
                    (width, height, if progressive { Kind::Progressive } else { Kind::Baseline })
                }
                None => {
                    let (w, h) = other_dimensions(&data).unwrap_or((0, 0));
                    let ext = if data.starts_with(b"\x89PNG") {
                        "PNG"
                    } else if data.starts_with(b"RIFF") {
                        "WebP"
                    } else if data.starts_with(b"GIF") {
                        "GIF"
                    } else {
                        "other"
                    };
                    (w, h, Kind::Other(ext))
                }
            };
            Ok(Image { path, name, width, height, kind, bytes: data.len() as u64 })
        })
        .collect()
}

/// Stored width, height and whether it is progressive, from a JPEG's frame header (for the tables
/// and the targets only; the engine parses files for real). `None` for anything else.
fn jpeg_frame(data: &[u8]) -> Option<(u32, u32, bool)> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    loop {
        // Segments follow each other up to the first scan; fill bytes (0xFF) may sit between.
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let [0xFF, marker, hi, lo] = *data.get(pos..pos + 4)? else { return None };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let frame = data.get(pos + 4..pos + 2 + len)?;
                let height = u32::from(u16::from_be_bytes([*frame.get(1)?, *frame.get(2)?]));
                let width = u32::from(u16::from_be_bytes([*frame.get(3)?, *frame.get(4)?]));
                return Some((width, height, matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE)));
            }
            0xDA | 0xD9 => return None,
            _ if len < 2 => return None,
            _ => pos += 2 + len,
        }
    }
}

/// Width and height of a PNG, GIF or WebP from its header (for the tables only).
fn other_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let be32 = |at: usize| data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let le16 = |at: usize| data.get(at..at + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
    let le24 = |at: usize| {
        data.get(at..at + 3).map(|b| u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
    };
    if data.starts_with(b"\x89PNG") {
        return Some((be32(16)?, be32(20)?));
    }
    if data.starts_with(b"GIF") {
        return Some((le16(6)?, le16(8)?));
    }
    if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        return match data.get(12..16)? {
            b"VP8 " => Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF)),
            b"VP8L" => {
                let b = data.get(21..25)?;
                let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        };
    }
    None
}

/// `taskset` (util-linux), GNU `time`, `vipsthumbnail` (libvips-tools), `nasm` (libjpeg-turbo's
/// SIMD in thumbforge's build), `node`/`npm`, `python3-venv`: apt-installed when run as root.
fn install_system_packages(tools: &[Tool]) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    if !util::on_path("taskset") {
        missing.push("util-linux");
    }
    if !Path::new("/usr/bin/time").is_file() {
        missing.push("time");
    }
    if cfg!(target_arch = "x86_64") && !util::on_path("nasm") {
        missing.push("nasm");
    }
    if (tools.contains(&Tool::Vips) || tools.contains(&Tool::VipsFull)) && !util::on_path("vipsthumbnail") {
        missing.push("libvips-tools");
    }
    if (tools.contains(&Tool::Sharp) || tools.contains(&Tool::SharpFull))
        && !(util::on_path("node") && util::on_path("npm"))
    {
        missing.extend(["nodejs", "npm"]);
    }
    if [Tool::Pillow, Tool::PillowDraft, Tool::VipsFull].iter().any(|t| tools.contains(t))
        && !util::on_path("python3")
    {
        missing.extend(["python3", "python3-venv"]);
    }
    if missing.is_empty() {
        return Ok(());
    }
    if util::is_root() && util::on_path("apt-get") {
        run(Command::new("apt-get").args(["update", "-qq"]), "check the network and apt sources")?;
        run(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            "install these packages by hand",
        )?;
    } else {
        println!("note: missing packages {missing:?}; install them (e.g. with apt-get)");
    }
    if !util::on_path("taskset") || !Path::new("/usr/bin/time").is_file() {
        bail!("`taskset` (util-linux) and `/usr/bin/time` (GNU time) are needed to pin and measure");
    }
    Ok(())
}

/// Where npm installs sharp.
fn node_dir() -> PathBuf {
    tools::tools_dir().join("bench-node")
}

/// Installs sharp (npm) and Pillow (pip) when missing; a peer that cannot be installed is left
/// out of the run and named in the report. Returns the peers' extra environment.
fn prepare_peers(
    tools: &mut Vec<Tool>,
    missing: &mut Vec<(Tool, String)>,
    versions: &mut BTreeMap<String, String>,
) -> BTreeMap<&'static str, String> {
    let mut env = BTreeMap::new();
    let mut drop_tool = |tools: &mut Vec<Tool>, tool: Tool, why: String| {
        if !tools.contains(&tool) {
            return;
        }
        println!("warning: {} is left out: {why}", tool.name());
        tools.retain(|t| *t != tool);
        missing.push((tool, why));
    };
    if tools.contains(&Tool::Vips) {
        match Command::new("vipsthumbnail").arg("--version").output() {
            Ok(out) if out.status.success() => {
                versions
                    .insert("vipsthumbnail".into(), String::from_utf8_lossy(&out.stdout).trim().to_owned());
            }
            _ => {
                drop_tool(tools, Tool::Vips, "vipsthumbnail is not installed (Debian: libvips-tools)".into())
            }
        }
    }
    if tools.contains(&Tool::Sharp) || tools.contains(&Tool::SharpFull) {
        match ensure_sharp() {
            Ok(version) => {
                versions.insert("sharp".into(), version);
                env.insert("BENCH_NODE_MODULES", node_dir().display().to_string());
            }
            Err(e) => {
                let why = format!("{e:#}");
                drop_tool(tools, Tool::Sharp, why.clone());
                drop_tool(tools, Tool::SharpFull, why);
            }
        }
    }
    let python: Vec<Tool> =
        [Tool::Pillow, Tool::PillowDraft, Tool::VipsFull].into_iter().filter(|t| tools.contains(t)).collect();
    if !python.is_empty() {
        match PILLOW_VENV.ensure().and_then(|venv| Ok((pillow_version(&venv)?, pyvips_version(&venv)))) {
            Ok((pillow, pyvips)) => {
                versions.insert("Pillow".into(), pillow);
                match pyvips {
                    Ok(version) => {
                        versions.insert("pyvips".into(), version);
                    }
                    Err(e) if python.contains(&Tool::VipsFull) => {
                        drop_tool(tools, Tool::VipsFull, format!("{e:#}"));
                    }
                    Err(_) => {}
                }
            }
            Err(e) => {
                let why = format!("{e:#}");
                for tool in python {
                    drop_tool(tools, tool, why.clone());
                }
            }
        }
    }
    for (name, program, arg) in [("node", "node", "--version"), ("python3", "python3", "--version")] {
        if let Ok(out) = Command::new(program).arg(arg).output() {
            let text =
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            versions.insert(name.into(), text.trim().to_owned());
        }
    }
    env
}

/// `npm install sharp` into `target/tools/bench-node` unless it is there; returns the versions
/// of sharp and of the libvips it bundles.
fn ensure_sharp() -> anyhow::Result<String> {
    let dir = node_dir();
    let stamp = dir.join(".thumbforge-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(SHARP) {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let package = dir.join("package.json");
        if !package.is_file() {
            std::fs::write(&package, "{\"name\": \"thumbforge-bench-node\", \"private\": true}\n")
                .with_context(|| format!("writing {}", package.display()))?;
        }
        println!("==> installing {SHARP} into {}", dir.display());
        run(
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error", SHARP])
                .current_dir(&dir),
            "check that the npm registry is reachable (npm's message is above)",
        )?;
        std::fs::write(&stamp, SHARP).with_context(|| format!("writing {}", stamp.display()))?;
    }
    let out = Command::new("node")
        .arg("-e")
        .arg("const v = require('sharp').versions; console.log(`${v.sharp} (libvips ${v.vips})`)")
        .current_dir(&dir)
        .output()
        .context("running node")?;
    if !out.status.success() {
        bail!("sharp does not load: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What a line of Python prints in the bench venv; `what` names the failure.
fn venv_print(venv: &Venv<'_>, code: &str, what: &str) -> anyhow::Result<String> {
    let out = Command::new(venv.bin("python3"))
        .args(["-c", code])
        .output()
        .context("running the bench venv's python")?;
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Pillow's version and its libjpeg-turbo's.
fn pillow_version(venv: &Venv<'_>) -> anyhow::Result<String> {
    let code = "import PIL.features as f, PIL; print(f'{PIL.__version__} (libjpeg-turbo {f.version(\"libjpeg_turbo\")})')";
    venv_print(venv, code, "Pillow does not import")
}

/// pyvips' version and the libvips it found (Debian's, from libvips-tools).
fn pyvips_version(venv: &Venv<'_>) -> anyhow::Result<String> {
    let code = "import pyvips as v; print(f'{v.__version__} (libvips {v.version(0)}.{v.version(1)}.{v.version(2)})')";
    venv_print(venv, code, "pyvips does not load libvips")
}

/// The release executables thumbforge's side needs.
#[derive(Debug, Clone)]
struct Built {
    bench: PathBuf,
    presign: PathBuf,
    thumbnail: PathBuf,
}

/// `cargo build --release` of the bench binary and both functions, in one invocation (one
/// feature resolution, so nothing is built twice).
fn build_release() -> anyhow::Result<Built> {
    let mut command = util::cargo(&["build", "--release", "--message-format=json-render-diagnostics"]);
    for (package, bin) in [("thumbforge-cli", "thumbforge-bench"), (PRESIGN, PRESIGN), (THUMBNAIL, THUMBNAIL)]
    {
        command.args(["--package", package, "--bin", bin]);
    }
    println!(
        "==> {} (the release profile is LTO fat, codegen-units 1: a fresh build takes minutes)",
        util::display(&command)
    );
    let output = command.stderr(std::process::Stdio::inherit()).output().context("running cargo build")?;
    if !output.status.success() {
        bail!("the release build failed ({}); the compiler's errors are above", output.status);
    }
    let mut found = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        if let (Some(name), Some(exe)) = (message["target"]["name"].as_str(), message["executable"].as_str())
        {
            found.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    let mut take = |name: &str| {
        found.remove(name).with_context(|| format!("cargo did not report the `{name}` executable"))
    };
    Ok(Built { bench: take("thumbforge-bench")?, presign: take(PRESIGN)?, thumbnail: take(THUMBNAIL)? })
}

/// CPUs this process may run on.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine() -> Machine {
    let text = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpu_model = text("lscpu", &[])
        .lines()
        .find_map(|l| l.strip_prefix("Model name:").map(|m| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    Machine {
        date: text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cpu_model,
        cpus: available_cpus(),
        kernel: text("uname", &["-sr"]),
        load_before: loadavg(),
        load_after: String::new(),
    }
}

/// Sizes of `target/dist/*.zip`; `--build-zips` runs `cargo xtask build` first when one is missing.
fn zips(build: bool) -> anyhow::Result<Vec<(&'static str, Option<u64>)>> {
    let sizes = || {
        crate::build::LAMBDAS
            .into_iter()
            .map(|name| (name, std::fs::metadata(crate::build::dist_zip(name)).ok().map(|m| m.len())))
            .collect::<Vec<_>>()
    };
    let found = sizes();
    if build && found.iter().any(|(_, size)| size.is_none()) {
        println!("==> building the deployment zips (cargo xtask build)");
        crate::build::build()?;
        return Ok(sizes());
    }
    Ok(found)
}

/// Cold or warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Cold,
    /// K repetitions in one process.
    Warm(usize),
}

/// The whole configured job as the peers are told it: the same sizes and encoder settings as
/// `thumbforge-bench --full` reads from `thumbforge.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullJob {
    /// Every rendition's box, in px.
    pub sizes: Vec<u32>,
    /// `jpeg`, and `webp` when configured.
    pub formats: Vec<&'static str>,
    /// JPEG quality (4:2:0, as the engine writes).
    pub jpeg_quality: u8,
    /// WebP quality.
    pub webp_quality: u8,
    /// WebP effort (libwebp's method).
    pub webp_effort: u8,
}

impl FullJob {
    /// The job of `config`. The peers' scripts write JPEG and WebP, so a configuration with AVIF
    /// has no equal-work peer, and is refused rather than compared unequally.
    pub fn of(config: &Config) -> anyhow::Result<Self> {
        use thumbforge_core::format::OutputFormat;
        let t = &config.thumbnails;
        if t.writes(OutputFormat::Avif) {
            bail!(
                "thumbforge.toml's thumbnails.formats lists \"avif\": the equal-work comparison needs JPEG \
                 and WebP only (what the peers' scripts write; thumbforge-full-avif shows what AVIF adds)"
            );
        }
        Ok(Self {
            sizes: t.sizes.smallest_first().into_iter().map(|(_, px)| px).collect(),
            formats: t.output_formats().iter().map(|f| f.name()).collect(),
            jpeg_quality: t.jpeg_quality,
            webp_quality: t.webp_quality,
            webp_effort: t.webp_effort,
        })
    }

    /// The peers' arguments:
    /// `--sizes 256,1024 --formats jpeg,webp --jpeg-quality Q --webp-quality Q --webp-effort E`.
    pub fn args(&self) -> Vec<String> {
        let sizes: Vec<String> = self.sizes.iter().map(u32::to_string).collect();
        vec![
            "--sizes".into(),
            sizes.join(","),
            "--formats".into(),
            self.formats.join(","),
            "--jpeg-quality".into(),
            self.jpeg_quality.to_string(),
            "--webp-quality".into(),
            self.webp_quality.to_string(),
            "--webp-effort".into(),
            self.webp_effort.to_string(),
        ]
    }
}

#[derive(Debug)]
struct Bench {
    size: u32,
    full_job: FullJob,
    cpu: usize,
    bench_bin: PathBuf,
    work: PathBuf,
    env: BTreeMap<&'static str, String>,
    results: Results,
}

impl Bench {
    /// The command that runs `tool` on `image` (K times for a warm run), writing into `out`.
    fn command(&self, tool: Tool, image: &Path, mode: Mode, out: &Path) -> anyhow::Result<Command> {
        let repeat = match mode {
            Mode::Cold => 1,
            Mode::Warm(k) => k,
        };
        let size = self.size.to_string();
        let bench_dir = util::project_root().join("xtask").join("bench");
        let mut command;
        match tool {
            Tool::Thumbforge | Tool::ThumbforgeFull | Tool::ThumbforgeAvif => {
                command = Command::new(&self.bench_bin);
                if tool == Tool::Thumbforge {
                    command.args(["--size", &size]);
                } else {
                    command.arg("--full").arg("--config").arg(util::project_root().join("thumbforge.toml"));
                }
                if tool == Tool::ThumbforgeAvif {
                    command.arg("--avif");
                }
                command.arg("--repeat").arg(repeat.to_string()).arg("--out").arg(out).arg(image);
            }
            Tool::Vips => {
                command = Command::new("vipsthumbnail");
                if repeat == 1 {
                    command.arg(image);
                } else {
                    // K names for the same file: one process, K thumbnails, no cache hits.
                    let links = out.join("links");
                    std::fs::create_dir_all(&links)
                        .with_context(|| format!("creating {}", links.display()))?;
                    let ext = image.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
                    for i in 0..repeat {
                        let link = links.join(format!("copy{i}.{ext}"));
                        if !link.exists() {
                            std::os::unix::fs::symlink(image, &link)
                                .with_context(|| format!("linking {}", link.display()))?;
                        }
                        command.arg(link);
                    }
                }
                command
                    .arg("--size")
                    .arg(format!("{size}x{size}"))
                    .arg("-o")
                    .arg(format!("{}/%s.jpg[Q=80,strip]", out.display()));
            }
            Tool::Sharp | Tool::SharpFull => {
                command = Command::new("node");
                command.arg(bench_dir.join("sharp.mjs"));
                if tool == Tool::SharpFull {
                    command.arg("--full").args(self.full_job.args());
                } else {
                    command.args(["--size", &size]);
                }
                command.args(["--repeat", &repeat.to_string()]).arg("--out").arg(out).arg(image);
            }
            Tool::VipsFull => {
                command = Command::new(PILLOW_VENV.bin("python3"));
                command
                    .arg(bench_dir.join("vips_full.py"))
                    .args(self.full_job.args())
                    .args(["--repeat", &repeat.to_string()])
                    .arg("--out")
                    .arg(out)
                    .arg(image);
            }
            Tool::Pillow | Tool::PillowDraft => {
                command = Command::new(PILLOW_VENV.bin("python3"));
                command.arg(bench_dir.join("pillow.py"));
                if tool == Tool::PillowDraft {
                    command.arg("--draft");
                }
                command
                    .args(["--size", &size, "--repeat", &repeat.to_string()])
                    .arg("--out")
                    .arg(out)
                    .arg(image);
            }
        }
        command.envs(&self.env);
        Ok(command)
    }

    /// Runs `command` pinned to the core under GNU time; wall time, peak RSS and stdout.
    fn timed(&self, command: &Command) -> anyhow::Result<(Sample, String)> {
        let rss_file = self.work.join("rss.txt");
        let mut pinned = Command::new("taskset");
        pinned
            .arg("-c")
            .arg(self.cpu.to_string())
            .args(["/usr/bin/time", "-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            if let Some(value) = value {
                pinned.env(key, value);
            }
        }
        let started = Instant::now();
        let output = pinned.output().with_context(|| format!("running {}", util::display(command)))?;
        let wall = started.elapsed();
        if !output.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                util::display(command),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let rss_kib = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
            .unwrap_or(0);
        Ok((Sample { wall, rss_kib }, String::from_utf8_lossy(&output.stdout).into_owned()))
    }

    /// What spawning alone costs: `taskset … /usr/bin/time … true`, median of 15.
    fn spawn_overhead(&self) -> anyhow::Result<Duration> {
        std::fs::create_dir_all(&self.work).with_context(|| format!("creating {}", self.work.display()))?;
        let mut walls = Vec::new();
        for _ in 0..15 {
            walls.push(self.timed(&Command::new("true"))?.0.wall);
        }
        walls.sort();
        Ok(walls[walls.len() / 2])
    }

    /// One untimed round, then `runs` timed rounds over every image, the tools' order rotating.
    fn measure(&mut self, mode: Mode, runs: usize) -> anyhow::Result<()> {
        let label = match mode {
            Mode::Cold => "cold (one process per image)".to_owned(),
            Mode::Warm(k) => format!("warm (one process, each image {k} times)"),
        };
        let tools = self.results.tools.clone();
        let count = self.results.images.len();
        println!(
            "==> {label}: {count} images × {} tools × (1 warm-up + {runs}) rounds, pinned to CPU {}",
            tools.len(),
            self.cpu
        );
        for round in 0..=runs {
            let started = Instant::now();
            for index in 0..count {
                let image = self.results.images[index].path.clone();
                for offset in 0..tools.len() {
                    let tool = tools[(round + index + offset) % tools.len()];
                    let key = (index, tool);
                    let failed = match mode {
                        Mode::Cold => self.results.cold.get(&key),
                        Mode::Warm(_) => self.results.warm.get(&key),
                    }
                    .is_some_and(|s| s.error.is_some());
                    if failed {
                        continue;
                    }
                    let out = self.work.join(format!("{}-{index}", tool.name()));
                    if let Err(e) = std::fs::remove_dir_all(&out)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        return Err(e).with_context(|| format!("clearing {}", out.display()));
                    }
                    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
                    let command = self.command(tool, &image, mode, &out)?;
                    let outcome = self.timed(&command);
                    let series = match mode {
                        Mode::Cold => self.results.cold.entry(key).or_default(),
                        Mode::Warm(_) => self.results.warm.entry(key).or_default(),
                    };
                    match outcome {
                        Ok((sample, stdout)) => {
                            if round > 0 {
                                series.samples.push(sample);
                                if let Mode::Warm(_) = mode
                                    && !tool.is_peer()
                                {
                                    record_in_process(series, &stdout);
                                }
                            }
                        }
                        Err(e) => {
                            println!(
                                "warning: {} on {}: {e:#}",
                                tool.name(),
                                self.results.images[index].name
                            );
                            series.error = Some(format!("{e:#}"));
                        }
                    }
                }
            }
            let what = if round == 0 { "warm-up round".to_owned() } else { format!("round {round}/{runs}") };
            println!("    {what} done in {:.1?}", started.elapsed());
        }
        Ok(())
    }
}

/// thumbforge's own timings from a warm run's JSON line: every repetition after the first.
fn record_in_process(series: &mut Series, stdout: &str) {
    let Some(line) = stdout.lines().find_map(|l| serde_json::from_str::<Value>(l).ok()) else { return };
    let values = |key: &str| -> Vec<f64> {
        line[key].as_array().map(|a| a.iter().skip(1).filter_map(Value::as_f64).collect()).unwrap_or_default()
    };
    let wall = values("wall_ms");
    let (decode, resize, encode) = (values("decode_ms"), values("resize_ms"), values("encode_ms"));
    series.in_process_ms.extend(&wall);
    for i in 0..decode.len().min(resize.len()).min(encode.len()) {
        series.stages_ms.push([decode[i], resize[i], encode[i]]);
    }
}

/// Starts each function's release binary under the Runtime API emulator `starts` times.
fn cold_starts(built: &Built, starts: usize) -> Vec<ColdStart> {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return FUNCTION_NAMES
                .into_iter()
                .map(|function| ColdStart { function, samples: Vec::new(), error: Some(e.to_string()) })
                .collect();
        }
    };
    let config = Config::default().runtime();
    // What the dev stack gives them, but every endpoint is one nothing listens on: the functions
    // contact no service before their first event.
    let nowhere = "http://127.0.0.1:9";
    let sign_in = thumbforge_core::auth::SignIn {
        client_id: "thumbforge-bench".to_owned(),
        authorize_url: format!("{nowhere}/oauth2/authorize"),
        token_url: format!("{nowhere}/oauth2/token"),
        logout_url: None,
        scopes: vec!["openid".to_owned()],
    };
    let services = thumbforge_dev::Services {
        bucket: "thumbforge-bench",
        s3_endpoint: nowhere,
        table: "thumbforge-bench",
        dynamodb_endpoint: nowhere,
        access_key: "bench",
        secret_key: "bench",
        sign_in: &sign_in,
        origin_secret: "thumbforge-bench-origin-secret-of-40-chars",
        user_pool_id: "us-east-1_bench",
        cognito_endpoint: nowhere,
    };
    FUNCTION_NAMES
        .into_iter()
        .zip([&built.presign, &built.thumbnail])
        .map(|(function, program)| {
            let spec = thumbforge_dev::FunctionSpec {
                name: format!("thumbforge-bench-{function}"),
                program: program.clone(),
                args: Vec::new(),
                env: thumbforge_dev::function_env(function, &config, &services),
                timeout: Duration::from_secs(30),
                memory_mb: 1024,
                instances: 1,
                region: "us-east-1".to_owned(),
                startup_timeout: Duration::from_secs(30),
            };
            let mut result = ColdStart { function, samples: Vec::new(), error: None };
            for _ in 0..starts {
                // The function's lines are kept, to say why it did not start.
                let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
                let kept = lines.clone();
                let logs = thumbforge_dev::LogSink::new(move |_, line| {
                    if let Ok(mut kept) = kept.lock() {
                        kept.push(line.to_owned());
                    }
                });
                let started = runtime.block_on(async {
                    let running = thumbforge_dev::Function::start(spec.clone(), logs).await?;
                    let starts = running.cold_starts();
                    running.stop().await;
                    anyhow::Ok(starts)
                });
                match started {
                    Ok(durations) => result.samples.extend(durations.first()),
                    Err(e) => {
                        let said = lines.lock().map(|l| l.join(" / ")).unwrap_or_default();
                        result.error = Some(format!("{e:#}; it logged: {said}"));
                        break;
                    }
                }
            }
            result
        })
        .collect()
}

/// `cargo bench -p thumbforge-engine --bench engine -- --quick`: criterion's decode, resize and encode
/// micro-benchmarks on a fixture photo.
fn criterion() -> anyhow::Result<String> {
    let mut command =
        util::cargo(&["bench", "-p", "thumbforge-engine", "--bench", "engine", "--", "--quick", "--noplot"]);
    println!("$ {}", util::display(&command));
    let output = command.stderr(std::process::Stdio::inherit()).output().context("running cargo bench")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{text}");
    if !output.status.success() {
        bail!("`cargo bench -p thumbforge-engine` failed ({})", output.status);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_photos_are_read_as_baseline_jpegs() {
        let dir = util::project_root().join("fixtures").join("photos");
        let images = load_corpus(&dir, &[]).unwrap();
        assert_eq!(images.len(), 2);
        assert!(images.iter().all(|i| i.kind == Kind::Baseline && i.width > 0 && i.height > 0));
        assert_eq!(load_corpus(&dir, &["orient_6".to_owned()]).unwrap().len(), 1);
    }

    #[test]
    fn a_jpeg_frame_header_gives_the_stored_size_and_kind() {
        let photo = std::fs::read(util::project_root().join("fixtures/photos/orient_6.jpg")).unwrap();
        assert_eq!(jpeg_frame(&photo), Some((1200, 1800, false)));
        // A progressive frame (SOF2) after an APP0 segment; nothing past the frame is needed.
        let progressive = [
            &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00][..],
            &[0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0xC8, 0x01, 0x2C, 0x01, 0x01, 0x11, 0x00],
        ]
        .concat();
        assert_eq!(jpeg_frame(&progressive), Some((300, 200, true)));
        // A scan before any frame, a truncated frame, and not a JPEG at all.
        assert_eq!(jpeg_frame(&[0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02]), None);
        assert_eq!(jpeg_frame(&progressive[..12]), None);
        assert_eq!(jpeg_frame(b"\x89PNG\r\n"), None);
    }

    #[test]
    fn png_gif_and_webp_headers_give_their_size() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&300u32.to_be_bytes());
        png.extend_from_slice(&200u32.to_be_bytes());
        assert_eq!(other_dimensions(&png), Some((300, 200)));
        let gif = b"GIF89a\x2c\x01\xc8\x00".to_vec();
        assert_eq!(other_dimensions(&gif), Some((300, 200)));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0\0\0\0\0".to_vec();
        webp.extend_from_slice(&[0x2b, 0x01, 0x00, 0xc7, 0x00, 0x00]);
        assert_eq!(other_dimensions(&webp), Some((300, 200)));
    }

    #[test]
    fn eight_megapixels_includes_the_iphone_6() {
        let image = |width, height| Image {
            path: PathBuf::new(),
            name: String::new(),
            width,
            height,
            kind: Kind::Baseline,
            bytes: 0,
        };
        assert!(image(3264, 2448).is_8mp_or_more());
        assert!(!image(2048, 1536).is_8mp_or_more());
    }

    #[test]
    fn tools_are_named_once() {
        for tool in Tool::ALL {
            assert_eq!(Tool::parse(tool.name()), Some(tool));
        }
    }

    #[test]
    fn the_peers_whole_job_is_the_shipped_configuration() {
        let config = Config::load(&util::project_root().join("thumbforge.toml")).unwrap();
        let job = FullJob::of(&config).unwrap();
        let t = &config.thumbnails;
        let mut sizes: Vec<u32> = t.sizes.smallest_first().into_iter().map(|(_, px)| px).collect();
        sizes.sort_unstable();
        assert_eq!(job.sizes, sizes);
        assert_eq!(job.args()[1], sizes.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
        assert_eq!(job.args()[3], "jpeg,webp");
        assert_eq!(job.args()[9], t.webp_effort.to_string());
        let mut jpeg_only = config.clone();
        jpeg_only.thumbnails.formats = vec![thumbforge_core::format::OutputFormat::Jpeg];
        assert_eq!(FullJob::of(&jpeg_only).unwrap().args()[3], "jpeg");
        let mut avif = config.clone();
        avif.thumbnails.formats.push(thumbforge_core::format::OutputFormat::Avif);
        let refused = FullJob::of(&avif).unwrap_err().to_string();
        assert!(refused.contains("\"avif\""), "{refused}");
    }
}
