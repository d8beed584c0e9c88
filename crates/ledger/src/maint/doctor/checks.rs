//! The checks of `doctor`, one function each.

use std::collections::BTreeMap;
use std::fs;

use crate::error::{IoContext, Result};
use crate::fs::jsonl::{self, TornTail};
use crate::index::{inbox, work};
use crate::model::message::TASK_ASSIGN;
use crate::model::{SlotId, TaskId};
use crate::records;
use crate::store::ReadTxn;

use super::{Plan, Report};

const LEDGER: &str = "messages/ledger.jsonl";

/// One complete ledger line.
pub(super) struct LineInfo {
    pub offset: u64,
    pub len: u64,
    pub number: u64,
    pub parsed: Result<serde_json::Map<String, serde_json::Value>, String>,
}

/// The ledger file as `doctor` reads it: every line, parsed or not.
pub(super) struct Ledger {
    pub bytes: Vec<u8>,
    pub lines: Vec<LineInfo>,
    pub torn: Option<TornTail>,
    pub max_seq: u64,
}

impl Ledger {
    pub fn read(txn: &ReadTxn) -> Result<Ledger> {
        let path = txn.layout().ledger();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).at(&path),
        };
        let (split, torn) = jsonl::split(&bytes, 0, 0);
        let lines: Vec<LineInfo> = split
            .iter()
            .map(|l| LineInfo {
                offset: l.offset,
                len: l.len,
                number: l.number,
                parsed: l.parse(),
            })
            .collect();
        let max_seq = lines.iter().filter_map(|l| l.seq()).max().unwrap_or(0);
        Ok(Ledger {
            bytes,
            lines,
            torn,
            max_seq,
        })
    }

    /// The bytes of a line (without its newline).
    pub fn line_bytes(&self, l: &LineInfo) -> &[u8] {
        &self.bytes[l.offset as usize..(l.offset + l.len - 1) as usize]
    }
}

impl LineInfo {
    /// Its effective seq, when it parses.
    pub fn seq(&self) -> Option<u64> {
        let m = self.parsed.as_ref().ok()?;
        Some(m.get("seq").and_then(|v| v.as_u64()).unwrap_or(self.number))
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.parsed.as_ref().ok()?.get(key)?.as_str()
    }
}

/// The registry parses.
pub(super) fn registry(txn: &ReadTxn, rep: &mut Report) {
    if let Err(e) = records::registry::load(txn) {
        rep.add("registry_damaged", "registry.json", e.to_string(), false);
    }
}

/// Damaged lines and a torn tail.
pub(super) fn ledger_lines(ledger: &Ledger, rep: &mut Report, plan: &mut Plan) {
    for l in &ledger.lines {
        if let Err(e) = &l.parsed {
            plan.damaged_lines += 1;
            rep.add(
                "ledger_damaged_line",
                LEDGER,
                format!("line {} at byte {}: {e}", l.number, l.offset),
                true,
            );
        }
    }
    if let Some(t) = &ledger.torn {
        plan.damaged_lines += 1;
        rep.add(
            "ledger_torn_tail",
            LEDGER,
            format!(
                "line {} at byte {}: torn last line (no newline)",
                ledger.lines.len() + 1,
                t.offset
            ),
            true,
        );
    }
}

/// Sequence numbers used by more than one line.
pub(super) fn duplicate_seqs(ledger: &Ledger, rep: &mut Report) {
    let mut seqs: BTreeMap<u64, usize> = BTreeMap::new();
    for s in ledger.lines.iter().filter_map(LineInfo::seq) {
        *seqs.entry(s).or_insert(0) += 1;
    }
    for (seq, n) in seqs.iter().filter(|(_, n)| **n > 1) {
        rep.add(
            "ledger_duplicate_seq",
            LEDGER,
            format!("seq {seq} appears {n} times (written by a tool without a lock); readers see each once"),
            false,
        );
    }
}

/// The inbox index covers the ledger and knows its last seq.
pub(super) fn inbox_index(txn: &ReadTxn, ledger: &Ledger, rep: &mut Report) -> Result<()> {
    let view = inbox::view(txn)?;
    let expected = jsonl::covered_end(&ledger.bytes, 0);
    if view.state.covered != expected || view.state.max_seq != ledger.max_seq {
        rep.add(
            "index_drift",
            "index/ledger.json",
            format!(
                "index covers {} bytes up to seq {}, the ledger has {} bytes up to seq {}",
                view.state.covered, view.state.max_seq, expected, ledger.max_seq
            ),
            true,
        );
    }
    Ok(())
}

/// The work index agrees with the task files; unparsable task and report
/// files are listed.
pub(super) fn work_index(txn: &ReadTxn, rep: &mut Report) {
    let fresh = work::rebuild(txn);
    for d in &fresh.damaged {
        rep.add(
            "record_damaged",
            d.clone(),
            "cannot be parsed; left in place (nothing can rebuild it)",
            false,
        );
    }
    // A missing index is not drift: it was never built (a fresh store), and
    // the next access builds it.
    let drift = match work::stored(txn.layout()) {
        None => false,
        Some(s) => {
            s.open.keys().ne(fresh.open.keys())
                || s.counts != fresh.counts
                || s.total != fresh.total
        }
    };
    if drift || work::is_pending(txn.layout()) {
        rep.add(
            "work_index_drift",
            "index/work.json",
            "the task index disagrees with the task files",
            true,
        );
    }
}

/// A `task.assign` whose task does not exist: a `create_task` interrupted
/// between its notice and its task file. Repair marks the notice read for
/// its recipient, so no agent waits for a task that never was.
pub(super) fn orphan_assigns(txn: &ReadTxn, ledger: &Ledger, rep: &mut Report, plan: &mut Plan) {
    for l in &ledger.lines {
        if l.str("type") != Some(TASK_ASSIGN) {
            continue;
        }
        let (Some(seq), Some(task)) = (l.seq(), l.str("task_id")) else {
            continue;
        };
        let Some(id) = TaskId::stored(task) else {
            continue;
        };
        if records::tasks::exists(txn, &id) {
            continue;
        }
        let to = l.str("to").unwrap_or("");
        let slot = SlotId::stored(to);
        let unread = slot
            .as_ref()
            .is_some_and(|s| records::cursors::load(txn, s).is_ok_and(|c| !c.is_read(seq)));
        if slot.is_none() || unread {
            rep.add(
                "orphan_assign",
                LEDGER,
                format!(
                    "task.assign seq {seq} to {to:?} names task {task:?}, which has no task file"
                ),
                slot.is_some(),
            );
        }
        if let Some(s) = slot.filter(|_| unread) {
            plan.orphans.push((seq, s));
        }
    }
}

/// Cursors parse and are not ahead of the ledger.
pub(super) fn cursors(txn: &ReadTxn, ledger: &Ledger, rep: &mut Report, plan: &mut Plan) {
    for name in records::cursors::list(txn) {
        let Some(slot) = SlotId::stored(&name) else {
            continue;
        };
        let path = format!("cursors/{name}.json");
        match records::cursors::load(txn, &slot) {
            Ok(c) if c.last_seq > ledger.max_seq => {
                rep.add(
                    "cursor_ahead",
                    path,
                    format!(
                        "cursor at {} but the ledger ends at {}",
                        c.last_seq, ledger.max_seq
                    ),
                    true,
                );
                plan.cursors.push((slot, Some(c)));
            }
            Ok(_) => {}
            Err(e) => {
                rep.add(
                    "cursor_damaged",
                    path,
                    format!("{e}; repair resets it to 0 (messages are shown again, none lost)"),
                    true,
                );
                plan.cursors.push((slot, None));
            }
        }
    }
}

/// The write-ahead journal: entries a dead writer left unapplied, damaged
/// lines, a torn end.
pub(super) fn journal(txn: &ReadTxn, rep: &mut Report, plan: &mut Plan) -> Result<()> {
    let h = crate::store::journal::health(txn)?;
    let name = crate::store::journal::file_name();
    for tx in &h.unapplied {
        rep.add(
            "journal_unapplied",
            name,
            format!("entry {tx} is written but not applied (its writer died before applying it); the next write or --repair applies it"),
            true,
        );
    }
    if h.damaged > 0 {
        rep.add(
            "journal_damaged",
            name,
            format!("{} line(s) do not parse; --repair keeps a copy of the journal and starts a new one", h.damaged),
            true,
        );
    }
    if h.torn_bytes > 0 {
        rep.add(
            "journal_torn",
            name,
            format!(
                "{} byte(s) after the last whole entry (a write that never returned)",
                h.torn_bytes
            ),
            true,
        );
    }
    plan.journal = !h.unapplied.is_empty() || h.damaged > 0 || h.torn_bytes > 0;
    Ok(())
}

/// Temporary files left by an interrupted write.
pub(super) fn temp_files(txn: &ReadTxn, rep: &mut Report, plan: &mut Plan) {
    let layout = txn.layout();
    for dir in layout.write_dirs() {
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with('.') && n.ends_with(".tmp") {
                rep.add(
                    "stale_temp_file",
                    layout.relative(&e.path()).into_owned(),
                    "left by an interrupted write",
                    true,
                );
                plan.temps.push(e.path());
            }
        }
    }
}
