//! Response types of every ledger operation (the tools' output schemas).
//!
//! Field names and shapes are the reference's where it had the tool, so a
//! client written for it keeps working; what codenator adds is additive.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::index::work::Counts;
use crate::model::slot::RegistryHeader;
use crate::model::{
    CommitReport, Heartbeat, Lane, Message, Milestone, ReportSummary, SlotEntry, StatusChange,
    Task, TaskStatus, TaskSummary, WakeAttempt,
};

/// `register_slot`: the slot's entry as stored.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RegisterSlotResponse {
    pub slot: SlotEntry,
}

/// `send_message`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SendMessageResponse {
    pub message: Message,
    /// False when the recipient is neither `all` nor a registered slot (the
    /// message is kept; the slot reads it once it registers).
    pub recipient_registered: bool,
}

/// `read_inbox`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ReadInboxResponse {
    pub slot: String,
    /// Unread before this call.
    pub unread_count: usize,
    pub returned: usize,
    /// Unread after this call.
    pub remaining_unread: usize,
    pub marked_read: bool,
    /// Oldest first, each with its `seq`.
    pub messages: Vec<Message>,
}

/// The CLI's `inbox`: the read, and the task it claimed on finding a
/// `task.assign` (one transaction).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ReadInboxClaimResponse {
    #[serde(flatten)]
    pub inbox: ReadInboxResponse,
    pub claimed: Option<Task>,
}

/// `create_task`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CreateTaskResponse {
    pub task: Task,
    /// The task's `task.assign` notice to its slot.
    pub message: Message,
    pub slot_registered: bool,
}

/// A message a claim consumed (the claimed task's own `task.assign`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ConsumedNotice {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub task_id: String,
}

/// A queued task a claim skipped because its dependencies are open.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WaitingTask {
    pub task_id: String,
    pub waiting_on: Vec<String>,
}

/// `claim_next_task`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ClaimNextTaskResponse {
    /// The claimed task (null when nothing was claimable).
    pub task: Option<Task>,
    pub claimed: bool,
    pub messages: Vec<ConsumedNotice>,
    pub waiting_on_dependencies: Vec<WaitingTask>,
    /// The slot's tasks that were already active before this claim.
    pub active_task_ids: Vec<String>,
    /// When the claim expires unless this run sends a heartbeat.
    pub lease_expires_at: Option<String>,
}

/// `update_task`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UpdateTaskResponse {
    pub task: Task,
    /// The slot's current (open) task after the update; null when it has none.
    pub slot_current_task_id: Option<String>,
    pub slot_current_task_status: Option<TaskStatus>,
}

/// `report_commit`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ReportCommitResponse {
    /// True when this slot had reported this commit before: nothing changed.
    pub already_reported: bool,
    pub report: CommitReport,
    /// The task marked reported (null when no task, or already reported).
    pub task: Option<Task>,
    /// The `commit_report` message to the coordinator (null when already reported).
    pub message: Option<Message>,
}

/// `record_heartbeat`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RecordHeartbeatResponse {
    pub heartbeat: Heartbeat,
    pub slot_registered: bool,
}

/// The CLI heartbeat's automation and thread links.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct HeartbeatLinksResponse {
    pub slot: String,
    pub slot_registered: bool,
    pub heartbeat_automation_id: Option<String>,
    pub thread_id: Option<String>,
}

/// `record_wake_attempt`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RecordWakeAttemptResponse {
    pub attempt: WakeAttempt,
}

/// `upsert_milestone`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UpsertMilestoneResponse {
    pub milestone: Milestone,
}

/// `upsert_lane`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct UpsertLaneResponse {
    pub lane: Lane,
}

/// One slot as `get_status` shows it (the reference's row, plus open work).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SlotRow {
    pub slot: String,
    pub identity: String,
    pub project: String,
    pub focus: String,
    pub worktree: String,
    pub branch: String,
    /// active, paused or parked.
    pub status: String,
    pub unread: usize,
    /// The slot's current open task: its active one, else the next
    /// claimable, blocked or reported one. Null (with its status) when
    /// nothing is open.
    pub current_task_id: Option<String>,
    pub current_task_status: Option<TaskStatus>,
    pub current_task_title: Option<String>,
    pub current_task_assigned_at: Option<String>,
    pub current_task_updated_at: Option<String>,
    /// The task the slot changed last, open or closed (what it last did).
    pub last_task_id: Option<String>,
    pub last_task_status: Option<TaskStatus>,
    pub open_tasks: usize,
    pub heartbeat_status: Option<String>,
    pub heartbeat_checked_at: Option<String>,
    pub run_id: Option<String>,
    pub app_server_thread_id: Option<String>,
    pub app_server_url: Option<String>,
    pub codex_thread_id: Option<String>,
    /// The slot's Codex Desktop thread (the reference CLI's heartbeat link).
    pub thread_id: Option<String>,
    /// When the claim on the active task expires (heartbeats of the
    /// claiming run renew it), and whether it has.
    pub lease_expires_at: Option<String>,
    pub lease_expired: bool,
}

/// A slot row with what the reference CLI's `slots` adds.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SlotDetail {
    #[serde(flatten)]
    pub row: SlotRow,
    pub current_task_reported_at: Option<String>,
    /// The newest unread message's time.
    pub latest_inbox_created_at: Option<String>,
    pub heartbeat_automation_id: Option<String>,
}

/// A compact task row (status, listings).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TaskListRow {
    pub task_id: String,
    pub slot: String,
    pub status: TaskStatus,
    pub title: String,
    pub milestone_id: Option<String>,
    pub lane_id: Option<String>,
    pub commit: Option<String>,
    pub dependency_ids: Vec<String>,
    pub assigned_at: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    /// For an active task: when its claim expires, and whether it has
    /// (left out for other tasks, to keep long listings short).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease_expired: bool,
}

/// A page of a longer list.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    pub total: usize,
    pub offset: usize,
    pub returned: usize,
    pub has_more: bool,
    pub tasks: Vec<T>,
}

/// What `get_status` says of the summary pause.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PauseBrief {
    pub integrated_count: u64,
    pub due: bool,
}

/// `get_status`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StatusResponse {
    pub registry: RegistryHeader,
    pub slots: Vec<SlotRow>,
    /// Open tasks in queue order, paged.
    pub open_tasks: Page<TaskListRow>,
    pub task_counts: Counts,
    pub total_tasks: u64,
    /// Active tasks whose claim has expired (see `requeue_expired_leases`).
    pub expired_leases: usize,
    pub summary_pause: PauseBrief,
}

/// The pause range: warn, pause, hard limit.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PauseRange {
    pub min: u64,
    pub recommended: u64,
    pub max: u64,
}

/// The periodic summary pause: how many integrations since the last one.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PausePolicy {
    pub policy: String,
    pub range: PauseRange,
    pub integrated_count: u64,
    pub last_pause_integration_count: u64,
    pub last_pause_at: Option<String>,
    pub integrations_since_pause: u64,
    pub next_pause_at: u64,
    pub due: bool,
    pub warning: bool,
    /// continue, prepare_summary_pause or stop_and_summarize.
    pub action: String,
    pub reason: String,
    pub instructions: String,
}

/// `record_summary_pause`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RecordSummaryPauseResponse {
    pub marker: Message,
    pub policy: PausePolicy,
}

/// The board's name as shown.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct BoardHeader {
    pub name: String,
    pub description: String,
    pub updated_at: Option<String>,
}

/// What the viewer of the board may do.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Visibility {
    pub viewer_slot: String,
    /// coordinator or worker.
    pub role: String,
    pub can_manage_backlog: bool,
    pub can_read_all_progress: bool,
    pub can_report_own_work: bool,
    pub own_task_ids: Vec<String>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Progress {
    pub status_counts: Counts,
    pub total_tasks: u64,
    pub open_tasks: usize,
    pub active_slots: usize,
    pub summary_pause: PausePolicy,
}

/// A milestone with its tasks' counts.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MilestoneView {
    #[serde(flatten)]
    pub milestone: Milestone,
    pub task_counts: Counts,
    pub open_task_ids: Vec<String>,
}

/// A lane with its tasks' counts (its own, and its owner's tasks without a lane).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LaneView {
    #[serde(flatten)]
    pub lane: Lane,
    pub task_counts: Counts,
    pub open_task_ids: Vec<String>,
}

/// A worker and what it holds.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Assignment {
    pub slot: String,
    pub project: String,
    pub focus: String,
    pub branch: String,
    pub current_task_id: Option<String>,
    pub current_task_status: Option<TaskStatus>,
    pub last_task_id: Option<String>,
    pub last_task_status: Option<TaskStatus>,
    pub open_tasks: usize,
    pub unread: usize,
    pub heartbeat_status: Option<String>,
    pub heartbeat_checked_at: Option<String>,
    pub lease_expired: bool,
}

/// An integrated task and the commit it was integrated at.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Receipt {
    pub task_id: String,
    pub slot: String,
    pub commit: Option<String>,
    pub integrated_at: Option<String>,
    pub milestone_id: Option<String>,
    pub lane_id: Option<String>,
}

/// `get_focus_board`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct FocusBoard {
    pub version: u64,
    pub generated_at: String,
    pub board: BoardHeader,
    pub visibility: Visibility,
    pub progress: Progress,
    pub milestones: Vec<MilestoneView>,
    pub lanes: Vec<LaneView>,
    /// Open tasks in queue order, then the latest closed, newest first.
    pub tasks: Vec<TaskSummary>,
    pub tasks_listed: usize,
    pub tasks_omitted: usize,
    pub assignments: Vec<Assignment>,
    /// Latest commit reports, newest first.
    pub reports: Vec<ReportSummary>,
    /// Latest integrations with their commit, newest first.
    pub integration_receipts: Vec<Receipt>,
}

/// How a wake would reach a slot (no wire format: the app-server client
/// turns this into its requests).
#[derive(Clone, Debug, Serialize, JsonSchema, PartialEq)]
#[serde(tag = "route", rename_all = "snake_case")]
pub enum Delivery {
    /// Tell someone; nothing is sent to Codex.
    NotifyOnly,
    /// Start a turn on the slot's registered Codex app-server thread.
    AppServer {
        thread_id: String,
        url: Option<String>,
    },
    /// An app-server wake was asked for, but the slot has no thread.
    NeedsThread,
}

/// One slot's line of the wake plan.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WakeAction {
    #[serde(flatten)]
    pub row: SlotRow,
    /// What to do (the reference's names): wake_slot, continue_task,
    /// await_integration, task_blocked, blocked_restart_required,
    /// lease_expired, idle_healthy, ...
    pub action: String,
    /// Why (one vocabulary with `recovery`): task_inbox_unread, heartbeat_overdue, ...
    pub reason: String,
    /// Tell the coordinator (or the operator).
    pub notify: bool,
    /// The slot cannot make progress by itself.
    pub blocked: bool,
    /// New work may be given to it now.
    pub safe_to_assign: bool,
    /// The text to send when waking it.
    pub prompt: Option<String>,
    /// How the wake would be delivered (null when there is nothing to send).
    pub delivery: Option<Delivery>,
    /// What the plan saw of the slot, in one line (action, unread messages
    /// and read point, current task and its last change, open tasks; not
    /// heartbeats): a wake is due again only once it differs from the one
    /// recorded with the last delivered wake.
    pub state_key: String,
    /// The slot's newest wake attempt, if any.
    pub last_wake: Option<LastWake>,
}

/// A slot's newest wake attempt, as the plan sees it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LastWake {
    pub id: String,
    pub status: String,
    pub route: Option<String>,
    pub created_at: String,
    pub state_key: Option<String>,
    /// It was delivered (completed or queued) and the slot's state has not
    /// changed since: waking it again would only repeat the nudge.
    pub unchanged_since: bool,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Safety {
    pub mutates_sessions: bool,
    pub mutates_tasks: bool,
    pub mutates_inbox: bool,
    pub desktop_automation_resume: bool,
    pub can_assign_new_work: bool,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WakeSummary {
    pub slots: usize,
    pub wake: usize,
    pub notify: usize,
    pub blocked: usize,
    pub coordinator_pause: PausePolicy,
}

/// `plan_wake`. Generic over the action type so a front end can add to each
/// action (the MCP server adds the reference's `adapter_request`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WakePlan<A = WakeAction> {
    pub version: u64,
    /// PAUSE, WAKE, NOTIFY or DONT_NOTIFY.
    pub decision: String,
    pub checked_at: String,
    /// notify-only or codex-app-server.
    pub adapter: String,
    pub source: String,
    pub safety: Safety,
    pub summary: WakeSummary,
    pub actions: Vec<A>,
}

impl<A> WakePlan<A> {
    /// The same plan with each action mapped.
    pub fn map_actions<B>(self, f: impl FnMut(A) -> B) -> WakePlan<B> {
        WakePlan {
            version: self.version,
            decision: self.decision,
            checked_at: self.checked_at,
            adapter: self.adapter,
            source: self.source,
            safety: self.safety,
            summary: self.summary,
            actions: self.actions.into_iter().map(f).collect(),
        }
    }
}

/// A task's claim as it stands.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LeaseView {
    pub run_id: Option<String>,
    pub claimed_at: String,
    /// How long the claim lasts after the claim or the run's last heartbeat.
    pub seconds: u64,
    /// Renewed by every ok heartbeat of the claiming run.
    pub expires_at: String,
    pub expired: bool,
}

/// `get_task`: one task's whole story.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct GetTaskResponse {
    pub task: Task,
    /// Who set which status when, oldest first.
    pub history: Vec<StatusChange>,
    /// Dependencies not yet integrated.
    pub waiting_on: Vec<String>,
    pub lease: Option<LeaseView>,
    /// Messages about the task (its assignment, reports, notes), oldest first.
    pub messages: Vec<Message>,
    pub messages_total: usize,
    pub messages_omitted: usize,
}

/// One task of a listing: a compact row, or the whole record with `detail`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum TaskListItem {
    Row(Box<TaskListRow>),
    Full(Box<Task>),
}

/// `list_tasks`: open tasks in queue order, then closed ones newest first.
pub type ListTasksResponse = Page<TaskListItem>;

/// A task taken back from an expired claim.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RequeuedTask {
    pub task_id: String,
    pub slot: String,
    pub run_id: Option<String>,
    pub lease_expired_at: String,
}

/// `requeue_expired_leases`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RequeueExpiredResponse {
    pub checked_at: String,
    pub dry_run: bool,
    pub requeued: Vec<RequeuedTask>,
}

/// One row of the slot recovery view.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RecoveryRow {
    #[serde(flatten)]
    pub slot: SlotDetail,
    /// restart_thread, parked, read_inbox, claim_task, continue_task,
    /// requeue_task, resolve_blocker, wait_dependencies, await_integration or ok.
    pub recommendation: String,
    pub reason: String,
}

/// The slot recovery view (the reference CLI's `recovery`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RecoveryResponse {
    pub checked_at: String,
    pub window_minutes: f64,
    pub rows: Vec<RecoveryRow>,
}

pub use crate::model::watchdog::Alert;

/// The coordinator watchdog's decision.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WatchdogResponse {
    /// NOTIFY or DONT_NOTIFY.
    pub decision: String,
    pub checked_at: String,
    pub coordinator_unread: usize,
    pub alerts: Vec<Alert>,
    pub suppressed: Vec<Alert>,
    pub total_alerts: usize,
    pub state_written: bool,
}

/// A task made from an inbox message.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ImportedTask {
    pub task_id: String,
    pub slot: String,
    pub title: String,
    pub status: TaskStatus,
    pub source_message_id: String,
    pub source_seq: u64,
}

/// A message the import left alone.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SkippedMessage {
    pub message_id: String,
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub reason: String,
}

/// `task-import-inbox`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ImportInboxResponse {
    pub slot: String,
    pub dry_run: bool,
    pub imported: Vec<ImportedTask>,
    pub skipped: Vec<SkippedMessage>,
    pub unread_examined: usize,
    pub unread_total: usize,
}

/// Every task record (the CLI's `task-list`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AllTasks {
    pub total: usize,
    pub tasks: Vec<Task>,
    pub damaged: Vec<String>,
}

/// Per slot, what the v1 inbox import did.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct LegacySlotImport {
    /// Inbox files whose ledger line stays unread.
    pub unread_in_ledger: Vec<String>,
    /// Inbox files appended to the ledger (they had no line).
    pub appended: Vec<String>,
    /// Archive files whose ledger line was marked read.
    pub marked_read: Vec<String>,
    /// Inbox files moved to the archive.
    pub archived_files: usize,
}

#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct LegacyTotals {
    pub unread_in_ledger: usize,
    pub appended: usize,
    pub marked_read: usize,
    pub archived_files: usize,
    pub skipped: usize,
}

/// A v1 file left in place.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SkippedFile {
    pub file: String,
    pub reason: String,
}

/// `import-legacy-inbox`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LegacyImportResponse {
    pub dry_run: bool,
    pub changed: bool,
    pub totals: LegacyTotals,
    pub slots: BTreeMap<String, LegacySlotImport>,
    pub skipped: Vec<SkippedFile>,
}
