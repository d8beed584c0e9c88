//! Pulling the plug: the worst a power loss can do to a store, worked out
//! from the power log its processes kept (`CODENATOR_POWER_LOG`; the notes
//! are described in `ledger::fs::power`).
//!
//! Every write that no fsync covered is taken back: a file replaced since
//! its last fsync gets its old bytes and modification time back (or is
//! removed when it did not exist), a file appended to is cut back to its
//! old length. That is more than a real power loss must lose, never less,
//! so whatever survives it survives a real one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde_json::Value;

/// What pulling the plug took back.
#[derive(Debug, Default)]
pub struct Pulled {
    /// Files put back to their old bytes.
    pub restored: usize,
    /// Files that did not exist before, removed.
    pub removed: usize,
    /// Files cut back to their old length.
    pub truncated: usize,
}

impl Pulled {
    pub fn total(&self) -> usize {
        self.restored + self.removed + self.truncated
    }
}

/// Take back every write the power log shows was not made durable, then
/// empty the log (what it described is now the durable state). Call it
/// only when every process that writes the store is dead.
pub fn pull_the_plug(log: &Path) -> Result<Pulled> {
    let text = match std::fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| log.display().to_string()),
    };
    // Per path, the first note since its last fsync: the durable state.
    let mut first: HashMap<PathBuf, Value> = HashMap::new();
    for line in text.lines() {
        // A note torn by a kill announced a write that never started.
        let Ok(note) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let path = note["path"].as_str().map(PathBuf::from);
        match (note["op"].as_str(), path) {
            (Some("replace" | "extend"), Some(p)) => {
                first.entry(p).or_insert(note);
            }
            (Some("synced"), Some(p)) => {
                first.remove(&p);
            }
            (Some("synced_all"), _) => first.clear(),
            _ => {}
        }
    }
    let mut pulled = Pulled::default();
    for (path, note) in first {
        let mtime = note["mtime_ns"].as_u64();
        match note["op"].as_str() {
            Some("replace") => match note["old"].as_str() {
                Some(hex) => {
                    std::fs::write(&path, unhex(hex))
                        .with_context(|| path.display().to_string())?;
                    pulled.restored += 1;
                }
                None => {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e).with_context(|| path.display().to_string()),
                    }
                    pulled.removed += 1;
                    continue;
                }
            },
            _ => {
                let len = note["len"].as_u64().context("an extend note without len")?;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .with_context(|| path.display().to_string())?;
                f.set_len(len)?;
                pulled.truncated += 1;
            }
        }
        if let Some(ns) = mtime {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_modified(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns))?;
        }
    }
    std::fs::write(log, b"").with_context(|| log.display().to_string())?;
    Ok(pulled)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}
