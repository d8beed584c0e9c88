//! Crash-safe whole-file writes and reads, appends, and counted fsyncs.
//!
//! Whole-file records are written to a temporary file in the same directory
//! and renamed over the target, so a reader or a process restarted after
//! `kill -9` sees either the old or the new record, never a mix. How hard a
//! write tries to survive power loss is its [`Durability`]. Temporary names
//! end in `.tmp`, never `.json`, so tools that list `*.json` (the reference
//! included) never pick one up.
//!
//! Every fsync goes through this module and is counted ([`fsync_count`]),
//! so the benchmark reports fsyncs per call as counted, not guessed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{platform, power};
use crate::error::{Error, IoContext, Result};

/// How hard a write must try to survive power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync the data and the directory (the journal's own creation,
    /// `doctor`'s repairs).
    Durable,
    /// A primary record made durable by the journal entry written (and
    /// fsynced) before it: renamed into place without an fsync of its own;
    /// after a power loss the journal puts it back.
    Journaled,
    /// Derived data, rebuilt from the primary records when it disagrees
    /// with them: renamed into place, never fsynced.
    Derived,
}

static FSYNCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_FSYNCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// fsyncs (and fdatasyncs, syncfs calls) this process has made.
pub fn fsync_count() -> u64 {
    FSYNCS.load(Ordering::Relaxed)
}

/// fsyncs made on the calling thread: a call's own count, when the call
/// runs on one thread while others run theirs (the MCP server's tools).
pub fn thread_fsync_count() -> u64 {
    THREAD_FSYNCS.with(|c| c.get())
}

fn count_fsync() {
    FSYNCS.fetch_add(1, Ordering::Relaxed);
    THREAD_FSYNCS.with(|c| c.set(c.get() + 1));
}

/// fdatasync a file we wrote, counted. It may run without the store lock
/// (a journal entry's): the power log says it covers what was written
/// before it started.
pub fn sync_data(f: &File, path: &Path) -> Result<()> {
    count_fsync();
    let token = power::syncing(path);
    f.sync_data().at(path)?;
    power::synced_since(path, token);
    Ok(())
}

/// fsync a directory so a rename or a new entry in it is durable (see
/// [`platform::sync_dir`] for Windows, which cannot).
pub fn sync_dir(dir: &Path) -> Result<()> {
    if platform::sync_dir(dir).at(dir)? {
        count_fsync();
    }
    power::synced(dir);
    Ok(())
}

/// Flush every file the journal's checkpoint needs durable: the whole file
/// system on Linux, the listed files elsewhere ([`platform::sync_filesystem`]).
pub fn sync_everything(dir: &Path, files: &[std::path::PathBuf]) -> Result<()> {
    count_fsync();
    platform::sync_filesystem(dir, files)?;
    power::synced_all();
    Ok(())
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
    let durable = durability == Durability::Durable;
    if !durable {
        power::before_replace(path);
    }
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        if durable {
            sync_data(&f, &tmp)?;
        }
        drop(f);
        platform::put_in_place(&tmp, path, durability).at(path)?;
        if durable {
            sync_dir(dir)?;
            power::synced(path);
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The spare file of a directory of records (see [`put_journaled`]). Its
/// name starts with a dot and does not end in `.json`, so no listing of
/// records (ours, the reference's) takes it for one.
pub const SPARE_NAME: &str = ".codenator.spare";

/// Put a [`Durability::Journaled`] record in place. The caller holds the
/// store's exclusive lock (the journal applies entries under it), so one
/// spare file per directory is enough: the bytes are written into the
/// directory's spare, which is then swapped with the record ([`platform::
/// swap_in`]), leaving the old record's inode as the next spare.
///
/// Why not a new temp file per put: creating a file allocates an inode,
/// and removing the replaced one frees one; on ext4 with a busy history
/// the allocation scans past recently freed inodes, which measured 0.7 to
/// 1.2 ms per new file on this project's disk (14 µs to rewrite an existing
/// one): most of a write call. Readers still see the old record or the new
/// one, never a mix (the swap is atomic). After a crash the spare may hold
/// anything; it is never read. After a power loss the record may be torn
/// like any unsynced write, and the boot replay of the journal rewrites it.
///
/// The spare is rewritten in place (written from offset 0, then cut to
/// length), never truncated to zero first: ext4 treats "truncate to zero,
/// then write" like a rename over a file and starts writeback at close.
pub fn put_journaled(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let spare = dir.join(SPARE_NAME);
    if !platform::CAN_SWAP {
        return write_atomic(path, bytes, Durability::Journaled);
    }
    // A new record has nothing to swap with: the spare is renamed onto it
    // (a new file needs a new inode anyway; the next put makes a spare).
    power::before_replace(path);
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&spare)
        .at(&spare)?;
    platform::write_all_at(&f, bytes, 0).at(&spare)?;
    f.set_len(bytes.len() as u64).at(&spare)?;
    drop(f);
    platform::swap_in(&spare, path).at(path)?;
    Ok(())
}

/// Serialise `value` as JSON plus a newline: pretty for primary records
/// (the reference's format, and read by people), compact for derived
/// indexes (read on every call).
pub fn encode_json<T: Serialize + ?Sized>(path: &Path, value: &T, pretty: bool) -> Result<Vec<u8>> {
    let encoded = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    let mut bytes = encoded.map_err(|e| Error::Damaged {
        path: path.display().to_string(),
        reason: format!("cannot serialise: {e}"),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Serialise `value` as JSON and write it atomically.
pub fn write_json<T: Serialize + ?Sized>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> Result<()> {
    let bytes = encode_json(path, value, durability != Durability::Derived)?;
    write_atomic(path, &bytes, durability)
}

/// Parse JSON bytes read from `path`.
pub fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Damaged {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The bytes of a file, `Ok(None)` when it does not exist.
///
/// The buffer is sized from the file's length with one byte to spare, so
/// the read that stops short of filling it has met the end and no probing
/// read follows: four system calls (open, statx, read, close) where std's
/// `read_to_end` makes six (it adds a seek and a read that returns 0), on
/// the path of every record a call reads. A file that grew since its
/// length was taken is read on to its end.
pub fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at(path),
    };
    let len = f.metadata().at(path)?.len() as usize;
    let mut bytes = vec![0u8; len + 1];
    let mut filled = 0;
    while filled < bytes.len() {
        let n = match f.read(&mut bytes[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).at(path),
        };
        filled += n;
        // A read that returned nothing, or less than asked once the length
        // is reached, ended at the file's end.
        if n == 0 || (filled >= len && filled < bytes.len()) {
            break;
        }
    }
    if filled == bytes.len() {
        f.read_to_end(&mut bytes).at(path)?;
    } else {
        bytes.truncate(filled);
    }
    Ok(Some(bytes))
}

/// Read a JSON file: `Ok(None)` when it does not exist, `Err(Damaged)` when
/// it cannot be parsed.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match read_bytes(path)? {
        Some(b) => parse_json(path, &b).map(Some),
        None => Ok(None),
    }
}

/// Append `bytes` to `path` (created when missing), fdatasynced when `sync`.
pub fn append(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .at(path)?;
    append_to(&mut f, path, bytes, sync)
}

/// Open `path` for reading and writing in place, created empty if missing
/// and never truncated: the lock file, the journal, the index files.
pub fn open_rw(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .at(path)
}

/// Write `bytes` over what the open file `f` (named `path`) holds from
/// `offset` on, without an fsync: the journal's lines over its zeros.
pub fn write_at(f: &File, path: &Path, offset: u64, bytes: &[u8]) -> Result<()> {
    power::before_overwrite(path, offset, bytes.len());
    platform::write_all_at(f, bytes, offset).at(path)
}

/// [`append`] to a file already open for appending (`path` is its name).
pub fn append_to(f: &mut File, path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    power::before_extend(path);
    f.write_all(bytes).at(path)?;
    if sync {
        sync_data(f, path)?;
    }
    Ok(())
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
    power::before_replace(path);
    let mut page = [b' '; PAGE];
    page[..bytes.len()].copy_from_slice(bytes);
    page[PAGE - 1] = b'\n';
    platform::write_all_at(&f, &page, 0).at(path)?;
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `read_bytes` gives a file's bytes whatever its length (empty, one
    /// short read, many reads, a length a read buffer divides), and None for
    /// a missing file.
    #[test]
    fn read_bytes_reads_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 1, 80, 4096, 65536, 300_001] {
            let p = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            fs::write(&p, &bytes).unwrap();
            assert_eq!(
                read_bytes(&p).unwrap().as_deref(),
                Some(&bytes[..]),
                "{len}"
            );
        }
        assert_eq!(read_bytes(&dir.path().join("missing")).unwrap(), None);
    }

    /// A journaled put rewrites the directory's spare instead of creating a
    /// file per put: the record alternates between two inodes, no temp file
    /// is left, and the record always holds the last bytes put.
    #[test]
    fn journaled_puts_reuse_the_spare() {
        let dir = std::env::temp_dir().join(format!("codenator-spare-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let rec = dir.join("t.json");
        put_journaled(&rec, b"{\"v\": \"first, longer than the rest\"}\n").unwrap();
        let mut inodes = std::collections::BTreeSet::new();
        for i in 0..6 {
            let bytes = format!("{{\"v\": {i}}}\n");
            put_journaled(&rec, bytes.as_bytes()).unwrap();
            assert_eq!(fs::read(&rec).unwrap(), bytes.as_bytes());
            inodes.insert(platform::stat(&rec).unwrap().id);
        }
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if platform::CAN_SWAP {
            assert_eq!(inodes.len(), 2, "two inodes take turns: {inodes:?}");
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(sorted, [SPARE_NAME, "t.json"]);
        }
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
