//! `record_wake_attempt`: keep evidence of a wake (planned, sent, failed).

use crate::api::{self, RecordWakeAttemptResponse};
use crate::auth::Ctx;
use crate::error::Result;
use crate::model::ids::{self, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::{SlotId, WakeAttempt};
use crate::records;
use crate::store::Store;
use crate::time;

use super::{nonempty, text_opt};

fn or(v: &Option<String>, default: &str) -> String {
    v.clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| default.into())
}

impl Store {
    pub fn record_wake_attempt(
        &self,
        ctx: &Ctx,
        req: &api::RecordWakeAttempt,
    ) -> Result<RecordWakeAttemptResponse> {
        let slot = SlotId::parse("slot", &req.slot)?;
        ctx.caller
            .require_self(&slot, "record a wake attempt", true)?;
        let action = or(&req.action, "wake_slot");
        let adapter = or(&req.adapter, "notify-only");
        let status = or(&req.status, "planned");
        for (f, v) in [
            ("action", &action),
            ("adapter", &adapter),
            ("status", &status),
        ] {
            ids::short_id(f, v)?;
        }
        let reason = text_opt("reason", &req.reason, MAX_TITLE_LEN)?;
        let prompt = nonempty("prompt", &req.prompt, MAX_TEXT_LEN)?;
        let error = nonempty("error", &req.error, MAX_TEXT_LEN)?;
        let run_id = nonempty("run_id", &req.run_id, MAX_TITLE_LEN)?;
        if let Some(r) = &req.result {
            ids::payload("result", r)?;
        }
        let route = nonempty("route", &req.route, MAX_TITLE_LEN)?;
        if let Some(r) = &route {
            ids::short_id("route", r)?;
        }
        let state_key = nonempty("state_key", &req.state_key, MAX_TITLE_LEN)?;
        if let Some(e) = &req.evidence {
            ids::payload("evidence", e)?;
        }
        if let Some(t) = &req.timings {
            ids::payload("timings", t)?;
        }
        let attempt = WakeAttempt {
            id: crate::model::message::new_id("wake"),
            slot: slot.to_string(),
            action,
            adapter,
            status,
            reason,
            prompt,
            result: req.result.clone(),
            error,
            run_id,
            recorded_by: ctx.caller.slot().to_string(),
            created_at: time::now(),
            route,
            state_key,
            timings: req.timings.clone(),
            evidence: req.evidence.clone(),
            ..WakeAttempt::default()
        };
        self.transact(|txn| records::wake::save(txn, &slot, &attempt))?;
        Ok(RecordWakeAttemptResponse { attempt })
    }
}
