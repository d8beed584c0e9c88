//! The codenator ledger: the durable, multi-process file store that
//! coordinates many Codex sessions working on one codebase.
//!
//! # Layout
//! The folders are the map, by role:
//!
//! - [`fs`]: file primitives (atomic writes, the lock, the JSONL scanner).
//! - [`store`]: where the store is, every path in it ([`store::Layout`]),
//!   and its read and write transactions.
//! - [`model`]: the records as types (tasks, slots, messages, board, ...).
//! - [`records`]: loading and saving primary records through a transaction.
//! - [`index`]: derived indexes, checked against the records they point at.
//! - [`ops`]: operations that change the store, one per tool or command.
//! - [`views`]: pure reads: status, board, wake plan, recovery, tasks.
//! - [`maint`]: `doctor` and the v1 inbox import.
//! - [`api`]: the request and response types of every operation (the
//!   tools' input and output schemas); [`auth`]: who calls.
//!
//! # Invariants
//! Every mutation runs in a [`store::WriteTxn`] (the exclusive lock) and
//! re-reads what it changes; every read runs in a [`store::ReadTxn`] (the
//! shared lock) and writes nothing. Primary records are written durably
//! (temp file, fsync, rename, directory fsync; ledger appends fsynced).
//! Indexes are derived, rebuildable, and never hide a primary record. The
//! crate reads no environment variable, runs no program, prints nothing and
//! knows nothing of MCP or Codex.

pub mod api;
pub mod auth;
pub mod error;
pub mod fs;
pub mod index;
pub mod maint;
pub mod model;
pub mod ops;
pub mod records;
pub mod store;
pub mod time;
pub mod views;

pub use auth::{Caller, Ctx};
pub use error::{Error, Result};
pub use model::{SlotId, TaskId};
pub use store::Store;
