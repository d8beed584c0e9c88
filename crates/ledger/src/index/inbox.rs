//! The message ledger (`messages/ledger.jsonl`) and its inbox index.
//!
//! The ledger file is the truth: one compact JSON object per line, appended
//! under the exclusive lock, `seq` assigned under that lock, fsynced before
//! the append is reported done. Lines written by the reference CLI have no
//! `seq`; they count as their non-blank line number, as the reference reads
//! them.
//!
//! Reading an inbox must not cost more as history grows, so a derived index
//! keeps fixed-size records pointing at lines: per recipient
//! (`index/inbox/<to>.idx`) and per task, in one of 256 buckets by the
//! hash of the task id (`index/task/<bucket>.idx`: a file per task would
//! cost a file creation, a journal commit on most file systems, on every
//! `create_task`), plus
//! `index/ledger.json`, which says how much of the ledger the index covers.
//! Anything past that point (a line the reference appended, or a crash
//! between the append and the index update) is indexed on the next write
//! and read directly by readers until then. A torn last line is left
//! unindexed; the next append terminates it, after which it is one damaged
//! line, skipped and listed for `doctor`.
//!
//! **The index never hides a line.** It is checked against the ledger
//! before it is used: a replaced (other inode) or shorter ledger, index
//! files that do not hold the records the state counts, or a ledger whose
//! bytes before the covered point changed (an editor or a script rewrote it
//! in place) make it be rebuilt, by the next writer, and read around by
//! readers until then. A recipient's file is checked against its own count
//! where it is read or appended to, so no access lists `index/inbox/`.
//! Every line read through the index is checked to be the one the record
//! points at (a whole line, the recipient, the seq); a mismatch means the
//! index is stale, and the answer is computed from a full scan instead.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, IoContext, Result};
use crate::fs::platform::read_exact_at;
use crate::fs::{self as sfs, Durability, jsonl};
use crate::model::ids::stable_hash;
use crate::model::message::PAUSE_TYPES;
use crate::model::{Cursor, Message, SlotId, TaskId};
use crate::store::{Layout, ReadTxn, WriteTxn};
use crate::time;

const RECORD: usize = 40;
const INDEX_VERSION: u32 = 5;

/// Records a search reads in one go from a file's end (4 KB).
const TAIL_RECORDS: u64 = 102;
const MAX_CORRUPT_LISTED: usize = 100;
const PAUSES_KEPT: usize = 16;
/// Bytes before the covered point whose hash tells that the indexed part of
/// the ledger is unchanged.
const GUARD_BYTES: u64 = 4096;

/// One index record: where a line is, its seq, the running max seq of its
/// index file (monotonic, so it can be binary-searched even when legacy seqs
/// are not), and a tag: in a recipient's file the hash of the sender (to
/// skip a slot's own messages without reading them), in a task bucket the
/// hash of the task id (to pick one task's records).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    offset: u64,
    len: u32,
    seq: u64,
    runmax: u64,
    tag: u64,
}

impl Record {
    fn encode(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[16..24].copy_from_slice(&self.seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.runmax.to_le_bytes());
        b[32..40].copy_from_slice(&self.tag.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Record {
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let mut l = [0u8; 4];
        l.copy_from_slice(&b[8..12]);
        Record {
            offset: u64_at(0),
            len: u32::from_le_bytes(l),
            seq: u64_at(16),
            runmax: u64_at(24),
            tag: u64_at(32),
        }
    }
}

/// A damaged line: its byte range in the ledger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DamagedLine {
    pub offset: u64,
    pub len: u64,
    pub reason: String,
}

/// A summary-pause marker as indexed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PauseMark {
    pub seq: u64,
    pub count: u64,
    pub at: Option<String>,
}

/// What the index covers (`index/ledger.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IndexState {
    pub version: u32,
    /// Ledger bytes covered by the index.
    pub covered: u64,
    /// Non-blank lines seen (the seq of a legacy line without `seq`).
    pub lines: u64,
    /// Highest seq seen.
    pub max_seq: u64,
    /// Inode of the indexed ledger (its file index on Windows, see
    /// [`crate::fs::platform::FileStat`]): a replaced ledger means a rebuild.
    pub ledger_ino: u64,
    /// Size and mtime of the ledger when the index last looked at it: when
    /// both are unchanged, nobody has touched the ledger since.
    #[serde(default)]
    pub ledger_len: u64,
    #[serde(default)]
    pub ledger_mtime_ns: u64,
    /// Hash of the last [`GUARD_BYTES`] bytes before `covered`.
    #[serde(default)]
    pub guard: u64,
    /// Messages indexed.
    #[serde(default)]
    pub messages: u64,
    /// Corrupt lines found (the first hundred).
    #[serde(default)]
    pub damaged: Vec<DamagedLine>,
    /// The latest summary-pause markers, oldest first.
    #[serde(default)]
    pub pauses: Vec<PauseMark>,
    /// Records in each recipient's index file, by recipient. A file is
    /// checked against its count where it is used: a reader that finds
    /// another length (a file deleted, truncated or left longer by a crash)
    /// answers from a full read of the ledger, and a writer that finds
    /// records missing rebuilds the index. So no access lists the directory.
    #[serde(default)]
    pub inbox_files: BTreeMap<String, u64>,
    /// Records in the tasks' index files (`index/task/`, one per task: too
    /// many to check on every access), and the mtime of that directory when
    /// they were counted: a file deleted or added by someone else changes
    /// it, and only then are the files counted.
    #[serde(default)]
    pub task_records: u64,
    #[serde(default)]
    pub task_dir_mtime: u64,
}

impl IndexState {
    /// Does any recipient's index file hold a record?
    fn has_inbox_records(&self) -> bool {
        self.inbox_files.values().any(|n| *n > 0)
    }

    fn empty(ino: u64) -> IndexState {
        IndexState {
            version: INDEX_VERSION,
            ledger_ino: ino,
            ..IndexState::default()
        }
    }
}

/// What a reader looks up: a recipient's messages or a task's.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    To(SlotId),
    Task(TaskId),
}

/// Task buckets.
const TASK_BUCKETS: u64 = 256;

/// The index file a key's records are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum IdxFile<'k> {
    To(&'k SlotId),
    Tasks(u8),
}

impl Key {
    fn file(&self) -> IdxFile<'_> {
        match self {
            Key::To(s) => IdxFile::To(s),
            Key::Task(t) => IdxFile::Tasks((stable_hash(t) % TASK_BUCKETS) as u8),
        }
    }

    /// The tag a record of this key carries, when the file holds others'.
    fn tag(&self) -> Option<u64> {
        match self {
            Key::To(_) => None,
            Key::Task(t) => Some(stable_hash(t)),
        }
    }

    /// Does this message belong under this key?
    fn matches(&self, m: &Message) -> bool {
        match self {
            Key::To(s) => m.to == s.as_str(),
            Key::Task(t) => m.task_id.as_deref() == Some(t.as_str()),
        }
    }
}

impl IdxFile<'_> {
    fn path(&self, layout: &Layout) -> PathBuf {
        match self {
            IdxFile::To(s) => layout.inbox_index(s),
            IdxFile::Tasks(b) => layout.task_index(*b),
        }
    }

    fn owned(&self) -> OwnedFile {
        match self {
            IdxFile::To(s) => OwnedFile::To((*s).clone()),
            IdxFile::Tasks(b) => OwnedFile::Tasks(*b),
        }
    }
}

/// An index file, owned (the key of appends and of the overlay).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum OwnedFile {
    To(SlotId),
    Tasks(u8),
}

impl OwnedFile {
    fn as_file(&self) -> IdxFile<'_> {
        match self {
            OwnedFile::To(s) => IdxFile::To(s),
            OwnedFile::Tasks(b) => IdxFile::Tasks(*b),
        }
    }
}

/// Records past the persisted index, held in memory by a reader.
#[derive(Default)]
struct Overlay {
    by_file: BTreeMap<OwnedFile, Vec<Record>>,
}

/// Per index file: the seq a view read it above, and the records it got.
type ReadMemo = BTreeMap<OwnedFile, (u64, Vec<Record>)>;

/// The ledger's index as seen by one transaction: persisted state plus the
/// records of lines past it.
pub struct LedgerView {
    pub state: IndexState,
    overlay: Overlay,
    /// True when the ledger ends in an unterminated (torn) line.
    pub torn_tail: bool,
    /// False when the index files describe another ledger and only the
    /// overlay (then built from the whole ledger) may be used.
    files_valid: bool,
    /// What this view read of each index file (and above which seq), kept
    /// when it was made under the shared lock, where no index file can
    /// change: `get_status` asks for the broadcast file once per slot, and
    /// reads it once. None for a write transaction's view.
    read_memo: Option<RefCell<ReadMemo>>,
}

struct Meta {
    len: u64,
    ino: u64,
    mtime_ns: u64,
}

fn ledger_meta(layout: &Layout) -> Result<Option<Meta>> {
    let p = layout.ledger();
    match sfs::platform::stat(&p) {
        Ok(m) => Ok(Some(Meta {
            len: m.len,
            ino: m.id,
            mtime_ns: u64::try_from(m.mtime_ns).unwrap_or(0),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(&p),
    }
}

fn load_state(layout: &Layout) -> IndexState {
    match sfs::read_json::<IndexState>(&layout.index_state()) {
        Ok(Some(s)) if s.version == INDEX_VERSION => s,
        _ => IndexState::empty(0),
    }
}

/// Hash of the last guard bytes before `covered`.
fn guard_hash(layout: &Layout, covered: u64) -> Result<u64> {
    if covered == 0 {
        return Ok(0);
    }
    let p = layout.ledger();
    guard_hash_in(&File::open(&p).at(&p)?, &p, covered)
}

/// [`guard_hash`] of the open ledger `f`.
fn guard_hash_in(f: &File, path: &Path, covered: u64) -> Result<u64> {
    if covered == 0 {
        return Ok(0);
    }
    let start = covered.saturating_sub(GUARD_BYTES);
    let mut buf = vec![0u8; (covered - start) as usize];
    read_exact_at(f, &mut buf, start).at(path)?;
    Ok(stable_hash_bytes(&buf))
}

fn stable_hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Is the indexed part of the ledger what the state says it is?
fn still_describes(layout: &Layout, state: &IndexState, meta: &Meta) -> Result<bool> {
    if meta.ino != state.ledger_ino || meta.len < state.covered {
        return Ok(false);
    }
    if !index_files_match(layout, state) {
        return Ok(false);
    }
    if meta.len == state.ledger_len && meta.mtime_ns == state.ledger_mtime_ns {
        // Untouched since the index last looked.
        return Ok(true);
    }
    Ok(guard_hash(layout, state.covered)? == state.guard)
}

/// Effective seq of a parsed line: its own `seq`, else its line number.
fn effective_seq(obj: &serde_json::Map<String, Value>, line_no: u64) -> u64 {
    obj.get("seq").and_then(Value::as_u64).unwrap_or(line_no)
}

/// Whether [`catch_up`] must first check that the state still describes
/// the ledger and the index files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The state was read from disk: anyone may have changed the ledger.
    Verify,
    /// The state was verified in this write transaction and only the
    /// transaction itself has appended since (the exclusive lock is held).
    VerifiedInTxn,
}

/// Index the ledger bytes past `state.covered`. With `persist`, records go
/// to the index files and the state is saved (the caller holds the
/// exclusive lock); otherwise they are returned as an overlay. `appended`
/// is what the caller just appended: when it is all the ledger holds past
/// the covered point, it is indexed without reading it back.
fn catch_up(
    layout: &Layout,
    state: &mut IndexState,
    persist: bool,
    check: Check,
    appended: Option<&[u8]>,
) -> Result<(Overlay, bool, bool)> {
    let mut overlay = Overlay::default();
    let mut files_valid = true;
    let Some(meta) = ledger_meta(layout)? else {
        if state.covered != 0 || state.has_inbox_records() {
            *state = IndexState::empty(0);
            if persist {
                reset_index_files(layout);
                save_state(layout, state)?;
            }
        }
        return Ok((overlay, false, files_valid));
    };
    let has_index = state.covered > 0 || state.has_inbox_records() || state.ledger_ino != meta.ino;
    // A ledger the state does not name (just created, or replaced by
    // `doctor --repair`), or one shorter than the state covers, is checked
    // anyway.
    let verify = check == Check::Verify || state.ledger_ino != meta.ino || meta.len < state.covered;
    if has_index && verify && !still_describes(layout, state, &meta)? {
        if state.covered > 0 {
            tracing::warn!(
                "the inbox index no longer describes messages/ledger.jsonl (replaced, truncated or edited in place); rebuilding it from the ledger"
            );
        }
        *state = IndexState::empty(meta.ino);
        if persist {
            reset_index_files(layout);
        } else {
            files_valid = false;
        }
    }
    if meta.len == state.covered {
        if persist && (state.ledger_len, state.ledger_mtime_ns) != (meta.len, meta.mtime_ns) {
            state.ledger_len = meta.len;
            state.ledger_mtime_ns = meta.mtime_ns;
            save_state(layout, state)?;
        }
        return Ok((overlay, false, files_valid));
    }
    let path = layout.ledger();
    let mut f = File::open(&path).at(&path)?;
    let tail: std::borrow::Cow<[u8]> = match appended {
        Some(t) if t.len() as u64 == meta.len - state.covered => t.into(),
        _ => {
            f.seek(SeekFrom::Start(state.covered)).at(&path)?;
            let mut tail = Vec::with_capacity((meta.len - state.covered) as usize);
            (&mut f)
                .take(meta.len - state.covered)
                .read_to_end(&mut tail)
                .at(&path)?;
            tail.into()
        }
    };

    let base = state.covered;
    let (lines, torn) = jsonl::split(&tail, base, state.lines);
    let mut appends: BTreeMap<OwnedFile, Vec<Record>> = BTreeMap::new();
    for line in &lines {
        state.lines = line.number;
        let obj = match line.parse() {
            Ok(obj) => obj,
            Err(reason) => {
                tracing::warn!(
                    offset = line.offset,
                    "skipping a damaged ledger line: {reason}"
                );
                if state.damaged.len() < MAX_CORRUPT_LISTED {
                    state.damaged.push(DamagedLine {
                        offset: line.offset,
                        len: line.len,
                        reason,
                    });
                }
                continue;
            }
        };
        let seq = effective_seq(&obj, line.number);
        state.max_seq = state.max_seq.max(seq);
        state.messages += 1;
        let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("message");
        let pause_count = obj
            .get("payload")
            .and_then(|p| p.get("integration_count"))
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0 && PAUSE_TYPES.contains(&kind));
        if let Some(count) = pause_count {
            state.pauses.push(PauseMark {
                seq,
                count: count as u64,
                at: Some(s("created_at").to_string()).filter(|a| !a.is_empty()),
            });
            if state.pauses.len() > PAUSES_KEPT {
                state.pauses.remove(0);
            }
        }
        let rec = |tag| Record {
            offset: line.offset,
            len: line.len as u32,
            seq,
            runmax: seq,
            tag,
        };
        // Only valid ids are indexed: nobody can read an inbox or a task
        // whose name is not a valid id.
        if let Some(to) = SlotId::stored(s("to")) {
            let key = Key::To(to);
            appends
                .entry(key.file().owned())
                .or_default()
                .push(rec(stable_hash(s("from"))));
        }
        if let Some(task) = TaskId::stored(s("task_id")) {
            let key = Key::Task(task);
            let tag = key.tag().unwrap_or(0);
            appends
                .entry(key.file().owned())
                .or_default()
                .push(rec(tag));
        }
    }
    // A torn tail stays uncovered: the next append terminates it first.
    state.covered = jsonl::covered_end(&tail, base);
    let torn_tail = torn.is_some();
    if persist {
        for (file, recs) in appends {
            let path = file.as_file().path(layout);
            match &file {
                OwnedFile::To(slot) => {
                    let counted = state.inbox_files.get(slot.as_str()).copied().unwrap_or(0);
                    let Some((_, total)) = append_records(&path, recs, counted)? else {
                        // Records the state counts are gone (the file was
                        // deleted or cut): the index would hide messages.
                        tracing::warn!(
                            file = %path.display(),
                            "an inbox index file lost records; rebuilding the index from the ledger"
                        );
                        *state = IndexState::empty(meta.ino);
                        reset_index_files(layout);
                        return catch_up(layout, state, persist, Check::Verify, None);
                    };
                    state.inbox_files.insert(slot.as_str().to_string(), total);
                }
                OwnedFile::Tasks(_) => {
                    if let Some((written, _)) = append_records(&path, recs, 0)? {
                        state.task_records += written;
                    }
                }
            }
        }
        state.task_dir_mtime = sfs::mtime_ns(&layout.task_index_dir()) as u64;
        state.ledger_len = meta.len;
        state.ledger_mtime_ns = meta.mtime_ns;
        state.guard = guard_hash_in(&f, &path, state.covered)?;
        save_state(layout, state)?;
    } else {
        overlay.by_file = appends;
    }
    Ok((overlay, torn_tail, files_valid))
}

/// Bytes of the files in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// Do the tasks' index files hold the records the state counts? They are
/// counted only when their directory changed since they were counted. (The
/// recipients' files are checked one by one where they are used, against
/// [`IndexState::inbox_files`].)
fn index_files_match(layout: &Layout, state: &IndexState) -> bool {
    let task_dir = layout.task_index_dir();
    sfs::mtime_ns(&task_dir) as u64 == state.task_dir_mtime
        || dir_bytes(&task_dir) == state.task_records * RECORD as u64
}

fn reset_index_files(layout: &Layout) {
    for dir in [layout.inbox_index_dir(), layout.task_index_dir()] {
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn save_state(layout: &Layout, state: &IndexState) -> Result<()> {
    // Rewritten on every append: in place when it fits one page (no new
    // file, no rename), else by the usual temp file and rename.
    let path = layout.index_state();
    let bytes = serde_json::to_vec(state).map_err(|e| Error::Damaged {
        path: "index/ledger.json".into(),
        reason: e.to_string(),
    })?;
    if sfs::overwrite_page(&path, &bytes)? {
        return Ok(());
    }
    sfs::write_atomic(&path, &bytes, Durability::Derived)
}

/// Append records to an index file that should hold at least `counted`,
/// skipping any already there (a crash between an index append and the
/// state save), and repairing a torn final record. Returns the records it
/// wrote and those the file holds after it, or None (and writes nothing)
/// when it holds fewer than `counted`: records were lost, and the index
/// must be rebuilt.
fn append_records(path: &Path, recs: Vec<Record>, counted: u64) -> Result<Option<(u64, u64)>> {
    let mut f = sfs::open_rw(path)?;
    let len = f.metadata().at(path)?.len();
    let whole = len - len % RECORD as u64;
    if whole < counted * RECORD as u64 {
        return Ok(None);
    }
    if whole != len {
        f.set_len(whole).at(path)?;
    }
    let (mut last_offset, mut runmax) = (None, 0u64);
    if whole >= RECORD as u64 {
        let mut b = [0u8; RECORD];
        read_exact_at(&f, &mut b, whole - RECORD as u64).at(path)?;
        let last = Record::decode(&b);
        last_offset = Some(last.offset);
        runmax = last.runmax;
    }
    let mut buf = Vec::with_capacity(recs.len() * RECORD);
    for mut r in recs {
        if last_offset.is_some_and(|o| o >= r.offset) {
            continue;
        }
        runmax = runmax.max(r.seq);
        r.runmax = runmax;
        buf.extend_from_slice(&r.encode());
    }
    f.seek(SeekFrom::Start(whole)).at(path)?;
    f.write_all(&buf).at(path)?;
    let written = (buf.len() / RECORD) as u64;
    Ok(Some((written, whole / RECORD as u64 + written)))
}

/// Records of an index file whose running max exceeds `above`: one read
/// of the file's last block, and a binary search before it only when the
/// answer starts there. Cost follows the answer, not the history. With
/// `counted`, a file that does not hold exactly that many records is
/// stale: None.
fn records_above(path: &Path, above: u64, counted: Option<u64>) -> Result<Option<Vec<Record>>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(counted.is_none_or(|c| c == 0).then(Vec::new));
        }
        Err(e) => return Err(e).at(path),
    };
    let len = f.metadata().at(path)?.len();
    let n = len / RECORD as u64;
    if counted.is_some_and(|c| len != c * RECORD as u64) {
        return Ok(None);
    }
    let read_run = |from: u64, to: u64| -> Result<Vec<Record>> {
        let mut buf = vec![0u8; (to - from) as usize * RECORD];
        read_exact_at(&f, &mut buf, from * RECORD as u64).at(path)?;
        Ok(buf.chunks_exact(RECORD).map(Record::decode).collect())
    };
    // A reader's cursor is nearly always close to the end: read the last
    // block first, in one read, and search it in memory. Only when what is
    // wanted reaches further back is the rest searched a record at a time.
    let tail_from = n.saturating_sub(TAIL_RECORDS);
    let mut tail = read_run(tail_from, n)?;
    if tail.first().is_none_or(|r| r.runmax <= above) {
        let keep = tail.partition_point(|r| r.runmax <= above);
        tail.drain(..keep);
        return Ok(Some(tail));
    }
    let (mut lo, mut hi) = (0u64, tail_from);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if read_run(mid, mid + 1)?[0].runmax > above {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut recs = read_run(lo, tail_from)?;
    recs.append(&mut tail);
    Ok(Some(recs))
}

/// The most bytes one read of a run of nearby lines covers.
const RUN_SPAN: u64 = 64 * 1024;

/// The messages `recs` point at, in their order; None in place of a record
/// that no longer points at its line. Records close together in the ledger
/// (a slot's recent messages usually are) are read as one run, in one read,
/// instead of one read each; a run spans at most [`RUN_SPAN`] bytes.
fn read_records<'k>(
    f: &File,
    path: &Path,
    recs: impl IntoIterator<Item = (&'k Key, Record)>,
) -> Result<Vec<Option<Message>>> {
    let recs: Vec<(&Key, Record)> = recs.into_iter().collect();
    let mut out = Vec::with_capacity(recs.len());
    let mut i = 0;
    while i < recs.len() {
        // The byte before each line too: a record must point at a whole line.
        let start = recs[i].1.offset.saturating_sub(1);
        let mut end = recs[i].1.offset + u64::from(recs[i].1.len);
        let mut j = i + 1;
        while let Some((_, r)) = recs.get(j) {
            let r_end = r.offset + u64::from(r.len);
            if r.offset.saturating_sub(1) < start || r_end.max(end) - start > RUN_SPAN {
                break;
            }
            end = end.max(r_end);
            j += 1;
        }
        let mut buf = vec![0u8; (end - start) as usize];
        let run_read = match read_exact_at(f, &mut buf, start) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
            Err(e) => return Err(e).at(path),
        };
        for (key, r) in &recs[i..j] {
            let from = (r.offset.saturating_sub(1) - start) as usize;
            let to = (r.offset + u64::from(r.len) - start) as usize;
            let lead = (r.offset - r.offset.saturating_sub(1)) as usize;
            out.push(
                run_read
                    .then(|| parse_line(&buf[from..to], lead, key, r))
                    .flatten(),
            );
        }
        i = j;
    }
    Ok(out)
}

/// The message of one record's line (`lead`: the byte before it is there),
/// if it still is that line.
fn parse_line(buf: &[u8], lead: usize, key: &Key, r: &Record) -> Option<Message> {
    if (lead == 1 && buf[0] != b'\n') || buf.last() != Some(&b'\n') {
        return None;
    }
    let line = &buf[lead..buf.len() - 1];
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    // A message line parses as a Message (lenient: every object does); a
    // seq it carries must be the record's (a legacy line has none: 0).
    let mut m = serde_json::from_slice::<Message>(line).ok()?;
    if (m.seq != 0 && m.seq != r.seq) || !key.matches(&m) {
        return None;
    }
    m.seq = r.seq;
    Some(m)
}

/// The index keys a slot's unread messages are under: its own inbox, and
/// the broadcast one unless it is the broadcast slot.
fn unread_keys(slot: &SlotId) -> Vec<Key> {
    let mut keys = vec![Key::To(slot.clone())];
    if !slot.is_broadcast() {
        keys.push(Key::To(SlotId::broadcast()));
    }
    keys
}

/// The view of the index from `state`, caught up with the ledger (and
/// saved, with `persist`).
fn make_view(
    layout: &Layout,
    mut state: IndexState,
    persist: bool,
    check: Check,
    memo: bool,
) -> Result<LedgerView> {
    let (overlay, torn_tail, files_valid) = catch_up(layout, &mut state, persist, check, None)?;
    Ok(LedgerView {
        state,
        overlay,
        torn_tail,
        files_valid,
        read_memo: memo.then(Default::default),
    })
}

/// The index brought up to date under the write lock. The first call in a
/// transaction reads the state and checks it against the ledger and the
/// index files; later calls start from the state the transaction kept (the
/// lock is held: only this transaction changed them since), so a write
/// checks the index once, not once per step.
pub(crate) fn sync_index(txn: &WriteTxn) -> Result<LedgerView> {
    let layout = txn.layout();
    let (state, check) = match txn.take_inbox_state() {
        Some(s) => (s, Check::VerifiedInTxn),
        None => (load_state(layout), Check::Verify),
    };
    let view = make_view(layout, state, true, check, false)?;
    txn.keep_inbox_state(view.state.clone());
    Ok(view)
}

/// The index as it is, with any unindexed tail read into memory. Never
/// writes (a write transaction's view is brought up to date first).
pub fn view(txn: &ReadTxn) -> Result<LedgerView> {
    let memo = !txn.is_exclusive();
    make_view(
        txn.layout(),
        load_state(txn.layout()),
        false,
        Check::Verify,
        memo,
    )
}

/// A view built from the whole ledger in memory, ignoring the index files
/// (an empty state describes no ledger): what a reader falls back to when
/// the index proved stale.
fn full_view(txn: &ReadTxn) -> Result<LedgerView> {
    make_view(
        txn.layout(),
        IndexState::empty(0),
        false,
        Check::Verify,
        false,
    )
}

/// Messages of one key, in (seq, offset) order, after the records' checks.
fn load_records(txn: &ReadTxn, key: &Key, recs: &[Record]) -> Result<Option<Vec<Message>>> {
    if recs.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let path = txn.layout().ledger();
    let f = File::open(&path).at(&path)?;
    let found = read_records(&f, &path, recs.iter().map(|r| (key, *r)))?;
    Ok(found.into_iter().collect())
}

impl LedgerView {
    /// Records of `key` above `above`, persisted and overlaid; None when
    /// the key's index file is not the one the state describes.
    fn records(&self, txn: &ReadTxn, key: &Key, above: u64) -> Result<Option<Vec<Record>>> {
        let file = key.file();
        let mut recs = Vec::new();
        if self.files_valid {
            let counted = match key {
                Key::To(s) => Some(self.state.inbox_files.get(s.as_str()).copied().unwrap_or(0)),
                Key::Task(_) => None,
            };
            match self.file_records(txn, file, above, counted)? {
                Some(r) => recs.extend(r),
                None => return Ok(None),
            }
        }
        if let Some(o) = self.overlay.by_file.get(&file.owned()) {
            recs.extend(o.iter().copied().filter(|r| r.seq > above));
        }
        if let Some(tag) = key.tag() {
            recs.retain(|r| r.tag == tag);
        }
        Ok(Some(recs))
    }

    /// [`records_above`] of one index file, from this view's memo when it
    /// read that file from at most `above` before (the records are those
    /// whose running max exceeds `above`, so the filter gives the same).
    fn file_records(
        &self,
        txn: &ReadTxn,
        file: IdxFile,
        above: u64,
        counted: Option<u64>,
    ) -> Result<Option<Vec<Record>>> {
        let Some(memo) = &self.read_memo else {
            return records_above(&file.path(txn.layout()), above, counted);
        };
        let owned = file.owned();
        if let Some((from, recs)) = memo.borrow().get(&owned)
            && *from <= above
        {
            return Ok(Some(
                recs.iter().copied().filter(|r| r.runmax > above).collect(),
            ));
        }
        let found = records_above(&file.path(txn.layout()), above, counted)?;
        if let Some(recs) = &found {
            memo.borrow_mut().insert(owned, (above, recs.clone()));
        }
        Ok(found)
    }

    /// Unread records for `slot` (its own and broadcasts, `keys` being its
    /// [`unread_keys`]), in (seq, offset) order, its own messages left out,
    /// each with the position of its key in `keys` (a count of 200 unread
    /// used to clone the slot's name 200 times); None when an index file is
    /// stale.
    fn unread_records(
        &self,
        txn: &ReadTxn,
        slot: &SlotId,
        keys: &[Key],
        cursor: &Cursor,
    ) -> Result<Option<Vec<(usize, Record)>>> {
        let own = stable_hash(slot);
        let mut recs = Vec::new();
        for (k, key) in keys.iter().enumerate() {
            let Some(found) = self.records(txn, key, cursor.last_seq)? else {
                return Ok(None);
            };
            recs.extend(found.into_iter().map(|r| (k, r)));
        }
        recs.retain(|(_, r)| !cursor.is_read(r.seq) && r.tag != own);
        recs.sort_by_key(|(_, r)| (r.seq, r.offset));
        recs.dedup_by_key(|(_, r)| r.offset);
        Ok(Some(recs))
    }

    /// How many messages `slot` has not read.
    pub fn unread_count(&self, txn: &ReadTxn, slot: &SlotId, cursor: &Cursor) -> Result<usize> {
        let keys = unread_keys(slot);
        if let Some(recs) = self.unread_records(txn, slot, &keys, cursor)? {
            return Ok(recs.len());
        }
        tracing::warn!(slot = %slot, "the inbox index is stale; counting from a full read of the ledger");
        Ok(full_view(txn)?
            .unread_records(txn, slot, &keys, cursor)?
            .map_or(0, |r| r.len()))
    }

    /// The first `limit` unread messages of `slot` (oldest first) and the
    /// total unread. A run of equal seqs (legacy duplicates) is never split
    /// across pages: the cursor moves to the last returned seq.
    pub fn unread(
        &self,
        txn: &ReadTxn,
        slot: &SlotId,
        cursor: &Cursor,
        limit: usize,
    ) -> Result<(Vec<Message>, usize)> {
        if let Some(found) = self.try_unread(txn, slot, cursor, limit)? {
            return Ok(found);
        }
        tracing::warn!(
            slot = %slot,
            "the inbox index points at lines that moved; answering from a full read of the ledger"
        );
        match full_view(txn)?.try_unread(txn, slot, cursor, limit)? {
            Some(found) => Ok(found),
            None => Err(Error::Damaged {
                path: "messages/ledger.jsonl".into(),
                reason: "the ledger changed while it was read".into(),
            }),
        }
    }

    fn try_unread(
        &self,
        txn: &ReadTxn,
        slot: &SlotId,
        cursor: &Cursor,
        limit: usize,
    ) -> Result<Option<(Vec<Message>, usize)>> {
        let keys = unread_keys(slot);
        let Some(recs) = self.unread_records(txn, slot, &keys, cursor)? else {
            return Ok(None);
        };
        let total = recs.len();
        let mut take = limit.min(total);
        while take > 0 && take < total && recs[take].1.seq == recs[take - 1].1.seq {
            take += 1;
        }
        let path = txn.layout().ledger();
        if take == 0 {
            return Ok(Some((Vec::new(), total)));
        }
        let f = File::open(&path).at(&path)?;
        let found = read_records(&f, &path, recs[..take].iter().map(|(k, r)| (&keys[*k], *r)))?;
        let mut out = Vec::with_capacity(take);
        for m in found {
            let Some(m) = m else {
                return Ok(None);
            };
            // A hash collision could hide a foreign sender; recheck the field.
            if m.from != slot.as_str() {
                out.push(m);
            }
        }
        Ok(Some((out, total)))
    }

    /// The latest `limit` messages about a task, oldest first, and how many
    /// there are in all.
    pub fn task_messages(
        &self,
        txn: &ReadTxn,
        task: &TaskId,
        limit: usize,
    ) -> Result<(Vec<Message>, usize)> {
        let key = Key::Task(task.clone());
        if let Some(mut recs) = self.records(txn, &key, 0)? {
            recs.sort_by_key(|r| (r.seq, r.offset));
            recs.dedup_by_key(|r| r.offset);
            let total = recs.len();
            let tail = &recs[total.saturating_sub(limit)..];
            if let Some(found) = load_records(txn, &key, tail)? {
                return Ok((found, total));
            }
        }
        tracing::warn!(task = %task, "the task index points at lines that moved; answering from a full read of the ledger");
        let full = full_view(txn)?;
        let recs = full.records(txn, &key, 0)?.unwrap_or_default();
        let total = recs.len();
        let found =
            load_records(txn, &key, &recs[total.saturating_sub(limit)..])?.unwrap_or_default();
        Ok((found, total))
    }

    /// The latest summary-pause markers, oldest first.
    pub fn pauses(&self) -> &[PauseMark] {
        &self.state.pauses
    }
}

/// Stage one message in the write transaction (appended to the ledger at
/// commit). Assigns `seq`, and `id` and `created_at` when empty. Returns the
/// message as it will be stored.
pub(crate) fn append(txn: &WriteTxn, mut msg: Message) -> Result<Message> {
    let view = sync_index(txn)?;
    if msg.id.is_empty() {
        msg.id = crate::model::message::new_id("msg");
    }
    if msg.created_at.is_empty() {
        msg.created_at = time::now();
    }
    Ok(txn.stage_message(view.state.max_seq, msg))
}

/// The `seq` a ledger line carries.
pub(crate) fn line_seq(line: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Seq {
        seq: Option<u64>,
    }
    serde_json::from_slice::<Seq>(line).ok()?.seq
}

/// Append committed ledger lines (a journal entry's) and index them. A torn
/// last line (a writer killed mid-append) is cut off when it is the start
/// of the first line (the same line, redone), else terminated, so it
/// becomes one damaged line instead of swallowing ours. On a `redo`, lines
/// whose seq the ledger already holds are not appended again.
pub(crate) fn append_lines(txn: &WriteTxn, lines: &[Vec<u8>], redo: bool) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let layout = txn.layout();
    let view = sync_index(txn)?;
    let path = layout.ledger();
    let max = view.state.max_seq;
    let todo: Vec<&Vec<u8>> = lines
        .iter()
        .filter(|l| !redo || line_seq(l).is_none_or(|s| s > max))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    if view.torn_tail {
        let all = sfs::read_bytes(&path)?.unwrap_or_default();
        let frag = all.get(view.state.covered as usize..).unwrap_or(&[]);
        if todo[0].starts_with(frag) {
            sfs::power::before_replace(&path);
            let f = OpenOptions::new().write(true).open(&path).at(&path)?;
            f.set_len(view.state.covered).at(&path)?;
        } else {
            bytes.push(b'\n');
        }
    }
    for l in todo {
        bytes.extend_from_slice(l);
        bytes.push(b'\n');
    }
    sfs::append(&path, &bytes, false)?;
    // Index the lines just written (nothing else can have come in between:
    // the lock is held, and `sync_index` verified the state above).
    let mut state = view.state;
    catch_up(layout, &mut state, true, Check::VerifiedInTxn, Some(&bytes))?;
    txn.keep_inbox_state(state);
    Ok(())
}

/// Every line of the ledger, independent of the index: for `doctor`, the v1
/// importer and tests. Messages carry their effective seq.
pub struct Scan {
    pub messages: Vec<Message>,
    pub damaged: Vec<DamagedLine>,
    pub torn: Option<jsonl::TornTail>,
}

pub fn scan(txn: &ReadTxn) -> Result<Scan> {
    let path = txn.layout().ledger();
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).at(&path),
    };
    let (lines, torn) = jsonl::split(&bytes, 0, 0);
    let mut messages = Vec::new();
    let mut damaged = Vec::new();
    for l in &lines {
        match l.parse() {
            Ok(obj) => {
                let seq = effective_seq(&obj, l.number);
                if let Ok(mut m) = serde_json::from_value::<Message>(Value::Object(obj)) {
                    m.seq = seq;
                    messages.push(m);
                }
            }
            Err(reason) => damaged.push(DamagedLine {
                offset: l.offset,
                len: l.len,
                reason,
            }),
        }
    }
    Ok(Scan {
        messages,
        damaged,
        torn,
    })
}

/// Drop every index file so the next writer rebuilds them (`doctor --repair`).
pub(crate) fn reset(txn: &WriteTxn) -> Result<LedgerView> {
    let layout = txn.layout();
    let _ = fs::remove_file(layout.index_state());
    reset_index_files(layout);
    txn.take_inbox_state();
    sync_index(txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search gives exactly the records a filter over the whole file
    /// gives, whether the answer lies in the last block, before it, or
    /// nowhere; with legacy seqs out of order (the running max carries).
    #[test]
    fn records_above_matches_a_full_filter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.idx");
        for n in [0u64, 1, 50, TAIL_RECORDS, TAIL_RECORDS + 1, 350] {
            let mut runmax = 0;
            let recs: Vec<Record> = (0..n)
                .map(|i| {
                    // Every seventh seq is a legacy one from further back.
                    let seq = if i % 7 == 3 { i / 2 + 1 } else { i * 2 + 1 };
                    runmax = runmax.max(seq);
                    Record {
                        offset: i * 100,
                        len: 99,
                        seq,
                        runmax,
                        tag: i,
                    }
                })
                .collect();
            let bytes: Vec<u8> = recs.iter().flat_map(|r| r.encode()).collect();
            std::fs::write(&path, &bytes).unwrap();
            for above in [
                0,
                1,
                2,
                100,
                400,
                495,
                n * 2 - n.min(1),
                n * 2 + 5,
                u64::MAX,
            ] {
                let want: Vec<Record> = recs.iter().copied().filter(|r| r.runmax > above).collect();
                let got = records_above(&path, above, Some(n)).unwrap().unwrap();
                assert_eq!(got, want, "{n} records above {above}");
            }
            assert_eq!(
                records_above(&path, 0, Some(n + 1)).unwrap(),
                None,
                "a miscounted file is stale"
            );
        }
    }

    /// Lines read in runs give what one read per line gave: every message
    /// its record points at, across runs longer than [`RUN_SPAN`], and None
    /// for a record that no longer points at its line.
    #[test]
    fn read_records_in_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let to = SlotId::parse("to", "session-01").unwrap();
        let key = Key::To(to.clone());
        let mut bytes = Vec::new();
        let mut recs = Vec::new();
        for i in 0..3000u64 {
            let whom = if i % 7 == 0 {
                "session-01"
            } else {
                "session-02"
            };
            let line = format!(
                "{{\"id\":\"msg_{i:06}\",\"seq\":{},\"from\":\"coordinator\",\"to\":\"{whom}\",\"body\":\"{}\"}}\n",
                i + 1,
                "x".repeat((i % 50) as usize)
            );
            if i % 7 == 0 {
                recs.push(Record {
                    offset: bytes.len() as u64,
                    len: line.len() as u32,
                    seq: i + 1,
                    runmax: i + 1,
                    tag: 0,
                });
            }
            bytes.extend_from_slice(line.as_bytes());
        }
        std::fs::write(&path, &bytes).unwrap();
        let f = File::open(&path).unwrap();
        let found = read_records(&f, &path, recs.iter().map(|r| (&key, *r))).unwrap();
        assert_eq!(found.len(), recs.len());
        for (m, r) in found.iter().zip(&recs) {
            let m = m.as_ref().expect("every record points at its line");
            assert_eq!(m.seq, r.seq);
            assert_eq!(m.id, format!("msg_{:06}", r.seq - 1));
        }
        // A record shifted off its line, and one past the ledger's end.
        let mut bad = recs.clone();
        bad[3].offset += 1;
        bad.push(Record {
            offset: bytes.len() as u64 + 10,
            ..recs[0]
        });
        let found = read_records(&f, &path, bad.iter().map(|r| (&key, *r))).unwrap();
        assert!(found[3].is_none() && found[bad.len() - 1].is_none());
        assert!(found[2].is_some() && found[4].is_some());
    }
}
