//! File primitives: the only code that touches the file system directly.
//!
//! - [`atomic`]: whole-file records written by temp file + rename, with the
//!   [`Durability`] they need; reads that tell "missing" from "damaged".
//! - [`lock`]: the advisory lock every reader and writer of a store takes.
//! - [`jsonl`]: the one scanner of JSON-lines files, so a torn or damaged
//!   line is treated the same way by the index, `doctor` and the importer.

pub mod atomic;
pub mod jsonl;
pub mod lock;

pub use atomic::{
    Durability, mtime_ns, overwrite_page, read_json, sync_dir, write_atomic, write_json,
};
pub use lock::{FileLock, LockMode};
