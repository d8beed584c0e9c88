//! What the dashboard shows, as types: the snapshot of the whole team, the
//! task pool's query, and the health answer. Every field comes from a
//! read-only ledger call; nothing here opens a write transaction.

use ledger::api::{
    self, FocusBoard, GetTaskResponse, ListTasksResponse, StatusResponse, StrList, WakePlan,
};
use ledger::model::WakeAttempt;
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

/// Background jobs. The ledger has no jobs yet (another issue adds them):
/// `available` is false and `jobs` empty until it does; then the rows come
/// from the ledger's jobs view and the page already knows how to show them.
#[derive(Debug, Serialize)]
pub struct Jobs {
    pub available: bool,
    pub jobs: Vec<JobRow>,
}

/// One background job as the page lists it: its state, the tokens it used,
/// the files it touched and its progress notes.
#[derive(Debug, Serialize)]
pub struct JobRow {
    pub job_id: String,
    pub slot: String,
    pub task_id: Option<String>,
    /// queued, running, completed, failed, ...
    pub state: String,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub tokens: Option<u64>,
    pub files: Vec<String>,
    pub progress: Vec<String>,
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
        let wake_attempts = ledger::records::wake::newest(&store.read()?, WAKE_ATTEMPTS);
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
            jobs: Jobs {
                available: false,
                jobs: vec![],
            },
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
