//! The repairs `doctor --repair` makes, under the exclusive lock.

use std::fs::{self, OpenOptions};
use std::io::Write;

use serde_json::{Value, json};

use crate::error::{IoContext, Result};
use crate::fs::{self as sfs, Durability};
use crate::index::{inbox, work};
use crate::records;
use crate::store::WriteTxn;

use super::checks::Ledger;
use super::{Plan, Report};

pub(super) fn run(txn: &WriteTxn, plan: &Plan, ledger: &Ledger, rep: &mut Report) -> Result<()> {
    for t in &plan.temps {
        let _ = fs::remove_file(t);
    }
    if plan.damaged_lines > 0 {
        quarantine(txn, ledger)?;
        rep.repaired.push(format!(
            "moved {} damaged ledger line(s) to messages/ledger.quarantine.jsonl",
            plan.damaged_lines
        ));
    }
    inbox::reset(txn)?;
    for (seq, to) in &plan.orphans {
        records::cursors::advance(txn, to, 0, &[*seq])?;
        rep.repaired.push(format!(
            "marked the orphan task.assign seq {seq} read for {to}"
        ));
    }
    for (slot, c) in &plan.cursors {
        let mut c = c.clone().unwrap_or_default();
        c.last_seq = c.last_seq.min(ledger.max_seq);
        c.acked.retain(|s| *s <= ledger.max_seq);
        records::cursors::save(txn, slot, &mut c)?;
        rep.repaired
            .push(format!("cursor of {slot} set to {}", c.last_seq));
    }
    // The journal last: the ledger rewrite above works from the lines read
    // before the repair, and must not drop a line a redo appends.
    if plan.journal {
        let n = crate::store::journal::repair(txn)?;
        rep.repaired.push(format!(
            "journal: redid {n} unapplied entr{} and started a new journal",
            if n == 1 { "y" } else { "ies" }
        ));
    }
    // The work index after everything that changes task files.
    work::reset(txn)?;
    rep.repaired
        .push("rebuilt the inbox and work indexes".into());
    Ok(())
}

/// Move damaged lines (and a torn tail) to the quarantine file and rewrite
/// the ledger without them. Every kept line without a `seq` gets its line
/// number pinned first, so no sequence number shifts.
///
/// Crash invariant: the quarantine file is appended and fsynced before the
/// ledger is replaced (atomically), so a crash loses no line: at worst a
/// damaged line is in both.
fn quarantine(txn: &WriteTxn, ledger: &Ledger) -> Result<()> {
    let layout = txn.layout();
    let q = layout.quarantine();
    let mut qf = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&q)
        .at(&q)?;
    let mut kept = Vec::with_capacity(ledger.bytes.len());
    for l in &ledger.lines {
        match &l.parsed {
            Ok(m) if m.contains_key("seq") => {
                kept.extend_from_slice(ledger.line_bytes(l));
                kept.push(b'\n');
            }
            Ok(m) => {
                let mut m = m.clone();
                m.insert("seq".into(), json!(l.number));
                kept.extend_from_slice(Value::Object(m).to_string().as_bytes());
                kept.push(b'\n');
            }
            Err(_) => {
                qf.write_all(ledger.line_bytes(l)).at(&q)?;
                qf.write_all(b"\n").at(&q)?;
            }
        }
    }
    if let Some(t) = &ledger.torn {
        qf.write_all(&ledger.bytes[t.offset as usize..]).at(&q)?;
        qf.write_all(b"\n").at(&q)?;
    }
    qf.sync_data().at(&q)?;
    sfs::write_atomic(&layout.ledger(), &kept, Durability::Durable)
}
