//! `record_summary_pause` (coordinator only): write the marker the pause
//! policy reads. Markers are monotonic and never run ahead of the work.

use serde_json::json;

use crate::api::{self, RecordSummaryPauseResponse};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::model::Payload;
use crate::model::ids::{self, COORDINATOR, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::message::SUMMARY_PAUSE;
use crate::store::Store;
use crate::time;
use crate::views::Snapshot;
use crate::views::pause::{PAUSE_DUE, range};

use super::messages::{Draft, append};

impl Store {
    pub fn record_summary_pause(
        &self,
        ctx: &Ctx,
        req: &api::RecordSummaryPause,
    ) -> Result<RecordSummaryPauseResponse> {
        ctx.caller.require_coordinator("record_summary_pause")?;
        let summary = req.summary.clone().unwrap_or_default();
        ids::text("summary", &summary, MAX_TEXT_LEN)?;
        let subject = req.subject.clone().unwrap_or_default();
        ids::text("subject", &subject, MAX_TITLE_LEN)?;
        if req
            .integration_count
            .is_some_and(|c| !c.is_finite() || c < 0.0)
        {
            return Err(Error::invalid(
                "integration_count",
                "must be a finite number >= 0",
            ));
        }
        let txn = self.write()?;
        let before = Snapshot::within(&txn)?.pause_policy();
        let integrated = before.integrated_count;
        let last = before.last_pause_integration_count;
        let count = req
            .integration_count
            .map(|c| c as u64)
            .unwrap_or(integrated);
        if count > integrated {
            return Err(Error::invalid(
                "integration_count",
                format!(
                    "{count} is above the current integrated count {integrated}; a pause marker cannot run ahead of the work"
                ),
            ));
        }
        if count < last {
            return Err(Error::conflict(
                "pause_monotonic",
                format!("the last pause was at {last} integrations; markers only move forward"),
            ));
        }
        let mut payload = Payload::new();
        for (k, v) in [
            ("integration_count", json!(count)),
            (
                "integrations_since_pause",
                json!(count.saturating_sub(last)),
            ),
            ("threshold", json!(PAUSE_DUE)),
            ("range", json!(range())),
            ("summary", json!(summary)),
            ("recorded_at", json!(time::now())),
        ] {
            payload.insert(k.into(), v);
        }
        let marker = append(
            &txn,
            Draft {
                kind: SUMMARY_PAUSE,
                from: ctx.caller.slot(),
                to: COORDINATOR,
                subject: &if subject.is_empty() {
                    format!("Coordinator summary pause at {count} integrations")
                } else {
                    subject
                },
                message: &if summary.is_empty() {
                    "Coordinator stopped for the periodic summary pause.".to_string()
                } else {
                    summary
                },
                task_id: None,
                payload,
                cwd: "",
            },
        )?;
        // The marker must be in the ledger for the policy to read it.
        txn.flush()?;
        let policy = Snapshot::within(&txn)?.pause_policy();
        txn.commit()?;
        Ok(RecordSummaryPauseResponse { marker, policy })
    }
}
