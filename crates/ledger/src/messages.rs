//! The message ledger (`messages/ledger.jsonl`) and its inbox index.
//!
//! The ledger file is the truth: one compact JSON object per line, appended
//! under the exclusive lock, `seq` assigned under that lock, fsynced before
//! the append is reported done. Lines written by the reference CLI have no
//! `seq`; they count as their non-blank line number, as the reference reads them.
//!
//! Reading an inbox must not cost more as history grows, so a derived index
//! keeps, per recipient, fixed-size records pointing at that recipient's
//! lines (`index/inbox/<to>.idx`), plus `index/ledger.json`, which says how
//! many bytes of the ledger the index covers. Anything past that point (a
//! line the reference appended, or a crash between the append and the index
//! update) is indexed on the next write and read directly by readers until
//! then. A torn last line is left unindexed; the next append terminates it,
//! after which it is one corrupt line, skipped and listed for `doctor`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cursor::Cursor;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, Durability};
use crate::ids::{self, BROADCAST};
use crate::store::Store;

/// Message types that only their dedicated tools may write.
pub const RESERVED_TYPES: &[&str] = &[
    "task.assign",
    "commit_report",
    "coordinator.summary_pause",
    "summary_pause",
];

/// Types that count as summary-pause markers.
pub const PAUSE_TYPES: &[&str] = &["coordinator.summary_pause", "summary_pause"];

const LEDGER: &str = "messages/ledger.jsonl";
const STATE: &str = "index/ledger.json";
const RECORD: usize = 40;
const INDEX_VERSION: u32 = 1;
const MAX_CORRUPT_LISTED: usize = 100;
const PAUSES_KEPT: usize = 16;

/// One index record: where a line is, its seq, the running max seq of its
/// index file (monotonic, so it can be binary-searched even when legacy seqs
/// are not), and a hash of its sender (to skip a slot's own messages
/// without reading them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    offset: u64,
    len: u32,
    seq: u64,
    runmax: u64,
    from_hash: u64,
}

impl Record {
    fn encode(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[16..24].copy_from_slice(&self.seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.runmax.to_le_bytes());
        b[32..40].copy_from_slice(&self.from_hash.to_le_bytes());
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
            from_hash: u64_at(32),
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
    /// Inode of the indexed ledger: a replaced ledger means a rebuild.
    pub ledger_ino: u64,
    /// Messages per recipient (for counts without reading lines).
    #[serde(default)]
    pub messages: u64,
    /// Corrupt lines found (the first hundred).
    #[serde(default)]
    pub damaged: Vec<DamagedLine>,
    /// The latest summary-pause markers, oldest first.
    #[serde(default)]
    pub pauses: Vec<PauseMark>,
    /// Records in all `index/inbox/*.idx` files: a deleted or truncated
    /// index file no longer matches it, and the index is rebuilt.
    #[serde(default)]
    pub records: u64,
}

/// Records past the persisted index, held in memory by a reader.
#[derive(Default)]
pub struct Overlay {
    by_to: BTreeMap<String, Vec<Record>>,
}

/// The ledger's index as seen by one call: persisted state plus overlay.
pub struct LedgerView {
    pub state: IndexState,
    overlay: Overlay,
    /// True when the ledger ends in an unterminated (torn) line.
    pub torn_tail: bool,
    /// False when the index files describe another ledger (replaced or
    /// truncated) and only the overlay may be used.
    files_valid: bool,
}

fn idx_path(store: &Store, to: &str) -> PathBuf {
    store.path(&format!("index/inbox/{to}.idx"))
}

/// Which index file a recipient goes to: only valid ids get one, since
/// nobody can read an inbox whose name is not a valid id.
fn idx_key(to: &str) -> Option<&str> {
    ids::slot("to", to).is_ok().then_some(to)
}

fn ledger_meta(store: &Store) -> Result<Option<(u64, u64)>> {
    let p = store.path(LEDGER);
    match fs::metadata(&p) {
        Ok(m) => Ok(Some((m.len(), m.ino()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(&p),
    }
}

fn load_state(store: &Store) -> IndexState {
    match fsutil::read_json::<IndexState>(&store.path(STATE)) {
        Ok(Some(s)) if s.version == INDEX_VERSION => s,
        _ => IndexState {
            version: INDEX_VERSION,
            ..IndexState::default()
        },
    }
}

/// Effective seq of a parsed line: its own `seq`, else its line number.
fn effective_seq(obj: &Map<String, Value>, line_no: u64) -> u64 {
    obj.get("seq").and_then(Value::as_u64).unwrap_or(line_no)
}

/// Index the ledger bytes past `state.covered`. With `persist`, records go
/// to the index files and the state is saved (caller holds the exclusive
/// lock); otherwise they are returned as an overlay.
fn catch_up(store: &Store, state: &mut IndexState, persist: bool) -> Result<(Overlay, bool, bool)> {
    let mut overlay = Overlay::default();
    let mut files_valid = true;
    let Some((len, ino)) = ledger_meta(store)? else {
        if state.covered != 0 {
            *state = IndexState {
                version: INDEX_VERSION,
                ..IndexState::default()
            };
            if persist {
                reset_index_files(store)?;
                save_state(store, state)?;
            }
        }
        return Ok((overlay, false, files_valid));
    };
    if ino != state.ledger_ino || len < state.covered || !index_files_match(store, state) {
        // The ledger was replaced or truncated, or an index file was lost
        // or damaged: rebuild from scratch.
        *state = IndexState {
            version: INDEX_VERSION,
            ledger_ino: ino,
            ..IndexState::default()
        };
        if persist {
            reset_index_files(store)?;
        } else {
            files_valid = false;
        }
    }
    if len == state.covered {
        return Ok((overlay, false, files_valid));
    }
    let path = store.path(LEDGER);
    let mut f = File::open(&path).at(&path)?;
    f.seek(SeekFrom::Start(state.covered)).at(&path)?;
    let mut tail = Vec::with_capacity((len - state.covered) as usize);
    f.take(len - state.covered)
        .read_to_end(&mut tail)
        .at(&path)?;

    let mut appends: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    let mut pos = 0usize;
    let base = state.covered;
    let mut torn = false;
    while pos < tail.len() {
        let Some(nl) = tail[pos..].iter().position(|b| *b == b'\n') else {
            torn = true;
            break;
        };
        let line = &tail[pos..pos + nl];
        let offset = base + pos as u64;
        let line_len = nl as u64 + 1;
        pos += nl + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        state.lines += 1;
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(obj)) => {
                let seq = effective_seq(&obj, state.lines);
                state.max_seq = state.max_seq.max(seq);
                state.messages += 1;
                let ty = obj.get("type").and_then(Value::as_str).unwrap_or("message");
                let pause_count = obj
                    .get("payload")
                    .and_then(|p| p.get("integration_count"))
                    .and_then(Value::as_f64)
                    .filter(|c| c.is_finite() && *c >= 0.0 && PAUSE_TYPES.contains(&ty));
                if let Some(count) = pause_count {
                    state.pauses.push(PauseMark {
                        seq,
                        count: count as u64,
                        at: obj
                            .get("created_at")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    });
                    if state.pauses.len() > PAUSES_KEPT {
                        state.pauses.remove(0);
                    }
                }
                let to = obj.get("to").and_then(Value::as_str).unwrap_or("");
                if let Some(key) = idx_key(to) {
                    let from = obj.get("from").and_then(Value::as_str).unwrap_or("");
                    appends.entry(key.to_string()).or_default().push(Record {
                        offset,
                        len: line_len as u32,
                        seq,
                        runmax: seq,
                        from_hash: ids::stable_hash(from),
                    });
                }
            }
            Ok(_) | Err(_) => {
                let reason = match serde_json::from_slice::<Value>(line) {
                    Ok(_) => "not a JSON object".to_string(),
                    Err(e) => e.to_string(),
                };
                tracing::warn!(offset, "skipping a damaged ledger line: {reason}");
                if state.damaged.len() < MAX_CORRUPT_LISTED {
                    state.damaged.push(DamagedLine {
                        offset,
                        len: line_len,
                        reason,
                    });
                }
            }
        }
    }
    // On a torn tail `pos` stopped at the start of the fragment: it stays uncovered.
    state.covered = base + pos as u64;
    if persist {
        for (to, recs) in appends {
            state.records += append_records(store, &to, recs)?;
        }
        save_state(store, state)?;
    } else {
        overlay.by_to = appends;
    }
    Ok((overlay, torn, files_valid))
}

/// Do the index files hold exactly the records the state counts?
fn index_files_match(store: &Store, state: &IndexState) -> bool {
    let bytes: u64 = fs::read_dir(store.path("index/inbox"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0);
    bytes == state.records * RECORD as u64
}

fn reset_index_files(store: &Store) -> Result<()> {
    let dir = store.path("index/inbox");
    if let Ok(rd) = fs::read_dir(&dir) {
        for e in rd.flatten() {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(())
}

fn save_state(store: &Store, state: &IndexState) -> Result<()> {
    // Rewritten on every append: in place when it fits one page (no new
    // file, no rename), else by the usual temp file and rename.
    let bytes = serde_json::to_vec(state).map_err(|e| Error::Damaged {
        path: STATE.into(),
        reason: e.to_string(),
    })?;
    if fsutil::overwrite_page(&store.path(STATE), &bytes)? {
        return Ok(());
    }
    fsutil::write_atomic(&store.path(STATE), &bytes, Durability::Derived)
}

/// Append records to a recipient's index file, skipping any already there
/// (a crash between an index append and the state save), and repairing a
/// torn final record. Returns how many records it wrote.
fn append_records(store: &Store, to: &str, recs: Vec<Record>) -> Result<u64> {
    let path = idx_path(store, to);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .at(&path)?;
    let len = f.metadata().at(&path)?.len();
    let whole = len - len % RECORD as u64;
    if whole != len {
        f.set_len(whole).at(&path)?;
    }
    let (mut last_offset, mut runmax) = (None, 0u64);
    if whole >= RECORD as u64 {
        let mut b = [0u8; RECORD];
        f.read_exact_at(&mut b, whole - RECORD as u64).at(&path)?;
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
    f.seek(SeekFrom::Start(whole)).at(&path)?;
    f.write_all(&buf).at(&path)?;
    Ok((buf.len() / RECORD) as u64)
}

/// Records of `to`'s index file whose running max exceeds `above`: a
/// binary search, then one read of the rest. Cost follows the answer, not
/// the history.
fn records_above(store: &Store, to: &str, above: u64) -> Result<Vec<Record>> {
    let path = idx_path(store, to);
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).at(&path),
    };
    let n = f.metadata().at(&path)?.len() / RECORD as u64;
    let read_at = |i: u64| -> Result<Record> {
        let mut b = [0u8; RECORD];
        f.read_exact_at(&mut b, i * RECORD as u64).at(&path)?;
        Ok(Record::decode(&b))
    };
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if read_at(mid)?.runmax > above {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let count = (n - lo) as usize;
    let mut buf = vec![0u8; count * RECORD];
    f.read_exact_at(&mut buf, lo * RECORD as u64).at(&path)?;
    Ok(buf.chunks_exact(RECORD).map(Record::decode).collect())
}

/// Bring the index up to date (exclusive lock held) and return its state.
pub(crate) fn sync_index(store: &Store) -> Result<LedgerView> {
    let mut state = load_state(store);
    let (overlay, torn_tail, files_valid) = catch_up(store, &mut state, true)?;
    Ok(LedgerView {
        state,
        overlay,
        torn_tail,
        files_valid,
    })
}

/// The index as it is, with any unindexed tail read into memory (shared
/// lock held). Never writes.
pub fn view(store: &Store) -> Result<LedgerView> {
    let mut state = load_state(store);
    let (overlay, torn_tail, files_valid) = catch_up(store, &mut state, false)?;
    Ok(LedgerView {
        state,
        overlay,
        torn_tail,
        files_valid,
    })
}

impl LedgerView {
    /// Unread records for `slot`, in (seq, offset) order.
    fn unread_records(&self, store: &Store, slot: &str, cursor: &Cursor) -> Result<Vec<Record>> {
        let own = ids::stable_hash(slot);
        let mut recs = Vec::new();
        for to in [slot, BROADCAST] {
            if self.files_valid {
                recs.extend(records_above(store, to, cursor.last_seq)?);
            }
            if let Some(o) = self.overlay.by_to.get(to) {
                recs.extend(o.iter().copied());
            }
            if slot == BROADCAST {
                break;
            }
        }
        recs.retain(|r| !cursor.is_read(r.seq) && r.from_hash != own);
        recs.sort_by_key(|r| (r.seq, r.offset));
        recs.dedup_by_key(|r| r.offset);
        Ok(recs)
    }

    /// How many messages `slot` has not read.
    pub fn unread_count(&self, store: &Store, slot: &str, cursor: &Cursor) -> Result<usize> {
        Ok(self.unread_records(store, slot, cursor)?.len())
    }

    /// The first `limit` unread messages of `slot` and the total unread.
    /// Each message carries its effective `seq`.
    pub fn unread(
        &self,
        store: &Store,
        slot: &str,
        cursor: &Cursor,
        limit: usize,
    ) -> Result<(Vec<Map<String, Value>>, usize)> {
        let recs = self.unread_records(store, slot, cursor)?;
        let total = recs.len();
        // Never split a run of equal seqs (legacy duplicates) across pages:
        // the cursor moves to the last returned seq.
        let mut take = limit.min(total);
        while take > 0 && take < total && recs[take].seq == recs[take - 1].seq {
            take += 1;
        }
        if take == 0 {
            // Nothing to read (possibly no ledger file yet).
            return Ok((Vec::new(), total));
        }
        let path = store.path(LEDGER);
        let f = File::open(&path).at(&path)?;
        let mut out = Vec::with_capacity(take);
        for r in &recs[..take] {
            let mut buf = vec![0u8; r.len as usize];
            f.read_exact_at(&mut buf, r.offset).at(&path)?;
            if let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&buf) {
                // A hash collision could hide a foreign sender; recheck the real field.
                if obj.get("from").and_then(Value::as_str) == Some(slot) {
                    continue;
                }
                obj.insert("seq".into(), json!(r.seq));
                out.push(obj);
            }
        }
        Ok((out, total))
    }

    /// The latest summary-pause markers, oldest first.
    pub fn pauses(&self) -> &[PauseMark] {
        &self.state.pauses
    }
}

/// Append one message (exclusive lock held). Fills `seq`, and `id`,
/// `created_at` when absent. Returns the stored line as an object.
pub(crate) fn append(store: &Store, mut msg: Map<String, Value>) -> Result<Map<String, Value>> {
    let mut view = sync_index(store)?;
    let path = store.path(LEDGER);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(&path)
        .at(&path)?;
    if view.torn_tail {
        // Terminate the torn fragment so it becomes one damaged line instead
        // of swallowing the line we are about to write.
        f.write_all(b"\n").at(&path)?;
        f.sync_data().at(&path)?;
        view = sync_index(store)?;
    }
    let seq = view.state.max_seq + 1;
    msg.insert("seq".into(), json!(seq));
    let mut line = serde_json::to_vec(&Value::Object(msg.clone())).map_err(|e| Error::Damaged {
        path: LEDGER.into(),
        reason: e.to_string(),
    })?;
    line.push(b'\n');
    f.write_all(&line).at(&path)?;
    f.sync_data().at(&path)?;
    drop(f);
    // Index the line we just wrote (and nothing else can have come in
    // between: we hold the lock).
    let mut state = view.state;
    catch_up(store, &mut state, true)?;
    Ok(msg)
}

/// What [`scan`] found: parsed lines (with effective seq), damaged lines,
/// and whether the file ends in a torn line.
pub type Scan = (Vec<Map<String, Value>>, Vec<DamagedLine>, bool);

/// Scan the whole ledger, independent of the index: for `doctor` and tests.
pub fn scan(store: &Store) -> Result<Scan> {
    let path = store.path(LEDGER);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], vec![], false)),
        Err(e) => return Err(e).at(&path),
    };
    let mut out = Vec::new();
    let mut damaged = Vec::new();
    let mut pos = 0usize;
    let mut lines = 0u64;
    let mut torn = false;
    while pos < bytes.len() {
        let (line, next) = match bytes[pos..].iter().position(|b| *b == b'\n') {
            Some(nl) => (&bytes[pos..pos + nl], pos + nl + 1),
            None => {
                torn = true;
                (&bytes[pos..], bytes.len())
            }
        };
        let offset = pos as u64;
        pos = next;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if torn {
            damaged.push(DamagedLine {
                offset,
                len: line.len() as u64,
                reason: "torn last line (no newline)".into(),
            });
            break;
        }
        lines += 1;
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(mut obj)) => {
                let seq = effective_seq(&obj, lines);
                obj.insert("seq".into(), json!(seq));
                out.push(obj);
            }
            Ok(_) => damaged.push(DamagedLine {
                offset,
                len: line.len() as u64 + 1,
                reason: "not a JSON object".into(),
            }),
            Err(e) => damaged.push(DamagedLine {
                offset,
                len: line.len() as u64 + 1,
                reason: e.to_string(),
            }),
        }
    }
    Ok((out, damaged, torn))
}

/// Path of the ledger file (for tools that report it).
pub fn ledger_path(store: &Store) -> PathBuf {
    store.path(LEDGER)
}

/// A fresh record id: `<prefix>_<16 hex>`.
pub fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &u[..16])
}
