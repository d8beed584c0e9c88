//! `get_task` and `list_tasks`: one task's whole story, and filtered,
//! paged listings of open and closed tasks.

use chrono::Utc;

use crate::api::{self, GetTaskResponse, LeaseView, ListTasksResponse, Page, TaskListItem};
use crate::auth::Ctx;
use crate::error::Result;
use crate::index::work::TaskRow;
use crate::model::ids::{self, MAX_TITLE_LEN};
use crate::model::{SlotId, Task, TaskId, TaskStatus};
use crate::ops::limit;
use crate::records;
use crate::store::Store;
use crate::time;

use super::{Snapshot, slot_health};

/// A checked `list_tasks` filter.
struct Filter {
    statuses: Vec<TaskStatus>,
    slot: Option<SlotId>,
    milestone: Option<String>,
    lane: Option<String>,
    text: Option<String>,
}

impl Filter {
    fn check(req: &api::ListTasks) -> Result<Filter> {
        let statuses = match &req.status {
            Some(list) => list
                .0
                .iter()
                .map(|s| TaskStatus::parse("status", s))
                .collect::<Result<Vec<_>>>()?,
            None => vec![],
        };
        let slot = match req.slot.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(SlotId::parse("slot", s)?),
            None => None,
        };
        for (f, v) in [
            ("milestone_id", &req.milestone_id),
            ("lane_id", &req.lane_id),
        ] {
            if let Some(id) = v.as_deref().filter(|s| !s.is_empty()) {
                ids::short_id(f, id)?;
            }
        }
        let text = req.text.clone().filter(|t| !t.trim().is_empty());
        if let Some(t) = &text {
            ids::text("text", t, MAX_TITLE_LEN)?;
        }
        Ok(Filter {
            statuses,
            slot,
            milestone: req.milestone_id.clone().filter(|s| !s.is_empty()),
            lane: req.lane_id.clone().filter(|s| !s.is_empty()),
            text: text.map(|t| t.to_lowercase()),
        })
    }

    /// Does a row pass the filters that a row can answer?
    fn row(&self, r: &TaskRow) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&r.status))
            && self.slot.as_ref().is_none_or(|s| r.slot == s.as_str())
            && self
                .milestone
                .as_ref()
                .is_none_or(|m| r.milestone_id.as_ref() == Some(m))
            && self
                .lane
                .as_ref()
                .is_none_or(|l| r.lane_id.as_ref() == Some(l))
    }

    /// Does a whole task pass every filter?
    fn task(&self, t: &Task) -> bool {
        self.row(&TaskRow::from(t))
            && self.text.as_ref().is_none_or(|q| {
                [&t.task_id, &t.title, &t.subject, &t.message]
                    .iter()
                    .any(|f| f.to_lowercase().contains(q))
            })
    }

    /// Could a closed task match?
    fn wants_closed(&self) -> bool {
        self.statuses.is_empty() || self.statuses.iter().any(TaskStatus::is_closed)
    }

    /// How many closed tasks match, when the index's counters can say (no
    /// text, at most one of slot, milestone and lane).
    fn closed_matches(&self, idx: &crate::index::work::WorkIndex) -> Option<u64> {
        if self.text.is_some() {
            return None;
        }
        let dims = [
            self.slot.is_some(),
            self.milestone.is_some(),
            self.lane.is_some(),
        ];
        let counts = match dims {
            [false, false, false] => Some(&idx.counts),
            [true, false, false] => idx.by_slot.get(self.slot.as_ref()?.as_str()),
            [false, true, false] => idx.by_milestone.get(self.milestone.as_ref()?),
            [false, false, true] => idx.by_lane.get(self.lane.as_ref()?),
            _ => return None,
        };
        Some(counts.map_or(0, |c| closed_count(c, &self.statuses)))
    }
}

/// Closed tasks in `counts` (of `statuses` only, when given).
fn closed_count(counts: &crate::index::work::Counts, statuses: &[TaskStatus]) -> u64 {
    counts
        .iter()
        .map(|(s, n)| (TaskStatus::from_stored(s), n))
        .filter(|(s, _)| s.is_closed() && (statuses.is_empty() || statuses.contains(s)))
        .map(|(_, n)| n)
        .sum()
}

impl Store {
    /// `get_task`: the full record, its history, its lease and its messages.
    pub fn get_task(&self, _ctx: &Ctx, req: &api::GetTask) -> Result<GetTaskResponse> {
        let id = TaskId::parse("task_id", &req.task_id)?;
        let lim = limit(req.message_limit, 20);
        let now = Utc::now();
        let snap = Snapshot::read(self)?;
        let task = records::tasks::require(snap.txn(), &id)?;
        let row = TaskRow::from(&task);
        let waiting_on = if task.status.is_claimable() {
            snap.idx.unmet_dependencies(snap.txn(), &row)
        } else {
            vec![]
        };
        let lease =
            slot_health::effective_lease(&task.status, &task.lease, &task.started_at).map(|l| {
                let expires = snap.lease_expiry(&row);
                LeaseView {
                    run_id: task.claimed_run_id.clone(),
                    claimed_at: l.claimed_at.clone(),
                    seconds: l.seconds,
                    expires_at: expires.map(time::format).unwrap_or_default(),
                    expired: expires.is_some_and(|t| t < now),
                }
            });
        let (messages, total) = snap.view.task_messages(snap.txn(), &id, lim)?;
        Ok(GetTaskResponse {
            history: task.known_history(),
            waiting_on,
            lease,
            messages_omitted: total.saturating_sub(messages.len()),
            messages_total: total,
            messages,
            task,
        })
    }

    /// `list_tasks`: open tasks in queue order, then closed ones newest
    /// first, filtered and paged. Open tasks and the latest closed ones come
    /// from the work index; a text filter reads the candidates' records, and
    /// paging past the latest closed tasks reads the closed tasks' records.
    pub fn list_tasks(&self, _ctx: &Ctx, req: &api::ListTasks) -> Result<ListTasksResponse> {
        let filter = Filter::check(req)?;
        let lim = limit(req.limit, 25);
        let off = req.offset.unwrap_or(0) as usize;
        let detail = req.detail.unwrap_or(false);
        let now = Utc::now();
        let snap = Snapshot::read(self)?;
        let txn = snap.txn();
        let load = |r: &TaskRow| -> Result<Option<Task>> {
            match TaskId::stored(&r.task_id) {
                Some(id) => records::tasks::load(txn, &id),
                None => Ok(None),
            }
        };
        let needs_record = detail || filter.text.is_some();
        // Candidates, in listing order: open, then closed newest first.
        let mut exact_closed = filter
            .closed_matches(&snap.idx)
            .filter(|_| filter.wants_closed());
        let mut rows: Vec<TaskRow> = snap
            .idx
            .open_sorted()
            .filter(|r| filter.row(r))
            .cloned()
            .collect();
        if filter.wants_closed() {
            let recent: Vec<TaskRow> = snap
                .idx
                .recent_closed
                .iter()
                .rev()
                .filter(|r| filter.row(r))
                .cloned()
                .collect();
            let closed_total: u64 = closed_count(&snap.idx.counts, &[]);
            let window_holds_all = closed_total as usize <= snap.idx.recent_closed.len();
            let page_in_window = match filter.closed_matches(&snap.idx) {
                // Exactly this many closed tasks match: the window holds
                // them all, or the page ends before the window does.
                Some(n) => n as usize <= recent.len() || rows.len() + recent.len() >= off + lim,
                None => false,
            };
            if window_holds_all || page_in_window {
                rows.extend(recent);
            } else {
                // Past the index's window: read the closed tasks' records.
                let (all, _) = records::tasks::load_all(txn);
                let mut closed: Vec<TaskRow> = all
                    .iter()
                    .filter(|t| t.status.is_closed())
                    .map(TaskRow::from)
                    .filter(|r| filter.row(r))
                    .collect();
                closed.sort_by(|a, b| {
                    b.updated_at
                        .cmp(&a.updated_at)
                        .then(b.task_id.cmp(&a.task_id))
                });
                rows.extend(closed);
                exact_closed = None;
            }
        }
        let mut matched: Vec<(TaskRow, Option<Task>)> = Vec::new();
        for r in rows {
            if needs_record {
                let Some(t) = load(&r)? else { continue };
                if filter.task(&t) {
                    matched.push((r, Some(t)));
                }
            } else {
                matched.push((r, None));
            }
        }
        // With the window's rows only, the closed tasks past it still count.
        let open_matched = matched
            .iter()
            .filter(|(r, _)| !r.status.is_closed())
            .count();
        let total = match exact_closed {
            Some(n) => (open_matched + n as usize).max(matched.len()),
            None => matched.len(),
        };
        let page: Vec<TaskListItem> = matched
            .into_iter()
            .skip(off)
            .take(lim)
            .map(|(r, t)| match (detail, t) {
                (true, Some(t)) => TaskListItem::Full(Box::new(t)),
                _ => TaskListItem::Row(Box::new(snap.task_row(&r, now))),
            })
            .collect();
        Ok(Page {
            total,
            offset: off,
            returned: page.len(),
            has_more: off + page.len() < total,
            tasks: page,
        })
    }
}
