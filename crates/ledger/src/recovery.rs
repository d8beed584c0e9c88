//! Slot rows and recovery recommendations (the reference CLI's `slots` and
//! `recovery`), read from the ledger: unread counts come from the read
//! cursors (the same notion of unread as `read_inbox`), the current task from
//! the work index, the heartbeat from the registry (the copy
//! `record_heartbeat` writes with it), falling back to `heartbeat/<slot>.json`.
//!
//! Also `record_heartbeat_links`: the automation and Desktop thread ids the
//! reference CLI kept with a heartbeat.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::cursor;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::ids::{self, MAX_TITLE_LEN};
use crate::messages;
use crate::ops::Ctx;
use crate::plan::Snapshot;
use crate::registry::{opt_field, str_field};
use crate::store::Store;
use crate::tasks;
use crate::time;

/// Default window after which a heartbeat or an unclaimed queued task is old.
pub const RECOVERY_WINDOW_MINUTES: f64 = 15.0;

/// Arguments of [`Store::recovery`].
#[derive(Clone, Debug, Default)]
pub struct RecoveryRequest {
    /// A heartbeat or a queued task older than this is overdue (default 15).
    pub window_minutes: Option<f64>,
    /// Evaluate as of this ISO time (default now).
    pub checked_at: Option<String>,
}

/// Resolve an optional ISO time: (parsed, as given or formatted now).
pub(crate) fn checked_at(v: Option<&str>) -> Result<(DateTime<Utc>, String)> {
    match v.filter(|s| !s.is_empty()) {
        Some(s) => Ok((
            time::parse(s).ok_or_else(|| {
                Error::invalid("checked_at", format!("not an ISO-8601 time: {s:?}"))
            })?,
            s.to_string(),
        )),
        None => {
            let n = Utc::now();
            Ok((n, time::format(n)))
        }
    }
}

/// A window in minutes, refused unless finite and positive.
pub(crate) fn minutes(field: &str, v: Option<f64>, default: f64) -> Result<Duration> {
    let m = v.unwrap_or(default);
    if !m.is_finite() || m <= 0.0 {
        return Err(Error::invalid(
            field,
            format!("must be a positive number of minutes (got {m})"),
        ));
    }
    Ok(Duration::milliseconds((m * 60_000.0) as i64))
}

/// Is the ISO time `t` older than `window` at `now`? An unparsable or
/// missing time is `None` (the reference treated it as fresh).
pub(crate) fn older_than(t: &Value, now: DateTime<Utc>, window: Duration) -> Option<bool> {
    t.as_str().and_then(time::parse).map(|t| now - t > window)
}

impl Store {
    /// One row per slot, coordinator first: the reference's `slots` row
    /// (`buildSlotRows`) plus the ledger's extras. Pure read.
    pub fn slot_rows(&self, _ctx: &Ctx) -> Result<Vec<Value>> {
        let _lock = self.lock_shared()?;
        let snap = Snapshot {
            reg: self.registry()?,
            idx: tasks::load_shared(self, false)?,
            view: messages::view(self)?,
        };
        let mut rows = Vec::new();
        for slot in snap.reg.all_slots() {
            rows.push(self.slot_row_full(&snap, &slot)?);
        }
        Ok(rows)
    }

    fn slot_row_full(&self, snap: &Snapshot, slot: &str) -> Result<Value> {
        let mut row = snap.slot_row(self, slot)?;
        let empty = Map::new();
        let e = snap.reg.entry(slot).unwrap_or(&empty);
        // The newest unread message (the reference's latest inbox file).
        let latest = if row["unread"].as_u64().unwrap_or(0) > 0 {
            let cur = cursor::load(self, slot)?;
            let (unread, _) = snap.view.unread(self, slot, &cur, usize::MAX)?;
            unread
                .iter()
                .filter_map(|m| m.get("created_at").and_then(Value::as_str))
                .max()
                .map(str::to_owned)
        } else {
            None
        };
        // The current task's own record (for reported_at and exact times).
        let task = match row["current_task_id"].as_str() {
            Some(id) if ids::long_id("task_id", id).is_ok() => tasks::load(self, id).ok().flatten(),
            _ => None,
        };
        // Heartbeat: the registry copy, else the heartbeat file (a store
        // where only the file was written).
        let (mut hb_status, mut hb_at) = (
            e.get("heartbeat_status").cloned().unwrap_or(Value::Null),
            e.get("heartbeat_checked_at")
                .cloned()
                .unwrap_or(Value::Null),
        );
        if hb_at.is_null()
            && ids::slot("slot", slot).is_ok()
            && let Ok(Some(Value::Object(hb))) =
                fsutil::read_json::<Value>(&self.path(&format!("heartbeat/{slot}.json")))
        {
            hb_status = hb.get("status").cloned().unwrap_or(Value::Null);
            hb_at = hb.get("checked_at").cloned().unwrap_or(Value::Null);
        }
        if let Value::Object(m) = &mut row {
            if let Some(t) = &task {
                m.insert(
                    "current_task_assigned_at".into(),
                    json!(t.assigned_at.clone().or_else(|| t.created_at.clone())),
                );
                m.insert("current_task_updated_at".into(), json!(t.updated_at));
            }
            m.insert(
                "current_task_reported_at".into(),
                json!(task.as_ref().and_then(|t| t.reported_at.clone())),
            );
            m.insert("latest_inbox_created_at".into(), json!(latest));
            m.insert("heartbeat_status".into(), hb_status);
            m.insert("heartbeat_checked_at".into(), hb_at);
            m.insert(
                "heartbeat_automation_id".into(),
                json!(opt_field(e, "heartbeat_automation_id")),
            );
            m.insert("thread_id".into(), json!(opt_field(e, "thread_id")));
        }
        Ok(row)
    }

    /// The reference CLI's `recovery`: what to do about each slot.
    /// Pure read.
    pub fn recovery(&self, ctx: &Ctx, req: &RecoveryRequest) -> Result<Value> {
        let window = minutes(
            "window_minutes",
            req.window_minutes,
            RECOVERY_WINDOW_MINUTES,
        )?;
        let (now, at) = checked_at(req.checked_at.as_deref())?;
        let mut rows = self.slot_rows(ctx)?;
        for row in &mut rows {
            let (rec, reason) = recommend(row, now, window);
            if let Value::Object(m) = row {
                m.insert("recommendation".into(), json!(rec));
                m.insert("reason".into(), json!(reason));
            }
        }
        Ok(json!({
            "checked_at": at,
            "window_minutes": window.num_milliseconds() as f64 / 60_000.0,
            "rows": rows,
        }))
    }

    /// Keep the automation id and the Desktop thread id a heartbeat came
    /// with, on the slot's registry entry (`heartbeat_automation_id`,
    /// `thread_id`, as the reference CLI did). Same rule as
    /// `record_heartbeat`: a slot records only its own.
    pub fn record_heartbeat_links(
        &self,
        ctx: &Ctx,
        slot: &str,
        automation_id: Option<&str>,
        thread_id: Option<&str>,
    ) -> Result<Value> {
        ids::slot("slot", slot)?;
        ctx.caller.require_self(slot, "record a heartbeat", false)?;
        for (f, v) in [("automation_id", automation_id), ("thread_id", thread_id)] {
            ids::text(f, v.unwrap_or(""), MAX_TITLE_LEN)?;
            if v.is_some_and(|s| s.contains('\n')) {
                return Err(Error::invalid(f, "must be one line"));
            }
        }
        let _lock = self.lock_exclusive()?;
        let mut reg = self.registry()?;
        if !reg.is_registered(slot) {
            return Ok(json!({"slot": slot, "slot_registered": false}));
        }
        let e = reg.entry_mut(slot);
        let mut changed = false;
        for (key, v) in [
            ("heartbeat_automation_id", automation_id),
            ("thread_id", thread_id),
        ] {
            if let Some(v) = v.filter(|s| !s.is_empty())
                && str_field(e, key) != v
            {
                e.insert(key.into(), json!(v));
                changed = true;
            }
        }
        let out = json!({
            "slot": slot,
            "slot_registered": true,
            "heartbeat_automation_id": e.get("heartbeat_automation_id").cloned().unwrap_or(Value::Null),
            "thread_id": e.get("thread_id").cloned().unwrap_or(Value::Null),
        });
        if changed {
            reg.save(self)?;
        }
        Ok(out)
    }
}

/// The recommendation for one slot row (§4.9 of the reference, with its
/// gaps closed: `parked` counts like `paused`, and a blocked task is named).
pub fn recommend(row: &Value, now: DateTime<Utc>, window: Duration) -> (&'static str, String) {
    let s = |k: &str| row[k].as_str().unwrap_or("");
    let unread = row["unread"].as_u64().unwrap_or(0);
    let hb_status = s("heartbeat_status");
    let hb_old = older_than(&row["heartbeat_checked_at"], now, window);
    let task_status = s("current_task_status");
    let has_task = row["current_task_id"].as_str().is_some();
    if matches!(hb_status, "stale" | "failed") {
        return ("restart_thread", format!("heartbeat_{hb_status}"));
    }
    match s("status") {
        "paused" => return ("parked", "slot_paused".into()),
        "parked" => return ("parked", "slot_parked".into()),
        _ => {}
    }
    if unread > 0 && has_task && matches!(task_status, "queued" | "assigned") {
        let since = if row["current_task_assigned_at"].is_string() {
            &row["current_task_assigned_at"]
        } else {
            &row["latest_inbox_created_at"]
        };
        if older_than(since, now, window) == Some(true) {
            match hb_old {
                None => return ("restart_thread", "queued_inbox_no_heartbeat".into()),
                Some(true) => return ("restart_thread", "queued_inbox_heartbeat_overdue".into()),
                Some(false) => {}
            }
        }
        return ("read_inbox", "queued_inbox_unclaimed".into());
    }
    if unread > 0 && !has_task {
        return ("read_inbox", "queued_inbox".into());
    }
    if has_task {
        match task_status {
            "active" => return ("continue_task", "task_active".into()),
            "reported" => return ("await_integration", "task_reported".into()),
            "blocked" => return ("resolve_blocker", "task_blocked".into()),
            _ => {}
        }
    }
    if hb_old == Some(true) {
        return ("restart_thread", "heartbeat_overdue".into());
    }
    ("ok", String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_order() {
        let now = time::parse("2026-01-01T01:00:00.000Z").expect("time");
        let w = Duration::minutes(15);
        let old = "2026-01-01T00:00:00.000Z";
        let fresh = "2026-01-01T00:59:00.000Z";
        let r = |v: Value| recommend(&v, now, w);
        assert_eq!(
            r(json!({"heartbeat_status": "stale"})),
            ("restart_thread", "heartbeat_stale".into())
        );
        assert_eq!(
            r(json!({"status": "parked", "unread": 3})),
            ("parked", "slot_parked".into())
        );
        let queued = |hb: Value| {
            json!({"unread": 1, "current_task_id": "t", "current_task_status": "queued",
                   "current_task_assigned_at": old, "heartbeat_checked_at": hb})
        };
        assert_eq!(
            r(queued(Value::Null)),
            ("restart_thread", "queued_inbox_no_heartbeat".into())
        );
        assert_eq!(
            r(queued(json!(old))),
            ("restart_thread", "queued_inbox_heartbeat_overdue".into())
        );
        assert_eq!(
            r(queued(json!(fresh))),
            ("read_inbox", "queued_inbox_unclaimed".into())
        );
        assert_eq!(
            r(json!({"unread": 2})),
            ("read_inbox", "queued_inbox".into())
        );
        assert_eq!(
            r(json!({"current_task_id": "t", "current_task_status": "reported"})),
            ("await_integration", "task_reported".into())
        );
        assert_eq!(
            r(json!({"heartbeat_checked_at": old})),
            ("restart_thread", "heartbeat_overdue".into())
        );
        assert_eq!(r(json!({})), ("ok", String::new()));
    }
}
