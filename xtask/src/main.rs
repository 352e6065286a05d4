//! `cargo xtask`: thumbforge's one entry point. Run `cargo xtask --help` for the commands.
//!
//! Each subcommand lives in its own module; this file parses the flags and dispatches.

#![allow(clippy::print_stderr, reason = "a command-line tool reports progress on stderr")]

mod aws;
mod bench;
mod browser;
mod build;
mod deploy;
mod destroy;
mod dev;
mod flags;
mod fuzz;
mod moto;
mod setup;
mod terraform;
mod test;
mod tfvars;
mod thumbnail;
mod tools;
mod util;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let flags = flags::Xtask::parse();
    util::enter_project_root()?;
    match flags.command {
        flags::Command::Thumbnail(cmd) => cmd.run(),
        flags::Command::Dev(cmd) => cmd.run(),
        flags::Command::Setup(cmd) => cmd.run(),
        flags::Command::Test(cmd) => cmd.run(),
        flags::Command::Build(cmd) => cmd.run(),
        flags::Command::Tfvars(cmd) => cmd.run(),
        flags::Command::Deploy(cmd) => cmd.run(),
        flags::Command::Destroy(cmd) => cmd.run(),
        flags::Command::Moto(cmd) => cmd.run(),
        flags::Command::Bench(cmd) => cmd.run(),
        flags::Command::Fuzz(cmd) => cmd.run(),
    }
}
