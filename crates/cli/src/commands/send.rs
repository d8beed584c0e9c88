//! `codenator send TO`: append a message through `send_message`.
//!
//! `--from` is the sender and the identity (it must be the caller: `--as`,
//! or the slot owning the current directory, else the coordinator). Types
//! written by their own commands (task.assign, commit_report, summary-pause
//! markers) are refused, as for the MCP tool.

use anyhow::Context;
use ledger::api;
use ledger::model::Payload;
use serde_json::Value;

use super::{Common, Env, message_or_stdin, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recipient slot, or `all`.
    pub to: String,
    #[command(flatten)]
    pub common: Common,
    /// Sender (default: the caller).
    #[arg(long)]
    pub from: Option<String>,
    /// Message body (default: read from stdin).
    #[arg(long, allow_hyphen_values = true)]
    pub message: Option<String>,
    /// Subject line.
    #[arg(long, allow_hyphen_values = true)]
    pub subject: Option<String>,
    /// Message type (default `message`).
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Task the message is about.
    #[arg(long)]
    pub task_id: Option<String>,
    /// Structured data: a JSON object.
    #[arg(long)]
    pub payload: Option<String>,
    /// Print the stored message as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(env: &Env, args: &Args) -> anyhow::Result<u8> {
    let message = message_or_stdin(args.message.clone(), "send")?;
    let payload: Option<Payload> = match &args.payload {
        Some(p) => {
            match serde_json::from_str::<Value>(p).context("--payload must be valid JSON")? {
                Value::Object(m) => Some(m),
                _ => anyhow::bail!("--payload must be a JSON object"),
            }
        }
        None => None,
    };
    let store = env.store()?;
    let ctx = env.ctx(&store, args.from.as_deref())?;
    let ans = store.send_message(
        &ctx,
        &api::SendMessage {
            to: args.to.clone(),
            message,
            from: Some(
                args.from
                    .clone()
                    .unwrap_or_else(|| ctx.caller.slot().to_string()),
            ),
            kind: args.kind.clone(),
            subject: args.subject.clone(),
            task_id: args.task_id.clone(),
            payload,
        },
    )?;
    if args.json {
        print_json(&ans)?;
    } else {
        say!("Sent {} to {}", ans.message.id, args.to);
        if !ans.recipient_registered {
            eprintln!("codenator: note: {} is not a registered slot", args.to);
        }
    }
    Ok(0)
}
