//! The work index: what makes task files a queue.
//!
//! A task file is the truth about a task. The work index is derived from
//! the task and report files: the open tasks (not integrated, done or
//! cancelled) as compact rows with each slot's queue, status counters per
//! milestone, slot and lane, and the latest closed tasks and reports. It
//! lets every call cost what it returns instead of a scan of all history.
//!
//! It is stored as a snapshot (`index/work.json`) plus an append-only log
//! of row changes (`index/work.log`, whose header names the snapshot it
//! follows). A write appends its few lines; when the log outgrows the
//! snapshot the writer folds it into a new one ([`compaction_due`]), so no
//! write rewrites a file that grows with the open work, and the rewrite is
//! a constant per write when spread over the writes that grew the log.
//!
//! It is rebuilt from the files whenever it cannot be trusted: the mtimes of
//! `tasks/` and `reports/` recorded after each write differ (a file added
//! by another tool, the reference CLI), `index/work.pending` holds `1` (set
//! when a journal entry was redone, whose log lines may be missing or
//! doubled, or left by an older codenator mid-write), or a log line does
//! not parse.
//!
//! Each process keeps the last index it read, keyed by the snapshot's
//! generation (stamped at the start of the file) and the log length it has
//! applied, so a read parses nothing when no one wrote, and only the new
//! log lines when someone did.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use imbl::{OrdMap, OrdSet, Vector};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fs::{self as sfs, Durability};
use crate::model::{CommitReport, ReportSummary, Task, TaskId, TaskStatus};
use crate::records;
use crate::store::{Layout, ReadTxn, WriteTxn};

/// The index's compact view of a task.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskRow {
    pub task_id: String,
    pub slot: String,
    pub status: TaskStatus,
    pub title: String,
    pub milestone_id: Option<String>,
    pub lane_id: Option<String>,
    pub commit: Option<String>,
    #[serde(default)]
    pub dependency_ids: Vec<String>,
    pub assigned_at: Option<String>,
    pub started_at: Option<String>,
    pub integrated_at: Option<String>,
    pub updated_at: Option<String>,
    pub assign_seq: Option<u64>,
    /// The claim of an active task (its lease), and the claiming run.
    #[serde(default)]
    pub claimed_run_id: Option<String>,
    #[serde(default)]
    pub lease: Option<crate::model::Lease>,
}

impl TaskRow {
    /// Queue order: oldest assignment first, then ledger order, then id.
    pub fn queue_key(&self) -> (&str, u64, &str) {
        (
            self.assigned_at.as_deref().unwrap_or(""),
            self.assign_seq.unwrap_or(0),
            &self.task_id,
        )
    }

    fn owned_queue_key(&self) -> QueueKey {
        let (at, seq, id) = self.queue_key();
        (at.to_string(), seq, id.to_string())
    }
}

impl From<&Task> for TaskRow {
    fn from(t: &Task) -> TaskRow {
        TaskRow {
            task_id: t.task_id.clone(),
            slot: t.slot.clone(),
            status: t.status.clone(),
            title: t.title.clone(),
            milestone_id: t.milestone_id.clone(),
            lane_id: t.lane_id.clone(),
            commit: t.commit.clone(),
            dependency_ids: t.dependency_ids.clone(),
            assigned_at: t.assigned_at.clone().or_else(|| t.created_at.clone()),
            started_at: t.started_at.clone(),
            integrated_at: t.integrated_at.clone().or_else(|| t.done_at.clone()),
            updated_at: t.updated_at.clone(),
            assign_seq: t.assign_seq,
            claimed_run_id: t.claimed_run_id.clone(),
            lease: t.lease.clone(),
        }
    }
}

const WORK_VERSION: u32 = 2;
const RECENT_CLOSED: usize = 100;
const RECENT_REPORTS: usize = 100;

/// Status counters: how many tasks have each status.
pub type Counts = BTreeMap<String, u64>;

/// Derived state over all tasks and reports (`index/work.json`).
///
/// Its collections are persistent (structure-sharing) ones: a write
/// transaction, the process cache and readers each hold their own version,
/// and taking a version to change costs a pointer copy, not a copy of every
/// open task. That keeps a write's cost independent of the open work.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkIndex {
    pub version: u32,
    /// Changes on every save (nanoseconds of the save). It is serialised
    /// first after `version`, so a reader can tell from the file's first
    /// bytes whether its in-memory copy is current.
    #[serde(default)]
    pub generation: u64,
    pub tasks_mtime: u64,
    pub reports_mtime: u64,
    /// Tasks not integrated, done or cancelled.
    pub open: OrdMap<String, TaskRow>,
    /// Tasks per status, over all tasks.
    pub counts: Counts,
    /// Tasks per status for each milestone id.
    pub by_milestone: OrdMap<String, Counts>,
    /// Tasks per status for each slot.
    #[serde(default)]
    pub by_slot: OrdMap<String, Counts>,
    /// Tasks per status for each lane id; tasks without a lane count under
    /// `@slot:<slot>` (they belong to the lane their slot owns).
    pub by_lane: OrdMap<String, Counts>,
    /// All tasks.
    pub total: u64,
    /// Per slot, the id and status of its most recently changed task (what
    /// the slot last did when nothing is open).
    pub last_task: OrdMap<String, (String, TaskStatus)>,
    /// Latest closed tasks, oldest first.
    pub recent_closed: Vector<TaskRow>,
    /// Latest commit reports, oldest first.
    pub recent_reports: Vector<ReportSummary>,
    /// Task or report files that could not be parsed.
    pub damaged: Vec<String>,
    /// Each slot's open tasks in queue order: what a claim or a status row
    /// reads, so that neither walks the other slots' work. Derived from
    /// `open` (not saved; see [`WorkIndex::parse`]).
    #[serde(skip)]
    queues: OrdMap<String, OrdSet<QueueKey>>,
    /// All open tasks in queue order (derived, like `queues`).
    #[serde(skip)]
    queue: OrdSet<QueueKey>,
    /// The ids of the active tasks (derived): leases are checked over these
    /// only.
    #[serde(skip)]
    active: OrdSet<String>,
}

/// A task's place in its slot's queue: see [`TaskRow::queue_key`].
type QueueKey = (String, u64, String);

fn bump(map: &mut Counts, key: &str, delta: i64) {
    let e = map.entry(key.to_string()).or_insert(0);
    *e = e.saturating_add_signed(delta);
    if *e == 0 {
        map.remove(key);
    }
}

/// The lane a task counts under (see [`WorkIndex::by_lane`]).
pub fn lane_key(row: &TaskRow) -> String {
    match &row.lane_id {
        Some(l) => l.clone(),
        None => slot_lane_key(&row.slot),
    }
}

/// The `by_lane` key of the tasks without a lane of `slot`.
pub fn slot_lane_key(slot: &str) -> String {
    format!("@slot:{slot}")
}

impl WorkIndex {
    fn count(&mut self, row: &TaskRow, delta: i64) {
        bump(&mut self.counts, row.status.as_str(), delta);
        if let Some(m) = &row.milestone_id {
            let e = self.by_milestone.entry(m.clone()).or_default();
            bump(e, row.status.as_str(), delta);
            if e.is_empty() {
                self.by_milestone.remove(m);
            }
        }
        let e = self.by_slot.entry(row.slot.clone()).or_default();
        bump(e, row.status.as_str(), delta);
        if e.is_empty() {
            self.by_slot.remove(&row.slot);
        }
        let lk = lane_key(row);
        let e = self.by_lane.entry(lk.clone()).or_default();
        bump(e, row.status.as_str(), delta);
        if e.is_empty() {
            self.by_lane.remove(&lk);
        }
    }

    /// Account for a task going from `old` (None when new) to `new`.
    pub(crate) fn apply(&mut self, old: Option<&Task>, new: &Task) {
        self.apply_rows(old.map(TaskRow::from).as_ref(), TaskRow::from(new));
    }

    /// [`WorkIndex::apply`] on index rows (what the work log holds). A
    /// change the index already shows (the row as `new` has it) changes
    /// nothing: an apply redone after a crash may log its lines twice.
    fn apply_rows(&mut self, old: Option<&TaskRow>, new: TaskRow) {
        let shown = match self.open.get(&new.task_id) {
            Some(row) => *row == new,
            None => self.recent_closed.iter().any(|r| *r == new),
        };
        if shown {
            return;
        }
        match old {
            Some(old) => self.count(old, -1),
            None => self.total += 1,
        }
        self.count(&new, 1);
        self.last_task
            .insert(new.slot.clone(), (new.task_id.clone(), new.status.clone()));
        self.recent_closed.retain(|r| r.task_id != new.task_id);
        if let Some(was) = self.open.remove(&new.task_id) {
            self.dequeue(&was);
        }
        if new.status.is_closed() {
            self.recent_closed.push_back(new);
            if self.recent_closed.len() > RECENT_CLOSED {
                self.recent_closed.pop_front();
            }
        } else {
            self.enqueue(&new);
            self.open.insert(new.task_id.clone(), new);
        }
    }

    pub(crate) fn add_report(&mut self, report: &CommitReport) {
        self.add_summary(ReportSummary::from(report));
    }

    fn add_summary(&mut self, summary: ReportSummary) {
        // Logged twice by an apply redone after a crash: once is enough.
        if self.recent_reports.iter().any(|r| *r == summary) {
            return;
        }
        self.recent_reports.push_back(summary);
        if self.recent_reports.len() > RECENT_REPORTS {
            self.recent_reports.pop_front();
        }
    }

    /// Put an open row in the queues.
    fn enqueue(&mut self, row: &TaskRow) {
        let key = row.owned_queue_key();
        self.queues
            .entry(row.slot.clone())
            .or_default()
            .insert(key.clone());
        self.queue.insert(key);
        if row.status == TaskStatus::Active {
            self.active.insert(row.task_id.clone());
        }
    }

    /// Take an open row out of the queues.
    fn dequeue(&mut self, row: &TaskRow) {
        let key = row.owned_queue_key();
        if let Some(q) = self.queues.get_mut(&row.slot) {
            q.remove(&key);
            if q.is_empty() {
                self.queues.remove(&row.slot);
            }
        }
        self.queue.remove(&key);
        self.active.remove(&row.task_id);
    }

    /// An index read from its file, with the queues it does not store.
    fn parse(bytes: &[u8]) -> Option<WorkIndex> {
        let mut idx: WorkIndex = serde_json::from_slice(bytes).ok()?;
        for row in idx.open.values().cloned().collect::<Vec<_>>() {
            idx.enqueue(&row);
        }
        Some(idx)
    }

    /// Apply one line of the work log.
    pub(crate) fn apply_line(&mut self, line: LogLine) {
        match line {
            LogLine::Task { old, new } => self.apply_rows(old.as_deref(), *new),
            LogLine::Report(r) => self.add_summary(r),
            LogLine::Mtimes { tasks, reports } => {
                self.tasks_mtime = tasks;
                self.reports_mtime = reports;
            }
        }
    }

    /// Open tasks of one slot in queue order (its queue only: the cost
    /// does not grow with the other slots' work).
    pub fn queue_of(&self, slot: &str) -> impl Iterator<Item = &TaskRow> {
        self.queues
            .get(slot)
            .into_iter()
            .flat_map(|q| q.iter())
            .filter_map(|(_, _, id)| self.open.get(id))
    }

    /// [`WorkIndex::queue_of`], gathered.
    pub fn open_for(&self, slot: &str) -> Vec<&TaskRow> {
        self.queue_of(slot).collect()
    }

    /// How many tasks are open in the slot's queue.
    pub fn open_count_for(&self, slot: &str) -> usize {
        self.queues.get(slot).map_or(0, |q| q.len())
    }

    /// Open tasks in queue order; walking a page of them costs the page.
    pub fn open_sorted(&self) -> impl Iterator<Item = &TaskRow> {
        self.queue.iter().filter_map(|(_, _, id)| self.open.get(id))
    }

    /// The active tasks (what holds a lease), in id order.
    pub fn active_rows(&self) -> impl Iterator<Item = &TaskRow> {
        self.active.iter().filter_map(|id| self.open.get(id))
    }

    /// One slot's active tasks: what a heartbeat renews and what makes a
    /// slot busy, without walking its queue.
    pub fn active_of<'a>(&'a self, slot: &str) -> impl Iterator<Item = &'a TaskRow> {
        self.active_rows()
            .filter(move |r| r.slot == slot && r.status == TaskStatus::Active)
    }

    /// Tasks that count as integrations.
    pub fn integrated_count(&self) -> u64 {
        self.counts.get("integrated").copied().unwrap_or(0)
            + self.counts.get("done").copied().unwrap_or(0)
    }

    /// One slot's open tasks, for the questions a view asks about them.
    pub fn slot_work<'a, 's>(&'a self, slot: &'s str) -> SlotWork<'a, 's> {
        SlotWork { idx: self, slot }
    }

    /// The slot's active task (see [`SlotWork::active`]).
    pub fn active_for(&self, slot: &str) -> Option<&TaskRow> {
        self.slot_work(slot).active()
    }

    /// The slot's current task (see [`SlotWork::current`]).
    pub fn current(&self, slot: &str) -> Option<&TaskRow> {
        self.slot_work(slot).current()
    }

    /// The task the slot changed last (open or closed), with its status.
    pub fn last_task(&self, slot: &str) -> Option<(&str, &TaskStatus)> {
        self.last_task.get(slot).map(|(id, st)| (id.as_str(), st))
    }

    /// Is the dependency `dep` satisfied (integrated or done)? An open
    /// dependency is not; a closed one is read from its file (the index
    /// keeps only the latest closed tasks).
    pub fn dependency_met(&self, txn: &ReadTxn, dep: &str) -> bool {
        if self.open.contains_key(dep) {
            return false;
        }
        let Some(id) = TaskId::stored(dep) else {
            return false;
        };
        if let Some(r) = self.recent_closed.iter().rev().find(|r| r.task_id == dep) {
            return r.status.is_integrated();
        }
        matches!(records::tasks::load(txn, &id), Ok(Some(t)) if t.status.is_integrated())
    }

    /// The dependencies of `row` that are not yet integrated or done.
    pub fn unmet_dependencies(&self, txn: &ReadTxn, row: &TaskRow) -> Vec<String> {
        row.dependency_ids
            .iter()
            .filter(|d| !self.dependency_met(txn, d))
            .cloned()
            .collect()
    }
}

/// One slot's open tasks, walked lazily: the active task comes from the
/// active set, the current one from the head of the queue, the count from
/// the queue's length, so a status row costs the same with 10 or 10,000
/// tasks queued for the slot.
pub struct SlotWork<'a, 's> {
    idx: &'a WorkIndex,
    slot: &'s str,
}

impl<'a> SlotWork<'a, '_> {
    /// The open tasks in queue order.
    pub fn open(&self) -> impl Iterator<Item = &'a TaskRow> {
        self.idx.queue_of(self.slot)
    }

    /// How many tasks are open.
    pub fn count(&self) -> usize {
        self.idx.open_count_for(self.slot)
    }

    /// The active task: the one claimed last.
    pub fn active(&self) -> Option<&'a TaskRow> {
        self.idx
            .active_of(self.slot)
            .max_by_key(|r| r.started_at.as_deref())
    }

    /// The current task: the active one, else the next claimable queued
    /// task, else a blocked one, else one awaiting integration, else any
    /// open one. None when nothing is open.
    pub fn current(&self) -> Option<&'a TaskRow> {
        let pick = |f: fn(&TaskStatus) -> bool| self.open().find(|r| f(&r.status));
        self.active()
            .or_else(|| pick(TaskStatus::is_claimable))
            .or_else(|| pick(|s| *s == TaskStatus::Blocked))
            .or_else(|| pick(|s| *s == TaskStatus::Reported))
            .or_else(|| self.open().next())
    }

    /// Is any open task in this status?
    pub fn has(&self, status: &TaskStatus) -> bool {
        self.open().any(|r| r.status == *status)
    }
}

fn now_mtimes(layout: &Layout) -> (u64, u64) {
    (
        sfs::mtime_ns(&layout.tasks_dir()) as u64,
        sfs::mtime_ns(&layout.reports_dir()) as u64,
    )
}

/// One change in the work log (`index/work.log`): the index is its last
/// snapshot (`index/work.json`) plus these, in order. A write appends a few
/// short lines instead of rewriting an index that grows with the open
/// tasks; past [`compaction_due`] the writer folds them into a new snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LogLine {
    /// A task changed from `old` (None when new) to `new`.
    Task {
        old: Option<Box<TaskRow>>,
        new: Box<TaskRow>,
    },
    /// A commit report was added.
    Report(ReportSummary),
    /// The mtimes of `tasks/` and `reports/` after the transaction's writes
    /// (so a change by another tool is still noticed).
    Mtimes { tasks: u64, reports: u64 },
}

/// The first line of the work log: the snapshot generation it follows.
#[derive(Serialize, Deserialize)]
struct LogHeader {
    base: u64,
}

/// The work index, rebuilt from the task and report files when it cannot be
/// trusted; a rebuild is saved when the transaction may write. Inside a
/// write transaction that changed it, the staged index. Shared with the
/// process cache: readers take it without a copy.
pub(crate) fn load(txn: &ReadTxn) -> Result<Arc<WorkIndex>> {
    if let Some(staged) = txn.staged_work() {
        return Ok(Arc::new(staged));
    }
    let idx = load_applied(txn)?;
    // Other writers' entries not applied yet: their changes on top.
    let pending = txn.pending_work();
    if pending.is_empty() {
        return Ok(idx);
    }
    let mut idx = (*idx).clone();
    for line in pending {
        idx.apply_line(line);
    }
    Ok(Arc::new(idx))
}

/// The index as the applied records leave it.
fn load_applied(txn: &ReadTxn) -> Result<Arc<WorkIndex>> {
    let layout = txn.layout();
    let (tm, rm) = now_mtimes(layout);
    if !is_pending(layout)
        && let Some(idx) = read_cached(layout)
            .filter(|i| i.version == WORK_VERSION && i.tasks_mtime == tm && i.reports_mtime == rm)
    {
        return Ok(idx);
    }
    let mut idx = rebuild(txn);
    if txn.is_exclusive() {
        save_snapshot(layout, &mut idx)?;
        set_pending(layout, false)?;
    }
    Ok(Arc::new(idx))
}

/// Rebuild the index from every task and report file.
pub fn rebuild(txn: &ReadTxn) -> WorkIndex {
    let layout = txn.layout();
    let mut idx = WorkIndex {
        version: WORK_VERSION,
        ..WorkIndex::default()
    };
    let (mut tasks, damaged) = records::tasks::load_all(txn);
    idx.damaged = damaged;
    tasks.sort_by(|a, b| {
        (a.updated_at.as_deref().unwrap_or(""), &a.task_id)
            .cmp(&(b.updated_at.as_deref().unwrap_or(""), &b.task_id))
    });
    for t in &tasks {
        idx.apply(None, t);
    }
    for name in records::reports::newest_names(txn, RECENT_REPORTS * 2) {
        match records::reports::load_named(txn, &name) {
            Ok(Some(r)) => idx.add_report(&r),
            Ok(None) => {}
            Err(_) => idx.damaged.push(format!("reports/{name}")),
        }
    }
    let (tm, rm) = now_mtimes(layout);
    idx.tasks_mtime = tm;
    idx.reports_mtime = rm;
    idx
}

/// Write a new snapshot and start an empty log after it.
///
/// Crash invariant: the snapshot first (it holds everything the old log
/// said), then the log's new header naming it; a log whose header names
/// another snapshot is ignored, so a crash in between loses nothing.
fn save_snapshot(layout: &Layout, idx: &mut WorkIndex) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    idx.generation = now.max(idx.generation + 1);
    sfs::write_json(&layout.work_index(), idx, Durability::Derived)?;
    let header = sfs::encode_json(
        &layout.work_log(),
        &LogHeader {
            base: idx.generation,
        },
        false,
    )?;
    sfs::write_atomic(&layout.work_log(), &header, Durability::Derived)?;
    remember(layout, idx, header.len() as u64);
    Ok(())
}

/// Is the log long enough to fold into a new snapshot? When it is as long
/// as the snapshot (and at least 256 KB): rewriting the snapshot then costs,
/// spread over the writes that grew the log, a constant per write.
fn compaction_due(layout: &Layout, log_len: u64) -> bool {
    let snap = std::fs::metadata(layout.work_index()).map_or(0, |m| m.len());
    log_len > (256 * 1024).max(snap)
}

/// The work index for applying journal entries, taken before their
/// records are put in place.
pub(crate) enum WorkAfter {
    /// The index after the entries, as their writer staged it, and the
    /// length of the log it follows.
    Staged(Box<WorkIndex>, u64),
    /// The index before them (read now, while it still matches the task
    /// and report directories); their lines go on top.
    Before(Arc<WorkIndex>),
}

impl WorkAfter {
    /// `staged` is used when it follows the log as it is now (no other
    /// writer appended since it was read), else the index is read.
    pub(crate) fn prepare(txn: &WriteTxn, staged: Option<&WorkIndex>) -> Result<WorkAfter> {
        let layout = txn.layout();
        if let Some(idx) = staged {
            let log_len = std::fs::metadata(layout.work_log()).map_or(0, |m| m.len());
            if cached_base(layout) == Some((idx.generation, log_len)) {
                return Ok(WorkAfter::Staged(Box::new(idx.clone()), log_len));
            }
        }
        Ok(WorkAfter::Before(load(txn)?))
    }

    /// After the records are in place: append `log` (the entries' lines)
    /// and keep the index after them as this process's copy.
    pub(crate) fn apply(self, txn: &WriteTxn, log: Vec<LogLine>) -> Result<()> {
        let (idx, log_len) = match self {
            WorkAfter::Staged(idx, log_len) => (*idx, Some(log_len)),
            WorkAfter::Before(before) => {
                let mut idx = (*before).clone();
                for line in &log {
                    idx.apply_line(line.clone());
                }
                (idx, None)
            }
        };
        apply_staged(txn, idx, log, log_len)
    }
}

/// At commit, after the records are in place: append the transaction's log
/// lines and keep `idx` (the index after them) as this process's copy.
/// `log_len`: the log's length, when the caller just read it.
fn apply_staged(
    txn: &WriteTxn,
    mut idx: WorkIndex,
    log: Vec<LogLine>,
    log_len: Option<u64>,
) -> Result<()> {
    let layout = txn.layout();
    let (tm, rm) = now_mtimes(layout);
    idx.tasks_mtime = tm;
    idx.reports_mtime = rm;
    let base = cached_base(layout);
    let log_path = layout.work_log();
    let log_len = log_len.unwrap_or_else(|| std::fs::metadata(&log_path).map_or(0, |m| m.len()));
    // The log must follow the snapshot this process holds, else it is
    // rebuilt as a new snapshot (a first write, or after a rebuild).
    if base.is_none_or(|(g, off)| g != idx.generation || off != log_len)
        || compaction_due(layout, log_len)
    {
        return save_snapshot(layout, &mut idx);
    }
    let mut bytes = Vec::new();
    for line in log.into_iter().chain([LogLine::Mtimes {
        tasks: tm,
        reports: rm,
    }]) {
        bytes.extend(sfs::encode_json(&log_path, &line, false)?);
    }
    sfs::append(&log_path, &bytes, false)?;
    remember(layout, &idx, log_len + bytes.len() as u64);
    Ok(())
}

/// The last work index this process read or wrote, per store, with the
/// length of the log it has applied: parsing the snapshot is the main cost
/// of a read, and between writes neither changes.
struct Cached {
    idx: Arc<WorkIndex>,
    log_len: u64,
}

type Cache = Mutex<HashMap<PathBuf, Cached>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

fn remember(layout: &Layout, idx: &WorkIndex, log_len: u64) {
    remember_shared(layout, &Arc::new(idx.clone()), log_len);
}

fn remember_shared(layout: &Layout, idx: &Arc<WorkIndex>, log_len: u64) {
    if let Ok(mut c) = cache().lock() {
        c.insert(
            layout.dir().to_path_buf(),
            Cached {
                idx: Arc::clone(idx),
                log_len,
            },
        );
    }
}

/// The cached snapshot generation and applied log length.
fn cached_base(layout: &Layout) -> Option<(u64, u64)> {
    let c = cache().lock().ok()?;
    c.get(layout.dir()).map(|c| (c.idx.generation, c.log_len))
}

/// The generation recorded at the start of the snapshot file.
fn file_generation(bytes: &[u8]) -> Option<u64> {
    let head = std::str::from_utf8(&bytes[..bytes.len().min(80)]).ok()?;
    let rest = head.split("\"generation\":").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// What a reader takes of the work log: the generation its header names,
/// where its lines begin (after the header), and its bytes from `start` on.
struct LogTail {
    base: Option<u64>,
    body: usize,
    start: usize,
    bytes: Vec<u8>,
}

/// Read the work log's header and the bytes from `from` on (all of it
/// when `from` is not past the header or beyond the end): a reader that
/// applied the log up to `from` reads only what was appended since, so a
/// read does not cost the length of the log.
fn read_log(path: &std::path::Path, from: Option<u64>) -> LogTail {
    use std::io::{Seek, SeekFrom};
    let empty = LogTail {
        base: None,
        body: 0,
        start: 0,
        bytes: Vec::new(),
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return empty;
    };
    let mut head = [0u8; 128];
    let Ok(n) = f.read(&mut head) else {
        return empty;
    };
    let header_end = head[..n].iter().position(|b| *b == b'\n').map(|i| i + 1);
    let base = header_end
        .and_then(|e| serde_json::from_slice::<LogHeader>(&head[..e - 1]).ok())
        .map(|h| h.base);
    let len = f.metadata().map_or(0, |m| m.len());
    let start = match (from, header_end) {
        (Some(off), Some(e)) if off >= e as u64 && off <= len => off,
        _ => 0,
    };
    let mut bytes = Vec::new();
    // Nothing new past `from` (the usual case: no one wrote since this
    // process last read): nothing to seek to or read.
    if start < len
        && (f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut bytes).is_err())
    {
        return empty;
    }
    LogTail {
        base,
        body: header_end.unwrap_or(len as usize),
        start: start as usize,
        bytes,
    }
}

/// The snapshot plus the log: from the cache when the snapshot's
/// generation matches, applying only the log lines it has not seen.
fn read_cached(layout: &Layout) -> Option<Arc<WorkIndex>> {
    let path = layout.work_index();
    let mut f = std::fs::File::open(&path).ok()?;
    let mut head = [0u8; 80];
    let n = f.read(&mut head).ok()?;
    let generation = file_generation(&head[..n])?;
    let cached = {
        let c = cache().lock().ok()?;
        c.get(layout.dir())
            .filter(|c| c.idx.generation == generation)
            .map(|c| (Arc::clone(&c.idx), c.log_len))
    };
    let log = read_log(&layout.work_log(), cached.as_ref().map(|(_, len)| *len));
    let follows = log.base == Some(generation);
    match cached {
        // The tail read began where this process left off.
        Some((idx, len)) if follows && log.start as u64 == len => {
            apply_log(layout, idx, &log.bytes, 0, log.start)
        }
        _ => {
            let mut bytes = head[..n].to_vec();
            f.read_to_end(&mut bytes).ok()?;
            let idx = Arc::new(WorkIndex::parse(&bytes)?);
            if !follows {
                // The log belongs to another snapshot: ignore it; the next
                // writer starts a new one.
                remember_shared(layout, &idx, u64::MAX);
                return Some(idx);
            }
            // A fresh snapshot takes the whole log.
            let log = if log.start > 0 {
                read_log(&layout.work_log(), None)
            } else {
                log
            };
            apply_log(layout, idx, &log.bytes, log.body.min(log.bytes.len()), 0)
        }
    }
}

/// Apply the log lines in `bytes[from..]` (complete lines only) to `base`;
/// `offset` is where `bytes` starts in the log. Remembers the result.
fn apply_log(
    layout: &Layout,
    base: Arc<WorkIndex>,
    bytes: &[u8],
    from: usize,
    offset: usize,
) -> Option<Arc<WorkIndex>> {
    let end = sfs::jsonl::covered_end(bytes, 0) as usize;
    if end <= from {
        remember_shared(layout, &base, (offset + from) as u64);
        return Some(base);
    }
    let mut idx = (*base).clone();
    for l in bytes[from..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        match serde_json::from_slice::<LogLine>(l) {
            Ok(line) => idx.apply_line(line),
            // A damaged log line: the index cannot be trusted.
            Err(_) => return None,
        }
    }
    let idx = Arc::new(idx);
    remember_shared(layout, &idx, (offset + end) as u64);
    Some(idx)
}

/// A change of task or report files in progress: the work index as the
/// transaction changes it, and the log lines that say how. Committed with
/// the transaction, after the records are in place.
pub(crate) struct WorkChange<'t, 's> {
    txn: &'t WriteTxn<'s>,
    pub idx: WorkIndex,
    log: Vec<LogLine>,
}

impl<'t, 's> WorkChange<'t, 's> {
    pub fn begin(txn: &'t WriteTxn<'s>, idx: WorkIndex) -> Result<WorkChange<'t, 's>> {
        Ok(WorkChange {
            txn,
            idx,
            log: Vec::new(),
        })
    }

    /// A task goes from `old` (None when new) to `new`.
    pub fn apply(&mut self, old: Option<&Task>, new: &Task) {
        self.log.push(LogLine::Task {
            old: old.map(|t| Box::new(TaskRow::from(t))),
            new: Box::new(TaskRow::from(new)),
        });
        self.idx.apply(old, new);
    }

    /// A commit report was added.
    pub fn add_report(&mut self, report: &CommitReport) {
        self.log.push(LogLine::Report(ReportSummary::from(report)));
        self.idx.add_report(report);
    }

    /// Stage the changed index with the transaction; returns it.
    pub fn commit(self) -> Result<WorkIndex> {
        self.txn.stage_work(self.idx.clone(), self.log);
        Ok(self.idx)
    }
}

/// Throw the index away and rebuild it from the files (`doctor --repair`).
pub(crate) fn reset(txn: &WriteTxn) -> Result<()> {
    let layout = txn.layout();
    let _ = std::fs::remove_file(layout.work_index());
    let _ = std::fs::remove_file(layout.work_log());
    set_pending(layout, false)?;
    if let Ok(mut c) = cache().lock() {
        c.remove(layout.dir());
    }
    load(txn)?;
    Ok(())
}

/// Make the next access rebuild the index from the files (after a journal
/// entry was redone: its log lines may be missing or doubled).
pub(crate) fn mark_stale(txn: &WriteTxn) -> Result<()> {
    set_pending(txn.layout(), true)
}

/// Must the index be rebuilt? The marker file holds `1` then (set by a
/// recovery, or left by an older codenator mid-write); `0`, or no file,
/// means no.
pub fn is_pending(layout: &Layout) -> bool {
    // One read of its first page (the marker is at most a page, see
    // `set_pending`): no size query, no second read for the end of file.
    let Ok(mut f) = std::fs::File::open(layout.work_pending()) else {
        return false;
    };
    let mut page = [0u8; 4096];
    let n = f.read(&mut page).unwrap_or(0);
    page[..n].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'1')
}

/// Set the marker in place (no file created or removed per write).
fn set_pending(layout: &Layout, on: bool) -> Result<()> {
    let p = layout.work_pending();
    let flag: &[u8] = if on { b"1" } else { b"0" };
    if sfs::overwrite_page(&p, flag)? {
        return Ok(());
    }
    sfs::write_atomic(&p, flag, Durability::Derived)
}

/// The index as stored (snapshot plus log), without checks (for `doctor`).
pub fn stored(layout: &Layout) -> Option<WorkIndex> {
    read_cached(layout).map(Arc::unwrap_or_clone)
}
