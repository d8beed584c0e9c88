//! The MCP tools' arguments and answers for jobs (their schemars schemas
//! are the tools' input and output schemas).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runner::JobView;

/// `dispatch_job` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchJob {
    /// What the worker is to do (the Task section).
    pub prompt: String,
    /// Context section: what the worker must know (it shares no context with you).
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub goal: Option<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
    /// Expected Output section.
    #[serde(default)]
    pub expected: Option<String>,
    /// Absolute working directory of the worker (default: the ledger root).
    #[serde(default)]
    pub dir: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// low, medium, high or xhigh.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// read-only, workspace-write or danger-full-access.
    #[serde(default)]
    pub sandbox: Option<String>,
    /// Absolute path the final answer is also written to.
    #[serde(default)]
    pub output_file: Option<String>,
    /// A ledger task the job claims now and reports when it completes.
    #[serde(default)]
    pub task_id: Option<String>,
    /// A persistent project thread: continue the last job of this name.
    #[serde(default)]
    pub thread: Option<String>,
    /// A registered worker slot the job works as: its codenator tools speak
    /// for that slot, and its task (which must be that slot's) is claimed
    /// and reported by it. One job per slot at a time.
    #[serde(default)]
    pub slot: Option<String>,
}

/// `list_jobs` arguments (none).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobs {}

/// Arguments naming one job.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    pub job_id: String,
}

/// `job_output` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOutput {
    pub job_id: String,
    /// Only the last N lines (default: all).
    #[serde(default)]
    pub tail: Option<usize>,
}

/// `send_to_job` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendToJob {
    pub job_id: String,
    /// The follow-up prompt, run on the job's thread once it has ended.
    pub message: String,
}

/// `job_output` answer.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct JobOutputResponse {
    pub job_id: String,
    /// The transcript (or its last lines).
    pub text: String,
    /// Lines in the whole transcript.
    pub lines: usize,
}

/// `cancel_job` answer.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CancelJobResponse {
    pub job: JobView,
}

/// The last `n` lines of `text` (all when `None`).
pub fn tail(text: &str, n: Option<usize>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = n.map_or(0, |n| lines.len().saturating_sub(n));
    lines[from..].join("\n")
}

/// `send_to_job` answer: the follow-up job (the same shape as `dispatch_job`'s).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SendToJobResponse {
    #[serde(flatten)]
    pub follow_up: crate::runner::StartResponse,
}
