//! The ledger commands of `codenator` (the reference CLI's commands), one
//! module per command or group. Everything they read or write goes through
//! `ledger::Store` operations, as the caller this module resolves, so the
//! CLI and the MCP server share one notion of unread, one task record and
//! one heartbeat.
//!
//! Root: `--root` (before or after the command) > `AURALIS_CODENATOR_ROOT` >
//! `AURALIS_CODEXTRATOR_ROOT` > the nearest directory at or above the
//! current one that holds `.auralis-codextrator` (or a nested
//! `.codextrator-mcp-root/.auralis-codextrator`); then the nested-root rule,
//! exactly as the MCP server applies it.
//!
//! Identity: `--as SLOT` > the command's own identity flag where the
//! reference had one (`--from`, `--slot`) > the slot whose registered
//! worktree is the current directory or contains it (case-sensitive, deepest
//! worktree wins) > the coordinator. The ledger enforces the same rules as
//! for the MCP tools.
//!
//! First use: every command that opens the store first brings in messages
//! the reference CLI left as files under `inbox/<slot>/` (see
//! `ledger::legacy`); `import-legacy-inbox` does it explicitly.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ledger::store::{NESTED_ROOT_DIR, STORE_DIR};
use ledger::worktrees::SlotMatch;
use ledger::{Caller, Ctx, Store};
use serde_json::Value;

pub mod heartbeat;
pub mod hook;
pub mod inbox;
pub mod init;
pub mod legacy;
pub mod recovery;
pub mod register;
pub mod report;
pub mod send;
pub mod status;
pub mod tasks;

/// Options every ledger command takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Common {
    /// Ledger root (default: $AURALIS_CODENATOR_ROOT, $AURALIS_CODEXTRATOR_ROOT, then the nearest
    /// directory at or above the current one holding .auralis-codextrator).
    #[arg(long, value_name = "PATH")]
    pub root: Option<PathBuf>,
    /// Act as this slot (default: the slot whose registered worktree holds the current
    /// directory, else the coordinator).
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

    /// The root given by flag or environment, if any.
    pub fn explicit_root(&self) -> Option<PathBuf> {
        self.root.clone().or_else(|| {
            codenator_mcp::ROOT_VARS
                .iter()
                .filter_map(|v| std::env::var(v).ok())
                .find(|s| !s.trim().is_empty())
                .map(PathBuf::from)
        })
    }

    /// Find the existing store (see the module documentation), starting the
    /// upward search at `from` (default: the current directory).
    pub fn find_root(&self, from: Option<&Path>) -> anyhow::Result<PathBuf> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        if let Some(r) = self.explicit_root() {
            let r = absolute(&cwd, &r);
            let effective = ledger::store::resolve_root(&r);
            if !effective.join(STORE_DIR).is_dir() {
                bail!(
                    "no codenator store under {} (run `codenator init --root {}` first)",
                    r.display(),
                    r.display()
                );
            }
            return Ok(effective);
        }
        let start = from.map(Path::to_path_buf).unwrap_or(cwd);
        for dir in start.ancestors() {
            if dir.join(STORE_DIR).is_dir() || dir.join(NESTED_ROOT_DIR).join(STORE_DIR).is_dir() {
                return Ok(ledger::store::resolve_root(dir));
            }
        }
        bail!(
            "Could not find .auralis-codextrator. Run `codenator init` first, pass --root, or set \
             AURALIS_CODENATOR_ROOT (or the legacy AURALIS_CODEXTRATOR_ROOT)."
        )
    }

    /// Open the existing store and bring in the reference CLI's inbox files
    /// (first use).
    pub fn store(&self) -> anyhow::Result<Store> {
        let store = self.store_without_import(None)?;
        auto_import(&store);
        Ok(store)
    }

    /// Open the existing store, nothing else.
    pub fn store_without_import(&self, from: Option<&Path>) -> anyhow::Result<Store> {
        let root = self.find_root(from)?;
        Store::open(&root, ledger::ids::COORDINATOR)
            .with_context(|| format!("cannot open the store under {}", root.display()))
    }

    /// The caller: `--as`, else the command's identity flag, else the slot
    /// owning the current directory, else the coordinator.
    pub fn ctx(&self, store: &Store, flag: Option<&str>) -> anyhow::Result<Ctx> {
        Ok(Ctx::new(Caller::new(self.caller_slot(store, flag)?)))
    }

    /// The caller's slot and whether it was given (not inferred).
    pub fn caller_slot(&self, store: &Store, flag: Option<&str>) -> anyhow::Result<String> {
        if let Some(s) = self.as_slot.as_deref().or(flag).filter(|s| !s.is_empty()) {
            ledger::ids::slot("--as", s)?;
            return Ok(s.to_string());
        }
        Ok(infer_slot(store)?.unwrap_or_else(|| ledger::ids::COORDINATOR.to_string()))
    }
}

/// The slot whose registered worktree holds the current directory.
pub fn infer_slot(store: &Store) -> anyhow::Result<Option<String>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match store.slot_for_path(&cwd)? {
        SlotMatch::One(s) => Ok(Some(s)),
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
            let t = &r["totals"];
            eprintln!(
                "codenator: brought the v1 inbox into the ledger: {} unread message(s) ({} appended), \
                 {} read message(s) marked read, {} file(s) skipped",
                t["archived_files"], t["appended"], t["marked_read"], t["skipped"]
            );
        }
        Ok(None) => {}
        Err(e) => eprintln!("codenator: warning: the v1 inbox import failed: {e}"),
    }
}

/// `path` made absolute against `cwd`.
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// A path argument made absolute against the current directory, as a string.
pub fn absolute_string(path: &Path) -> anyhow::Result<String> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let p = absolute(&cwd, path);
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

/// Print JSON (pretty) on stdout.
pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A string field of a JSON answer ("" when missing).
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
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
