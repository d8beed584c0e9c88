//! The host layer: the only code in codenator that reads environment
//! variables, the current directory, `CODEX_HOME`, or runs git.
//!
//! The ledger takes everything it needs as arguments; the MCP server and
//! the CLI ask this crate for the root, the agent, the slot that owns the
//! current directory and the facts of a commit, so the rules live in one
//! place:
//!
//! - [`root`]: where the store is (one rule for the server, the CLI and
//!   `doctor`).
//! - [`git`]: the facts of a reported commit, read from its worktree.
//! - [`codex`]: `CODEX_HOME`, what Codex keeps there, and which Codex CLI to run.

pub mod codex;
pub mod git;
pub mod root;

use std::path::PathBuf;

use ledger::SlotId;

/// Environment variables naming the root, new name first, then the legacy one.
pub const ROOT_VARS: [&str; 2] = ["AURALIS_CODENATOR_ROOT", "AURALIS_CODEXTRATOR_ROOT"];
/// Environment variables naming the agent (the caller's slot).
pub const AGENT_VARS: [&str; 2] = ["AURALIS_CODENATOR_AGENT", "AURALIS_CODEXTRATOR_AGENT"];

/// The first of `vars` that is set and not blank, with its name.
pub fn first_env(vars: &[&'static str]) -> Option<(&'static str, String)> {
    vars.iter()
        .filter_map(|v| std::env::var(v).ok().map(|s| (*v, s)))
        .find(|(_, s)| !s.trim().is_empty())
}

/// The current directory.
pub fn cwd() -> std::io::Result<PathBuf> {
    std::env::current_dir()
}

/// How to open a store on this host: the machine's boot id (a journal
/// written in another boot is replayed: see `ledger::store::journal`), and
/// the test switches `CODENATOR_FAULT` (`<point>:<nth>`, e.g.
/// `after_journal:3`: abort there) and `CODENATOR_POWER_LOG` (record what a
/// power loss would take back). `CODENATOR_BOOT_ID` stands in for the boot
/// id (tests simulate a reboot with it).
/// Should the MCP server put each call's own cost in the answer's `_meta`
/// (`codenator/fsyncs`, `codenator/micros`)? `CODENATOR_CALL_STATS=1`:
/// what `codenator bench` reads to count fsyncs per call.
pub fn call_stats() -> bool {
    std::env::var("CODENATOR_CALL_STATS").is_ok_and(|v| v == "1")
}

pub fn store_options() -> ledger::store::Options {
    let boot_id = std::env::var("CODENATOR_BOOT_ID")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(boot_id);
    let fault = std::env::var("CODENATOR_FAULT").ok().and_then(|v| {
        let (point, nth) = v.split_once(':')?;
        Some((ledger::store::FaultPoint::parse(point)?, nth.parse().ok()?))
    });
    let power_log = std::env::var_os("CODENATOR_POWER_LOG").map(PathBuf::from);
    ledger::store::Options {
        boot_id,
        fault,
        power_log,
    }
}

/// The machine's boot id, where the system says (Linux).
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The agent: `flag`, else `AURALIS_CODENATOR_AGENT`, else
/// `AURALIS_CODEXTRATOR_AGENT`; checked as a slot id. None means "the slot
/// bound to the calling Codex thread".
pub fn agent(flag: Option<&str>) -> ledger::Result<Option<SlotId>> {
    let given = flag
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .or_else(|| first_env(&AGENT_VARS).map(|(_, v)| v));
    given.map(|a| SlotId::parse("agent", &a)).transpose()
}

/// How to install tmux, for the errors that need it.
pub const TMUX_INSTALL: &str = "install it (`apt-get install -y tmux`, `brew install tmux`)";

/// The tmux executable on `PATH` (`job start --tmux`), when there is one.
pub fn tmux() -> Option<PathBuf> {
    which::which("tmux").ok()
}

/// This program's own executable (to start `codenator mcp` for a woken slot).
pub fn current_exe() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}
