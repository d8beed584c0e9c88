//! Every path under the store directory, one typed function each.
//!
//! Nothing else in the crate spells a store path: records, indexes and
//! `doctor` all ask the layout, and a file named after an id takes a checked
//! [`SlotId`] or [`TaskId`], so no input can name a file outside the store.
//!
//! ```text
//! <root>/.auralis-codextrator/
//!   registry.json            slots (primary)
//!   messages/ledger.jsonl    every message, one JSON line each (primary, append-only)
//!   cursors/<slot>.json      read cursors (primary)
//!   tasks/<task_id>.json     tasks (primary)
//!   heartbeat/<slot>.json    last heartbeat per slot (primary)
//!   board/focus-board.json   milestones and lanes (primary)
//!   reports/*.json           commit reports (primary)
//!   wake/*.json              wake attempts (primary)
//!   watchdog/coordinator.json  the watchdog's snooze memory
//!   jobs/<job_id>.json       background Codex jobs (primary)
//!   jobs/<job_id>.log        a job's transcript, appended by its supervisor
//!   jobs/<job_id>.stderr     Codex's and the supervisor's stderr
//!   jobs/limits.json         the worker limit
//!   legacy/inbox-import.json what the v1 inbox import accounted for
//!   inbox/, archive/         the reference CLI's v1 message files
//!   journal.jsonl            write-ahead journal: each write call's effects, fsynced once
//!   index/                   derived indexes, rebuilt from the primaries at will
//!   store.lock               advisory lock taken by every reader and writer
//! ```

use std::path::{Path, PathBuf};

use crate::model::{JobId, SlotId, TaskId};

/// Name of the store directory under the root (kept from the legacy name).
pub const STORE_DIR: &str = ".auralis-codextrator";
/// Marker directory of the nested-root rule.
pub const NESTED_ROOT_DIR: &str = ".codextrator-mcp-root";

/// The paths of one store.
#[derive(Clone, Debug)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    pub fn new(dir: PathBuf) -> Layout {
        Layout { dir }
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directories every store has (created on open).
    pub fn subdirs(&self) -> Vec<PathBuf> {
        [
            "archive",
            "board",
            "cursors",
            "heartbeat",
            "hooks",
            "inbox",
            "messages",
            "reports",
            "tasks",
            "wake",
            "watchdog",
            "index",
            "index/inbox",
            "index/task",
        ]
        .iter()
        .map(|d| self.dir.join(d))
        .collect()
    }

    /// Directories where an interrupted atomic write may leave a temp file.
    pub fn write_dirs(&self) -> Vec<PathBuf> {
        vec![
            self.dir.clone(),
            self.tasks_dir(),
            self.cursors_dir(),
            self.dir.join("heartbeat"),
            self.dir.join("board"),
            self.reports_dir(),
            self.wake_dir(),
            self.dir.join("watchdog"),
            self.dir.join("legacy"),
            self.index_dir(),
            self.dir.join("messages"),
            self.jobs_dir(),
        ]
    }

    /// A path relative to the store (for messages and reports).
    pub fn relative<'a>(&self, p: &'a Path) -> std::borrow::Cow<'a, str> {
        p.strip_prefix(&self.dir).unwrap_or(p).to_string_lossy()
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.join("store.lock")
    }

    /// The write-ahead journal (see `store::journal`).
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    pub fn registry(&self) -> PathBuf {
        self.dir.join("registry.json")
    }

    pub fn ledger(&self) -> PathBuf {
        self.dir.join("messages/ledger.jsonl")
    }

    /// Where `doctor --repair` moves damaged ledger lines.
    pub fn quarantine(&self) -> PathBuf {
        self.dir.join("messages/ledger.quarantine.jsonl")
    }

    pub fn cursors_dir(&self) -> PathBuf {
        self.dir.join("cursors")
    }

    pub fn cursor(&self, slot: &SlotId) -> PathBuf {
        self.cursors_dir().join(format!("{slot}.json"))
    }

    /// The reference's pointer from a registry entry to its cursor.
    pub fn cursor_pointer(slot: &SlotId) -> String {
        format!("cursors/{slot}.json")
    }

    pub fn tasks_dir(&self) -> PathBuf {
        self.dir.join("tasks")
    }

    pub fn task(&self, id: &TaskId) -> PathBuf {
        self.tasks_dir().join(format!("{id}.json"))
    }

    pub fn heartbeat(&self, slot: &SlotId) -> PathBuf {
        self.dir.join("heartbeat").join(format!("{slot}.json"))
    }

    pub fn board(&self) -> PathBuf {
        self.dir.join("board/focus-board.json")
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.dir.join("reports")
    }

    /// A commit report: `<stamp>_<slot>_<first 12 of the sha>.json`.
    pub fn report(&self, stamp: &str, slot: &SlotId, sha: &str) -> PathBuf {
        let short = &sha[..12.min(sha.len())];
        self.reports_dir()
            .join(format!("{}_{slot}_{short}.json", safe(stamp)))
    }

    /// A hook failure: `<stamp>_hook_error.json`, or with the record id when
    /// that name is taken.
    pub fn hook_error(&self, stamp: &str, id: Option<&str>) -> PathBuf {
        let name = match id {
            None => format!("{}_hook_error.json", safe(stamp)),
            Some(id) => format!("{}_{}_hook_error.json", safe(stamp), safe(id)),
        };
        self.reports_dir().join(name)
    }

    /// Is this file in `reports/` a commit report (not a hook error or the
    /// reference's `last-reported.json`)?
    pub fn is_report_file(name: &str) -> bool {
        name != "last-reported.json" && !name.ends_with("_hook_error.json")
    }

    pub fn wake_dir(&self) -> PathBuf {
        self.dir.join("wake")
    }

    /// A wake attempt: `<stamp>_<slot>_<id>.json`.
    pub fn wake(&self, stamp: &str, slot: &SlotId, id: &str) -> PathBuf {
        self.wake_dir()
            .join(format!("{}_{slot}_{}.json", safe(stamp), safe(id)))
    }

    pub fn watchdog_state(&self) -> PathBuf {
        self.dir.join("watchdog/coordinator.json")
    }

    pub fn jobs_dir(&self) -> PathBuf {
        self.dir.join("jobs")
    }

    /// A job record.
    pub fn job(&self, id: &JobId) -> PathBuf {
        self.jobs_dir().join(format!("{id}.json"))
    }

    /// A job's transcript (one line per event worth reading).
    pub fn job_log(&self, id: &JobId) -> PathBuf {
        self.jobs_dir().join(format!("{id}.log"))
    }

    /// The stderr of a job's supervisor and of the Codex it runs.
    pub fn job_stderr(&self, id: &JobId) -> PathBuf {
        self.jobs_dir().join(format!("{id}.stderr"))
    }

    /// The worker limit and other job settings.
    pub fn job_limits(&self) -> PathBuf {
        self.jobs_dir().join("limits.json")
    }

    pub fn legacy_dir(&self) -> PathBuf {
        self.dir.join("legacy")
    }

    pub fn legacy_state(&self) -> PathBuf {
        self.legacy_dir().join("inbox-import.json")
    }

    /// The reference CLI's unread message files.
    pub fn v1_inbox_dir(&self) -> PathBuf {
        self.dir.join("inbox")
    }

    /// The reference CLI's read message files.
    pub fn v1_archive_dir(&self) -> PathBuf {
        self.dir.join("archive")
    }

    pub fn index_dir(&self) -> PathBuf {
        self.dir.join("index")
    }

    /// How much of the ledger the inbox index covers.
    pub fn index_state(&self) -> PathBuf {
        self.dir.join("index/ledger.json")
    }

    pub fn inbox_index_dir(&self) -> PathBuf {
        self.dir.join("index/inbox")
    }

    /// A recipient's records in the inbox index.
    pub fn inbox_index(&self, to: &SlotId) -> PathBuf {
        self.inbox_index_dir().join(format!("{to}.idx"))
    }

    pub fn task_index_dir(&self) -> PathBuf {
        self.dir.join("index/task")
    }

    /// One of the buckets of the records of the messages about tasks.
    pub fn task_index(&self, bucket: u8) -> PathBuf {
        self.task_index_dir().join(format!("{bucket:02x}.idx"))
    }

    pub fn work_index(&self) -> PathBuf {
        self.dir.join("index/work.json")
    }

    /// The work index's log of changes since its snapshot (`work.json`).
    pub fn work_log(&self) -> PathBuf {
        self.dir.join("index/work.log")
    }

    pub fn work_pending(&self) -> PathBuf {
        self.dir.join("index/work.pending")
    }
}

/// A file-name component built from a timestamp or a generated id: only
/// the id characters survive (they already are, for what codenator makes).
fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .replace("..", "-")
}
