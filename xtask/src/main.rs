//! `cargo xtask`: thumbforge's one entry point. Run `cargo xtask --help` for the commands.
//!
//! Each subcommand lives in its own module; this file parses the flags and dispatches.

#![allow(clippy::print_stderr, reason = "a command-line tool reports progress on stderr")]

mod flags;
mod test;
mod thumbnail;
mod util;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let flags = flags::Xtask::parse();
    util::enter_project_root()?;
    match flags.command {
        flags::Command::Thumbnail(cmd) => cmd.run(),
        flags::Command::Test(cmd) => cmd.run(),
    }
}
