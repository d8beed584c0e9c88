//! One wake cycle: plan, select, deliver, record.

use std::path::PathBuf;

use app_server_client::{Delivered, WakeRequest, deliver};
use ledger::api::{self, Delivery, WakeAction, WakePlan};
use ledger::model::{AnsweredRequest, WakeEvidence, WakeTimings};
use ledger::views::wake_plan::work_prompt;
use ledger::{Ctx, Store};
use serde::Serialize;

use crate::Settings;

/// Which prompt a wake sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptChoice {
    /// The plan's prompt for the action.
    Planned,
    /// This text, for every action.
    Text(String),
    /// The guarded work prompt (`continue_task` keeps its own).
    Work,
}

/// What one cycle does.
#[derive(Clone, Debug)]
pub struct CycleOptions {
    /// Deliver (else a dry run that writes nothing).
    pub send: bool,
    /// Only these slots (empty: all).
    pub slots: Vec<String>,
    pub prompt: PromptChoice,
    /// Refuse to send the planned prompt (the daemon sends only an explicit
    /// prompt or the work prompt).
    pub require_explicit_prompt: bool,
    /// Put active tasks whose lease expired back in their queue first.
    pub requeue_expired: bool,
    pub heartbeat_max_minutes: Option<f64>,
    pub checked_at: Option<String>,
}

/// What happened to one wake action.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A dry run: it would be sent.
    Planned,
    /// It cannot be sent (no thread, no explicit prompt).
    Blocked { reason: String },
    /// Delivered before, and nothing changed since.
    Backoff { since: String, attempt: String },
    /// Sent: completed, queued or failed.
    Sent {
        status: String,
        route: String,
        reason: String,
        error: Option<String>,
        total_ms: u64,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct ActionReport {
    pub slot: String,
    pub action: String,
    /// Why the plan wakes the slot (`reason` is the outcome's).
    #[serde(rename = "plan_reason")]
    pub reason: String,
    pub thread_id: Option<String>,
    pub prompt: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The attempt recorded in the ledger (`wake/`), if any.
    pub attempt_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CycleSummary {
    pub planned: usize,
    pub blocked: usize,
    pub backoff: usize,
    pub sent: usize,
    pub failed: usize,
    pub requeued: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct CycleReport {
    /// Nothing blocked or failed.
    pub ok: bool,
    pub send: bool,
    pub checked_at: String,
    pub decision: String,
    pub summary: CycleSummary,
    pub requeued: Vec<api::RequeuedTask>,
    pub actions: Vec<ActionReport>,
}

/// Is this action a wake (something to send)?
pub fn is_wake(a: &WakeAction) -> bool {
    matches!(a.action.as_str(), "wake_slot" | "continue_task")
}

/// The plan with the app-server adapter.
pub fn plan(store: &Store, ctx: &Ctx, o: &CycleOptions) -> ledger::Result<WakePlan> {
    store.plan_wake(
        ctx,
        &api::PlanWake {
            adapter: Some("codex-app-server".into()),
            heartbeat_max_minutes: o.heartbeat_max_minutes,
            checked_at: o.checked_at.clone(),
        },
    )
}

/// Run one cycle.
pub async fn run(
    store: &Store,
    ctx: &Ctx,
    s: &Settings,
    o: &CycleOptions,
) -> anyhow::Result<CycleReport> {
    let mut summary = CycleSummary::default();
    let mut requeued = Vec::new();
    if o.requeue_expired {
        let r = store.requeue_expired_leases(
            ctx,
            &api::RequeueExpiredLeases {
                dry_run: Some(!o.send),
                checked_at: o.checked_at.clone(),
            },
        )?;
        summary.requeued = r.requeued.len();
        requeued = r.requeued;
    }
    let plan = plan(store, ctx, o)?;
    let mut actions = Vec::new();
    for a in plan.actions.iter().filter(|a| is_wake(a)) {
        if !o.slots.is_empty() && !o.slots.contains(&a.row.slot) {
            continue;
        }
        let report = one(store, ctx, s, o, a).await?;
        match &report.outcome {
            Outcome::Planned => summary.planned += 1,
            Outcome::Blocked { .. } => summary.blocked += 1,
            Outcome::Backoff { .. } => summary.backoff += 1,
            Outcome::Sent { status, .. } if status == "failed" => summary.failed += 1,
            Outcome::Sent { .. } => summary.sent += 1,
        }
        actions.push(report);
    }
    Ok(CycleReport {
        ok: summary.blocked == 0 && summary.failed == 0,
        send: o.send,
        checked_at: plan.checked_at,
        decision: plan.decision,
        summary,
        requeued,
        actions,
    })
}

fn prompt_for(a: &WakeAction, o: &CycleOptions) -> Option<String> {
    match &o.prompt {
        PromptChoice::Text(t) => Some(t.clone()),
        PromptChoice::Work => work_prompt(a),
        PromptChoice::Planned => a.prompt.clone(),
    }
}

async fn one(
    store: &Store,
    ctx: &Ctx,
    s: &Settings,
    o: &CycleOptions,
    a: &WakeAction,
) -> anyhow::Result<ActionReport> {
    let prompt = prompt_for(a, o);
    let mut report = ActionReport {
        slot: a.row.slot.clone(),
        action: a.action.clone(),
        reason: a.reason.clone(),
        thread_id: None,
        prompt: prompt.clone(),
        outcome: Outcome::Planned,
        attempt_id: None,
    };
    let blocked = |reason: &str| Outcome::Blocked {
        reason: reason.to_string(),
    };
    let thread = match &a.delivery {
        Some(Delivery::AppServer { thread_id, url }) => Some((thread_id.clone(), url.clone())),
        _ => None,
    };
    let Some((thread_id, url)) = thread else {
        report.outcome = blocked("missing_app_server_thread_id");
        if o.send {
            report.attempt_id = Some(record(store, ctx, a, &report, None, "blocked")?);
        }
        return Ok(report);
    };
    report.thread_id = Some(thread_id.clone());
    if let Some(last) = a.last_wake.as_ref().filter(|l| l.unchanged_since) {
        report.outcome = Outcome::Backoff {
            since: last.created_at.clone(),
            attempt: last.id.clone(),
        };
        return Ok(report);
    }
    if !o.send {
        return Ok(report);
    }
    if o.require_explicit_prompt && o.prompt == PromptChoice::Planned {
        report.outcome = blocked("explicit_prompt_mode_required");
        report.attempt_id = Some(record(store, ctx, a, &report, None, "blocked")?);
        return Ok(report);
    }
    let Some(text) = prompt.filter(|p| !p.trim().is_empty()) else {
        report.outcome = blocked("no_prompt");
        report.attempt_id = Some(record(store, ctx, a, &report, None, "blocked")?);
        return Ok(report);
    };
    let worktree = a.row.worktree.clone();
    let cwd = (!worktree.is_empty()).then(|| PathBuf::from(&worktree));
    let req = WakeRequest {
        thread_id,
        url: url.filter(|u| !u.is_empty()),
        prompt: text,
        cwd: cwd.filter(|p| p.is_dir()),
        approval_policy: s.approval_policy,
        sandbox: s.sandbox,
        effort: s.effort.clone(),
        timeout: s.timeout,
        policy: s.policy_for(&worktree),
    };
    let started_at = ledger::time::now();
    let d = deliver(&s.codex_for(&a.row.slot), &s.home, &req).await;
    let finished_at = ledger::time::now();
    report.outcome = Outcome::Sent {
        status: d.status.as_str().into(),
        route: d.route.as_str().into(),
        reason: d.reason.clone(),
        error: d.error.clone(),
        total_ms: d.timings.total_ms,
    };
    let status = d.status.as_str();
    report.attempt_id = Some(record(
        store,
        ctx,
        a,
        &report,
        Some((&d, started_at, finished_at)),
        status,
    )?);
    Ok(report)
}

/// Record an attempt; returns its id.
fn record(
    store: &Store,
    ctx: &Ctx,
    a: &WakeAction,
    report: &ActionReport,
    delivered: Option<(&Delivered, String, String)>,
    status: &str,
) -> anyhow::Result<String> {
    let (reason, error) = match &report.outcome {
        Outcome::Blocked { reason } => (reason.clone(), None),
        Outcome::Sent { reason, error, .. } => (reason.clone(), error.clone()),
        _ => (a.reason.clone(), None),
    };
    let (route, timings, evidence) = match delivered {
        Some((d, started_at, finished_at)) => (
            Some(d.route.as_str().to_string()),
            Some(WakeTimings {
                started_at,
                finished_at,
                total_ms: d.timings.total_ms,
                connect_ms: d.timings.connect_ms,
                resume_ms: d.timings.resume_ms,
                turn_ms: d.timings.turn_ms,
                queue_ms: d.timings.queue_ms,
                exit_ms: d.timings.exit_ms,
            }),
            Some(evidence(d)),
        ),
        None => (None, None, None),
    };
    let r = store.record_wake_attempt(
        ctx,
        &api::RecordWakeAttempt {
            slot: a.row.slot.clone(),
            action: Some(a.action.clone()),
            adapter: Some("codex-app-server".into()),
            status: Some(status.into()),
            reason: Some(reason),
            prompt: report.prompt.clone(),
            error,
            run_id: a.row.run_id.clone(),
            result: None,
            route,
            state_key: Some(a.state_key.clone()),
            timings,
            evidence,
        },
    )?;
    Ok(r.attempt.id)
}

/// The client's evidence in the ledger's terms.
fn evidence(d: &Delivered) -> WakeEvidence {
    let e = &d.evidence;
    WakeEvidence {
        thread_id: e.thread_id.clone(),
        turn_id: d.turn_id.clone().or_else(|| e.turn_id.clone()),
        turn_status: e.turn_status.clone(),
        route_note: d.route_note.clone(),
        queue_item: d.queue_item.clone(),
        agent_text_tail: e.agent_text_tail.clone(),
        answered: e
            .answered
            .iter()
            .map(|r| AnsweredRequest {
                method: r.method.clone(),
                answer: r.answer.clone(),
                detail: r.detail.clone(),
            })
            .collect(),
        tool_calls: e.tool_calls.clone(),
        events_tail: e.events_tail.clone(),
        stderr_tail: e.stderr_tail.clone(),
        turns_started: e.turns_started.clone(),
    }
}
