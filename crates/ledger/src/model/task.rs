//! Task records (`tasks/<task_id>.json`) and their status.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::lenient;

/// A task's status. The reference's spellings on disk; a status written by
/// another tool that codenator does not know is kept as written (and counts
/// as open), so a read-modify-write never loses it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TaskStatus {
    #[default]
    Queued,
    /// The reference's legacy name for queued.
    Assigned,
    Active,
    Blocked,
    Reported,
    Integrated,
    Done,
    Cancelled,
    /// Anything else, as written.
    Other(String),
}

impl TaskStatus {
    /// Every status codenator sets, in lifecycle order.
    pub const KNOWN: [TaskStatus; 8] = [
        TaskStatus::Queued,
        TaskStatus::Assigned,
        TaskStatus::Active,
        TaskStatus::Blocked,
        TaskStatus::Reported,
        TaskStatus::Integrated,
        TaskStatus::Done,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Assigned => "assigned",
            TaskStatus::Active => "active",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Reported => "reported",
            TaskStatus::Integrated => "integrated",
            TaskStatus::Done => "done",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Other(s) => s,
        }
    }

    /// A status as stored: known spellings become their variant.
    pub fn from_stored(s: &str) -> TaskStatus {
        TaskStatus::KNOWN
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or_else(|| TaskStatus::Other(s.to_string()))
    }

    /// A status given as an argument: only the known ones.
    pub fn parse(field: &str, s: &str) -> crate::Result<TaskStatus> {
        match TaskStatus::from_stored(s) {
            TaskStatus::Other(_) => Err(crate::Error::invalid(
                field,
                format!(
                    "must be one of {} (got {s:?})",
                    TaskStatus::KNOWN.map(|k| k.as_str().to_string()).join(", ")
                ),
            )),
            known => Ok(known),
        }
    }

    /// Integrated, done or cancelled: the task is finished.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            TaskStatus::Integrated | TaskStatus::Done | TaskStatus::Cancelled
        )
    }

    /// Integrated or done: counts as an integration and satisfies a dependency.
    pub fn is_integrated(&self) -> bool {
        matches!(self, TaskStatus::Integrated | TaskStatus::Done)
    }

    /// Queued (or the legacy assigned): a claim can take it.
    pub fn is_claimable(&self) -> bool {
        matches!(self, TaskStatus::Queued | TaskStatus::Assigned)
    }

    /// The statuses a worker may set on its own task.
    pub fn worker_may_set(&self) -> bool {
        matches!(
            self,
            TaskStatus::Active | TaskStatus::Blocked | TaskStatus::Reported
        )
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for TaskStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl Serialize for TaskStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TaskStatus::from_stored(&lenient::string(d)?))
    }
}

impl JsonSchema for TaskStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TaskStatus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "queued, assigned (legacy queued), active, blocked, reported, integrated, done or cancelled; a status written by another tool is shown as written"
        })
    }
}

/// A blocker recorded on a task.
#[derive(Clone, Debug, Default, Serialize, JsonSchema, PartialEq)]
pub struct Blocker {
    pub message: String,
    pub recorded_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<'de> Deserialize<'de> for Blocker {
    /// The reference wrote objects; a bare string is taken as the message.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Object(mut m) => {
                let message = match m.remove("message") {
                    Some(Value::String(s)) => s,
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                let recorded_at = match m.remove("recorded_at") {
                    Some(Value::String(s)) if !s.is_empty() => Some(s),
                    _ => None,
                };
                Blocker {
                    message,
                    recorded_at,
                    extra: m,
                }
            }
            Value::String(s) => Blocker {
                message: s,
                ..Blocker::default()
            },
            other => Blocker {
                message: other.to_string(),
                ..Blocker::default()
            },
        })
    }
}

/// One step of a task's life: who set which status when.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StatusChange {
    #[serde(default)]
    pub status: TaskStatus,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub at: Option<String>,
    /// The slot that made the change (None when only a timestamp of an
    /// older record tells of it).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Why, when the change was not asked for directly (a requeued lease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The claim on an active task: it expires `seconds` after the claim or
/// the claiming run's last `ok` heartbeat, which renews it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Lease {
    /// When the claim was made.
    #[serde(default, deserialize_with = "lenient::string")]
    pub claimed_at: String,
    /// The claiming run's last ok heartbeat.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub renewed_at: Option<String>,
    /// How long the claim lasts after the claim or the run's last heartbeat.
    #[serde(default)]
    pub seconds: u64,
}

/// Most status changes kept on a task (the oldest are dropped first).
pub const HISTORY_KEPT: usize = 100;

/// A task record. Known fields are typed; anything else is kept as written.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
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
    #[serde(default)]
    pub status: TaskStatus,
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
    #[serde(default, deserialize_with = "lenient::records")]
    pub blockers: Vec<Blocker>,
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
    /// The claim's lease while the task is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Who set which status when, oldest first (ours; at most [`HISTORY_KEPT`]).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::records"
    )]
    pub history: Vec<StatusChange>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Task {
    /// Record a status change: set the status, stamp its lifecycle time once,
    /// and append it to the history.
    pub fn set_status(&mut self, status: TaskStatus, change: StatusChange) {
        self.status = status.clone();
        let now = change.at.clone().unwrap_or_default();
        let stamp = match status {
            TaskStatus::Active => Some(&mut self.started_at),
            TaskStatus::Reported => Some(&mut self.reported_at),
            TaskStatus::Integrated => Some(&mut self.integrated_at),
            TaskStatus::Done => Some(&mut self.done_at),
            _ => None,
        };
        if let Some(slot) = stamp
            && slot.is_none()
        {
            *slot = Some(now);
        }
        self.history.push(StatusChange { status, ..change });
        if self.history.len() > HISTORY_KEPT {
            let drop = self.history.len() - HISTORY_KEPT;
            self.history.drain(..drop);
        }
    }

    /// The history as far as it is known: the recorded one, else one
    /// reconstructed from the lifecycle timestamps (records written before
    /// history was kept, or by the reference).
    pub fn known_history(&self) -> Vec<StatusChange> {
        if !self.history.is_empty() {
            return self.history.clone();
        }
        let at = |status: TaskStatus, t: &Option<String>, by: Option<&str>| {
            t.as_ref().map(|t| StatusChange {
                status,
                at: Some(t.clone()),
                by: by.filter(|s| !s.is_empty()).map(str::to_owned),
                ..StatusChange::default()
            })
        };
        let mut v: Vec<StatusChange> = [
            at(
                TaskStatus::Queued,
                &self.assigned_at.clone().or_else(|| self.created_at.clone()),
                Some(&self.created_by),
            ),
            at(TaskStatus::Active, &self.started_at, None),
            at(TaskStatus::Reported, &self.reported_at, None),
            at(TaskStatus::Integrated, &self.integrated_at, None),
            at(TaskStatus::Done, &self.done_at, None),
        ]
        .into_iter()
        .flatten()
        .collect();
        v.sort_by(|a, b| a.at.cmp(&b.at));
        v
    }
}

/// The compact summary of a task shown on the Focus Board.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TaskSummary {
    pub task_id: String,
    pub title: String,
    pub subject: String,
    pub status: TaskStatus,
    pub slot: String,
    pub project: String,
    pub branch: String,
    pub worktree: String,
    pub milestone_id: Option<String>,
    pub lane_id: Option<String>,
    pub dependencies: Vec<String>,
    pub acceptance_criteria: Vec<String>,
    pub required_receipts: Vec<String>,
    pub visible_progress_summary: String,
    pub commit: Option<String>,
    pub tests: Vec<String>,
    pub blockers: Vec<Blocker>,
    pub assigned_at: Option<String>,
    pub started_at: Option<String>,
    pub reported_at: Option<String>,
    pub integrated_at: Option<String>,
    pub updated_at: Option<String>,
}

impl From<&Task> for TaskSummary {
    fn from(t: &Task) -> TaskSummary {
        TaskSummary {
            task_id: t.task_id.clone(),
            title: t.title.clone(),
            subject: t.subject.clone(),
            status: t.status.clone(),
            slot: t.slot.clone(),
            project: t.project.clone(),
            branch: t.branch.clone(),
            worktree: t.worktree.clone(),
            milestone_id: t.milestone_id.clone(),
            lane_id: t.lane_id.clone(),
            dependencies: t.dependency_ids.clone(),
            acceptance_criteria: t.acceptance_criteria.clone(),
            required_receipts: t.required_receipts.clone(),
            visible_progress_summary: t.visible_progress_summary.clone(),
            commit: t.commit.clone(),
            tests: t.tests.clone(),
            blockers: t.blockers.clone(),
            assigned_at: t.assigned_at.clone(),
            started_at: t.started_at.clone(),
            reported_at: t.reported_at.clone(),
            integrated_at: t.integrated_at.clone(),
            updated_at: t.updated_at.clone(),
        }
    }
}
