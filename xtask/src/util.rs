//! Helpers shared by the subcommands: the project root, running commands visibly.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The repository root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Remembers the caller's directory (for relative paths in arguments), then enters the root.
pub fn enter_project_root() -> anyhow::Result<()> {
    let caller = std::env::current_dir().context("reading the current directory")?;
    CALLER_DIR.set(caller).ok();
    let root = project_root();
    std::env::set_current_dir(&root).with_context(|| format!("entering {}", root.display()))
}

static CALLER_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Resolves a path given on the command line against the directory xtask was started in.
pub fn from_caller(path: &Path) -> PathBuf {
    match CALLER_DIR.get() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Prints a command the way a shell would show it.
pub fn display(command: &Command) -> String {
    let mut parts = vec![command.get_program().to_string_lossy().into_owned()];
    parts.extend(command.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(char::is_whitespace) { format!("'{a}'") } else { a.into_owned() }
    }));
    parts.join(" ")
}

/// `cargo ARGS`, with the cargo that runs xtask (`CARGO`), else the one on `PATH`.
pub fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(args);
    command
}

/// Echoes and runs a command, failing with `hint` when it exits non-zero.
pub fn run(command: &mut Command, hint: &str) -> anyhow::Result<()> {
    let shown = display(command);
    println!("$ {shown}");
    let status = command.status().with_context(|| format!("could not start `{shown}`: {hint}"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status}): {hint}");
    }
    Ok(())
}

/// Like [`run`], with the command's standard output shown line by line as it comes (through
/// `print!`, which a test harness captures) and handed to `on_line`.
pub fn run_lines(command: &mut Command, hint: &str, mut on_line: impl FnMut(&str)) -> anyhow::Result<()> {
    use std::io::BufRead;
    let shown = display(command);
    println!("$ {shown}");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`: {hint}"))?;
    if let Some(stdout) = child.stdout.take() {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).with_context(|| format!("reading `{shown}`'s output"))?
                == 0
            {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            print!("{text}");
            on_line(&text);
        }
    }
    let status = child.wait().with_context(|| format!("waiting for `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status}): {hint}");
    }
    Ok(())
}

/// Whether a program is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Whether we run as root (apt installs are possible).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_display_like_a_shell() {
        let mut c = Command::new("cargo");
        c.args(["clippy", "--all-targets", "a b", ""]);
        assert_eq!(display(&c), "cargo clippy --all-targets 'a b' ''");
    }

    #[test]
    fn run_reports_failures_with_the_hint() {
        let err = run(Command::new("false").arg("x"), "try again").unwrap_err().to_string();
        assert!(err.contains("`false x` failed") && err.contains("try again"), "{err}");
        let err = run(&mut Command::new("/nonexistent/tool"), "install it").unwrap_err().to_string();
        assert!(err.contains("could not start") && err.contains("install it"), "{err}");
    }
}
