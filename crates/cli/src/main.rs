//! `codenator`: the command line. Parses arguments and dispatches to one
//! module per command; all state goes through the `ledger` crate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod demo;
mod doctor;

/// Coordinate many Codex sessions on one codebase through a durable ledger.
#[derive(Parser, Debug)]
#[command(name = "codenator", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the ledger over MCP stdio (the same server as `codenator-mcp`).
    Mcp {
        /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the current directory).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Slot this session speaks for (default: $AURALIS_CODENATOR_AGENT, $AURALIS_CODEXTRATOR_AGENT,
        /// then the slot bound to the calling Codex thread).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Run a coordinator and two workers through real MCP server processes on
    /// a local ledger, then print the Focus Board.
    Demo(demo::Args),
    /// Measure the real server over stdio: cold start, latencies, growth,
    /// concurrent writers, memory, against the fsync floor.
    Bench(bench::Args),
    /// Check the ledger for damage and index drift; `--repair` fixes what can
    /// be fixed without losing data.
    Doctor(doctor::Args),
}

fn main() -> ExitCode {
    // Exit codes: 0 success, 1 the command ran and found problems, 2 error.
    let outcome = match Cli::parse().command {
        Command::Mcp { root, agent } => {
            codenator_mcp::init_logging();
            tokio_runtime()
                .and_then(|rt| {
                    rt.block_on(async {
                        let config = codenator_mcp::Config::resolve(root, agent)?;
                        codenator_mcp::serve_stdio(config).await
                    })
                })
                .map(|()| 0)
        }
        Command::Demo(args) => tokio_runtime()
            .and_then(|rt| rt.block_on(demo::run(args)))
            .map(|()| 0),
        Command::Bench(args) => tokio_runtime()
            .and_then(|rt| rt.block_on(bench::run(args)))
            .map(|()| 0),
        Command::Doctor(args) => doctor::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("codenator: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
