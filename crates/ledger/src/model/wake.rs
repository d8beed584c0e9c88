//! Wake attempts (`wake/<stamp>_<slot>_<id>.json`): evidence of a nudge.
//!
//! The reference's fields first (`result` is its free-form evidence); what
//! codenator adds is typed and additive: the route a delivery took, its
//! timings, the evidence tails, and the state of the slot the wake was for
//! (so a waker can tell whether anything changed since).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;
use super::message::Payload;

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WakeAttempt {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub slot: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub action: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub adapter: String,
    /// planned, dry_run, blocked, completed, queued, failed, ...
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub reason: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub prompt: Option<String>,
    /// Evidence from the sender (free-form, the reference's).
    #[serde(default, deserialize_with = "lenient::opt_object")]
    pub result: Option<Payload>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub recorded_by: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub created_at: String,
    /// How the wake was delivered: app_server (an app-server of the
    /// waker's own), app_server_url (the thread's listening app-server),
    /// queue (`codex queue`, run by the thread's owner), notify_only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The slot's state when it was woken (the plan's `state_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<WakeTimings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<WakeEvidence>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WakeAttempt {
    /// The wake reached the slot's thread: a turn ran, or the message waits
    /// in the thread's queue for its owner.
    pub fn delivered(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "queued")
    }
}

/// When a delivery started and ended, and how long each phase took.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WakeTimings {
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub finished_at: String,
    #[serde(default)]
    pub total_ms: u64,
    /// Starting (or reaching) the app-server and its handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_ms: Option<u64>,
    /// From closing the app-server until it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_ms: Option<u64>,
}

/// One request the slot's session asked of the waker, and the answer.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AnsweredRequest {
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub answer: String,
    #[serde(default)]
    pub detail: String,
}

/// The tail of what a delivery saw (each list bounded by the sender).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WakeEvidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_status: Option<String>,
    /// Why this route, when it was not the first choice (the thread was held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_note: Option<String>,
    /// The queued message's id (route queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_item: Option<String>,
    #[serde(default)]
    pub agent_text_tail: String,
    #[serde(default)]
    pub answered: Vec<AnsweredRequest>,
    /// MCP tool calls of the turn, as `server/tool status`.
    #[serde(default)]
    pub tool_calls: Vec<String>,
    #[serde(default)]
    pub events_tail: Vec<String>,
    #[serde(default)]
    pub stderr_tail: Vec<String>,
    #[serde(default)]
    pub turns_started: Vec<String>,
}
