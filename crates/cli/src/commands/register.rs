//! `codenator register SLOT`: upsert a slot through `register_slot`.
//!
//! Fixed: a field not given keeps its previous value (the reference reset
//! `identity` to "developer" and `status` to "active", un-parking a parked
//! slot). `--project`, `--focus` and `--worktree` are required only for a
//! slot that is not registered yet.

use std::path::{Path, PathBuf};

use anyhow::bail;
use ledger::api;

use super::{Common, Env, absolute_string, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Slot id, e.g. session-01.
    pub slot: String,
    #[command(flatten)]
    pub common: Common,
    /// Project the slot works on.
    #[arg(long)]
    pub project: Option<String>,
    /// What the slot focuses on.
    #[arg(long)]
    pub focus: Option<String>,
    /// The slot's git worktree (made absolute).
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    /// Branch (default: `git branch --show-current` in the worktree, else unchanged).
    #[arg(long)]
    pub branch: Option<String>,
    /// Who works in the slot (default: unchanged; "developer" for a new slot).
    #[arg(long)]
    pub identity: Option<String>,
    /// active, paused or parked (default: unchanged; "active" for a new slot).
    #[arg(long)]
    pub status: Option<String>,
    /// Id of the session's current run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Codex app-server thread id used to wake the slot ("" clears it).
    #[arg(long)]
    pub app_server_thread_id: Option<String>,
    /// Codex app-server URL ("" clears it).
    #[arg(long)]
    pub app_server_url: Option<String>,
    /// Print the registered entry as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let registered = store.registry()?.is_registered(&args.slot);
    if !registered {
        let missing: Vec<&str> = [
            ("--project", args.project.is_none()),
            ("--focus", args.focus.is_none()),
            ("--worktree", args.worktree.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(f, _)| *f)
        .collect();
        if !missing.is_empty() {
            bail!("register requires {} for a new slot", missing.join(", "));
        }
    }
    let worktree = match &args.worktree {
        Some(w) => Some(absolute_string(w)?),
        None => None,
    };
    let branch = args.branch.clone().or_else(|| {
        worktree
            .as_deref()
            .and_then(|w| host::git::branch(Path::new(w)))
    });
    let ans = store.register_slot(
        &ctx,
        &api::RegisterSlot {
            slot: args.slot.clone(),
            project: args.project.clone(),
            focus: args.focus.clone(),
            worktree,
            identity: args.identity.clone(),
            branch,
            status: args.status.clone(),
            run_id: args.run_id.clone(),
            app_server_thread_id: args.app_server_thread_id.clone(),
            app_server_url: args.app_server_url.clone(),
        },
    )?;
    if args.json {
        print_json(&ans)?;
    } else {
        say!(
            "Registered {}: {} / {}",
            args.slot,
            ans.slot.project,
            ans.slot.focus
        );
    }
    Ok(0)
}
