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
    /// Run every check: formatting, lints and the whole test suite (installs what it needs).
    Test(Test),
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

/// `cargo xtask test`.
#[derive(Debug, Args)]
pub struct Test {
    /// Skip `cargo fmt --check` and `cargo clippy` (for a quick run of the tests only).
    #[arg(long)]
    pub no_lint: bool,
}
