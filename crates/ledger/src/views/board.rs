//! `get_focus_board`: the board joined with tasks, assignments, reports and
//! receipts, in one read transaction. Lists are limited (open work first,
//! then the latest closed) and say how many were left out; counters cover
//! all history.

use chrono::Utc;
use serde_json::Number;

use crate::api::{
    self, Assignment, BoardHeader, FocusBoard, LaneView, MilestoneView, Progress, Receipt,
    Visibility,
};
use crate::auth::Ctx;
use crate::error::Result;
use crate::index::work::{Counts, TaskRow, slot_lane_key};
use crate::model::board::sort_key;
use crate::model::{Lane, Milestone, SlotId, TaskId, TaskSummary};
use crate::ops::limit;
use crate::records;
use crate::store::Store;
use crate::time;

use super::Snapshot;

impl Store {
    /// `get_focus_board`: the board as `viewer_slot` (default: the caller) sees it.
    pub fn get_focus_board(&self, ctx: &Ctx, req: &api::GetFocusBoard) -> Result<FocusBoard> {
        let viewer = match req.viewer_slot.as_deref().filter(|s| !s.is_empty()) {
            Some(v) => SlotId::parse("viewer_slot", v)?,
            None => ctx.caller.slot().clone(),
        };
        let lim = limit(req.limit, 50);
        let now = Utc::now();
        let snap = Snapshot::read(self)?;
        let board = records::board::load(snap.txn())?;
        let idx = &snap.idx;
        let is_coord = viewer.is_coordinator();
        let own: Vec<String> = if is_coord {
            vec![]
        } else {
            idx.open_for(&viewer)
                .iter()
                .map(|r| r.task_id.clone())
                .collect()
        };

        // Tasks: open ones in queue order, then the latest closed, newest first.
        let total_listed = idx.open.len() + idx.recent_closed.len();
        let tasks: Vec<TaskSummary> = idx
            .open_sorted()
            .chain(idx.recent_closed.iter().rev())
            .take(lim)
            .filter_map(|r| TaskId::stored(&r.task_id))
            .filter_map(|id| records::tasks::load(snap.txn(), &id).ok().flatten())
            .map(|t| TaskSummary::from(&t))
            .collect();
        let open_ids = |pred: &dyn Fn(&TaskRow) -> bool| -> Vec<String> {
            idx.open_sorted()
                .filter(|r| pred(r))
                .map(|r| r.task_id.clone())
                .take(lim)
                .collect()
        };

        // Milestones: the board's, plus implicit ones named by tasks.
        let mut milestones: Vec<Milestone> = board.milestones.clone();
        for mid in idx.by_milestone.keys() {
            if !milestones.iter().any(|m| &m.milestone_id == mid) {
                milestones.push(Milestone {
                    milestone_id: mid.clone(),
                    title: mid.clone(),
                    status: "implicit".into(),
                    order: Some(Number::from(0)),
                    ..Milestone::default()
                });
            }
        }
        milestones.sort_by_key(|m| sort_key(&m.order, &m.milestone_id));
        let milestones = milestones
            .into_iter()
            .map(|m| MilestoneView {
                task_counts: idx
                    .by_milestone
                    .get(&m.milestone_id)
                    .cloned()
                    .unwrap_or_default(),
                open_task_ids: open_ids(&|r| r.milestone_id.as_deref() == Some(&m.milestone_id)),
                milestone: m,
            })
            .collect();

        // Lanes: the board's, plus an implicit lane per worker owning none.
        let mut lanes: Vec<Lane> = board.lanes.clone();
        for slot in snap.reg.worker_slots() {
            let owns = lanes.iter().any(|l| l.owner_slot == slot);
            let taken = lanes.iter().any(|l| l.lane_id == slot);
            if !owns && !taken {
                let e = snap.reg.entry_or_default(&slot);
                lanes.push(Lane {
                    lane_id: slot.clone(),
                    title: if e.focus.is_empty() {
                        slot.clone()
                    } else {
                        e.focus.clone()
                    },
                    owner_slot: slot.clone(),
                    project: e.project.clone(),
                    status: e.status_or_active().to_string(),
                    implicit: true,
                    order: Some(Number::from(0)),
                    ..Lane::default()
                });
            }
        }
        lanes.sort_by_key(|l| sort_key(&l.order, &l.lane_id));
        let lanes = lanes
            .into_iter()
            .map(|l| {
                let mut counts: Counts = idx.by_lane.get(&l.lane_id).cloned().unwrap_or_default();
                if !l.owner_slot.is_empty() {
                    for (st, n) in idx
                        .by_lane
                        .get(&slot_lane_key(&l.owner_slot))
                        .into_iter()
                        .flatten()
                    {
                        *counts.entry(st.clone()).or_insert(0) += n;
                    }
                }
                let open_task_ids = open_ids(&|r| {
                    r.lane_id.as_deref() == Some(&l.lane_id)
                        || (r.lane_id.is_none()
                            && !l.owner_slot.is_empty()
                            && r.slot == l.owner_slot)
                });
                LaneView {
                    task_counts: counts,
                    open_task_ids,
                    lane: l,
                }
            })
            .collect();

        let assignments = snap
            .reg
            .worker_slots()
            .iter()
            .map(|slot| {
                let row = snap.slot_row(slot, now)?;
                Ok(Assignment {
                    slot: row.slot,
                    project: row.project,
                    focus: row.focus,
                    branch: row.branch,
                    current_task_id: row.current_task_id,
                    current_task_status: row.current_task_status,
                    last_task_id: row.last_task_id,
                    last_task_status: row.last_task_status,
                    open_tasks: row.open_tasks,
                    unread: row.unread,
                    heartbeat_status: row.heartbeat_status,
                    heartbeat_checked_at: row.heartbeat_checked_at,
                    lease_expired: row.lease_expired,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let reports = idx.recent_reports.iter().rev().take(lim).cloned().collect();
        let integration_receipts = idx
            .recent_closed
            .iter()
            .rev()
            .filter(|r| {
                r.status.is_integrated() && r.commit.as_deref().is_some_and(|c| !c.is_empty())
            })
            .take(lim)
            .map(|r| Receipt {
                task_id: r.task_id.clone(),
                slot: r.slot.clone(),
                commit: r.commit.clone(),
                integrated_at: r.integrated_at.clone(),
                milestone_id: r.milestone_id.clone(),
                lane_id: r.lane_id.clone(),
            })
            .collect();

        Ok(FocusBoard {
            version: 1,
            generated_at: time::now(),
            board: BoardHeader {
                name: board.name.clone(),
                description: board.description.clone(),
                updated_at: board.updated_at.clone(),
            },
            visibility: Visibility {
                viewer_slot: viewer.to_string(),
                role: if is_coord { "coordinator" } else { "worker" }.into(),
                can_manage_backlog: is_coord,
                can_read_all_progress: true,
                can_report_own_work: !is_coord,
                own_task_ids: own,
            },
            progress: Progress {
                status_counts: idx.counts.clone(),
                total_tasks: idx.total,
                open_tasks: idx.open.len(),
                active_slots: snap.reg.worker_slots().len(),
                summary_pause: snap.pause_policy(),
            },
            milestones,
            lanes,
            tasks_listed: tasks.len(),
            tasks_omitted: total_listed.saturating_sub(tasks.len()),
            tasks,
            assignments,
            reports,
            integration_receipts,
        })
    }
}
