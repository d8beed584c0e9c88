//! The coordinator watchdog (the reference CLI's `watchdog-check`): should
//! someone nudge the coordinator, and about what?
//!
//! Alerts come from the recovery rows, so the coordinator's unread count is
//! the ledger's (the reference counted inbox files and never saw MCP
//! messages). Each alert has a key; an alert notified less than the snooze
//! window ago is suppressed. State lives in `watchdog/coordinator.json` (the
//! reference's file and shape). Fixed here: a coordinator that never sent a
//! heartbeat raises `coordinator_heartbeat_missing` (the reference stayed
//! silent), and `last_notified` keeps only entries still inside the snooze
//! window (the reference kept every key forever).

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
use crate::ids::COORDINATOR;
use crate::ops::Ctx;
use crate::recovery::{RecoveryRequest, checked_at, minutes, older_than};
use crate::store::Store;
use crate::time;

const STATE: &str = "watchdog/coordinator.json";

/// Arguments of [`Store::watchdog_check`].
#[derive(Clone, Debug, Default)]
pub struct WatchdogRequest {
    /// The coordinator's heartbeat is overdue after this (default 6).
    pub heartbeat_max_minutes: Option<f64>,
    /// An alert notified this recently is suppressed (default 15).
    pub snooze_minutes: Option<f64>,
    /// Window for the workers' recovery rules (default 15).
    pub window_minutes: Option<f64>,
    /// Evaluate as of this ISO time (default now).
    pub checked_at: Option<String>,
    /// Compute the decision but write no state.
    pub dry_run: bool,
}

fn alert(kind: &str, row: &Value, reason: &str, detail: String, reference: String) -> Value {
    let slot = row["slot"].as_str().unwrap_or("");
    json!({
        "key": format!("{kind}:{slot}:{reason}:{reference}"),
        "type": kind,
        "slot": slot,
        "reason": reason,
        "detail": detail,
        "ref": reference,
        "unread": row["unread"],
        "recommendation": row["recommendation"],
        "heartbeat_checked_at": row["heartbeat_checked_at"],
        "latest_inbox_created_at": row["latest_inbox_created_at"],
        "current_task_id": row["current_task_id"],
    })
}

fn first_str(row: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| row[*k].as_str().filter(|s| !s.is_empty()))
        .map(str::to_owned)
}

impl Store {
    /// Decide whether to notify the coordinator, and remember what was
    /// notified (unless `dry_run`).
    pub fn watchdog_check(&self, ctx: &Ctx, req: &WatchdogRequest) -> Result<Value> {
        let hb_window = minutes("heartbeat_max_minutes", req.heartbeat_max_minutes, 6.0)?;
        let snooze = minutes("snooze_minutes", req.snooze_minutes, 15.0)?;
        let (now, at) = checked_at(req.checked_at.as_deref())?;
        let recovery = self.recovery(
            ctx,
            &RecoveryRequest {
                window_minutes: req.window_minutes,
                checked_at: Some(at.clone()),
            },
        )?;
        let rows = recovery["rows"].as_array().cloned().unwrap_or_default();
        let mut alerts = Vec::new();
        let mut coordinator_unread = 0;
        for row in &rows {
            if row["slot"] == json!(COORDINATOR) {
                let unread = row["unread"].as_u64().unwrap_or(0);
                coordinator_unread = unread;
                if unread > 0 {
                    alerts.push(alert(
                        "coordinator_inbox",
                        row,
                        "coordinator_reports_waiting",
                        format!("{unread} message(s) waiting"),
                        first_str(row, &["latest_inbox_created_at"])
                            .unwrap_or_else(|| unread.to_string()),
                    ));
                }
                let hb_at = &row["heartbeat_checked_at"];
                let status = row["heartbeat_status"].as_str().unwrap_or("");
                if matches!(status, "stale" | "failed") {
                    alerts.push(alert(
                        "coordinator_heartbeat",
                        row,
                        &format!("coordinator_heartbeat_{status}"),
                        format!("last check {}", hb_at.as_str().unwrap_or("?")),
                        hb_at.as_str().unwrap_or("").to_string(),
                    ));
                } else {
                    match older_than(hb_at, now, hb_window) {
                        None => alerts.push(alert(
                            "coordinator_heartbeat",
                            row,
                            "coordinator_heartbeat_missing",
                            "no coordinator heartbeat recorded".into(),
                            "missing".into(),
                        )),
                        Some(true) => alerts.push(alert(
                            "coordinator_heartbeat",
                            row,
                            "coordinator_heartbeat_overdue",
                            format!("last check {}", hb_at.as_str().unwrap_or("")),
                            hb_at.as_str().unwrap_or("").to_string(),
                        )),
                        Some(false) => {}
                    }
                }
            } else if row["recommendation"] == json!("restart_thread") {
                let reason = row["reason"].as_str().unwrap_or("");
                let detail = row["current_task_id"]
                    .as_str()
                    .map(|t| format!("task={t}"))
                    .unwrap_or_default();
                let reference = first_str(
                    row,
                    &[
                        "current_task_id",
                        "heartbeat_checked_at",
                        "latest_inbox_created_at",
                        "slot",
                    ],
                )
                .unwrap_or_default();
                alerts.push(alert("slot_recovery", row, reason, detail, reference));
            }
        }

        let _lock = if req.dry_run {
            self.lock_shared()?
        } else {
            self.lock_exclusive()?
        };
        let prev = match fsutil::read_json::<Value>(&self.path(STATE)) {
            Ok(v) => v.unwrap_or(Value::Null),
            // A damaged state file only loses the snooze memory.
            Err(Error::Damaged { .. }) => Value::Null,
            Err(e) => return Err(e),
        };
        let prev_notified = prev["last_notified"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut notified: Map<String, Value> = Map::new();
        // Prune: keep only notifications still inside the snooze window.
        for (k, v) in &prev_notified {
            if older_than(v, now, snooze) == Some(false) {
                notified.insert(k.clone(), v.clone());
            }
        }
        let mut active = Vec::new();
        let mut suppressed = Vec::new();
        for mut a in alerts.clone() {
            let key = a["key"].as_str().unwrap_or("").to_string();
            let last = notified
                .get(&key)
                .and_then(Value::as_str)
                .and_then(time::parse);
            match last {
                Some(t) if now - t <= snooze => {
                    a["suppressed_until"] = json!(time::format(t + snooze));
                    suppressed.push(a);
                }
                _ => active.push(a),
            }
        }
        for a in &active {
            if let Some(k) = a["key"].as_str() {
                notified.insert(k.to_string(), json!(at));
            }
        }
        let decision = if active.is_empty() {
            "DONT_NOTIFY"
        } else {
            "NOTIFY"
        };
        if !req.dry_run {
            let state = json!({
                "version": 1,
                "checked_at": at,
                "decision": decision,
                "coordinator_unread": coordinator_unread,
                "alerts": alerts,
                "suppressed": suppressed,
                "last_notified": notified,
            });
            fsutil::write_json(&self.path(STATE), &state, Durability::Durable)?;
        }
        Ok(json!({
            "decision": decision,
            "checked_at": at,
            "coordinator_unread": coordinator_unread,
            "alerts": active,
            "suppressed": suppressed,
            "total_alerts": alerts.len(),
            "state_written": !req.dry_run,
        }))
    }
}
