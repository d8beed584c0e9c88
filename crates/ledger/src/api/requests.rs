//! Request types of every ledger operation.
//!
//! These are the tool parameters of the MCP server and the arguments of the
//! CLI, defined once: the JSON Schemas that Codex sees are generated from
//! them, and the doc comments become the field descriptions. Unknown fields
//! are refused so that a misspelt argument is an error, not a silent no-op.
//! Ids stay strings here: each operation checks them first and refuses a
//! bad one with an error naming the field (never a decoding error).

use crate::model::{Payload, WakeEvidence, WakeTimings};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A list of strings, also accepted as one comma-separated string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StrList(pub Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            One(String),
        }
        let raw = Option::<Raw>::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "invalid type: expected a list of strings or one comma-separated string",
            )
        })?;
        let items = match raw {
            None => vec![],
            Some(Raw::List(v)) => v,
            Some(Raw::One(s)) => s.split(',').map(str::to_owned).collect(),
        };
        Ok(StrList(
            items
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }
}

impl JsonSchema for StrList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StringList".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Vec<String>>::json_schema(generator)
    }
}

/// `get_status` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetStatus {
    /// Only this slot's row and open tasks.
    #[serde(default)]
    pub slot: Option<String>,
    /// Most open tasks to list (default 25, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Skip this many open tasks (paging).
    #[serde(default)]
    pub offset: Option<u32>,
}

/// `register_slot` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSlot {
    /// Slot id, e.g. `session-01` (1-64 of A-Z a-z 0-9 . _ -).
    pub slot: String,
    /// Project the slot works on.
    #[serde(default)]
    pub project: Option<String>,
    /// What the slot focuses on.
    #[serde(default)]
    pub focus: Option<String>,
    /// Absolute path of the slot's git worktree.
    #[serde(default)]
    pub worktree: Option<String>,
    /// Who works in the slot (default `developer`).
    #[serde(default)]
    pub identity: Option<String>,
    /// Branch of the worktree.
    #[serde(default)]
    pub branch: Option<String>,
    /// Slot status: active, paused or parked.
    #[serde(default)]
    pub status: Option<String>,
    /// Id of the current run of the session.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Codex app-server thread id used to wake the slot ("" clears it).
    #[serde(default)]
    pub app_server_thread_id: Option<String>,
    /// Codex app-server URL ("" clears it).
    #[serde(default)]
    pub app_server_url: Option<String>,
}

/// `send_message` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// Recipient slot, or `all` for every slot.
    pub to: String,
    /// Message body.
    pub message: String,
    /// Sender; must be the caller's own slot (defaults to it).
    #[serde(default)]
    pub from: Option<String>,
    /// Message type (default `message`); task.assign, commit_report and pause markers are written by their own tools.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// Task the message is about.
    #[serde(default)]
    pub task_id: Option<String>,
    /// Structured data (a JSON object, at most 64 KiB).
    #[serde(default)]
    pub payload: Option<Payload>,
}

/// `read_inbox` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInbox {
    /// Slot whose inbox to read (workers may read only their own).
    pub slot: String,
    /// Advance the read cursor past the returned messages (default true).
    #[serde(default)]
    pub mark_read: Option<bool>,
    /// Most messages to return (default 50, at most 200); the rest stay unread.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `get_focus_board` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFocusBoard {
    /// Whose view (default: the caller).
    #[serde(default, alias = "slot")]
    pub viewer_slot: Option<String>,
    /// Most tasks, reports and receipts to list in each section (default 50, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `upsert_milestone` arguments (coordinator only).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertMilestone {
    /// Milestone id.
    #[serde(alias = "id")]
    pub milestone_id: String,
    #[serde(default)]
    pub title: Option<String>,
    /// planned, active, done, ...
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Sort position (ascending).
    #[serde(default)]
    pub order: Option<f64>,
}

/// `upsert_lane` arguments (coordinator only).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertLane {
    /// Lane id.
    #[serde(alias = "id")]
    pub lane_id: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Slot that owns the lane.
    #[serde(default, alias = "slot")]
    pub owner_slot: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Sort position (ascending).
    #[serde(default)]
    pub order: Option<f64>,
}

/// `create_task` arguments (coordinator only).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// Worker slot the task is queued for.
    pub slot: String,
    pub title: String,
    /// What to do.
    pub message: String,
    /// Task id (generated when absent); an existing id is refused.
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub worktree: Option<String>,
    #[serde(default, alias = "milestone")]
    pub milestone_id: Option<String>,
    #[serde(default, alias = "lane")]
    pub lane_id: Option<String>,
    #[serde(default)]
    pub visible_progress_summary: Option<String>,
    /// Tasks that must be integrated or done before this one can be claimed.
    #[serde(default, alias = "dependencies")]
    pub dependency_ids: StrList,
    #[serde(default)]
    pub acceptance_criteria: StrList,
    #[serde(default)]
    pub required_receipts: StrList,
}

/// `claim_next_task` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimNextTask {
    /// The caller's slot.
    pub slot: String,
    /// The run claiming the task; later reports from another run are refused.
    #[serde(default)]
    pub run_id: Option<String>,
    /// How long the claim lasts without a heartbeat from this run (minutes,
    /// default 30, at most 1440); each `ok` heartbeat of the run renews it.
    #[serde(default)]
    pub lease_minutes: Option<f64>,
}

/// `update_task` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    pub task_id: String,
    /// queued, active, blocked, reported (workers); integrated, done, cancelled (coordinator).
    #[serde(default)]
    pub status: Option<String>,
    /// Commit sha.
    #[serde(default)]
    pub commit: Option<String>,
    /// A blocker; sets the status to blocked when no status is given.
    #[serde(default)]
    pub blocker: Option<String>,
    /// Tests run (replaces the list).
    #[serde(default)]
    pub tests: Option<StrList>,
    /// Progress line shown on the board.
    #[serde(default)]
    pub visible_progress_summary: Option<String>,
    /// The caller's run; refused when another run claimed the task.
    #[serde(default)]
    pub run_id: Option<String>,
}

/// `report_commit` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportCommit {
    /// The caller's slot.
    pub slot: String,
    /// Task the commit completes (default: the slot's active task).
    #[serde(default)]
    pub task_id: Option<String>,
    /// Worktree to read the commit from (default: the slot's registered worktree).
    #[serde(default)]
    pub worktree: Option<String>,
    /// Commit sha (default: HEAD of the worktree).
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// `git diff-tree --name-status` lines.
    #[serde(default)]
    pub changed: Option<StrList>,
    /// The caller's run; refused when another run claimed the task.
    #[serde(default)]
    pub run_id: Option<String>,
}

/// What git says of a reported commit. The host layer reads it (the ledger
/// runs no programs); fields the caller gave are taken as given.
#[derive(Clone, Debug, Default)]
pub struct CommitFacts {
    /// The worktree the commit was read from ("" when none was needed).
    pub worktree: String,
    pub sha: String,
    pub branch: String,
    pub subject: String,
    pub body: String,
    /// `git diff-tree --name-status` lines.
    pub changed: Vec<String>,
}

/// `record_heartbeat` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordHeartbeat {
    /// The caller's slot.
    pub slot: String,
    /// ok, failed or stale (default ok).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `plan_wake` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanWake {
    /// notify-only (default) or codex-app-server.
    #[serde(default)]
    pub adapter: Option<String>,
    /// A heartbeat older than this is overdue (default 15).
    #[serde(default)]
    pub heartbeat_max_minutes: Option<f64>,
    /// Plan as of this ISO time (default now).
    #[serde(default)]
    pub checked_at: Option<String>,
}

/// `record_summary_pause` arguments (coordinator only).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordSummaryPause {
    /// The summary given to the operator.
    #[serde(default)]
    pub summary: Option<String>,
    /// Integrations covered (default and maximum: the current integrated count).
    #[serde(default)]
    pub integration_count: Option<f64>,
    #[serde(default)]
    pub subject: Option<String>,
}

/// `record_wake_attempt` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWakeAttempt {
    pub slot: String,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub adapter: Option<String>,
    /// planned, dry_run, blocked, completed, failed, ...
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    /// Evidence from the sender (a JSON object).
    #[serde(default)]
    pub result: Option<Payload>,
    /// How it was delivered: app_server, app_server_url, queue, notify_only.
    #[serde(default)]
    pub route: Option<String>,
    /// The plan's `state_key` of the slot when it was woken.
    #[serde(default)]
    pub state_key: Option<String>,
    #[serde(default)]
    pub timings: Option<WakeTimings>,
    /// Typed evidence tails (at most 64 KiB of JSON).
    #[serde(default)]
    pub evidence: Option<WakeEvidence>,
}

/// `get_task` arguments.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTask {
    pub task_id: String,
    /// Most messages about the task to include, newest last (default 20, at most 200).
    #[serde(default)]
    pub message_limit: Option<u32>,
}

/// `list_tasks` arguments. Every filter given must match.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    /// Only tasks with one of these statuses (open and closed ones alike).
    #[serde(default)]
    pub status: Option<StrList>,
    /// Only this slot's tasks.
    #[serde(default)]
    pub slot: Option<String>,
    #[serde(default, alias = "milestone")]
    pub milestone_id: Option<String>,
    #[serde(default, alias = "lane")]
    pub lane_id: Option<String>,
    /// Only tasks whose id, title, subject or message contains this text (case-insensitive).
    #[serde(default)]
    pub text: Option<String>,
    /// Most tasks to return (default 25, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Skip this many matching tasks (paging).
    #[serde(default)]
    pub offset: Option<u32>,
    /// Whole task records instead of compact rows.
    #[serde(default)]
    pub detail: Option<bool>,
}

/// `requeue_expired_leases` arguments (coordinator only).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequeueExpiredLeases {
    /// Say which tasks would be requeued, change nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Judge the leases as of this ISO time (default now).
    #[serde(default)]
    pub checked_at: Option<String>,
}

/// Arguments of the slot recovery view (the reference CLI's `recovery`).
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// A heartbeat or a queued task older than this is overdue (default 15).
    pub window_minutes: Option<f64>,
    /// Evaluate as of this ISO time (default now).
    pub checked_at: Option<String>,
}

/// Arguments of the coordinator watchdog (the reference CLI's `watchdog-check`).
#[derive(Clone, Debug, Default)]
pub struct WatchdogCheck {
    /// The coordinator's heartbeat is overdue after this (default 6).
    pub heartbeat_max_minutes: Option<f64>,
    /// An alert notified this recently is suppressed (default 15).
    pub snooze_minutes: Option<f64>,
    /// Window for the workers' recovery rules (default 15).
    pub window_minutes: Option<f64>,
    /// Evaluate as of this ISO time (default now).
    pub checked_at: Option<String>,
    /// Compute the decision but write no state.
    pub dry_run: bool,
}

/// Arguments of `task-import-inbox`.
#[derive(Clone, Debug, Default)]
pub struct ImportInboxTasks {
    /// Worker slot whose unread messages become tasks.
    pub slot: String,
    /// Say what would be imported, change nothing.
    pub dry_run: bool,
}

/// Arguments of the automation and Desktop thread links a heartbeat comes
/// with (the reference CLI's `heartbeat --automation-id --thread-id`).
#[derive(Clone, Debug, Default)]
pub struct HeartbeatLinks {
    pub slot: String,
    pub automation_id: Option<String>,
    pub thread_id: Option<String>,
}
