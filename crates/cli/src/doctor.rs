//! `codenator doctor`: check the ledger and, with `--repair`, fix it. The
//! store is found by the same rule as every other command (`--root` before
//! or after `doctor`, the root variables, the nearest store at or above the
//! current directory).

use crate::commands::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Repair what can be repaired without losing data.
    #[arg(long)]
    repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit codes: 0 clean (or fully repaired), 1 problems remain.
pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let store = env.store_without_import()?;
    let report = ledger::maint::doctor::run(&store, args.repair)?;
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["clean"] = serde_json::json!(report.clean());
        print_json(&v)?;
    } else {
        say!("codenator doctor: {}", report.store);
        if report.findings.is_empty() {
            say!("clean: no problems found");
        }
        for f in &report.findings {
            let fix = if f.repairable {
                "repairable"
            } else {
                "needs attention"
            };
            say!("- {} {}: {} ({fix})", f.kind, f.path, f.detail);
        }
        for r in &report.repaired {
            say!("repaired: {r}");
        }
        if !report.findings.is_empty()
            && report.repaired.is_empty()
            && report.findings.iter().any(|f| f.repairable)
        {
            say!("run `codenator doctor --repair` to fix the repairable problems");
        }
    }
    Ok(if report.clean() { 0 } else { 1 })
}
