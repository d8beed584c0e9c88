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

use crate::cursor;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, Durability};
use crate::ids::{self, BROADCAST};
use crate::messages;
use crate::store::Store;
use crate::time;

const STATE: &str = "legacy/inbox-import.json";

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

fn load_state(store: &Store) -> Result<ImportState> {
    Ok(
        fsutil::read_json::<ImportState>(&store.path(STATE))?.unwrap_or(ImportState {
            version: 1,
            ..ImportState::default()
        }),
    )
}

fn save_state(store: &Store, state: &mut ImportState) -> Result<()> {
    let dir = store.path("legacy");
    fs::create_dir_all(&dir).at(&dir)?;
    state.version = 1;
    state.updated_at = Some(time::now());
    fsutil::write_json(&store.path(STATE), state, Durability::Durable)
}

/// Subdirectory names of `sub` (sorted).
fn subdirs(store: &Store, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(store.path(sub))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `*.json` files of a directory (sorted; hidden and temp files skipped).
fn json_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
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

impl Store {
    /// Is there anything for [`Store::import_legacy_inbox`] to do? A cheap
    /// check (directory listings only) for callers that import on first use.
    pub fn legacy_inbox_pending(&self) -> bool {
        let Ok(state) = load_state(self) else {
            return true;
        };
        for dir in subdirs(self, "inbox") {
            let files = json_files(&self.path(&format!("inbox/{dir}")));
            if files.iter().any(|f| {
                !state
                    .skipped_files
                    .contains_key(&format!("inbox/{dir}/{f}"))
            }) {
                return true;
            }
        }
        subdirs(self, "archive").iter().any(|dir| {
            let m = fsutil::mtime_ns(&self.path(&format!("archive/{dir}"))) as u64;
            state.archive_mtimes.get(dir) != Some(&m)
        })
    }

    /// Run the import when [`Store::legacy_inbox_pending`] says there is
    /// something to do: what the CLI and the MCP server do when they open a
    /// store. Returns the import's report when it changed anything.
    pub fn import_legacy_inbox_if_pending(&self) -> Result<Option<Value>> {
        if !self.legacy_inbox_pending() {
            return Ok(None);
        }
        let r = self.import_legacy_inbox(false)?;
        Ok((r["changed"] == Value::Bool(true)).then_some(r))
    }

    /// Import the reference CLI's inbox and archive files (see the module
    /// documentation). With `dry_run`, report what would happen and write
    /// nothing.
    pub fn import_legacy_inbox(&self, dry_run: bool) -> Result<Value> {
        let _lock = if dry_run {
            self.lock_shared()?
        } else {
            self.lock_exclusive()?
        };
        let mut state = load_state(self)?;
        if !dry_run {
            // Index whatever the reference appended, so reads after the
            // import need not scan.
            messages::sync_index(self)?;
        }
        // Every ledger line by id: (seq, recipient).
        let (lines, _, _) = messages::scan(self)?;
        let mut by_id: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
        for l in &lines {
            if let Some(id) = l.get("id").and_then(Value::as_str) {
                by_id.entry(id.to_string()).or_default().push((
                    l.get("seq").and_then(Value::as_u64).unwrap_or(0),
                    l.get("to")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ));
            }
        }
        let in_ledger_for = |by_id: &BTreeMap<String, Vec<(u64, String)>>, id: &str, slot: &str| {
            by_id
                .get(id)
                .map(|v| {
                    v.iter()
                        .filter(|(_, to)| to == slot)
                        .map(|(s, _)| *s)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };

        #[derive(Default, Serialize)]
        struct SlotReport {
            /// Inbox files whose ledger line stays unread.
            unread_in_ledger: Vec<String>,
            /// Inbox files appended to the ledger (they had no line).
            appended: Vec<String>,
            /// Archive files whose ledger line was marked read.
            marked_read: Vec<String>,
            /// Inbox files moved to the archive.
            archived_files: usize,
        }
        let mut report: BTreeMap<String, SlotReport> = BTreeMap::new();
        let mut skipped: Vec<Value> = Vec::new();
        let mut moves: Vec<(PathBuf, String)> = Vec::new();

        // 1. Inbox files: unread in v1.
        for dir in subdirs(self, "inbox") {
            let dir_path = self.path(&format!("inbox/{dir}"));
            let valid = ids::slot("slot", &dir).is_ok();
            for file in json_files(&dir_path) {
                let rel = format!("inbox/{dir}/{file}");
                if state.skipped_files.contains_key(&rel) {
                    continue;
                }
                let mut skip = |reason: &str| {
                    skipped.push(json!({"file": rel, "reason": reason}));
                    state.skipped_files.insert(rel.clone(), reason.to_string());
                };
                if !valid {
                    skip("the directory name is not a valid slot id");
                    continue;
                }
                let path = dir_path.join(&file);
                let msg = match fsutil::read_json::<Value>(&path) {
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
                    if in_ledger_for(&by_id, &id, &dir).is_empty() {
                        if !dry_run {
                            let mut m: Map<String, Value> = msg.clone();
                            m.remove("seq");
                            m.insert("id".into(), json!(id));
                            m.insert("to".into(), json!(dir));
                            m.entry("type").or_insert_with(|| json!("message"));
                            m.entry("created_at").or_insert_with(|| json!(time::now()));
                            m.insert("imported_from".into(), json!(rel));
                            let stored = messages::append(self, m)?;
                            by_id.entry(id.clone()).or_default().push((
                                stored.get("seq").and_then(Value::as_u64).unwrap_or(0),
                                dir.clone(),
                            ));
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
        let mut marks: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for dir in subdirs(self, "archive") {
            if ids::slot("slot", &dir).is_err() || dir == BROADCAST {
                continue;
            }
            let dir_path = self.path(&format!("archive/{dir}"));
            let mtime = fsutil::mtime_ns(&dir_path) as u64;
            if state.archive_mtimes.get(&dir) == Some(&mtime) {
                continue;
            }
            for file in json_files(&dir_path) {
                let seen = state.processed.entry(dir.clone()).or_default();
                if seen.contains(&id_from_name(&file)) {
                    continue;
                }
                let id = match fsutil::read_json::<Value>(&dir_path.join(&file)) {
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
                let seqs = in_ledger_for(&by_id, &id, &dir);
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
        if !dry_run {
            // Mark read: move last_seq over the leading run of marked
            // unread messages, keep the rest as out-of-order acks.
            let view = messages::sync_index(self)?;
            for (slot, seqs) in &marks {
                let cur = cursor::load(self, slot)?;
                let (unread, _) = view.unread(self, slot, &cur, usize::MAX)?;
                let mut up_to = 0;
                for m in &unread {
                    let seq = m.get("seq").and_then(Value::as_u64).unwrap_or(0);
                    if seqs.contains(&seq) {
                        up_to = seq;
                    } else {
                        break;
                    }
                }
                let rest: Vec<u64> = seqs.iter().copied().filter(|s| *s > up_to).collect();
                cursor::advance(self, slot, up_to, &rest)?;
            }
            // Record before moving: a file reaches the archive only once
            // its id is recorded, so it is never taken for a read message.
            save_state(self, &mut state)?;
            for (path, slot) in &moves {
                let dir = self.path(&format!("archive/{slot}"));
                fs::create_dir_all(&dir).at(&dir)?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let target = free_target(&dir, &name);
                fs::rename(path, &target).at(path)?;
            }
            if !moves.is_empty() {
                fsutil::sync_dir(&self.path("archive"))?;
            }
            for dir in subdirs(self, "archive") {
                let m = fsutil::mtime_ns(&self.path(&format!("archive/{dir}"))) as u64;
                state.archive_mtimes.insert(dir, m);
            }
            save_state(self, &mut state)?;
        }
        let totals = json!({
            "unread_in_ledger": report.values().map(|r| r.unread_in_ledger.len()).sum::<usize>(),
            "appended": report.values().map(|r| r.appended.len()).sum::<usize>(),
            "marked_read": report.values().map(|r| r.marked_read.len()).sum::<usize>(),
            "archived_files": report.values().map(|r| r.archived_files).sum::<usize>(),
            "skipped": skipped.len(),
        });
        Ok(json!({
            "dry_run": dry_run,
            "changed": changed,
            "totals": totals,
            "slots": report,
            "skipped": skipped,
        }))
    }
}
