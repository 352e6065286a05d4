//! The whole command-line surface of `cargo xtask`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// thumbforge's developer and operator commands.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
pub struct Xtask {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the thumbnail engine on local files and print one JSON line per input.
    Thumbnail(Thumbnail),
    /// Run the whole product locally at http://127.0.0.1:8080: page, API, uploads, thumbnails.
    Dev(Dev),
    /// Check (and where apt can, install) what `cargo xtask test` needs on this machine.
    Setup(Setup),
    /// Run every check: formatting, lints and the whole test suite (installs what it needs).
    Test(Test),
    /// Cross-build both Lambdas for arm64 into reproducible zips (target/dist/*.zip).
    Build(Build),
    /// Write terraform/generated.auto.tfvars.json from thumbforge.toml (`--check`: fail if stale).
    Tfvars(Tfvars),
    /// Build, apply the Terraform stack, publish the page, smoke-test it, print its URL.
    Deploy(Deploy),
    /// Empty the buckets, destroy the Terraform stack of an environment, check nothing is left.
    Destroy(Destroy),
    /// Deploy the real stack to a local moto server, check what it holds, re-plan, destroy.
    Moto(Moto),
    /// Benchmark the engine against vipsthumbnail, sharp and Pillow (target/bench/report.md).
    Bench(Bench),
    /// Fuzz the engine and its parsers (cargo-fuzz on nightly, else a stable mutation search).
    Fuzz(Fuzz),
}

/// `cargo xtask fuzz`.
#[derive(Debug, Args)]
pub struct Fuzz {
    /// How long to fuzz each target, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// A target (`process`, `jpeg_scan`, `jpeg_dc`, `peek`); every target by default.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// The stable search's seed, to repeat a run [default: the clock].
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `cargo xtask thumbnail`.
#[derive(Debug, Args)]
pub struct Thumbnail {
    /// The configuration file.
    #[arg(long, default_value = "thumbforge.toml")]
    pub config: PathBuf,
    /// Where the renditions are written, one folder per input.
    #[arg(long)]
    pub out: PathBuf,
    /// Image files, or folders whose files are all processed.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// `cargo xtask dev`.
#[derive(Debug, Args)]
pub struct Dev {
    /// The configuration file.
    #[arg(long, default_value = "thumbforge.toml")]
    pub config: PathBuf,
    /// The port of the page and the API (on 127.0.0.1; 0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The port of the embedded S3 server the browser uploads to [default: a free one].
    #[arg(long, default_value_t = 0)]
    pub s3_port: u16,
    /// Where uploads, thumbnails and dead letters are kept (kept across runs).
    #[arg(long, default_value = ".thumbforge/dev", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Run the aarch64 deployment zips (target/dist, built if missing) under qemu, not host builds.
    #[arg(long)]
    pub arm64: bool,
    /// Build the host binaries with the release profile (slower to build, faster to run).
    #[arg(long, conflicts_with = "arm64")]
    pub release: bool,
    /// Execution environments per function (invocations run at once).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub instances: u16,
}

/// `cargo xtask test`.
#[derive(Debug, Args)]
pub struct Test {
    /// Skip the linters: `cargo fmt --check`, `cargo clippy`, `terraform fmt`, the tfvars check, checkov, actionlint.
    #[arg(long)]
    pub no_lint: bool,
    /// Skip the end-to-end deployment of the Terraform stack to a local moto server.
    #[arg(long)]
    pub no_moto: bool,
}

/// `cargo xtask setup`.
#[derive(Debug, Args)]
pub struct Setup {
    /// Only check: install nothing.
    #[arg(long)]
    pub no_install: bool,
    /// Print the apt packages of the list, space-separated, and do nothing else.
    #[arg(long, conflicts_with = "no_install")]
    pub apt_packages: bool,
}

/// `cargo xtask build`.
#[derive(Debug, Args)]
pub struct Build {}

/// `cargo xtask tfvars`.
#[derive(Debug, Args)]
pub struct Tfvars {
    /// The configuration file.
    #[arg(long, default_value = "thumbforge.toml")]
    pub config: PathBuf,
    /// Write nothing; fail if the committed file differs from what would be written.
    #[arg(long)]
    pub check: bool,
}

/// Which deployment, and how to reach it (`deploy` and `destroy`).
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Environment name: its own Terraform workspace (state) and resource names.
    #[arg(long = "env", default_value = "dev", value_name = "NAME")]
    pub env: String,
    /// AWS region of the regional resources.
    #[arg(long, default_value = "us-east-1", value_name = "R")]
    pub region: String,
    /// Send every AWS call, Terraform's and xtask's, to this endpoint (an emulator such as moto).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// A Terraform provider mirror for an offline `terraform init` [default: /opt/tf-plugins if it exists].
    #[arg(long, env = "THUMBFORGE_TF_PLUGIN_DIR", value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Do not ask before changing anything.
    #[arg(long)]
    pub yes: bool,
}

/// `cargo xtask deploy`.
#[derive(Debug, Args)]
pub struct Deploy {
    #[command(flatten)]
    pub target: Target,
    /// The configuration file.
    #[arg(long, default_value = "thumbforge.toml")]
    pub config: PathBuf,
    /// Skip the end-to-end smoke test (for an emulator that cannot run Lambdas).
    #[arg(long)]
    pub no_smoke: bool,
    /// Deploy the zips already in target/dist instead of building.
    #[arg(long)]
    pub no_build: bool,
}

/// `cargo xtask destroy`.
#[derive(Debug, Args)]
pub struct Destroy {
    #[command(flatten)]
    pub target: Target,
}

/// `cargo xtask moto`.
#[derive(Debug, Args)]
pub struct Moto {
    /// A Terraform provider mirror for an offline `terraform init` [default: /opt/tf-plugins if it exists].
    #[arg(long, env = "THUMBFORGE_TF_PLUGIN_DIR", value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Deploy the zips already in target/dist instead of building.
    #[arg(long)]
    pub no_build: bool,
}

/// `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct Bench {
    /// The photos [default: ../shared/corpus next to the repository, when it exists].
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
    /// The job's box: fit inside N×N.
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub size: u32,
    /// Timed runs per figure (after one untimed warm-up round).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// K: repetitions of each image in one warm process (0 or 1: no warm runs).
    #[arg(long, default_value_t = 8, value_name = "K")]
    pub warm_repeat: usize,
    /// Only images whose file name contains this (repeatable).
    #[arg(long = "images", value_name = "TEXT")]
    pub images: Vec<String>,
    /// Only these tools (comma-separated): thumbforge, thumbforge-full, thumbforge-full-avif,
    /// vipsthumbnail, libvips-full, sharp, sharp-full, pillow, pillow-draft.
    #[arg(long, value_delimiter = ',', value_name = "TOOLS")]
    pub tools: Vec<String>,
    /// The core every process is pinned to [default: the last one].
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Starts of each function for the cold-start figure.
    #[arg(long, default_value_t = 7)]
    pub cold_starts: usize,
    /// Build the deployment zips (`cargo xtask build`, slow) when they are missing, to report their size.
    #[arg(long)]
    pub build_zips: bool,
    /// Also run the criterion micro-benchmarks (`cargo bench -p thumbforge-engine --bench engine -- --quick`).
    #[arg(long)]
    pub criterion: bool,
}
