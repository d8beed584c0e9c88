//! `registry.json`.

use std::sync::{Arc, LazyLock};

use crate::error::{Error, Result};
use crate::model::Registry;
use crate::store::parsed::Parsed;
use crate::store::{ReadTxn, WriteTxn};
use crate::time;

/// Load the registry to change it; a store always has one (`Store::open`
/// creates it).
pub fn load(txn: &ReadTxn) -> Result<Registry> {
    load_shared(txn).map(|r| (*r).clone())
}

/// The registry as read now, shared with earlier reads of the same bytes
/// (parsing it is most of what a status read costs).
pub fn load_shared(txn: &ReadTxn) -> Result<Arc<Registry>> {
    static PARSED: LazyLock<Parsed<Registry>> = LazyLock::new(Parsed::new);
    let path = txn.layout().registry();
    match txn.read_bytes(&path)? {
        Some(bytes) => PARSED.get(&path, bytes),
        None => Err(Error::NotFound {
            kind: "registry",
            id: path.display().to_string(),
        }),
    }
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
