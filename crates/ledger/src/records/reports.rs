//! `reports/*.json`: commit reports and hook errors.

use std::path::PathBuf;

use crate::error::Result;
use crate::model::report::HookError;
use crate::model::{CommitReport, SlotId};
use crate::store::{Layout, ReadTxn, WriteTxn};
use crate::time;

/// Save a report as `<stamp>_<slot>_<sha12>.json` (stamp of `created_at`).
pub fn save(txn: &WriteTxn, slot: &SlotId, report: &CommitReport) -> Result<()> {
    let path = txn
        .layout()
        .report(&time::stamp(&report.created_at), slot, &report.sha);
    txn.put_json(&path, report)
}

/// The report a summary points at (same slot, sha and time).
pub fn load_for(
    txn: &ReadTxn,
    slot: &SlotId,
    sha: &str,
    created_at: &str,
) -> Result<Option<CommitReport>> {
    txn.read_json(&txn.layout().report(&time::stamp(created_at), slot, sha))
}

/// The newest commit report files (names, oldest first), at most `n`.
pub fn newest_names(txn: &ReadTxn, n: usize) -> Vec<String> {
    let names: Vec<String> = super::json_files(&txn.layout().reports_dir())
        .into_iter()
        .filter(|n| Layout::is_report_file(n))
        .collect();
    let skip = names.len().saturating_sub(n);
    names.into_iter().skip(skip).collect()
}

/// Load a report by file name (from [`newest_names`]).
pub fn load_named(txn: &ReadTxn, name: &str) -> Result<Option<CommitReport>> {
    txn.read_json(&txn.layout().reports_dir().join(name))
}

/// Keep a hook failure; returns the file written.
pub fn save_hook_error(txn: &WriteTxn, record: &HookError) -> Result<PathBuf> {
    let stamp = time::stamp(&record.created_at);
    let mut path = txn.layout().hook_error(&stamp, None);
    if txn.exists(&path) {
        path = txn.layout().hook_error(&stamp, Some(&record.id));
    }
    txn.put_json(&path, record)?;
    Ok(path)
}
