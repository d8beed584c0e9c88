//! Read cursors (`cursors/<slot>.json`).
//!
//! `last_seq` is the reference's cursor: everything at or below it is read.
//! `acked` is ours (additive): sequence numbers above `last_seq` consumed out
//! of order, such as the one `task.assign` that `claim_next_task` takes while
//! leaving the slot's other messages unread. Cursors only move forward.

use serde::{Deserialize, Serialize};

use schemars::JsonSchema;

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
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

    /// Mark everything up to `up_to` read, plus the out-of-order `acked`
    /// seqs. Monotonic: never moves back; `acked` stays sorted, above
    /// `last_seq`, without duplicates.
    pub fn advance(&mut self, up_to: u64, acked: &[u64]) {
        self.last_seq = self.last_seq.max(up_to);
        self.acked.extend_from_slice(acked);
        let last = self.last_seq;
        self.acked.retain(|s| *s > last);
        self.acked.sort_unstable();
        self.acked.dedup();
    }
}
