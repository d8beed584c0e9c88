//! `doctor`: check the store for damage and drift, and repair what can be
//! repaired without losing data.
//!
//! One function per check ([`checks`]), each adding its findings and what a
//! repair would do; [`repair`] then does it under the exclusive lock:
//! damaged ledger lines move to `messages/ledger.quarantine.jsonl` (nothing
//! is deleted), every kept line gets an explicit `seq` so no sequence number
//! shifts, indexes are rebuilt, orphan notices are marked read and cursors
//! are brought back within the ledger, and the journal's unapplied entries
//! are redone (a damaged journal is copied aside first) before it is
//! checkpointed.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::Result;
use crate::model::{Cursor, SlotId};
use crate::store::{ReadTxn, Store};

mod checks;
mod repair;

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

/// What a repair would do, as the checks found it.
#[derive(Default)]
struct Plan {
    /// Temporary files left by interrupted writes.
    temps: Vec<PathBuf>,
    /// Damaged ledger lines to quarantine.
    damaged_lines: usize,
    /// Unread `task.assign` notices of tasks that do not exist.
    orphans: Vec<(u64, SlotId)>,
    /// Cursors to pull back within the ledger (None: unreadable, reset).
    cursors: Vec<(SlotId, Option<Cursor>)>,
    /// The journal needs its unapplied entries redone or its damage set
    /// aside.
    journal: bool,
}

/// Examine the store. With `repair`, fix what can be fixed.
pub fn run(store: &Store, repair: bool) -> Result<Report> {
    let mut rep = Report {
        store: store.dir().display().to_string(),
        ..Report::default()
    };
    if repair {
        let txn = store.write()?;
        let (plan, ledger) = examine(&txn, &mut rep)?;
        if rep.findings.iter().any(|f| f.repairable) {
            repair::run(&txn, &plan, &ledger, &mut rep)?;
        }
        txn.commit()?;
    } else {
        examine(&store.read()?, &mut rep)?;
    }
    Ok(rep)
}

/// Every check, in order.
fn examine(txn: &ReadTxn, rep: &mut Report) -> Result<(Plan, checks::Ledger)> {
    let mut plan = Plan::default();
    checks::journal(txn, rep, &mut plan)?;
    checks::registry(txn, rep);
    let ledger = checks::Ledger::read(txn)?;
    checks::ledger_lines(&ledger, rep, &mut plan);
    checks::duplicate_seqs(&ledger, rep);
    checks::inbox_index(txn, &ledger, rep)?;
    checks::work_index(txn, rep);
    checks::orphan_assigns(txn, &ledger, rep, &mut plan);
    checks::cursors(txn, &ledger, rep, &mut plan);
    checks::temp_files(txn, rep, &mut plan);
    Ok((plan, ledger))
}
