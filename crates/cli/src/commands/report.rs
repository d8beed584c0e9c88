//! `codenator report-commit`: report a commit through `report_commit` (the
//! ledger dedupes per commit, writes the report file, marks the task
//! reported and tells the coordinator).
//!
//! The slot is `--slot` (it acts for itself, from any directory) or `--as`,
//! else the slot owning the current directory; git is read in `--worktree`,
//! else the slot's registered worktree (else the current directory when the
//! slot has none).

use std::path::PathBuf;

use anyhow::bail;
use ledger::api;

use super::{Common, Env, absolute_string, infer_slot, print_json, short};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The reporting slot (default: the slot owning the current directory).
    #[arg(long)]
    pub slot: Option<String>,
    /// Task the commit completes (default: the slot's active task).
    #[arg(long)]
    pub task_id: Option<String>,
    /// Worktree to read the commit from (default: the slot's registered worktree).
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    /// The caller's run (refused when another run claimed the task).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let store = env.store()?;
    let slot = match args.slot.clone().or_else(|| env.as_slot.clone()) {
        Some(s) => s,
        None => match infer_slot(&store)? {
            Some(s) => s.to_string(),
            None => bail!("Could not infer session slot. Pass --slot."),
        },
    };
    let ctx = env.ctx(&store, Some(&slot))?;
    let worktree = match &args.worktree {
        Some(w) => Some(absolute_string(w)?),
        None => {
            let registered = store.registry()?.entry_or_default(&slot).worktree;
            if registered.is_empty() {
                Some(absolute_string(&host::cwd()?)?)
            } else {
                None
            }
        }
    };
    let ans = host::git::report_commit(
        &store,
        &ctx,
        &api::ReportCommit {
            slot: slot.clone(),
            task_id: args.task_id.clone(),
            worktree,
            run_id: args.run_id.clone(),
            ..api::ReportCommit::default()
        },
    )?;
    if args.json {
        print_json(&ans)?;
        return Ok(0);
    }
    let sha = short(&ans.report.sha);
    if ans.already_reported {
        say!("Commit {sha} already reported for {slot}");
    } else {
        say!("Reported commit {sha} from {slot}");
    }
    Ok(0)
}
