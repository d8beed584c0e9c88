//! The store's advisory lock (`store.lock`, flock through fs2).
//!
//! Exclusive for every mutation, shared for reads. A handle of its own per
//! held lock, because flock is per open file description: two threads of
//! one process taking the lock through one handle would not exclude each
//! other. Released handles are kept for the next acquisition (a write call
//! takes the lock twice; opening and closing the file each time was two of
//! its system calls); one is taken again only while the path still names
//! its file. The lock file is never deleted (a deleted lock file would let the
//! next process lock a different inode while an old holder still holds the
//! first).

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::error::{IoContext, Result};

/// Which kind of lock a transaction holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Readers: many at once, never while a writer holds the lock.
    Shared,
    /// Writers: one at a time, and no reader meanwhile.
    Exclusive,
}

/// A held lock. Released on drop.
#[derive(Debug)]
pub struct FileLock {
    /// Always `Some` until dropped (then back to the spares), with the
    /// file's identity.
    file: Option<(File, u64)>,
    path: PathBuf,
    mode: LockMode,
    since: Instant,
}

/// Unlocked handles on lock files, per path, for the next acquisition.
type Spares = Mutex<HashMap<PathBuf, Vec<(File, u64)>>>;

fn spare() -> &'static Spares {
    static SPARE: OnceLock<Spares> = OnceLock::new();
    SPARE.get_or_init(Default::default)
}

thread_local! {
    static THREAD_EXCLUSIVE_NS: Cell<u64> = const { Cell::new(0) };
}

/// Nanoseconds the calling thread has held the exclusive lock, in all: a
/// call's own share (the difference across it) is how long it kept every
/// other writer waiting, the ceiling on how many writes per second any
/// number of processes can make together.
pub fn thread_exclusive_ns() -> u64 {
    THREAD_EXCLUSIVE_NS.with(Cell::get)
}

impl FileLock {
    /// Block until the lock on `path` (created if missing) is held.
    pub fn acquire(path: &Path, mode: LockMode) -> Result<FileLock> {
        let kept = spare()
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(path).and_then(Vec::pop))
            // The store may have been removed and made again since.
            .filter(|(_, id)| super::platform::stat(path).is_ok_and(|st| st.id == *id));
        let (file, id) = match kept {
            Some(k) => k,
            None => {
                let f = super::open_rw(path)?;
                let id = super::platform::id_and_len(&f, path).at(path)?.0;
                (f, id)
            }
        };
        // fs2 by full path: std's own `File::lock_shared` and `unlock`
        // shadow the trait methods on newer toolchains.
        match mode {
            LockMode::Shared => fs2::FileExt::lock_shared(&file).at(path)?,
            LockMode::Exclusive => fs2::FileExt::lock_exclusive(&file).at(path)?,
        }
        Ok(FileLock {
            file: Some((file, id)),
            path: path.to_path_buf(),
            mode,
            since: Instant::now(),
        })
    }

    pub fn mode(&self) -> LockMode {
        self.mode
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Some((file, id)) = self.file.take()
            && fs2::FileExt::unlock(&file).is_ok()
            && let Ok(mut s) = spare().lock()
        {
            let kept = s.entry(std::mem::take(&mut self.path)).or_default();
            // As many as this process ever held at once, a few at most.
            if kept.len() < 8 {
                kept.push((file, id));
            }
        }
        if self.mode == LockMode::Exclusive {
            let held = self.since.elapsed().as_nanos() as u64;
            THREAD_EXCLUSIVE_NS.with(|c| c.set(c.get() + held));
        }
    }
}
