//! `cursors/<slot>.json`.

use crate::error::Result;
use crate::model::{Cursor, SlotId};
use crate::store::{ReadTxn, WriteTxn};
use crate::time;

/// A slot's cursor; missing means nothing read. A damaged cursor file is
/// reported, not silently reset (resetting would redeliver everything).
pub fn load(txn: &ReadTxn, slot: &SlotId) -> Result<Cursor> {
    Ok(txn
        .read_json::<Cursor>(&txn.layout().cursor(slot))?
        .unwrap_or(Cursor {
            slot: slot.to_string(),
            ..Cursor::default()
        }))
}

/// Advance a slot's cursor (see [`Cursor::advance`]) and save it.
pub fn advance(txn: &WriteTxn, slot: &SlotId, up_to: u64, acked: &[u64]) -> Result<Cursor> {
    let mut c = load(txn, slot)?;
    c.advance(up_to, acked);
    save(txn, slot, &mut c)?;
    Ok(c)
}

/// Write a cursor as given (`doctor` pulls one back within the ledger).
pub fn save(txn: &WriteTxn, slot: &SlotId, c: &mut Cursor) -> Result<()> {
    c.slot = slot.to_string();
    c.updated_at = Some(time::now());
    txn.put_json(&txn.layout().cursor(slot), c)
}

/// Slots that have a cursor file (valid ids only) and the invalid names.
pub fn list(txn: &ReadTxn) -> Vec<String> {
    super::json_files(&txn.layout().cursors_dir())
        .into_iter()
        .map(|n| n.trim_end_matches(".json").to_string())
        .collect()
}
