//! `watchdog/coordinator.json`.

use crate::error::{Error, Result};
use crate::model::watchdog::WatchdogState;
use crate::store::{ReadTxn, WriteTxn};

/// The state; a damaged file only loses the snooze memory.
pub fn load(txn: &ReadTxn) -> Result<WatchdogState> {
    match txn.read_json::<WatchdogState>(&txn.layout().watchdog_state()) {
        Ok(v) => Ok(v.unwrap_or_default()),
        Err(Error::Damaged { .. }) => Ok(WatchdogState::default()),
        Err(e) => Err(e),
    }
}

pub fn save(txn: &WriteTxn, state: &WatchdogState) -> Result<()> {
    txn.put_json(&txn.layout().watchdog_state(), state)
}
