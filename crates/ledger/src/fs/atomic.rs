//! Crash-safe whole-file writes and reads.
//!
//! Whole-file records are written to a temporary file in the same directory,
//! synced, renamed over the target and the directory synced, so a reader or a
//! process restarted after `kill -9` sees either the old or the new record,
//! never a mix. Temporary names end in `.tmp`, never `.json`, so tools that
//! list `*.json` (the reference included) never pick one up.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Result};

/// How hard a write must try to survive power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync the data and the directory: primary records.
    Durable,
    /// Atomic rename only: derived data that can be rebuilt from primary
    /// records. Survives `kill -9` (the page cache outlives the process).
    Derived,
}

/// Write `bytes` to `path` atomically (temp file + rename).
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        if durability == Durability::Durable {
            f.sync_data().at(&tmp)?;
        }
        drop(f);
        fs::rename(&tmp, path).at(path)?;
        if durability == Durability::Durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialise `value` as JSON plus a newline and write it atomically.
/// Primary records are pretty-printed (the reference's format, and read by
/// people); derived indexes are compact (read on every call).
pub fn write_json<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<()> {
    let encoded = match durability {
        Durability::Durable => serde_json::to_vec_pretty(value),
        Durability::Derived => serde_json::to_vec(value),
    };
    let mut bytes = encoded.map_err(|e| Error::Damaged {
        path: path.display().to_string(),
        reason: format!("cannot serialise: {e}"),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, durability)
}

/// Read a JSON file: `Ok(None)` when it does not exist, `Err(Damaged)` when
/// it cannot be parsed.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).at(path)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at(path),
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Damaged {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Overwrite an existing small derived file in place with one write of one
/// page, padded with spaces (JSON readers skip trailing white space).
///
/// One write of at most a page at offset 0 is never half-applied when the
/// writer is killed, and readers hold the shared lock while writers hold
/// the exclusive one, so nobody sees it mid-way. Returns false (and writes
/// nothing) when the file does not exist yet or the content is larger than
/// a page; the caller then writes it atomically by rename.
pub fn overwrite_page(path: &Path, bytes: &[u8]) -> Result<bool> {
    const PAGE: usize = 4096;
    if bytes.len() > PAGE {
        return Ok(false);
    }
    let f = match OpenOptions::new().write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).at(path),
    };
    let mut page = [b' '; PAGE];
    page[..bytes.len()].copy_from_slice(bytes);
    page[PAGE - 1] = b'\n';
    std::os::unix::fs::FileExt::write_all_at(&f, &page, 0).at(path)?;
    Ok(true)
}

/// fsync a directory so a rename or a new entry in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).at(dir)?.sync_all().at(dir)
}

/// Modification time of a path in nanoseconds since the epoch, or 0 when it
/// does not exist. Used to notice that another writer changed a directory.
pub fn mtime_ns(path: &Path) -> u128 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
