//! `plan_wake`: which slots to wake, notify or leave alone. A pure read;
//! the plan is a typed list of actions, each presenting the slot's one
//! health decision under the reference's names, with the prompt to send and
//! how it would be delivered. Delivering it is the app-server client's job.

use crate::api::{self, Delivery, LastWake, Safety, SlotRow, WakeAction, WakePlan, WakeSummary};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::model::{SlotEntry, SlotId};
use crate::records;
use crate::store::Store;

use super::slot_health::{self, Health, Parked};
use super::{Snapshot, checked_at, snapshot};

/// The adapters a plan can be made for.
pub const ADAPTERS: [&str; 2] = ["notify-only", "codex-app-server"];

/// What the plan says of one slot (before the prompt is written).
struct Verdict {
    action: &'static str,
    reason: &'static str,
    notify: bool,
    blocked: bool,
    safe: bool,
    prompt: Option<Prompt>,
}

enum Prompt {
    Wake,
    Continue,
    SummaryPause,
    CoordinatorInbox,
}

fn verdict(action: &'static str, reason: &'static str) -> Verdict {
    Verdict {
        action,
        reason,
        notify: false,
        blocked: false,
        safe: false,
        prompt: None,
    }
}

/// The plan's name for a worker's health.
fn worker_verdict(h: &Health, claimable_or_active: bool) -> Verdict {
    match h {
        Health::Parked(Parked::Paused) => verdict("parked", "slot_paused"),
        Health::Parked(Parked::Parked) => verdict("parked", "slot_parked"),
        Health::LeaseExpired { .. } => Verdict {
            notify: true,
            blocked: true,
            ..verdict("lease_expired", "lease_expired")
        },
        Health::Unresponsive { why, idle: true } => verdict("idle_stale", why.code()),
        Health::Unresponsive { why, idle: false } => Verdict {
            notify: true,
            blocked: true,
            ..verdict("blocked_restart_required", why.code())
        },
        Health::Inbox { .. } => Verdict {
            prompt: Some(Prompt::Wake),
            ..verdict(
                "wake_slot",
                if claimable_or_active {
                    "task_inbox_unread"
                } else {
                    "slot_inbox_unread"
                },
            )
        },
        Health::Working { .. } => Verdict {
            prompt: Some(Prompt::Continue),
            ..verdict("continue_task", "task_active")
        },
        Health::Claimable => Verdict {
            prompt: Some(Prompt::Wake),
            ..verdict("wake_slot", "task_queued_unclaimed")
        },
        Health::Blocked => Verdict {
            notify: true,
            blocked: true,
            ..verdict("task_blocked", "task_blocked")
        },
        Health::WaitingDependencies => verdict("waiting_dependencies", "task_waiting_dependencies"),
        Health::AwaitingIntegration => Verdict {
            notify: true,
            ..verdict("await_integration", "task_reported")
        },
        Health::Idle {
            heartbeat_known: true,
        } => Verdict {
            safe: true,
            ..verdict("idle_healthy", "")
        },
        Health::Idle {
            heartbeat_known: false,
        } => verdict("idle_stale", "heartbeat_missing"),
    }
}

/// The plan's name for the coordinator's health. Its inbox comes first:
/// commit reports wait there.
fn coordinator_verdict(h: &Health, unread: usize) -> Verdict {
    if unread > 0 {
        return Verdict {
            notify: true,
            prompt: Some(Prompt::CoordinatorInbox),
            ..verdict("coordinator_inbox", "coordinator_unread")
        };
    }
    match h {
        Health::Unresponsive { why, .. } => verdict("coordinator_heartbeat_due", why.code()),
        Health::Idle {
            heartbeat_known: false,
        } => verdict("coordinator_heartbeat_due", "heartbeat_missing"),
        _ => verdict("ok", ""),
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

/// The guarded work prompt (`codenator wake --prompt-mode work`) for a
/// `wake_slot` action: heartbeat, read the inbox, claim only a task that was
/// delivered, stay in the registered worktree, test, commit, report. A
/// `continue_task` action keeps its continue prompt (it must not claim).
pub fn work_prompt(action: &WakeAction) -> Option<String> {
    if action.action == "continue_task" {
        return action.prompt.clone();
    }
    let row = &action.row;
    let slot = &row.slot;
    let run_id = row
        .run_id
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| format!("{slot}-wake"));
    let worktree = if row.worktree.is_empty() {
        "(no registered worktree: do not change files; report the blocker)".to_string()
    } else {
        row.worktree.clone()
    };
    let subjects = action
        .prompt
        .as_deref()
        .and_then(|p| p.lines().last())
        .filter(|l| l.starts_with("Unread subjects:"))
        .unwrap_or("Unread subjects: none listed.");
    Some(format!(
        "Codenator work wake for {slot}.\n\
         You are the registered Codex slot {slot}, not the coordinator. Use the codenator MCP tools.\n\
         1. Call record_heartbeat for {slot} with status ok and run_id {run_id:?}.\n\
         2. Call read_inbox for {slot} with mark_read=false.\n\
         3. If and only if a task.assign for {slot} is there, call claim_next_task for {slot} with run_id {run_id:?}. \
         Otherwise reply that no task is waiting and stop.\n\
         4. Work only inside {worktree}. Do not touch other worktrees, other slots' tasks, the ledger's files or production data.\n\
         5. Keep the slice narrow, run focused tests, commit it, then call report_commit for the task.\n\
         6. If you are blocked, call update_task with the blocker and stop.\n\
         {subjects}"
    ))
}

/// The slot's state, in one line (see [`WakeAction::state_key`]).
fn state_key(v: &Verdict, row: &SlotRow, cursor: &crate::model::Cursor) -> String {
    let task = match &row.current_task_id {
        Some(id) => format!(
            "{id}:{}@{}",
            row.current_task_status
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            row.current_task_updated_at.as_deref().unwrap_or("")
        ),
        None => "-".into(),
    };
    format!(
        "{}|{}|unread={}@{}+{}|task={task}|open={}",
        v.action,
        v.reason,
        row.unread,
        cursor.last_seq,
        cursor.acked.len(),
        row.open_tasks
    )
}

/// How a wake to a slot would be delivered with `adapter`: on its
/// registered app-server thread, else on the Codex thread it bound through
/// MCP (`_meta.threadId`), which needs no discovery.
fn delivery(adapter: &str, e: &SlotEntry) -> Delivery {
    if adapter != "codex-app-server" {
        return Delivery::NotifyOnly;
    }
    let thread = e
        .app_server_thread_id
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| e.codex_thread_id.clone().filter(|t| !t.is_empty()));
    match thread {
        Some(thread_id) => Delivery::AppServer {
            thread_id,
            url: e.app_server_url.clone(),
        },
        None => Delivery::NeedsThread,
    }
}

impl Store {
    /// `plan_wake`: which slots to wake, notify or leave alone. Never calls
    /// a slot with queued or blocked work idle.
    pub fn plan_wake(&self, _ctx: &Ctx, req: &api::PlanWake) -> Result<WakePlan> {
        let adapter = req
            .adapter
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "notify-only".into());
        if !ADAPTERS.contains(&adapter.as_str()) {
            return Err(Error::invalid(
                "adapter",
                format!("must be notify-only or codex-app-server (got {adapter:?})"),
            ));
        }
        let window = snapshot::window(
            req.heartbeat_max_minutes
                .filter(|m| m.is_finite() && *m > 0.0)
                .unwrap_or(15.0),
        );
        let (now, checked_at) = checked_at(req.checked_at.as_deref())?;
        let snap = Snapshot::read(self)?;
        let pause = snap.pause_policy();
        let paused = pause.due;
        let mut actions = Vec::new();
        let slots = snap.reg.all_slots();
        let last_wakes = records::wake::newest_per_slot(snap.txn(), &slots);
        for slot in slots {
            let row: SlotRow = snap.slot_row(&slot, now)?;
            let facts = snap.facts(&slot, &row)?;
            let health = slot_health::assess(&facts, now, window);
            let is_coordinator = slot == crate::model::ids::COORDINATOR;
            let v = if paused {
                if is_coordinator {
                    Verdict {
                        notify: true,
                        blocked: true,
                        prompt: Some(Prompt::SummaryPause),
                        ..verdict("coordinator_summary_pause", "summary_pause_due")
                    }
                } else {
                    Verdict {
                        blocked: true,
                        ..verdict("summary_pause_hold", "summary_pause_due")
                    }
                }
            } else if is_coordinator {
                coordinator_verdict(&health, row.unread)
            } else {
                worker_verdict(&health, facts.claimable || facts.active.is_some())
            };
            let prompt = match &v.prompt {
                Some(Prompt::Wake) => Some(wake_prompt(&slot, &snap.unread_headlines(&slot, 3)?)),
                Some(Prompt::Continue) => Some(continue_prompt(
                    &slot,
                    row.current_task_id.as_deref().unwrap_or(""),
                )),
                Some(Prompt::SummaryPause) => Some(format!(
                    "Stop the coordinator loop for the scheduled summary pause. Integrations since last pause: {}. Give the operator a short summary, then call record_summary_pause before assigning or waking more work.",
                    pause.integrations_since_pause
                )),
                Some(Prompt::CoordinatorInbox) => Some("Read the coordinator inbox, verify reported commits with focused tests, then integrate only commits from known focus slots.".to_string()),
                None => None,
            };
            // Only wakes are delivered; notices stay with whoever reads the plan.
            let delivery = matches!(v.prompt, Some(Prompt::Wake | Prompt::Continue))
                .then(|| delivery(&adapter, &snap.reg.entry_or_default(&slot)));
            let cursor = match SlotId::stored(&slot) {
                Some(id) => snap.cursor(&id)?,
                None => crate::model::Cursor::default(),
            };
            let state_key = state_key(&v, &row, &cursor);
            let last_wake = last_wakes.get(&slot).map(|a| LastWake {
                id: a.id.clone(),
                status: a.status.clone(),
                route: a.route.clone(),
                created_at: a.created_at.clone(),
                state_key: a.state_key.clone(),
                unchanged_since: a.delivered() && a.state_key.as_deref() == Some(&state_key),
            });
            actions.push(WakeAction {
                state_key,
                last_wake,
                row,
                action: v.action.into(),
                reason: v.reason.into(),
                notify: v.notify,
                blocked: v.blocked,
                safe_to_assign: v.safe,
                prompt,
                delivery,
            });
        }
        let count = |pred: &dyn Fn(&WakeAction) -> bool| actions.iter().filter(|a| pred(a)).count();
        let wake = count(&|a| matches!(a.action.as_str(), "wake_slot" | "continue_task"));
        let notify = count(&|a| a.notify);
        let blocked = count(&|a| a.blocked);
        let unsafe_worker = actions
            .iter()
            .any(|a| a.row.slot != crate::model::ids::COORDINATOR && !a.safe_to_assign);
        let decision = if paused {
            "PAUSE"
        } else if wake > 0 {
            "WAKE"
        } else if notify > 0 {
            "NOTIFY"
        } else {
            "DONT_NOTIFY"
        };
        Ok(WakePlan {
            version: 1,
            decision: decision.into(),
            checked_at,
            adapter,
            source: "mcp-ledger".into(),
            safety: Safety {
                mutates_sessions: false,
                mutates_tasks: false,
                mutates_inbox: false,
                desktop_automation_resume: false,
                can_assign_new_work: !paused && !unsafe_worker && wake == 0 && notify == 0,
            },
            summary: WakeSummary {
                slots: actions.len(),
                wake: if paused { 0 } else { wake },
                notify,
                blocked,
                coordinator_pause: pause,
            },
            actions,
        })
    }
}
