//! `codenator heartbeat SLOT`: record a heartbeat through
//! `record_heartbeat` (the one heartbeat the MCP side and `plan_wake` read),
//! plus the automation and Desktop thread ids the reference kept with it.
//!
//! `heartbeat SLOT` acts as SLOT, from any directory (unless `--as` says
//! otherwise; the coordinator may record a heartbeat for any slot, e.g. to
//! mark a dead session failed). `--thread-id` defaults to
//! `target_thread_id` in `$CODEX_HOME/automations/<automation-id>/automation.toml`.
//! The slot's `status` (active, paused, parked) is the operator's and is not
//! changed by a heartbeat; a stale or failed heartbeat shows in
//! `heartbeat_status`.

use ledger::{TaskId, api};
use serde_json::json;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The slot (it acts for itself).
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

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let thread_id = match (&args.thread_id, &args.automation_id) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(a)) => {
            let id = TaskId::parse("--automation-id", a)?;
            host::codex::automation_thread(&id)
        }
        (None, None) => None,
    };
    let store = env.store()?;
    let ctx = env.ctx(&store, Some(&args.slot))?;
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
            &api::HeartbeatLinks {
                slot: args.slot.clone(),
                automation_id: args.automation_id.clone(),
                thread_id,
            },
        )?)
    } else {
        None
    };
    if args.json {
        print_json(
            &json!({"heartbeat": hb.heartbeat, "slot_registered": hb.slot_registered, "links": links}),
        )?;
    } else {
        say!("Heartbeat {}: {}", args.slot, hb.heartbeat.status);
        if !hb.slot_registered {
            eprintln!("codenator: note: {} is not a registered slot", args.slot);
        }
    }
    Ok(0)
}
