//! A background Codex job (`jobs/<job_id>.json`) and the worker limit
//! (`jobs/limits.json`): records only, no I/O and no process handling (that
//! is the `jobs` crate's).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a free worker slot.
    #[default]
    Queued,
    /// Its supervisor runs Codex.
    Running,
    /// Codex finished the turn (exit 0, `turn.completed`).
    Completed,
    /// Codex failed, or the worker died.
    Failed,
    /// Stopped by `job kill`.
    Killed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Killed => "killed",
        }
    }

    /// Completed, failed or killed: nothing runs and nothing will.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Killed
        )
    }
}

/// Token counts from Codex's `turn.completed` usage, and how full the
/// context window is, from Codex's own session record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tokens {
    pub input: u64,
    pub cached_input: u64,
    pub output: u64,
    pub reasoning_output: u64,
    /// Tokens in the context window after the job's last model request
    /// (`last_token_usage.total_tokens` of the session's last `token_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_used: Option<u64>,
    /// The model's context window as Codex recorded it
    /// (`model_context_window`); absent when Codex did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
}

impl Tokens {
    /// The share of the context window used, in percent; `None` when the
    /// window (or what is in it) is unknown.
    pub fn context_percent(&self) -> Option<f64> {
        match (self.context_used, self.context_window) {
            (Some(used), Some(window)) if window > 0 => Some(used as f64 * 100.0 / window as f64),
            _ => None,
        }
    }
}

/// A file Codex changed (a `file_change` item): absolute path and kind
/// (`add`, `delete`, `update`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    pub path: String,
    pub kind: String,
}

/// How a job runs Codex: fixed when it is dispatched.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobSpec {
    /// The Codex executable.
    pub codex: String,
    /// Working directory (`codex exec -C`).
    pub dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// low, medium, high or xhigh (`-c model_reasoning_effort=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// read-only, workspace-write or danger-full-access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Where the final answer is also written (`-o`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    /// The Codex thread this job continues (`codex exec resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_thread: Option<String>,
    /// A command run with the job's JSON on stdin when it ends
    /// (`--notify-on-complete`): program and arguments, no shell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// The ledger task this job claims and reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The ledger slot the worker works as (`--slot`): its codenator MCP
    /// server speaks for this slot, and its task is claimed and reported
    /// by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The tmux executable, when the worker is hosted in a detached tmux
    /// session (`--tmux`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmux: Option<String>,
}

/// One background Codex job.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Job {
    pub id: String,
    /// The slot that dispatched it: callbacks and progress go to its inbox,
    /// and the worker limit counts per coordinator.
    pub coordinator: String,
    pub state: JobState,
    /// The whole prompt Codex gets.
    pub prompt: String,
    pub spec: JobSpec,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// A persistent project thread (`--thread NAME`): jobs of one name
    /// continue one Codex thread, one after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_name: Option<String>,
    /// The job whose thread this one continues (`job send`, `--thread`):
    /// it starts only once that job has ended, with `codex exec resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continues: Option<String>,
    /// Queue order: lower starts first (`job prioritize` puts a job first).
    #[serde(default)]
    pub queue_order: i64,
    /// The supervisor's pid and start time (clock ticks after boot, from
    /// `/proc/<pid>/stat`): together they tell the worker from a reused pid.
    /// The supervisor leads the job's process group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// The tmux session (on its own server, `tmux -L <name>`) hosting the
    /// supervisor, for `--tmux` jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmux_session: Option<String>,
    /// The Codex process the supervisor started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex_pid: Option<u32>,
    /// Codex's thread (`thread.started`): the key `codex exec resume` takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    #[serde(default)]
    pub files_modified: Vec<FileChange>,
    /// The final message, at most 500 characters.
    #[serde(default)]
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed or was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The latest progress notes (what it is doing), newest last.
    #[serde(default)]
    pub progress: Vec<String>,
    /// The callback (`job.completed`, `job.failed`, `job.killed`) sent for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

/// At most this many progress notes stay in a job's record.
pub const MAX_PROGRESS_NOTES: usize = 20;
/// A summary keeps this many characters of the final message.
pub const SUMMARY_CHARS: usize = 500;
/// The worker limit when none is set.
pub const DEFAULT_MAX_ACTIVE: u32 = 6;

/// `jobs/limits.json`: the worker limit per coordinator.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct JobLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active: Option<u32>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl JobLimits {
    pub fn max_active(&self) -> u32 {
        self.max_active.unwrap_or(DEFAULT_MAX_ACTIVE).max(1)
    }
}
