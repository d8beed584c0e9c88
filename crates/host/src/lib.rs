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

/// Should the MCP server put each call's own cost in the answer's `_meta`
/// (`codenator/fsyncs`, `codenator/micros`, `codenator/lock_micros`)?
/// `CODENATOR_CALL_STATS=1`: what `codenator bench` reads to count fsyncs
/// per call and the time each call holds the store's write lock.
pub fn call_stats() -> bool {
    std::env::var("CODENATOR_CALL_STATS").is_ok_and(|v| v == "1")
}

/// How to open a store on this host: the machine's boot id (a journal
/// written in another boot is replayed: see `ledger::store::journal`), and
/// the test switches `CODENATOR_FAULT` (`<point>:<nth>`, e.g.
/// `after_journal:3`: abort there) and `CODENATOR_POWER_LOG` (record what a
/// power loss would take back). `CODENATOR_BOOT_ID` stands in for the boot
/// id (tests simulate a reboot with it).
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

/// What names this boot of the machine: the same in every process until
/// the machine restarts, different after. Without one a store never
/// replays its journal (it cannot tell a restart from another process's
/// work), so Journaled records lost in a power loss would stay lost.
///
/// - Linux: `/proc/sys/kernel/random/boot_id`.
/// - macOS: the boot time (`kern.boottime`, to the microsecond), which the
///   kernel sets once per boot.
/// - Windows: the `BootId` DWORD that Windows increments at every boot,
///   under `HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters`.
///   Not checked here: whether a resume from hibernation (Fast Startup is
///   one) counts. Either way nothing is lost: a resume restores memory,
///   so a missed replay has nothing to put back, and a needless replay is
///   idempotent (it costs an index rebuild).
#[cfg(target_os = "linux")]
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// See the Linux version.
#[cfg(target_os = "macos")]
fn boot_id() -> Option<String> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>();
    // SAFETY: the name is NUL-terminated, and `tv`/`len` describe a
    // writable buffer of the size kern.boottime returns.
    let rc = unsafe {
        libc::sysctlbyname(
            c"kern.boottime".as_ptr(),
            (&raw mut tv).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (rc == 0 && tv.tv_sec > 0).then(|| format!("macos-{}.{:06}", tv.tv_sec, tv.tv_usec))
}

/// See the Linux version.
#[cfg(windows)]
fn boot_id() -> Option<String> {
    use windows_sys::Win32::System::Registry::{
        HKEY_LOCAL_MACHINE, RRF_RT_REG_DWORD, RegGetValueW,
    };
    let wide = |s: &str| -> Vec<u16> { s.encode_utf16().chain([0]).collect() };
    let key = wide(
        r"SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters",
    );
    let value = wide("BootId");
    let mut id: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as u32;
    // SAFETY: both names are NUL-terminated UTF-16 that outlive the call;
    // `id`/`len` describe a writable DWORD.
    let rc = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            key.as_ptr(),
            value.as_ptr(),
            RRF_RT_REG_DWORD,
            std::ptr::null_mut(),
            (&raw mut id).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| format!("windows-{id}"))
}

/// Elsewhere no boot id is known, and the journal is never replayed.
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn boot_id() -> Option<String> {
    None
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
