//! `heartbeat/<slot>.json`.

use crate::error::Result;
use crate::model::{Heartbeat, SlotId};
use crate::store::{ReadTxn, WriteTxn};

pub fn load(txn: &ReadTxn, slot: &SlotId) -> Result<Option<Heartbeat>> {
    txn.read_json::<Heartbeat>(&txn.layout().heartbeat(slot))
}

pub fn save(txn: &WriteTxn, slot: &SlotId, hb: &Heartbeat) -> Result<()> {
    txn.put_json(&txn.layout().heartbeat(slot), hb)
}
