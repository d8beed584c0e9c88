//! The periodic summary pause: after 35 integrations (warned from 30) the
//! coordinator stops to summarise for the operator.

use crate::api::{PausePolicy, PauseRange};

use super::Snapshot;

/// Integrations between summary pauses: warn at 30, pause at 35, at most 40.
pub const PAUSE_WARN: u64 = 30;
pub const PAUSE_DUE: u64 = 35;
pub const PAUSE_MAX: u64 = 40;

pub fn range() -> PauseRange {
    PauseRange {
        min: PAUSE_WARN,
        recommended: PAUSE_DUE,
        max: PAUSE_MAX,
    }
}

impl Snapshot<'_, '_> {
    /// The summary-pause policy. A marker whose count is above the current
    /// integrated count is ignored (it cannot switch pauses off).
    pub fn pause_policy(&self) -> PausePolicy {
        let integrated = self.idx.integrated_count();
        let marker = self
            .view
            .pauses()
            .iter()
            .rev()
            .find(|m| m.count <= integrated);
        let last = marker.map(|m| m.count).unwrap_or(0);
        let since = integrated.saturating_sub(last);
        let due = since >= PAUSE_DUE;
        let warning = (PAUSE_WARN..PAUSE_DUE).contains(&since);
        PausePolicy {
            policy: "coordinator_summary_pause".into(),
            range: range(),
            integrated_count: integrated,
            last_pause_integration_count: last,
            last_pause_at: marker.and_then(|m| m.at.clone()),
            integrations_since_pause: since,
            next_pause_at: last + PAUSE_DUE,
            due,
            warning,
            action: if due {
                "stop_and_summarize"
            } else if warning {
                "prepare_summary_pause"
            } else {
                "continue"
            }
            .into(),
            reason: if due {
                "summary_pause_due"
            } else if warning {
                "summary_pause_soon"
            } else {
                ""
            }
            .into(),
            instructions: "When due, stop the coordinator loop, give the operator a short summary of what was integrated, then call record_summary_pause before assigning or waking more work.".into(),
        }
    }
}
