//! Task commands: `task-create`, `task-list`, `task-update`,
//! `task-import-inbox`, all through the ledger's task operations (one task
//! record, the same queue `claim_next_task` serves).
//!
//! Fixed: `task-create` refuses an existing task id (the reference
//! overwrote it); `task-import-inbox` never turns a `task.assign` or a note
//! about an existing task into a task (the reference overwrote the task) and
//! a re-run imports nothing.

use std::path::PathBuf;

use ledger::task_inbox::{ImportInboxTasks, ListTasks};
use ledger::{api, tasks};
use serde_json::Value;

use super::{Common, Env, absolute_string, list, message_or_stdin, print_json, s};

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
    let task_id = s(&ans["task"], "task_id").to_string();
    if let Some(st) = args.status.as_deref().filter(|st| *st != "queued") {
        let upd = store.update_task(
            &ctx,
            &api::UpdateTask {
                task_id: task_id.clone(),
                status: Some(st.to_string()),
                ..api::UpdateTask::default()
            },
        )?;
        ans["task"] = upd["task"].clone();
    }
    if args.json {
        print_json(&ans)?;
    } else {
        println!("Created task {task_id} for {}", args.slot);
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
    /// Only tasks with this status.
    #[arg(long)]
    pub status: Option<String>,
    /// Print the tasks as a JSON array.
    #[arg(long)]
    pub json: bool,
}

pub fn list_tasks(env: &Env, args: &ListArgs) -> anyhow::Result<u8> {
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    if let Some(st) = &args.status
        && !tasks::STATUSES.contains(&st.as_str())
    {
        anyhow::bail!(
            "invalid --status {st:?}: must be one of {}",
            tasks::STATUSES.join(", ")
        );
    }
    let ans = store.list_tasks(
        &ctx,
        &ListTasks {
            slot: args.slot.clone(),
            status: args.status.clone(),
        },
    )?;
    let all = ans["tasks"].as_array().cloned().unwrap_or_default();
    if let Some(d) = ans["damaged"].as_array().filter(|d| !d.is_empty()) {
        eprintln!(
            "codenator: warning: {} damaged task file(s) skipped (run `codenator doctor`)",
            d.len()
        );
    }
    if args.json {
        print_json(&Value::Array(all))?;
        return Ok(0);
    }
    if all.is_empty() {
        println!("Tasks: empty");
        return Ok(0);
    }
    println!("Tasks: {}", all.len());
    let w = |k: &str| {
        all.iter()
            .map(|t| s(t, k).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (wi, ws, wt) = (w("task_id"), w("slot"), w("status"));
    for t in &all {
        println!(
            "{:<wi$}  {:<ws$}  {:<wt$}  {}",
            s(t, "task_id"),
            s(t, "slot"),
            s(t, "status"),
            s(t, "title")
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
        println!(
            "Updated task {}: {}",
            args.task_id,
            s(&ans["task"], "status")
        );
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
        &ImportInboxTasks {
            slot: args.slot.clone(),
            dry_run: args.dry_run,
        },
    )?;
    let imported = ans["imported"].as_array().cloned().unwrap_or_default();
    if args.json {
        print_json(&Value::Array(imported))?;
        return Ok(0);
    }
    println!(
        "Imported {} task(s) from {} inbox{}",
        imported.len(),
        args.slot,
        if args.dry_run { " (dry-run)" } else { "" }
    );
    for t in &imported {
        println!("{} {}", s(t, "task_id"), s(t, "title"));
    }
    for k in ans["skipped"].as_array().into_iter().flatten() {
        println!(
            "skipped {} ({}): {}",
            s(k, "message_id"),
            s(k, "type"),
            s(k, "reason")
        );
    }
    Ok(0)
}
