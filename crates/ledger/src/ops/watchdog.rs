//! The coordinator watchdog (the reference CLI's `watchdog-check`): should
//! someone nudge the coordinator, and about what?
//!
//! Alerts come from the recovery rows (the one slot-health decision), so
//! the coordinator's unread count is the ledger's (the reference counted
//! inbox files and never saw MCP messages). Each alert has a key; an alert
//! notified less than the snooze window ago is suppressed. Fixed here: a
//! coordinator that never sent a heartbeat raises
//! `coordinator_heartbeat_missing` (the reference stayed silent), and
//! `last_notified` keeps only entries still inside the snooze window (the
//! reference kept every key forever).

use std::collections::BTreeMap;

use crate::api::{self, Alert, RecoveryRow, WatchdogResponse};
use crate::auth::Ctx;
use crate::error::Result;
use crate::model::ids::COORDINATOR;
use crate::model::watchdog::WatchdogState;
use crate::records;
use crate::store::Store;
use crate::time;
use crate::views::slot_health::Beat;
use crate::views::{checked_at, minutes};

fn alert(kind: &str, row: &RecoveryRow, reason: &str, detail: String, reference: String) -> Alert {
    let r = &row.slot.row;
    Alert {
        key: format!("{kind}:{}:{reason}:{reference}", r.slot),
        kind: kind.into(),
        slot: r.slot.clone(),
        reason: reason.into(),
        detail,
        reference,
        unread: r.unread,
        recommendation: row.recommendation.clone(),
        heartbeat_checked_at: r.heartbeat_checked_at.clone(),
        latest_inbox_created_at: row.slot.latest_inbox_created_at.clone(),
        current_task_id: r.current_task_id.clone(),
        suppressed_until: None,
    }
}

/// Alerts of one recovery row.
fn alerts_of(
    row: &RecoveryRow,
    now: chrono::DateTime<chrono::Utc>,
    hb_window: chrono::Duration,
) -> Vec<Alert> {
    let r = &row.slot.row;
    let mut out = Vec::new();
    if r.slot != COORDINATOR {
        if matches!(
            row.recommendation.as_str(),
            "restart_thread" | "requeue_task"
        ) {
            let reference = [
                r.current_task_id.clone(),
                r.heartbeat_checked_at.clone(),
                row.slot.latest_inbox_created_at.clone(),
                Some(r.slot.clone()),
            ]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
            let detail = r
                .current_task_id
                .as_deref()
                .map(|t| format!("task={t}"))
                .unwrap_or_default();
            out.push(alert("slot_recovery", row, &row.reason, detail, reference));
        }
        return out;
    }
    if r.unread > 0 {
        out.push(alert(
            "coordinator_inbox",
            row,
            "coordinator_reports_waiting",
            format!("{} message(s) waiting", r.unread),
            row.slot
                .latest_inbox_created_at
                .clone()
                .unwrap_or_else(|| r.unread.to_string()),
        ));
    }
    let at = r.heartbeat_checked_at.clone().unwrap_or_default();
    match Beat::of(
        r.heartbeat_status.as_deref(),
        r.heartbeat_checked_at.as_deref(),
    ) {
        b @ (Beat::Failed | Beat::Stale) => {
            let status = if b == Beat::Failed { "failed" } else { "stale" };
            out.push(alert(
                "coordinator_heartbeat",
                row,
                &format!("coordinator_heartbeat_{status}"),
                format!("last check {}", if at.is_empty() { "?" } else { &at }),
                at.clone(),
            ));
        }
        Beat::Missing => out.push(alert(
            "coordinator_heartbeat",
            row,
            "coordinator_heartbeat_missing",
            "no coordinator heartbeat recorded".into(),
            "missing".into(),
        )),
        b if b.overdue(now, hb_window) => out.push(alert(
            "coordinator_heartbeat",
            row,
            "coordinator_heartbeat_overdue",
            format!("last check {at}"),
            at.clone(),
        )),
        _ => {}
    }
    out
}

impl Store {
    /// Decide whether to notify the coordinator, and remember what was
    /// notified (unless `dry_run`).
    pub fn watchdog_check(&self, ctx: &Ctx, req: &api::WatchdogCheck) -> Result<WatchdogResponse> {
        let hb_window = minutes("heartbeat_max_minutes", req.heartbeat_max_minutes, 6.0)?;
        let snooze = minutes("snooze_minutes", req.snooze_minutes, 15.0)?;
        let (now, at) = checked_at(req.checked_at.as_deref())?;
        let recovery = self.recovery(
            ctx,
            &api::Recovery {
                window_minutes: req.window_minutes,
                checked_at: Some(at.clone()),
            },
        )?;
        let alerts: Vec<Alert> = recovery
            .rows
            .iter()
            .flat_map(|row| alerts_of(row, now, hb_window))
            .collect();
        let coordinator_unread = recovery
            .rows
            .iter()
            .find(|r| r.slot.row.slot == COORDINATOR)
            .map_or(0, |r| r.slot.row.unread);

        let decide = |prev: &WatchdogState| {
            // Prune: keep only notifications still inside the snooze window.
            let mut notified: BTreeMap<String, String> = prev
                .last_notified
                .iter()
                .filter(|(_, v)| time::parse(v).is_some_and(|t| now - t <= snooze))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let (mut active, mut suppressed) = (Vec::new(), Vec::new());
            for mut a in alerts.clone() {
                match notified.get(&a.key).and_then(|v| time::parse(v)) {
                    Some(t) if now - t <= snooze => {
                        a.suppressed_until = Some(time::format(t + snooze));
                        suppressed.push(a);
                    }
                    _ => active.push(a),
                }
            }
            for a in &active {
                notified.insert(a.key.clone(), at.clone());
            }
            (active, suppressed, notified)
        };
        let (active, suppressed) = if req.dry_run {
            let prev = records::watchdog::load(&self.read()?)?;
            let (a, s, _) = decide(&prev);
            (a, s)
        } else {
            let txn = self.write()?;
            let prev = records::watchdog::load(&txn)?;
            let (a, s, notified) = decide(&prev);
            let state = WatchdogState {
                version: 1,
                checked_at: Some(at.clone()),
                decision: Some(
                    if a.is_empty() {
                        "DONT_NOTIFY"
                    } else {
                        "NOTIFY"
                    }
                    .into(),
                ),
                coordinator_unread,
                alerts: alerts.clone(),
                suppressed: s.clone(),
                last_notified: notified,
                extra: prev.extra,
            };
            records::watchdog::save(&txn, &state)?;
            txn.commit()?;
            (a, s)
        };
        Ok(WatchdogResponse {
            decision: if active.is_empty() {
                "DONT_NOTIFY"
            } else {
                "NOTIFY"
            }
            .into(),
            checked_at: at,
            coordinator_unread,
            alerts: active,
            suppressed,
            total_alerts: alerts.len(),
            state_written: !req.dry_run,
        })
    }
}
