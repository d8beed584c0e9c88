//! What differs between Linux, other Unixes (macOS) and Windows in the file
//! primitives, in one place: positional reads and writes, a file's identity
//! for change detection, putting a temp file in place, and flushing a
//! directory. Everything else in [`crate::fs`] is portable `std`.
//!
//! Linux is the platform the crash, power-loss and race tests run on; the
//! Linux branches here are the code those tests check. The others are
//! compile-checked (see the README's "Platforms") and follow each
//! platform's documented guarantees, stated at each function.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use super::Durability;
use crate::error::{IoContext, Result};

/// Fill `buf` from `f` at `offset`.
///
/// On Windows this moves the handle's file position (`seek_read` does);
/// callers that also read or write at the position seek first (the inbox
/// index's append does).
pub fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(f, buf, offset) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    ));
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Write all of `buf` to `f` at `offset` (on Windows, moving the handle's
/// file position as [`read_exact_at`] does).
pub fn write_all_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_write(f, buf, offset) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    buf = &buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// What metadata alone says of a path: which file it is, how long, and when
/// it last changed. Two equal `FileStat`s of one path are taken to mean
/// "nobody changed it": the inbox index then trusts its records without
/// re-hashing, and the dashboard's stamp sees no change.
///
/// A false "unchanged" never hides primary data: the inbox index checks
/// every line it reads through a record (a whole line, the recipient, the
/// seq) and falls back to a full scan of the ledger on a mismatch, and a
/// stamp that missed a change is only a dashboard refreshed a poll later.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStat {
    /// The file's number on its volume: the inode on Unix (a file renamed
    /// into place has a new one), the NTFS file index on Windows (likewise;
    /// on FAT volumes Windows derives it from the directory entry, so a
    /// replaced file may keep its number there, and then only the length
    /// and modification time tell the change).
    pub id: u64,
    pub len: u64,
    /// Modification time, ns since the epoch (negative before it).
    pub mtime_ns: i128,
}

/// [`FileStat`] of `path` (following symlinks, as `std::fs::metadata`).
pub fn stat(path: &Path) -> io::Result<FileStat> {
    let m = std::fs::metadata(path)?;
    let mtime_ns = m
        .modified()
        .map_or(0, |t| match t.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        });
    Ok(FileStat {
        id: file_id(path, &m)?,
        len: m.len(),
        mtime_ns,
    })
}

/// The identity ([`FileStat::id`]) and length of the open file `f` at
/// `path`, without asking for its times.
///
/// Why not [`stat`]: since Linux 6.13 a file whose change time was read
/// gets a fresh fine-grained one at its next write, and on ext4 that write
/// of the inode then rides along with the next fdatasync: a second disk
/// write inside every journal fsync (measured: 3 writes and ~220 µs per
/// fdatasync instead of 2 and ~135 µs). `statx` with only the inode number
/// and size in its mask leaves the times unread.
pub fn id_and_len(f: &File, path: &Path) -> io::Result<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        let _ = path;
        use rustix::fs::{AtFlags, StatxFlags, statx};
        let st = statx(
            f,
            "",
            AtFlags::EMPTY_PATH,
            StatxFlags::INO | StatxFlags::SIZE,
        )?;
        Ok((st.stx_ino, st.stx_size))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let len = f.metadata()?.len();
        Ok((stat(path)?.id, len))
    }
}

#[cfg(unix)]
fn file_id(_path: &Path, m: &std::fs::Metadata) -> io::Result<u64> {
    Ok(std::os::unix::fs::MetadataExt::ino(m))
}

/// `std`'s `MetadataExt::file_index` is unstable (`windows_by_handle`), so
/// ask `GetFileInformationByHandle` directly, through a handle opened the
/// way `std::fs::metadata` opens one (no access rights, backup semantics so
/// that directories open too).
#[cfg(windows)]
fn file_id(path: &Path, _m: &std::fs::Metadata) -> io::Result<u64> {
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_FLAG_BACKUP_SEMANTICS, GetFileInformationByHandle,
    };
    let f = std::fs::OpenOptions::new()
        .access_mode(0)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?;
    // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is valid (plain
    // integers), and the handle is open for the duration of the call.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    let ok = unsafe { GetFileInformationByHandle(f.as_raw_handle() as _, &mut info) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow))
}

/// Put `tmp` in the place of `path`, replacing it, as a write of
/// `durability` needs (the caller has flushed the data of a durable one,
/// and flushes the directory with [`sync_dir`]).
///
/// - Linux: an existing file is swapped out (`renameat2` with
///   `RENAME_EXCHANGE`) and then removed: a plain rename over an existing
///   file makes ext4 start writing the new file's data back there and then
///   (its `auto_da_alloc`), 0.2 to 1 ms per record on this project's disk,
///   which is what the journal's single fsync is meant to save. Readers see
///   the old file or the new one, never none. A crash between the swap and
///   the removal leaves a temp file with the old content, which `doctor`
///   removes.
/// - Other Unixes: `rename(2)`, atomic over an existing file.
/// - Windows: `MoveFileExW` with `MOVEFILE_REPLACE_EXISTING`, atomic on
///   NTFS, plus `MOVEFILE_WRITE_THROUGH` for every primary record
///   ([`Durability::Durable`] and [`Durability::Journaled`]): Windows
///   cannot flush a directory, so writing the rename through is the only
///   way to make it durable, and the journal's checkpoint needs the
///   renames it covers durable before it empties the journal. A journaled
///   write on Windows therefore costs a metadata flush per record, not
///   just the journal's one fsync. The rename fails while another program
///   holds the target open without `FILE_SHARE_DELETE` (codenator's own
///   readers share it: `std` opens files that way); the error names the
///   path and the write is not acknowledged.
pub fn put_in_place(tmp: &Path, path: &Path, durability: Durability) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let _ = durability;
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        // Fails when there is no file yet (or the file system cannot
        // swap): then a plain rename, which has nothing to write back.
        if renameat_with(CWD, tmp, CWD, path, RenameFlags::EXCHANGE).is_ok() {
            let _ = std::fs::remove_file(tmp);
            return Ok(());
        }
        std::fs::rename(tmp, path)
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let _ = durability;
        std::fs::rename(tmp, path)
    }
    #[cfg(windows)]
    {
        use std::os::windows::ffi::OsStrExt;
        use windows_sys::Win32::Storage::FileSystem::{
            MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH, MoveFileExW,
        };
        let wide = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
        let (from, to) = (wide(tmp), wide(path));
        let flags = if durability == Durability::Derived {
            MOVEFILE_REPLACE_EXISTING
        } else {
            MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH
        };
        // SAFETY: both names are NUL-terminated UTF-16 that live across
        // the call.
        if unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), flags) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Put the content of `spare` in the place of `path` by swapping the two
/// (Linux `renameat2` with `RENAME_EXCHANGE`): `spare` then holds the old
/// record, an inode the next put in the directory rewrites instead of
/// creating a new file. Returns `Ok(false)` where swapping is not possible
/// (another system, a file system that cannot, no file at `path` yet):
/// then `spare` was renamed onto `path` (Unix) or nothing happened
/// (Windows, the caller writes the usual way).
pub fn swap_in(spare: &Path, path: &Path) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        if renameat_with(CWD, spare, CWD, path, RenameFlags::EXCHANGE).is_ok() {
            return Ok(true);
        }
        std::fs::rename(spare, path)?;
        Ok(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (spare, path);
        Ok(false)
    }
}

/// Can [`swap_in`] swap files here?
pub const CAN_SWAP: bool = cfg!(target_os = "linux");

/// Flush a directory, so that entries created or renamed in it survive a
/// power loss. Returns whether anything was flushed (the caller counts
/// fsyncs).
///
/// Unix: `fsync` of the directory (on macOS `std` makes that `F_FULLFSYNC`).
/// Windows has no directory flush (`FlushFileBuffers` does not take a
/// directory handle without administrator rights): renames that must be
/// durable are written through instead ([`put_in_place`]), and this does
/// nothing. A file created in place or moved by a plain rename on Windows
/// (the legacy importer's archive moves) is then only as durable as NTFS's
/// lazily flushed log makes it.
pub fn sync_dir(dir: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
        Ok(true)
    }
    #[cfg(windows)]
    {
        let _ = dir;
        Ok(false)
    }
}

/// Make every file of the store durable, for the journal's checkpoint
/// (which empties the journal afterwards, so nothing it describes may be
/// left in the page cache). `files` are those written since the last
/// checkpoint: the records its entries put or removed, and the ledger.
///
/// - Linux: one `syncfs(2)` of the file system holding `dir`.
/// - Other Unixes (no `syncfs`): an fsync of each of `files` that exists,
///   of their directories (a removal is made durable there) and of `dir`.
/// - Windows: a flush of each of `files` that exists (`FlushFileBuffers`,
///   which needs a handle open for writing); their renames were written
///   through when they were made ([`put_in_place`]). A removal is not
///   made durable: Windows offers no way to short of flushing the whole
///   volume, which needs administrator rights. So a record removed before
///   the checkpoint can come back if the power fails soon after it (NTFS
///   commits the removal lazily, and the emptied journal no longer names
///   it).
pub fn sync_filesystem(dir: &Path, files: &[std::path::PathBuf]) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let _ = files;
        let d = File::open(dir).at(dir)?;
        rustix::fs::syncfs(&d).map_err(io::Error::from).at(dir)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut dirs = std::collections::BTreeSet::new();
        for f in files {
            let opened = if cfg!(windows) {
                std::fs::OpenOptions::new().write(true).open(f)
            } else {
                File::open(f)
            };
            match opened {
                Ok(h) => h.sync_all().at(f)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(f),
            }
            if let Some(p) = f.parent() {
                dirs.insert(p.to_path_buf());
            }
        }
        dirs.insert(dir.to_path_buf());
        for d in dirs {
            sync_dir(&d).at(&d)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable surface as the rest of the ledger uses it (run on
    /// Linux here; the same test is what a macOS or Windows run would
    /// check first).
    #[test]
    fn positional_io_identity_replace_and_flush()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("record.json");
        std::fs::write(&p, b"hello world")?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)?;
        write_all_at(&f, b"W", 6)?;
        let mut word = [0u8; 5];
        read_exact_at(&f, &mut word, 6)?;
        assert_eq!(&word, b"World");
        let mut past_end = [0u8; 4];
        let short = read_exact_at(&f, &mut past_end, 9).map_err(|e| e.kind());
        assert_eq!(short, Err(io::ErrorKind::UnexpectedEof));
        drop(f);

        let before = stat(&p)?;
        assert_eq!(before, stat(&p)?, "nothing changed, same stat");
        assert_eq!(before.len, 11);
        let tmp = dir.path().join(".record.json.tmp");
        std::fs::write(&tmp, b"hello world")?;
        put_in_place(&tmp, &p, Durability::Journaled)?;
        let after = stat(&p)?;
        assert_ne!(before.id, after.id, "a replaced file is another file");
        assert!(!tmp.exists(), "the temp file is gone");
        assert_eq!(std::fs::read(&p)?, b"hello world");

        sync_dir(dir.path())?;
        sync_filesystem(dir.path(), &[p.clone(), dir.path().join("removed.json")])?;
        Ok(())
    }
}
