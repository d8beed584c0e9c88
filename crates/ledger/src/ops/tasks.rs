//! `create_task`, `claim_next_task`, `update_task` and
//! `requeue_expired_leases`: the task queue.

use serde_json::json;

use crate::api::{
    self, ClaimNextTaskResponse, ConsumedNotice, CreateTaskResponse, RequeueExpiredResponse,
    RequeuedTask, UpdateTaskResponse, WaitingTask,
};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::index::inbox;
use crate::index::work::{self, WorkChange};
use crate::model::ids::{self, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::message::TASK_ASSIGN;
use crate::model::{Blocker, Lease, SlotId, StatusChange, Task, TaskId, TaskStatus};
use crate::records;
use crate::store::{Store, WriteTxn};
use crate::time;
use crate::views::slot_health;

use super::messages::{Draft, append};
use super::{nonempty, opt_worktree, text_opt};

/// Lease length when a claim names none (30 minutes), and the longest
/// allowed (a day).
pub const DEFAULT_LEASE_SECONDS: u64 = 30 * 60;
pub const MAX_LEASE_SECONDS: u64 = 24 * 60 * 60;

/// Refuse a signal from a run other than the one that claimed the task.
pub(crate) fn check_run(task: &Task, run_id: Option<&str>) -> Result<()> {
    match (
        task.claimed_run_id.as_deref(),
        run_id.filter(|s| !s.is_empty()),
    ) {
        (Some(claimed), Some(given)) if claimed != given => Err(Error::conflict(
            "stale_run",
            format!(
                "task {:?} was claimed by run {claimed:?}; a signal from run {given:?} cannot act on it",
                task.task_id
            ),
        )),
        _ => Ok(()),
    }
}

/// A change made now by `by`.
pub(crate) fn change(by: &SlotId, now: &str, run_id: Option<&str>) -> StatusChange {
    StatusChange {
        at: Some(now.to_string()),
        by: Some(by.to_string()),
        run_id: run_id.filter(|s| !s.is_empty()).map(str::to_owned),
        ..StatusChange::default()
    }
}

/// End a task's claim (it goes back to the queue): the old run's late
/// reports are refused once a new run claims it.
fn end_claim(task: &mut Task) {
    task.claimed_run_id = None;
    task.lease = None;
}

/// A checked claim.
pub(crate) struct ClaimCmd {
    slot: SlotId,
    run_id: Option<String>,
    lease_seconds: u64,
}

impl ClaimCmd {
    pub fn new(slot: SlotId, run_id: Option<String>, lease_seconds: Option<u64>) -> ClaimCmd {
        ClaimCmd {
            slot,
            run_id,
            lease_seconds: lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS),
        }
    }
}

/// Claim the slot's oldest claimable task (in a write transaction).
pub(crate) fn claim_in(txn: &WriteTxn, cmd: &ClaimCmd) -> Result<ClaimNextTaskResponse> {
    let idx = work::load(txn)?;
    let mut waiting = Vec::new();
    let mut chosen = None;
    // Walk the queue only as far as the first claimable task.
    for row in idx.queue_of(&cmd.slot) {
        if !row.status.is_claimable() {
            continue;
        }
        let unmet = idx.unmet_dependencies(txn, row);
        if unmet.is_empty() {
            chosen = Some(row.task_id.clone());
            break;
        }
        waiting.push(WaitingTask {
            task_id: row.task_id.clone(),
            waiting_on: unmet,
        });
    }
    let active: Vec<String> = idx
        .active_of(&cmd.slot)
        .map(|r| r.task_id.clone())
        .collect();
    let nothing = |waiting, active| ClaimNextTaskResponse {
        task: None,
        claimed: false,
        messages: vec![],
        waiting_on_dependencies: waiting,
        active_task_ids: active,
        lease_expires_at: None,
    };
    let Some(task_id) = chosen.and_then(|t| TaskId::stored(&t)) else {
        return Ok(nothing(waiting, active));
    };
    let old = records::tasks::require(txn, &task_id)?;
    if old.slot != cmd.slot.as_str() || !old.status.is_claimable() {
        // The index disagreed with the file: trust the file, rebuild.
        let fresh = work::rebuild(txn);
        WorkChange::begin(txn, fresh)?.commit()?;
        return Err(Error::conflict(
            "index_stale",
            "the task index was stale and has been rebuilt; call claim_next_task again",
        ));
    }
    let mut task = old.clone();
    let now = time::now();
    task.set_status(
        TaskStatus::Active,
        change(&cmd.slot, &now, cmd.run_id.as_deref()),
    );
    task.updated_at = Some(now.clone());
    task.claimed_run_id = cmd.run_id.clone();
    task.lease = Some(Lease {
        claimed_at: now,
        renewed_at: None,
        seconds: cmd.lease_seconds,
    });
    let mut ch = WorkChange::begin(txn, (*idx).clone())?;
    records::tasks::save(txn, &task)?;
    ch.apply(Some(&old), &task);
    ch.commit()?;
    // Consume the task's own assignment message, and only that one.
    let cur = records::cursors::load(txn, &cmd.slot)?;
    let seqs: Vec<u64> = match task.assign_seq {
        Some(seq) => vec![seq],
        // A task written by the reference has no assign_seq: its
        // task.assign is found among the task's own messages (the per-task
        // index), not by reading every unread message of the slot.
        None => {
            let view = inbox::sync_index(txn)?;
            let (about, _) = view.task_messages(txn, &task_id, usize::MAX)?;
            about
                .iter()
                .filter(|m| m.kind == TASK_ASSIGN && m.to == cmd.slot.as_str())
                .map(|m| m.seq)
                .collect()
        }
    };
    let fresh: Vec<u64> = seqs.into_iter().filter(|s| !cur.is_read(*s)).collect();
    if !fresh.is_empty() {
        records::cursors::advance(txn, &cmd.slot, 0, &fresh)?;
    }
    let lease_expires_at = task
        .lease
        .as_ref()
        .and_then(slot_health::lease_expiry)
        .map(time::format);
    Ok(ClaimNextTaskResponse {
        messages: fresh
            .into_iter()
            .map(|seq| ConsumedNotice {
                seq,
                kind: TASK_ASSIGN.into(),
                task_id: task.task_id.clone(),
            })
            .collect(),
        task: Some(task),
        claimed: true,
        waiting_on_dependencies: waiting,
        active_task_ids: active,
        lease_expires_at,
    })
}

/// A checked `create_task`.
pub(crate) struct CreateCmd {
    slot: SlotId,
    task_id: TaskId,
    req: api::CreateTask,
    subject: String,
    summary: String,
    worktree: Option<String>,
}

pub(crate) fn check_create(req: &api::CreateTask) -> Result<CreateCmd> {
    let slot = SlotId::worker("slot", &req.slot)?;
    ids::text("title", &req.title, MAX_TITLE_LEN)?;
    if req.title.trim().is_empty() {
        return Err(Error::invalid("title", "must not be empty"));
    }
    ids::text("message", &req.message, MAX_TEXT_LEN)?;
    let subject = text_opt("subject", &req.subject, MAX_TITLE_LEN)?;
    for (f, v) in [("project", &req.project), ("branch", &req.branch)] {
        text_opt(f, v, MAX_TITLE_LEN)?;
    }
    let summary = text_opt(
        "visible_progress_summary",
        &req.visible_progress_summary,
        MAX_TITLE_LEN,
    )?;
    for (f, v) in [
        ("milestone_id", &req.milestone_id),
        ("lane_id", &req.lane_id),
    ] {
        if let Some(id) = v.as_deref().filter(|s| !s.is_empty()) {
            ids::short_id(f, id)?;
        }
    }
    ids::list("dependency_ids", &req.dependency_ids.0)?;
    for d in &req.dependency_ids.0 {
        ids::long_id("dependency_ids", d)?;
    }
    ids::list("acceptance_criteria", &req.acceptance_criteria.0)?;
    ids::list("required_receipts", &req.required_receipts.0)?;
    let worktree = opt_worktree(&req.worktree)?;
    let task_id = match req.task_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => TaskId::parse("task_id", id)?,
        None => {
            let u = uuid::Uuid::new_v4().simple().to_string();
            TaskId::parse(
                "task_id",
                &format!("{}-{}-{}", slot, time::compact(&time::now()), &u[..6]),
            )?
        }
    };
    if req.dependency_ids.0.iter().any(|d| d == task_id.as_str()) {
        return Err(Error::invalid(
            "dependency_ids",
            "a task cannot depend on itself",
        ));
    }
    Ok(CreateCmd {
        slot,
        task_id,
        req: req.clone(),
        subject,
        summary,
        worktree,
    })
}

/// Create a task (in a write transaction).
pub(crate) fn create_in(txn: &WriteTxn, ctx: &Ctx, cmd: CreateCmd) -> Result<CreateTaskResponse> {
    let CreateCmd {
        slot,
        task_id,
        req,
        subject,
        summary,
        worktree,
    } = cmd;
    if records::tasks::exists(txn, &task_id) {
        return Err(Error::conflict(
            "task_id_exists",
            format!(
                "task {:?} already exists; task ids are never overwritten (use update_task)",
                task_id.as_str()
            ),
        ));
    }
    let reg = records::registry::load(txn)?;
    let entry = reg.entry_or_default(&slot);
    let or_registry = |v: &Option<String>, reg: &str| {
        v.clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| reg.to_string())
    };
    let now = time::now();
    let mut task = Task {
        version: 2,
        task_id: task_id.to_string(),
        slot: slot.to_string(),
        title: req.title.clone(),
        subject: if subject.is_empty() {
            req.title.clone()
        } else {
            subject
        },
        project: or_registry(&req.project, &entry.project),
        branch: or_registry(&req.branch, &entry.branch),
        worktree: worktree.unwrap_or_else(|| entry.worktree.clone()),
        message: req.message.clone(),
        created_by: ctx.caller.slot().to_string(),
        assigned_at: Some(now.clone()),
        milestone_id: req.milestone_id.clone().filter(|s| !s.is_empty()),
        lane_id: req.lane_id.clone().filter(|s| !s.is_empty()),
        dependency_ids: req.dependency_ids.0.clone(),
        acceptance_criteria: req.acceptance_criteria.0.clone(),
        required_receipts: req.required_receipts.0.clone(),
        visible_progress_summary: summary,
        next_policy: "claim_via_mcp_then_report_commit".into(),
        created_at: Some(now.clone()),
        updated_at: Some(now.clone()),
        ..Task::default()
    };
    task.set_status(TaskStatus::Queued, change(ctx.caller.slot(), &now, None));
    let idx = work::load(txn)?;
    let mut ch = WorkChange::begin(txn, (*idx).clone())?;
    // The task.assign first, then the task file: a crash in between leaves
    // a notice of a task that does not exist (doctor marks it read), never
    // a task whose assign_seq names another message (which its claim would
    // consume).
    let mut payload = crate::model::Payload::new();
    for (k, v) in [
        ("task_id", json!(task.task_id)),
        ("title", json!(task.title)),
        ("status", json!(task.status)),
        ("branch", json!(task.branch)),
        ("worktree", json!(task.worktree)),
    ] {
        payload.insert(k.into(), v);
    }
    let message = append(
        txn,
        Draft {
            kind: TASK_ASSIGN,
            from: ctx.caller.slot(),
            to: &slot,
            subject: &task.subject,
            message: &task.message,
            task_id: Some(&task.task_id),
            payload,
            cwd: "",
        },
    )?;
    task.assign_seq = Some(message.seq);
    records::tasks::save(txn, &task)?;
    ch.apply(None, &task);
    ch.commit()?;
    Ok(CreateTaskResponse {
        task,
        message,
        slot_registered: reg.is_registered(&slot),
    })
}

impl Store {
    /// `create_task`: queue a task for a slot and send it the `task.assign`.
    pub fn create_task(&self, ctx: &Ctx, req: &api::CreateTask) -> Result<CreateTaskResponse> {
        ctx.caller.require_coordinator("create_task")?;
        let cmd = check_create(req)?;
        self.transact(|txn| create_in(txn, ctx, cmd))
    }

    /// `claim_next_task`: claim the slot's oldest claimable queued task
    /// (dependencies integrated), atomically, consuming only its
    /// `task.assign`. The claim carries a lease.
    pub fn claim_next_task(
        &self,
        ctx: &Ctx,
        req: &api::ClaimNextTask,
    ) -> Result<ClaimNextTaskResponse> {
        let slot = SlotId::parse("slot", &req.slot)?;
        ctx.caller.require_self(&slot, "claim tasks", false)?;
        let run_id = nonempty("run_id", &req.run_id, MAX_TITLE_LEN)?;
        let lease_seconds = match req.lease_minutes {
            None => None,
            Some(m) if m.is_finite() && m > 0.0 && m * 60.0 <= MAX_LEASE_SECONDS as f64 => {
                Some(((m * 60.0).round() as u64).max(1))
            }
            Some(m) => {
                return Err(Error::invalid(
                    "lease_minutes",
                    format!(
                        "must be more than 0 and at most {} (got {m})",
                        MAX_LEASE_SECONDS / 60
                    ),
                ));
            }
        };
        self.transact(|txn| claim_in(txn, &ClaimCmd::new(slot, run_id, lease_seconds)))
    }

    /// `update_task`: change a task's status, commit, tests or blockers.
    pub fn update_task(&self, ctx: &Ctx, req: &api::UpdateTask) -> Result<UpdateTaskResponse> {
        self.transact(|txn| update_task_in(txn, ctx, req))
    }

    /// `requeue_expired_leases` (coordinator only): put every active task
    /// whose claim expired back in its slot's queue, ending the old run's
    /// claim, as requeueing with `update_task` does.
    pub fn requeue_expired_leases(
        &self,
        ctx: &Ctx,
        req: &api::RequeueExpiredLeases,
    ) -> Result<RequeueExpiredResponse> {
        ctx.caller.require_coordinator("requeue_expired_leases")?;
        let (now, checked_at) = crate::views::checked_at(req.checked_at.as_deref())?;
        let dry_run = req.dry_run.unwrap_or(false);
        let txn = self.write()?;
        let idx = work::load(&txn)?;
        let mut expired = Vec::new();
        for row in idx.active_rows() {
            let Some(id) = TaskId::stored(&row.task_id) else {
                continue;
            };
            let task = records::tasks::require(&txn, &id)?;
            let expiry = slot_health::effective_lease(&task.status, &task.lease, &task.started_at)
                .and_then(|l| slot_health::lease_expiry(&l));
            if let Some(at) = expiry.filter(|at| *at < now) {
                expired.push((task, at));
            }
        }
        let requeued = expired
            .iter()
            .map(|(t, at)| RequeuedTask {
                task_id: t.task_id.clone(),
                slot: t.slot.clone(),
                run_id: t.claimed_run_id.clone(),
                lease_expired_at: time::format(*at),
            })
            .collect();
        if !dry_run && !expired.is_empty() {
            let stamp = time::now();
            let mut ch = WorkChange::begin(&txn, (*idx).clone())?;
            for (old, at) in &expired {
                let mut task = old.clone();
                let mut c = change(ctx.caller.slot(), &stamp, None);
                c.note = Some(format!(
                    "lease expired at {} (run {})",
                    time::format(*at),
                    old.claimed_run_id.as_deref().unwrap_or("unnamed")
                ));
                task.set_status(TaskStatus::Queued, c);
                end_claim(&mut task);
                task.updated_at = Some(stamp.clone());
                records::tasks::save(&txn, &task)?;
                ch.apply(Some(old), &task);
            }
            ch.commit()?;
        }
        txn.commit()?;
        Ok(RequeueExpiredResponse {
            checked_at,
            dry_run,
            requeued,
        })
    }
}

/// Renew the leases of the slot's active tasks that `hb` renews (see
/// [`slot_health::renews`]), in the heartbeat's transaction. Returns how
/// many it renewed.
pub(crate) fn renew_leases(
    txn: &WriteTxn,
    slot: &SlotId,
    hb: &crate::model::Heartbeat,
) -> Result<usize> {
    let idx = work::load(txn)?;
    // The active tasks, not the slot's whole queue: a heartbeat's cost must
    // not grow with the work queued for the slot.
    let due: Vec<TaskId> = idx
        .active_of(slot)
        .filter(|r| slot_health::renews(hb, slot, r.claimed_run_id.as_deref()))
        .filter_map(|r| TaskId::stored(&r.task_id))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let mut ch = WorkChange::begin(txn, (*idx).clone())?;
    for id in &due {
        let old = records::tasks::require(txn, id)?;
        let mut task = old.clone();
        if let Some(mut lease) =
            slot_health::effective_lease(&task.status, &task.lease, &task.started_at)
        {
            lease.renewed_at = hb.checked_at.clone();
            task.lease = Some(lease);
        }
        records::tasks::save(txn, &task)?;
        ch.apply(Some(&old), &task);
    }
    ch.commit()?;
    Ok(due.len())
}

/// `update_task` inside a caller's write transaction (a job claims and
/// reports its task in the transactions that start and end it).
pub fn update_task_in(
    txn: &WriteTxn,
    ctx: &Ctx,
    req: &api::UpdateTask,
) -> Result<UpdateTaskResponse> {
    let task_id = TaskId::parse("task_id", &req.task_id)?;
    let status = match req.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(TaskStatus::parse("status", s)?),
        None => None,
    };
    let commit = text_opt("commit", &req.commit, 200)?;
    let blocker = text_opt("blocker", &req.blocker, MAX_TEXT_LEN)?;
    let summary = text_opt(
        "visible_progress_summary",
        &req.visible_progress_summary,
        MAX_TITLE_LEN,
    )?;
    if let Some(t) = &req.tests {
        ids::list("tests", &t.0)?;
    }
    let old = records::tasks::require(txn, &task_id)?;
    if !ctx.caller.is_coordinator() {
        ctx.caller.require_self(&old.slot, "update tasks", false)?;
        if let Some(s) = status.as_ref().filter(|s| !s.worker_may_set()) {
            return Err(Error::forbidden(
                "coordinator_only",
                format!(
                    "only the coordinator sets a task to {:?}; a worker may set active, blocked or reported",
                    s.as_str()
                ),
            ));
        }
    }
    check_run(&old, req.run_id.as_deref())?;
    let mut task = old.clone();
    let now = time::now();
    if !commit.is_empty() {
        task.commit = Some(commit);
    }
    if let Some(t) = &req.tests {
        task.tests = t.0.clone();
    }
    if !summary.is_empty() {
        task.visible_progress_summary = summary;
    }
    let mut new_status = status;
    if !blocker.is_empty() {
        task.blockers.push(Blocker {
            message: blocker,
            recorded_at: Some(now.clone()),
            ..Blocker::default()
        });
        new_status.get_or_insert(TaskStatus::Blocked);
    }
    if let Some(s) = new_status {
        task.set_status(s, change(ctx.caller.slot(), &now, req.run_id.as_deref()));
    }
    if task.status.is_claimable() && !old.status.is_claimable() {
        // Requeued (a dead run's task taken back): the old run's claim
        // ends here.
        end_claim(&mut task);
    }
    task.updated_at = Some(now);
    let idx = work::load(txn)?;
    let mut ch = WorkChange::begin(txn, (*idx).clone())?;
    records::tasks::save(txn, &task)?;
    ch.apply(Some(&old), &task);
    let idx = ch.commit()?;
    let current = idx.current(&task.slot);
    Ok(UpdateTaskResponse {
        slot_current_task_id: current.map(|r| r.task_id.clone()),
        slot_current_task_status: current.map(|r| r.status.clone()),
        task,
    })
}
