//! Read models: `get_status`, the summary-pause policy, `plan_wake`, and
//! `record_summary_pause` (which writes the marker the policy reads).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::api;
use crate::cursor;
use crate::error::{Error, Result};
use crate::ids::{self, COORDINATOR, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::messages::{self, LedgerView};
use crate::ops::{Ctx, limit};
use crate::registry::{Registry, opt_field, str_field};
use crate::store::Store;
use crate::tasks::{self, WorkIndex};
use crate::time;

/// Integrations between summary pauses: warn at 30, pause at 35.
pub const PAUSE_WARN: u64 = 30;
pub const PAUSE_DUE: u64 = 35;
pub const PAUSE_MAX: u64 = 40;

/// One consistent read of the store: registry, work index and ledger view,
/// all taken under one shared lock.
pub struct Snapshot {
    pub reg: Registry,
    pub idx: std::sync::Arc<WorkIndex>,
    pub view: LedgerView,
}

impl Store {
    /// Read registry, task index and ledger index under the shared lock.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let _lock = self.lock_shared()?;
        Ok(Snapshot {
            reg: self.registry()?,
            idx: tasks::load_shared(self, false)?,
            view: messages::view(self)?,
        })
    }
}

impl Snapshot {
    pub fn unread(&self, store: &Store, slot: &str) -> Result<usize> {
        let cur = cursor::load(store, slot)?;
        self.view.unread_count(store, slot, &cur)
    }

    /// One status row per slot (the reference's shape, plus open work).
    pub fn slot_row(&self, store: &Store, slot: &str) -> Result<Value> {
        let empty = Map::new();
        let e = self.reg.entry(slot).unwrap_or(&empty);
        let (ptr, ptr_status) = self.idx.pointer(slot);
        let open = self.idx.open_for(slot);
        let g = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
        Ok(json!({
            "slot": slot,
            "identity": str_field(e, "identity"),
            "project": str_field(e, "project"),
            "focus": str_field(e, "focus"),
            "worktree": str_field(e, "worktree"),
            "branch": str_field(e, "branch"),
            "status": opt_field(e, "status").unwrap_or_else(|| "active".into()),
            "unread": self.unread(store, slot)?,
            "current_task_id": ptr.map(|r| r.task_id.clone()),
            "current_task_status": ptr_status,
            "current_task_title": ptr.map(|r| r.title.clone()),
            "current_task_assigned_at": ptr.and_then(|r| r.assigned_at.clone()),
            "current_task_updated_at": ptr.and_then(|r| r.updated_at.clone()),
            "open_tasks": open.len(),
            "heartbeat_status": g("heartbeat_status"),
            "heartbeat_checked_at": g("heartbeat_checked_at"),
            "run_id": g("run_id"),
            "app_server_thread_id": g("app_server_thread_id"),
            "app_server_url": g("app_server_url"),
            "codex_thread_id": g("codex_thread_id"),
            "thread_id": Value::Null,
        }))
    }

    /// The summary-pause policy. A marker whose count is above the current
    /// integrated count is ignored (it cannot switch pauses off).
    pub fn pause_policy(&self) -> Value {
        let integrated = self.idx.integrated_count();
        let marker = self
            .view
            .pauses()
            .iter()
            .rev()
            .find(|m| m.count <= integrated);
        let last = marker.map(|m| m.count).unwrap_or(0);
        let since = integrated.saturating_sub(last);
        let due = since >= PAUSE_DUE;
        let warning = (PAUSE_WARN..PAUSE_DUE).contains(&since);
        json!({
            "policy": "coordinator_summary_pause",
            "range": {"min": PAUSE_WARN, "recommended": PAUSE_DUE, "max": PAUSE_MAX},
            "integrated_count": integrated,
            "last_pause_integration_count": last,
            "last_pause_at": marker.and_then(|m| m.at.clone()),
            "integrations_since_pause": since,
            "next_pause_at": last + PAUSE_DUE,
            "due": due,
            "warning": warning,
            "action": if due { "stop_and_summarize" } else if warning { "prepare_summary_pause" } else { "continue" },
            "reason": if due { "summary_pause_due" } else if warning { "summary_pause_soon" } else { "" },
            "instructions": "When due, stop the coordinator loop, give the operator a short summary of what was integrated, then call record_summary_pause before assigning or waking more work.",
        })
    }
}

fn heartbeat_problem(
    e: &Map<String, Value>,
    now: DateTime<Utc>,
    window: Duration,
) -> Option<&'static str> {
    match str_field(e, "heartbeat_status") {
        "failed" => return Some("heartbeat_failed"),
        "stale" => return Some("heartbeat_stale"),
        _ => {}
    }
    // An unparsable time counts as missing (the reference treated it as fresh).
    match time::parse(str_field(e, "heartbeat_checked_at")) {
        None => Some("heartbeat_missing"),
        Some(t) if now - t > window => Some("heartbeat_overdue"),
        Some(_) => None,
    }
}

fn wake_prompt(slot: &str, subjects: &[String]) -> String {
    let tail = if subjects.is_empty() {
        "Unread inbox is waiting.".to_string()
    } else {
        format!("Unread subjects: {}", subjects.join("; "))
    };
    format!(
        "Codenator wake for {slot}.\n\
         Use the codenator MCP tools; do not wait for a desktop automation to resume you.\n\
         1. read_inbox for {slot} with mark_read=false.\n\
         2. If a task is queued for you, call claim_next_task for {slot}.\n\
         3. Work only in your registered worktree, run focused tests, commit the slice.\n\
         4. Call report_commit so the coordinator can integrate it.\n\
         {tail}"
    )
}

fn continue_prompt(slot: &str, task_id: &str) -> String {
    format!(
        "Continue your active Codenator task for {slot} ({task_id}).\n\
         Use the codenator MCP tools. First call record_heartbeat for {slot} with status ok.\n\
         Do not claim a new task: finish the active one inside your registered worktree, run focused tests, commit, then call report_commit.\n\
         If you are blocked, call update_task with the blocker and stop."
    )
}

impl Store {
    /// `get_status`: slots and open work, sized for a model's context.
    pub fn get_status(&self, _ctx: &Ctx, req: &api::GetStatus) -> Result<Value> {
        if let Some(s) = &req.slot {
            ids::slot("slot", s)?;
        }
        let lim = limit(req.limit, 25);
        let off = req.offset.unwrap_or(0) as usize;
        let snap = self.snapshot()?;
        let slots: Vec<String> = match &req.slot {
            Some(s) => vec![s.clone()],
            None => snap.reg.all_slots(),
        };
        let rows = slots
            .iter()
            .map(|s| snap.slot_row(self, s))
            .collect::<Result<Vec<_>>>()?;
        let open: Vec<_> = snap
            .idx
            .open_sorted()
            .into_iter()
            .filter(|r| req.slot.as_ref().is_none_or(|s| &r.slot == s))
            .collect();
        let page: Vec<Value> = open
            .iter()
            .skip(off)
            .take(lim)
            .map(|r| r.to_json())
            .collect();
        Ok(json!({
            "registry": snap.reg.header(),
            "slots": rows,
            "open_tasks": {
                "total": open.len(), "offset": off, "returned": page.len(),
                "has_more": off + page.len() < open.len(), "tasks": page,
            },
            "task_counts": snap.idx.counts,
            "total_tasks": snap.idx.total,
            "summary_pause": {
                "integrated_count": snap.idx.integrated_count(),
                "due": snap.pause_policy()["due"],
            },
        }))
    }

    /// `record_summary_pause` (coordinator only): write a pause marker.
    /// Markers are monotonic and never run ahead of the integrated count.
    pub fn record_summary_pause(&self, ctx: &Ctx, req: &api::RecordSummaryPause) -> Result<Value> {
        ctx.caller.require_coordinator("record_summary_pause")?;
        let summary = req.summary.clone().unwrap_or_default();
        ids::text("summary", &summary, MAX_TEXT_LEN)?;
        let subject = req.subject.clone().unwrap_or_default();
        ids::text("subject", &subject, MAX_TITLE_LEN)?;
        if req
            .integration_count
            .is_some_and(|c| !c.is_finite() || c < 0.0)
        {
            return Err(Error::invalid(
                "integration_count",
                "must be a finite number >= 0",
            ));
        }
        let _lock = self.lock_exclusive()?;
        let snap = Snapshot {
            reg: self.registry()?,
            idx: tasks::load_shared(self, true)?,
            view: messages::sync_index(self)?,
        };
        let before = snap.pause_policy();
        let integrated = snap.idx.integrated_count();
        let last = before["last_pause_integration_count"].as_u64().unwrap_or(0);
        let count = req
            .integration_count
            .map(|c| c as u64)
            .unwrap_or(integrated);
        if count > integrated {
            return Err(Error::invalid(
                "integration_count",
                format!(
                    "{count} is above the current integrated count {integrated}; a pause marker cannot run ahead of the work"
                ),
            ));
        }
        if count < last {
            return Err(Error::conflict(
                "pause_monotonic",
                format!("the last pause was at {last} integrations; markers only move forward"),
            ));
        }
        let now = time::now();
        let payload = json!({
            "integration_count": count,
            "integrations_since_pause": count.saturating_sub(last),
            "threshold": PAUSE_DUE,
            "range": {"min": PAUSE_WARN, "recommended": PAUSE_DUE, "max": PAUSE_MAX},
            "summary": summary,
            "recorded_at": now,
        });
        let marker = self.append_message(
            "coordinator.summary_pause",
            ctx.caller.slot(),
            COORDINATOR,
            &if subject.is_empty() {
                format!("Coordinator summary pause at {count} integrations")
            } else {
                subject
            },
            &if summary.is_empty() {
                "Coordinator stopped for the periodic summary pause.".to_string()
            } else {
                summary
            },
            None,
            payload,
            "",
        )?;
        let after = Snapshot {
            reg: snap.reg,
            idx: snap.idx,
            view: messages::sync_index(self)?,
        };
        Ok(json!({"marker": marker, "policy": after.pause_policy()}))
    }

    /// `plan_wake`: which slots to wake, notify or leave alone. Pure read.
    pub fn plan_wake(&self, _ctx: &Ctx, req: &api::PlanWake) -> Result<Value> {
        let adapter = req
            .adapter
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "notify-only".into());
        if !matches!(adapter.as_str(), "notify-only" | "codex-app-server") {
            return Err(Error::invalid(
                "adapter",
                format!("must be notify-only or codex-app-server (got {adapter:?})"),
            ));
        }
        let minutes = req
            .heartbeat_max_minutes
            .filter(|m| m.is_finite() && *m > 0.0)
            .unwrap_or(15.0);
        let window = Duration::milliseconds((minutes * 60_000.0) as i64);
        let (now, checked_at) = crate::recovery::checked_at(req.checked_at.as_deref())?;
        let snap = self.snapshot()?;
        let pause = snap.pause_policy();
        let paused = pause["due"].as_bool().unwrap_or(false);
        let mut actions = Vec::new();
        for slot in snap.reg.all_slots() {
            let mut a = snap.slot_row(self, &slot)?;
            let empty = Map::new();
            let e = snap.reg.entry(&slot).unwrap_or(&empty);
            let unread = a["unread"].as_u64().unwrap_or(0);
            let problem = heartbeat_problem(e, now, window);
            let open = snap.idx.open_for(&slot);
            let has = |st: &str| open.iter().any(|r| r.status == st);
            let mut claimable = false;
            let mut waiting = false;
            for r in open
                .iter()
                .filter(|r| tasks::is_claimable_status(&r.status))
            {
                if tasks::unmet_dependencies(self, &snap.idx, r)?.is_empty() {
                    claimable = true;
                } else {
                    waiting = true;
                }
            }
            // (action, reason, notify, blocked, safe_to_assign, prompt kind)
            let (action, reason, notify, blocked, safe, prompt) = if slot == COORDINATOR {
                if paused {
                    (
                        "coordinator_summary_pause",
                        "summary_pause_due",
                        true,
                        true,
                        false,
                        None,
                    )
                } else if unread > 0 {
                    (
                        "coordinator_inbox",
                        "coordinator_unread",
                        true,
                        false,
                        false,
                        None,
                    )
                } else if let Some(p) = problem {
                    ("coordinator_heartbeat_due", p, false, false, false, None)
                } else {
                    ("ok", "", false, false, false, None)
                }
            } else if paused {
                (
                    "summary_pause_hold",
                    "summary_pause_due",
                    false,
                    true,
                    false,
                    None,
                )
            } else if matches!(str_field(e, "status"), "paused" | "parked") {
                ("parked", "slot_parked", false, false, false, None)
            } else if problem.is_some() && unread == 0 && open.is_empty() {
                (
                    "idle_stale",
                    problem.unwrap_or(""),
                    false,
                    false,
                    false,
                    None,
                )
            } else if let Some(p) = problem {
                ("blocked_restart_required", p, true, true, false, None)
            } else if unread > 0 {
                let r = if claimable || has("active") {
                    "task_inbox_unread"
                } else {
                    "slot_inbox_unread"
                };
                ("wake_slot", r, false, false, false, Some("wake"))
            } else if has("active") {
                (
                    "continue_task",
                    "task_active",
                    false,
                    false,
                    false,
                    Some("continue"),
                )
            } else if claimable {
                (
                    "wake_slot",
                    "task_queued_unclaimed",
                    false,
                    false,
                    false,
                    Some("wake"),
                )
            } else if has("blocked") {
                ("task_blocked", "task_blocked", true, true, false, None)
            } else if waiting {
                (
                    "waiting_dependencies",
                    "task_waiting_dependencies",
                    false,
                    false,
                    false,
                    None,
                )
            } else if has("reported") {
                (
                    "await_integration",
                    "task_reported",
                    true,
                    false,
                    false,
                    None,
                )
            } else {
                ("idle_healthy", "", false, false, true, None)
            };
            let prompt_text = match prompt {
                Some("wake") => {
                    let cur = cursor::load(self, &slot)?;
                    let (msgs, _) = snap.view.unread(self, &slot, &cur, 3)?;
                    let subjects: Vec<String> = msgs
                        .iter()
                        .map(|m| {
                            ["subject", "type", "id"]
                                .iter()
                                .find_map(|k| m.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                                .unwrap_or("")
                                .to_string()
                        })
                        .collect();
                    Some(wake_prompt(&slot, &subjects))
                }
                Some(_) => Some(continue_prompt(&slot, a["current_task_id"].as_str().unwrap_or(""))),
                None if action == "coordinator_summary_pause" => Some(format!(
                    "Stop the coordinator loop for the scheduled summary pause. Integrations since last pause: {}. Give the operator a short summary, then call record_summary_pause before assigning or waking more work.",
                    pause["integrations_since_pause"]
                )),
                None if action == "coordinator_inbox" => Some("Read the coordinator inbox, verify reported commits with focused tests, then integrate only commits from known focus slots.".to_string()),
                None => None,
            };
            let request = match (&prompt, &prompt_text) {
                (Some(_), Some(p)) => Some(adapter_request(&adapter, e, p)),
                _ => None,
            };
            if let Value::Object(m) = &mut a {
                m.insert("action".into(), json!(action));
                m.insert("reason".into(), json!(reason));
                m.insert("notify".into(), json!(notify));
                m.insert("blocked".into(), json!(blocked));
                m.insert("safe_to_assign".into(), json!(safe));
                m.insert("prompt".into(), json!(prompt_text));
                m.insert("adapter_request".into(), json!(request));
            }
            actions.push(a);
        }
        let count = |pred: &dyn Fn(&Value) -> bool| actions.iter().filter(|a| pred(a)).count();
        let wake = count(&|a| matches!(a["action"].as_str(), Some("wake_slot" | "continue_task")));
        let notify = count(&|a| a["notify"] == json!(true));
        let blocked = count(&|a| a["blocked"] == json!(true));
        let unsafe_worker = actions
            .iter()
            .any(|a| a["slot"] != json!(COORDINATOR) && a["safe_to_assign"] != json!(true));
        let decision = if paused {
            "PAUSE"
        } else if wake > 0 {
            "WAKE"
        } else if notify > 0 {
            "NOTIFY"
        } else {
            "DONT_NOTIFY"
        };
        Ok(json!({
            "version": 1,
            "decision": decision,
            "checked_at": checked_at,
            "adapter": adapter,
            "source": "mcp-ledger",
            "safety": {
                "mutates_sessions": false, "mutates_tasks": false, "mutates_inbox": false,
                "desktop_automation_resume": false,
                "can_assign_new_work": !paused && !unsafe_worker && wake == 0 && notify == 0,
            },
            "summary": {
                "slots": actions.len(), "wake": if paused { 0 } else { wake },
                "notify": notify, "blocked": blocked, "coordinator_pause": pause,
            },
            "actions": actions,
        }))
    }
}

fn adapter_request(adapter: &str, e: &Map<String, Value>, prompt: &str) -> Value {
    let input = json!([{"type": "text", "text": prompt}]);
    if adapter != "codex-app-server" {
        return json!({"adapter": "notify-only", "mode": "dry-run", "prompt": prompt});
    }
    match opt_field(e, "app_server_thread_id") {
        Some(thread) => json!({
            "adapter": "codex-app-server", "mode": "ready", "method": "turn/start",
            "app_server_url": e.get("app_server_url").cloned().unwrap_or(Value::Null),
            "params": {"threadId": thread, "input": input},
            "note": "Resume the thread (thread/resume) and start a turn; if another process holds the thread, queue the prompt instead.",
        }),
        None => json!({
            "adapter": "codex-app-server", "mode": "dry-run",
            "requires": ["app_server_thread_id"], "method": "turn/start",
            "params_template": {"threadId": "${app_server_thread_id}", "input": input},
            "note": "Register the slot's app_server_thread_id before a wake can be sent.",
        }),
    }
}
