//! One consistent read of the store: registry, work index and ledger view,
//! all under one lock that the snapshot holds (or borrows from the write
//! transaction it reads within) until it is dropped.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::api::SlotRow;
use crate::error::Result;
use crate::index::inbox::{self, LedgerView};
use crate::index::work::{self, TaskRow, WorkIndex};
use crate::model::{Cursor, Heartbeat, Registry, SlotEntry, SlotId, TaskStatus};
use crate::records;
use crate::store::{ReadTxn, Store, WriteTxn};
use crate::time;

use super::slot_health::{self, Beat, Parked, SlotFacts};

/// The transaction a snapshot reads under.
enum Held<'t, 's> {
    Owned(Box<ReadTxn<'s>>),
    Borrowed(&'t ReadTxn<'s>),
}

impl<'s> Deref for Held<'_, 's> {
    type Target = ReadTxn<'s>;
    fn deref(&self) -> &ReadTxn<'s> {
        match self {
            Held::Owned(t) => t,
            Held::Borrowed(t) => t,
        }
    }
}

pub struct Snapshot<'t, 's> {
    txn: Held<'t, 's>,
    pub reg: Arc<Registry>,
    pub idx: Arc<WorkIndex>,
    pub view: LedgerView,
}

impl<'s> Snapshot<'s, 's> {
    /// Take the shared lock and read.
    pub fn read(store: &'s Store) -> Result<Snapshot<'s, 's>> {
        let txn = store.read()?;
        let (reg, idx, view) = (
            records::registry::load_shared(&txn)?,
            work::load(&txn)?,
            inbox::view(&txn)?,
        );
        Ok(Snapshot {
            txn: Held::Owned(Box::new(txn)),
            reg,
            idx,
            view,
        })
    }
}

impl<'t, 's> Snapshot<'t, 's> {
    /// Read inside a write transaction (the indexes brought up to date).
    pub fn within(txn: &'t WriteTxn<'s>) -> Result<Snapshot<'t, 's>> {
        Ok(Snapshot {
            reg: records::registry::load_shared(txn)?,
            idx: work::load(txn)?,
            view: inbox::sync_index(txn)?,
            txn: Held::Borrowed(txn),
        })
    }

    pub fn txn(&self) -> &ReadTxn<'s> {
        &self.txn
    }

    /// A slot's cursor (a slot whose id is invalid has read nothing).
    pub fn cursor(&self, slot: &SlotId) -> Result<Cursor> {
        records::cursors::load(&self.txn, slot)
    }

    /// How many messages `slot` has not read.
    pub fn unread(&self, slot: &str) -> Result<usize> {
        let Some(id) = SlotId::stored(slot) else {
            return Ok(0);
        };
        self.view.unread_count(&self.txn, &id, &self.cursor(&id)?)
    }

    /// The slot's heartbeat: the copy on its registry entry, else its
    /// heartbeat file (a slot that is not registered).
    pub fn heartbeat(&self, slot: &str) -> Option<Heartbeat> {
        if let Some(hb) = self.reg.entry(slot).and_then(|e| e.heartbeat.clone()) {
            return Some(hb);
        }
        let id = SlotId::stored(slot)?;
        records::heartbeats::load(&self.txn, &id).ok().flatten()
    }

    /// When the claim on an active task expires.
    pub fn lease_expiry(&self, row: &TaskRow) -> Option<DateTime<Utc>> {
        slot_health::row_lease_expiry(row)
    }

    /// One status row per slot (the reference's shape, plus open work and
    /// the lease), as of `now`.
    pub fn slot_row(&self, slot: &str, now: DateTime<Utc>) -> Result<SlotRow> {
        let empty = SlotEntry::default();
        let e = self.reg.entry(slot).unwrap_or(&empty);
        let work = self.idx.slot_work(slot);
        let current = work.current();
        let last = self.idx.last_task(slot);
        let lease = work.active().and_then(|r| self.lease_expiry(r));
        // The heartbeat: the registry copy, else the heartbeat file (a slot
        // that is not registered, or a store where only the file was written).
        let (hb_status, hb_at) = match (&e.heartbeat_status, &e.heartbeat_checked_at) {
            (s, Some(at)) => (s.clone(), Some(at.clone())),
            _ => match self.heartbeat(slot) {
                Some(hb) => (Some(hb.status).filter(|s| !s.is_empty()), hb.checked_at),
                None => (e.heartbeat_status.clone(), None),
            },
        };
        Ok(SlotRow {
            slot: slot.to_string(),
            identity: e.identity.clone(),
            project: e.project.clone(),
            focus: e.focus.clone(),
            worktree: e.worktree.clone(),
            branch: e.branch.clone(),
            status: e.status_or_active().to_string(),
            unread: self.unread(slot)?,
            current_task_id: current.map(|r| r.task_id.clone()),
            current_task_status: current.map(|r| r.status.clone()),
            current_task_title: current.map(|r| r.title.clone()),
            current_task_assigned_at: current.and_then(|r| r.assigned_at.clone()),
            current_task_updated_at: current.and_then(|r| r.updated_at.clone()),
            last_task_id: last.map(|(id, _)| id.to_string()),
            last_task_status: last.map(|(_, st)| st.clone()),
            open_tasks: work.count(),
            heartbeat_status: hb_status,
            heartbeat_checked_at: hb_at,
            run_id: e.run_id.clone(),
            app_server_thread_id: e.app_server_thread_id.clone(),
            app_server_url: e.app_server_url.clone(),
            codex_thread_id: e.codex_thread_id.clone(),
            thread_id: e.thread_id.clone(),
            lease_expires_at: lease.map(time::format),
            lease_expired: lease.is_some_and(|t| t < now),
        })
    }

    /// What the health decision needs to know of a slot. `row` is its
    /// status row (for unread and the heartbeat fields shown in it).
    pub fn facts(&self, slot: &str, row: &SlotRow) -> Result<SlotFacts> {
        let e = self.reg.entry(slot);
        let parked = match e.map(|e| e.status.as_str()) {
            Some("paused") => Some(Parked::Paused),
            Some("parked") => Some(Parked::Parked),
            _ => None,
        };
        let work = self.idx.slot_work(slot);
        let mut claimable = false;
        let mut waiting = false;
        for r in work.open().filter(|r| r.status.is_claimable()) {
            if self.idx.unmet_dependencies(&self.txn, r).is_empty() {
                claimable = true;
            } else {
                waiting = true;
            }
            if claimable && waiting {
                break;
            }
        }
        let has = |st: TaskStatus| work.has(&st);
        let current = work.current();
        let waiting_since = match current {
            Some(c) if c.status.is_claimable() => {
                match c.assigned_at.as_deref().and_then(time::parse) {
                    Some(t) => Some(t),
                    None => self.newest_unread_at(slot, row.unread)?,
                }
            }
            _ => None,
        };
        Ok(SlotFacts {
            parked,
            beat: Beat::of(
                row.heartbeat_status.as_deref(),
                row.heartbeat_checked_at.as_deref(),
            ),
            unread: row.unread,
            current: current.map(|r| r.status.clone()),
            waiting_since,
            active: work
                .active()
                .map(|r| (r.task_id.clone(), self.lease_expiry(r))),
            claimable,
            waiting,
            blocked: has(TaskStatus::Blocked),
            reported: has(TaskStatus::Reported),
        })
    }

    /// The time of the newest unread message of `slot` (reads its unread
    /// messages; only asked when a queued task has no assignment time).
    pub fn newest_unread_at(&self, slot: &str, unread: usize) -> Result<Option<DateTime<Utc>>> {
        let Some(id) = SlotId::stored(slot).filter(|_| unread > 0) else {
            return Ok(None);
        };
        let (msgs, _) = self
            .view
            .unread(&self.txn, &id, &self.cursor(&id)?, usize::MAX)?;
        Ok(msgs.iter().filter_map(|m| time::parse(&m.created_at)).max())
    }

    /// The headlines of the first `n` unread messages of `slot`.
    pub fn unread_headlines(&self, slot: &str, n: usize) -> Result<Vec<String>> {
        let Some(id) = SlotId::stored(slot) else {
            return Ok(vec![]);
        };
        let (msgs, _) = self.view.unread(&self.txn, &id, &self.cursor(&id)?, n)?;
        Ok(msgs.iter().map(|m| m.headline().to_string()).collect())
    }
}

/// The health window of the planners: a heartbeat older than this is overdue.
pub fn window(minutes: f64) -> Duration {
    Duration::milliseconds((minutes * 60_000.0) as i64)
}
