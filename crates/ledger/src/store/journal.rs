//! The write-ahead journal (`journal.jsonl`): one fsync per write call.
//!
//! A write transaction stages its effects (whole records to put, message
//! lines to append, work-index lines) and, at commit, writes them as **one
//! journal entry** where the lines end ([`write_entry`]). **Group commit:**
//! it then releases the store lock, fdatasyncs the journal (the call's
//! only fsync; it makes every line written before it durable, whoever
//! wrote it, so writers that overlap share fsyncs), and takes the lock
//! again to apply every entry up to its own that is not applied yet, in
//! journal order ([`apply_through`]): the message lines are appended to
//! the ledger and the records renamed into place (no fsync of their own),
//! the work index updated, and an **apply mark** written (no fsync).
//!
//! Write-ahead rule: no record file or ledger line is written before the
//! entry that describes it is durable. Every line carries the watermark
//! its writer saw ([`Watermark`]: every entry that starts before it is
//! applied), so the last line says which entries are **pending** (written,
//! not applied: their writers wait for their fsync, or died). A write
//! transaction sees them beneath what it stages ([`Pending`], read by
//! [`begin`]): their records, seqs and work-index lines, so it decides on
//! the store as they leave it. Readers under the shared lock do not:
//! nothing pending was acknowledged.
//!
//! What a crash leaves, and what puts it right:
//!
//! - **A process killed mid-commit** (the page cache survives): a torn
//!   last line is cut ([`settle_tail`]); a complete entry stays pending
//!   and is applied by the next writer's apply, by any writer once it is
//!   [`STALE_NS`] old, and by any process that opens the store. An apply
//!   cut short is redone without doubling anything ([`apply_run`]).
//! - **Power loss** (unsynced writes lost, in any order): the journal's
//!   header names the boot it was written in; a store opened in another
//!   boot replays every entry in order ([`recover_after_boot`]), rebuilds
//!   the indexes and checkpoints. A record whose file is newer than the
//!   entry (written after it, by a later entry or another tool) is not put
//!   back; a message whose seq the ledger already holds is not appended
//!   twice.
//! - **Bounded**: past [`CHECKPOINT_BYTES`] the journal is checkpointed:
//!   pending entries are fsynced and applied, the file system is synced
//!   (everything the journal describes is then durable on its own) and a
//!   new journal started; writers still waiting for their fsync find it
//!   replaced and their entry applied.
//!
//! **Written in place.** A new journal is its header followed by zero
//! bytes up to [`PREALLOCATED`], made durable once, and lines are written
//! over the zeros from the end of the last one. An entry's fdatasync then
//! need not write the inode: an append grows the file, and its new length
//! is a second write to the disk inside the same fdatasync (measured in
//! isolation here: 125-150 µs in place against 190-220 µs appended, p50;
//! ext4 without a journal still writes the inode when the file's times
//! changed, see the README).
//! Lines never hold a NUL byte (JSON escapes it), so the end of the lines
//! is the first NUL after them ([`find_end`]), and readers take NUL runs
//! for gaps between lines ([`read_lines`]). That also covers a journal an
//! older codenator wrote or appended to: one without zeros ends where the
//! file ends, and lines past a run of zeros are read in their order.
//!
//! The reference reads the record files directly: they are current as soon
//! as a call returns.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs::{self, Durability};
use crate::index::work::{LogLine, WorkIndex};
use crate::store::{Layout, ReadTxn, WriteTxn};

/// Past this size the journal is checkpointed and emptied.
pub const CHECKPOINT_BYTES: u64 = 1 << 20;

/// The size a new journal is written at (its header, then zeros): room for
/// the lines up to a checkpoint and the entry that crosses it. A larger
/// entry grows the file, as an append would.
pub const PREALLOCATED: u64 = CHECKPOINT_BYTES + (64 << 10);

/// The journal format this binary writes: 2 may carry zero padding (1
/// never did), 3 carries a watermark on every line (group commit); all
/// are read.
const FORMAT: u32 = 3;

/// A record to put: its path relative to the store, and its bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Put {
    pub path: String,
    pub text: String,
}

/// One line of the journal.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Line {
    /// The header: the journal format, and the boot it was written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// An entry: its id, when (ns since the epoch), the records and the
    /// ledger lines it writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u128>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub puts: Vec<Put>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Records the entry removes (store-relative paths), after its puts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deletes: Vec<String>,
    /// Work-index changes the entry makes (the lines its apply appends to
    /// the work log; a writer that sees the entry before it is applied
    /// adds them to the index it reads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) work: Vec<LogLine>,
    /// An apply mark: the entry `applied` is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// The watermark when the line was written: every entry that starts
    /// before this offset is applied (see [`Watermark`]). Absent in lines
    /// an older codenator wrote, which applied each entry under the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_to: Option<u64>,
}

/// Where a fault can be injected (the power-loss test's switch): the
/// process aborts there, the `nth` time it gets there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// The entry is durable, nothing applied.
    AfterJournal,
    /// The ledger lines are appended, the records not put.
    AfterMessages,
    /// Everything applied, no apply mark.
    BeforeMark,
}

impl FaultPoint {
    pub fn parse(s: &str) -> Option<FaultPoint> {
        match s {
            "after_journal" => Some(FaultPoint::AfterJournal),
            "after_messages" => Some(FaultPoint::AfterMessages),
            "before_mark" => Some(FaultPoint::BeforeMark),
            _ => None,
        }
    }
}

/// The entry's effects, in the order they are applied.
pub(crate) struct Entry {
    pub tx: String,
    pub at: u128,
    pub puts: Vec<(PathBuf, Vec<u8>)>,
    pub messages: Vec<Vec<u8>>,
    pub deletes: Vec<PathBuf>,
    pub work: Vec<LogLine>,
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Entry {
    pub fn new(puts: Vec<(PathBuf, Vec<u8>)>, messages: Vec<Vec<u8>>) -> Entry {
        Entry {
            tx: uuid::Uuid::new_v4().simple().to_string(),
            at: now_ns(),
            puts,
            messages,
            deletes: Vec::new(),
            work: Vec::new(),
        }
    }

    /// Does it change anything?
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.messages.is_empty()
            && self.deletes.is_empty()
            && self.work.is_empty()
    }

    /// The entry's line, written when every entry before `applied_to` is
    /// applied.
    fn to_line(&self, layout: &Layout, applied_to: u64) -> Result<Vec<u8>> {
        let line = Line {
            tx: Some(self.tx.clone()),
            at: Some(self.at),
            puts: self
                .puts
                .iter()
                .map(|(p, b)| Put {
                    path: layout.relative(p).into_owned(),
                    text: String::from_utf8_lossy(b).into_owned(),
                })
                .collect(),
            messages: self
                .messages
                .iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect(),
            deletes: self
                .deletes
                .iter()
                .map(|p| layout.relative(p).into_owned())
                .collect(),
            work: self.work.clone(),
            applied_to: Some(applied_to),
            ..Line::default()
        };
        fs::encode_json(&layout.journal(), &line, false)
    }

    /// An entry read back; None when it names a path outside the store.
    fn from_line(layout: &Layout, line: Line) -> Option<Entry> {
        let puts = line
            .puts
            .into_iter()
            .map(|p| Some((layout.record_path(&p.path)?, p.text.into_bytes())))
            .collect::<Option<Vec<_>>>()?;
        let deletes = line
            .deletes
            .iter()
            .map(|p| layout.record_path(p))
            .collect::<Option<Vec<_>>>()?;
        Some(Entry {
            tx: line.tx?,
            at: line.at.unwrap_or(0),
            puts,
            messages: line.messages.into_iter().map(String::into_bytes).collect(),
            deletes,
            work: line.work,
        })
    }
}

/// Where a process last saw the journal end: the file (its identity) and
/// the offset after its last line. Kept per process across transactions so
/// finding the end is one read; never trusted for another file, and only a
/// starting point: other processes write after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EndHint {
    id: u64,
    end: u64,
}

/// The journal as one write transaction holds it: the file, open for
/// reading and writing, and where its next line goes.
#[derive(Debug)]
pub(crate) struct Handle {
    file: File,
    id: u64,
    end: u64,
    /// The watermark (see [`Watermark`]), once this transaction read or
    /// moved it.
    applied_to: Option<u64>,
}

impl Handle {
    fn open(path: &Path, hint: Option<EndHint>) -> Result<Handle> {
        let file = fs::open_rw(path)?;
        let (id, len) = fs::platform::id_and_len(&file, path).at(path)?;
        let hint = hint.filter(|h| h.id == id).map(|h| h.end);
        let end = find_end(&file, path, len, hint)?;
        Ok(Handle {
            file,
            id,
            end,
            applied_to: None,
        })
    }

    /// Write `bytes` where the lines end (over the zeros), then, with
    /// `sync`, fdatasync them.
    fn write(&mut self, path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
        fs::write_at(&self.file, path, self.end, bytes)?;
        self.end += bytes.len() as u64;
        if sync {
            fs::sync_data(&self.file, path)?;
        }
        Ok(())
    }

    /// Put zeros over `from..end` (a torn line): the lines end at `from`.
    fn cut(&mut self, path: &Path, from: u64) -> Result<()> {
        let n = self.end.saturating_sub(from) as usize;
        fs::write_at(&self.file, path, from, &vec![0u8; n])?;
        self.end = from;
        Ok(())
    }
}

/// The offset after the journal's last line: the first NUL byte after the
/// lines (`len` when the file does not end in zeros: a journal without
/// padding, or one an older codenator appended to past it). Lines hold no
/// NUL and the padding nothing else, so the first NUL at or after `hint`
/// is the end: one read finds it when it is within a page of the hint (no
/// other process wrote much since), else bisection does.
///
/// A hint is only taken when the byte before it is not a NUL (it ends a
/// line): a journal replaced by a checkpoint may get the old one's inode
/// number back, and a hint past its lines would leave a gap that
/// bisection by another process would then write into.
fn find_end(f: &File, path: &Path, len: u64, hint: Option<u64>) -> Result<u64> {
    const PAGE: u64 = 4096;
    let read = |at: u64, n: u64| -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n as usize];
        fs::platform::read_exact_at(f, &mut buf, at).at(path)?;
        Ok(buf)
    };
    if len == 0 || read(len - 1, 1)?[0] != 0 {
        return Ok(len);
    }
    // The page from the byte before the hint (or from the start).
    let mut from = 0;
    let mut page = Vec::new();
    if let Some(h) = hint.filter(|h| (1..len).contains(h)) {
        let p = read(h - 1, PAGE.min(len - h + 1))?;
        if p[0] != 0 {
            (from, page) = (h, p[1..].to_vec());
        }
    }
    if from == 0 {
        page = read(0, PAGE.min(len))?;
    }
    if let Some(i) = page.iter().position(|b| *b == 0) {
        return Ok(from + i as u64);
    }
    // The byte at `len - 1` is a NUL: bisect for the first one.
    let (mut lo, mut hi) = (from + page.len() as u64, len - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if read(mid, 1)?[0] == 0 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// Run `f` on the journal: opened once per write transaction (its last
/// line, the entry, the apply mark and the checkpoint's size check share
/// it), and dropped when [`start`] replaces the file. The end it leaves is
/// remembered for the process's next transaction.
fn with_journal<T>(txn: &WriteTxn, f: impl FnOnce(&mut Handle, &Path) -> Result<T>) -> Result<T> {
    let path = txn.layout().journal();
    let mut slot = txn.journal_handle();
    let handle = match &mut *slot {
        Some(h) => h,
        slot => slot.insert(Handle::open(&path, txn.store().journal_end_hint())?),
    };
    let out = f(handle, &path);
    txn.store().keep_journal_end(EndHint {
        id: handle.id,
        end: handle.end,
    });
    out
}

/// An entry written to the journal and not yet fsynced by its writer:
/// the file it went to (held open, so its identity cannot be reused), and
/// where the entry starts and ends.
pub(crate) struct Written {
    file: File,
    id: u64,
    start: u64,
    end: u64,
    entry: Entry,
    /// The watermark the entry was written with.
    applied_to: u64,
    /// The work index after the entry, as its writer staged it (see
    /// [`crate::index::work::WorkAfter`]).
    work: Option<WorkIndex>,
}

impl Written {
    /// fdatasync the journal: the call's one fsync. It covers every line
    /// written before this entry too, whoever wrote them.
    pub(crate) fn sync(&self, layout: &Layout) -> Result<()> {
        fs::sync_data(&self.file, &layout.journal())
    }
}

/// Write the entry where the lines end, without an fsync: the caller
/// syncs it ([`Written::sync`]), with or without the lock, and then has it
/// applied ([`apply_through`]). Until then other writers see it as
/// pending ([`begin`]).
pub(crate) fn write_entry(
    txn: &WriteTxn,
    entry: Entry,
    work: Option<WorkIndex>,
) -> Result<Written> {
    with_journal(txn, |h, path| {
        let applied_to = match h.applied_to {
            Some(w) => w,
            None => settle_tail(h, path, txn.layout())?.map_or(h.end, |w| w.applied_to),
        };
        let bytes = entry.to_line(txn.layout(), applied_to)?;
        let start = h.end;
        h.write(path, &bytes, false)?;
        h.applied_to = Some(applied_to);
        Ok(Written {
            file: h.file.try_clone().at(path)?,
            id: h.id,
            start,
            end: h.end,
            entry,
            applied_to,
            work,
        })
    })
}

/// Say every entry that starts before `through` is applied, the last of
/// them `tx` (no fsync: a lost mark only means a redo).
fn mark_applied(txn: &WriteTxn, tx: Option<String>, through: u64) -> Result<()> {
    let line = Line {
        applied: tx,
        applied_to: Some(through),
        ..Line::default()
    };
    let bytes = fs::encode_json(&txn.layout().journal(), &line, false)?;
    with_journal(txn, |h, path| {
        h.write(path, &bytes, false)?;
        h.applied_to = Some(through);
        Ok(())
    })
}

/// How far the journal is applied, as its last line says: every entry
/// that starts before `applied_to` is applied, and the entries between it
/// and `pending_end` are not yet (their writers wait for their fsync, or
/// died). Lines past `pending_end` are apply marks.
///
/// Entries are applied in journal order, by whoever holds the lock after
/// an fsync that covers them, and each apply ends with a mark carrying the
/// new watermark; every line carries the watermark its writer saw. So the
/// last line's is the journal's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watermark {
    applied_to: u64,
    pending_end: u64,
}

impl Watermark {
    /// The watermark a line at `start..end` gives, when it is the last.
    fn of(line: &Line, start: u64, end: u64) -> Watermark {
        if line.journal.is_some() {
            // The header: nothing after it yet.
            return Watermark {
                applied_to: end,
                pending_end: end,
            };
        }
        // A line an older codenator wrote carries no watermark: it applied
        // each entry under the lock, so only its last entry can be
        // unapplied, and a mark says everything before it is applied.
        let applied_to = line.applied_to.unwrap_or(start).min(start);
        let pending_end = if line.tx.is_some() { end } else { start };
        Watermark {
            applied_to,
            pending_end,
        }
    }

    fn has_pending(&self) -> bool {
        self.pending_end > self.applied_to
    }
}

/// The journal's watermark, after putting right a torn last line (its
/// writer died in its write: the call was never acknowledged, and no one
/// else saw it). None when the journal ends in damage that is not a torn
/// line (`doctor`'s to report).
fn settle_tail(h: &mut Handle, path: &Path, layout: &Layout) -> Result<Option<Watermark>> {
    let Some(last) = last_line(&h.file, path, h.end)? else {
        return Ok(Some(Watermark {
            applied_to: 0,
            pending_end: 0,
        }));
    };
    let complete = last.last() == Some(&b'\n');
    if let Some(l) = complete
        .then(|| serde_json::from_slice::<Line>(&last).ok())
        .flatten()
    {
        if written_by_older(layout, &l) {
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    "an older codenator (from before group commit) writes this store at the same time; restart the sessions that run it"
                );
            }
        }
        return Ok(Some(Watermark::of(&l, h.end - last.len() as u64, h.end)));
    }
    // Torn or unreadable last line: its writer never got past its write,
    // so its call was never acknowledged. Cut it off, but only when it is
    // the last line: damage before it is `doctor`'s to report.
    let Read {
        good_end,
        len,
        bytes,
        ..
    } = read_lines(layout)?;
    let tail = bytes.get(good_end as usize..len as usize).unwrap_or(&[]);
    let inner_break = tail
        .iter()
        .take(tail.len().saturating_sub(1))
        .any(|b| *b == b'\n' || *b == 0);
    if inner_break || h.end != len || good_end >= h.end {
        tracing::warn!("the journal is damaged before its end; run `codenator doctor`");
        return Ok(None);
    }
    tracing::warn!("dropping a torn journal entry (its call never returned)");
    h.cut(path, good_end)?;
    // The lines now end with one that parses (or there are none): this
    // reads it, and cuts nothing more.
    settle_tail(h, path, layout)
}

/// The entries in `from..to` of the journal, in order (apply marks and
/// lines that do not parse left out).
fn read_entries(
    h: &Handle,
    path: &Path,
    layout: &Layout,
    from: u64,
    to: u64,
) -> Result<Vec<Entry>> {
    if to <= from {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; (to - from) as usize];
    fs::platform::read_exact_at(&h.file, &mut buf, from).at(path)?;
    let read = parse_lines(buf, from);
    if read.damaged > 0 {
        tracing::warn!("skipping journal lines that do not parse; run `codenator doctor`");
    }
    let mut out = Vec::new();
    for (_, line) in read.lines {
        let Some(tx) = line.tx.clone() else {
            continue;
        };
        let Some(entry) = Entry::from_line(layout, line) else {
            return Err(Error::Damaged {
                path: "journal.jsonl".into(),
                reason: format!("entry {tx} names a path outside the store"),
            });
        };
        out.push(entry);
    }
    Ok(out)
}

/// An entry pending this long is taken for one whose writer died before
/// its fsync returned (a live writer applies its entry within
/// milliseconds): the next writer makes it durable and applies it.
const STALE_NS: u128 = 2_000_000_000;

/// Entries written but not yet applied (their writers wait for their
/// fsync, without the lock): what a write transaction must see besides
/// the record files, so that it decides on the store as those writes
/// leave it. Readers under the shared lock do not see them: nothing
/// pending was acknowledged.
#[derive(Default)]
pub(crate) struct Pending {
    entries: Vec<Entry>,
    max_seq: Option<u64>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Pending {
    fn new(entries: Vec<Entry>) -> Pending {
        let max_seq = entries
            .iter()
            .flat_map(|e| &e.messages)
            .filter_map(|m| crate::index::inbox::line_seq(m))
            .max();
        Pending { entries, max_seq }
    }

    /// What the pending entries leave of a record: `Some(Some(bytes))`
    /// put, `Some(None)` removed, `None` not named (the file decides).
    pub fn record(&self, path: &Path) -> Option<Option<&[u8]>> {
        for e in self.entries.iter().rev() {
            // An entry's removals come after its puts.
            if e.deletes.iter().any(|p| p == path) {
                return Some(None);
            }
            if let Some((_, b)) = e.puts.iter().rev().find(|(p, _)| p == path) {
                return Some(Some(b));
            }
        }
        None
    }

    /// File names the pending entries put directly under `dir` (and do not
    /// remove again).
    pub fn names_in(&self, dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in &self.entries {
            for (p, _) in e.puts.iter().filter(|(p, _)| p.parent() == Some(dir)) {
                if let Some(n) = p.file_name().and_then(|n| n.to_str())
                    && !names.iter().any(|m| m == n)
                {
                    names.push(n.to_owned());
                }
            }
        }
        names.retain(|n| matches!(self.record(&dir.join(n)), Some(Some(_))));
        names
    }

    /// The highest message seq the pending entries hold.
    pub fn max_seq(&self) -> Option<u64> {
        self.max_seq
    }

    /// Their work-index changes, in order.
    pub fn work_lines(&self) -> impl Iterator<Item = &LogLine> {
        self.entries.iter().flat_map(|e| &e.work)
    }
}

/// Which pending entries [`begin`] applies itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Those pending for longer than a live writer takes ([`STALE_NS`]).
    Stale,
    /// All of them: when a process opens the store, so that what writers
    /// killed before they applied their entries left is in the records
    /// before anyone reads them.
    All,
}

/// Before a write transaction does anything: put right a torn last line,
/// and read the entries written but not yet applied, which the
/// transaction then sees ([`Pending`]). Those `settle` names are made
/// durable and applied now instead (an apply that a writer's death cut
/// short is redone without doubling anything, see [`apply_run`]).
pub(crate) fn begin(txn: &WriteTxn, settle: Settle) -> Result<()> {
    let Some((w, entries)) = pending(txn)? else {
        return Ok(());
    };
    let now = now_ns();
    let stale = entries.iter().any(|e| now.saturating_sub(e.at) > STALE_NS);
    if stale || settle == Settle::All {
        if stale {
            tracing::warn!(
                entries = entries.len(),
                "journal entries were written but not applied (a writer died); applying them"
            );
        } else {
            // Opening the store while others write: their entries now.
            tracing::debug!(entries = entries.len(), "applying pending journal entries");
        }
        return apply_now(txn, w, &entries);
    }
    txn.set_pending(Pending::new(entries));
    Ok(())
}

/// The journal's watermark and the entries pending after it, once a torn
/// last line is put right; None when nothing is pending. Records the
/// watermark in the transaction's handle.
fn pending(txn: &WriteTxn) -> Result<Option<(Watermark, Vec<Entry>)>> {
    let layout = txn.layout();
    with_journal(txn, |h, path| {
        let Some(w) = settle_tail(h, path, layout)? else {
            h.applied_to = Some(h.end);
            return Ok(None);
        };
        h.applied_to = Some(w.applied_to);
        if !w.has_pending() {
            return Ok(None);
        }
        let entries = read_entries(h, path, layout, w.applied_to, w.pending_end)?;
        Ok((!entries.is_empty()).then_some((w, entries)))
    })
}

/// Apply pending entries under the lock: fdatasync first (their writers
/// may not have yet), as the write-ahead rule wants.
fn apply_now(txn: &WriteTxn, w: Watermark, entries: &[Entry]) -> Result<()> {
    with_journal(txn, |h, path| fs::sync_data(&h.file, path))?;
    apply_run(
        txn,
        &entries.iter().collect::<Vec<_>>(),
        w.pending_end,
        None,
        Applier::Recovery,
    )
}

/// Who applies a run: a commit (its own entry last), or the recovery a
/// writer or an opening process does for entries other writers left. The
/// fault-injection points ([`FaultPoint`]) are points of a commit: a test
/// that aborts a writer there must not abort a process while it opens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applier {
    Commit,
    Recovery,
}

/// After the entry's fsync, under the lock: apply every entry up to and
/// including it that is not applied yet, in journal order (the fsync
/// covered the ones before it), then mark them applied. Nothing to do when
/// another writer applied it already, or a checkpoint did (the journal was
/// replaced: a checkpoint applies every entry first).
pub(crate) fn apply_through(txn: &WriteTxn, own: &Written) -> Result<()> {
    let layout = txn.layout();
    let before = with_journal(txn, |h, path| {
        if h.id != own.id {
            return Ok(None);
        }
        // Nothing written after the entry: its watermark still holds.
        let tail = if h.end == own.end {
            Some(Watermark {
                applied_to: own.applied_to,
                pending_end: own.end,
            })
        } else {
            settle_tail(h, path, layout)?
        };
        let from = match tail {
            Some(w) if w.applied_to >= own.end => return Ok(None),
            Some(w) => w.applied_to,
            None => own.start,
        };
        Ok(Some(read_entries(h, path, layout, from, own.start)?))
    })?;
    let Some(before) = before else {
        return Ok(());
    };
    let run: Vec<&Entry> = before.iter().chain([&own.entry]).collect();
    // Alone in its run, the entry's writer already holds the index after
    // it (unless others changed the work log since).
    let work = own.work.as_ref().filter(|_| before.is_empty());
    apply_run(txn, &run, own.end, work, Applier::Commit)?;
    maybe_checkpoint(txn)
}

/// Apply entries in order (the records, the ledger lines, the work
/// index's changes), then the mark that says all before `through` are.
/// The ledger lines skip seqs the ledger holds and work lines already in
/// the index change nothing, so an apply cut short by a crash is redone
/// without doubling anything.
///
/// `after`: the work index after the run, when its writer holds it (a run
/// of its own entry alone); else it is read before the records change
/// (it is checked against the task and report directories) and the run's
/// lines applied to it.
fn apply_run(
    txn: &WriteTxn,
    run: &[&Entry],
    through: u64,
    after: Option<&WorkIndex>,
    by: Applier,
) -> Result<()> {
    let lines: Vec<LogLine> = run.iter().flat_map(|e| e.work.iter().cloned()).collect();
    let work = if lines.is_empty() {
        None
    } else {
        Some(crate::index::work::WorkAfter::prepare(txn, after)?)
    };
    for e in run {
        apply(txn, e, by)?;
    }
    if let Some(work) = work {
        work.apply(txn, lines)?;
    }
    if by == Applier::Commit {
        txn.fault(FaultPoint::BeforeMark);
    }
    mark_applied(txn, run.last().map(|e| e.tx.clone()), through)
}

/// The journal as read back.
struct Read {
    /// The lines that parse, in order, with where each is in the file.
    lines: Vec<(std::ops::Range<u64>, Line)>,
    /// Complete lines that do not parse, and pieces of lines cut off by a
    /// run of zeros before the last one. A crash cannot leave one before
    /// the end (an entry's fsync covers every byte before it): they are
    /// damage from outside, skipped, and `doctor`'s to report.
    damaged: usize,
    /// Where the last line that parses ends, and where the file's last
    /// byte that is not a NUL ends (file offsets).
    good_end: u64,
    len: u64,
    /// The file as read.
    bytes: Vec<u8>,
}

/// The journal's lines: each run of bytes between runs of zeros is split
/// into lines; a piece without its newline at the end of the last run is
/// the torn tail, anywhere else it is damage.
fn read_lines(layout: &Layout) -> Result<Read> {
    let bytes = fs::read_bytes(&layout.journal())?.unwrap_or_default();
    Ok(parse_lines(bytes, 0))
}

/// [`read_lines`] of `bytes`, which start at offset `base` of the journal.
fn parse_lines(bytes: Vec<u8>, base: u64) -> Read {
    let mut out = Read {
        lines: Vec::new(),
        damaged: 0,
        good_end: 0,
        len: 0,
        bytes: Vec::new(),
    };
    let mut runs = Vec::new();
    let mut pos = 0;
    while let Some(start) = bytes[pos..].iter().position(|b| *b != 0).map(|i| pos + i) {
        let stop = bytes[start..]
            .iter()
            .position(|b| *b == 0)
            .map_or(bytes.len(), |i| start + i);
        runs.push(start..stop);
        pos = stop;
    }
    let last = runs.len().saturating_sub(1);
    for (i, run) in runs.into_iter().enumerate() {
        let (lines, torn) =
            crate::fs::jsonl::split(&bytes[run.clone()], base + run.start as u64, 0);
        for l in &lines {
            match serde_json::from_slice::<Line>(l.bytes) {
                Ok(line) => {
                    out.lines.push((l.offset..l.offset + l.len, line));
                    out.good_end = l.offset + l.len;
                }
                Err(_) => out.damaged += 1,
            }
        }
        if torn.is_some() && i != last {
            out.damaged += 1;
        }
        out.len = base + run.end as u64;
    }
    out.bytes = bytes;
    out
}

/// The entries not applied yet, in order: those after the watermark the
/// last line gives.
fn unapplied_entries(layout: &Layout, lines: Vec<(std::ops::Range<u64>, Line)>) -> Vec<Entry> {
    let Some(w) = lines.last().map(|(r, l)| Watermark::of(l, r.start, r.end)) else {
        return Vec::new();
    };
    lines
        .into_iter()
        .filter(|(r, l)| l.tx.is_some() && (w.applied_to..w.pending_end).contains(&r.start))
        .filter_map(|(_, l)| Entry::from_line(layout, l))
        .collect()
}

/// The last line of the journal, the one that ends at `len`, read
/// backwards (cheap: called by every write transaction).
fn last_line(f: &File, path: &Path, len: u64) -> Result<Option<Vec<u8>>> {
    if len == 0 {
        return Ok(None);
    }
    // Apply marks are short; an entry can be long, then read it all.
    let mut want = len.min(512);
    loop {
        let mut buf = vec![0u8; want as usize];
        fs::platform::read_exact_at(f, &mut buf, len - want).at(path)?;
        let body = &buf[..buf.len().saturating_sub(1)];
        let torn = buf.last() != Some(&b'\n');
        let tail = if torn { &buf[..] } else { body };
        // A run of zeros separates lines too (an older codenator's line
        // appended past the padding).
        if let Some(nl) = tail.iter().rposition(|b| *b == b'\n' || *b == 0) {
            return Ok(Some(buf[nl + 1..].to_vec()));
        }
        if want == len {
            return Ok(Some(buf));
        }
        want = (want * 8).min(len);
    }
}

/// Is this a redo (the effects may already be there)?
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redo {
    No,
    Yes,
}

/// Apply an entry: ledger lines (a message the ledger already holds is not
/// appended again), then records put, then records removed.
fn apply(txn: &WriteTxn, entry: &Entry, by: Applier) -> Result<()> {
    crate::index::inbox::append_lines(txn, &entry.messages, true)?;
    if by == Applier::Commit {
        txn.fault(FaultPoint::AfterMessages);
    }
    for (path, bytes) in &entry.puts {
        record(path, Some(bytes), entry.at, Redo::No)?;
    }
    for path in &entry.deletes {
        record(path, None, entry.at, Redo::No)?;
    }
    Ok(())
}

/// Put (`Some`) or remove (`None`) one record of an entry written at `at`.
/// On a redo, a record written again after the entry stays as it is.
fn record(path: &Path, bytes: Option<&[u8]>, at: u128, redo: Redo) -> Result<()> {
    if redo == Redo::Yes && fs::mtime_ns(path) > at {
        return Ok(());
    }
    let Some(bytes) = bytes else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).at(path),
            _ => Ok(()),
        };
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    fs::put_journaled(path, bytes)
}

/// Redo a run of entries after a power loss: every ledger line in order
/// (those the ledger holds are skipped by seq), and each record once, as
/// the last entry that names it left it (put or removed). Redoing the entries one by one
/// would be wrong: the first redo of a record makes its file newer than
/// every later entry, whose version of it would then be skipped.
fn replay(txn: &WriteTxn, entries: &[Entry]) -> Result<()> {
    let messages: Vec<Vec<u8>> = entries
        .iter()
        .flat_map(|e| e.messages.iter().cloned())
        .collect();
    crate::index::inbox::append_lines(txn, &messages, true)?;
    // Per record, what the last entry naming it did (put or remove).
    let mut last: std::collections::BTreeMap<&Path, (Option<&[u8]>, u128)> = Default::default();
    for e in entries {
        for (path, bytes) in &e.puts {
            last.insert(path, (Some(bytes), e.at));
        }
        for path in &e.deletes {
            last.insert(path, (None, e.at));
        }
    }
    for (path, (bytes, at)) in last {
        record(path, bytes, at, Redo::Yes)?;
    }
    Ok(())
}

/// Checkpoint when the journal has grown past [`CHECKPOINT_BYTES`].
pub(crate) fn maybe_checkpoint(txn: &WriteTxn) -> Result<()> {
    let end = with_journal(txn, |h, _| Ok(h.end))?;
    if end > CHECKPOINT_BYTES {
        checkpoint(txn)?;
    }
    Ok(())
}

/// Apply what is pending, sync everything the journal describes, then
/// start an empty journal for this boot. Crash invariant: the pending
/// entries are fsynced before they are applied (as their writers would),
/// and the sync comes before the new journal, so emptying the journal
/// never drops an effect that is not durable elsewhere. Writers still
/// waiting for their entry's fsync find the journal replaced, and their
/// entry applied.
pub(crate) fn checkpoint(txn: &WriteTxn) -> Result<()> {
    if let Some((w, entries)) = pending(txn)? {
        apply_now(txn, w, &entries)?;
    }
    sync_and_start(txn)
}

/// Sync everything the journal describes, then start an empty journal.
fn sync_and_start(txn: &WriteTxn) -> Result<()> {
    let layout = txn.layout();
    let files: Vec<PathBuf> = read_lines(layout)?
        .lines
        .into_iter()
        .flat_map(|(_, l)| l.puts.into_iter().map(|p| p.path).chain(l.deletes))
        .filter_map(|p| layout.record_path(&p))
        .chain([layout.ledger()])
        .collect();
    fs::sync_everything(layout.dir(), &files)?;
    start(txn)
}

/// A new, empty journal whose header names this boot (durable: it is what
/// tells a later boot whether to replay).
fn start(txn: &WriteTxn) -> Result<()> {
    let layout = txn.layout();
    let header = Line {
        journal: Some(FORMAT),
        boot: Some(txn.store().boot_id().unwrap_or("").to_string()),
        ..Line::default()
    };
    // One line, like every line of the journal, then the zeros the next
    // lines are written over. The file is replaced: the transaction's
    // handle names the old one.
    let mut bytes = fs::encode_json(&layout.journal(), &header, false)?;
    bytes.resize((PREALLOCATED as usize).max(bytes.len()), 0);
    txn.journal_handle().take();
    fs::write_atomic(&layout.journal(), &bytes, Durability::Durable)
}

/// The boot named in the journal's header (its first line).
fn header_boot(layout: &Layout) -> Result<Option<String>> {
    Ok(header(layout)?.and_then(|l| l.boot))
}

/// The journal's header (its first line), when it parses.
fn header(layout: &Layout) -> Result<Option<Line>> {
    use std::io::Read;
    let path = layout.journal();
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at(&path),
    };
    let mut buf = Vec::with_capacity(256);
    f.take(4096).read_to_end(&mut buf).at(&path)?;
    let first = buf.split(|b| *b == b'\n').next().unwrap_or(&[]);
    Ok(serde_json::from_slice::<Line>(first).ok())
}

/// Was `last` (the journal's last line) written by a codenator from
/// before group commit into a journal this one started? Such a binary
/// writes lines without a watermark and does not see pending entries, so
/// the two must not write one store at once. Costs a read of the header
/// only for a line without a watermark.
fn written_by_older(layout: &Layout, last: &Line) -> bool {
    last.applied_to.is_none()
        && last.journal.is_none()
        && header(layout)
            .ok()
            .flatten()
            .and_then(|h| h.journal)
            .is_some_and(|f| f >= 3)
}

/// At open: if the journal was written in another boot (a power loss or a
/// reboot happened since), replay it, rebuild the indexes and checkpoint;
/// a store without a journal gets one. Without a known boot id nothing is
/// replayed (there is no telling a reboot from another process's work).
pub(crate) fn recover_after_boot(txn: &WriteTxn) -> Result<()> {
    let layout = txn.layout();
    if !layout.journal().exists() {
        return start(txn);
    }
    let Some(boot) = txn.store().boot_id() else {
        return Ok(());
    };
    // Every process opens the store: the header alone says whether to
    // replay, so the usual open reads one short line, not the journal.
    if header_boot(layout)?.as_deref() == Some(boot) {
        return Ok(());
    }
    let lines = read_lines(layout)?.lines;
    let entries: Vec<Entry> = lines
        .into_iter()
        .filter(|(_, l)| l.tx.is_some())
        .filter_map(|(_, l)| Entry::from_line(layout, l))
        .collect();
    if !entries.is_empty() {
        tracing::warn!(
            entries = entries.len(),
            "the journal was written before a restart of the machine; replaying it"
        );
        crate::index::inbox::reset(txn)?;
        replay(txn, &entries)?;
        crate::index::work::mark_stale(txn)?;
    }
    sync_and_start(txn)
}

/// What `doctor` reports about the journal.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Entries written but not applied for longer than a live writer takes
    /// ([`STALE_NS`]): their writer died mid-commit; the next write applies
    /// them. Younger ones are in flight (their writers wait for their
    /// fsync) and not reported.
    pub unapplied: Vec<String>,
    /// Complete lines that do not parse.
    pub damaged: usize,
    /// Bytes after the last line that parses (a torn entry, or damage).
    pub torn_bytes: u64,
}

pub fn health(txn: &ReadTxn) -> Result<Health> {
    let layout = txn.layout();
    let r = read_lines(layout)?;
    Ok(Health {
        unapplied: unapplied_entries(layout, r.lines)
            .into_iter()
            .filter(|e| now_ns().saturating_sub(e.at) > STALE_NS)
            .map(|e| e.tx)
            .collect(),
        damaged: r.damaged,
        torn_bytes: r.len - r.good_end,
    })
}

/// `doctor --repair`: redo every entry without an apply mark (as a replay
/// does: idempotent, records newer than their entry left alone), keep a
/// copy of a damaged journal beside it, and checkpoint (a new, empty
/// journal). Returns the number of entries redone.
///
/// Crash invariant: the copy is durable before the checkpoint empties the
/// journal, and the checkpoint syncs everything first.
pub(crate) fn repair(txn: &WriteTxn) -> Result<usize> {
    let layout = txn.layout();
    let r = read_lines(layout)?;
    if r.damaged > 0 || r.len > r.good_end {
        let copy = layout
            .dir()
            .join(format!("journal.damaged-{}.jsonl", now_ns()));
        // Up to the last byte that is not padding.
        let kept = r.bytes.get(..r.len as usize).unwrap_or(&r.bytes);
        fs::write_atomic(&copy, kept, Durability::Durable)?;
    }
    let entries = unapplied_entries(layout, r.lines);
    if !entries.is_empty() {
        // Some may be pending (their writers wait for their fsync): durable
        // before their records are written.
        with_journal(txn, |h, path| fs::sync_data(&h.file, path))?;
        replay(txn, &entries)?;
        crate::index::work::mark_stale(txn)?;
    }
    sync_and_start(txn)?;
    Ok(entries.len())
}

/// Path helper for messages naming the journal.
pub fn file_name() -> &'static str {
    "journal.jsonl"
}

impl Layout {
    /// A record path named in a journal entry, when it is one codenator
    /// writes (no `..`, no absolute path, a record directory or file).
    pub fn record_path(&self, rel: &str) -> Option<PathBuf> {
        let p = Path::new(rel);
        let ok = p
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
            && matches!(
                p.components().next().and_then(|c| c.as_os_str().to_str()),
                Some(
                    "registry.json"
                        | "tasks"
                        | "cursors"
                        | "heartbeat"
                        | "board"
                        | "reports"
                        | "wake"
                        | "watchdog"
                        | "legacy"
                        | "jobs"
                )
            );
        ok.then(|| self.dir().join(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use std::fs::OpenOptions;

    fn write(path: &Path, bytes: &[u8]) -> File {
        std::fs::write(path, bytes).unwrap();
        File::open(path).unwrap()
    }

    #[test]
    fn the_end_is_the_first_zero_after_the_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("j");
        let end = |f: &File, len: usize, hint| find_end(f, &p, len as u64, hint).unwrap() as usize;

        let mut padded = b"a\nbc\n".to_vec();
        padded.resize(10_000, 0);
        let f = write(&p, &padded);
        for hint in [None, Some(0), Some(2), Some(5), Some(20_000)] {
            assert_eq!(end(&f, padded.len(), hint), 5, "hint {hint:?}");
        }

        // A hint past the lines (a new journal that got the old one's
        // inode number): not taken.
        for hint in [Some(9_000), Some(6)] {
            assert_eq!(end(&f, padded.len(), hint), 5, "hint {hint:?}");
        }

        // Lines longer than a page past the hint: found by bisection.
        let mut long = vec![b'x'; 9_000];
        long.push(b'\n');
        let lines = long.len();
        long.resize(300_000, 0);
        let f = write(&p, &long);
        assert_eq!(end(&f, long.len(), None), lines);
        assert_eq!(end(&f, long.len(), Some(3)), lines);

        // No padding (an older journal), or lines past the padding (an
        // older codenator appended): the end is the file's.
        let f = write(&p, b"a\nb\n");
        assert_eq!(end(&f, 4, None), 4);
        let mut past = padded.clone();
        past.extend_from_slice(b"c\n");
        let f = write(&p, &past);
        assert_eq!(end(&f, past.len(), Some(5)), past.len());
        let f = write(&p, b"");
        assert_eq!(end(&f, 0, None), 0);
    }

    fn send(store: &Store, text: &str) {
        let ctx = crate::Ctx::new(crate::Caller::coordinator());
        store
            .send_message(
                &ctx,
                &crate::api::SendMessage {
                    to: "all".into(),
                    message: text.into(),
                    ..Default::default()
                },
            )
            .unwrap();
    }

    fn messages(store: &Store) -> Vec<String> {
        read_lines(store.layout())
            .unwrap()
            .lines
            .into_iter()
            .flat_map(|(_, l)| l.messages)
            .collect()
    }

    /// Lines go over the zeros, the file keeps its size, and a journal an
    /// older codenator appended to past the zeros, or one left with a torn
    /// line, reads in order and is written after its last line.
    #[test]
    fn lines_are_written_over_the_padding() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let path = store.layout().journal();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), PREALLOCATED);
        send(&store, "one");
        send(&store, "two");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, PREALLOCATED, "written in place");
        let end = bytes.iter().position(|b| *b == 0).unwrap();
        assert_eq!(bytes[end - 1], b'\n');
        assert!(bytes[end..].iter().all(|b| *b == 0));
        let r = read_lines(store.layout()).unwrap();
        assert_eq!((r.damaged, r.good_end, r.len), (0, end as u64, end as u64));
        assert_eq!(messages(&store).len(), 2);

        // A torn line where the lines end (a writer killed mid-write): the
        // next writer puts zeros over it and writes there.
        let mut f = OpenOptions::new().write(true).open(&path).unwrap();
        fs::platform::write_all_at(&f, b"{\"tx\":\"torn", end as u64).unwrap();
        let fresh = Store::open(tmp.path()).unwrap();
        send(&fresh, "three");
        let bytes = std::fs::read(&path).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("torn"));
        assert_eq!(read_lines(store.layout()).unwrap().damaged, 0);

        // An older binary appends past the zeros: its line is read after
        // the others. The journal then ends past the checkpoint size, so
        // the next write checkpoints it: a new journal, padded again.
        use std::io::Write;
        f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"applied\":\"old-binary\"}\n").unwrap();
        let r = read_lines(store.layout()).unwrap();
        assert_eq!((r.damaged, r.good_end), (0, r.len));
        assert_eq!(r.len, std::fs::metadata(&path).unwrap().len());
        assert_eq!(
            r.lines.last().unwrap().1.applied.as_deref(),
            Some("old-binary")
        );
        let got = messages(&store);
        assert_eq!(got.len(), 3, "{got:?}");
        for (m, want) in got.iter().zip(["one", "two", "three"]) {
            assert!(m.contains(want), "{m} should be {want}");
        }
        send(&store, "four");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), PREALLOCATED);
        assert!(messages(&store).is_empty(), "checkpointed");
        let ledger = std::fs::read_to_string(store.layout().ledger()).unwrap();
        assert_eq!(ledger.lines().count(), 4);
        assert!(ledger.contains("four"));
    }

    /// One process through several checkpoints, its end hint carried
    /// across them: the lines of every generation stay one run from the
    /// header, without gaps or damage, and every message reaches the
    /// ledger. (A hint for a reused inode number is the first test's.)
    #[test]
    fn checkpoints_keep_the_lines_together() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let path = store.layout().journal();
        let big = "x".repeat(40_000);
        let (mut checkpoints, mut last_end) = (0, 0);
        for i in 0..90 {
            send(&store, &format!("{i} {big}"));
            let bytes = std::fs::read(&path).unwrap();
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            if end < last_end {
                checkpoints += 1;
            }
            last_end = end;
            assert!(
                bytes[end..].iter().all(|b| *b == 0),
                "a gap after write {i}"
            );
            let r = read_lines(store.layout()).unwrap();
            assert_eq!((r.damaged, r.good_end, r.len), (0, end as u64, end as u64));
        }
        assert!(checkpoints >= 2, "checkpointed {checkpoints} times");
        let ledger = std::fs::read_to_string(store.layout().ledger()).unwrap();
        assert_eq!(ledger.lines().count(), 90);
    }

    /// Finish a held writer: its fsync, then its apply under the lock.
    fn finish(store: &Store, w: &Written) {
        w.sync(store.layout()).unwrap();
        let txn = store.lock_for_write().unwrap();
        apply_through(&txn, w).unwrap();
    }

    /// The ledger's lines as JSON, in file order.
    fn ledger_lines(store: &Store) -> Vec<serde_json::Value> {
        std::fs::read_to_string(store.layout().ledger())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Create task `id` and send `message` (when given) from writers held
    /// after their entry is written; returns them.
    fn held_writes(store: &Store, id: &str, message: Option<&str>) -> Vec<Written> {
        super::super::txn::hold::start();
        store
            .create_task(
                &crate::Ctx::new(crate::Caller::coordinator()),
                &crate::api::CreateTask {
                    slot: "session-01".into(),
                    title: "held".into(),
                    message: "do it".into(),
                    task_id: Some(id.into()),
                    ..Default::default()
                },
            )
            .unwrap();
        if let Some(m) = message {
            send(store, m);
        }
        super::super::txn::hold::stop()
    }

    fn status(store: &Store) -> crate::api::StatusResponse {
        let coord = crate::Ctx::new(crate::Caller::coordinator());
        store
            .get_status(&coord, &crate::api::GetStatus::default())
            .unwrap()
    }

    /// Entries written and not yet applied (their writers wait for their
    /// fsync) are invisible to readers, seen by the next writer (which
    /// claims the pending task and numbers its message after the pending
    /// one), and applied by it in journal order; the held writers then
    /// find their entries applied, and nothing is doubled.
    #[test]
    fn writers_see_pending_entries_and_apply_them_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let worker = crate::Ctx::new(crate::Caller::new(
            crate::model::SlotId::parse("slot", "session-01").unwrap(),
        ));
        let task_file = store
            .layout()
            .task(&crate::model::TaskId::parse("task_id", "held-1").unwrap());

        let held = held_writes(&store, "held-1", Some("held message"));
        assert_eq!(held.len(), 2);

        // Readers see none of it; no record or ledger line is written yet.
        assert!(!task_file.exists());
        assert!(ledger_lines(&store).is_empty());
        assert_eq!(status(&store).open_tasks.total, 0);
        // Pending, and in flight: not a finding for doctor.
        let r = read_lines(store.layout()).unwrap();
        assert_eq!(unapplied_entries(store.layout(), r.lines).len(), 2);
        assert!(health(&store.read().unwrap()).unwrap().unapplied.is_empty());

        // A writer sees both: it claims the pending task...
        let claimed = store
            .claim_next_task(
                &worker,
                &crate::api::ClaimNextTask {
                    slot: "session-01".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(claimed.task.map(|t| t.task_id).as_deref(), Some("held-1"));
        // ...and its own message comes after the pending one.
        send(&store, "after");
        let lines = ledger_lines(&store);
        let texts: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
        assert_eq!(texts, ["do it", "held message", "after"]);
        let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seqs {seqs:?}");
        let task: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&task_file).unwrap()).unwrap();
        assert_eq!(task["status"], "active");

        // The held writers finish: their entries were applied already.
        for w in &held {
            finish(&store, w);
        }
        assert_eq!(ledger_lines(&store).len(), 3);
        let txn = store.read().unwrap();
        assert!(health(&txn).unwrap().unapplied.is_empty());
        drop(txn);
        let now = status(&store);
        assert_eq!(now.open_tasks.total, 1);
        assert_eq!(now.task_counts.get("active").copied(), Some(1));
        // A rebuilt index agrees with the one the writes kept.
        let kept = crate::index::work::stored(store.layout()).unwrap();
        let rebuilt = crate::index::work::rebuild(&store.read().unwrap());
        assert_eq!(kept.counts, rebuilt.counts);
        assert_eq!(
            kept.open.keys().collect::<Vec<_>>(),
            rebuilt.open.keys().collect::<Vec<_>>()
        );
    }

    /// A checkpoint while writers wait for their fsync applies their
    /// entries first; they then find the journal replaced and return.
    #[test]
    fn a_checkpoint_applies_pending_entries_first() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let held = held_writes(&store, "held-2", Some("held message"));

        let txn = store.write().unwrap();
        checkpoint(&txn).unwrap();
        drop(txn);
        let texts: Vec<String> = ledger_lines(&store)
            .iter()
            .filter_map(|l| l["message"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(texts, ["do it", "held message"]);
        assert!(messages(&store).is_empty(), "the new journal is empty");

        for w in &held {
            finish(&store, w);
        }
        assert_eq!(ledger_lines(&store).len(), 2);
        assert_eq!(status(&store).open_tasks.total, 1);
    }

    /// Opening the store applies what writers killed before their apply
    /// left pending; a redone apply doubles nothing.
    #[test]
    fn opening_applies_pending_entries_and_a_redo_doubles_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let held = held_writes(&store, "held-3", None);
        // Its writer "dies" here; another process opens the store.
        let other = Store::open(tmp.path()).unwrap();
        assert_eq!(ledger_lines(&other).len(), 1);
        // An apply cut short before its mark is redone: the ledger line
        // and the work-log lines are not doubled.
        let txn = other.write().unwrap();
        let entry = &held[0].entry;
        apply(&txn, entry, Applier::Recovery).unwrap();
        let before = crate::index::work::load(&txn).unwrap();
        let mut idx = (*before).clone();
        for l in &entry.work {
            idx.apply_line(l.clone());
        }
        assert_eq!(idx.counts, before.counts, "the index already shows it");
        drop(txn);
        assert_eq!(ledger_lines(&other).len(), 1);
        let now = status(&other);
        assert_eq!(now.open_tasks.total, 1);
        assert_eq!(now.total_tasks, 1);
    }

    /// A line without a watermark in a journal this binary started comes
    /// from an older codenator writing at the same time; one in an older
    /// journal is just history.
    #[test]
    fn lines_from_an_older_codenator_are_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        send(&store, "one");
        let layout = store.layout();
        let old_mark = Line {
            applied: Some("x".into()),
            ..Line::default()
        };
        let new_mark = Line {
            applied: Some("x".into()),
            applied_to: Some(10),
            ..Line::default()
        };
        assert!(written_by_older(layout, &old_mark));
        assert!(!written_by_older(layout, &new_mark));
        // A format-2 journal (an older codenator started it).
        let path = layout.journal();
        let text = std::fs::read(&path).unwrap();
        let first = text.iter().position(|b| *b == b'\n').unwrap();
        let mut header: Line = serde_json::from_slice(&text[..first]).unwrap();
        assert_eq!(header.journal, Some(FORMAT));
        header.journal = Some(2);
        let mut old = serde_json::to_vec(&header).unwrap();
        old.extend_from_slice(&text[first..]);
        std::fs::write(&path, old).unwrap();
        assert!(!written_by_older(layout, &old_mark));
    }
}
