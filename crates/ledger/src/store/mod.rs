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

pub mod journal;
pub mod layout;
pub(crate) mod parsed;
mod txn;

pub use journal::FaultPoint;
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

/// How a store is opened: what the host knows that the ledger cannot ask.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The current boot of the machine (Linux: `/proc/sys/kernel/random/boot_id`):
    /// a journal written in another boot is replayed (see [`journal`]).
    pub boot_id: Option<String>,
    /// Test switch: abort the process at this point of a commit, the nth
    /// time it is reached.
    pub fault: Option<(FaultPoint, u64)>,
    /// Test switch: record what a power loss would take back (see
    /// [`crate::fs::power`]).
    pub power_log: Option<PathBuf>,
}

/// An open store. Cheap to clone; holds no file handles between calls.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    layout: Layout,
    options: std::sync::Arc<Options>,
    faults_seen: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Where this process last saw the journal end (see
    /// [`journal::EndHint`]): a hint, checked on every use.
    journal_end: std::sync::Arc<std::sync::Mutex<Option<journal::EndHint>>>,
}

impl Store {
    /// Open the store for the absolute `root` (after the nested-root rule),
    /// creating its directories and a v2 registry if missing.
    pub fn open(root: &Path) -> Result<Store> {
        Store::open_with(root, Options::default())
    }

    /// [`Store::open`] with what the host knows (the boot id) and the test
    /// switches. Under the exclusive lock, a journal written in another
    /// boot is replayed before anything else reads the store.
    pub fn open_with(root: &Path, options: Options) -> Result<Store> {
        if !root.is_absolute() {
            return Err(crate::Error::invalid(
                "root",
                format!("must be an absolute path (got {})", root.display()),
            ));
        }
        if let Some(p) = &options.power_log {
            crate::fs::power::enable(p).at(p)?;
        }
        let root = resolve_root(root);
        let store = Store {
            layout: Layout::new(root.join(STORE_DIR)),
            root,
            options: std::sync::Arc::new(options),
            faults_seen: Default::default(),
            journal_end: Default::default(),
        };
        for p in store.layout.subdirs() {
            fs::create_dir_all(&p).at(&p)?;
        }
        // A journal from another boot is replayed first, whole: it holds
        // the last entry too, and redoing that one alone first would put
        // its ledger lines where the lines the power loss took belong.
        let txn = store.lock_for_write()?;
        journal::recover_after_boot(&txn)?;
        journal::begin(&txn, journal::Settle::All)?;
        crate::records::registry::create_if_missing(&txn)?;
        txn.commit()?;
        Ok(store)
    }

    /// Open an existing store without creating anything (for read-only tools).
    pub fn open_existing(root: &Path) -> Option<Store> {
        let root = resolve_root(root);
        let layout = Layout::new(root.join(STORE_DIR));
        layout.registry().is_file().then_some(Store {
            root,
            layout,
            options: Default::default(),
            faults_seen: Default::default(),
            journal_end: Default::default(),
        })
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
        let txn = self.lock_for_write()?;
        journal::begin(&txn, journal::Settle::Stale)?;
        Ok(txn)
    }

    /// The exclusive lock, before any recovery.
    fn lock_for_write(&self) -> Result<WriteTxn<'_>> {
        Ok(WriteTxn::new(ReadTxn::new(
            self,
            FileLock::acquire(&self.layout.lock(), LockMode::Exclusive)?,
        )))
    }

    /// Run `f` in a write transaction and commit what it staged when it
    /// succeeds; on an error nothing it staged is written.
    pub fn transact<T>(&self, f: impl FnOnce(&WriteTxn) -> Result<T>) -> Result<T> {
        let txn = self.write()?;
        let out = f(&txn)?;
        txn.commit()?;
        Ok(out)
    }

    /// The boot id the host gave, if any.
    pub fn boot_id(&self) -> Option<&str> {
        self.options.boot_id.as_deref()
    }

    /// Where this process last saw the journal end.
    pub(crate) fn journal_end_hint(&self) -> Option<journal::EndHint> {
        self.journal_end.lock().ok().and_then(|h| *h)
    }

    /// Remember where the journal ends (after this process wrote to it).
    pub(crate) fn keep_journal_end(&self, hint: journal::EndHint) {
        if let Ok(mut h) = self.journal_end.lock() {
            *h = Some(hint);
        }
    }

    /// The fault-injection switch (a test's): abort at `at` the nth time.
    pub(crate) fn fault(&self, at: FaultPoint) {
        if let Some((point, nth)) = self.options.fault
            && point == at
        {
            let seen = self
                .faults_seen
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if seen == nth {
                tracing::error!(?at, "fault injection: aborting the process");
                std::process::abort();
            }
        }
    }
}
