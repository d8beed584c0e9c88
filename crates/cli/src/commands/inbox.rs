//! `codenator inbox [SLOT]`: read unread messages through `read_inbox`, the
//! same cursor the MCP tool moves (one notion of unread). `--peek` leaves
//! them unread.
//!
//! When a slot reads its own inbox and finds a `task.assign`, it claims its
//! next task through `claim_next_task` (oldest claimable first, dependencies
//! honoured), as the reference CLI claimed on read, unless it already has an
//! active task. The coordinator may read any inbox but never claims for a
//! worker.

use ledger::api;
use serde_json::{Value, json};

use super::{Common, Env, print_json, s};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose inbox (default: the caller's).
    pub slot: Option<String>,
    #[command(flatten)]
    pub common: Common,
    /// Show the messages but leave them unread.
    #[arg(long)]
    pub peek: bool,
    /// Print the messages as a JSON array.
    #[arg(long)]
    pub json: bool,
    /// Most messages to read (1-200); the rest stay unread.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Do not claim a task on reading a task.assign.
    #[arg(long)]
    pub no_claim: bool,
}

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let slot = args
        .slot
        .clone()
        .unwrap_or_else(|| ctx.caller.slot().to_string());
    let ans = store.read_inbox(
        &ctx,
        &api::ReadInbox {
            slot: slot.clone(),
            mark_read: Some(!args.peek),
            limit: Some(args.limit),
        },
    )?;
    let empty = Vec::new();
    let msgs = ans["messages"].as_array().unwrap_or(&empty);
    let has_assign = msgs.iter().any(|m| s(m, "type") == "task.assign");
    let mut claimed = Value::Null;
    if has_assign && !args.peek && !args.no_claim && !ctx.caller.is_coordinator() {
        if ctx.caller.slot() == slot {
            let status = store.get_status(
                &ctx,
                &api::GetStatus {
                    slot: Some(slot.clone()),
                    limit: Some(200),
                    offset: None,
                },
            )?;
            let busy = status["open_tasks"]["tasks"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| s(t, "status") == "active"));
            if !busy {
                let c = store.claim_next_task(
                    &ctx,
                    &api::ClaimNextTask {
                        slot: slot.clone(),
                        run_id: None,
                    },
                )?;
                if c["claimed"] == json!(true) {
                    claimed = c["task"].clone();
                }
            }
        }
    } else if has_assign && !args.peek && ctx.caller.is_coordinator() && slot != "coordinator" {
        eprintln!(
            "codenator: note: task assignments read from {slot}'s inbox stay queued; the slot claims them itself"
        );
    }
    if args.json {
        print_json(&Value::Array(msgs.clone()))?;
    } else {
        if msgs.is_empty() {
            println!("Inbox {slot}: empty");
        } else {
            println!("Inbox {slot}: {} message(s)", msgs.len());
            for m in msgs {
                println!();
                println!(
                    "[{}] {} -> {}  ({}, seq {})",
                    s(m, "created_at"),
                    s(m, "from"),
                    s(m, "to"),
                    s(m, "type"),
                    m["seq"]
                );
                println!("Subject: {}", s(m, "subject"));
                println!("{}", s(m, "message"));
            }
        }
        let remaining = ans["remaining_unread"].as_u64().unwrap_or(0);
        let left = if args.peek {
            remaining.saturating_sub(msgs.len() as u64)
        } else {
            remaining
        };
        if left > 0 {
            println!("({left} more unread; read again for the rest)");
        }
    }
    if !claimed.is_null() {
        eprintln!(
            "codenator: claimed task {} ({})",
            s(&claimed, "task_id"),
            s(&claimed, "title")
        );
    }
    Ok(0)
}
