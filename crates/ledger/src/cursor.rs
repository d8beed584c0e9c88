//! Durable read cursors (`cursors/<slot>.json`).
//!
//! `last_seq` is the reference's cursor: everything at or below it is read.
//! `acked` is ours (additive): sequence numbers above `last_seq` consumed out
//! of order, such as the one `task.assign` that `claim_next_task` takes while
//! leaving the slot's other messages unread. Cursors only move forward.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsutil::{self, Durability};
use crate::store::Store;
use crate::time;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default)]
    pub slot: String,
    #[serde(default)]
    pub last_seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acked: Vec<u64>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Cursor {
    /// Has the message with this seq been read?
    pub fn is_read(&self, seq: u64) -> bool {
        seq <= self.last_seq || self.acked.binary_search(&seq).is_ok()
    }
}

fn path(store: &Store, slot: &str) -> std::path::PathBuf {
    store.path(&format!("cursors/{slot}.json"))
}

/// Load a slot's cursor; missing means nothing read. A damaged cursor file
/// is reported, not silently reset (resetting would redeliver everything).
pub fn load(store: &Store, slot: &str) -> Result<Cursor> {
    Ok(
        fsutil::read_json::<Cursor>(&path(store, slot))?.unwrap_or(Cursor {
            slot: slot.to_string(),
            ..Cursor::default()
        }),
    )
}

/// Mark everything up to `seq` read plus the out-of-order `acked` seqs.
/// Monotonic: never moves back. Caller holds the exclusive lock.
pub fn advance(store: &Store, slot: &str, up_to: u64, acked: &[u64]) -> Result<Cursor> {
    let mut c = load(store, slot)?;
    c.slot = slot.to_string();
    c.last_seq = c.last_seq.max(up_to);
    c.acked.extend_from_slice(acked);
    let last = c.last_seq;
    c.acked.retain(|s| *s > last);
    c.acked.sort_unstable();
    c.acked.dedup();
    c.updated_at = Some(time::now());
    fsutil::write_json(&path(store, slot), &c, Durability::Durable)?;
    Ok(c)
}
