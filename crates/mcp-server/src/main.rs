//! `codenator-mcp`: the MCP stdio server. Parses arguments and hands over to
//! [`codenator_mcp::run_stdio`].

use std::path::PathBuf;

use clap::Parser;

/// Serve the codenator ledger to one Codex session over MCP stdio.
#[derive(Parser, Debug)]
#[command(name = "codenator-mcp", version, about)]
struct Args {
    /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the current directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Slot this session speaks for (default: $AURALIS_CODENATOR_AGENT, $AURALIS_CODEXTRATOR_AGENT,
    /// then the slot bound to the calling Codex thread).
    #[arg(long)]
    agent: Option<String>,
}

fn main() -> std::process::ExitCode {
    codenator_mcp::init_logging();
    // The supervisor of a job this server dispatched (see `jobs_tools`).
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "job") && argv.get(2).is_some_and(|a| a == "supervise") {
        return match codenator_mcp::supervise_job(&argv[3..]) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("codenator-mcp job supervise: {e:#}");
                std::process::ExitCode::from(2)
            }
        };
    }
    // `codenator-mcp mcp …` is `codenator mcp …` (what a job's Codex runs
    // for `--slot`, whichever of the two binaries dispatched it).
    let args = if argv.get(1).is_some_and(|a| a == "mcp") {
        Args::parse_from(
            argv.iter()
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, a)| a),
        )
    } else {
        Args::parse()
    };
    let result = match codenator_mcp::Config::resolve(args.root, args.agent) {
        Ok(config) => codenator_mcp::run_stdio(config),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("codenator-mcp: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
