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

/// The newest attempt of each of `slots`. One directory listing, newest
/// name first (names start with their time), reading only files whose
/// name holds `_<slot>_` and stopping once every slot has one; the slot
/// inside the file decides (ids may contain `_`).
pub fn newest_per_slot(
    txn: &ReadTxn,
    slots: &[String],
) -> std::collections::BTreeMap<String, WakeAttempt> {
    let mut found = std::collections::BTreeMap::new();
    if slots.is_empty() {
        return found;
    }
    let dir = txn.layout().wake_dir();
    for name in super::json_files(&dir).into_iter().rev() {
        let wanted = slots
            .iter()
            .any(|s| !found.contains_key(s) && name.contains(&format!("_{s}_")));
        if !wanted {
            continue;
        }
        let Ok(Some(a)) = fs::read_json::<WakeAttempt>(&dir.join(&name)) else {
            continue;
        };
        if slots.contains(&a.slot) && !found.contains_key(&a.slot) {
            found.insert(a.slot.clone(), a);
            if found.len() == slots.len() {
                break;
            }
        }
    }
    found
}
