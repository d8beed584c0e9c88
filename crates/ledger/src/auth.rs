//! Who is calling, and what they may do.
//!
//! The caller is the server's `--agent` (or the slot bound to the calling
//! Codex thread). These checks stop a confused agent from acting for another
//! slot; they do not stop someone who can write the files directly.

use crate::error::{Error, Result};
use crate::model::SlotId;
use crate::model::ids::COORDINATOR;
use crate::records;
use crate::store::Store;

/// The identity a call runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    slot: SlotId,
}

impl Caller {
    pub fn new(slot: SlotId) -> Caller {
        Caller { slot }
    }

    /// A caller named by a slot id that is checked here.
    pub fn parse(slot: &str) -> Result<Caller> {
        Ok(Caller::new(SlotId::parse("slot", slot)?))
    }

    pub fn coordinator() -> Caller {
        Caller::new(SlotId::coordinator())
    }

    pub fn slot(&self) -> &SlotId {
        &self.slot
    }

    pub fn is_coordinator(&self) -> bool {
        self.slot.is_coordinator()
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
                    self.slot.as_str()
                ),
            ))
        }
    }

    /// Refuse acting for a slot other than the caller's own (the
    /// coordinator may act for any slot when `coordinator_may` is set).
    pub fn require_self(&self, slot: &str, op: &str, coordinator_may: bool) -> Result<()> {
        if self.slot.as_str() == slot || (coordinator_may && self.is_coordinator()) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "own_slot_only",
                format!(
                    "slot {:?} may not {op} for slot {slot:?}; a worker acts only for its own slot",
                    self.slot.as_str()
                ),
            ))
        }
    }
}

/// Who calls, and from which Codex thread (when Codex said).
#[derive(Clone, Debug)]
pub struct Ctx {
    pub caller: Caller,
    pub thread_id: Option<String>,
}

impl Ctx {
    pub fn new(caller: Caller) -> Ctx {
        Ctx {
            caller,
            thread_id: None,
        }
    }
}

impl Store {
    /// Decide who is calling.
    ///
    /// - An explicit agent (`--agent` or the agent variable) is the caller.
    /// - Otherwise the slot bound to the calling Codex thread is; a session
    ///   binds its thread by calling `register_slot` for its slot.
    /// - An unbound thread registering a slot becomes that slot.
    /// - An unbound thread is the coordinator only while no thread is bound
    ///   to the coordinator; after that it must register first.
    /// - With neither agent nor thread (a plain MCP client), the caller is
    ///   the coordinator, as in the reference.
    pub fn resolve_caller(
        &self,
        agent: Option<&SlotId>,
        thread: Option<&str>,
        registering: Option<&str>,
    ) -> Result<Caller> {
        if let Some(a) = agent {
            return Ok(Caller::new(a.clone()));
        }
        let Some(thread) = thread else {
            return Ok(Caller::coordinator());
        };
        let reg = records::registry::load(&self.read()?)?;
        if let Some(slot) = reg.slot_for_thread(thread).and_then(|s| SlotId::stored(&s)) {
            return Ok(Caller::new(slot));
        }
        if let Some(slot) = registering {
            return Ok(Caller::new(SlotId::parse("slot", slot)?));
        }
        let coordinator_bound = reg
            .entry(COORDINATOR)
            .is_some_and(|e| e.codex_thread_id.as_deref().is_some_and(|t| !t.is_empty()));
        if coordinator_bound {
            Err(Error::forbidden(
                "unbound_session",
                format!(
                    "this Codex thread ({thread}) is not bound to a slot; call register_slot for your slot first"
                ),
            ))
        } else {
            Ok(Caller::coordinator())
        }
    }
}
