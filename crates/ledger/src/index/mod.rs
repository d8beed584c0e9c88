//! Derived indexes: rebuildable from the primary records at any time, and
//! checked against them before they are trusted.
//!
//! - [`inbox`]: byte offsets of every message per recipient and per task,
//!   so an inbox read costs what it returns.
//! - [`work`]: open tasks, counters and the latest closed tasks and reports,
//!   so status, the board and claims need not read every task file.

pub mod inbox;
pub mod work;

impl crate::Store {
    /// Bring the derived indexes up to date with the primary records (for
    /// example after the reference or a crash left records unindexed), so
    /// that reads need not scan. Cheap when they are current.
    pub fn refresh_indexes(&self) -> crate::Result<()> {
        self.transact(|txn| {
            inbox::sync_index(txn)?;
            work::load(txn)?;
            Ok(())
        })
    }
}
