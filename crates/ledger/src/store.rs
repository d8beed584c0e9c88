//! The store directory: where it is, what it contains, and the lock.
//!
//! Layout (compatible with the reference, new entries are additive):
//!
//! ```text
//! <root>/.auralis-codextrator/
//!   registry.json            slots (primary)
//!   messages/ledger.jsonl    every message, one JSON line each (primary, append-only)
//!   cursors/<slot>.json      read cursors (primary)
//!   tasks/<task_id>.json     tasks (primary)
//!   heartbeat/<slot>.json    last heartbeat per slot (primary)
//!   board/focus-board.json   milestones and lanes (primary)
//!   reports/*.json           commit reports (primary)
//!   wake/*.json              wake attempts (primary)
//!   index/                   derived indexes, rebuilt from the primaries at will
//!   store.lock               advisory lock taken by every reader and writer
//! ```

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{IoContext, Result};
use crate::fsutil::{self, Durability};
use crate::registry::Registry;
use crate::time;

/// Name of the store directory under the root (kept from the legacy name).
pub const STORE_DIR: &str = ".auralis-codextrator";
/// Marker directory of the nested-root rule.
pub const NESTED_ROOT_DIR: &str = ".codextrator-mcp-root";

const SUBDIRS: &[&str] = &[
    "archive",
    "board",
    "cursors",
    "heartbeat",
    "hooks",
    "inbox",
    "messages",
    "reports",
    "tasks",
    "wake",
    "watchdog",
    "index",
    "index/inbox",
];

/// Apply the nested-root rule: a v2 store under `ROOT/.codextrator-mcp-root`
/// wins over a legacy (v1 or missing) store directly under ROOT.
pub fn resolve_root(root: &Path) -> PathBuf {
    let nested = root.join(NESTED_ROOT_DIR);
    let version = |r: &Path| -> u64 {
        fsutil::read_json::<Value>(&r.join(STORE_DIR).join("registry.json"))
            .ok()
            .flatten()
            .and_then(|v| v.get("version").and_then(Value::as_u64))
            .unwrap_or(0)
    };
    if nested.join(STORE_DIR).join("registry.json").is_file()
        && version(&nested) >= 2
        && version(root) < 2
    {
        nested
    } else {
        root.to_path_buf()
    }
}

/// An open store. Cheap to clone; holds no file handles between calls.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    dir: PathBuf,
}

/// A held lock on the store. Released on drop.
pub struct Lock {
    file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs2::FileExt::unlock(&self.file);
    }
}

impl Store {
    /// Open the store for `root` (after the nested-root rule), creating its
    /// directories and a v2 registry if missing. `agent` becomes the
    /// coordinator identity of a registry created here.
    pub fn open(root: &Path, agent: &str) -> Result<Store> {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir().at(Path::new("."))?.join(root)
        };
        let root = resolve_root(&root);
        let dir = root.join(STORE_DIR);
        for sub in SUBDIRS {
            let p = dir.join(sub);
            fs::create_dir_all(&p).at(&p)?;
        }
        let store = Store { root, dir };
        if !store.path("registry.json").exists() {
            let _lock = store.lock_exclusive()?;
            if !store.path("registry.json").exists() {
                let now = time::now();
                let reg = json!({
                    "version": 2,
                    "name": "auralis-codenator",
                    "legacy_names": ["auralis-codextrator"],
                    "transport": "mcp",
                    "created_at": now,
                    "updated_at": now,
                    "coordinator": {"slot": "coordinator", "identity": agent, "status": "active"},
                    "sessions": {}
                });
                fsutil::write_json(&store.path("registry.json"), &reg, Durability::Durable)?;
            }
        }
        Ok(store)
    }

    /// Open an existing store without creating anything (for read-only tools).
    pub fn open_existing(root: &Path) -> Option<Store> {
        let root = resolve_root(root);
        let dir = root.join(STORE_DIR);
        dir.join("registry.json")
            .is_file()
            .then_some(Store { root, dir })
    }

    /// The effective root (after the nested-root rule).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the store directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn lock_file(&self) -> Result<File> {
        let p = self.path("store.lock");
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .at(&p)
    }

    /// Take the exclusive lock: every mutation runs under it and re-reads what
    /// it changes after taking it. A fresh file handle each time, so that two
    /// threads of one process exclude each other too (flock is per handle).
    pub fn lock_exclusive(&self) -> Result<Lock> {
        let file = self.lock_file()?;
        fs2::FileExt::lock_exclusive(&file).at(&self.path("store.lock"))?;
        Ok(Lock { file })
    }

    /// Take the shared lock: readers see no half-finished multi-file change.
    pub fn lock_shared(&self) -> Result<Lock> {
        let file = self.lock_file()?;
        fs2::FileExt::lock_shared(&file).at(&self.path("store.lock"))?;
        Ok(Lock { file })
    }

    /// Load the registry (the caller holds a lock).
    pub fn registry(&self) -> Result<Registry> {
        Registry::load(self)
    }
}
