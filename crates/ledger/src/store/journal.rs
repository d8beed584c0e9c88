//! The write-ahead journal (`journal.jsonl`): one fsync per write call.
//!
//! A write transaction stages its effects (whole records to put, message
//! lines to append) and, at commit, appends them as **one journal entry**,
//! fdatasynced: that is the call's only fsync. Then it applies them: the
//! message lines are appended to the ledger and the records renamed into
//! place (temp file + rename, no fsync of their own), the derived indexes
//! updated, and a small **apply mark** appended to the journal (no fsync).
//!
//! What a crash leaves, and what puts it right:
//!
//! - **A process killed mid-commit** (the page cache survives): before the
//!   entry's fsync returned, nothing was applied and the caller got no
//!   answer; the torn or unmarked entry is dropped, or, if complete, redone.
//!   Every write transaction looks at the journal's last line first
//!   ([`recover_last`]): a complete entry without its apply mark is applied
//!   again (idempotent), and the work index is rebuilt.
//! - **Power loss** (unsynced writes lost, in any order): the journal's
//!   header names the boot it was written in; a store opened in another
//!   boot replays every entry in order ([`recover_after_boot`]), rebuilds
//!   the indexes and checkpoints. A record whose file is newer than the
//!   entry (written after it, by a later entry or another tool) is not put
//!   back; a message whose seq the ledger already holds is not appended
//!   twice.
//! - **Bounded**: past [`CHECKPOINT_BYTES`] the journal is checkpointed:
//!   the file system is synced (everything it describes is then durable
//!   on its own) and the journal emptied.
//!
//! The reference reads the record files directly: they are current as soon
//! as a call returns.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fs::{self, Durability};
use crate::store::{Layout, ReadTxn, WriteTxn};

/// Past this size the journal is checkpointed and emptied.
pub const CHECKPOINT_BYTES: u64 = 1 << 20;

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
    /// An apply mark: the entry `applied` is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
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
        }
    }

    /// Does it change anything?
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.messages.is_empty() && self.deletes.is_empty()
    }

    fn to_line(&self, layout: &Layout) -> Result<Vec<u8>> {
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
        })
    }
}

/// Run `f` on the journal, open for reading and appending: opened once per
/// write transaction (its last line, the entry, the apply mark and the
/// checkpoint's size check share it), and dropped when [`start`] replaces
/// the file.
fn with_journal<T>(txn: &WriteTxn, f: impl FnOnce(&mut File, &Path) -> Result<T>) -> Result<T> {
    let path = txn.layout().journal();
    let mut handle = txn.journal_handle();
    let file = match &mut *handle {
        Some(file) => file,
        slot => slot.insert(
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&path)
                .at(&path)?,
        ),
    };
    f(file, &path)
}

/// Make the entry durable: the call's one fsync.
pub(crate) fn append_entry(txn: &WriteTxn, entry: &Entry) -> Result<()> {
    let bytes = entry.to_line(txn.layout())?;
    with_journal(txn, |f, path| fs::append_to(f, path, &bytes, true))
}

/// Say the entry is applied (no fsync: a lost mark only means a redo).
pub(crate) fn mark_applied(txn: &WriteTxn, tx: &str) -> Result<()> {
    let line = Line {
        applied: Some(tx.to_string()),
        ..Line::default()
    };
    let bytes = fs::encode_json(&txn.layout().journal(), &line, false)?;
    with_journal(txn, |f, path| fs::append_to(f, path, &bytes, false))
}

/// The journal as read back.
struct Read {
    /// The lines that parse, in order.
    lines: Vec<Line>,
    /// Complete lines that do not parse. A crash cannot leave one before
    /// the end (an entry's fsync covers every byte before it): they are
    /// damage from outside, skipped, and `doctor`'s to report.
    damaged: usize,
    /// Where the last line that parses ends, and the file's length.
    good_end: u64,
    len: u64,
}

fn read_lines(layout: &Layout) -> Result<Read> {
    let path = layout.journal();
    let bytes = fs::read_bytes(&path)?.unwrap_or_default();
    let (lines, _) = crate::fs::jsonl::split(&bytes, 0, 0);
    let mut out = Read {
        lines: Vec::new(),
        damaged: 0,
        good_end: 0,
        len: bytes.len() as u64,
    };
    for l in &lines {
        match serde_json::from_slice::<Line>(l.bytes) {
            Ok(line) => {
                out.lines.push(line);
                out.good_end = l.offset + l.len;
            }
            Err(_) => out.damaged += 1,
        }
    }
    Ok(out)
}

/// The entries without an apply mark, in order.
fn unapplied_entries(layout: &Layout, lines: Vec<Line>) -> Vec<Entry> {
    let mut open: Vec<Line> = Vec::new();
    for l in lines {
        if l.tx.is_some() {
            open.push(l);
        } else if let Some(a) = &l.applied {
            open.retain(|e| e.tx.as_ref() != Some(a));
        }
    }
    open.into_iter()
        .filter_map(|l| Entry::from_line(layout, l))
        .collect()
}

/// The last line of the journal, read from its end (cheap: called by every
/// write transaction).
fn last_line(f: &File, path: &Path) -> Result<Option<Vec<u8>>> {
    let len = f.metadata().at(path)?.len();
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
        if let Some(nl) = tail.iter().rposition(|b| *b == b'\n') {
            return Ok(Some(buf[nl + 1..].to_vec()));
        }
        if want == len {
            return Ok(Some(buf));
        }
        want = (want * 8).min(len);
    }
}

/// Before a write transaction does anything: if the last entry was not
/// applied (its process died mid-commit), apply it now; if it was torn (its
/// fsync never returned), drop it.
pub(crate) fn recover_last(txn: &WriteTxn) -> Result<()> {
    let layout = txn.layout();
    let Some(last) = with_journal(txn, |f, path| last_line(f, path))? else {
        return Ok(());
    };
    let complete = last.last() == Some(&b'\n');
    let parsed = complete
        .then(|| serde_json::from_slice::<Line>(&last).ok())
        .flatten();
    match parsed {
        Some(l) if l.applied.is_some() || l.journal.is_some() => Ok(()),
        Some(l) if l.tx.is_some() => {
            let tx = l.tx.clone().unwrap_or_default();
            let Some(entry) = Entry::from_line(layout, l) else {
                return Err(Error::Damaged {
                    path: "journal.jsonl".into(),
                    reason: format!("entry {tx} names a path outside the store"),
                });
            };
            tracing::warn!(
                tx,
                "the last journal entry was not applied (a writer died); applying it"
            );
            apply(txn, &entry, Redo::Yes)?;
            crate::index::work::mark_stale(txn)?;
            mark_applied(txn, &entry.tx)
        }
        _ => {
            // Torn or unreadable last line: its fsync never returned, so
            // its call was never acknowledged. Cut it off, but only when it
            // is the last line: damage before it is `doctor`'s to report.
            let Read { good_end, len, .. } = read_lines(layout)?;
            let path = layout.journal();
            let rest = fs::read_bytes(&path)?.unwrap_or_default();
            let tail = rest.get(good_end as usize..len as usize).unwrap_or(&[]);
            let inner_newline = tail
                .iter()
                .take(tail.len().saturating_sub(1))
                .any(|b| *b == b'\n');
            if inner_newline {
                tracing::warn!("the journal is damaged before its end; run `codenator doctor`");
                return Ok(());
            }
            tracing::warn!("dropping a torn journal entry (its call never returned)");
            let f = OpenOptions::new().write(true).open(&path).at(&path)?;
            f.set_len(good_end).at(&path)?;
            Ok(())
        }
    }
}

/// Is this a redo (the effects may already be there)?
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redo {
    No,
    Yes,
}

/// Apply an entry: ledger lines, then records put, then records removed.
/// On a redo, a record whose file is newer than the entry is left alone and
/// a message the ledger already holds is not appended again.
pub(crate) fn apply(txn: &WriteTxn, entry: &Entry, redo: Redo) -> Result<()> {
    crate::index::inbox::append_lines(txn, &entry.messages, redo == Redo::Yes)?;
    txn.fault(FaultPoint::AfterMessages);
    for (path, bytes) in &entry.puts {
        record(path, Some(bytes), entry.at, redo)?;
    }
    for path in &entry.deletes {
        record(path, None, entry.at, redo)?;
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
    let len = with_journal(txn, |f, path| Ok(f.metadata().at(path)?.len()))?;
    if len > CHECKPOINT_BYTES {
        checkpoint(txn)?;
    }
    Ok(())
}

/// Sync everything the journal describes, then start an empty journal for
/// this boot. Crash invariant: the sync comes first, so emptying the
/// journal never drops an effect that is not durable elsewhere.
pub(crate) fn checkpoint(txn: &WriteTxn) -> Result<()> {
    let layout = txn.layout();
    let files: Vec<PathBuf> = read_lines(layout)?
        .lines
        .into_iter()
        .flat_map(|l| l.puts.into_iter().map(|p| p.path).chain(l.deletes))
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
        journal: Some(1),
        boot: Some(txn.store().boot_id().unwrap_or("").to_string()),
        ..Line::default()
    };
    // One line, like every line of the journal. The file is replaced: the
    // transaction's handle names the old one.
    let bytes = fs::encode_json(&layout.journal(), &header, false)?;
    txn.journal_handle().take();
    fs::write_atomic(&layout.journal(), &bytes, Durability::Durable)
}

/// The boot named in the journal's header (its first line).
fn header_boot(layout: &Layout) -> Result<Option<String>> {
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
    Ok(serde_json::from_slice::<Line>(first)
        .ok()
        .and_then(|l| l.boot))
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
        .filter(|l| l.tx.is_some())
        .filter_map(|l| Entry::from_line(layout, l))
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
    checkpoint(txn)
}

/// What `doctor` reports about the journal.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// Entries without an apply mark (a writer died mid-commit; the next
    /// write applies the last one).
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
        let path = layout.journal();
        let bytes = fs::read_bytes(&path)?.unwrap_or_default();
        let copy = layout
            .dir()
            .join(format!("journal.damaged-{}.jsonl", now_ns()));
        fs::write_atomic(&copy, &bytes, Durability::Durable)?;
    }
    let entries = unapplied_entries(layout, r.lines);
    if !entries.is_empty() {
        replay(txn, &entries)?;
        crate::index::work::mark_stale(txn)?;
    }
    checkpoint(txn)?;
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
                )
            );
        ok.then(|| self.dir().join(p))
    }
}
