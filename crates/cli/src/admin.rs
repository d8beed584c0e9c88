//! `codenator admin`: serve the read-only dashboard of the ledger (crate
//! `dashboard`) until Ctrl-C or SIGTERM. This module only parses the
//! arguments, opens the existing store without creating or importing
//! anything, and prints where the page is.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;

use crate::commands::{Common, Env};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the nearest
    /// directory at or above the current one holding .auralis-codextrator).
    #[arg(long, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Address to listen on: an IP address, or `localhost`. Anything but loopback shows the
    /// ledger (paths, prompts, commit metadata) to whoever can reach it.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port; the printed URL tells which).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
}

pub fn run(top: &Common, args: &Args) -> anyhow::Result<u8> {
    if top.as_slot.is_some() {
        anyhow::bail!("--as does not apply to `admin`: the dashboard reads every slot");
    }
    let ip = parse_host(&args.host)?;
    let env = Env {
        root: args.root.clone().or_else(|| top.root.clone()),
        as_slot: None,
    };
    // Never `Env::store`: it opens with create and imports v1 inbox files.
    let store = dashboard::open_store(&env.root()?.path)?;
    codenator_mcp::init_logging();
    if !ip.is_loopback() {
        tracing::warn!(
            host = %ip,
            "the dashboard is reachable beyond this machine and has no authentication"
        );
    }
    crate::tokio_runtime()?.block_on(async {
        let d = dashboard::Dashboard::bind(store, SocketAddr::new(ip, args.port)).await?;
        say!("codenator admin: {}", d.url());
        say!("store: {}", d.store().dir().display());
        say!("mode: read-only dashboard (Ctrl-C stops it)");
        tokio::select! {
            served = d.serve() => served.context("the dashboard stopped")?,
            () = shutdown() => {}
        }
        Ok(0)
    })
}

/// `--host`: an IP address, or `localhost` (loopback).
fn parse_host(host: &str) -> anyhow::Result<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("--host must be an IP address or localhost (got {host:?})"))
}

/// Ctrl-C, or SIGTERM on Unix (Windows has no SIGTERM: Ctrl-C and
/// Ctrl-Break are what `ctrl_c` hears there).
async fn shutdown() {
    let term = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
