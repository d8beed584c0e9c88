//! `codenator heartbeat SLOT`: record a heartbeat through
//! `record_heartbeat` (the one heartbeat the MCP side and `plan_wake` read),
//! plus the automation and Desktop thread ids the reference kept with it.
//!
//! `--thread-id` defaults to `target_thread_id` in
//! `$CODEX_HOME/automations/<automation-id>/automation.toml` (CODEX_HOME
//! defaults to `~/.codex`). A slot records only its own heartbeat (run it
//! from the slot's worktree, or pass `--as SLOT`). The slot's `status`
//! (active, paused, parked) is the operator's and is not changed by a
//! heartbeat; a stale or failed heartbeat shows in `heartbeat_status`.

use std::path::PathBuf;

use anyhow::bail;
use ledger::api;
use serde_json::json;

use super::{Common, Env, print_json, s};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The slot (the caller's own).
    pub slot: String,
    #[command(flatten)]
    pub common: Common,
    /// ok, failed or stale (default ok).
    #[arg(long)]
    pub status: Option<String>,
    /// The Codex automation that runs the slot.
    #[arg(long)]
    pub automation_id: Option<String>,
    /// The slot's Codex Desktop thread (default: from the automation's automation.toml).
    #[arg(long)]
    pub thread_id: Option<String>,
    /// What went wrong (with failed or stale).
    #[arg(long, allow_hyphen_values = true)]
    pub error: Option<String>,
    /// The session's current run id.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn codex_home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// `target_thread_id = "…"` from an automation's automation.toml.
fn automation_thread(automation_id: &str) -> anyhow::Result<Option<String>> {
    if ledger::ids::long_id("automation_id", automation_id).is_err() {
        bail!("invalid --automation-id {automation_id:?}: use letters, digits, '.', '_' and '-'");
    }
    let Some(home) = codex_home() else {
        return Ok(None);
    };
    let path = home
        .join("automations")
        .join(automation_id)
        .join("automation.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    Ok(text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "target_thread_id")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|v| !v.is_empty())
    }))
}

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let thread_id = match (&args.thread_id, &args.automation_id) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(a)) => automation_thread(a)?,
        (None, None) => None,
    };
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let hb = store.record_heartbeat(
        &ctx,
        &api::RecordHeartbeat {
            slot: args.slot.clone(),
            status: args.status.clone(),
            run_id: args.run_id.clone(),
            error: args.error.clone(),
        },
    )?;
    let links = if args.automation_id.is_some() || thread_id.is_some() {
        Some(store.record_heartbeat_links(
            &ctx,
            &args.slot,
            args.automation_id.as_deref(),
            thread_id.as_deref(),
        )?)
    } else {
        None
    };
    if args.json {
        print_json(
            &json!({"heartbeat": hb["heartbeat"], "slot_registered": hb["slot_registered"], "links": links}),
        )?;
    } else {
        println!("Heartbeat {}: {}", args.slot, s(&hb["heartbeat"], "status"));
        if hb["slot_registered"] == json!(false) {
            eprintln!("codenator: note: {} is not a registered slot", args.slot);
        }
    }
    Ok(0)
}
