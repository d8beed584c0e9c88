//! Who is calling, and what they may do.
//!
//! The caller is the server's `--agent` (or the slot bound to the calling
//! Codex thread). These checks stop a confused agent from acting for another
//! slot; they do not stop someone who can write the files directly.

use crate::error::{Error, Result};
use crate::ids::COORDINATOR;

/// The identity a call runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    slot: String,
}

impl Caller {
    pub fn new(slot: impl Into<String>) -> Caller {
        Caller { slot: slot.into() }
    }

    pub fn coordinator() -> Caller {
        Caller::new(COORDINATOR)
    }

    pub fn slot(&self) -> &str {
        &self.slot
    }

    pub fn is_coordinator(&self) -> bool {
        self.slot == COORDINATOR
    }

    /// Refuse a worker calling a coordinator-only operation.
    pub fn require_coordinator(&self, op: &str) -> Result<()> {
        if self.is_coordinator() {
            Ok(())
        } else {
            Err(Error::forbidden(
                "coordinator_only",
                format!(
                    "{op} is coordinator-only; this session is slot {:?}",
                    self.slot
                ),
            ))
        }
    }

    /// Refuse acting for a slot other than the caller's own (the
    /// coordinator may act for any slot when `coordinator_may` is set).
    pub fn require_self(&self, slot: &str, op: &str, coordinator_may: bool) -> Result<()> {
        if self.slot == slot || (coordinator_may && self.is_coordinator()) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "own_slot_only",
                format!(
                    "slot {:?} may not {op} for slot {slot:?}; a worker acts only for its own slot",
                    self.slot
                ),
            ))
        }
    }
}
