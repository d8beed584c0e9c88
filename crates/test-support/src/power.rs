//! Pulling the plug: the worst a power loss can do to a store, worked out
//! from the power log its processes kept (`CODENATOR_POWER_LOG`; the notes
//! are described in `ledger::fs::power`).
//!
//! Every write that no fsync covered is taken back: a file replaced since
//! its last fsync gets its old bytes and modification time back (or is
//! removed when it did not exist), a file appended to is cut back to its
//! old length, a range overwritten in place gets its old bytes back. That
//! is more than a real power loss must lose, never less, so whatever
//! survives it survives a real one.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde_json::Value;

/// What pulling the plug took back, counted in writes undone (a file
/// written several times since its last fsync counts each).
#[derive(Debug, Default)]
pub struct Pulled {
    /// Replaces and in-place overwrites given their old bytes back.
    pub restored: usize,
    /// Files that did not exist before, removed.
    pub removed: usize,
    /// Appends cut back to the old length.
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
    // Per path, every note since its last fsync, in order, with its line.
    let mut since: HashMap<PathBuf, Vec<(usize, Value)>> = HashMap::new();
    // Where each fsync in flight started (its `syncing` note's line): it
    // covers the writes noted before, not those noted while it ran.
    let mut started: HashMap<u64, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        // A note torn by a kill announced a write that never started.
        let Ok(note) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let path = note["path"].as_str().map(PathBuf::from);
        match (note["op"].as_str(), path) {
            (Some("replace" | "extend" | "overwrite"), Some(p)) => {
                since.entry(p).or_default().push((n, note));
            }
            (Some("syncing"), Some(_)) => {
                if let Some(t) = note["token"].as_u64() {
                    started.insert(t, n);
                }
            }
            (Some("synced"), Some(p)) => match note["token"].as_u64() {
                Some(t) => {
                    let from = started.remove(&t).unwrap_or(0);
                    if let Some(notes) = since.get_mut(&p) {
                        notes.retain(|(at, _)| *at > from);
                    }
                }
                None => {
                    since.remove(&p);
                }
            },
            (Some("synced_all"), _) => since.clear(),
            _ => {}
        }
    }
    let since: HashMap<PathBuf, Vec<Value>> = since
        .into_iter()
        .filter(|(_, notes)| !notes.is_empty())
        .map(|(p, notes)| (p, notes.into_iter().map(|(_, v)| v).collect()))
        .collect();
    let mut pulled = Pulled::default();
    for (path, notes) in since {
        // Undone newest first, so the file ends as the first note found it.
        for note in notes.iter().rev() {
            undo(&path, note, &mut pulled)?;
        }
        let first = &notes[0];
        if let Some(ns) = first["mtime_ns"].as_u64().filter(|_| path.exists()) {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_modified(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns))?;
        }
    }
    std::fs::write(log, b"").with_context(|| log.display().to_string())?;
    Ok(pulled)
}

/// Take back the one write `note` announced.
fn undo(path: &Path, note: &Value, pulled: &mut Pulled) -> Result<()> {
    let at = || path.display().to_string();
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(at)
    };
    match note["op"].as_str() {
        Some("replace") => match note["old"].as_str() {
            Some(hex) => {
                std::fs::write(path, unhex(hex)).with_context(at)?;
                pulled.restored += 1;
            }
            None => {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(at),
                }
                pulled.removed += 1;
            }
        },
        Some("overwrite") => {
            let offset = note["offset"]
                .as_u64()
                .context("an overwrite note without offset")?;
            let len = note["len"]
                .as_u64()
                .context("an overwrite note without len")?;
            let old = unhex(note["old"].as_str().unwrap_or(""));
            let mut f = open()?;
            f.seek(SeekFrom::Start(offset)).with_context(at)?;
            f.write_all(&old).with_context(at)?;
            f.set_len(len).with_context(at)?;
            pulled.restored += 1;
        }
        _ => {
            let len = note["len"].as_u64().context("an extend note without len")?;
            open()?.set_len(len).with_context(at)?;
            pulled.truncated += 1;
        }
    }
    Ok(())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}
