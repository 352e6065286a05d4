//! The bench's outputs: `target/bench/report.md`, `target/bench/results.csv` and the summary.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Image, Kind, Mode, Results, Series, Tool};

const MIB: f64 = 1024.0;

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { f64::midpoint(values[mid - 1], values[mid]) })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

impl Series {
    /// Median wall time, ms.
    pub fn median_ms(&self) -> Option<f64> {
        median(&mut self.samples.iter().map(|s| ms(s.wall)).collect::<Vec<_>>())
    }

    /// Fastest run, ms.
    pub fn min_ms(&self) -> Option<f64> {
        self.samples.iter().map(|s| ms(s.wall)).min_by(f64::total_cmp)
    }

    /// Slowest run, ms.
    pub fn max_ms(&self) -> Option<f64> {
        self.samples.iter().map(|s| ms(s.wall)).max_by(f64::total_cmp)
    }

    /// Highest peak RSS of the runs, MiB.
    pub fn peak_mib(&self) -> Option<f64> {
        self.samples.iter().map(|s| s.rss_kib).max().map(|kib| kib as f64 / MIB)
    }
}

impl Results {
    fn series(&self, mode: Mode, image: usize, tool: Tool) -> Option<&Series> {
        match mode {
            Mode::Cold => self.cold.get(&(image, tool)),
            Mode::Warm(_) => self.warm.get(&(image, tool)),
        }
        .filter(|s| s.error.is_none())
    }

    /// Median cold wall time, ms.
    pub fn cold_ms(&self, image: usize, tool: Tool) -> Option<f64> {
        self.series(Mode::Cold, image, tool)?.median_ms()
    }

    /// Per-image time in a warm process: `(T(K) − T(1)) / (K − 1)`, ms.
    pub fn warm_ms(&self, image: usize, tool: Tool) -> Option<f64> {
        if self.warm_repeat < 2 {
            return None;
        }
        let k = self.warm_repeat as f64;
        let many = self.series(Mode::Warm(self.warm_repeat), image, tool)?.median_ms()?;
        let one = self.cold_ms(image, tool)?;
        Some(((many - one) / (k - 1.0)).max(0.0))
    }

    /// thumbforge's own median per-image time in a warm process (repetitions after the first), ms.
    pub fn in_process_ms(&self, image: usize, tool: Tool) -> Option<f64> {
        median(&mut self.series(Mode::Warm(self.warm_repeat), image, tool)?.in_process_ms.clone())
    }

    /// Median decode, resize and encode times in a warm process, ms.
    pub fn stages_ms(&self, image: usize, tool: Tool) -> Option<[f64; 3]> {
        let stages = &self.series(Mode::Warm(self.warm_repeat), image, tool)?.stages_ms;
        let pick = |i: usize| median(&mut stages.iter().map(|s| s[i]).collect::<Vec<_>>());
        Some([pick(0)?, pick(1)?, pick(2)?])
    }

    /// Peak RSS of the cold runs, MiB.
    pub fn rss_mib(&self, image: usize, tool: Tool) -> Option<f64> {
        self.series(Mode::Cold, image, tool)?.peak_mib()
    }

    /// `tool`'s cold time over vipsthumbnail's (N px job).
    pub fn cold_ratio(&self, image: usize, tool: Tool) -> Option<f64> {
        Some(self.cold_ms(image, tool)? / self.cold_ms(image, Tool::Vips)?)
    }

    /// The fastest peer doing the same job as `tool` (the N px one or the whole one), by `time`.
    fn best_peer(&self, tool: Tool, time: impl Fn(Tool) -> Option<f64>) -> Option<(Tool, f64)> {
        self.tools
            .iter()
            .filter(|t| t.is_peer() && t.is_full() == tool.is_full())
            .filter_map(|&t| Some((t, time(t)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The fastest cold peer doing `tool`'s job, and its median time.
    pub fn best_cold_peer(&self, image: usize, tool: Tool) -> Option<(Tool, f64)> {
        self.best_peer(tool, |t| self.cold_ms(image, t))
    }

    /// The fastest peer in a warm process doing `tool`'s job, and its per-image time.
    pub fn best_warm_peer(&self, image: usize, tool: Tool) -> Option<(Tool, f64)> {
        self.best_peer(tool, |t| self.warm_ms(image, t))
    }

    /// `tool`'s cold time over the fastest peer's doing the same job.
    pub fn cold_peer_ratio(&self, image: usize, tool: Tool) -> Option<f64> {
        Some(self.cold_ms(image, tool)? / self.best_cold_peer(image, tool)?.1)
    }

    /// `tool`'s warm per-image time over the fastest peer's doing the same job.
    pub fn warm_ratio(&self, image: usize, tool: Tool) -> Option<f64> {
        Some(self.warm_ms(image, tool)? / self.best_warm_peer(image, tool)?.1)
    }

    fn error(&self, image: usize, tool: Tool) -> Option<&str> {
        self.cold.get(&(image, tool)).and_then(|s| s.error.as_deref())
    }
}

fn num(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}×"))
}

/// `0.62× (sharp-full)`: a ratio and the peer it is over.
fn peer_ratio(value: Option<f64>, peer: Option<(Tool, f64)>) -> String {
    match (value, peer) {
        (Some(v), Some((t, _))) => format!("{v:.2}× ({})", t.name()),
        _ => "–".to_owned(),
    }
}

/// One target and how the run did against it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What is asked.
    pub target: String,
    /// What it was checked on.
    pub scope: String,
    /// The worst case: value and where.
    pub worst: Option<(f64, String)>,
    /// The limit (same unit as the worst case).
    pub limit: f64,
    /// `<=` or `<`.
    pub strict: bool,
    /// Unit shown after values ("×", " MiB", " ms").
    pub unit: &'static str,
}

impl Verdict {
    /// Met, not met, or not measured.
    pub fn met(&self) -> Option<bool> {
        self.worst.as_ref().map(|(v, _)| if self.strict { *v < self.limit } else { *v <= self.limit })
    }

    fn outcome(&self) -> String {
        match (self.met(), &self.worst) {
            (Some(true), _) => "**met**".to_owned(),
            (Some(false), Some((v, _))) => {
                format!(
                    "**not met**: {:.2}{} over ({:+.0} %)",
                    v - self.limit,
                    self.unit,
                    (v / self.limit - 1.0) * 100.0
                )
            }
            _ => "not measured".to_owned(),
        }
    }
}

fn worst(values: impl Iterator<Item = (f64, String)>) -> Option<(f64, String)> {
    values.max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Every target of the issue, checked.
pub fn verdicts(r: &Results) -> Vec<Verdict> {
    let images = || r.images.iter().enumerate();
    let names = |filter: &dyn Fn(&Image) -> bool| -> String {
        let list: Vec<&str> = r.images.iter().filter(|i| filter(i)).map(|i| short(&i.name)).collect();
        if list.is_empty() { "no such image in this run".to_owned() } else { list.join(", ") }
    };
    let baseline_8 = |i: &Image| i.kind == Kind::Baseline && i.is_8mp_or_more();
    let progressive = |i: &Image| i.kind == Kind::Progressive;
    let jpeg_8 = |i: &Image| i.kind.is_jpeg() && i.is_8mp_or_more();
    let progressive_24 = |i: &Image| i.kind == Kind::Progressive && i.megapixels() <= 24.5;
    let baseline_48 = |i: &Image| i.kind == Kind::Baseline && i.megapixels() <= 48.5;
    let n = r.size;
    let rss = |filter: &dyn Fn(&Image) -> bool| {
        worst(images().filter(|(_, i)| filter(i)).flat_map(|(idx, i)| {
            [Tool::Thumbforge, Tool::ThumbforgeFull]
                .into_iter()
                .filter_map(move |t| Some((r.rss_mib(idx, t)?, format!("{} ({})", short(&i.name), t.name()))))
        }))
    };
    // `tool` over the fastest peer doing its job, on every JPEG of 8 MP or more, cold or warm.
    let against_peers = |target: String, tool: Tool, warm: bool, limit: f64| Verdict {
        target,
        scope: names(&jpeg_8),
        worst: worst(images().filter(|(_, i)| jpeg_8(i)).filter_map(|(idx, i)| {
            let (own, (peer, theirs)) = if warm {
                (r.warm_ms(idx, tool)?, r.best_warm_peer(idx, tool)?)
            } else {
                (r.cold_ms(idx, tool)?, r.best_cold_peer(idx, tool)?)
            };
            Some((own / theirs, format!("{} (vs {})", short(&i.name), peer.name())))
        })),
        limit,
        strict: false,
        unit: "×",
    };
    let mut verdicts = vec![
        Verdict {
            target: format!("cold, {n} px job ≤ 0.5× vipsthumbnail, baseline JPEG ≥ 8 MP"),
            scope: names(&baseline_8),
            worst: worst(images().filter(|(_, i)| baseline_8(i)).filter_map(|(idx, i)| {
                Some((r.cold_ratio(idx, Tool::Thumbforge)?, short(&i.name).to_owned()))
            })),
            limit: 0.5,
            strict: false,
            unit: "×",
        },
        Verdict {
            target: format!("cold, {n} px job ≤ 0.75× vipsthumbnail, progressive JPEG"),
            scope: names(&progressive),
            worst: worst(images().filter(|(_, i)| progressive(i)).filter_map(|(idx, i)| {
                Some((r.cold_ratio(idx, Tool::Thumbforge)?, short(&i.name).to_owned()))
            })),
            limit: 0.75,
            strict: false,
            unit: "×",
        },
        against_peers(
            "cold, whole job ≤ 0.5× the fastest peer doing it (sharp-full, libvips-full), JPEG ≥ 8 MP"
                .to_owned(),
            Tool::ThumbforgeFull,
            false,
            0.5,
        ),
        against_peers(
            "warm, whole job ≤ 0.75× the fastest peer doing it, JPEG ≥ 8 MP".to_owned(),
            Tool::ThumbforgeFull,
            true,
            0.75,
        ),
        against_peers(
            format!("warm, {n} px job ≤ 0.8× the best peer per image, JPEG ≥ 8 MP"),
            Tool::Thumbforge,
            true,
            0.8,
        ),
        Verdict {
            target: "peak RSS ≤ 80 MiB, progressive JPEG up to 24 MP (both jobs)".to_owned(),
            scope: names(&progressive_24),
            worst: rss(&progressive_24),
            limit: 80.0,
            strict: false,
            unit: " MiB",
        },
        Verdict {
            target: "peak RSS ≤ 32 MiB, baseline JPEG up to 48 MP (both jobs)".to_owned(),
            scope: names(&baseline_48),
            worst: rss(&baseline_48),
            limit: 32.0,
            strict: false,
            unit: " MiB",
        },
    ];
    for start in &r.cold_starts {
        verdicts.push(Verdict {
            target: format!("cold start < 30 ms native, {}", start.function),
            scope: format!("median of {} starts", start.samples.len()),
            worst: median(&mut start.samples.iter().map(|d| ms(*d)).collect::<Vec<_>>())
                .map(|v| (v, start.function.to_owned())),
            limit: 30.0,
            strict: true,
            unit: " ms",
        });
    }
    for (name, bytes) in &r.zips {
        verdicts.push(Verdict {
            target: format!("deployment zip < 8 MiB, {name}"),
            scope: format!("target/dist/{name}.zip"),
            worst: bytes.map(|b| (b as f64 / MIB / MIB, format!("{name}.zip"))),
            limit: 8.0,
            strict: true,
            unit: " MiB",
        });
    }
    verdicts
}

/// The name without its descriptive tail: `p01_unsplash-…_24mp_prog.jpg` → `p01`.
fn short(name: &str) -> &str {
    match name.split_once('_') {
        Some((head, _)) if head.len() <= 4 && !head.starts_with("orient") => head,
        _ => name.trim_end_matches(".jpg"),
    }
}

fn header(r: &Results) -> String {
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "- date: {}", m.date);
    let _ = writeln!(s, "- machine: {}, {} CPUs online, {}", m.cpu_model, m.cpus, m.kernel);
    let _ = writeln!(
        s,
        "- load average (1, 5, 15 min): {} before the timed runs, {} after{}",
        m.load_before,
        m.load_after,
        if quiet(m) { " (a quiet machine)" } else { " (**other work was running: figures are noisy**)" }
    );
    let _ = writeln!(
        s,
        "- every process pinned to CPU {} (`taskset`); {} timed runs per figure after one warm-up round, tools in rotating order; \
         cold figures are medians of spawn-to-exit wall time and include {:.1} ms of `taskset` + `/usr/bin/time` spawning, \
         the same for every tool",
        r.cpu,
        r.runs,
        ms(r.spawn_overhead)
    );
    if r.warm_repeat >= 2 {
        let _ = writeln!(
            s,
            "- warm: one process, the same image K = {} times; per image = (T(K) − T(1)) / (K − 1) from the medians \
             (`vipsthumbnail` gets K links to the file, the others loop)",
            r.warm_repeat
        );
    }
    let versions: Vec<String> = r.versions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(s, "- versions: {}", versions.join("; "));
    let _ = writeln!(s, "- corpus: {} ({} images)", r.corpus.display(), r.images.len());
    for (tool, why) in &r.missing {
        let _ = writeln!(s, "- **{} left out**: {why}", tool.name());
    }
    s
}

fn quiet(m: &super::Machine) -> bool {
    let first = |s: &str| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok());
    match (first(&m.load_before), first(&m.load_after)) {
        (Some(a), Some(b)) => a.max(b) < 1.5,
        _ => false,
    }
}

/// The whole report.
pub fn markdown(r: &Results) -> String {
    let n = r.size;
    let mut s = String::new();
    let _ = writeln!(s, "# thumbforge benchmark\n");
    let _ = writeln!(
        s,
        "Two jobs, each done by every tool that runs it, EXIF orientation applied and metadata stripped. \
         The {n} px job (thumbforge, vipsthumbnail, sharp, pillow, pillow-draft): fit inside {n}×{n}, JPEG quality 80. \
         The whole job (thumbforge-full, sharp-full, libvips-full): every rendition of `thumbforge.toml`, each as \
         JPEG 4:2:0 and WebP at its qualities and WebP effort, from one decode. thumbforge-full-avif is the whole \
         job with AVIF added, thumbforge's alone. Ratios compare a job only with peers doing that job.\n"
    );
    s.push_str(&header(r));
    let _ = writeln!(s, "\n![Median cold time per image by tool](chart.svg)");

    let _ = writeln!(s, "\n## Targets\n");
    let _ = writeln!(s, "| target | checked on | worst case | outcome |");
    let _ = writeln!(s, "|---|---|---|---|");
    for v in verdicts(r) {
        let worst = v
            .worst
            .as_ref()
            .map_or_else(|| "–".to_owned(), |(value, at)| format!("{value:.2}{} ({at})", v.unit));
        let _ = writeln!(s, "| {} | {} | {worst} | {} |", v.target, v.scope, v.outcome());
    }

    let tools: Vec<Tool> = r.tools.clone();
    let _ = writeln!(s, "\n## Cold: one process per image (median ms, peak RSS MiB)\n");
    let mut head = "| image | MP | kind |".to_owned();
    let mut rule = "|---|---:|---|".to_owned();
    for t in &tools {
        let _ = write!(head, " {} ms | RSS |", t.name());
        rule.push_str("---:|---:|");
    }
    head.push_str(" thumbforge ÷ vips | whole job ÷ fastest peer doing it |");
    rule.push_str("---:|---:|");
    let _ = writeln!(s, "{head}\n{rule}");
    for (idx, image) in r.images.iter().enumerate() {
        let _ = write!(s, "| {} | {:.1} | {} |", image.name, image.megapixels(), image.kind.name());
        for &t in &tools {
            if let Some(e) = r.error(idx, t) {
                let _ = write!(s, " failed | {} |", e.chars().take(40).collect::<String>().replace('|', "/"));
            } else {
                let _ = write!(s, " {} | {} |", num(r.cold_ms(idx, t), 1), num(r.rss_mib(idx, t), 1));
            }
        }
        let _ = writeln!(
            s,
            " {} | {} |",
            ratio(r.cold_ratio(idx, Tool::Thumbforge)),
            peer_ratio(
                r.cold_peer_ratio(idx, Tool::ThumbforgeFull),
                r.best_cold_peer(idx, Tool::ThumbforgeFull)
            ),
        );
    }

    if r.warm_repeat >= 2 {
        let _ =
            writeln!(s, "\n## Warm: one process, the same image {} times (ms per image)\n", r.warm_repeat);
        let mut head = "| image | MP |".to_owned();
        let mut rule = "|---|---:|".to_owned();
        for t in &tools {
            let _ = write!(head, " {} |", t.name());
            rule.push_str("---:|");
        }
        head.push_str(
            " best peer | thumbforge ÷ best peer | whole job ÷ fastest peer doing it | thumbforge in-process \
             (decode / resize / encode) | whole job in-process | with AVIF in-process |",
        );
        rule.push_str("---|---:|---:|---:|---:|---:|");
        let _ = writeln!(s, "{head}\n{rule}");
        for (idx, image) in r.images.iter().enumerate() {
            let _ = write!(s, "| {} | {:.1} |", image.name, image.megapixels());
            for &t in &tools {
                let _ = write!(s, " {} |", num(r.warm_ms(idx, t), 1));
            }
            let best = r
                .best_warm_peer(idx, Tool::Thumbforge)
                .map_or_else(|| "–".to_owned(), |(t, v)| format!("{} {v:.1}", t.name()));
            let stages = |t: Tool| {
                let total = num(r.in_process_ms(idx, t), 1);
                match r.stages_ms(idx, t) {
                    Some([d, z, e]) => format!("{total} ({d:.1} / {z:.1} / {e:.1})"),
                    None => total,
                }
            };
            let _ = writeln!(
                s,
                " {best} | {} | {} | {} | {} | {} |",
                ratio(r.warm_ratio(idx, Tool::Thumbforge)),
                peer_ratio(
                    r.warm_ratio(idx, Tool::ThumbforgeFull),
                    r.best_warm_peer(idx, Tool::ThumbforgeFull)
                ),
                stages(Tool::Thumbforge),
                stages(Tool::ThumbforgeFull),
                stages(Tool::ThumbforgeAvif)
            );
        }
    }

    let _ = writeln!(s, "\n## Lambda cold starts and deployment size\n");
    let _ = writeln!(s, "| function | cold start, median (min–max) | starts | zip |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for start in &r.cold_starts {
        let mut values: Vec<f64> = start.samples.iter().map(|d| ms(*d)).collect();
        let min = values.iter().copied().min_by(f64::total_cmp);
        let max = values.iter().copied().max_by(f64::total_cmp);
        let cold = match (&start.error, median(&mut values)) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(m)) => format!("{m:.1} ms ({}–{} ms)", num(min, 1), num(max, 1)),
            (None, None) => "–".to_owned(),
        };
        let zip = r.zips.iter().find(|(name, _)| *name == start.function).and_then(|(_, b)| *b).map_or_else(
            || "not built (`cargo xtask build`, or `--build-zips`)".to_owned(),
            |b| format!("{:.2} MiB", b as f64 / MIB / MIB),
        );
        let _ = writeln!(s, "| {} | {cold} | {} | {zip} |", start.function, start.samples.len());
    }
    let _ = writeln!(
        s,
        "\nCold start: the release binary for this machine under the local Runtime API emulator (`thumbforge-dev`), \
         from process start to its first `GET …/invocation/next`. Zips: the aarch64 deployment packages of `cargo xtask build`."
    );
    if let Some(text) = &r.criterion {
        let _ = writeln!(
            s,
            "\n## criterion micro-benchmarks (`cargo bench -p thumbforge-engine --bench engine -- --quick`)\n"
        );
        let _ = writeln!(s, "```text\n{}\n```", text.trim());
    }
    s
}

/// A short table for the terminal and the README.
pub fn summary(r: &Results) -> String {
    let n = r.size;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| image | MP | kind | {n} px cold: thumbforge | vipsthumbnail | ÷ vips | {n} px warm: thumbforge | best peer | \
         whole job cold: thumbforge | sharp-full | libvips-full | ÷ fastest | whole job warm: thumbforge | fastest peer | \
         ÷ fastest | peak RSS MiB ({n} / whole) |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (idx, image) in r.images.iter().enumerate() {
        let best = |tool: Tool| {
            r.best_warm_peer(idx, tool)
                .map_or_else(|| "–".to_owned(), |(t, v)| format!("{v:.1} ({})", t.name()))
        };
        let _ = writeln!(
            s,
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            short(&image.name),
            image.megapixels(),
            image.kind.name(),
            num(r.cold_ms(idx, Tool::Thumbforge), 1),
            num(r.cold_ms(idx, Tool::Vips), 1),
            ratio(r.cold_ratio(idx, Tool::Thumbforge)),
            num(r.warm_ms(idx, Tool::Thumbforge), 1),
            best(Tool::Thumbforge),
            num(r.cold_ms(idx, Tool::ThumbforgeFull), 1),
            num(r.cold_ms(idx, Tool::SharpFull), 1),
            num(r.cold_ms(idx, Tool::VipsFull), 1),
            ratio(r.cold_peer_ratio(idx, Tool::ThumbforgeFull)),
            num(r.warm_ms(idx, Tool::ThumbforgeFull), 1),
            best(Tool::ThumbforgeFull),
            ratio(r.warm_ratio(idx, Tool::ThumbforgeFull)),
            num(r.rss_mib(idx, Tool::Thumbforge), 1),
            num(r.rss_mib(idx, Tool::ThumbforgeFull), 1),
        );
    }
    let _ = writeln!(s, "\n| target | worst case | outcome |\n|---|---|---|");
    for v in verdicts(r) {
        let worst = v
            .worst
            .as_ref()
            .map_or_else(|| "–".to_owned(), |(value, at)| format!("{value:.2}{} ({at})", v.unit));
        let _ = writeln!(s, "| {} | {worst} | {} |", v.target, v.outcome());
    }
    s
}

/// One row per (image, tool, mode).
/// Escapes text for SVG.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Fill colours of the tools' bars, in `Results::tools` order (cycled).
/// One colour per tool of [`Tool::ALL`], in its order: a tool keeps its colour in any subset.
const BAR_COLOURS: [&str; Tool::ALL.len()] =
    ["#1f6feb", "#0a3069", "#54aeff", "#bf8700", "#7d4e00", "#cf222e", "#82071e", "#8957e5", "#2da44e"];

fn colour(tool: Tool) -> &'static str {
    Tool::ALL.iter().position(|&t| t == tool).map_or("#6e7781", |i| BAR_COLOURS[i])
}

/// `target/bench/chart.svg`: per-image median cold time by tool, one group of bars per image
/// (scaled to the slowest bar of the whole chart), each labelled with its milliseconds; a tool
/// that failed or did not run on an image has no bar there.
pub fn chart(r: &Results) -> String {
    const LABEL: f64 = 190.0;
    const BAR: f64 = 14.0;
    const WIDTH: f64 = 860.0;
    let plot = WIDTH - LABEL - 80.0;
    let slowest = (0..r.images.len())
        .flat_map(|i| r.tools.iter().filter_map(move |&t| r.cold_ms(i, t)))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let group = BAR * r.tools.len() as f64 + 12.0;
    let legend = 20.0 * r.tools.len() as f64;
    let height = 40.0 + group * r.images.len() as f64 + legend + 20.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<title>thumbforge bench: median cold time per \
         image by tool (ms), the {n} px job and the whole job</title>\n<text x=\"8\" y=\"20\" \
         font-size=\"14\">Median cold time per image (ms, one core, process start to exit): the {n} px \
         job and the whole job</text>\n",
        n = r.size
    );
    for (i, image) in r.images.iter().enumerate() {
        let top = 36.0 + group * i as f64;
        svg += &format!(
            "<text x=\"8\" y=\"{:.1}\">{}</text>\n",
            top + BAR,
            xml(&format!("{} ({:.0} MP)", short(&image.name), image.megapixels()))
        );
        for (j, &tool) in r.tools.iter().enumerate() {
            let Some(ms) = r.cold_ms(i, tool) else { continue };
            let y = top + BAR * j as f64;
            let w = (ms / slowest * plot).max(1.0);
            svg += &format!(
                "<rect class=\"bar\" data-tool=\"{}\" x=\"{LABEL}\" y=\"{y:.1}\" width=\"{w:.1}\" \
                 height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{ms:.1}</text>\n",
                tool.name(),
                BAR - 2.0,
                colour(tool),
                LABEL + w + 4.0,
                y + BAR - 4.0
            );
        }
    }
    let legend_top = 36.0 + group * r.images.len() as f64 + 8.0;
    for (j, tool) in r.tools.iter().enumerate() {
        let y = legend_top + 20.0 * j as f64;
        svg += &format!(
            "<rect x=\"8\" y=\"{y:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"26\" \
             y=\"{:.1}\">{}</text>\n",
            colour(*tool),
            y + 10.0,
            xml(&format!("{} ({})", tool.name(), if tool.is_full() { "whole job" } else { "N px job" }))
                .replace("N px", &format!("{} px", r.size))
        );
    }
    svg + "</svg>\n"
}

pub fn csv(r: &Results) -> String {
    let mut s = String::from(
        "image,megapixels,kind,bytes,tool,mode,repeat,runs,median_ms,min_ms,max_ms,per_image_ms,peak_rss_kib,ratio_to_vipsthumbnail,in_process_ms,error\n",
    );
    for (idx, image) in r.images.iter().enumerate() {
        for &tool in &r.tools {
            for (mode, map) in [("cold", &r.cold), ("warm", &r.warm)] {
                let Some(series) = map.get(&(idx, tool)) else { continue };
                let (repeat, per_image, ratio, in_process) = if mode == "cold" {
                    (1, series.median_ms(), r.cold_ratio(idx, tool), None)
                } else {
                    let vips = r.warm_ms(idx, Tool::Vips);
                    let per_image = r.warm_ms(idx, tool);
                    let ratio = per_image.zip(vips).map(|(a, b)| a / b);
                    (r.warm_repeat, per_image, ratio, r.in_process_ms(idx, tool))
                };
                let rss = series.samples.iter().map(|x| x.rss_kib).max();
                let _ = writeln!(
                    s,
                    "{},{:.2},{},{},{},{mode},{repeat},{},{},{},{},{},{},{},{},{}",
                    image.name,
                    image.megapixels(),
                    image.kind.name(),
                    image.bytes,
                    tool.name(),
                    series.samples.len(),
                    opt(series.median_ms()),
                    opt(series.min_ms()),
                    opt(series.max_ms()),
                    opt(per_image),
                    rss.map(|v| v.to_string()).unwrap_or_default(),
                    ratio.map(|v| format!("{v:.3}")).unwrap_or_default(),
                    opt(in_process),
                    series.error.as_deref().unwrap_or("").replace([',', '\n'], " "),
                );
            }
        }
    }
    s
}

fn opt(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.2}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::super::{Machine, Sample};
    use super::*;

    fn series(ms: &[u64], rss_kib: u64) -> Series {
        Series {
            samples: ms.iter().map(|&m| Sample { wall: Duration::from_millis(m), rss_kib }).collect(),
            ..Series::default()
        }
    }

    fn results() -> Results {
        let image = |name: &str, width, height, kind| Image {
            path: PathBuf::from(name),
            name: name.to_owned(),
            width,
            height,
            kind,
            bytes: 1,
        };
        let mut cold = BTreeMap::new();
        let mut warm = BTreeMap::new();
        // p03: baseline 12 MP; thumbforge 40 ms vs vips 100 ms.
        cold.insert((0, Tool::Thumbforge), series(&[40, 41, 39, 60, 40], 20 * 1024));
        cold.insert((0, Tool::ThumbforgeFull), series(&[60; 5], 30 * 1024));
        cold.insert((0, Tool::Vips), series(&[100; 5], 50 * 1024));
        cold.insert((0, Tool::Sharp), series(&[200; 5], 90 * 1024));
        warm.insert((0, Tool::Thumbforge), series(&[40 + 9 * 20; 5], 20 * 1024));
        warm.insert((0, Tool::Vips), series(&[100 + 9 * 50; 5], 50 * 1024));
        warm.insert((0, Tool::Sharp), series(&[200 + 9 * 30; 5], 90 * 1024));
        // The whole job on p03: thumbforge 60 ms cold, 25 ms warm; sharp-full 150 / 40,
        // libvips-full 100 / 50: the fastest peer is libvips cold and sharp warm.
        cold.insert((0, Tool::SharpFull), series(&[150; 5], 90 * 1024));
        cold.insert((0, Tool::VipsFull), series(&[100; 5], 60 * 1024));
        warm.insert((0, Tool::ThumbforgeFull), series(&[60 + 9 * 25; 5], 30 * 1024));
        warm.insert((0, Tool::SharpFull), series(&[150 + 9 * 40; 5], 90 * 1024));
        warm.insert((0, Tool::VipsFull), series(&[100 + 9 * 50; 5], 60 * 1024));
        // p01: progressive 24 MP; thumbforge 80 ms vs vips 100 ms; 85 MiB.
        cold.insert((1, Tool::Thumbforge), series(&[80; 5], 85 * 1024));
        cold.insert((1, Tool::Vips), series(&[100; 5], 50 * 1024));
        Results {
            size: 256,
            runs: 5,
            warm_repeat: 10,
            cpu: 1,
            corpus: PathBuf::from("corpus"),
            images: vec![
                image("p03_olympus.jpg", 4032, 3024, Kind::Baseline),
                image("p01_unsplash.jpg", 6000, 4000, Kind::Progressive),
            ],
            tools: vec![
                Tool::Thumbforge,
                Tool::ThumbforgeFull,
                Tool::Vips,
                Tool::VipsFull,
                Tool::Sharp,
                Tool::SharpFull,
            ],
            missing: Vec::new(),
            cold,
            warm,
            spawn_overhead: Duration::from_millis(2),
            cold_starts: Vec::new(),
            zips: vec![("thumbnail", Some(5 << 20)), ("presign", None)],
            versions: BTreeMap::new(),
            machine: Machine::default(),
            criterion: None,
        }
    }

    #[test]
    fn the_chart_has_a_bar_per_measured_image_and_tool() {
        let mut r = results();
        r.images[1].name = "a&b<c>.jpg".into();
        let svg = chart(&r);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>\n"));
        // p03 has all six tools; p01 only thumbforge and vips.
        assert_eq!(svg.matches("class=\"bar\"").count(), 8, "{svg}");
        assert_eq!(svg.matches("data-tool=\"sharp\"").count(), 1);
        assert!(svg.contains(">40.0</text>") && svg.contains(">200.0</text>"), "the milliseconds");
        assert!(svg.contains("a&amp;b&lt;c&gt;"), "names are escaped");
        assert!(svg.contains(">p03 (12 MP)</text>"), "images by their short name");
        assert!(
            svg.contains(">thumbforge-full (whole job)</text>") && svg.contains(">sharp (256 px job)</text>")
        );
        assert!(!svg.contains("a&b<c>"));
        // The slowest bar (sharp, 200 ms) spans the plot; thumbforge's 40 ms a fifth of it.
        let width = |tool: &str| -> f64 {
            let at = svg.find(&format!("data-tool=\"{tool}\"")).unwrap();
            let rest = &svg[at..];
            let w = &rest[rest.find("width=\"").unwrap() + 7..];
            w[..w.find('"').unwrap()].parse().unwrap()
        };
        assert!((width("thumbforge") / width("sharp") - 0.2).abs() < 0.01);
    }

    #[test]
    fn ratios_are_medians_over_vipsthumbnail() {
        let r = results();
        assert_eq!(r.cold_ms(0, Tool::Thumbforge), Some(40.0));
        assert_eq!(r.cold_ratio(0, Tool::Thumbforge), Some(0.4));
        assert_eq!(r.rss_mib(0, Tool::Thumbforge), Some(20.0));
    }

    #[test]
    fn warm_time_per_image_cancels_the_process_start() {
        let r = results();
        assert_eq!(r.warm_ms(0, Tool::Thumbforge), Some(20.0));
        assert_eq!(r.best_warm_peer(0, Tool::Thumbforge), Some((Tool::Sharp, 30.0)));
        assert!((r.warm_ratio(0, Tool::Thumbforge).unwrap() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_whole_job_is_compared_with_the_peers_doing_the_whole_job() {
        let r = results();
        // Not with vipsthumbnail's 100 ms N px job, nor sharp's warm 30 ms one.
        assert_eq!(r.best_cold_peer(0, Tool::ThumbforgeFull), Some((Tool::VipsFull, 100.0)));
        assert_eq!(r.cold_peer_ratio(0, Tool::ThumbforgeFull), Some(0.6));
        assert_eq!(r.best_warm_peer(0, Tool::ThumbforgeFull), Some((Tool::SharpFull, 40.0)));
        assert!((r.warm_ratio(0, Tool::ThumbforgeFull).unwrap() - 25.0 / 40.0).abs() < 1e-9);
        // And the N px job never with a whole-job peer.
        assert_eq!(r.best_cold_peer(0, Tool::Thumbforge), Some((Tool::Vips, 100.0)));
        let v = verdicts(&r);
        let find = |prefix: &str| v.iter().find(|v| v.target.starts_with(prefix)).unwrap();
        let cold = find("cold, whole job ≤ 0.5×");
        assert_eq!(cold.met(), Some(false));
        assert_eq!(cold.worst.as_ref().map(|w| w.1.as_str()), Some("p03 (vs libvips-full)"));
        assert_eq!(find("warm, whole job ≤ 0.75×").met(), Some(true));
        let summary = summary(&r);
        assert!(
            summary.contains("| 60.0 | 150.0 | 100.0 | 0.60× | 25.0 | 40.0 (sharp-full) | 0.62× |"),
            "{summary}"
        );
    }

    #[test]
    fn verdicts_say_by_how_much() {
        let v = verdicts(&results());
        let find = |prefix: &str| v.iter().find(|v| v.target.starts_with(prefix)).unwrap();
        assert_eq!(find("cold, 256 px job ≤ 0.5×").met(), Some(true));
        assert_eq!(find("cold, 256 px job ≤ 0.75×").met(), Some(false));
        assert!(find("cold, 256 px job ≤ 0.75×").outcome().contains("0.05× over"));
        assert_eq!(find("peak RSS ≤ 80").met(), Some(false));
        assert_eq!(find("deployment zip < 8 MiB, thumbnail").met(), Some(true));
        assert_eq!(find("deployment zip < 8 MiB, presign").met(), None);
        let md = markdown(&results());
        assert!(md.contains("| p03_olympus.jpg | 12.2 | baseline JPEG |"), "{md}");
        assert!(csv(&results()).lines().count() > 5);
    }
}
