//! Wake attempts (`wake/<stamp>_<slot>_<id>.json`): evidence of a nudge.

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
    /// planned, dry_run, blocked, completed, failed, ...
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub reason: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub prompt: Option<String>,
    /// Evidence from the sender.
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
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
