//! The Focus Board (`board/focus-board.json`): milestones and lanes, and the
//! snapshot that joins them with tasks, assignments, reports and receipts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api;
use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
use crate::ids::{self, COORDINATOR, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::ops::{Ctx, limit};
use crate::registry::{opt_field, str_field};
use crate::store::Store;
use crate::tasks;
use crate::time;

const BOARD: &str = "board/focus-board.json";
const NAME: &str = "Auralis Codenator Focus Board";
const DESCRIPTION: &str =
    "Shared backlog, milestones, lanes and progress for the coordinator and its focus slots.";

/// Load the board, or a default one in memory when the file is missing
/// (reading never writes). Legacy names are shown under the current name.
pub fn load(store: &Store) -> Result<Map<String, Value>> {
    let mut b = match fsutil::read_json::<Value>(&store.path(BOARD))? {
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(Error::Damaged {
                path: BOARD.into(),
                reason: "not a JSON object".into(),
            });
        }
        None => {
            let now = time::now();
            let mut m = Map::new();
            m.insert("version".into(), json!(1));
            m.insert("name".into(), json!(NAME));
            m.insert("description".into(), json!(DESCRIPTION));
            m.insert("milestones".into(), json!([]));
            m.insert("lanes".into(), json!([]));
            m.insert("created_at".into(), json!(now));
            m.insert("updated_at".into(), json!(now));
            m
        }
    };
    let name = str_field(&b, "name").to_ascii_lowercase();
    if name.is_empty() || name.contains("codextrator") {
        b.insert("name".into(), json!(NAME));
        b.insert("description".into(), json!(DESCRIPTION));
    }
    for key in ["milestones", "lanes"] {
        if !b.get(key).is_some_and(Value::is_array) {
            b.insert(key.into(), json!([]));
        }
    }
    Ok(b)
}

fn list<'a>(b: &'a Map<String, Value>, key: &str) -> Vec<&'a Map<String, Value>> {
    b.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn sort_key(m: &Map<String, Value>, id_key: &str) -> (i64, String) {
    let order = m.get("order").and_then(Value::as_f64).unwrap_or(0.0);
    ((order * 1000.0) as i64, str_field(m, id_key).to_string())
}

/// Merge `fields` into the item `id` of board list `key` (kept sorted).
fn upsert(
    store: &Store,
    key: &str,
    id_key: &str,
    id: &str,
    fields: Vec<(&str, Option<String>, &str)>,
    order: Option<f64>,
) -> Result<Value> {
    let _lock = store.lock_exclusive()?;
    let mut b = load(store)?;
    let now = time::now();
    let mut items: Vec<Map<String, Value>> = list(&b, key).into_iter().cloned().collect();
    let pos = items.iter().position(|m| str_field(m, id_key) == id);
    let mut item = pos.map(|i| items[i].clone()).unwrap_or_default();
    item.insert(id_key.into(), json!(id));
    for (f, new, default) in fields {
        let v = new
            .filter(|s| !s.is_empty())
            .or_else(|| opt_field(&item, f))
            .unwrap_or_else(|| {
                if default == "@id" {
                    id.to_string()
                } else {
                    default.to_string()
                }
            });
        item.insert(f.into(), json!(v));
    }
    match order {
        Some(o) => {
            item.insert("order".into(), json!(o));
        }
        None => {
            item.entry("order").or_insert(json!(0));
        }
    }
    item.entry("created_at").or_insert(json!(now));
    item.insert("updated_at".into(), json!(now));
    match pos {
        Some(i) => items[i] = item.clone(),
        None => items.push(item.clone()),
    }
    items.sort_by_key(|m| sort_key(m, id_key));
    b.insert(
        key.into(),
        Value::Array(items.into_iter().map(Value::Object).collect()),
    );
    b.insert("updated_at".into(), json!(now));
    fsutil::write_json(&store.path(BOARD), &b, Durability::Durable)?;
    Ok(Value::Object(item))
}

fn check_order(order: Option<f64>) -> Result<()> {
    match order {
        Some(o) if !o.is_finite() || o.abs() > 1e9 => {
            Err(Error::invalid("order", "must be a finite number"))
        }
        _ => Ok(()),
    }
}

impl Store {
    /// `upsert_milestone` (coordinator only).
    pub fn upsert_milestone(&self, ctx: &Ctx, req: &api::UpsertMilestone) -> Result<Value> {
        ctx.caller.require_coordinator("upsert_milestone")?;
        ids::short_id("milestone_id", &req.milestone_id)?;
        ids::text("title", req.title.as_deref().unwrap_or(""), MAX_TITLE_LEN)?;
        ids::text(
            "description",
            req.description.as_deref().unwrap_or(""),
            MAX_TEXT_LEN,
        )?;
        if let Some(s) = req.status.as_deref().filter(|s| !s.is_empty()) {
            ids::short_id("status", s)?;
        }
        check_order(req.order)?;
        let m = upsert(
            self,
            "milestones",
            "milestone_id",
            &req.milestone_id,
            vec![
                ("title", req.title.clone(), "@id"),
                ("status", req.status.clone(), "planned"),
                ("description", req.description.clone(), ""),
            ],
            req.order,
        )?;
        Ok(json!({ "milestone": m }))
    }

    /// `upsert_lane` (coordinator only).
    pub fn upsert_lane(&self, ctx: &Ctx, req: &api::UpsertLane) -> Result<Value> {
        ctx.caller.require_coordinator("upsert_lane")?;
        ids::short_id("lane_id", &req.lane_id)?;
        if let Some(o) = req.owner_slot.as_deref().filter(|s| !s.is_empty()) {
            ids::worker_slot("owner_slot", o)?;
        }
        ids::text("title", req.title.as_deref().unwrap_or(""), MAX_TITLE_LEN)?;
        ids::text(
            "project",
            req.project.as_deref().unwrap_or(""),
            MAX_TITLE_LEN,
        )?;
        ids::text(
            "description",
            req.description.as_deref().unwrap_or(""),
            MAX_TEXT_LEN,
        )?;
        if let Some(s) = req.status.as_deref().filter(|s| !s.is_empty()) {
            ids::short_id("status", s)?;
        }
        check_order(req.order)?;
        let l = upsert(
            self,
            "lanes",
            "lane_id",
            &req.lane_id,
            vec![
                ("title", req.title.clone(), "@id"),
                ("owner_slot", req.owner_slot.clone(), ""),
                ("project", req.project.clone(), ""),
                ("status", req.status.clone(), "active"),
                ("description", req.description.clone(), ""),
            ],
            req.order,
        )?;
        Ok(json!({ "lane": l }))
    }

    /// `get_focus_board`: the board as `viewer_slot` sees it. Lists are
    /// limited (open work first, then the latest closed) and say how many
    /// were left out; counters cover all history.
    pub fn get_focus_board(&self, ctx: &Ctx, req: &api::GetFocusBoard) -> Result<Value> {
        let viewer = req
            .viewer_slot
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ctx.caller.slot().to_string());
        ids::slot("viewer_slot", &viewer)?;
        let lim = limit(req.limit, 50);
        let snap = self.snapshot()?;
        let board = {
            let _l = self.lock_shared()?;
            load(self)?
        };
        let idx = &snap.idx;
        let is_coord = viewer == COORDINATOR;
        let own: Vec<String> = if is_coord {
            vec![]
        } else {
            idx.open_for(&viewer)
                .iter()
                .map(|r| r.task_id.clone())
                .collect()
        };

        // Tasks: open ones in queue order, then the latest closed, newest first.
        let mut rows: Vec<&tasks::TaskRow> = idx.open_sorted();
        rows.extend(idx.recent_closed.iter().rev());
        let total_listed = rows.len();
        let mut task_values = Vec::new();
        for r in rows.iter().take(lim) {
            if let Ok(Some(t)) = tasks::load(self, &r.task_id) {
                task_values.push(t.summary());
            }
        }

        let counts_of = |m: Option<&BTreeMap<String, u64>>| json!(m.cloned().unwrap_or_default());
        let open_ids = |pred: &dyn Fn(&tasks::TaskRow) -> bool| -> Vec<String> {
            idx.open_sorted()
                .into_iter()
                .filter(|r| pred(r))
                .map(|r| r.task_id.clone())
                .take(lim)
                .collect()
        };

        // Milestones: the board's, plus implicit ones named by tasks.
        let mut milestones: Vec<Map<String, Value>> =
            list(&board, "milestones").into_iter().cloned().collect();
        for mid in idx.by_milestone.keys() {
            if !milestones
                .iter()
                .any(|m| str_field(m, "milestone_id") == mid)
            {
                let mut m = Map::new();
                m.insert("milestone_id".into(), json!(mid));
                m.insert("title".into(), json!(mid));
                m.insert("status".into(), json!("implicit"));
                m.insert("order".into(), json!(0));
                milestones.push(m);
            }
        }
        milestones.sort_by_key(|m| sort_key(m, "milestone_id"));
        for m in &mut milestones {
            let id = str_field(m, "milestone_id").to_string();
            m.insert("task_counts".into(), counts_of(idx.by_milestone.get(&id)));
            m.insert(
                "open_task_ids".into(),
                json!(open_ids(&|r| r.milestone_id.as_deref() == Some(&id))),
            );
        }

        // Lanes: the board's, plus an implicit lane per worker owning none.
        let mut lanes: Vec<Map<String, Value>> =
            list(&board, "lanes").into_iter().cloned().collect();
        for slot in snap.reg.worker_slots() {
            let owns = lanes.iter().any(|l| str_field(l, "owner_slot") == slot);
            let taken = lanes.iter().any(|l| str_field(l, "lane_id") == slot);
            if !owns && !taken {
                let e = snap.reg.entry(&slot).cloned().unwrap_or_default();
                let mut l = Map::new();
                l.insert("lane_id".into(), json!(slot));
                l.insert(
                    "title".into(),
                    json!(opt_field(&e, "focus").unwrap_or_else(|| slot.clone())),
                );
                l.insert("owner_slot".into(), json!(slot));
                l.insert("project".into(), json!(str_field(&e, "project")));
                l.insert(
                    "status".into(),
                    json!(opt_field(&e, "status").unwrap_or_else(|| "active".into())),
                );
                l.insert("implicit".into(), json!(true));
                l.insert("order".into(), json!(0));
                lanes.push(l);
            }
        }
        lanes.sort_by_key(|l| sort_key(l, "lane_id"));
        for l in &mut lanes {
            let id = str_field(l, "lane_id").to_string();
            let owner = str_field(l, "owner_slot").to_string();
            let mut counts = idx.by_lane.get(&id).cloned().unwrap_or_default();
            if !owner.is_empty() {
                for (st, n) in idx
                    .by_lane
                    .get(&format!("@slot:{owner}"))
                    .into_iter()
                    .flatten()
                {
                    *counts.entry(st.clone()).or_insert(0) += n;
                }
            }
            l.insert("task_counts".into(), json!(counts));
            l.insert(
                "open_task_ids".into(),
                json!(open_ids(&|r| r.lane_id.as_deref() == Some(&id)
                    || (r.lane_id.is_none()
                        && !owner.is_empty()
                        && r.slot == owner))),
            );
        }

        let assignments = snap
            .reg
            .worker_slots()
            .iter()
            .map(|slot| {
                let row = snap.slot_row(self, slot)?;
                Ok(json!({
                    "slot": slot, "project": row["project"], "focus": row["focus"], "branch": row["branch"],
                    "current_task_id": row["current_task_id"], "current_task_status": row["current_task_status"],
                    "open_tasks": row["open_tasks"], "unread": row["unread"],
                    "heartbeat_status": row["heartbeat_status"], "heartbeat_checked_at": row["heartbeat_checked_at"],
                }))
            })
            .collect::<Result<Vec<Value>>>()?;

        let reports: Vec<Value> = idx.recent_reports.iter().rev().take(lim).cloned().collect();
        let receipts: Vec<Value> = idx
            .recent_closed
            .iter()
            .rev()
            .filter(|r| tasks::is_integrated(&r.status) && r.commit.as_deref().is_some_and(|c| !c.is_empty()))
            .take(lim)
            .map(|r| json!({
                "task_id": r.task_id, "slot": r.slot, "commit": r.commit,
                "integrated_at": r.integrated_at, "milestone_id": r.milestone_id, "lane_id": r.lane_id,
            }))
            .collect();

        Ok(json!({
            "version": 1,
            "generated_at": time::now(),
            "board": {
                "name": board.get("name"), "description": board.get("description"),
                "updated_at": board.get("updated_at"),
            },
            "visibility": {
                "viewer_slot": viewer,
                "role": if is_coord { "coordinator" } else { "worker" },
                "can_manage_backlog": is_coord,
                "can_read_all_progress": true,
                "can_report_own_work": !is_coord,
                "own_task_ids": own,
            },
            "progress": {
                "status_counts": idx.counts,
                "total_tasks": idx.total,
                "open_tasks": idx.open.len(),
                "active_slots": snap.reg.worker_slots().len(),
                "summary_pause": snap.pause_policy(),
            },
            "milestones": milestones,
            "lanes": lanes,
            "tasks": task_values,
            "tasks_listed": task_values.len(),
            "tasks_omitted": total_listed.saturating_sub(task_values.len()),
            "assignments": assignments,
            "reports": reports,
            "integration_receipts": receipts,
        }))
    }
}
