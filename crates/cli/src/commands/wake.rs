//! `codenator watch`, `wake` and `daemon`: the wake plan, and its delivery
//! through Codex (the `wake` crate does the work; this parses, prints and
//! picks the exit code).
//!
//! `wake` and `daemon` are dry runs unless `--send`: they write nothing.
//! With `--send`, every attempt is recorded in the ledger (`wake/`).

use std::time::Duration;

use anyhow::{Context, bail};
use wake::cycle::{self, CycleOptions, CycleReport, Outcome, PromptChoice};
use wake::daemon::{self, LoopOptions, Stop};
use wake::{McpLaunch, Settings};

use app_server_client::protocol::{ApprovalPolicy, SandboxMode};
use app_server_client::{Codex, CodexHome};

use super::{Common, Env, print_json};

/// How to run Codex, for every command that does.
#[derive(clap::Args, Debug, Clone)]
pub struct CodexArgs {
    /// The Codex CLI (default: $CODENATOR_CODEX, else `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex: Option<std::path::PathBuf>,
    /// never or on-request (on-request: Codex asks, and the wake answers:
    /// codenator's tools and safe commands in the worktree yes, the rest no).
    #[arg(long, default_value = "on-request")]
    pub approval_policy: String,
    /// read-only, workspace-write or danger-full-access.
    #[arg(long, default_value = "workspace-write")]
    pub sandbox: String,
    /// Reasoning effort of the turn (none, minimal, low, medium, high, xhigh).
    #[arg(long)]
    pub effort: Option<String>,
    /// Seconds a turn may run before it is interrupted.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Do not start codenator's MCP server in the woken session (rely on the
    /// user's Codex configuration instead).
    #[arg(long)]
    pub no_mcp: bool,
}

impl CodexArgs {
    pub fn settings(&self, env: &Env) -> anyhow::Result<Settings> {
        let approval_policy = ApprovalPolicy::parse(&self.approval_policy).with_context(|| {
            format!(
                "--approval-policy must be never or on-request (got {:?})",
                self.approval_policy
            )
        })?;
        let sandbox = SandboxMode::parse(&self.sandbox).with_context(|| {
            format!(
                "--sandbox must be read-only, workspace-write or danger-full-access (got {:?})",
                self.sandbox
            )
        })?;
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            bail!("--timeout must be a positive number of seconds");
        }
        let home = host::codex::home().context("CODEX_HOME and HOME are both unset")?;
        let mcp = if self.no_mcp {
            None
        } else {
            Some(McpLaunch {
                program: host::current_exe().context("cannot find this program's executable")?,
                args: vec!["mcp".into()],
            })
        };
        Ok(Settings {
            // Absolute: the woken session's MCP server runs in the worktree.
            root: host::root::absolute(
                &host::cwd().context("cannot read the current directory")?,
                &env.root()?.path,
            ),
            codex: Codex::new(self.codex.clone().unwrap_or_else(host::codex::cli)),
            home: CodexHome::new(home),
            mcp,
            approval_policy,
            sandbox,
            effort: self.effort.clone(),
            timeout: Duration::from_secs_f64(self.timeout),
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub common: Common,
    /// A heartbeat older than this is overdue.
    #[arg(long, default_value_t = 15.0)]
    pub heartbeat_max_minutes: f64,
    /// Plan as of this ISO-8601 time (default now).
    #[arg(long)]
    pub checked_at: Option<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `watch`: the wake plan, with the app-server delivery of each wake.
pub fn watch(env: &Env, args: &WatchArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let plan = cycle::plan(
        &store,
        &ctx,
        &CycleOptions {
            heartbeat_max_minutes: Some(args.heartbeat_max_minutes),
            checked_at: args.checked_at.clone(),
            ..options()
        },
    )?;
    if args.json {
        print_json(&plan)?;
        return Ok(0);
    }
    say!("Codenator watch: {}", plan.decision);
    say!(
        "wake={} notify={} blocked={} slots={}",
        plan.summary.wake,
        plan.summary.notify,
        plan.summary.blocked,
        plan.summary.slots
    );
    for a in plan
        .actions
        .iter()
        .filter(|a| !matches!(a.action.as_str(), "ok" | "idle_healthy"))
    {
        let mut line = format!("- {} {}", a.row.slot, a.action);
        if !a.reason.is_empty() {
            line.push_str(&format!(" ({})", a.reason));
        }
        match &a.delivery {
            Some(ledger::api::Delivery::AppServer { thread_id, .. }) => {
                line.push_str(&format!(" thread={thread_id}"))
            }
            Some(ledger::api::Delivery::NeedsThread) => line.push_str(" thread=missing"),
            _ => {}
        }
        if let Some(w) = &a.last_wake {
            line.push_str(&format!(
                " last_wake={} {}{}",
                w.created_at,
                w.status,
                if w.unchanged_since {
                    " (nothing changed since)"
                } else {
                    ""
                }
            ));
        }
        say!("{line}");
    }
    Ok(0)
}

/// What `wake` and `daemon` share: which slots, which prompt.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// Deliver the ready wakes (default: a dry run that writes nothing).
    #[arg(long)]
    pub send: bool,
    /// Only this slot (repeat for several).
    #[arg(long = "slot", value_name = "SLOT")]
    pub slots: Vec<String>,
    /// Send this text instead of the planned prompt.
    #[arg(long, conflicts_with = "prompt_mode")]
    pub prompt: Option<String>,
    /// `work`: the guarded work prompt (heartbeat, read the inbox, claim
    /// only a delivered task, stay in the worktree, test, commit, report).
    #[arg(long, value_parser = ["work"])]
    pub prompt_mode: Option<String>,
    /// A heartbeat older than this is overdue.
    #[arg(long, default_value_t = 15.0)]
    pub heartbeat_max_minutes: f64,
    #[command(flatten)]
    pub codex: CodexArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn options() -> CycleOptions {
    CycleOptions {
        send: false,
        slots: Vec::new(),
        prompt: PromptChoice::Planned,
        require_explicit_prompt: false,
        requeue_expired: false,
        heartbeat_max_minutes: None,
        checked_at: None,
    }
}

impl SendArgs {
    fn options(&self) -> CycleOptions {
        CycleOptions {
            send: self.send,
            slots: self.slots.clone(),
            prompt: match (&self.prompt, &self.prompt_mode) {
                (Some(p), _) => PromptChoice::Text(p.clone()),
                (None, Some(_)) => PromptChoice::Work,
                (None, None) => PromptChoice::Planned,
            },
            heartbeat_max_minutes: Some(self.heartbeat_max_minutes),
            ..options()
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct WakeArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub send: SendArgs,
}

/// `wake`: deliver (or, without `--send`, show) each ready wake once.
pub fn wake(env: &Env, args: &WakeArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let settings = args.send.codex.settings(env)?;
    let report = crate::tokio_runtime()?.block_on(cycle::run(
        &store,
        &ctx,
        &settings,
        &args.send.options(),
    ))?;
    if args.send.json {
        print_json(&report)?;
    } else {
        say!(
            "Codenator wake: {} send={}",
            if report.ok { "OK" } else { "BLOCKED" },
            report.send
        );
        print_cycle(&report)?;
    }
    Ok(if report.ok { 0 } else { 1 })
}

fn print_cycle(r: &CycleReport) -> anyhow::Result<()> {
    let s = &r.summary;
    say!(
        "{} at {}: planned={} sent={} blocked={} failed={} backoff={} requeued={}",
        r.decision,
        r.checked_at,
        s.planned,
        s.sent,
        s.blocked,
        s.failed,
        s.backoff,
        s.requeued
    );
    for t in &r.requeued {
        say!(
            "  requeued {} ({}): its lease expired at {}",
            t.task_id,
            t.slot,
            t.lease_expired_at
        );
    }
    for a in &r.actions {
        let what = match &a.outcome {
            Outcome::Planned => format!(
                "would wake thread {}",
                a.thread_id.as_deref().unwrap_or("?")
            ),
            Outcome::Blocked { reason } => format!("blocked: {reason}"),
            Outcome::Backoff { since, attempt } => {
                format!("not woken again: nothing changed since its wake at {since} ({attempt})")
            }
            Outcome::Sent {
                status,
                route,
                reason,
                error,
                total_ms,
            } => {
                let mut s = format!("{status} via {route} ({reason}, {total_ms} ms)");
                if let Some(e) = error {
                    s.push_str(&format!(": {e}"));
                }
                s
            }
        };
        let id = a
            .attempt_id
            .as_deref()
            .map(|i| format!(" [{i}]"))
            .unwrap_or_default();
        say!("  {} {}: {what}{id}", a.slot, a.action);
    }
    Ok(())
}

/// One line of `daemon --json`.
#[derive(serde::Serialize)]
struct CycleLine<'a> {
    cycle: u64,
    report: &'a CycleReport,
}

#[derive(clap::Args, Debug)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub common: Common,
    /// One cycle (the default).
    #[arg(long, conflicts_with = "loop_")]
    pub once: bool,
    /// Repeat cycles every --interval until --max-cycles, SIGINT or SIGTERM.
    #[arg(long = "loop")]
    pub loop_: bool,
    /// Seconds between cycles.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Stop after this many cycles (0 or absent: until a signal).
    #[arg(long)]
    pub max_cycles: Option<u64>,
    /// Requeue active tasks whose lease expired before each cycle (coordinator).
    #[arg(long)]
    pub requeue_expired: bool,
    #[command(flatten)]
    pub send: SendArgs,
}

/// `daemon`: cycles, each printed as it happens; a slot woken with nothing
/// changed since is left alone.
pub fn daemon(env: &Env, args: &DaemonArgs) -> anyhow::Result<u8> {
    if !(args.interval.is_finite() && args.interval >= 0.0) {
        bail!("--interval must be a number of seconds");
    }
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let settings = args.send.codex.settings(env)?;
    let options = CycleOptions {
        require_explicit_prompt: true,
        requeue_expired: args.requeue_expired,
        ..args.send.options()
    };
    let lp = LoopOptions {
        interval: Duration::from_secs_f64(args.interval),
        max_cycles: if args.loop_ {
            args.max_cycles.filter(|m| *m > 0)
        } else {
            Some(1)
        },
    };
    let json = args.send.json;
    if !json {
        say!(
            "Codenator daemon: send={} {}",
            options.send,
            match lp.max_cycles {
                Some(1) => "one cycle".to_string(),
                Some(n) => format!("{n} cycles every {:?}", lp.interval),
                None => format!("every {:?} until SIGINT or SIGTERM", lp.interval),
            }
        );
    }
    let summary = crate::tokio_runtime()?.block_on(daemon::run(
        &store,
        &ctx,
        &settings,
        &options,
        &lp,
        |n, report| {
            if json {
                say!(
                    "{}",
                    serde_json::to_string(&CycleLine { cycle: n, report })?
                );
            } else {
                say!("cycle {n}:");
                print_cycle(report)?;
            }
            Ok(())
        },
    ))?;
    if json {
        say!("{}", serde_json::to_string(&summary)?);
    } else {
        let why = match &summary.stopped {
            Stop::MaxCycles => "cycle count reached".to_string(),
            Stop::Signal(s) => format!("stopped by {s}"),
        };
        say!(
            "Codenator daemon: {} cycles={} ({why})",
            if summary.ok { "OK" } else { "BLOCKED" },
            summary.cycles
        );
    }
    Ok(if summary.ok { 0 } else { 1 })
}
