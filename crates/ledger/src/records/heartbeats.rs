//! `heartbeat/<slot>.json`.

use crate::error::Result;
use crate::fs::{self, Durability};
use crate::model::{Heartbeat, SlotId};
use crate::store::{ReadTxn, WriteTxn};

pub fn load(txn: &ReadTxn, slot: &SlotId) -> Result<Option<Heartbeat>> {
    fs::read_json::<Heartbeat>(&txn.layout().heartbeat(slot))
}

pub fn save(txn: &WriteTxn, slot: &SlotId, hb: &Heartbeat) -> Result<()> {
    fs::write_json(&txn.layout().heartbeat(slot), hb, Durability::Durable)
}
