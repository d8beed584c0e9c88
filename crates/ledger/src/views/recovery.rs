//! Slot recovery (the reference CLI's `recovery`): what to do about each
//! slot, under the reference's names for the one health decision.
//!
//! Unread counts come from the read cursors (the same notion of unread as
//! `read_inbox`), the current task from the work index, the heartbeat from
//! the registry (the copy `record_heartbeat` writes with it), falling back
//! to `heartbeat/<slot>.json`.

use crate::api::{self, RecoveryResponse, RecoveryRow};
use crate::auth::Ctx;
use crate::error::Result;
use crate::model::TaskStatus;
use crate::store::Store;

use super::slot_health::{self, Health, Parked};
use super::{Snapshot, checked_at, minutes};

/// Default window after which a heartbeat or an unclaimed queued task is old.
pub const RECOVERY_WINDOW_MINUTES: f64 = 15.0;

/// Recovery's name for a health (recommendation, reason).
pub fn recommendation(h: &Health) -> (&'static str, &'static str) {
    match h {
        Health::Parked(Parked::Paused) => ("parked", "slot_paused"),
        Health::Parked(Parked::Parked) => ("parked", "slot_parked"),
        Health::LeaseExpired { .. } => ("requeue_task", "lease_expired"),
        Health::Unresponsive { why, .. } => ("restart_thread", why.code()),
        Health::Inbox { current } => match current {
            Some(TaskStatus::Active) => ("continue_task", "task_active"),
            Some(TaskStatus::Reported) => ("await_integration", "task_reported"),
            Some(TaskStatus::Blocked) => ("resolve_blocker", "task_blocked"),
            Some(s) if s.is_claimable() => ("read_inbox", "queued_inbox_unclaimed"),
            _ => ("read_inbox", "queued_inbox"),
        },
        Health::Working { .. } => ("continue_task", "task_active"),
        Health::Claimable => ("claim_task", "task_queued_unclaimed"),
        Health::Blocked => ("resolve_blocker", "task_blocked"),
        Health::WaitingDependencies => ("wait_dependencies", "task_waiting_dependencies"),
        Health::AwaitingIntegration => ("await_integration", "task_reported"),
        Health::Idle { .. } => ("ok", ""),
    }
}

impl Store {
    /// The reference CLI's `recovery`: what to do about each slot. Pure read.
    pub fn recovery(&self, _ctx: &Ctx, req: &api::Recovery) -> Result<RecoveryResponse> {
        let window = minutes(
            "window_minutes",
            req.window_minutes,
            RECOVERY_WINDOW_MINUTES,
        )?;
        let (now, at) = checked_at(req.checked_at.as_deref())?;
        let snap = Snapshot::read(self)?;
        let mut rows = Vec::new();
        for slot in snap.reg.all_slots() {
            let detail = snap.slot_detail(&slot, now)?;
            let facts = snap.facts(&slot, &detail.row)?;
            let (rec, reason) = recommendation(&slot_health::assess(&facts, now, window));
            rows.push(RecoveryRow {
                slot: detail,
                recommendation: rec.into(),
                reason: reason.into(),
            });
        }
        Ok(RecoveryResponse {
            checked_at: at,
            window_minutes: window.num_milliseconds() as f64 / 60_000.0,
            rows,
        })
    }
}
