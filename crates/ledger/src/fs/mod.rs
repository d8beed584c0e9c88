//! File primitives: the only code that touches the file system directly.
//!
//! - [`atomic`]: whole-file records written by temp file + rename, with the
//!   [`Durability`] they need; reads that tell "missing" from "damaged".
//! - [`lock`]: the advisory lock every reader and writer of a store takes.
//! - [`power`]: the power-loss test's record of unsynced writes (off
//!   unless a test turns it on).
//! - [`platform`]: what differs between Linux, macOS and Windows
//!   (positional I/O, file identity, replacing a file, flushing a
//!   directory or the file system), so nothing else needs a `cfg`.
//! - [`jsonl`]: the one scanner of JSON-lines files, so a torn or damaged
//!   line is treated the same way by the index, `doctor` and the importer.

pub mod atomic;
pub mod jsonl;
pub mod lock;
pub mod platform;
pub mod power;

pub use atomic::{
    Durability, SPARE_NAME, append, append_to, encode_json, fsync_count, mtime_ns, open_rw,
    overwrite_page, parse_json, put_journaled, read_bytes, read_json, sync_data, sync_dir,
    sync_everything, thread_fsync_count, write_at, write_atomic, write_json,
};
pub use lock::{FileLock, LockMode, thread_exclusive_ns};
