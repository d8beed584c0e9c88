//! The slot registry (`registry.json`): the coordinator and worker sessions.
//!
//! Entries are kept as JSON objects so that fields written by the reference
//! (or by a newer codenator) survive a read-modify-write untouched.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
use crate::ids::COORDINATOR;
use crate::store::Store;
use crate::time;

/// The registry as stored.
#[derive(Clone, Debug)]
pub struct Registry {
    doc: Map<String, Value>,
}

/// Read a string field of a JSON object ("" when missing or not a string).
pub fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Read an optional string field (None when missing, null, or empty).
pub fn opt_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Registry {
    pub(crate) fn load(store: &Store) -> Result<Registry> {
        let path = store.path("registry.json");
        match fsutil::read_json::<Value>(&path)? {
            Some(Value::Object(doc)) => Ok(Registry { doc }),
            Some(_) => Err(Error::Damaged {
                path: "registry.json".into(),
                reason: "not a JSON object".into(),
            }),
            None => Err(Error::NotFound {
                kind: "registry",
                id: path.display().to_string(),
            }),
        }
    }

    /// Write the registry durably, refreshing `updated_at`. The caller holds
    /// the exclusive lock and loaded this registry under it.
    pub(crate) fn save(&mut self, store: &Store) -> Result<()> {
        self.doc.insert("updated_at".into(), json!(time::now()));
        fsutil::write_json(&store.path("registry.json"), &self.doc, Durability::Durable)
    }

    pub fn version(&self) -> u64 {
        self.doc.get("version").and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn doc(&self) -> &Map<String, Value> {
        &self.doc
    }

    /// The registry header shown by status: version, name, transport, updated_at.
    pub fn header(&self) -> Value {
        json!({
            "version": self.version(),
            "name": self.doc.get("name").cloned().unwrap_or(json!("auralis-codenator")),
            "transport": "mcp",
            "updated_at": self.doc.get("updated_at").cloned().unwrap_or(Value::Null),
        })
    }

    /// Worker session ids in lexicographic order. A legacy session literally
    /// named `coordinator` is left out: it is the coordinator entry.
    pub fn worker_slots(&self) -> Vec<String> {
        let mut slots: Vec<String> = self
            .sessions()
            .map(|s| s.keys().filter(|k| *k != COORDINATOR).cloned().collect())
            .unwrap_or_default();
        slots.sort();
        slots
    }

    /// Every slot: the coordinator first, then the workers.
    pub fn all_slots(&self) -> Vec<String> {
        let mut v = vec![COORDINATOR.to_string()];
        v.extend(self.worker_slots());
        v
    }

    fn sessions(&self) -> Option<&Map<String, Value>> {
        self.doc.get("sessions").and_then(Value::as_object)
    }

    /// Is `slot` a registered worker (or the coordinator)?
    pub fn is_registered(&self, slot: &str) -> bool {
        slot == COORDINATOR || self.sessions().is_some_and(|s| s.contains_key(slot))
    }

    /// The entry of a slot: `coordinator` maps to the top-level coordinator object.
    pub fn entry(&self, slot: &str) -> Option<&Map<String, Value>> {
        if slot == COORDINATOR {
            self.doc.get(COORDINATOR).and_then(Value::as_object)
        } else {
            self.sessions()?.get(slot)?.as_object()
        }
    }

    /// Mutable entry, created empty when missing.
    pub(crate) fn entry_mut(&mut self, slot: &str) -> &mut Map<String, Value> {
        let holder = if slot == COORDINATOR {
            &mut self.doc
        } else {
            let sessions = self
                .doc
                .entry("sessions")
                .or_insert_with(|| Value::Object(Map::new()));
            if !sessions.is_object() {
                *sessions = Value::Object(Map::new());
            }
            match sessions {
                Value::Object(m) => m,
                _ => unreachable!("sessions was just made an object"),
            }
        };
        let key = if slot == COORDINATOR {
            COORDINATOR
        } else {
            slot
        };
        let e = holder.entry(key).or_insert_with(|| json!({"slot": slot}));
        if !e.is_object() {
            *e = json!({"slot": slot});
        }
        match e {
            Value::Object(m) => m,
            _ => unreachable!("entry was just made an object"),
        }
    }

    /// Bind a Codex thread to `slot`, and unbind it from any other slot, so
    /// a thread always speaks for exactly one slot.
    pub(crate) fn bind_thread(&mut self, slot: &str, thread: &str) {
        for other in self.all_slots() {
            if other != slot {
                let e = self.entry_mut(&other);
                if str_field(e, "codex_thread_id") == thread {
                    e.insert("codex_thread_id".into(), Value::Null);
                }
            }
        }
        self.entry_mut(slot)
            .insert("codex_thread_id".into(), json!(thread));
    }

    /// The slot bound to a Codex thread id, if any.
    pub fn slot_for_thread(&self, thread_id: &str) -> Option<String> {
        self.all_slots().into_iter().find(|slot| {
            self.entry(slot)
                .is_some_and(|e| str_field(e, "codex_thread_id") == thread_id)
        })
    }
}
