//! Bring the reference CLI's file inboxes into the ledger, once.
//!
//! The reference CLI (v1) delivered a message twice: as a file
//! `inbox/<slot>/<stamp>_<id>.json` and as a ledger line without `seq` but
//! with the same `id`. Reading moved the file to `archive/<slot>/` and never
//! touched the ledger, so the MCP side saw every CLI message as unread, read
//! or not (the split-brain of spec §7.3). This import makes the ledger the
//! one notion of unread, without losing or duplicating a message:
//!
//! - An **inbox file** (unread in v1) whose id is in the ledger for that
//!   slot stays unread there: nothing is appended. A file whose id is not in
//!   the ledger is appended once, keeping its `id` and `created_at` (plus
//!   `imported_from`). Either way the file then moves to `archive/<slot>/`,
//!   where the reference kept consumed messages; existing archive files are
//!   never rewritten, and a name collision gets a fresh name.
//! - An **archive file** (read in v1) marks its ledger line read in the
//!   slot's cursor, so it is not delivered a second time.
//! - `legacy/inbox-import.json` records, per slot, every message id already
//!   accounted for (and files skipped as unreadable). An archive file whose
//!   id is recorded is not marked again; this is what keeps the messages
//!   this import moved into the archive unread. A re-run imports nothing.
//!
//! Crash safety (all under the exclusive lock): appends, then cursor marks,
//! then the state file, then the moves. A crash before the state is saved
//! repeats idempotent steps (an appended id is found in the ledger; a mark
//! is monotonic); a crash after it finds the files recorded and just moves
//! them. A file is never in the archive unless its id is recorded first.
//!
//! Limits: broadcasts (`inbox/all/`) stay broadcasts (every slot sees
//! them); directories whose name is not a valid slot id and files that are
//! not JSON objects are left in place and listed as skipped. An inbox file
//! the reference's `task-import-inbox` rewrote as a `task.assign` keeps its
//! ledger line (the original message); its task exists and can be claimed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::api::{LegacyImportResponse, LegacySlotImport, LegacyTotals, SkippedFile};
use crate::error::{Error, IoContext, Result};
use crate::fs as sfs;
use crate::index::inbox;
use crate::model::ids::BROADCAST;
use crate::model::{Message, SlotId};
use crate::records::{self, json_files, subdirs};
use crate::store::{Layout, ReadTxn, Store, WriteTxn};
use crate::time;

/// What the import has already accounted for.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ImportState {
    #[serde(default)]
    version: u32,
    /// Per slot: ids of v1 messages already imported or marked read.
    #[serde(default)]
    processed: BTreeMap<String, BTreeSet<String>>,
    /// Files left in place (`inbox/<dir>/<file>`), with the reason.
    #[serde(default)]
    skipped_files: BTreeMap<String, String>,
    /// Per archive directory, its mtime (ns) when last scanned.
    #[serde(default)]
    archive_mtimes: BTreeMap<String, u64>,
    #[serde(default)]
    updated_at: Option<String>,
}

fn load_state(layout: &Layout) -> Result<ImportState> {
    Ok(
        sfs::read_json::<ImportState>(&layout.legacy_state())?.unwrap_or(ImportState {
            version: 1,
            ..ImportState::default()
        }),
    )
}

fn save_state(txn: &WriteTxn, state: &mut ImportState) -> Result<()> {
    let dir = txn.layout().legacy_dir();
    fs::create_dir_all(&dir).at(&dir)?;
    state.version = 1;
    state.updated_at = Some(time::now());
    txn.put_json(&txn.layout().legacy_state(), state)
}

/// The id a v1 file name carries: `<stamp>_<id>.json`.
fn id_from_name(name: &str) -> String {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    stem.rsplit_once('_')
        .map(|(_, id)| id)
        .unwrap_or(stem)
        .to_string()
}

/// A free name in `dir` for `name` (never overwrite an archive file).
fn free_target(dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    if !target.exists() {
        return target;
    }
    let stem = name.strip_suffix(".json").unwrap_or(name);
    (1..)
        .map(|n| dir.join(format!("{stem}.imported-{n}.json")))
        .find(|p| !p.exists())
        .unwrap_or(target)
}

/// Is there anything to import? Directory listings only.
fn pending(layout: &Layout) -> bool {
    let Ok(state) = load_state(layout) else {
        return true;
    };
    let inbox = layout.v1_inbox_dir();
    for dir in subdirs(&inbox) {
        if json_files(&inbox.join(&dir)).iter().any(|f| {
            !state
                .skipped_files
                .contains_key(&format!("inbox/{dir}/{f}"))
        }) {
            return true;
        }
    }
    let archive = layout.v1_archive_dir();
    subdirs(&archive).iter().any(|dir| {
        let m = sfs::mtime_ns(&archive.join(dir)) as u64;
        state.archive_mtimes.get(dir) != Some(&m)
    })
}

/// Every ledger line by id: (seq, recipient).
type ById = BTreeMap<String, Vec<(u64, String)>>;

fn seqs_for(by_id: &ById, id: &str, slot: &str) -> Vec<u64> {
    by_id
        .get(id)
        .map(|v| {
            v.iter()
                .filter(|(_, to)| to == slot)
                .map(|(s, _)| *s)
                .collect()
        })
        .unwrap_or_default()
}

impl Store {
    /// Is there anything for [`Store::import_legacy_inbox`] to do? A cheap
    /// check (directory listings only) for callers that import on first use.
    pub fn legacy_inbox_pending(&self) -> bool {
        pending(self.layout())
    }

    /// Run the import when there is something to do: what the CLI and the
    /// MCP server do when they open a store. Returns the import's report
    /// when it changed anything.
    pub fn import_legacy_inbox_if_pending(&self) -> Result<Option<LegacyImportResponse>> {
        if !self.legacy_inbox_pending() {
            return Ok(None);
        }
        let r = self.import_legacy_inbox(false)?;
        Ok(r.changed.then_some(r))
    }

    /// Import the reference CLI's inbox and archive files (see the module
    /// documentation). With `dry_run`, report what would happen and write
    /// nothing.
    pub fn import_legacy_inbox(&self, dry_run: bool) -> Result<LegacyImportResponse> {
        if dry_run {
            let txn = self.read()?;
            return import(&txn, None);
        }
        self.transact(|txn| {
            // Index whatever the reference appended, so reads after the
            // import need not scan.
            inbox::sync_index(txn)?;
            import(txn, Some(txn))
        })
    }
}

/// The import: `write` is the write transaction, or None for a dry run.
fn import(txn: &ReadTxn, write: Option<&WriteTxn>) -> Result<LegacyImportResponse> {
    let layout = txn.layout();
    let mut state = load_state(layout)?;
    let mut by_id: ById = BTreeMap::new();
    for m in inbox::scan(txn)?.messages {
        if !m.id.is_empty() {
            by_id
                .entry(m.id.clone())
                .or_default()
                .push((m.seq, m.to.clone()));
        }
    }
    let mut report: BTreeMap<String, LegacySlotImport> = BTreeMap::new();
    let mut skipped: Vec<SkippedFile> = Vec::new();
    let mut moves: Vec<(PathBuf, String)> = Vec::new();

    // 1. Inbox files: unread in v1.
    let inbox_dir = layout.v1_inbox_dir();
    for dir in subdirs(&inbox_dir) {
        let dir_path = inbox_dir.join(&dir);
        let valid = SlotId::stored(&dir).is_some();
        for file in json_files(&dir_path) {
            let rel = format!("inbox/{dir}/{file}");
            if state.skipped_files.contains_key(&rel) {
                continue;
            }
            let mut skip = |reason: &str| {
                skipped.push(SkippedFile {
                    file: rel.clone(),
                    reason: reason.to_string(),
                });
                state.skipped_files.insert(rel.clone(), reason.to_string());
            };
            if !valid {
                skip("the directory name is not a valid slot id");
                continue;
            }
            let path = dir_path.join(&file);
            let msg = match sfs::read_json::<Value>(&path) {
                Ok(Some(Value::Object(m))) => m,
                Ok(None) => continue,
                Ok(Some(_)) => {
                    skip("not a JSON object");
                    continue;
                }
                Err(Error::Damaged { reason, .. }) => {
                    skip(&format!("not JSON: {reason}"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let id = msg
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| id_from_name(&file));
            let rep = report.entry(dir.clone()).or_default();
            let seen = state.processed.entry(dir.clone()).or_default();
            if !seen.contains(&id) {
                if seqs_for(&by_id, &id, &dir).is_empty() {
                    if let Some(w) = write {
                        let mut m: Map<String, Value> = msg.clone();
                        m.remove("seq");
                        m.insert("id".into(), json!(id));
                        m.insert("to".into(), json!(dir));
                        m.entry("type").or_insert_with(|| json!("message"));
                        m.entry("created_at").or_insert_with(|| json!(time::now()));
                        m.insert("imported_from".into(), json!(rel));
                        let parsed: Message =
                            serde_json::from_value(Value::Object(m)).map_err(|e| {
                                Error::Damaged {
                                    path: rel.clone(),
                                    reason: e.to_string(),
                                }
                            })?;
                        let stored = inbox::append(w, parsed)?;
                        by_id
                            .entry(id.clone())
                            .or_default()
                            .push((stored.seq, dir.clone()));
                    }
                    rep.appended.push(id.clone());
                } else {
                    rep.unread_in_ledger.push(id.clone());
                }
                seen.insert(id);
            }
            moves.push((path, dir.clone()));
            rep.archived_files += 1;
        }
    }

    // 2. Archive files: read in v1. Mark their ledger lines read.
    let archive_dir = layout.v1_archive_dir();
    let mut marks: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for dir in subdirs(&archive_dir) {
        if SlotId::stored(&dir).is_none() || dir == BROADCAST {
            continue;
        }
        let dir_path = archive_dir.join(&dir);
        let mtime = sfs::mtime_ns(&dir_path) as u64;
        if state.archive_mtimes.get(&dir) == Some(&mtime) {
            continue;
        }
        for file in json_files(&dir_path) {
            let seen = state.processed.entry(dir.clone()).or_default();
            if seen.contains(&id_from_name(&file)) {
                continue;
            }
            let id = match sfs::read_json::<Value>(&dir_path.join(&file)) {
                Ok(Some(v)) => v
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| id_from_name(&file)),
                _ => id_from_name(&file),
            };
            if seen.contains(&id) {
                continue;
            }
            let seqs = seqs_for(&by_id, &id, &dir);
            if !seqs.is_empty() {
                marks.entry(dir.clone()).or_default().extend(seqs);
                report
                    .entry(dir.clone())
                    .or_default()
                    .marked_read
                    .push(id.clone());
            }
            seen.insert(id);
        }
    }

    let changed = !moves.is_empty()
        || !marks.is_empty()
        || report.values().any(|r| !r.appended.is_empty())
        || !skipped.is_empty();
    if let Some(w) = write {
        // Mark read: move last_seq over the leading run of marked unread
        // messages, keep the rest as out-of-order acks.
        let view = inbox::sync_index(w)?;
        for (slot, seqs) in &marks {
            let Some(id) = SlotId::stored(slot) else {
                continue;
            };
            let cur = records::cursors::load(w, &id)?;
            let (unread, _) = view.unread(w, &id, &cur, usize::MAX)?;
            let mut up_to = 0;
            for m in &unread {
                if seqs.contains(&m.seq) {
                    up_to = m.seq;
                } else {
                    break;
                }
            }
            let rest: Vec<u64> = seqs.iter().copied().filter(|s| *s > up_to).collect();
            records::cursors::advance(w, &id, up_to, &rest)?;
        }
        // Record before moving: a file reaches the archive only once its id
        // is recorded (and its message appended), durably, so it is never
        // taken for a read message.
        save_state(w, &mut state)?;
        w.flush()?;
        for (path, slot) in &moves {
            let dir = archive_dir.join(slot);
            fs::create_dir_all(&dir).at(&dir)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = free_target(&dir, &name);
            fs::rename(path, &target).at(path)?;
        }
        if !moves.is_empty() {
            sfs::sync_dir(&archive_dir)?;
        }
        for dir in subdirs(&archive_dir) {
            let m = sfs::mtime_ns(&archive_dir.join(&dir)) as u64;
            state.archive_mtimes.insert(dir, m);
        }
        save_state(w, &mut state)?;
    }
    let totals = LegacyTotals {
        unread_in_ledger: report.values().map(|r| r.unread_in_ledger.len()).sum(),
        appended: report.values().map(|r| r.appended.len()).sum(),
        marked_read: report.values().map(|r| r.marked_read.len()).sum(),
        archived_files: report.values().map(|r| r.archived_files).sum(),
        skipped: skipped.len(),
    };
    Ok(LegacyImportResponse {
        dry_run: write.is_none(),
        changed,
        totals,
        slots: report,
        skipped,
    })
}
