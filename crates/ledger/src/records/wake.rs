//! `wake/*.json`: wake attempts.

use crate::error::Result;
use crate::fs;
use crate::model::{SlotId, WakeAttempt};
use crate::store::{ReadTxn, WriteTxn};
use crate::time;

pub fn save(txn: &WriteTxn, slot: &SlotId, attempt: &WakeAttempt) -> Result<()> {
    let path = txn
        .layout()
        .wake(&time::stamp(&attempt.created_at), slot, &attempt.id);
    txn.put_json(&path, attempt)
}

/// The newest `n` attempts, newest first (file names sort by time).
pub fn newest(txn: &ReadTxn, n: usize) -> Vec<WakeAttempt> {
    let dir = txn.layout().wake_dir();
    super::json_files(&dir)
        .into_iter()
        .rev()
        .take(n)
        .filter_map(|name| fs::read_json::<WakeAttempt>(&dir.join(name)).ok().flatten())
        .collect()
}
