//! The slot registry (`registry.json`): the coordinator and the worker
//! sessions, and the heartbeat a slot records.
//!
//! Known fields are typed; anything else (fields the reference wrote, such
//! as its `current_task_id`, or fields of a newer codenator) is kept in
//! `extra` and written back unchanged.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::ids::{COORDINATOR, SlotId};
use super::lenient;

/// A slot's status, as the operator sets it.
pub const SLOT_STATUSES: &[&str] = &["active", "paused", "parked"];
/// Heartbeat statuses.
pub const HEARTBEAT_STATUSES: &[&str] = &["ok", "failed", "stale"];

/// The last heartbeat of a slot (`heartbeat/<slot>.json`, and a copy on the
/// slot's registry entry).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Heartbeat {
    #[serde(default, deserialize_with = "lenient::string")]
    pub slot: String,
    /// ok, failed or stale.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub checked_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error: Option<String>,
    /// Who recorded it: the slot itself, or the coordinator marking it (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One slot's registry entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SlotEntry {
    #[serde(default, deserialize_with = "lenient::string")]
    pub slot: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub identity: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub project: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub focus: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub worktree: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub branch: String,
    /// active, paused or parked ("" means active).
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
    /// Where the slot's read cursor lives (the reference's pointer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub run_id: Option<String>,
    /// Codex app-server thread used to wake the slot.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub app_server_thread_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub app_server_url: Option<String>,
    /// The Codex thread that speaks for this slot (bound by register_slot).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub codex_thread_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_heartbeat"
    )]
    pub heartbeat: Option<Heartbeat>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub heartbeat_status: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub heartbeat_checked_at: Option<String>,
    /// The Codex automation that runs the slot (the reference CLI's).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub heartbeat_automation_id: Option<String>,
    /// The slot's Codex Desktop thread (the reference CLI's).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub thread_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn opt_heartbeat<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Heartbeat>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

impl SlotEntry {
    fn new(slot: &str) -> SlotEntry {
        SlotEntry {
            slot: slot.to_string(),
            ..SlotEntry::default()
        }
    }

    /// The operator's status, `active` when unset.
    pub fn status_or_active(&self) -> &str {
        if self.status.is_empty() {
            "active"
        } else {
            &self.status
        }
    }

    /// Paused or parked by the operator.
    pub fn is_parked(&self) -> bool {
        matches!(self.status.as_str(), "paused" | "parked")
    }
}

/// The registry as stored.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Registry {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_u64"
    )]
    pub version: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub transport: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "coordinator_entry")]
    pub coordinator: SlotEntry,
    /// Worker sessions by slot id, as written (ids are checked where used).
    #[serde(default, deserialize_with = "sessions")]
    pub sessions: BTreeMap<String, SlotEntry>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn coordinator_entry<'de, D: Deserializer<'de>>(d: D) -> Result<SlotEntry, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?)
        .unwrap_or_else(|_| SlotEntry::new(COORDINATOR)))
}

/// Session entries that are objects; anything else is dropped with a warning
/// (it was never a usable entry).
fn sessions<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, SlotEntry>, D::Error> {
    let Value::Object(m) = Value::deserialize(d)? else {
        return Ok(BTreeMap::new());
    };
    Ok(m.into_iter()
        .filter_map(|(k, v)| match serde_json::from_value::<SlotEntry>(v) {
            Ok(e) => Some((k, e)),
            Err(e) => {
                tracing::warn!("registry: skipping the unreadable entry of session {k:?}: {e}");
                None
            }
        })
        .collect())
}

/// What `get_status` shows of the registry.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RegistryHeader {
    pub version: u64,
    pub name: String,
    pub transport: String,
    pub updated_at: Option<String>,
}

impl Registry {
    /// A new v2 registry. The coordinator's identity is always
    /// `coordinator`: whichever session happens to create the store first
    /// (often a worker's server) must not name the coordinator after itself.
    pub fn new(now: &str) -> Registry {
        let mut extra = Map::new();
        extra.insert(
            "legacy_names".into(),
            Value::from(vec!["auralis-codextrator"]),
        );
        Registry {
            version: Some(2),
            name: Some("auralis-codenator".into()),
            transport: Some("mcp".into()),
            created_at: Some(now.to_string()),
            updated_at: Some(now.to_string()),
            coordinator: SlotEntry {
                slot: COORDINATOR.into(),
                identity: COORDINATOR.into(),
                status: "active".into(),
                ..SlotEntry::default()
            },
            sessions: BTreeMap::new(),
            extra,
        }
    }

    pub fn version(&self) -> u64 {
        self.version.unwrap_or(0)
    }

    pub fn header(&self) -> RegistryHeader {
        RegistryHeader {
            version: self.version(),
            name: self
                .name
                .clone()
                .unwrap_or_else(|| "auralis-codenator".into()),
            transport: "mcp".into(),
            updated_at: self.updated_at.clone(),
        }
    }

    /// Worker slot ids in lexicographic order. A legacy session literally
    /// named `coordinator` is left out: it is the coordinator entry.
    pub fn worker_slots(&self) -> Vec<String> {
        self.sessions
            .keys()
            .filter(|k| *k != COORDINATOR)
            .cloned()
            .collect()
    }

    /// Every slot: the coordinator first, then the workers.
    pub fn all_slots(&self) -> Vec<String> {
        let mut v = vec![COORDINATOR.to_string()];
        v.extend(self.worker_slots());
        v
    }

    /// Is `slot` a registered worker (or the coordinator)?
    pub fn is_registered(&self, slot: &str) -> bool {
        slot == COORDINATOR || self.sessions.contains_key(slot)
    }

    /// The entry of a slot: `coordinator` maps to the top-level coordinator entry.
    pub fn entry(&self, slot: &str) -> Option<&SlotEntry> {
        if slot == COORDINATOR {
            Some(&self.coordinator)
        } else {
            self.sessions.get(slot)
        }
    }

    /// The entry of a slot, or an empty one when it is not registered.
    pub fn entry_or_default(&self, slot: &str) -> SlotEntry {
        self.entry(slot).cloned().unwrap_or_default()
    }

    /// Mutable entry, created (with its slot id) when missing.
    pub fn entry_mut(&mut self, slot: &SlotId) -> &mut SlotEntry {
        if slot.is_coordinator() {
            &mut self.coordinator
        } else {
            self.sessions
                .entry(slot.to_string())
                .or_insert_with(|| SlotEntry::new(slot))
        }
    }

    /// Bind a Codex thread to `slot`, and unbind it from any other slot, so
    /// a thread always speaks for exactly one slot.
    pub fn bind_thread(&mut self, slot: &SlotId, thread: &str) {
        let others = std::iter::once(&mut self.coordinator)
            .filter(|_| !slot.is_coordinator())
            .chain(
                self.sessions
                    .iter_mut()
                    .filter(|(k, _)| slot.as_str() != k.as_str())
                    .map(|(_, e)| e),
            );
        for e in others {
            if e.codex_thread_id.as_deref() == Some(thread) {
                e.codex_thread_id = None;
            }
        }
        self.entry_mut(slot).codex_thread_id = Some(thread.to_string());
    }

    /// The slot bound to a Codex thread id, if any.
    pub fn slot_for_thread(&self, thread_id: &str) -> Option<String> {
        self.all_slots().into_iter().find(|slot| {
            self.entry(slot)
                .is_some_and(|e| e.codex_thread_id.as_deref() == Some(thread_id))
        })
    }
}
