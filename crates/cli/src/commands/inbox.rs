//! `codenator inbox [SLOT]`: read unread messages through the ledger's
//! inbox read, the same cursor `read_inbox` moves (one notion of unread).
//! `--peek` leaves them unread.
//!
//! `inbox SLOT` acts as SLOT (unless `--as` says otherwise), from any
//! directory. When a slot reads its own inbox and finds a `task.assign`, it
//! claims its next task (oldest claimable first, dependencies honoured), as
//! the reference CLI claimed on read, unless it already has an active task;
//! the read and the claim are one transaction. The coordinator may read any
//! inbox (`--as coordinator`) but never claims for a worker.

use ledger::api;
use ledger::model::message::TASK_ASSIGN;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whose inbox, and who reads it (default: the caller).
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
    let ctx = env.ctx(&store, args.slot.as_deref())?;
    let slot = args
        .slot
        .clone()
        .unwrap_or_else(|| ctx.caller.slot().to_string());
    let req = api::ReadInbox {
        slot: slot.clone(),
        mark_read: Some(!args.peek),
        limit: Some(args.limit),
    };
    let (ans, claimed) = if args.peek || args.no_claim {
        (store.read_inbox(&ctx, &req)?, None)
    } else {
        let r = store.read_inbox_and_claim(&ctx, &req)?;
        (r.inbox, r.claimed)
    };
    let msgs = &ans.messages;
    if ctx.caller.is_coordinator()
        && slot != "coordinator"
        && !args.peek
        && msgs.iter().any(|m| m.kind == TASK_ASSIGN)
    {
        eprintln!(
            "codenator: note: task assignments read from {slot}'s inbox stay queued; the slot claims them itself"
        );
    }
    if args.json {
        print_json(msgs)?;
    } else {
        if msgs.is_empty() {
            say!("Inbox {slot}: empty");
        } else {
            say!("Inbox {slot}: {} message(s)", msgs.len());
            for m in msgs {
                say!("");
                say!(
                    "[{}] {} -> {}  ({}, seq {})",
                    m.created_at,
                    m.from,
                    m.to,
                    m.kind,
                    m.seq
                );
                say!("Subject: {}", m.subject);
                say!("{}", m.message);
            }
        }
        let left = if args.peek {
            ans.remaining_unread.saturating_sub(msgs.len())
        } else {
            ans.remaining_unread
        };
        if left > 0 {
            say!("({left} more unread; read again for the rest)");
        }
    }
    if let Some(t) = claimed {
        eprintln!("codenator: claimed task {} ({})", t.task_id, t.title);
    }
    Ok(0)
}
