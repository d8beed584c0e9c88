//! `codenator doctor`: check the ledger and, with `--repair`, fix it.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the current directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Repair what can be repaired without losing data.
    #[arg(long)]
    repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit codes: 0 clean (or fully repaired), 1 problems remain.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let config = codenator_mcp::Config::resolve(args.root, None)?;
    let store = ledger::Store::open_existing(&config.root)
        .with_context(|| format!("no codenator store under {}", config.root.display()))?;
    let report = ledger::doctor::run(&store, args.repair)?;
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["clean"] = serde_json::json!(report.clean());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("codenator doctor: {}", report.store);
        if report.findings.is_empty() {
            println!("clean: no problems found");
        }
        for f in &report.findings {
            let fix = if f.repairable {
                "repairable"
            } else {
                "needs attention"
            };
            println!("- {} {}: {} ({fix})", f.kind, f.path, f.detail);
        }
        for r in &report.repaired {
            println!("repaired: {r}");
        }
        if !report.findings.is_empty()
            && report.repaired.is_empty()
            && report.findings.iter().any(|f| f.repairable)
        {
            println!("run `codenator doctor --repair` to fix the repairable problems");
        }
    }
    Ok(if report.clean() { 0 } else { 1 })
}
