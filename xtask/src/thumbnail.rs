//! `cargo xtask thumbnail`: builds and runs `thumbforge-thumbnail` (`crates/cli`), the engine on
//! local files with the configured sizes and formats. xtask itself does not link the engine.

use std::process::Command;

use crate::flags;
use crate::util::{self, from_caller};

impl flags::Thumbnail {
    /// The `cargo run` of the engine's command-line tool, with the caller's paths made absolute.
    fn command(&self) -> Command {
        let mut command = util::cargo(&[
            "run",
            "--quiet",
            "--package",
            "thumbforge-cli",
            "--bin",
            "thumbforge-thumbnail",
            "--",
        ]);
        command.arg("--config").arg(from_caller(&self.config));
        command.arg("--out").arg(from_caller(&self.out));
        command.args(self.inputs.iter().map(|input| from_caller(input)));
        command
    }

    /// Runs the engine on every input; exit 0 when each got an outcome.
    pub fn run(self) -> anyhow::Result<()> {
        util::run(
            &mut self.command(),
            "an input could not be read or written, or the configuration is invalid (the error is above)",
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn the_tool_gets_every_input_and_absolute_paths() {
        let flags = flags::Thumbnail {
            config: PathBuf::from("/etc/thumbforge.toml"),
            out: PathBuf::from("/tmp/out"),
            inputs: vec![PathBuf::from("/a.jpg"), PathBuf::from("/b")],
        };
        let shown = util::display(&flags.command());
        assert!(
            shown.ends_with(
                "run --quiet --package thumbforge-cli --bin thumbforge-thumbnail -- --config /etc/thumbforge.toml --out /tmp/out /a.jpg /b"
            ),
            "{shown}"
        );
    }
}
