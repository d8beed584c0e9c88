//! `codenator thread-start`, `thread-discover` and `app-server-proof`: slot
//! threads and the harmless end-to-end proof (the work is in the `wake`
//! crate).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use app_server_client::Codex;
use app_server_client::threads::{Server, Started};
use wake::threads::{self, ThreadStart};

use super::wake::CodexArgs;
use super::{Common, Env, absolute_string, print_json};

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    pub common: Common,
    /// The slot the thread is for.
    #[arg(long)]
    pub slot: String,
    /// The thread's working directory (the slot's worktree).
    #[arg(long)]
    pub cwd: PathBuf,
    /// The readiness turn's prompt (default: reply READY_<SLOT>).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Text the reply must contain (default with the default prompt: READY_<SLOT>).
    #[arg(long)]
    pub expected: Option<String>,
    /// Use this listening app-server (ws://HOST:PORT or unix://PATH) instead
    /// of starting one; it is registered as the slot's app_server_url.
    #[arg(long)]
    pub url: Option<String>,
    #[command(flatten)]
    pub codex: CodexArgs,
    #[arg(long)]
    pub json: bool,
}

fn print_started(s: &Started, json: bool, extra: Option<bool>) -> anyhow::Result<()> {
    if json {
        return Ok(());
    }
    say!("{}", if s.ok { "PASS" } else { "FAIL" });
    say!("reason: {}", s.reason);
    say!("thread: {}", s.thread_id.as_deref().unwrap_or("-"));
    say!("turn: {}", s.turn_id.as_deref().unwrap_or("-"));
    say!("agent: {}", s.evidence.agent_text_tail.trim());
    if let Some(e) = &s.error {
        say!("error: {e}");
    }
    if let Some(r) = extra {
        say!("registered: {r}");
    }
    say!("elapsed: {} ms", s.elapsed_ms);
    Ok(())
}

/// `thread-start`: a persistent thread with one readiness turn, registered
/// as the slot's `app_server_thread_id`.
pub fn start(env: &Env, args: &StartArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let mut settings = args.codex.settings(env)?;
    // The readiness turn needs no ledger tools.
    settings.mcp = None;
    let cwd = PathBuf::from(absolute_string(&args.cwd)?);
    let report = crate::tokio_runtime()?.block_on(threads::start(
        &store,
        &ctx,
        &settings,
        &ThreadStart {
            slot: args.slot.clone(),
            cwd,
            prompt: args.prompt.clone(),
            expected: args.expected.clone(),
            url: args.url.clone(),
            timeout: settings.timeout,
        },
    ))?;
    if args.json {
        print_json(&report)?;
    }
    print_started(&report.started, args.json, Some(report.registered))?;
    Ok(if report.registered { 0 } else { 1 })
}

#[derive(clap::Args, Debug)]
pub struct DiscoverArgs {
    #[command(flatten)]
    pub common: Common,
    /// Where Codex keeps its session files (default: $CODEX_HOME/sessions).
    #[arg(long)]
    pub sessions_root: Option<PathBuf>,
    /// Read at most this many session files, newest first.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    /// Only this slot (repeat for several).
    #[arg(long = "slot", value_name = "SLOT")]
    pub slots: Vec<String>,
    /// Register the proposed threads (only `app_server_thread_id` changes).
    #[arg(long)]
    pub apply: bool,
    #[arg(long)]
    pub json: bool,
}

/// `thread-discover`: propose threads for slots without one.
pub fn discover(env: &Env, args: &DiscoverArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let dir = match &args.sessions_root {
        Some(d) => d.clone(),
        None => app_server_client::CodexHome::new(
            host::codex::home().context("CODEX_HOME and HOME are both unset")?,
        )
        .sessions_dir(),
    };
    let mut report = threads::discover(&store, &ctx, &dir, args.limit, &args.slots)?;
    if args.apply {
        threads::apply(&store, &ctx, &mut report)?;
    }
    if args.json {
        print_json(&report)?;
        return Ok(0);
    }
    say!(
        "Codenator thread discovery: {} session file(s) in {}",
        report.scanned,
        report.sessions_dir
    );
    for p in &report.proposals {
        say!(
            "  {} -> {} ({}) {}",
            p.slot,
            p.thread_id,
            p.confidence,
            p.title
        );
    }
    for s in &report.skipped {
        say!("  {} skipped: {}", s.slot, s.reason);
    }
    if args.apply {
        say!("applied: {}", report.applied.len());
    } else if !report.proposals.is_empty() {
        say!("(dry run: --apply registers them)");
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct ProofArgs {
    /// A listening app-server (ws://HOST:PORT or unix://PATH); default: start one.
    #[arg(long)]
    pub url: Option<String>,
    /// The thread's directory (default: the current one).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// The Codex CLI (default: $CODENATOR_CODEX, else `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex: Option<PathBuf>,
    /// Seconds the turn may take.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    #[arg(long)]
    pub json: bool,
}

/// `app-server-proof`: an ephemeral read-only thread answers a token.
pub fn proof(args: &ProofArgs) -> anyhow::Result<u8> {
    let cwd = match &args.cwd {
        Some(c) => PathBuf::from(absolute_string(c)?),
        None => host::cwd().context("cannot read the current directory")?,
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let server = match &args.url {
        Some(u) => Server::Url(u.clone()),
        None => Server::Spawn(Codex::new(
            args.codex.clone().unwrap_or_else(host::codex::cli),
        )),
    };
    let started = crate::tokio_runtime()?.block_on(threads::proof(
        &server,
        &cwd,
        Duration::from_secs_f64(args.timeout),
    ));
    if args.json {
        print_json(&started)?;
    }
    print_started(&started, args.json, None)?;
    Ok(if started.ok { 0 } else { 1 })
}
