//! Commit reports (`reports/<stamp>_<slot>_<sha12>.json`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;

/// A commit report as stored (and sent to the coordinator as the payload of
/// its `commit_report` message).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct CommitReport {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub slot: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub sha: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub branch: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub subject: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub body: String,
    /// `git diff-tree --name-status` lines.
    #[serde(default, deserialize_with = "lenient::strings")]
    pub changed: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub worktree: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub created_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the work index keeps of a report, and the board shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ReportSummary {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub slot: String,
    #[serde(default)]
    pub sha: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub worktree: String,
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub created_at: String,
}

impl From<&CommitReport> for ReportSummary {
    fn from(r: &CommitReport) -> ReportSummary {
        ReportSummary {
            id: r.id.clone(),
            slot: r.slot.clone(),
            sha: r.sha.clone(),
            branch: r.branch.clone(),
            subject: r.subject.clone(),
            changed: r.changed.clone(),
            worktree: r.worktree.clone(),
            task_id: r.task_id.clone(),
            created_at: r.created_at.clone(),
        }
    }
}

/// A failure of the commit hook, kept as `reports/<stamp>_hook_error.json`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct HookError {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    /// What the hook saw (the event's fields it used).
    pub context: Map<String, Value>,
    pub created_at: String,
}
