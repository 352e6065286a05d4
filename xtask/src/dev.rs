//! `cargo xtask dev`: the whole product on this machine, through the real code paths.
//!
//! Builds the two functions for the host (or unpacks the aarch64 zips for qemu with `--arm64`),
//! then runs [`thumbforge_dev::Stack`]: the embedded S3 server, a Lambda Runtime API emulator
//! per function running the real binaries, S3 → Lambda event delivery with retries and a
//! dead-letter folder, and the edge serving the page, `/api/*` and `/thumbs/*`. Ctrl-C (or
//! SIGTERM) stops it all, the function processes included.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use thumbforge_core::Config;
use thumbforge_dev::{LogSink, Stack, StackOptions, binaries};

use crate::flags;
use crate::util::{from_caller, project_root};

impl flags::Dev {
    /// Builds, starts the stack, prints its URL and runs until interrupted.
    pub fn run(self) -> anyhow::Result<()> {
        let config_path = from_caller(&self.config);
        let config =
            Config::load(&config_path).with_context(|| format!("reading {}", config_path.display()))?;
        let data_dir = from_caller(&self.data_dir);
        std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;

        let binaries = if self.arm64 {
            if crate::build::LAMBDAS.iter().any(|name| !crate::build::dist_zip(name).is_file()) {
                eprintln!("==> the aarch64 zips are missing: building them (cargo xtask build)");
                crate::build::build()?;
            }
            let dist = project_root().join("target").join("dist");
            binaries::arm64_from_zips(&dist, &data_dir)?
        } else {
            eprintln!("==> building the functions for this machine");
            binaries::cargo_build(&project_root(), self.release)?
        };

        let watermark = config.watermark.read_beside(&config_path).map_err(anyhow::Error::msg)?;
        let mut options = StackOptions::new(config, data_dir, project_root().join("frontend"), binaries);
        options.watermark = watermark;
        options.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        options.s3_listen = SocketAddr::from((Ipv4Addr::LOCALHOST, self.s3_port));
        options.instances = usize::from(self.instances);
        options.logs = LogSink::stderr();

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async {
            eprintln!("==> starting S3, the functions and the edge");
            let stack = Stack::start(options).await?;
            println!("thumbforge dev stack ready at {}", stack.url());
            interrupted().await?;
            eprintln!("==> stopping");
            stack.shutdown().await;
            Ok(())
        })
    }
}

/// Waits for Ctrl-C or SIGTERM.
async fn interrupted() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("listening for Ctrl-C"),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("listening for Ctrl-C")
}
