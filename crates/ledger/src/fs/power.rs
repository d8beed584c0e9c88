//! A record of what a power loss would take back, for the power-loss test.
//!
//! Off unless a store is opened with a power log (a test switch). When on,
//! every write that is not followed by its own fsync first appends to the
//! log, durably, what the file was before (its old bytes, its old length
//! for an append, or the old bytes of the range overwritten in place), and
//! every fsync says what became durable. A test then "pulls the plug": it
//! puts every file back to what it was before its first write that no
//! fsync covered (see the test-support crate), which is the worst a power
//! loss can do, and checks that every acknowledged write is still there
//! after the store reopens. A note carries the file's old
//! modification time too: a power loss takes the metadata back with the
//! data, and the journal's replay compares a record's mtime with its entry.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

/// One line of the power log.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Note {
    /// `path` is about to be replaced or overwritten; `old` is its content
    /// (hex), None when it did not exist.
    Replace {
        path: PathBuf,
        old: Option<String>,
        mtime_ns: Option<u128>,
    },
    /// `path` is about to be appended to; it was `len` bytes long.
    Extend {
        path: PathBuf,
        len: u64,
        mtime_ns: Option<u128>,
    },
    /// `path` is about to be overwritten in place from `offset`: `old` is
    /// what the range held (hex; shorter than the write where it runs past
    /// the end of the file), `len` the file's length before the write.
    Overwrite {
        path: PathBuf,
        offset: u64,
        old: String,
        len: u64,
        mtime_ns: Option<u128>,
    },
    /// An fsync of `path` is starting: it will cover the writes noted
    /// before this note (from any process), not those noted while it runs
    /// (another process may write between this note and the fsync's end).
    Syncing { path: PathBuf, token: u64 },
    /// `path` was fsynced: what was written before its `syncing` note with
    /// the same token is durable (without a token: all of it so far).
    Synced {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<u64>,
    },
    /// The whole file system was synced (the journal checkpoint).
    SyncedAll,
}

static LOG: OnceLock<Mutex<File>> = OnceLock::new();

/// Turn the log on for this process (the first call wins).
pub fn enable(path: &Path) -> std::io::Result<()> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let _ = LOG.set(Mutex::new(f));
    Ok(())
}

fn note(n: &Note) {
    let Some(log) = LOG.get() else { return };
    if let (Ok(mut f), Ok(mut line)) = (log.lock(), serde_json::to_string(n)) {
        // One write per note: several processes append to one log. The log
        // must survive the kill -9 that follows: each note is synced before
        // the write it announces.
        line.push('\n');
        let _ = f.write_all(line.as_bytes());
        let _ = f.sync_data();
    }
}

fn on() -> bool {
    LOG.get().is_some()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn mtime(path: &Path) -> Option<u128> {
    std::fs::metadata(path).ok().map(|_| super::mtime_ns(path))
}

pub(crate) fn before_replace(path: &Path) {
    if on() {
        note(&Note::Replace {
            path: path.to_path_buf(),
            old: std::fs::read(path).ok().map(|b| hex(&b)),
            mtime_ns: mtime(path),
        });
    }
}

pub(crate) fn before_extend(path: &Path) {
    if on() {
        note(&Note::Extend {
            path: path.to_path_buf(),
            len: std::fs::metadata(path).map_or(0, |m| m.len()),
            mtime_ns: mtime(path),
        });
    }
}

pub(crate) fn before_overwrite(path: &Path, offset: u64, n: usize) {
    if on() {
        // Only the range: the file may be large (the journal's padding).
        let (old, len) = File::open(path)
            .and_then(|f| {
                let len = f.metadata()?.len();
                let stop = offset.saturating_add(n as u64).min(len);
                let mut old = vec![0u8; stop.saturating_sub(offset) as usize];
                super::platform::read_exact_at(&f, &mut old, offset)?;
                Ok((old, len))
            })
            .unwrap_or_default();
        note(&Note::Overwrite {
            path: path.to_path_buf(),
            offset,
            old: hex(&old),
            len,
            mtime_ns: mtime(path),
        });
    }
}

/// Before an fsync of `path`: the token its [`synced`] note names.
pub(crate) fn syncing(path: &Path) -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if !on() {
        return 0;
    }
    let token = (u64::from(std::process::id()) << 32)
        | NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    note(&Note::Syncing {
        path: path.to_path_buf(),
        token,
    });
    token
}

/// After the fsync [`syncing`] announced.
pub(crate) fn synced_since(path: &Path, token: u64) {
    if on() {
        note(&Note::Synced {
            path: path.to_path_buf(),
            token: Some(token),
        });
    }
}

/// `path` is durable as it is now (its writer holds the store lock, so no
/// one wrote it during the fsync).
pub(crate) fn synced(path: &Path) {
    if on() {
        note(&Note::Synced {
            path: path.to_path_buf(),
            token: None,
        });
    }
}

pub(crate) fn synced_all() {
    if on() {
        note(&Note::SyncedAll);
    }
}
