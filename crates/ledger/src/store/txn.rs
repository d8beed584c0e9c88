//! Read and write transactions.
//!
//! A [`ReadTxn`] holds the store lock (shared, or exclusive when it is the
//! read side of a [`WriteTxn`]); record and index readers take one. A
//! [`WriteTxn`] holds the exclusive lock; record writers take one. A write
//! transaction dereferences to its read side, so a mutation reads what it
//! changes under the same lock, its own staged writes included.
//!
//! A write transaction **stages** its effects (records to put, ledger lines
//! to append, the work index's update) and [`WriteTxn::commit`]s them as
//! one journal entry (see [`super::journal`]): nothing reaches a record
//! file before the entry is durable, so a call that fails, or a process
//! that dies before the commit, leaves nothing half-done. Dropping a
//! transaction without committing discards what it staged.

use std::cell::RefCell;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::journal::{self, Entry, FaultPoint};
use crate::error::Result;
use crate::fs::{self, FileLock, LockMode};
use crate::index::inbox::IndexState;
use crate::index::work::WorkIndex;
use crate::model::Message;
use crate::store::{Layout, Store};

/// What a write transaction will commit.
#[derive(Default)]
pub(crate) struct Staged {
    /// Records to put, in order (a later put of a path supersedes).
    pub puts: Vec<(PathBuf, Vec<u8>)>,
    /// Messages to append, with their seqs.
    pub messages: Vec<Message>,
    /// The next seq to give a message (known once one is staged).
    pub next_seq: Option<u64>,
    /// The work index after this transaction's task and report writes.
    pub work: Option<WorkIndex>,
    /// Task and report changes for the work index's log, in order.
    pub work_log: Vec<crate::index::work::LogLine>,
    /// Records to remove (a later put of a path takes it back).
    pub deletes: Vec<PathBuf>,
}

impl Staged {
    fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.messages.is_empty()
            && self.work.is_none()
            && self.deletes.is_empty()
    }
}

/// The store seen under its lock.
#[derive(Debug)]
pub struct ReadTxn<'s> {
    store: &'s Store,
    lock: FileLock,
    staged: Option<RefCell<Staged>>,
    /// In a write transaction: other writers' entries not yet applied
    /// (see [`journal::Pending`]), seen below what this one staged.
    pending: RefCell<journal::Pending>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("puts", &self.puts.len())
            .field("messages", &self.messages.len())
            .finish()
    }
}

impl<'s> ReadTxn<'s> {
    pub(super) fn new(store: &'s Store, lock: FileLock) -> ReadTxn<'s> {
        ReadTxn {
            store,
            lock,
            staged: None,
            pending: Default::default(),
        }
    }

    pub fn store(&self) -> &'s Store {
        self.store
    }

    pub fn layout(&self) -> &'s Layout {
        self.store.layout()
    }

    /// True when this transaction may write (it holds the exclusive lock).
    pub fn is_exclusive(&self) -> bool {
        self.lock.mode() == LockMode::Exclusive
    }

    /// The bytes of a record: what this transaction staged for it, else the
    /// file's. `Ok(None)` when it does not exist.
    pub fn read_bytes(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        if let Some(s) = &self.staged {
            let s = s.borrow();
            if s.deletes.iter().any(|p| p == path) {
                return Ok(None);
            }
            if let Some((_, b)) = s.puts.iter().rev().find(|(p, _)| p == path) {
                return Ok(Some(b.clone()));
            }
        }
        if let Some(b) = self.pending.borrow().record(path) {
            return Ok(b.map(<[u8]>::to_vec));
        }
        fs::read_bytes(path)
    }

    /// A JSON record (see [`ReadTxn::read_bytes`]).
    pub fn read_json<T: DeserializeOwned>(&self, path: &Path) -> Result<Option<T>> {
        match self.read_bytes(path)? {
            Some(b) => fs::parse_json(path, &b).map(Some),
            None => Ok(None),
        }
    }

    /// Does the record exist (staged, or on disk)?
    pub fn exists(&self, path: &Path) -> bool {
        if let Some(s) = &self.staged {
            let s = s.borrow();
            if s.deletes.iter().any(|p| p == path) {
                return false;
            }
            if s.puts.iter().any(|(p, _)| p == path) {
                return true;
            }
        }
        if let Some(b) = self.pending.borrow().record(path) {
            return b.is_some();
        }
        path.exists()
    }

    /// File names this transaction staged, or pending entries put,
    /// directly under `dir` (a listing of a directory must add them to
    /// what is on disk).
    pub fn staged_names_in(&self, dir: &Path) -> Vec<String> {
        let mut names = self.pending.borrow().names_in(dir);
        let Some(s) = &self.staged else {
            return names;
        };
        for n in s
            .borrow()
            .puts
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .filter_map(|(p, _)| p.file_name()?.to_str())
        {
            if !names.iter().any(|m| m == n) {
                names.push(n.to_owned());
            }
        }
        names
    }

    /// The work-index changes of the pending entries, in order (empty
    /// outside a write transaction, and when nothing is pending).
    pub(crate) fn pending_work(&self) -> Vec<crate::index::work::LogLine> {
        self.pending.borrow().work_lines().cloned().collect()
    }

    /// The work index this transaction staged, if it changed it.
    pub(crate) fn staged_work(&self) -> Option<WorkIndex> {
        self.staged.as_ref().and_then(|s| s.borrow().work.clone())
    }
}

/// The store under its exclusive lock: the only way to change a record.
#[derive(Debug)]
pub struct WriteTxn<'s> {
    read: ReadTxn<'s>,
    /// The inbox index state as this transaction last saved or checked it
    /// (see [`crate::index::inbox::sync_index`]).
    inbox_state: RefCell<Option<IndexState>>,
    /// The journal, opened once for the transaction (see
    /// [`super::journal`]): its last line is read, its entry and apply
    /// mark written, through one handle.
    journal: RefCell<Option<journal::Handle>>,
}

impl<'s> WriteTxn<'s> {
    pub(super) fn new(mut read: ReadTxn<'s>) -> WriteTxn<'s> {
        read.staged = Some(RefCell::new(Staged::default()));
        WriteTxn {
            read,
            inbox_state: RefCell::new(None),
            journal: RefCell::new(None),
        }
    }

    /// See the entries other writers have not applied yet (set once, by
    /// [`journal::begin`]).
    pub(crate) fn set_pending(&self, pending: journal::Pending) {
        *self.read.pending.borrow_mut() = pending;
    }

    /// The transaction's journal handle (None until the journal opens it).
    pub(crate) fn journal_handle(&self) -> std::cell::RefMut<'_, Option<journal::Handle>> {
        self.journal.borrow_mut()
    }

    /// The inbox index state this transaction kept, taken out (None: read
    /// it from disk and check it).
    pub(crate) fn take_inbox_state(&self) -> Option<IndexState> {
        self.inbox_state.borrow_mut().take()
    }

    /// Keep the inbox index state this transaction saved or checked.
    pub(crate) fn keep_inbox_state(&self, state: IndexState) {
        *self.inbox_state.borrow_mut() = Some(state);
    }

    fn staged(&self) -> std::cell::RefMut<'_, Staged> {
        // A WriteTxn always has a staging area (set in `new`).
        match &self.read.staged {
            Some(s) => s.borrow_mut(),
            None => unreachable!("a write transaction stages"),
        }
    }

    /// Stage a JSON record (pretty-printed, the reference's format).
    pub fn put_json<T: Serialize + ?Sized>(&self, path: &Path, value: &T) -> Result<()> {
        let bytes = fs::encode_json(path, value, true)?;
        let mut s = self.staged();
        s.deletes.retain(|p| p != path);
        s.puts.push((path.to_path_buf(), bytes));
        Ok(())
    }

    /// Stage the removal of a record (journaled like a put; a record that
    /// does not exist is no error).
    pub fn delete(&self, path: &Path) {
        let mut s = self.staged();
        s.puts.retain(|(p, _)| p != path);
        if !s.deletes.iter().any(|p| p == path) {
            s.deletes.push(path.to_path_buf());
        }
    }

    /// Stage a message; it gets the next seq after `ledger_max` (the
    /// ledger's highest, which the caller read under this lock), the
    /// pending entries' messages and the messages staged before it.
    pub(crate) fn stage_message(&self, ledger_max: u64, mut msg: Message) -> Message {
        let pending_max = self.read.pending.borrow().max_seq().unwrap_or(0);
        let mut s = self.staged();
        let seq = s.next_seq.unwrap_or(ledger_max.max(pending_max) + 1);
        msg.seq = seq;
        s.next_seq = Some(seq + 1);
        s.messages.push(msg.clone());
        msg
    }

    /// Stage the work index after this transaction's changes, and the log
    /// lines that describe them.
    pub(crate) fn stage_work(&self, idx: WorkIndex, log: Vec<crate::index::work::LogLine>) {
        let mut s = self.staged();
        s.work = Some(idx);
        s.work_log.extend(log);
    }

    /// Abort here when the test switch says so (see [`FaultPoint`]).
    pub(crate) fn fault(&self, at: FaultPoint) {
        self.store().fault(at);
    }

    /// Write what is staged so far as one journal entry (no fsync yet).
    fn write_entry(&self) -> Result<Option<journal::Written>> {
        let staged = std::mem::take(&mut *self.staged());
        if staged.is_empty() {
            return Ok(None);
        }
        let layout = self.layout();
        let messages = staged
            .messages
            .iter()
            .map(|m| {
                let mut line = fs::encode_json(&layout.ledger(), m, false)?;
                line.pop();
                Ok(line)
            })
            .collect::<Result<Vec<_>>>()?;
        // The last put of each path wins; earlier ones need not be written.
        let mut puts: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for (p, b) in staged.puts {
            puts.retain(|(q, _)| *q != p);
            puts.push((p, b));
        }
        let mut entry = Entry::new(puts, messages);
        entry.deletes = staged.deletes;
        entry.work = staged.work_log;
        if entry.is_empty() {
            return Ok(None);
        }
        journal::write_entry(self, entry, staged.work).map(Some)
    }

    /// Commit what is staged so far, keeping the lock: for an operation
    /// that must read its own ledger lines back, or whose next step (moving
    /// files) must follow durable records. The entry's fsync is taken
    /// under the lock (it covers the pending entries too, which are then
    /// applied with it).
    pub fn flush(&self) -> Result<()> {
        let Some(written) = self.write_entry()? else {
            return Ok(());
        };
        written.sync(self.layout())?;
        self.fault(FaultPoint::AfterJournal);
        // Everything pending is applied with this entry.
        *self.read.pending.borrow_mut() = Default::default();
        journal::apply_through(self, &written)
    }

    /// Commit the transaction and release the lock: the entry is written
    /// under the lock, fsynced without it (writers in other processes
    /// meanwhile write theirs, seeing this one as pending, and one fsync
    /// may cover several entries), then applied under the lock again,
    /// with the entries before it that are not applied yet. Returns once
    /// it is applied: the call's answer follows a durable, visible write.
    pub fn commit(self) -> Result<()> {
        let Some(written) = self.write_entry()? else {
            return Ok(());
        };
        let store = self.store();
        drop(self);
        #[cfg(test)]
        let Some(written) = hold::keep(written) else {
            return Ok(());
        };
        written.sync(store.layout())?;
        store.fault(FaultPoint::AfterJournal);
        let txn = store.lock_for_write()?;
        journal::apply_through(&txn, &written)
    }
}

impl<'s> Deref for WriteTxn<'s> {
    type Target = ReadTxn<'s>;
    fn deref(&self) -> &ReadTxn<'s> {
        &self.read
    }
}

/// Test switch: hold this thread's commits after their entry is written
/// and the lock released, as writers waiting for their fsync; the test
/// finishes them when it wants.
#[cfg(test)]
pub(crate) mod hold {
    use super::journal::Written;
    use std::cell::RefCell;

    thread_local! {
        static HELD: RefCell<Option<Vec<Written>>> = const { RefCell::new(None) };
    }

    /// Hold every commit from now on.
    pub fn start() {
        HELD.with(|h| *h.borrow_mut() = Some(Vec::new()));
    }

    /// Stop holding; the entries held, in order.
    pub fn stop() -> Vec<Written> {
        HELD.with(|h| h.borrow_mut().take().unwrap_or_default())
    }

    /// Keep `w` when holding (None), else hand it back.
    pub(super) fn keep(w: Written) -> Option<Written> {
        HELD.with(|h| match &mut *h.borrow_mut() {
            Some(held) => {
                held.push(w);
                None
            }
            None => Some(w),
        })
    }
}
