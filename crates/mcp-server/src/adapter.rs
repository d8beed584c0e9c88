//! The reference's `adapter_request` on each wake action of `plan_wake`: the
//! ledger's typed delivery, spelt as the `turn/start` request Codex's
//! app-server reads (the wire types come from `app_server_protocol`).

use app_server_protocol::{TurnStartParams, method};
use ledger::api::{Delivery, WakeAction};
use schemars::JsonSchema;
use serde::Serialize;

/// What to send to wake a slot, in the reference's three shapes.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AdapterRequest {
    /// Nothing is sent to Codex: someone passes the prompt on.
    NotifyOnly {
        adapter: String,
        mode: String,
        prompt: String,
    },
    /// A `turn/start` on the slot's thread, ready to send.
    Ready {
        adapter: String,
        mode: String,
        method: String,
        app_server_url: Option<String>,
        params: TurnStartParams,
        note: String,
    },
    /// The slot has no app-server thread yet.
    NeedsThread {
        adapter: String,
        mode: String,
        requires: Vec<String>,
        method: String,
        params_template: TurnStartParams,
        note: String,
    },
}

/// A wake action with its adapter request.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PlannedWake {
    #[serde(flatten)]
    pub action: WakeAction,
    pub adapter_request: Option<AdapterRequest>,
}

impl From<WakeAction> for PlannedWake {
    fn from(action: WakeAction) -> PlannedWake {
        let prompt = action.prompt.clone().unwrap_or_default();
        let adapter_request = action.delivery.as_ref().map(|d| match d {
            Delivery::NotifyOnly => AdapterRequest::NotifyOnly {
                adapter: "notify-only".into(),
                mode: "dry-run".into(),
                prompt,
            },
            Delivery::AppServer { thread_id, url } => AdapterRequest::Ready {
                adapter: "codex-app-server".into(),
                mode: "ready".into(),
                method: method::TURN_START.into(),
                app_server_url: url.clone(),
                params: TurnStartParams::text(thread_id.clone(), prompt),
                note: "Resume the thread (thread/resume) and start a turn; if another process holds the thread, queue the prompt instead.".into(),
            },
            Delivery::NeedsThread => AdapterRequest::NeedsThread {
                adapter: "codex-app-server".into(),
                mode: "dry-run".into(),
                requires: vec!["app_server_thread_id".into()],
                method: method::TURN_START.into(),
                params_template: TurnStartParams::text("${app_server_thread_id}", prompt),
                note: "Register the slot's app_server_thread_id before a wake can be sent.".into(),
            },
        });
        PlannedWake {
            action,
            adapter_request,
        }
    }
}
