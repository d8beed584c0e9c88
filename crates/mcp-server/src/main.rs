//! `codenator-mcp`: the MCP stdio server. Parses arguments and hands over to
//! [`codenator_mcp::serve_stdio`].

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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    codenator_mcp::init_logging();
    let args = Args::parse();
    let result = match codenator_mcp::Config::resolve(args.root, args.agent) {
        Ok(config) => codenator_mcp::serve_stdio(config).await,
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
