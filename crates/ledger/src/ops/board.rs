//! `upsert_milestone` and `upsert_lane` (coordinator only).

use serde_json::Number;

use crate::api::{self, UpsertLaneResponse, UpsertMilestoneResponse};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::model::SlotId;
use crate::model::board::sort_key;
use crate::model::ids::{self, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::records;
use crate::store::Store;
use crate::time;

/// A sort position: finite and within a billion; an integral value stays
/// an integer on disk.
fn check_order(order: Option<f64>) -> Result<Option<Number>> {
    match order {
        None => Ok(None),
        Some(o) if !o.is_finite() || o.abs() > 1e9 => {
            Err(Error::invalid("order", "must be a finite number"))
        }
        Some(o) if o.fract() == 0.0 => Ok(Some(Number::from(o as i64))),
        Some(o) => Ok(Number::from_f64(o)),
    }
}

/// Keep `prev` unless a non-empty `new` is given; `default` when both are empty.
fn merge(prev: &mut String, new: &Option<String>, default: &str) {
    if let Some(v) = new.as_deref().filter(|s| !s.is_empty()) {
        *prev = v.to_string();
    } else if prev.is_empty() {
        *prev = default.to_string();
    }
}

fn merge_opt(prev: &mut Option<String>, new: &Option<String>) {
    if let Some(v) = new.as_deref().filter(|s| !s.is_empty()) {
        *prev = Some(v.to_string());
    } else if prev.is_none() {
        *prev = Some(String::new());
    }
}

fn check_status(status: &Option<String>) -> Result<()> {
    if let Some(s) = status.as_deref().filter(|s| !s.is_empty()) {
        ids::short_id("status", s)?;
    }
    Ok(())
}

impl Store {
    /// `upsert_milestone`: create or update a milestone (fields not given
    /// keep their value).
    pub fn upsert_milestone(
        &self,
        ctx: &Ctx,
        req: &api::UpsertMilestone,
    ) -> Result<UpsertMilestoneResponse> {
        ctx.caller.require_coordinator("upsert_milestone")?;
        ids::short_id("milestone_id", &req.milestone_id)?;
        ids::text("title", req.title.as_deref().unwrap_or(""), MAX_TITLE_LEN)?;
        ids::text(
            "description",
            req.description.as_deref().unwrap_or(""),
            MAX_TEXT_LEN,
        )?;
        check_status(&req.status)?;
        let order = check_order(req.order)?;
        let txn = self.write()?;
        let mut board = records::board::load(&txn)?;
        let now = time::now();
        let pos = board
            .milestones
            .iter()
            .position(|m| m.milestone_id == req.milestone_id);
        let mut m = pos.map(|i| board.milestones[i].clone()).unwrap_or_default();
        m.milestone_id = req.milestone_id.clone();
        merge(&mut m.title, &req.title, &req.milestone_id);
        merge(&mut m.status, &req.status, "planned");
        merge_opt(&mut m.description, &req.description);
        if order.is_some() || m.order.is_none() {
            m.order = Some(order.unwrap_or_else(|| Number::from(0)));
        }
        m.created_at.get_or_insert_with(|| now.clone());
        m.updated_at = Some(now.clone());
        match pos {
            Some(i) => board.milestones[i] = m.clone(),
            None => board.milestones.push(m.clone()),
        }
        board
            .milestones
            .sort_by_key(|m| sort_key(&m.order, &m.milestone_id));
        board.updated_at = Some(now);
        records::board::save(&txn, &board)?;
        Ok(UpsertMilestoneResponse { milestone: m })
    }

    /// `upsert_lane`: create or update a lane (fields not given keep their
    /// value).
    pub fn upsert_lane(&self, ctx: &Ctx, req: &api::UpsertLane) -> Result<UpsertLaneResponse> {
        ctx.caller.require_coordinator("upsert_lane")?;
        ids::short_id("lane_id", &req.lane_id)?;
        if let Some(o) = req.owner_slot.as_deref().filter(|s| !s.is_empty()) {
            SlotId::worker("owner_slot", o)?;
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
        check_status(&req.status)?;
        let order = check_order(req.order)?;
        let txn = self.write()?;
        let mut board = records::board::load(&txn)?;
        let now = time::now();
        let pos = board.lanes.iter().position(|l| l.lane_id == req.lane_id);
        let mut l = pos.map(|i| board.lanes[i].clone()).unwrap_or_default();
        l.lane_id = req.lane_id.clone();
        merge(&mut l.title, &req.title, &req.lane_id);
        merge(&mut l.owner_slot, &req.owner_slot, "");
        merge(&mut l.project, &req.project, "");
        merge(&mut l.status, &req.status, "active");
        merge_opt(&mut l.description, &req.description);
        if order.is_some() || l.order.is_none() {
            l.order = Some(order.unwrap_or_else(|| Number::from(0)));
        }
        l.created_at.get_or_insert_with(|| now.clone());
        l.updated_at = Some(now.clone());
        match pos {
            Some(i) => board.lanes[i] = l.clone(),
            None => board.lanes.push(l.clone()),
        }
        board.lanes.sort_by_key(|l| sort_key(&l.order, &l.lane_id));
        board.updated_at = Some(now);
        records::board::save(&txn, &board)?;
        Ok(UpsertLaneResponse { lane: l })
    }
}
