//! The store's advisory lock (`store.lock`, flock through fs2).
//!
//! Exclusive for every mutation, shared for reads. A fresh file handle per
//! acquisition, because flock is per open file description: two threads of
//! one process taking the lock through one handle would not exclude each
//! other. The lock file is never deleted (a deleted lock file would let the
//! next process lock a different inode while an old holder still holds the
//! first).

use std::cell::Cell;
use std::fs::File;
use std::path::Path;
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
    file: File,
    mode: LockMode,
    since: Instant,
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
        let file = super::open_rw(path)?;
        // fs2 by full path: std's own `File::lock_shared` and `unlock`
        // shadow the trait methods on newer toolchains.
        match mode {
            LockMode::Shared => fs2::FileExt::lock_shared(&file).at(path)?,
            LockMode::Exclusive => fs2::FileExt::lock_exclusive(&file).at(path)?,
        }
        Ok(FileLock {
            file,
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
        let _ = fs2::FileExt::unlock(&self.file);
        if self.mode == LockMode::Exclusive {
            let held = self.since.elapsed().as_nanos() as u64;
            THREAD_EXCLUSIVE_NS.with(|c| c.set(c.get() + held));
        }
    }
}
