//! What the dashboard shows, as types: the snapshot of the whole team, the
//! task pool's query, and the health answer. Every field comes from a
//! read-only ledger call; nothing here opens a write transaction.

use ledger::api::{
    self, FocusBoard, GetTaskResponse, ListTasksResponse, StatusResponse, StrList, WakePlan,
};
use ledger::model::job::FileChange;
use ledger::model::{Job, JobState, WakeAttempt};
use ledger::views::Snapshot as LedgerSnapshot;
use ledger::views::recent::MessageBrief;
use ledger::{Caller, Ctx, Store};
use serde::{Deserialize, Serialize};

/// How many of the newest messages, wake attempts and unread headlines per
/// slot the snapshot carries (it is pushed to every open page on each
/// change, so it stays small; the task pool and a task's record are
/// fetched on their own).
const RECENT_MESSAGES: usize = 30;
const WAKE_ATTEMPTS: usize = 20;
const INBOX_HEADLINES: usize = 3;
/// Tasks listed in the board part of the snapshot, and in one pool page
/// (the reference's page showed at most 120).
const BOARD_TASKS: u32 = 50;
const STATUS_TASKS: u32 = 50;
const POOL_TASKS: u32 = 120;
/// Messages shown with a task's record.
const TASK_MESSAGES: u32 = 50;
/// Jobs in the snapshot (newest first), the progress notes shown per job,
/// and the characters of the prompt a job's title keeps.
const JOBS: usize = 50;
const JOB_NOTES: usize = 5;
const JOB_TITLE_CHARS: usize = 120;

/// `/api/snapshot` and each live event: the reference dashboard's shape
/// (`generated_at`, `status`, `board`, `wake_plan`) plus what it left out.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub generated_at: String,
    pub store: StoreInfo,
    /// `get_status` (its `slots` are the sessions).
    pub status: StatusResponse,
    /// `get_focus_board` as the coordinator sees it: milestones, lanes,
    /// tasks, assignments, reports, integration receipts, summary pause.
    pub board: FocusBoard,
    /// `plan_wake` with the notify-only adapter and the default heartbeat
    /// window: what each slot's state calls for.
    pub wake_plan: WakePlan,
    /// Per slot, its unread count and the first unread headlines.
    pub inboxes: Vec<Inbox>,
    /// The newest messages of the whole ledger, newest first.
    pub messages: Vec<MessageBrief>,
    /// The newest wake attempts, newest first.
    pub wake_attempts: Vec<WakeAttempt>,
    pub jobs: Jobs,
}

/// Which store the page shows.
#[derive(Debug, Serialize)]
pub struct StoreInfo {
    pub root: String,
    pub dir: String,
}

/// A slot's inbox at a glance.
#[derive(Debug, Serialize)]
pub struct Inbox {
    pub slot: String,
    pub unread: usize,
    pub headlines: Vec<String>,
}

/// Background jobs: every `jobs/<id>.json` record, read as it is stored
/// (the ledger's typed read, no lock taken for writing). A worker that died
/// without its record saying so still shows its recorded state: only
/// `codenator jobs` reconciles, and it writes, so the dashboard does not.
#[derive(Debug, Serialize)]
pub struct Jobs {
    /// True since the ledger has jobs (kept for the page's shape).
    pub available: bool,
    /// Newest first.
    pub jobs: Vec<JobRow>,
}

/// One background job as the page lists it: its state, the tokens it used,
/// the files it touched and its progress notes.
#[derive(Debug, Serialize)]
pub struct JobRow {
    pub job_id: String,
    /// The slot that dispatched it (its callbacks go there).
    pub coordinator: String,
    /// The slot the worker works as (`job start --slot`), if any.
    pub slot: Option<String>,
    /// The detached tmux session hosting it (`job start --tmux`), if any.
    pub tmux_session: Option<String>,
    pub task_id: Option<String>,
    /// queued, running, completed, failed or killed.
    pub state: JobState,
    /// The prompt's first line, shortened.
    pub title: String,
    /// The final message, as the record keeps it (at most 500 characters).
    pub summary: String,
    pub thread_name: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// The newest of created, started and ended.
    pub updated_at: String,
    pub tokens: Option<JobTokens>,
    pub files: Vec<FileChange>,
    /// The newest progress notes, newest last.
    pub progress: Vec<String>,
    pub exit_code: Option<i32>,
    /// Why it failed or was killed.
    pub reason: Option<String>,
}

/// A job's token counts, with their sum.
#[derive(Debug, Serialize)]
pub struct JobTokens {
    pub input: u64,
    pub cached_input: u64,
    pub output: u64,
    pub reasoning_output: u64,
    /// Input plus output (cached input is part of input).
    pub total: u64,
    /// Tokens in the context window after the last model request, the
    /// window, and the share used: absent when Codex did not record them.
    pub context_used: Option<u64>,
    pub context_window: Option<u64>,
    pub context_percent: Option<f64>,
}

impl JobRow {
    fn of(job: Job) -> JobRow {
        let title = {
            let first = job
                .prompt
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .unwrap_or("");
            let mut t: String = first.trim().chars().take(JOB_TITLE_CHARS).collect();
            if t.len() < first.trim().len() {
                t.push('…');
            }
            t
        };
        let updated_at = job
            .ended_at
            .clone()
            .or_else(|| job.started_at.clone())
            .unwrap_or_else(|| job.created_at.clone());
        let n = job.progress.len();
        let progress = job.progress[n.saturating_sub(JOB_NOTES)..].to_vec();
        JobRow {
            job_id: job.id,
            coordinator: job.coordinator,
            slot: job.spec.slot,
            tmux_session: job.tmux_session,
            task_id: job.spec.task_id,
            state: job.state,
            title,
            summary: job.summary,
            thread_name: job.thread_name,
            created_at: job.created_at,
            started_at: job.started_at,
            ended_at: job.ended_at,
            updated_at,
            tokens: job.tokens.map(|t| JobTokens {
                context_percent: t.context_percent(),
                context_used: t.context_used,
                context_window: t.context_window,
                total: t.input + t.output,
                input: t.input,
                cached_input: t.cached_input,
                output: t.output,
                reasoning_output: t.reasoning_output,
            }),
            files: job.files_modified,
            progress,
            exit_code: job.exit_code,
            reason: job.reason,
        }
    }
}

/// `/api/health`: the reference's shape, plus the store and the mode.
#[derive(Debug, Serialize)]
pub struct Health {
    pub ok: bool,
    pub name: &'static str,
    pub generated_at: String,
    pub store: String,
    pub read_only: bool,
}

/// The task pool's filter buttons.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PoolFilter {
    /// Not integrated, done or cancelled.
    #[default]
    Open,
    /// Reported, waiting for integration.
    Reports,
    /// Integrated or done.
    Integrated,
    All,
}

impl PoolFilter {
    fn statuses(self) -> Option<Vec<&'static str>> {
        match self {
            PoolFilter::Open => Some(vec!["queued", "assigned", "active", "blocked", "reported"]),
            PoolFilter::Reports => Some(vec!["reported"]),
            PoolFilter::Integrated => Some(vec!["integrated", "done"]),
            PoolFilter::All => None,
        }
    }
}

/// `/api/tasks?filter=…&q=…`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolQuery {
    #[serde(default)]
    pub filter: PoolFilter,
    /// Text the task's id, title, subject or description contains.
    #[serde(default)]
    pub q: Option<String>,
}

/// The dashboard reads as the coordinator: it sees every slot's work.
fn viewer() -> Ctx {
    Ctx::new(Caller::coordinator())
}

impl Snapshot {
    /// Read the whole picture. Each part is one ledger read (a shared lock
    /// each); nothing is written, not even a default board.
    pub fn read(store: &Store) -> ledger::Result<Snapshot> {
        let ctx = viewer();
        let status = store.get_status(
            &ctx,
            &api::GetStatus {
                limit: Some(STATUS_TASKS),
                ..Default::default()
            },
        )?;
        let board = store.get_focus_board(
            &ctx,
            &api::GetFocusBoard {
                viewer_slot: None,
                limit: Some(BOARD_TASKS),
            },
        )?;
        let wake_plan = store.plan_wake(&ctx, &api::PlanWake::default())?;
        let inboxes = {
            let snap = LedgerSnapshot::read(store)?;
            status
                .slots
                .iter()
                .map(|row| {
                    let headlines = if row.unread > 0 {
                        snap.unread_headlines(&row.slot, INBOX_HEADLINES)?
                    } else {
                        vec![]
                    };
                    Ok(Inbox {
                        slot: row.slot.clone(),
                        unread: row.unread,
                        headlines,
                    })
                })
                .collect::<ledger::Result<Vec<_>>>()?
        };
        let messages = store.recent_messages(RECENT_MESSAGES)?;
        let (wake_attempts, jobs) = {
            let txn = store.read()?;
            let mut jobs = ledger::records::jobs::load_all(&txn);
            jobs.reverse();
            jobs.truncate(JOBS);
            (
                ledger::records::wake::newest(&txn, WAKE_ATTEMPTS),
                Jobs {
                    available: true,
                    jobs: jobs.into_iter().map(JobRow::of).collect(),
                },
            )
        };
        Ok(Snapshot {
            generated_at: ledger::time::now(),
            store: StoreInfo {
                root: store.root().display().to_string(),
                dir: store.dir().display().to_string(),
            },
            status,
            board,
            wake_plan,
            inboxes,
            messages,
            wake_attempts,
            jobs,
        })
    }
}

/// One page of the task pool: open tasks in queue order, then closed ones
/// newest first (the ledger's `list_tasks`, which owns the filtering).
pub fn task_pool(store: &Store, q: &PoolQuery) -> ledger::Result<ListTasksResponse> {
    store.list_tasks(
        &viewer(),
        &api::ListTasks {
            status: q
                .filter
                .statuses()
                .map(|s| StrList(s.into_iter().map(String::from).collect())),
            text: q.q.clone().filter(|t| !t.trim().is_empty()),
            limit: Some(POOL_TASKS),
            ..Default::default()
        },
    )
}

/// A task's whole record: history, lease, dependencies, messages.
pub fn task(store: &Store, task_id: &str) -> ledger::Result<GetTaskResponse> {
    store.get_task(
        &viewer(),
        &api::GetTask {
            task_id: task_id.to_string(),
            message_limit: Some(TASK_MESSAGES),
        },
    )
}

pub fn health(store: &Store) -> Health {
    Health {
        ok: true,
        name: "codenator-admin",
        generated_at: ledger::time::now(),
        store: store.dir().display().to_string(),
        read_only: true,
    }
}
