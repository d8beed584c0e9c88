//! The ledger's operations: one function per MCP tool, shared by the CLI.
//!
//! Each mutation takes the exclusive lock, re-reads what it changes, writes
//! primary records durably, then updates derived indexes. Each read takes
//! the shared lock and never writes. Answers are JSON objects sized for a
//! model's context: long lists are limited and say how many were left out.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::api;
use crate::caller::Caller;
use crate::cursor;
use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
use crate::ids::{self, BROADCAST, COORDINATOR, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::messages::{self, RESERVED_TYPES};
use crate::registry::{opt_field, str_field};
use crate::store::Store;
use crate::tasks::{self, Task};
use crate::time;

/// Who calls, and from which Codex thread (when Codex said).
#[derive(Clone, Debug)]
pub struct Ctx {
    pub caller: Caller,
    pub thread_id: Option<String>,
}

impl Ctx {
    pub fn new(caller: Caller) -> Ctx {
        Ctx {
            caller,
            thread_id: None,
        }
    }
}

pub(crate) fn limit(v: Option<u32>, default: usize) -> usize {
    v.map(|n| n as usize).unwrap_or(default).clamp(1, 200)
}

fn text_opt(field: &str, v: &Option<String>, max: usize) -> Result<String> {
    let s = v.clone().unwrap_or_default();
    ids::text(field, &s, max)?;
    Ok(s)
}

fn abs_path(field: &str, v: &str) -> Result<String> {
    ids::text(field, v, 4096)?;
    if v.contains('\n') || !Path::new(v).is_absolute() {
        return Err(Error::invalid(
            field,
            format!("must be an absolute path on one line (got {v:?})"),
        ));
    }
    Ok(v.replace('\\', "/"))
}

const SLOT_STATUSES: &[&str] = &["active", "paused", "parked"];
const HEARTBEAT_STATUSES: &[&str] = &["ok", "failed", "stale"];

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be one of {} (got {v:?})", allowed.join(", ")),
        ))
    }
}

impl Store {
    /// `register_slot`: upsert a slot. A worker may register only itself.
    pub fn register_slot(&self, ctx: &Ctx, req: &api::RegisterSlot) -> Result<Value> {
        ids::slot("slot", &req.slot)?;
        if req.slot == BROADCAST {
            return Err(Error::invalid("slot", "`all` is the broadcast address"));
        }
        ctx.caller.require_self(&req.slot, "register", true)?;
        for (f, v) in [
            ("project", &req.project),
            ("focus", &req.focus),
            ("identity", &req.identity),
            ("branch", &req.branch),
            ("run_id", &req.run_id),
            ("app_server_thread_id", &req.app_server_thread_id),
            ("app_server_url", &req.app_server_url),
        ] {
            text_opt(f, v, MAX_TITLE_LEN)?;
        }
        if let Some(s) = req.status.as_deref().filter(|s| !s.is_empty()) {
            one_of("status", s, SLOT_STATUSES)?;
        }
        let worktree = match req.worktree.as_deref().filter(|s| !s.is_empty()) {
            Some(w) => Some(abs_path("worktree", w)?),
            None => None,
        };
        let _lock = self.lock_exclusive()?;
        let mut reg = self.registry()?;
        let e = reg.entry_mut(&req.slot);
        let merge = |e: &mut Map<String, Value>, key: &str, new: Option<String>, default: &str| {
            let prev = opt_field(e, key);
            let v = new
                .filter(|s| !s.is_empty())
                .or(prev)
                .unwrap_or_else(|| default.to_string());
            e.insert(key.into(), json!(v));
        };
        e.insert("slot".into(), json!(req.slot));
        merge(e, "identity", req.identity.clone(), "developer");
        merge(e, "project", req.project.clone(), "");
        merge(e, "focus", req.focus.clone(), "");
        merge(e, "worktree", worktree, "");
        merge(e, "branch", req.branch.clone(), "");
        merge(e, "status", req.status.clone(), "active");
        if req.slot != COORDINATOR {
            e.insert("inbox".into(), json!(format!("cursors/{}.json", req.slot)));
        }
        if let Some(r) = req.run_id.clone().filter(|s| !s.is_empty()) {
            e.insert("run_id".into(), json!(r));
        } else {
            e.entry("run_id").or_insert(Value::Null);
        }
        for (key, v) in [
            ("app_server_thread_id", &req.app_server_thread_id),
            ("app_server_url", &req.app_server_url),
        ] {
            match v {
                Some(s) if !s.is_empty() => {
                    e.insert(key.into(), json!(s));
                }
                Some(_) => {
                    e.insert(key.into(), Value::Null);
                }
                None => {
                    e.entry(key).or_insert(Value::Null);
                }
            }
        }
        e.insert("updated_at".into(), json!(time::now()));
        // Only a session registering itself binds its thread: the
        // coordinator registering a worker must not bind its own thread to it.
        if let Some(t) = ctx
            .thread_id
            .as_deref()
            .filter(|_| ctx.caller.slot() == req.slot)
        {
            reg.bind_thread(&req.slot, t);
        }
        let e = reg.entry_mut(&req.slot);
        let entry = Value::Object(e.clone());
        reg.save(self)?;
        Ok(json!({ "slot": entry }))
    }

    /// `send_message`: append a message to the ledger.
    pub fn send_message(&self, ctx: &Ctx, req: &api::SendMessage) -> Result<Value> {
        ids::slot("to", &req.to)?;
        let from = req
            .from
            .clone()
            .unwrap_or_else(|| ctx.caller.slot().to_string());
        if from != ctx.caller.slot() {
            return Err(Error::forbidden(
                "no_impersonation",
                format!(
                    "this session is slot {:?} and may not send as {from:?}",
                    ctx.caller.slot()
                ),
            ));
        }
        let kind = req
            .kind
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "message".into());
        ids::short_id("type", &kind)?;
        if RESERVED_TYPES.contains(&kind.as_str()) {
            return Err(Error::forbidden(
                "reserved_type",
                format!(
                    "messages of type {kind:?} are written only by their own tool (create_task, report_commit, record_summary_pause)"
                ),
            ));
        }
        let subject = text_opt("subject", &req.subject, MAX_TITLE_LEN)?;
        ids::text("message", &req.message, MAX_TEXT_LEN)?;
        if let Some(t) = &req.task_id {
            ids::long_id("task_id", t)?;
        }
        let payload = Value::Object(req.payload.clone().unwrap_or_default());
        ids::payload("payload", &payload)?;
        let _lock = self.lock_exclusive()?;
        let registered = req.to == BROADCAST || self.registry()?.is_registered(&req.to);
        let msg = self.append_message(
            &kind,
            &from,
            &req.to,
            &subject,
            &req.message,
            req.task_id.as_deref(),
            payload,
            "",
        )?;
        Ok(json!({ "message": msg, "recipient_registered": registered }))
    }

    /// Build and append one ledger message (exclusive lock held).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_message(
        &self,
        kind: &str,
        from: &str,
        to: &str,
        subject: &str,
        message: &str,
        task_id: Option<&str>,
        payload: Value,
        cwd: &str,
    ) -> Result<Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(messages::new_id("msg")));
        m.insert("type".into(), json!(kind));
        m.insert("from".into(), json!(from));
        m.insert("to".into(), json!(to));
        m.insert("subject".into(), json!(subject));
        m.insert("message".into(), json!(message));
        m.insert("task_id".into(), json!(task_id));
        m.insert("payload".into(), payload);
        m.insert("created_at".into(), json!(time::now()));
        m.insert("cwd".into(), json!(cwd));
        Ok(Value::Object(messages::append(self, m)?))
    }

    /// `read_inbox`: unread messages of a slot, oldest first, and (by
    /// default) advance its cursor past the ones returned.
    pub fn read_inbox(&self, ctx: &Ctx, req: &api::ReadInbox) -> Result<Value> {
        ids::slot("slot", &req.slot)?;
        ctx.caller.require_self(&req.slot, "read the inbox", true)?;
        let lim = limit(req.limit, 50);
        let mark = req.mark_read.unwrap_or(true);
        let (_lock, view) = if mark {
            let l = self.lock_exclusive()?;
            (l, messages::sync_index(self)?)
        } else {
            let l = self.lock_shared()?;
            (l, messages::view(self)?)
        };
        let cur = cursor::load(self, &req.slot)?;
        let (msgs, total) = view.unread(self, &req.slot, &cur, lim)?;
        let mut remaining = total;
        if mark && !msgs.is_empty() {
            let top = msgs
                .iter()
                .filter_map(|m| m.get("seq").and_then(Value::as_u64))
                .max()
                .unwrap_or(0);
            cursor::advance(self, &req.slot, top, &[])?;
            remaining = total.saturating_sub(msgs.len());
        }
        Ok(json!({
            "slot": req.slot,
            "unread_count": total,
            "returned": msgs.len(),
            "remaining_unread": remaining,
            "marked_read": mark && !msgs.is_empty(),
            "messages": msgs,
        }))
    }

    /// `create_task`: queue a task for a slot and send it the `task.assign`.
    pub fn create_task(&self, ctx: &Ctx, req: &api::CreateTask) -> Result<Value> {
        ctx.caller.require_coordinator("create_task")?;
        ids::worker_slot("slot", &req.slot)?;
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
        let worktree = match req.worktree.as_deref().filter(|s| !s.is_empty()) {
            Some(w) => Some(abs_path("worktree", w)?),
            None => None,
        };
        let now = time::now();
        let task_id = match req.task_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => {
                ids::long_id("task_id", id)?;
                id.to_string()
            }
            None => {
                let u = uuid::Uuid::new_v4().simple().to_string();
                format!("{}-{}-{}", req.slot, time::compact(&now), &u[..6])
            }
        };
        if req.dependency_ids.0.contains(&task_id) {
            return Err(Error::invalid(
                "dependency_ids",
                "a task cannot depend on itself",
            ));
        }

        let _lock = self.lock_exclusive()?;
        if tasks::task_path(self, &task_id).exists() {
            return Err(Error::conflict(
                "task_id_exists",
                format!(
                    "task {task_id:?} already exists; task ids are never overwritten (use update_task)"
                ),
            ));
        }
        let reg = self.registry()?;
        let entry = reg.entry(&req.slot).cloned().unwrap_or_default();
        let from_reg = |v: &Option<String>, key: &str| {
            v.clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| str_field(&entry, key).to_string())
        };
        let mut idx = tasks::load_index(self, true)?;
        let task = Task {
            version: 2,
            task_id: task_id.clone(),
            slot: req.slot.clone(),
            title: req.title.clone(),
            subject: if subject.is_empty() {
                req.title.clone()
            } else {
                subject
            },
            status: "queued".into(),
            project: from_reg(&req.project, "project"),
            branch: from_reg(&req.branch, "branch"),
            worktree: worktree.unwrap_or_else(|| str_field(&entry, "worktree").to_string()),
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
            updated_at: Some(now),
            ..Task::default()
        };
        tasks::begin(self)?;
        // The task.assign first, then the task file: a crash in between
        // leaves a notice of a task that does not exist, never a task whose
        // assign_seq names another message (which its claim would consume).
        let payload = json!({
            "task_id": task.task_id, "title": task.title, "status": task.status,
            "branch": task.branch, "worktree": task.worktree,
        });
        let msg = self.append_message(
            "task.assign",
            ctx.caller.slot(),
            &req.slot,
            &task.subject,
            &task.message,
            Some(&task.task_id),
            payload,
            "",
        )?;
        let mut task = task;
        task.assign_seq = msg.get("seq").and_then(Value::as_u64);
        tasks::save(self, &task)?;
        idx.apply(None, &task);
        tasks::commit(self, &mut idx)?;
        Ok(json!({
            "task": task.to_json(),
            "message": msg,
            "slot_registered": reg.is_registered(&req.slot),
        }))
    }

    /// `claim_next_task`: claim the slot's oldest claimable queued task
    /// (dependencies integrated), atomically, consuming only its `task.assign`.
    pub fn claim_next_task(&self, ctx: &Ctx, req: &api::ClaimNextTask) -> Result<Value> {
        ids::slot("slot", &req.slot)?;
        ctx.caller.require_self(&req.slot, "claim tasks", false)?;
        text_opt("run_id", &req.run_id, MAX_TITLE_LEN)?;
        let _lock = self.lock_exclusive()?;
        let mut idx = tasks::load_index(self, true)?;
        let mut waiting = Vec::new();
        let mut chosen = None;
        for row in idx.open_for(&req.slot) {
            if !tasks::is_claimable_status(&row.status) {
                continue;
            }
            let unmet = tasks::unmet_dependencies(self, &idx, row)?;
            if unmet.is_empty() {
                chosen = Some(row.task_id.clone());
                break;
            }
            waiting.push(json!({"task_id": row.task_id, "waiting_on": unmet}));
        }
        let active: Vec<String> = idx
            .open_for(&req.slot)
            .iter()
            .filter(|r| r.status == "active")
            .map(|r| r.task_id.clone())
            .collect();
        let Some(task_id) = chosen else {
            return Ok(json!({
                "task": Value::Null, "claimed": false, "messages": [],
                "waiting_on_dependencies": waiting, "active_task_ids": active,
            }));
        };
        let old = tasks::require(self, &task_id)?;
        if old.slot != req.slot || !tasks::is_claimable_status(&old.status) {
            // The index disagreed with the file: trust the file, rebuild.
            let mut fresh = tasks::rebuild(self)?;
            tasks::commit(self, &mut fresh)?;
            return Err(Error::conflict(
                "index_stale",
                "the task index was stale and has been rebuilt; call claim_next_task again",
            ));
        }
        let mut task = old.clone();
        let now = time::now();
        task.status = "active".into();
        if task.started_at.is_none() {
            task.started_at = Some(now.clone());
        }
        task.updated_at = Some(now);
        task.claimed_run_id = req.run_id.clone().filter(|s| !s.is_empty());
        tasks::begin(self)?;
        tasks::save(self, &task)?;
        idx.apply(Some(&old), &task);
        tasks::commit(self, &mut idx)?;
        // Consume the task's own assignment message, and only that one.
        let mut consumed = Vec::new();
        let cur = cursor::load(self, &req.slot)?;
        let seqs: Vec<u64> = match task.assign_seq {
            Some(seq) => vec![seq],
            // A task written by the reference has no assign_seq: its
            // task.assign is found among the slot's unread messages.
            None => {
                let view = messages::sync_index(self)?;
                let (unread, _) = view.unread(self, &req.slot, &cur, usize::MAX)?;
                unread
                    .iter()
                    .filter(|m| m.get("type").and_then(Value::as_str) == Some("task.assign"))
                    .filter(|m| {
                        m.get("task_id").and_then(Value::as_str) == Some(task.task_id.as_str())
                    })
                    .filter_map(|m| m.get("seq").and_then(Value::as_u64))
                    .collect()
            }
        };
        let fresh: Vec<u64> = seqs.into_iter().filter(|s| !cur.is_read(*s)).collect();
        if !fresh.is_empty() {
            cursor::advance(self, &req.slot, 0, &fresh)?;
            for seq in fresh {
                consumed.push(json!({"seq": seq, "type": "task.assign", "task_id": task.task_id}));
            }
        }
        Ok(json!({
            "task": task.to_json(), "claimed": true, "messages": consumed,
            "waiting_on_dependencies": waiting, "active_task_ids": active,
        }))
    }

    /// `update_task`: change a task's status, commit, tests or blockers.
    pub fn update_task(&self, ctx: &Ctx, req: &api::UpdateTask) -> Result<Value> {
        ids::long_id("task_id", &req.task_id)?;
        if let Some(s) = req.status.as_deref().filter(|s| !s.is_empty()) {
            one_of("status", s, tasks::STATUSES)?;
        }
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
        let _lock = self.lock_exclusive()?;
        let old = tasks::require(self, &req.task_id)?;
        if !ctx.caller.is_coordinator() {
            ctx.caller.require_self(&old.slot, "update tasks", false)?;
            if let Some(s) = req
                .status
                .as_deref()
                .filter(|s| !s.is_empty() && !matches!(*s, "active" | "blocked" | "reported"))
            {
                return Err(Error::forbidden(
                    "coordinator_only",
                    format!(
                        "only the coordinator sets a task to {s:?}; a worker may set active, blocked or reported"
                    ),
                ));
            }
        }
        check_run(&old, req.run_id.as_deref())?;
        let mut task = old.clone();
        let now = time::now();
        if let Some(s) = req.status.as_deref().filter(|s| !s.is_empty()) {
            task.status = s.to_string();
        }
        if !commit.is_empty() {
            task.commit = Some(commit);
        }
        if let Some(t) = &req.tests {
            task.tests = t.0.clone();
        }
        if !summary.is_empty() {
            task.visible_progress_summary = summary;
        }
        if !blocker.is_empty() {
            task.blockers
                .push(json!({"message": blocker, "recorded_at": now}));
            if req.status.as_deref().is_none_or(str::is_empty) {
                task.status = "blocked".into();
            }
        }
        stamp_status(&mut task, &now);
        if tasks::is_claimable_status(&task.status) && !tasks::is_claimable_status(&old.status) {
            // Requeued (a dead run's task taken back): the old run's claim
            // ends here, so its late reports are refused once a new run claims.
            task.claimed_run_id = None;
        }
        task.updated_at = Some(now);
        let mut idx = tasks::load_index(self, true)?;
        tasks::begin(self)?;
        tasks::save(self, &task)?;
        idx.apply(Some(&old), &task);
        tasks::commit(self, &mut idx)?;
        let (ptr, st) = idx.pointer(&task.slot);
        Ok(json!({
            "task": task.to_json(),
            "slot_current_task_id": ptr.map(|r| r.task_id.clone()),
            "slot_current_task_status": st,
        }))
    }

    /// `record_heartbeat`: a slot says it is alive (or failing).
    pub fn record_heartbeat(&self, ctx: &Ctx, req: &api::RecordHeartbeat) -> Result<Value> {
        ids::slot("slot", &req.slot)?;
        ctx.caller
            .require_self(&req.slot, "record a heartbeat", false)?;
        let status = req
            .status
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "ok".into());
        one_of("status", &status, HEARTBEAT_STATUSES)?;
        let run_id = text_opt("run_id", &req.run_id, MAX_TITLE_LEN)?;
        let error = text_opt("error", &req.error, MAX_TEXT_LEN)?;
        let hb = json!({
            "slot": req.slot,
            "status": status,
            "run_id": if run_id.is_empty() { Value::Null } else { json!(run_id) },
            "checked_at": time::now(),
            "error": if error.is_empty() { Value::Null } else { json!(error) },
        });
        let _lock = self.lock_exclusive()?;
        fsutil::write_json(
            &self.path(&format!("heartbeat/{}.json", req.slot)),
            &hb,
            Durability::Durable,
        )?;
        let mut reg = self.registry()?;
        let registered = reg.is_registered(&req.slot);
        if registered {
            let e = reg.entry_mut(&req.slot);
            e.insert("heartbeat".into(), hb.clone());
            e.insert("heartbeat_status".into(), hb["status"].clone());
            e.insert("heartbeat_checked_at".into(), hb["checked_at"].clone());
            if !run_id.is_empty() {
                e.insert("run_id".into(), json!(run_id));
            }
            if let Some(t) = &ctx.thread_id {
                reg.bind_thread(&req.slot, t);
            }
            reg.save(self)?;
        }
        Ok(json!({ "heartbeat": hb, "slot_registered": registered }))
    }

    /// `record_wake_attempt`: keep evidence of a wake (planned, sent, failed).
    pub fn record_wake_attempt(&self, ctx: &Ctx, req: &api::RecordWakeAttempt) -> Result<Value> {
        ids::slot("slot", &req.slot)?;
        ctx.caller
            .require_self(&req.slot, "record a wake attempt", true)?;
        let action = req
            .action
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "wake_slot".into());
        let adapter = req
            .adapter
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "notify-only".into());
        let status = req
            .status
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "planned".into());
        for (f, v) in [
            ("action", &action),
            ("adapter", &adapter),
            ("status", &status),
        ] {
            ids::short_id(f, v)?;
        }
        let reason = text_opt("reason", &req.reason, MAX_TITLE_LEN)?;
        let prompt = text_opt("prompt", &req.prompt, MAX_TEXT_LEN)?;
        let error = text_opt("error", &req.error, MAX_TEXT_LEN)?;
        let run_id = text_opt("run_id", &req.run_id, MAX_TITLE_LEN)?;
        let result = req.result.clone().map(Value::Object).unwrap_or(Value::Null);
        ids::payload("result", &result)?;
        let now = time::now();
        let id = messages::new_id("wake");
        let attempt = json!({
            "id": id, "slot": req.slot, "action": action, "adapter": adapter,
            "status": status, "reason": reason,
            "prompt": if prompt.is_empty() { Value::Null } else { json!(prompt) },
            "result": result,
            "error": if error.is_empty() { Value::Null } else { json!(error) },
            "run_id": if run_id.is_empty() { Value::Null } else { json!(run_id) },
            "recorded_by": ctx.caller.slot(),
            "created_at": now,
        });
        let _lock = self.lock_exclusive()?;
        fsutil::write_json(
            &self.path(&format!(
                "wake/{}_{}_{}.json",
                time::stamp(&now),
                req.slot,
                id
            )),
            &attempt,
            Durability::Durable,
        )?;
        Ok(json!({ "attempt": attempt }))
    }
}

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

/// Set the lifecycle timestamps a status implies, once.
pub(crate) fn stamp_status(task: &mut Task, now: &str) {
    let slot = match task.status.as_str() {
        "active" => &mut task.started_at,
        "reported" => &mut task.reported_at,
        "integrated" => &mut task.integrated_at,
        "done" => &mut task.done_at,
        _ => return,
    };
    if slot.is_none() {
        *slot = Some(now.to_string());
    }
}

impl Store {
    /// Decide who is calling.
    ///
    /// - An explicit agent (`--agent` or the agent variable) is the caller.
    /// - Otherwise the slot bound to the calling Codex thread is; a session
    ///   binds its thread by calling `register_slot` for its slot.
    /// - An unbound thread registering a slot becomes that slot.
    /// - An unbound thread is the coordinator only while no thread is bound
    ///   to the coordinator; after that it must register first.
    /// - With neither agent nor thread (a plain MCP client), the caller is
    ///   the coordinator, as in the reference.
    pub fn resolve_caller(
        &self,
        agent: Option<&str>,
        thread: Option<&str>,
        registering: Option<&str>,
    ) -> Result<Caller> {
        if let Some(a) = agent {
            return Ok(Caller::new(a));
        }
        let Some(thread) = thread else {
            return Ok(Caller::coordinator());
        };
        let reg = {
            let _l = self.lock_shared()?;
            self.registry()?
        };
        if let Some(slot) = reg.slot_for_thread(thread) {
            return Ok(Caller::new(slot));
        }
        if let Some(slot) = registering {
            return Ok(Caller::new(slot));
        }
        let coordinator_bound = reg
            .entry(COORDINATOR)
            .is_some_and(|e| !str_field(e, "codex_thread_id").is_empty());
        if coordinator_bound {
            Err(Error::forbidden(
                "unbound_session",
                format!(
                    "this Codex thread ({thread}) is not bound to a slot; call register_slot for your slot first"
                ),
            ))
        } else {
            Ok(Caller::coordinator())
        }
    }
}

impl Store {
    /// Bring the derived indexes up to date with the primary records (for
    /// example after the reference or a crash left records unindexed), so
    /// that reads need not scan. Cheap when they are current.
    pub fn refresh_indexes(&self) -> Result<()> {
        let _lock = self.lock_exclusive()?;
        messages::sync_index(self)?;
        tasks::load_index(self, true)?;
        Ok(())
    }
}
