//! `register_slot`, `record_heartbeat`, and the CLI's heartbeat links.

use crate::api::{self, HeartbeatLinksResponse, RecordHeartbeatResponse, RegisterSlotResponse};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::model::ids::{self, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::slot::{HEARTBEAT_STATUSES, SLOT_STATUSES};
use crate::model::{Heartbeat, SlotId};
use crate::records;
use crate::store::{Layout, Store};
use crate::time;

use super::{nonempty, one_of, opt_worktree, text_opt};

/// Keep `prev` unless a non-empty `new` is given; `default` when both are empty.
fn merge(prev: &mut String, new: &Option<String>, default: &str) {
    if let Some(v) = new.as_deref().filter(|s| !s.is_empty()) {
        *prev = v.to_string();
    } else if prev.is_empty() {
        *prev = default.to_string();
    }
}

/// A set-or-clear field: absent keeps it, "" clears it.
fn set_or_clear(field: &mut Option<String>, new: &Option<String>) {
    match new.as_deref() {
        Some("") => *field = None,
        Some(v) => *field = Some(v.to_string()),
        None => {}
    }
}

impl Store {
    /// `register_slot`: upsert a slot. A worker may register only itself;
    /// fields not given keep their value. A session registering itself binds
    /// its Codex thread to the slot.
    pub fn register_slot(
        &self,
        ctx: &Ctx,
        req: &api::RegisterSlot,
    ) -> Result<RegisterSlotResponse> {
        let slot = SlotId::worker("slot", &req.slot)?;
        ctx.caller.require_self(&slot, "register", true)?;
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
        let worktree = opt_worktree(&req.worktree)?;
        let txn = self.write()?;
        let mut reg = records::registry::load(&txn)?;
        let e = reg.entry_mut(&slot);
        e.slot = slot.to_string();
        merge(&mut e.identity, &req.identity, "developer");
        merge(&mut e.project, &req.project, "");
        merge(&mut e.focus, &req.focus, "");
        merge(&mut e.worktree, &worktree, "");
        merge(&mut e.branch, &req.branch, "");
        merge(&mut e.status, &req.status, "active");
        if !slot.is_coordinator() {
            e.inbox = Some(Layout::cursor_pointer(&slot));
        }
        if let Some(r) = req.run_id.clone().filter(|s| !s.is_empty()) {
            e.run_id = Some(r);
        }
        set_or_clear(&mut e.app_server_thread_id, &req.app_server_thread_id);
        set_or_clear(&mut e.app_server_url, &req.app_server_url);
        e.updated_at = Some(time::now());
        // Only a session registering itself binds its thread: the
        // coordinator registering a worker must not bind its own thread to it.
        if let Some(t) = ctx
            .thread_id
            .as_deref()
            .filter(|_| ctx.caller.slot() == &slot)
        {
            reg.bind_thread(&slot, t);
        }
        let entry = reg.entry_mut(&slot).clone();
        records::registry::save(&txn, &mut reg)?;
        txn.commit()?;
        Ok(RegisterSlotResponse { slot: entry })
    }

    /// `record_heartbeat`: a slot says it is alive (or failing). The
    /// coordinator may record one for any slot (a supervisor marking a dead
    /// session failed); such a heartbeat does not renew the slot's leases.
    pub fn record_heartbeat(
        &self,
        ctx: &Ctx,
        req: &api::RecordHeartbeat,
    ) -> Result<RecordHeartbeatResponse> {
        let slot = SlotId::parse("slot", &req.slot)?;
        ctx.caller.require_self(&slot, "record a heartbeat", true)?;
        let status = req
            .status
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "ok".into());
        one_of("status", &status, HEARTBEAT_STATUSES)?;
        let run_id = nonempty("run_id", &req.run_id, MAX_TITLE_LEN)?;
        let error = nonempty("error", &req.error, MAX_TEXT_LEN)?;
        let hb = Heartbeat {
            slot: slot.to_string(),
            status,
            run_id: run_id.clone(),
            checked_at: Some(time::now()),
            error,
            recorded_by: Some(ctx.caller.slot().to_string()).filter(|by| by != slot.as_str()),
            ..Heartbeat::default()
        };
        let txn = self.write()?;
        records::heartbeats::save(&txn, &slot, &hb)?;
        super::tasks::renew_leases(&txn, &slot, &hb)?;
        let mut reg = records::registry::load(&txn)?;
        let registered = reg.is_registered(&slot);
        if registered {
            let e = reg.entry_mut(&slot);
            e.heartbeat = Some(hb.clone());
            e.heartbeat_status = Some(hb.status.clone());
            e.heartbeat_checked_at = hb.checked_at.clone();
            if let Some(r) = &run_id {
                e.run_id = Some(r.clone());
            }
            if let Some(t) = ctx
                .thread_id
                .as_deref()
                .filter(|_| ctx.caller.slot() == &slot)
            {
                reg.bind_thread(&slot, t);
            }
            records::registry::save(&txn, &mut reg)?;
        }
        txn.commit()?;
        Ok(RecordHeartbeatResponse {
            heartbeat: hb,
            slot_registered: registered,
        })
    }

    /// Keep the automation id and the Desktop thread id a heartbeat came
    /// with, on the slot's registry entry (`heartbeat_automation_id`,
    /// `thread_id`, as the reference CLI did). Same rule as
    /// `record_heartbeat`.
    pub fn record_heartbeat_links(
        &self,
        ctx: &Ctx,
        req: &api::HeartbeatLinks,
    ) -> Result<HeartbeatLinksResponse> {
        let slot = SlotId::parse("slot", &req.slot)?;
        ctx.caller.require_self(&slot, "record a heartbeat", true)?;
        for (f, v) in [
            ("automation_id", &req.automation_id),
            ("thread_id", &req.thread_id),
        ] {
            ids::text(f, v.as_deref().unwrap_or(""), MAX_TITLE_LEN)?;
            if v.as_deref().is_some_and(|s| s.contains('\n')) {
                return Err(Error::invalid(f, "must be one line"));
            }
        }
        let txn = self.write()?;
        let mut reg = records::registry::load(&txn)?;
        if !reg.is_registered(&slot) {
            return Ok(HeartbeatLinksResponse {
                slot: slot.to_string(),
                slot_registered: false,
                heartbeat_automation_id: None,
                thread_id: None,
            });
        }
        let e = reg.entry_mut(&slot);
        let mut changed = false;
        for (field, v) in [
            (&mut e.heartbeat_automation_id, &req.automation_id),
            (&mut e.thread_id, &req.thread_id),
        ] {
            if let Some(v) = v.as_deref().filter(|s| !s.is_empty())
                && field.as_deref() != Some(v)
            {
                *field = Some(v.to_string());
                changed = true;
            }
        }
        let out = HeartbeatLinksResponse {
            slot: slot.to_string(),
            slot_registered: true,
            heartbeat_automation_id: e.heartbeat_automation_id.clone(),
            thread_id: e.thread_id.clone(),
        };
        if changed {
            records::registry::save(&txn, &mut reg)?;
        }
        txn.commit()?;
        Ok(out)
    }
}
