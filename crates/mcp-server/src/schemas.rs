//! The tools' output schemas: one table of which type each tool answers,
//! and the schemas themselves, generated from those types ahead of time.
//!
//! Generating the JSON Schemas of eighteen nested answer types with
//! schemars costs several milliseconds, on every cold start of every
//! session's server; parsing them from the binary costs a fraction of one.
//! So the schemas are generated once, checked in (`schemas/output.json`)
//! and embedded; `tests/tools_list.rs` fails when they no longer match the
//! types, and `UPDATE_SNAPSHOTS=1` regenerates them.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use ledger::api;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::model::JsonObject;

use crate::PlannedWake;

/// An answer type, and the one tool that answers it.
pub trait ToolOutput: serde::Serialize + schemars::JsonSchema + Send + 'static {
    const TOOL: &'static str;
}

macro_rules! outputs {
    ($($tool:ident => $ty:ty),* $(,)?) => {
        $(impl ToolOutput for $ty {
            const TOOL: &'static str = stringify!($tool);
        })*

        /// Every tool's output schema, generated from its type now.
        pub fn generated() -> Vec<(&'static str, Arc<JsonObject>)> {
            vec![$((stringify!($tool), schema_for_output::<$ty>())),*]
        }
    };
}

outputs! {
            get_status => api::StatusResponse,
            register_slot => api::RegisterSlotResponse,
            send_message => api::SendMessageResponse,
            read_inbox => api::ReadInboxResponse,
            get_focus_board => api::FocusBoard,
            upsert_milestone => api::UpsertMilestoneResponse,
            upsert_lane => api::UpsertLaneResponse,
            create_task => api::CreateTaskResponse,
            claim_next_task => api::ClaimNextTaskResponse,
            update_task => api::UpdateTaskResponse,
            get_task => api::GetTaskResponse,
            list_tasks => api::ListTasksResponse,
            report_commit => api::ReportCommitResponse,
            record_heartbeat => api::RecordHeartbeatResponse,
            plan_wake => api::WakePlan<PlannedWake>,
            requeue_expired_leases => api::RequeueExpiredResponse,
            record_summary_pause => api::RecordSummaryPauseResponse,
            record_wake_attempt => api::RecordWakeAttemptResponse,
            dispatch_job => jobs::StartResponse,
            list_jobs => jobs::JobList,
            job_status => jobs::JobView,
            job_output => jobs::api::JobOutputResponse,
            send_to_job => jobs::api::SendToJobResponse,
            cancel_job => jobs::api::CancelJobResponse,
}

/// The checked-in schemas (`schemas/output.json`: tool name to schema).
const EMBEDDED: &str = include_str!("../schemas/output.json");

/// The output schema of `tool`, from the embedded file (an empty object
/// schema for a tool it lacks: the snapshot test then fails).
pub fn output_schema(tool: &str) -> Arc<JsonObject> {
    static PARSED: OnceLock<HashMap<String, Arc<JsonObject>>> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        serde_json::from_str::<HashMap<String, JsonObject>>(EMBEDDED)
            .map(|m| m.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
            .unwrap_or_default()
    });
    all.get(tool).cloned().unwrap_or_else(|| {
        let mut o = JsonObject::new();
        o.insert("type".into(), "object".into());
        Arc::new(o)
    })
}
