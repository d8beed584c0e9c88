//! The store: where it is, how it is opened, and its transactions.
//!
//! [`Store::read`] and [`Store::write`] are the only way to its records:
//! they take the store lock (shared or exclusive) and hand out a
//! [`ReadTxn`] or [`WriteTxn`] that record and index functions require, so
//! "the caller holds the lock" is a type. This is also the seam where
//! another storage backend would plug in: operations speak to a
//! transaction, not to paths.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{IoContext, Result};
use crate::fs::{FileLock, LockMode};

pub mod layout;
mod txn;

pub use layout::{Layout, NESTED_ROOT_DIR, STORE_DIR};
pub use txn::{ReadTxn, WriteTxn};

/// Apply the nested-root rule: a v2 store under `ROOT/.codextrator-mcp-root`
/// wins over a legacy (v1 or missing) store directly under ROOT.
pub fn resolve_root(root: &Path) -> PathBuf {
    let nested = root.join(NESTED_ROOT_DIR);
    let version = |r: &Path| -> u64 {
        crate::fs::read_json::<Value>(&r.join(STORE_DIR).join("registry.json"))
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

/// Does `root` hold a store (directly, or nested)?
pub fn holds_store(root: &Path) -> bool {
    root.join(STORE_DIR).is_dir() || root.join(NESTED_ROOT_DIR).join(STORE_DIR).is_dir()
}

/// An open store. Cheap to clone; holds no file handles between calls.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    layout: Layout,
}

impl Store {
    /// Open the store for the absolute `root` (after the nested-root rule),
    /// creating its directories and a v2 registry if missing.
    pub fn open(root: &Path) -> Result<Store> {
        if !root.is_absolute() {
            return Err(crate::Error::invalid(
                "root",
                format!("must be an absolute path (got {})", root.display()),
            ));
        }
        let root = resolve_root(root);
        let store = Store {
            layout: Layout::new(root.join(STORE_DIR)),
            root,
        };
        for p in store.layout.subdirs() {
            fs::create_dir_all(&p).at(&p)?;
        }
        if !store.layout.registry().exists() {
            let txn = store.write()?;
            crate::records::registry::create_if_missing(&txn)?;
        }
        Ok(store)
    }

    /// Open an existing store without creating anything (for read-only tools).
    pub fn open_existing(root: &Path) -> Option<Store> {
        let root = resolve_root(root);
        let layout = Layout::new(root.join(STORE_DIR));
        layout
            .registry()
            .is_file()
            .then_some(Store { root, layout })
    }

    /// The effective root (after the nested-root rule).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A read transaction: the shared lock, held until it is dropped. Readers
    /// see no half-finished multi-file change and write nothing.
    pub fn read(&self) -> Result<ReadTxn<'_>> {
        Ok(ReadTxn::new(
            self,
            FileLock::acquire(&self.layout.lock(), LockMode::Shared)?,
        ))
    }

    /// A write transaction: the exclusive lock, held until it is dropped.
    /// Everything a mutation changes is re-read inside it.
    pub fn write(&self) -> Result<WriteTxn<'_>> {
        Ok(WriteTxn::new(ReadTxn::new(
            self,
            FileLock::acquire(&self.layout.lock(), LockMode::Exclusive)?,
        )))
    }
}
