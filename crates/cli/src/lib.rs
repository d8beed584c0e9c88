//! `codenator`: the command line. Parses arguments and dispatches to one
//! module per command; all state goes through the `ledger` crate, the host
//! (environment, current directory, git) through the `host` crate.
//!
//! Two thin binaries run [`main`]: `codenator` and `codextrator` (the
//! legacy name), which behaves identically.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// `println!` that returns a closed stdout as an error (`?`) instead of
/// panicking; see `commands::out`.
macro_rules! say {
    ($($t:tt)*) => {
        $crate::commands::out(format_args!($($t)*))?
    };
}

mod admin;
mod bench;
mod commands;
mod demo;
mod doctor;
mod mcp_client;

use commands::{Common, Env};

const EXIT_CODES: &str = "Exit codes: 0 success (also when stdout is closed early, as by `| head`); \
1 the command ran and found problems (doctor: problems remain; watchdog-check --exit-code: NOTIFY); \
2 usage error, refusal or runtime error (printed on stderr as `codenator: <message>`). \
hook-post-tool-use always exits 0.";

/// Coordinate many Codex sessions on one codebase through a durable ledger.
#[derive(Parser, Debug)]
#[command(name = "codenator", version, about, propagate_version = true, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the ledger over MCP stdio (the same server as `codenator-mcp`).
    Mcp {
        /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the current directory).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Slot this session speaks for (default: $AURALIS_CODENATOR_AGENT, $AURALIS_CODEXTRATOR_AGENT,
        /// then the slot bound to the calling Codex thread).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Run a coordinator and two workers through real MCP server processes on
    /// a local ledger, then print the Focus Board.
    Demo(demo::Args),
    /// Measure the real server over stdio: cold start, latencies, growth,
    /// concurrent writers, memory, against the fsync floor.
    Bench(bench::Args),
    /// Serve the read-only admin dashboard of the ledger (prints its URL).
    Admin(admin::Args),
    /// Check the ledger for damage and index drift; `--repair` fixes what can
    /// be fixed without losing data.
    Doctor(doctor::Args),
    /// Create the store under --root (or the current directory).
    Init(commands::init::Args),
    /// Register or update a slot (fields not given keep their value).
    Register(commands::register::Args),
    /// Send a message to a slot (or `all`).
    Send(commands::send::Args),
    /// Read a slot's unread messages (`--peek` leaves them unread).
    Inbox(commands::inbox::Args),
    /// Slots with unread counts and current tasks.
    Status(commands::status::StatusArgs),
    /// One line per slot: status, unread, heartbeat, task, focus.
    Slots(commands::status::SlotsArgs),
    /// Queue a task for a worker slot (coordinator).
    TaskCreate(commands::tasks::CreateArgs),
    /// List tasks, open and closed (filter by slot, status, milestone, lane, text).
    TaskList(commands::tasks::ListArgs),
    /// One task's whole story: record, status history, lease and messages.
    TaskShow(commands::tasks::ShowArgs),
    /// Change a task's status, commit, tests or blockers.
    TaskUpdate(commands::tasks::UpdateArgs),
    /// Turn a worker's unread plain messages into queued tasks (coordinator).
    TaskImportInbox(commands::tasks::ImportArgs),
    /// Put active tasks whose lease expired back in their slot's queue (coordinator).
    RequeueExpired(commands::tasks::RequeueArgs),
    /// Record a slot's heartbeat (ok, failed or stale).
    Heartbeat(commands::heartbeat::Args),
    /// What to do about each slot.
    Recovery(commands::recovery::RecoveryArgs),
    /// Should the coordinator be notified? Snoozes what was already notified.
    WatchdogCheck(commands::recovery::WatchdogArgs),
    /// Report the slot's HEAD commit to the coordinator (once per commit).
    ReportCommit(commands::report::Args),
    /// Codex PostToolUse hook: report a `git commit` the session just made.
    HookPostToolUse(commands::hook::PostArgs),
    /// Print a Codex hooks.json that runs `hook-post-tool-use`.
    HookTemplate(commands::hook::TemplateArgs),
    /// Can background jobs run here: Codex and its version, a model provider, the MCP server
    /// and plugin registered, the ledger readable. Exit 1 only when jobs cannot run.
    Health(commands::health::Args),
    /// Background Codex workers: start, status, output, capture, wait, kill, prioritize.
    Job(commands::jobs::JobArgs),
    /// Every job: state, elapsed, tokens, files, summary, exit code, pid, thread, queue position.
    Jobs(commands::jobs::ListArgs),
    /// Bring messages the reference CLI left under inbox/<slot>/ into the
    /// ledger now (other commands do it on first use).
    ImportLegacyInbox(commands::legacy::Args),
    /// Print the wake plan: which slots to wake, on which thread.
    Watch(commands::wake::WatchArgs),
    /// Wake idle slots through Codex (a dry run unless --send).
    Wake(commands::wake::WakeArgs),
    /// Wake cycles on an interval, with backoff (a dry run unless --send).
    Daemon(commands::wake::DaemonArgs),
    /// Start a persistent Codex thread for a slot, run one readiness turn,
    /// register it.
    ThreadStart(commands::threads::StartArgs),
    /// Propose threads for slots from Codex's session files (--apply registers them).
    ThreadDiscover(commands::threads::DiscoverArgs),
    /// The harmless end-to-end proof: an ephemeral read-only thread answers a token.
    AppServerProof(commands::threads::ProofArgs),
}

/// The name the program was started as: `codextrator` keeps the legacy name
/// in usage texts.
fn program_name() -> &'static str {
    let arg0 = std::env::args_os().next().unwrap_or_default();
    let base = std::path::Path::new(&arg0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base.starts_with("codextrator") {
        "codextrator"
    } else {
        "codenator"
    }
}

fn no_global(top: &Common, command: &str) -> anyhow::Result<()> {
    if top.root.is_some() || top.as_slot.is_some() {
        anyhow::bail!(
            "--root and --as before `{command}` are not supported; pass --root after the command"
        );
    }
    Ok(())
}

pub fn main() -> ExitCode {
    let name = program_name();
    let matches = Cli::command().name(name).bin_name(name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let top = cli.common;
    // Exit codes: 0 success, 1 the command ran and found problems, 2 error.
    let outcome = match cli.command {
        Command::Mcp { root, agent } => {
            codenator_mcp::init_logging();
            let root = root.or(top.root);
            let agent = agent.or(top.as_slot);
            codenator_mcp::Config::resolve(root, agent)
                .and_then(codenator_mcp::run_stdio)
                .map(|()| 0)
        }
        Command::Demo(args) => no_global(&top, "demo").and_then(|()| {
            tokio_runtime()
                .and_then(|rt| rt.block_on(demo::run(args)))
                .map(|()| 0)
        }),
        Command::Bench(args) => no_global(&top, "bench").and_then(|()| {
            tokio_runtime()
                .and_then(|rt| rt.block_on(bench::run(args)))
                .map(|()| 0)
        }),
        Command::Admin(a) => admin::run(&top, &a),
        Command::Doctor(a) => doctor::run(&Env::new(&top, &a.common), &a),
        Command::Init(a) => commands::init::run(&Env::new(&top, &a.common), &a),
        Command::Register(a) => commands::register::run(&Env::new(&top, &a.common), &a),
        Command::Send(a) => commands::send::run(&Env::new(&top, &a.common), &a),
        Command::Inbox(a) => commands::inbox::run(&Env::new(&top, &a.common), &a),
        Command::Status(a) => commands::status::status(&Env::new(&top, &a.common), &a),
        Command::Slots(a) => commands::status::slots(&Env::new(&top, &a.common), &a),
        Command::TaskCreate(a) => commands::tasks::create(&Env::new(&top, &a.common), &a),
        Command::TaskList(a) => commands::tasks::list_tasks(&Env::new(&top, &a.common), &a),
        Command::TaskShow(a) => commands::tasks::show(&Env::new(&top, &a.common), &a),
        Command::TaskUpdate(a) => commands::tasks::update(&Env::new(&top, &a.common), &a),
        Command::TaskImportInbox(a) => {
            commands::tasks::import_inbox(&Env::new(&top, &a.common), &a)
        }
        Command::RequeueExpired(a) => {
            commands::tasks::requeue_expired(&Env::new(&top, &a.common), &a)
        }
        Command::Heartbeat(a) => commands::heartbeat::run(&Env::new(&top, &a.common), &a),
        Command::Recovery(a) => commands::recovery::recovery(&Env::new(&top, &a.common), &a),
        Command::WatchdogCheck(a) => commands::recovery::watchdog(&Env::new(&top, &a.common), &a),
        Command::ReportCommit(a) => commands::report::run(&Env::new(&top, &a.common), &a),
        Command::HookPostToolUse(a) => {
            commands::hook::post_tool_use(&Env::new(&top, &a.common), &a)
        }
        Command::HookTemplate(a) => commands::hook::template(&Env::new(&top, &a.common), &a),
        Command::Health(a) => commands::health::run(&Env::new(&top, &a.common), &a),
        Command::Job(a) => commands::jobs::run(&top, &a),
        Command::Jobs(a) => commands::jobs::list(&Env::new(&top, &a.common), &a),
        Command::ImportLegacyInbox(a) => commands::legacy::run(&Env::new(&top, &a.common), &a),
        Command::Watch(a) => commands::wake::watch(&Env::new(&top, &a.common), &a),
        Command::Wake(a) => commands::wake::wake(&Env::new(&top, &a.common), &a),
        Command::Daemon(a) => commands::wake::daemon(&Env::new(&top, &a.common), &a),
        Command::ThreadStart(a) => commands::threads::start(&Env::new(&top, &a.common), &a),
        Command::ThreadDiscover(a) => commands::threads::discover(&Env::new(&top, &a.common), &a),
        Command::AppServerProof(a) => {
            no_global(&top, "app-server-proof").and_then(|()| commands::threads::proof(&a))
        }
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        // The reader went away (`| head`): stop quietly, as Unix tools do.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codenator: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Was the error a write to a closed stdout?
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub(crate) fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
