//! `doctor`: check the store for damage and drift, and repair what can be
//! repaired without losing data.
//!
//! Checks: unparsable records (registry, tasks, cursors), damaged or torn
//! ledger lines, duplicate sequence numbers, indexes that disagree with the
//! primary records, cursors ahead of the ledger, `task.assign` messages for
//! missing tasks, and temporary files left by a crash. Repairs run under the
//! exclusive lock: damaged ledger lines move to
//! `messages/ledger.quarantine.jsonl` (nothing is deleted), every kept line
//! gets an explicit `seq` so no sequence number shifts, indexes are rebuilt,
//! and cursors are brought back within the ledger.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cursor::{self, Cursor};
use crate::error::{IoContext, Result};
use crate::fsutil::{self, Durability};
use crate::messages;
use crate::store::Store;
use crate::tasks;

/// One problem found.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: &'static str,
    pub path: String,
    pub detail: String,
    pub repairable: bool,
}

/// What `doctor` found and, with repair, what it did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub store: String,
    pub findings: Vec<Finding>,
    pub repaired: Vec<String>,
}

impl Report {
    /// Findings still standing: all of them after a check, the ones that
    /// cannot be repaired after a repair.
    pub fn remaining(&self) -> Vec<&Finding> {
        let repaired = !self.repaired.is_empty();
        self.findings
            .iter()
            .filter(|f| !(repaired && f.repairable))
            .collect()
    }

    /// True when nothing is wrong (or everything found was repaired).
    pub fn clean(&self) -> bool {
        self.remaining().is_empty()
    }

    fn add(
        &mut self,
        kind: &'static str,
        path: impl Into<String>,
        detail: impl Into<String>,
        repairable: bool,
    ) {
        self.findings.push(Finding {
            kind,
            path: path.into(),
            detail: detail.into(),
            repairable,
        });
    }
}

/// One line of the ledger file.
struct Line<'a> {
    offset: usize,
    bytes: &'a [u8],
    parsed: Option<serde_json::Map<String, Value>>,
    error: Option<String>,
    torn: bool,
}

fn split(bytes: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (end, next, torn) = match bytes[pos..].iter().position(|b| *b == b'\n') {
            Some(nl) => (pos + nl, pos + nl + 1, false),
            None => (bytes.len(), bytes.len(), true),
        };
        let raw = &bytes[pos..end];
        if !raw.iter().all(u8::is_ascii_whitespace) {
            let (parsed, error) = match serde_json::from_slice::<Value>(raw) {
                Ok(Value::Object(m)) if !torn => (Some(m), None),
                Ok(_) if torn => (None, Some("torn last line (no newline)".to_string())),
                Ok(_) => (None, Some("not a JSON object".to_string())),
                Err(e) => (
                    None,
                    Some(if torn {
                        format!("torn last line: {e}")
                    } else {
                        e.to_string()
                    }),
                ),
            };
            out.push(Line {
                offset: pos,
                bytes: raw,
                parsed,
                error,
                torn,
            });
        }
        pos = next;
    }
    out
}

fn rel(store: &Store, p: &std::path::Path) -> String {
    p.strip_prefix(store.dir())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// Examine the store. With `repair`, fix what can be fixed.
pub fn run(store: &Store, repair: bool) -> Result<Report> {
    let _lock = if repair {
        store.lock_exclusive()?
    } else {
        store.lock_shared()?
    };
    let mut rep = Report {
        store: store.dir().display().to_string(),
        ..Report::default()
    };
    if let Err(e) = store.registry() {
        rep.add("registry_damaged", "registry.json", e.to_string(), false);
    }

    // The ledger, line by line.
    let ledger_path = messages::ledger_path(store);
    let bytes = match fs::read(&ledger_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).at(&ledger_path),
    };
    let lines = split(&bytes);
    let mut seqs: BTreeMap<u64, usize> = BTreeMap::new();
    let mut max_seq = 0u64;
    // (seq, task id, recipient) of every task.assign.
    let mut assigned: Vec<(u64, String, String)> = Vec::new();
    let mut damaged = 0;
    for (i, l) in lines.iter().enumerate() {
        match (&l.parsed, &l.error) {
            (Some(m), _) => {
                let seq = m.get("seq").and_then(Value::as_u64).unwrap_or(i as u64 + 1);
                max_seq = max_seq.max(seq);
                *seqs.entry(seq).or_insert(0) += 1;
                let is_assign = m.get("type").and_then(Value::as_str) == Some("task.assign");
                if let Some(t) = m
                    .get("task_id")
                    .and_then(Value::as_str)
                    .filter(|_| is_assign)
                {
                    assigned.push((
                        seq,
                        t.to_string(),
                        m.get("to")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    ));
                }
            }
            (None, err) => {
                damaged += 1;
                let kind = if l.torn {
                    "ledger_torn_tail"
                } else {
                    "ledger_damaged_line"
                };
                rep.add(
                    kind,
                    "messages/ledger.jsonl",
                    format!(
                        "line {} at byte {}: {}",
                        i + 1,
                        l.offset,
                        err.clone().unwrap_or_default()
                    ),
                    true,
                );
            }
        }
    }
    for (seq, n) in seqs.iter().filter(|(_, n)| **n > 1) {
        rep.add("ledger_duplicate_seq", "messages/ledger.jsonl", format!("seq {seq} appears {n} times (written by a tool without a lock); readers see each once"), false);
    }

    // The inbox index against the ledger.
    let view = messages::view(store)?;
    let complete = lines.last().is_none_or(|l| !l.torn);
    let expected_covered = if complete {
        bytes.len()
    } else {
        lines.last().map(|l| l.offset).unwrap_or(0)
    } as u64;
    if view.state.covered != expected_covered || view.state.max_seq != max_seq {
        rep.add(
            "index_drift",
            "index/ledger.json",
            format!(
                "index covers {} bytes up to seq {}, the ledger has {} bytes up to seq {}",
                view.state.covered, view.state.max_seq, expected_covered, max_seq
            ),
            true,
        );
    }

    // The work index against the task files.
    let stored = fsutil::read_json::<tasks::WorkIndex>(&store.path("index/work.json"))
        .ok()
        .flatten();
    let fresh = tasks::rebuild(store)?;
    for d in &fresh.damaged {
        rep.add(
            "record_damaged",
            d.clone(),
            "cannot be parsed; left in place (nothing can rebuild it)",
            false,
        );
    }
    let drift = match &stored {
        None => true,
        Some(s) => {
            s.open.keys().ne(fresh.open.keys())
                || s.counts != fresh.counts
                || s.total != fresh.total
        }
    };
    if drift || tasks::is_pending(store) {
        rep.add(
            "work_index_drift",
            "index/work.json",
            "the task index disagrees with the task files",
            true,
        );
    }
    // A task.assign whose task does not exist: a create_task interrupted
    // between its notice and its task file. Repair marks the notice read
    // for its recipient, so no agent waits for a task that never was.
    let mut orphans: Vec<(u64, String)> = Vec::new();
    for (seq, task, to) in &assigned {
        if crate::ids::long_id("task_id", task).is_ok() && !tasks::task_path(store, task).exists() {
            let known = crate::ids::slot("to", to).is_ok();
            let unread = known && cursor::load(store, to).is_ok_and(|c| !c.is_read(*seq));
            if !known || unread {
                rep.add(
                    "orphan_assign",
                    "messages/ledger.jsonl",
                    format!("task.assign seq {seq} to {to:?} names task {task:?}, which has no task file"),
                    known,
                );
            }
            if unread {
                orphans.push((*seq, to.clone()));
            }
        }
    }

    // Cursors.
    let mut cursor_fixes: Vec<(String, Option<Cursor>)> = Vec::new();
    for name in tasks::json_files(store, "cursors") {
        let slot = name.trim_end_matches(".json").to_string();
        match cursor::load(store, &slot) {
            Ok(c) if c.last_seq > max_seq => {
                rep.add(
                    "cursor_ahead",
                    format!("cursors/{name}"),
                    format!("cursor at {} but the ledger ends at {max_seq}", c.last_seq),
                    true,
                );
                cursor_fixes.push((slot, Some(c)));
            }
            Ok(_) => {}
            Err(e) => {
                rep.add(
                    "cursor_damaged",
                    format!("cursors/{name}"),
                    format!("{e}; repair resets it to 0 (messages are shown again, none lost)"),
                    true,
                );
                cursor_fixes.push((slot, None));
            }
        }
    }

    // Temporary files left by an interrupted write.
    let mut temps = Vec::new();
    for sub in [
        "",
        "tasks",
        "cursors",
        "heartbeat",
        "board",
        "reports",
        "wake",
        "index",
        "messages",
    ] {
        let dir = store.path(sub);
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') && n.ends_with(".tmp") {
                rep.add(
                    "stale_temp_file",
                    rel(store, &e.path()),
                    "left by an interrupted write",
                    true,
                );
                temps.push(e.path());
            }
        }
    }

    if !repair || rep.findings.iter().all(|f| !f.repairable) {
        return Ok(rep);
    }

    // Repairs (exclusive lock held).
    for t in temps {
        let _ = fs::remove_file(&t);
    }
    if damaged > 0 {
        let q = store.path("messages/ledger.quarantine.jsonl");
        let mut qf = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&q)
            .at(&q)?;
        let mut kept = Vec::with_capacity(bytes.len());
        for (i, l) in lines.iter().enumerate() {
            match &l.parsed {
                Some(m) => {
                    if m.contains_key("seq") {
                        kept.extend_from_slice(l.bytes);
                    } else {
                        // Pin the line's seq before the lines above it change.
                        let mut m = m.clone();
                        m.insert("seq".into(), json!(i as u64 + 1));
                        kept.extend_from_slice(Value::Object(m).to_string().as_bytes());
                    }
                    kept.push(b'\n');
                }
                None => {
                    qf.write_all(l.bytes).at(&q)?;
                    qf.write_all(b"\n").at(&q)?;
                }
            }
        }
        qf.sync_data().at(&q)?;
        fsutil::write_atomic(&ledger_path, &kept, Durability::Durable)?;
        rep.repaired.push(format!(
            "moved {damaged} damaged ledger line(s) to messages/ledger.quarantine.jsonl"
        ));
    }
    // Rebuild both indexes from scratch.
    let _ = fs::remove_file(store.path("index/ledger.json"));
    for e in fs::read_dir(store.path("index/inbox"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = fs::remove_file(e.path());
    }
    messages::sync_index(store)?;
    let _ = fs::remove_file(store.path("index/work.json"));
    let _ = fs::remove_file(store.path("index/work.pending"));
    tasks::load_index(store, true)?;
    rep.repaired
        .push("rebuilt the inbox and work indexes".into());
    for (seq, to) in orphans {
        cursor::advance(store, &to, 0, &[seq])?;
        rep.repaired.push(format!(
            "marked the orphan task.assign seq {seq} read for {to}"
        ));
    }
    for (slot, c) in cursor_fixes {
        let mut c = c.unwrap_or_default();
        c.slot = slot.clone();
        c.last_seq = c.last_seq.min(max_seq);
        c.acked.retain(|s| *s <= max_seq);
        fsutil::write_json(
            &store.path(&format!("cursors/{slot}.json")),
            &c,
            Durability::Durable,
        )?;
        rep.repaired
            .push(format!("cursor of {slot} set to {}", c.last_seq));
    }
    Ok(rep)
}
