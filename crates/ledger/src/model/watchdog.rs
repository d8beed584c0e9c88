//! The coordinator watchdog's memory (`watchdog/coordinator.json`, the
//! reference's file and shape) and its alerts.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One watchdog alert.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Alert {
    /// `<type>:<slot>:<reason>:<ref>`: an alert with the same key is snoozed.
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub slot: String,
    pub reason: String,
    pub detail: String,
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(default)]
    pub unread: usize,
    pub recommendation: String,
    pub heartbeat_checked_at: Option<String>,
    pub latest_inbox_created_at: Option<String>,
    pub current_task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_until: Option<String>,
}

/// What the watchdog last decided and notified.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct WatchdogState {
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub checked_at: Option<String>,
    #[serde(default)]
    pub decision: Option<String>,
    #[serde(default)]
    pub coordinator_unread: usize,
    #[serde(default, deserialize_with = "super::lenient::records")]
    pub alerts: Vec<Alert>,
    #[serde(default, deserialize_with = "super::lenient::records")]
    pub suppressed: Vec<Alert>,
    /// Alert key → when it was last notified.
    #[serde(default)]
    pub last_notified: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
