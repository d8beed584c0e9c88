//! `codenator recovery` and `codenator watchdog-check`.
//!
//! `recovery` says what to do about each slot (restart its thread, read its
//! inbox, continue, requeue an expired claim, await integration, ...).
//! `watchdog-check` decides whether to notify the coordinator, snoozing
//! alerts already notified; it exits 0 either way (the decision is data, as
//! in the reference) unless `--exit-code` asks for 1 on NOTIFY.

use ledger::api;
use ledger::model::watchdog::Alert;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct RecoveryArgs {
    #[command(flatten)]
    pub common: Common,
    /// A heartbeat or an unclaimed queued task older than this is overdue.
    #[arg(long, default_value_t = 15.0)]
    pub window_minutes: f64,
    /// Evaluate as of this ISO-8601 time (default now).
    #[arg(long)]
    pub checked_at: Option<String>,
    /// Print `{checked_at, window_minutes, rows}` as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn recovery(env: &Env, args: &RecoveryArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.recovery(
        &ctx,
        &api::Recovery {
            window_minutes: Some(args.window_minutes),
            checked_at: args.checked_at.clone(),
        },
    )?;
    if args.json {
        print_json(&ans)?;
        return Ok(0);
    }
    say!("Codenator recovery");
    for r in &ans.rows {
        let row = &r.slot.row;
        let mut line = format!(
            "{} {} unread={} status={}",
            row.slot, r.recommendation, row.unread, row.status
        );
        if !r.reason.is_empty() {
            line.push_str(&format!(" reason={}", r.reason));
        }
        say!("{line}");
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct WatchdogArgs {
    #[command(flatten)]
    pub common: Common,
    /// The coordinator's heartbeat is overdue after this many minutes.
    #[arg(long, default_value_t = 6.0)]
    pub heartbeat_max_minutes: f64,
    /// An alert notified this recently is suppressed.
    #[arg(long, default_value_t = 15.0)]
    pub snooze_minutes: f64,
    /// Window for the workers' recovery rules.
    #[arg(long, default_value_t = 15.0)]
    pub window_minutes: f64,
    /// Evaluate as of this ISO-8601 time (default now).
    #[arg(long)]
    pub checked_at: Option<String>,
    /// Decide, but remember nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit 1 when the decision is NOTIFY.
    #[arg(long)]
    pub exit_code: bool,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

fn alert_line(a: &Alert) -> String {
    format!(
        "- {} {}: {}{}",
        a.slot,
        a.kind,
        a.reason,
        if a.detail.is_empty() {
            String::new()
        } else {
            format!(" {}", a.detail)
        }
    )
}

pub fn watchdog(env: &Env, args: &WatchdogArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.watchdog_check(
        &ctx,
        &api::WatchdogCheck {
            heartbeat_max_minutes: Some(args.heartbeat_max_minutes),
            snooze_minutes: Some(args.snooze_minutes),
            window_minutes: Some(args.window_minutes),
            checked_at: args.checked_at.clone(),
            dry_run: args.dry_run,
        },
    )?;
    let notify = ans.decision == "NOTIFY";
    if args.json {
        print_json(&ans)?;
    } else {
        say!("Codenator watchdog: {}", ans.decision);
        let list = if notify { &ans.alerts } else { &ans.suppressed };
        if list.is_empty() {
            say!("No actionable coordinator watchdog alert.");
        }
        for a in list {
            say!("{}", alert_line(a));
        }
    }
    Ok(if notify && args.exit_code { 1 } else { 0 })
}
