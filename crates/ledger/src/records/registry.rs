//! `registry.json`.

use crate::error::{Error, Result};
use crate::model::Registry;
use crate::store::{ReadTxn, WriteTxn};
use crate::time;

/// Load the registry; a store always has one (`Store::open` creates it).
pub fn load(txn: &ReadTxn) -> Result<Registry> {
    let path = txn.layout().registry();
    txn.read_json::<Registry>(&path)?
        .ok_or_else(|| Error::NotFound {
            kind: "registry",
            id: path.display().to_string(),
        })
}

/// Write the registry durably, refreshing `updated_at`. It was loaded in
/// this transaction.
pub fn save(txn: &WriteTxn, reg: &mut Registry) -> Result<()> {
    reg.updated_at = Some(time::now());
    txn.put_json(&txn.layout().registry(), reg)
}

/// Create a v2 registry unless one exists (re-checked under the lock: two
/// servers may open a fresh store at once).
pub fn create_if_missing(txn: &WriteTxn) -> Result<()> {
    if txn.exists(&txn.layout().registry()) {
        return Ok(());
    }
    let mut reg = Registry::new(&time::now());
    save(txn, &mut reg)
}
