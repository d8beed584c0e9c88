//! Messages: one line of `messages/ledger.jsonl` each.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;

/// A caller's structured data on a message: a JSON object, stored as given
/// (opaque to the ledger; bounded at the edge).
pub type Payload = Map<String, Value>;

/// Message types that only their dedicated tools may write.
pub const RESERVED_TYPES: &[&str] = &[
    "task.assign",
    "commit_report",
    "coordinator.summary_pause",
    "summary_pause",
];

/// Types that count as summary-pause markers.
pub const PAUSE_TYPES: &[&str] = &["coordinator.summary_pause", "summary_pause"];

/// The type of a task's assignment notice.
pub const TASK_ASSIGN: &str = "task.assign";
/// The type of a commit report notice.
pub const COMMIT_REPORT: &str = "commit_report";
/// The type of the coordinator's summary-pause marker.
pub const SUMMARY_PAUSE: &str = "coordinator.summary_pause";

/// One message. `seq` is the ledger's order (assigned under the store lock;
/// a legacy line without one counts as its line number). Fields the
/// reference wrote that codenator does not know stay in `extra`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Message {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(
        rename = "type",
        default = "default_kind",
        deserialize_with = "lenient::string"
    )]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub from: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub to: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub subject: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub payload: Payload,
    #[serde(default, deserialize_with = "lenient::string")]
    pub created_at: String,
    /// Where the sender worked (the commit report's worktree).
    #[serde(default, deserialize_with = "lenient::string")]
    pub cwd: String,
    #[serde(default)]
    pub seq: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_kind() -> String {
    "message".into()
}

impl Message {
    /// A subject line for a listing: the subject, else the type, else the id.
    pub fn headline(&self) -> &str {
        [&self.subject, &self.kind, &self.id]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", String::as_str)
    }
}

/// A fresh record id: `<prefix>_<16 hex>`.
pub fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &u[..16])
}
