//! The ledger commands of `codenator` (the reference CLI's commands), one
//! module per command or group. Everything they read or write goes through
//! `ledger::Store` operations, as the caller this module resolves, so the
//! CLI and the MCP server share one notion of unread, one task record and
//! one heartbeat.
//!
//! Root: the one rule of `host::root` (`--root`, before or after the
//! command; the root variables; the nearest directory at or above the
//! current one holding a store), then the nested-root rule.
//!
//! Identity: `--as SLOT` > the slot the command names as its actor (`inbox
//! SLOT`, `heartbeat SLOT`, `report-commit --slot`, `send --from`), so a
//! script or a Codex automation acts for its slot from any directory > the
//! slot whose registered worktree holds the current directory (deepest
//! worktree wins) > the coordinator. The ledger enforces the same rules as
//! for the MCP tools.
//!
//! First use: every command that opens the store first brings in messages
//! the reference CLI left as files under `inbox/<slot>/` (see
//! `ledger::maint::legacy_import`); `import-legacy-inbox` does it explicitly.
//!
//! Output goes through [`out`], which returns an error instead of panicking
//! when stdout is closed (`codenator task-list | head -1`); `main` exits
//! quietly on it.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use host::root::Root;
use ledger::views::worktrees::SlotMatch;
use ledger::{Caller, Ctx, SlotId, Store};
use serde::Serialize;

pub mod health;
pub mod heartbeat;
pub mod hook;
pub mod inbox;
pub mod init;
pub mod jobs;
pub mod legacy;
pub mod recovery;
pub mod register;
pub mod report;
pub mod send;
pub mod status;
pub mod tasks;
pub mod threads;
pub mod wake;

/// Options every ledger command takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Common {
    /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the nearest
    /// directory at or above the current one holding .auralis-codextrator).
    #[arg(long, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Act as this slot (default: the slot the command names, else the slot whose registered
    /// worktree holds the current directory, else the coordinator).
    #[arg(long = "as", value_name = "SLOT")]
    pub as_slot: Option<String>,
}

/// Where and as whom a command runs.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub root: Option<PathBuf>,
    pub as_slot: Option<String>,
}

impl Env {
    /// Combine the options given before the command with those after it
    /// (after wins).
    pub fn new(before: &Common, after: &Common) -> Env {
        Env {
            root: after.root.clone().or_else(|| before.root.clone()),
            as_slot: after.as_slot.clone().or_else(|| before.as_slot.clone()),
        }
    }

    /// The root by the one rule.
    pub fn root(&self) -> anyhow::Result<Root> {
        Ok(Root::resolve(self.root.as_deref())?)
    }

    /// Open the existing store and bring in the reference CLI's inbox files
    /// (first use).
    pub fn store(&self) -> anyhow::Result<Store> {
        let store = self.store_without_import()?;
        auto_import(&store);
        Ok(store)
    }

    /// Open the existing store, nothing else.
    pub fn store_without_import(&self) -> anyhow::Result<Store> {
        Ok(self.root()?.open_existing()?)
    }

    /// The caller: `--as`, else `actor` (the slot the command names as the
    /// one acting), else the slot owning the current directory, else the
    /// coordinator.
    pub fn ctx(&self, store: &Store, actor: Option<&str>) -> anyhow::Result<Ctx> {
        let slot = match self.as_slot.as_deref().or(actor).filter(|s| !s.is_empty()) {
            Some(s) => SlotId::parse("--as", s)?,
            None => infer_slot(store)?.unwrap_or_else(SlotId::coordinator),
        };
        Ok(Ctx::new(Caller::new(slot)))
    }
}

/// The slot whose registered worktree holds the current directory.
pub fn infer_slot(store: &Store) -> anyhow::Result<Option<SlotId>> {
    let cwd = host::cwd().context("cannot read the current directory")?;
    match store.slot_for_path(&cwd)? {
        SlotMatch::One(s) => Ok(SlotId::stored(&s)),
        SlotMatch::None => Ok(None),
        SlotMatch::Ambiguous(slots) => bail!(
            "the current directory is inside the worktree of several slots ({}); pass --as SLOT",
            slots.join(", ")
        ),
    }
}

/// Run the v1 inbox import if there is anything to import; say so on
/// stderr (stdout stays the command's). A failure is a warning: the
/// command itself still runs.
fn auto_import(store: &Store) {
    match store.import_legacy_inbox_if_pending() {
        Ok(Some(r)) => {
            let t = &r.totals;
            eprintln!(
                "codenator: brought the v1 inbox into the ledger: {} unread message(s) ({} appended), \
                 {} read message(s) marked read, {} file(s) skipped",
                t.archived_files, t.appended, t.marked_read, t.skipped
            );
        }
        Ok(None) => {}
        Err(e) => eprintln!("codenator: warning: the v1 inbox import failed: {e}"),
    }
}

/// A path argument made absolute against the current directory, as a string.
pub fn absolute_string(path: &Path) -> anyhow::Result<String> {
    let cwd = host::cwd().context("cannot read the current directory")?;
    let p = host::root::absolute(&cwd, path);
    p.to_str()
        .map(str::to_owned)
        .with_context(|| format!("path is not valid UTF-8: {}", p.display()))
}

/// `--message`, else stdin when it is not a terminal; must not be empty.
pub fn message_or_stdin(given: Option<String>, command: &str) -> anyhow::Result<String> {
    let text = match given {
        Some(m) => m,
        None if !std::io::stdin().is_terminal() => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the message from stdin")?;
            s
        }
        None => String::new(),
    };
    if text.trim().is_empty() {
        bail!("{command} requires --message or a message on stdin");
    }
    Ok(text)
}

/// Write a line to stdout. A closed stdout is an error (`BrokenPipe`), not
/// a panic: `main` ends the program quietly on it.
pub fn out(args: std::fmt::Arguments) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_fmt(args)?;
    o.write_all(b"\n")
}

/// Print a value as pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// The first 7 characters of a sha.
pub fn short(sha: &str) -> &str {
    &sha[..7.min(sha.len())]
}

/// Split a comma-separated list option.
pub fn list(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}
