//! Tasks (`tasks/<task_id>.json`) and the work index that makes them a queue.
//!
//! A task file is the truth about a task. `index/work.json` is derived from
//! the task and report files: the open tasks (not integrated, done or
//! cancelled) as compact rows, status counters per milestone and lane, and
//! the latest closed tasks and reports. It lets every call cost what it
//! returns instead of a scan of all history, and it is rebuilt from the
//! files whenever it cannot be trusted:
//!
//! - a writer creates `index/work.pending` before touching a task or report
//!   file and removes it after saving the index (a marker, so that marking
//!   costs no rewrite of the index); a marker left behind by a crash
//!   forces a rebuild;
//! - it records the mtimes of `tasks/` and `reports/` after each update, so a
//!   file added by another tool (the reference CLI) also forces a rebuild.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
use crate::lenient;
use crate::store::Store;

/// Statuses a task can have.
pub const STATUSES: &[&str] = &[
    "queued",
    "assigned",
    "active",
    "blocked",
    "reported",
    "integrated",
    "done",
    "cancelled",
];

/// Statuses that close a task.
pub fn is_closed(status: &str) -> bool {
    matches!(status, "integrated" | "done" | "cancelled")
}

/// Statuses that count as an integration (and satisfy a dependency).
pub fn is_integrated(status: &str) -> bool {
    matches!(status, "integrated" | "done")
}

/// Statuses a claim can take.
pub fn is_claimable_status(status: &str) -> bool {
    matches!(status, "queued" | "assigned")
}

/// A task record. Known fields are typed; anything else is kept as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Task {
    #[serde(default)]
    pub version: u64,
    #[serde(deserialize_with = "lenient::string")]
    pub task_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub slot: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub subject: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub project: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub branch: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub worktree: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub created_by: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub assigned_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub reported_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub integrated_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub commit: Option<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub tests: Vec<String>,
    #[serde(default, deserialize_with = "lenient::values")]
    pub blockers: Vec<Value>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub milestone_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub lane_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub dependency_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub acceptance_criteria: Vec<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub required_receipts: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub visible_progress_summary: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub next_policy: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
    /// When the task was marked done (the reference never recorded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
    /// Seq of the task's `task.assign` message (ours; orders the queue and
    /// lets a claim consume exactly that message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_seq: Option<u64>,
    /// Run that claimed the task: signals from another run are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_run_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Task {
    /// The record as JSON (for answers).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The compact summary shown on the Focus Board.
    pub fn summary(&self) -> Value {
        json!({
            "task_id": self.task_id, "title": self.title, "subject": self.subject,
            "status": self.status, "slot": self.slot, "project": self.project,
            "branch": self.branch, "worktree": self.worktree,
            "milestone_id": self.milestone_id, "lane_id": self.lane_id,
            "dependencies": self.dependency_ids,
            "acceptance_criteria": self.acceptance_criteria,
            "required_receipts": self.required_receipts,
            "visible_progress_summary": self.visible_progress_summary,
            "commit": self.commit, "tests": self.tests, "blockers": self.blockers,
            "assigned_at": self.assigned_at, "started_at": self.started_at,
            "reported_at": self.reported_at, "integrated_at": self.integrated_at,
            "updated_at": self.updated_at,
        })
    }

    fn row(&self) -> TaskRow {
        TaskRow {
            task_id: self.task_id.clone(),
            slot: self.slot.clone(),
            status: self.status.clone(),
            title: self.title.clone(),
            milestone_id: self.milestone_id.clone(),
            lane_id: self.lane_id.clone(),
            commit: self.commit.clone(),
            dependency_ids: self.dependency_ids.clone(),
            assigned_at: self.assigned_at.clone().or_else(|| self.created_at.clone()),
            started_at: self.started_at.clone(),
            integrated_at: self.integrated_at.clone().or_else(|| self.done_at.clone()),
            updated_at: self.updated_at.clone(),
            assign_seq: self.assign_seq,
        }
    }
}

/// The index's compact view of a task.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskRow {
    pub task_id: String,
    pub slot: String,
    pub status: String,
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

    pub fn to_json(&self) -> Value {
        json!({
            "task_id": self.task_id, "slot": self.slot, "status": self.status,
            "title": self.title, "milestone_id": self.milestone_id, "lane_id": self.lane_id,
            "commit": self.commit, "dependency_ids": self.dependency_ids,
            "assigned_at": self.assigned_at, "started_at": self.started_at,
            "updated_at": self.updated_at,
        })
    }
}

const WORK_INDEX: &str = "index/work.json";
const WORK_VERSION: u32 = 1;
const WORK_PENDING: &str = "index/work.pending";
const RECENT_CLOSED: usize = 100;
const RECENT_REPORTS: usize = 100;

/// Derived state over all tasks and reports (`index/work.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkIndex {
    pub version: u32,
    /// Changes on every save (nanoseconds of the save). It is serialised
    /// first after `version`, so a reader can tell from the file's first
    /// bytes whether its in-memory copy is current.
    #[serde(default)]
    pub generation: u64,
    /// Unused since the pending marker became a file; kept so older index
    /// files still parse.
    #[serde(default, skip_serializing)]
    pub pending: bool,
    pub tasks_mtime: u64,
    pub reports_mtime: u64,
    /// Tasks not integrated, done or cancelled.
    pub open: BTreeMap<String, TaskRow>,
    /// Tasks per status, over all tasks.
    pub counts: BTreeMap<String, u64>,
    /// Tasks per status for each milestone id.
    pub by_milestone: BTreeMap<String, BTreeMap<String, u64>>,
    /// Tasks per status for each lane id; tasks without a lane count under
    /// `@slot:<slot>` (they belong to the lane their slot owns).
    pub by_lane: BTreeMap<String, BTreeMap<String, u64>>,
    /// All tasks.
    pub total: u64,
    /// Per slot, the status of its most recently changed task (what the slot
    /// shows when nothing is open).
    pub last_status: BTreeMap<String, String>,
    /// Latest closed tasks, oldest first.
    pub recent_closed: Vec<TaskRow>,
    /// Latest commit reports (summaries), oldest first.
    pub recent_reports: Vec<Value>,
    /// Task or report files that could not be parsed.
    pub damaged: Vec<String>,
}

fn now_mtimes(store: &Store) -> (u64, u64) {
    (
        fsutil::mtime_ns(&store.path("tasks")) as u64,
        fsutil::mtime_ns(&store.path("reports")) as u64,
    )
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str, delta: i64) {
    let e = map.entry(key.to_string()).or_insert(0);
    *e = e.saturating_add_signed(delta);
    if *e == 0 {
        map.remove(key);
    }
}

fn lane_key(row: &TaskRow) -> String {
    match &row.lane_id {
        Some(l) => l.clone(),
        None => format!("@slot:{}", row.slot),
    }
}

/// Report summary kept in the index and shown on the board.
pub fn report_summary(report: &Map<String, Value>) -> Value {
    let g = |k: &str| report.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "id": g("id"), "slot": g("slot"), "sha": g("sha"), "branch": g("branch"),
        "subject": g("subject"), "changed": g("changed"), "worktree": g("worktree"),
        "task_id": g("task_id"), "created_at": g("created_at"),
    })
}

impl WorkIndex {
    fn count(&mut self, row: &TaskRow, delta: i64) {
        bump(&mut self.counts, &row.status, delta);
        if let Some(m) = &row.milestone_id {
            let e = self.by_milestone.entry(m.clone()).or_default();
            bump(e, &row.status, delta);
            if e.is_empty() {
                self.by_milestone.remove(m);
            }
        }
        let lk = lane_key(row);
        let e = self.by_lane.entry(lk.clone()).or_default();
        bump(e, &row.status, delta);
        if e.is_empty() {
            self.by_lane.remove(&lk);
        }
    }

    /// Account for a task going from `old` (None when new) to `new`.
    pub(crate) fn apply(&mut self, old: Option<&Task>, new: &Task) {
        let new_row = new.row();
        if let Some(old) = old {
            self.count(&old.row(), -1);
        } else {
            self.total += 1;
        }
        self.count(&new_row, 1);
        self.last_status
            .insert(new.slot.clone(), new.status.clone());
        if is_closed(&new.status) {
            self.open.remove(&new.task_id);
            self.recent_closed.retain(|r| r.task_id != new.task_id);
            self.recent_closed.push(new_row);
            if self.recent_closed.len() > RECENT_CLOSED {
                self.recent_closed.remove(0);
            }
        } else {
            self.recent_closed.retain(|r| r.task_id != new.task_id);
            self.open.insert(new.task_id.clone(), new_row);
        }
    }

    pub(crate) fn add_report(&mut self, report: &Map<String, Value>) {
        self.recent_reports.push(report_summary(report));
        if self.recent_reports.len() > RECENT_REPORTS {
            self.recent_reports.remove(0);
        }
    }

    /// Open tasks of one slot in queue order.
    pub fn open_for(&self, slot: &str) -> Vec<&TaskRow> {
        let mut v: Vec<&TaskRow> = self.open.values().filter(|r| r.slot == slot).collect();
        v.sort_by(|a, b| a.queue_key().cmp(&b.queue_key()));
        v
    }

    /// Open tasks in queue order.
    pub fn open_sorted(&self) -> Vec<&TaskRow> {
        let mut v: Vec<&TaskRow> = self.open.values().collect();
        v.sort_by(|a, b| a.queue_key().cmp(&b.queue_key()));
        v
    }

    /// Tasks that count as integrations.
    pub fn integrated_count(&self) -> u64 {
        self.counts.get("integrated").copied().unwrap_or(0)
            + self.counts.get("done").copied().unwrap_or(0)
    }

    /// The slot's current task: its claimed (active) task, else the next
    /// claimable queued task, else a blocked one, else one awaiting
    /// integration. Returns (task id, status); with nothing open, the status
    /// of the slot's last changed task.
    pub fn pointer(&self, slot: &str) -> (Option<&TaskRow>, Option<String>) {
        let open = self.open_for(slot);
        let pick = |st: &[&str]| {
            open.iter()
                .find(|r| st.contains(&r.status.as_str()))
                .copied()
        };
        let active = open
            .iter()
            .filter(|r| r.status == "active")
            .max_by_key(|r| r.started_at.clone())
            .copied();
        let row = active
            .or_else(|| pick(&["queued", "assigned"]))
            .or_else(|| pick(&["blocked"]))
            .or_else(|| pick(&["reported"]))
            .or_else(|| open.first().copied());
        match row {
            Some(r) => (Some(r), Some(r.status.clone())),
            None => (None, self.last_status.get(slot).cloned()),
        }
    }
}

/// Load the work index, rebuilding it from the task and report files when it
/// cannot be trusted. With `persist` (exclusive lock held) a rebuild is saved.
pub(crate) fn load_index(store: &Store, persist: bool) -> Result<WorkIndex> {
    load_shared(store, persist).map(Arc::unwrap_or_clone)
}

/// [`load_index`] without a copy: what readers use.
pub(crate) fn load_shared(store: &Store, persist: bool) -> Result<Arc<WorkIndex>> {
    let idx = read_cached(store);
    let (tm, rm) = now_mtimes(store);
    if let Some(idx) = idx.filter(|i| {
        i.version == WORK_VERSION
            && i.tasks_mtime == tm
            && i.reports_mtime == rm
            && !is_pending(store)
    }) {
        return Ok(idx);
    }
    let mut idx = rebuild(store)?;
    if persist {
        save_index(store, &mut idx)?;
    }
    Ok(Arc::new(idx))
}

/// Rebuild the index from every task and report file.
pub fn rebuild(store: &Store) -> Result<WorkIndex> {
    let mut idx = WorkIndex {
        version: WORK_VERSION,
        ..WorkIndex::default()
    };
    let mut tasks: Vec<Task> = Vec::new();
    for name in json_files(store, "tasks") {
        match fsutil::read_json::<Task>(&store.path(&format!("tasks/{name}"))) {
            Ok(Some(t)) => tasks.push(t),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("skipping damaged task file tasks/{name}: {e}");
                idx.damaged.push(format!("tasks/{name}"));
            }
        }
    }
    tasks.sort_by(|a, b| {
        (a.updated_at.clone().unwrap_or_default(), &a.task_id)
            .cmp(&(b.updated_at.clone().unwrap_or_default(), &b.task_id))
    });
    for t in &tasks {
        idx.apply(None, t);
    }
    let reports = json_files(store, "reports");
    let skip = reports.len().saturating_sub(RECENT_REPORTS * 2);
    for name in reports.into_iter().skip(skip) {
        if name == "last-reported.json" || name.ends_with("_hook_error.json") {
            continue;
        }
        match fsutil::read_json::<Value>(&store.path(&format!("reports/{name}"))) {
            Ok(Some(Value::Object(r))) => idx.add_report(&r),
            Ok(_) => {}
            Err(_) => idx.damaged.push(format!("reports/{name}")),
        }
    }
    let (tm, rm) = now_mtimes(store);
    idx.tasks_mtime = tm;
    idx.reports_mtime = rm;
    Ok(idx)
}

/// `*.json` file names in a store subdirectory, sorted.
pub(crate) fn json_files(store: &Store, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store.path(sub))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn save_index(store: &Store, idx: &mut WorkIndex) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    idx.generation = now.max(idx.generation + 1);
    fsutil::write_json(&store.path(WORK_INDEX), idx, Durability::Derived)?;
    remember(store, idx);
    Ok(())
}

/// The last work index this process read or wrote, per store: parsing the
/// index is the main cost of a read, and between writes it does not change.
type Cache = Mutex<HashMap<PathBuf, Arc<WorkIndex>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

fn remember(store: &Store, idx: &WorkIndex) {
    if let Ok(mut c) = cache().lock() {
        c.insert(store.dir().to_path_buf(), Arc::new(idx.clone()));
    }
}

/// The generation recorded at the start of the index file.
fn file_generation(bytes: &[u8]) -> Option<u64> {
    let head = std::str::from_utf8(&bytes[..bytes.len().min(80)]).ok()?;
    let rest = head.split("\"generation\":").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Read the work index, from the cache when the file's generation matches.
fn read_cached(store: &Store) -> Option<Arc<WorkIndex>> {
    let path = store.path(WORK_INDEX);
    let mut f = fs::File::open(&path).ok()?;
    let mut head = [0u8; 80];
    let n = f.read(&mut head).ok()?;
    let generation = file_generation(&head[..n]);
    let hit = match (generation, cache().lock()) {
        (Some(g), Ok(c)) => c.get(store.dir()).filter(|i| i.generation == g).cloned(),
        _ => None,
    };
    if hit.is_some() {
        return hit;
    }
    let mut bytes = head[..n].to_vec();
    f.read_to_end(&mut bytes).ok()?;
    let idx = Arc::new(serde_json::from_slice::<WorkIndex>(&bytes).ok()?);
    if let (true, Ok(mut c)) = (generation == Some(idx.generation), cache().lock()) {
        c.insert(store.dir().to_path_buf(), Arc::clone(&idx));
    }
    Some(idx)
}

/// Mark the index as in flux before a primary write (exclusive lock held).
pub(crate) fn begin(store: &Store) -> Result<()> {
    set_pending(store, true)
}

/// Save the index after the primary writes (exclusive lock held).
pub(crate) fn commit(store: &Store, idx: &mut WorkIndex) -> Result<()> {
    let (tm, rm) = now_mtimes(store);
    idx.tasks_mtime = tm;
    idx.reports_mtime = rm;
    save_index(store, idx)?;
    set_pending(store, false)
}

/// Is a writer (or a crashed one) between a primary write and the index
/// update? The marker file holds `1` then; `0`, or no file, means no.
pub fn is_pending(store: &Store) -> bool {
    fs::read(store.path(WORK_PENDING))
        .map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'1'))
        .unwrap_or(false)
}

/// Set the marker in place (no file created or removed per write).
fn set_pending(store: &Store, on: bool) -> Result<()> {
    let p = store.path(WORK_PENDING);
    let flag: &[u8] = if on { b"1" } else { b"0" };
    if fsutil::overwrite_page(&p, flag)? {
        return Ok(());
    }
    fsutil::write_atomic(&p, flag, Durability::Derived)
}

pub(crate) fn task_path(store: &Store, task_id: &str) -> std::path::PathBuf {
    store.path(&format!("tasks/{task_id}.json"))
}

/// Load a task by id (the id was validated by the caller).
pub fn load(store: &Store, task_id: &str) -> Result<Option<Task>> {
    fsutil::read_json::<Task>(&task_path(store, task_id))
}

/// Load a task or fail with `not_found`.
pub fn require(store: &Store, task_id: &str) -> Result<Task> {
    load(store, task_id)?.ok_or_else(|| Error::NotFound {
        kind: "task",
        id: task_id.to_string(),
    })
}

/// Write a task durably.
pub(crate) fn save(store: &Store, task: &Task) -> Result<()> {
    fsutil::write_json(&task_path(store, &task.task_id), task, Durability::Durable)
}

/// Which of a task's dependencies are not yet integrated or done.
pub fn unmet_dependencies(store: &Store, idx: &WorkIndex, task: &TaskRow) -> Result<Vec<String>> {
    let mut unmet = Vec::new();
    for dep in &task.dependency_ids {
        if idx.open.contains_key(dep) {
            unmet.push(dep.clone());
            continue;
        }
        if crate::ids::long_id("dependency", dep).is_err() {
            unmet.push(dep.clone());
            continue;
        }
        match load(store, dep) {
            Ok(Some(t)) if is_integrated(&t.status) => {}
            _ => unmet.push(dep.clone()),
        }
    }
    Ok(unmet)
}
