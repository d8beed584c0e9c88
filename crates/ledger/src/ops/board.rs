//! `upsert_milestone` and `upsert_lane` (coordinator only).

use serde_json::Number;

use crate::api::{self, UpsertLaneResponse, UpsertMilestoneResponse};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::model::board::sort_key;
use crate::model::ids::{self, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::{Lane, Milestone, SlotId};
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

/// The arguments milestones and lanes share, checked.
struct Common<'a> {
    id: &'a str,
    title: &'a Option<String>,
    status: &'a Option<String>,
    status_default: &'static str,
    description: &'a Option<String>,
    order: Option<Number>,
}

impl<'a> Common<'a> {
    #[allow(clippy::too_many_arguments)]
    fn check(
        id_field: &str,
        id: &'a str,
        title: &'a Option<String>,
        status: &'a Option<String>,
        status_default: &'static str,
        description: &'a Option<String>,
        order: Option<f64>,
    ) -> Result<Common<'a>> {
        ids::short_id(id_field, id)?;
        ids::text("title", title.as_deref().unwrap_or(""), MAX_TITLE_LEN)?;
        ids::text(
            "description",
            description.as_deref().unwrap_or(""),
            MAX_TEXT_LEN,
        )?;
        if let Some(s) = status.as_deref().filter(|s| !s.is_empty()) {
            ids::short_id("status", s)?;
        }
        Ok(Common {
            id,
            title,
            status,
            status_default,
            description,
            order: check_order(order)?,
        })
    }
}

/// The fields of a milestone or a lane the shared arguments set.
struct Fields<'r> {
    id: &'r mut String,
    title: &'r mut String,
    status: &'r mut String,
    description: &'r mut Option<String>,
    order: &'r mut Option<Number>,
    created_at: &'r mut Option<String>,
    updated_at: &'r mut Option<String>,
}

trait Item: Clone + Default {
    fn fields(&mut self) -> Fields<'_>;
    fn key(&self) -> (i64, String);
}

impl Item for Milestone {
    fn fields(&mut self) -> Fields<'_> {
        Fields {
            id: &mut self.milestone_id,
            title: &mut self.title,
            status: &mut self.status,
            description: &mut self.description,
            order: &mut self.order,
            created_at: &mut self.created_at,
            updated_at: &mut self.updated_at,
        }
    }
    fn key(&self) -> (i64, String) {
        sort_key(&self.order, &self.milestone_id)
    }
}

impl Item for Lane {
    fn fields(&mut self) -> Fields<'_> {
        Fields {
            id: &mut self.lane_id,
            title: &mut self.title,
            status: &mut self.status,
            description: &mut self.description,
            order: &mut self.order,
            created_at: &mut self.created_at,
            updated_at: &mut self.updated_at,
        }
    }
    fn key(&self) -> (i64, String) {
        sort_key(&self.order, &self.lane_id)
    }
}

/// Create or update the item `c.id` of `items` (kept sorted), merging the
/// shared arguments, then `own` for the item's own fields. Fields not given
/// keep their value.
fn upsert<T: Item>(items: &mut Vec<T>, c: &Common, now: &str, own: impl FnOnce(&mut T)) -> T {
    let pos = items.iter_mut().position(|m| m.fields().id == c.id);
    let mut item = pos.map(|i| items[i].clone()).unwrap_or_default();
    let f = item.fields();
    *f.id = c.id.to_string();
    merge(f.title, c.title, c.id);
    merge(f.status, c.status, c.status_default);
    merge_opt(f.description, c.description);
    if c.order.is_some() || f.order.is_none() {
        *f.order = Some(c.order.clone().unwrap_or_else(|| Number::from(0)));
    }
    f.created_at.get_or_insert_with(|| now.to_string());
    *f.updated_at = Some(now.to_string());
    own(&mut item);
    match pos {
        Some(i) => items[i] = item.clone(),
        None => items.push(item.clone()),
    }
    items.sort_by_key(Item::key);
    item
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
        let c = Common::check(
            "milestone_id",
            &req.milestone_id,
            &req.title,
            &req.status,
            "planned",
            &req.description,
            req.order,
        )?;
        let txn = self.write()?;
        let mut board = records::board::load(&txn)?;
        let now = time::now();
        let milestone = upsert(&mut board.milestones, &c, &now, |_| {});
        board.updated_at = Some(now);
        records::board::save(&txn, &board)?;
        txn.commit()?;
        Ok(UpsertMilestoneResponse { milestone })
    }

    /// `upsert_lane`: create or update a lane (fields not given keep their
    /// value).
    pub fn upsert_lane(&self, ctx: &Ctx, req: &api::UpsertLane) -> Result<UpsertLaneResponse> {
        ctx.caller.require_coordinator("upsert_lane")?;
        let c = Common::check(
            "lane_id",
            &req.lane_id,
            &req.title,
            &req.status,
            "active",
            &req.description,
            req.order,
        )?;
        if let Some(o) = req.owner_slot.as_deref().filter(|s| !s.is_empty()) {
            SlotId::worker("owner_slot", o)?;
        }
        ids::text(
            "project",
            req.project.as_deref().unwrap_or(""),
            MAX_TITLE_LEN,
        )?;
        let txn = self.write()?;
        let mut board = records::board::load(&txn)?;
        let now = time::now();
        let lane = upsert(&mut board.lanes, &c, &now, |l| {
            merge(&mut l.owner_slot, &req.owner_slot, "");
            merge(&mut l.project, &req.project, "");
        });
        board.updated_at = Some(now);
        records::board::save(&txn, &board)?;
        txn.commit()?;
        Ok(UpsertLaneResponse { lane })
    }
}
