//! Task commands: `task-create`, `task-list`, `task-show`, `task-update`,
//! `task-import-inbox`, `requeue-expired`, all through the ledger's task
//! operations (one task record, the same queue `claim_next_task` serves).
//!
//! Fixed: `task-create` refuses an existing task id (the reference
//! overwrote it); `task-import-inbox` never turns a `task.assign` or a note
//! about an existing task into a task (the reference overwrote the task) and
//! a re-run imports nothing.

use std::path::PathBuf;

use ledger::api::{self, TaskListItem};
use ledger::model::Task;

use super::{Common, Env, absolute_string, list, message_or_stdin, print_json};

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Worker slot the task is queued for.
    pub slot: String,
    #[command(flatten)]
    pub common: Common,
    /// Task title.
    #[arg(long, allow_hyphen_values = true)]
    pub title: String,
    /// What to do (default: read from stdin).
    #[arg(long, allow_hyphen_values = true)]
    pub message: Option<String>,
    /// Task id (generated when absent); an existing id is refused.
    #[arg(long)]
    pub task_id: Option<String>,
    /// Subject of the task.assign (default: the title).
    #[arg(long, allow_hyphen_values = true)]
    pub subject: Option<String>,
    /// Status after creation (default queued).
    #[arg(long)]
    pub status: Option<String>,
    /// Project (default: the slot's).
    #[arg(long)]
    pub project: Option<String>,
    /// Branch (default: the slot's).
    #[arg(long)]
    pub branch: Option<String>,
    /// Worktree (default: the slot's; made absolute).
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    /// Milestone id.
    #[arg(long)]
    pub milestone: Option<String>,
    /// Lane id.
    #[arg(long)]
    pub lane: Option<String>,
    /// Tasks that must be integrated first (comma-separated ids).
    #[arg(long)]
    pub depends_on: Option<String>,
    /// Acceptance criteria (comma-separated).
    #[arg(long)]
    pub acceptance: Option<String>,
    /// Required receipts (comma-separated).
    #[arg(long)]
    pub receipts: Option<String>,
    /// Progress line shown on the Focus Board.
    #[arg(long)]
    pub summary: Option<String>,
    /// Creator (must be the caller; tasks are created by the coordinator).
    #[arg(long)]
    pub from: Option<String>,
    /// Print the task as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn create(env: &Env, args: &CreateArgs) -> anyhow::Result<u8> {
    let message = message_or_stdin(args.message.clone(), "task-create")?;
    let store = env.store()?;
    let ctx = env.ctx(&store, args.from.as_deref())?;
    let worktree = match &args.worktree {
        Some(w) => Some(absolute_string(w)?),
        None => None,
    };
    let mut ans = store.create_task(
        &ctx,
        &api::CreateTask {
            slot: args.slot.clone(),
            title: args.title.clone(),
            message,
            task_id: args.task_id.clone(),
            subject: args.subject.clone(),
            project: args.project.clone(),
            branch: args.branch.clone(),
            worktree,
            milestone_id: args.milestone.clone(),
            lane_id: args.lane.clone(),
            visible_progress_summary: args.summary.clone(),
            dependency_ids: api::StrList(list(&args.depends_on)),
            acceptance_criteria: api::StrList(list(&args.acceptance)),
            required_receipts: api::StrList(list(&args.receipts)),
        },
    )?;
    let task_id = ans.task.task_id.clone();
    if let Some(st) = args.status.as_deref().filter(|st| *st != "queued") {
        let upd = store.update_task(
            &ctx,
            &api::UpdateTask {
                task_id: task_id.clone(),
                status: Some(st.to_string()),
                ..api::UpdateTask::default()
            },
        )?;
        ans.task = upd.task;
    }
    if args.json {
        print_json(&ans)?;
    } else {
        say!("Created task {task_id} for {}", args.slot);
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: Common,
    /// Only this slot's tasks.
    #[arg(long)]
    pub slot: Option<String>,
    /// Only tasks with this status (comma-separated for several).
    #[arg(long)]
    pub status: Option<String>,
    /// Only this milestone's tasks.
    #[arg(long)]
    pub milestone: Option<String>,
    /// Only this lane's tasks.
    #[arg(long)]
    pub lane: Option<String>,
    /// Only tasks whose id, title, subject or message contains this text.
    #[arg(long)]
    pub text: Option<String>,
    /// Print the tasks (whole records) as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// Every matching task, whole (the listing is paged; this reads every page).
fn all_tasks(
    store: &ledger::Store,
    ctx: &ledger::Ctx,
    args: &ListArgs,
) -> anyhow::Result<Vec<Task>> {
    let mut out = Vec::new();
    loop {
        let page = store.list_tasks(
            ctx,
            &api::ListTasks {
                status: args
                    .status
                    .as_ref()
                    .map(|s| api::StrList(list(&Some(s.clone())))),
                slot: args.slot.clone(),
                milestone_id: args.milestone.clone(),
                lane_id: args.lane.clone(),
                text: args.text.clone(),
                limit: Some(200),
                offset: Some(out.len() as u32),
                detail: Some(true),
            },
        )?;
        let more = page.has_more && page.returned > 0;
        out.extend(page.tasks.into_iter().filter_map(|t| match t {
            TaskListItem::Full(t) => Some(*t),
            TaskListItem::Row(_) => None,
        }));
        if !more {
            break;
        }
    }
    // The reference's order: by assignment time.
    out.sort_by_key(|t| {
        t.assigned_at
            .clone()
            .or_else(|| t.created_at.clone())
            .unwrap_or_default()
    });
    Ok(out)
}

pub fn list_tasks(env: &Env, args: &ListArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let all = all_tasks(&store, &ctx, args)?;
    if args.json {
        print_json(&all)?;
        return Ok(0);
    }
    if all.is_empty() {
        say!("Tasks: empty");
        return Ok(0);
    }
    say!("Tasks: {}", all.len());
    let w = |f: fn(&Task) -> &str| all.iter().map(|t| f(t).chars().count()).max().unwrap_or(0);
    let (wi, ws, wt) = (w(|t| &t.task_id), w(|t| &t.slot), w(|t| t.status.as_str()));
    for t in &all {
        say!(
            "{:<wi$}  {:<ws$}  {:<wt$}  {}",
            t.task_id,
            t.slot,
            t.status.as_str(),
            t.title
        );
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    pub task_id: String,
    #[command(flatten)]
    pub common: Common,
    /// Most messages about the task to show.
    #[arg(long, default_value_t = 20)]
    pub messages: u32,
    /// Print the whole answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `task-show`: one task's whole story (`get_task`).
pub fn show(env: &Env, args: &ShowArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.get_task(
        &ctx,
        &api::GetTask {
            task_id: args.task_id.clone(),
            message_limit: Some(args.messages),
        },
    )?;
    if args.json {
        print_json(&ans)?;
        return Ok(0);
    }
    let t = &ans.task;
    say!("{} ({}) for {}: {}", t.task_id, t.status, t.slot, t.title);
    if !t.message.is_empty() {
        say!("{}", t.message);
    }
    if let Some(l) = &ans.lease {
        say!(
            "lease: claimed {} by run {}, {} {}",
            l.claimed_at,
            l.run_id.as_deref().unwrap_or("(unnamed)"),
            if l.expired {
                "expired at"
            } else {
                "expires at"
            },
            l.expires_at
        );
    }
    if !ans.waiting_on.is_empty() {
        say!("waiting on: {}", ans.waiting_on.join(", "));
    }
    say!("history:");
    for h in &ans.history {
        say!(
            "  {} {} by {}{}",
            h.at.as_deref().unwrap_or("?"),
            h.status,
            h.by.as_deref().unwrap_or("?"),
            h.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
    }
    say!(
        "messages ({} of {}):",
        ans.messages.len(),
        ans.messages_total
    );
    for m in &ans.messages {
        say!(
            "  seq {} {} {} -> {}: {}",
            m.seq,
            m.kind,
            m.from,
            m.to,
            m.headline()
        );
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    pub task_id: String,
    #[command(flatten)]
    pub common: Common,
    /// New status (workers: active, blocked, reported; the coordinator: any).
    #[arg(long)]
    pub status: Option<String>,
    /// Commit sha.
    #[arg(long)]
    pub commit: Option<String>,
    /// A blocker (sets the status to blocked when no status is given).
    #[arg(long, allow_hyphen_values = true)]
    pub blocker: Option<String>,
    /// Tests run, comma-separated (replaces the list).
    #[arg(long)]
    pub tests: Option<String>,
    /// Progress line shown on the Focus Board.
    #[arg(long, allow_hyphen_values = true)]
    pub summary: Option<String>,
    /// The caller's run (refused when another run claimed the task).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn update(env: &Env, args: &UpdateArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.update_task(
        &ctx,
        &api::UpdateTask {
            task_id: args.task_id.clone(),
            status: args.status.clone(),
            commit: args.commit.clone(),
            blocker: args.blocker.clone(),
            tests: args
                .tests
                .as_ref()
                .map(|t| api::StrList(list(&Some(t.clone())))),
            visible_progress_summary: args.summary.clone(),
            run_id: args.run_id.clone(),
        },
    )?;
    if args.json {
        print_json(&ans)?;
    } else {
        say!("Updated task {}: {}", args.task_id, ans.task.status);
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Worker slot whose unread messages become tasks.
    pub slot: String,
    #[command(flatten)]
    pub common: Common,
    /// Say what would be imported; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the (would-be) tasks as a JSON array.
    #[arg(long)]
    pub json: bool,
}

pub fn import_inbox(env: &Env, args: &ImportArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.import_inbox_tasks(
        &ctx,
        &api::ImportInboxTasks {
            slot: args.slot.clone(),
            dry_run: args.dry_run,
        },
    )?;
    if args.json {
        print_json(&ans.imported)?;
        return Ok(0);
    }
    say!(
        "Imported {} task(s) from {} inbox{}",
        ans.imported.len(),
        args.slot,
        if args.dry_run { " (dry-run)" } else { "" }
    );
    for t in &ans.imported {
        say!("{} {}", t.task_id, t.title);
    }
    for k in &ans.skipped {
        say!("skipped {} ({}): {}", k.message_id, k.kind, k.reason);
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct RequeueArgs {
    #[command(flatten)]
    pub common: Common,
    /// Say which tasks would be requeued; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Judge the leases as of this ISO-8601 time (default now).
    #[arg(long)]
    pub checked_at: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `requeue-expired`: put active tasks whose lease expired back in their
/// slot's queue (coordinator).
pub fn requeue_expired(env: &Env, args: &RequeueArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = store.requeue_expired_leases(
        &ctx,
        &api::RequeueExpiredLeases {
            dry_run: Some(args.dry_run),
            checked_at: args.checked_at.clone(),
        },
    )?;
    if args.json {
        print_json(&ans)?;
        return Ok(0);
    }
    say!(
        "{} {} task(s) with an expired lease{}",
        if args.dry_run {
            "Would requeue"
        } else {
            "Requeued"
        },
        ans.requeued.len(),
        if ans.requeued.is_empty() { "" } else { ":" }
    );
    for t in &ans.requeued {
        say!(
            "  {} ({}, run {}, lease expired {})",
            t.task_id,
            t.slot,
            t.run_id.as_deref().unwrap_or("unnamed"),
            t.lease_expired_at
        );
    }
    Ok(0)
}
