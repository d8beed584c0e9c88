//! `get_status`, and the slot rows of the reference CLI's `slots`.

use chrono::Utc;

use crate::api::{self, Page, PauseBrief, SlotDetail, StatusResponse, TaskListRow};
use crate::auth::Ctx;
use crate::error::Result;
use crate::index::work::TaskRow;
use crate::model::{SlotId, TaskId};
use crate::ops::limit;
use crate::records;
use crate::store::Store;
use crate::time;

use super::Snapshot;

impl Snapshot<'_, '_> {
    /// A compact task row with its lease.
    pub fn task_row(&self, r: &TaskRow, now: chrono::DateTime<Utc>) -> TaskListRow {
        let lease = self.lease_expiry(r);
        TaskListRow {
            task_id: r.task_id.clone(),
            slot: r.slot.clone(),
            status: r.status.clone(),
            title: r.title.clone(),
            milestone_id: r.milestone_id.clone(),
            lane_id: r.lane_id.clone(),
            commit: r.commit.clone(),
            dependency_ids: r.dependency_ids.clone(),
            assigned_at: r.assigned_at.clone(),
            started_at: r.started_at.clone(),
            updated_at: r.updated_at.clone(),
            lease_expires_at: lease.map(time::format),
            lease_expired: lease.is_some_and(|t| t < now),
        }
    }

    /// A slot row with what the reference CLI's `slots` adds.
    pub fn slot_detail(&self, slot: &str, now: chrono::DateTime<Utc>) -> Result<SlotDetail> {
        let mut row = self.slot_row(slot, now)?;
        let e = self.reg.entry(slot);
        // The current task's own record, for its exact times.
        let task = row
            .current_task_id
            .as_deref()
            .and_then(TaskId::stored)
            .and_then(|id| records::tasks::load(self.txn(), &id).ok().flatten());
        if let Some(t) = &task {
            row.current_task_assigned_at = t.assigned_at.clone().or_else(|| t.created_at.clone());
            row.current_task_updated_at = t.updated_at.clone();
        }
        let latest = self.newest_unread_at(slot, row.unread)?.map(time::format);
        Ok(SlotDetail {
            current_task_reported_at: task.and_then(|t| t.reported_at),
            latest_inbox_created_at: latest,
            heartbeat_automation_id: e.and_then(|e| e.heartbeat_automation_id.clone()),
            row,
        })
    }
}

impl Store {
    /// `get_status`: slots and open work, sized for a model's context.
    pub fn get_status(&self, _ctx: &Ctx, req: &api::GetStatus) -> Result<StatusResponse> {
        let only = match &req.slot {
            Some(s) => Some(SlotId::parse("slot", s)?),
            None => None,
        };
        let lim = limit(req.limit, 25);
        let off = req.offset.unwrap_or(0) as usize;
        let now = Utc::now();
        let snap = Snapshot::read(self)?;
        let slots: Vec<String> = match &only {
            Some(s) => vec![s.to_string()],
            None => snap.reg.all_slots(),
        };
        let rows = slots
            .iter()
            .map(|s| snap.slot_row(s, now))
            .collect::<Result<Vec<_>>>()?;
        let idx = &snap.idx;
        // The page walks the queue it lists; counts come from the index.
        let total = match &only {
            Some(s) => idx.open_count_for(s.as_str()),
            None => idx.open.len(),
        };
        let expired = idx
            .active_rows()
            .filter(|r| only.as_ref().is_none_or(|s| r.slot == s.as_str()))
            .filter(|r| snap.lease_expiry(r).is_some_and(|t| t < now))
            .count();
        let listed: Box<dyn Iterator<Item = &TaskRow>> = match &only {
            Some(s) => Box::new(idx.queue_of(s.as_str())),
            None => Box::new(idx.open_sorted()),
        };
        let page: Vec<TaskListRow> = listed
            .skip(off)
            .take(lim)
            .map(|r| snap.task_row(r, now))
            .collect();
        Ok(StatusResponse {
            registry: snap.reg.header(),
            slots: rows,
            open_tasks: Page {
                total,
                offset: off,
                returned: page.len(),
                has_more: off + page.len() < total,
                tasks: page,
            },
            task_counts: snap.idx.counts.clone(),
            total_tasks: snap.idx.total,
            expired_leases: expired,
            summary_pause: PauseBrief {
                integrated_count: snap.idx.integrated_count(),
                due: snap.pause_policy().due,
            },
        })
    }

    /// One row per slot, coordinator first: the reference CLI's `slots` row
    /// plus the ledger's extras. Pure read.
    pub fn slot_details(&self, _ctx: &Ctx) -> Result<Vec<SlotDetail>> {
        let now = Utc::now();
        let snap = Snapshot::read(self)?;
        snap.reg
            .all_slots()
            .iter()
            .map(|s| snap.slot_detail(s, now))
            .collect()
    }

    /// The registry as stored (the CLI's `status --json` shows it whole).
    pub fn registry(&self) -> Result<crate::model::Registry> {
        records::registry::load(&self.read()?)
    }
}
