//! The codenator ledger: the durable, multi-process file store that
//! coordinates many Codex sessions working on one codebase.
//!
//! # Layout
//! - [`store`]: where the store is, its directories and its lock.
//! - [`messages`] and [`cursor`]: the append-only message ledger, its inbox
//!   index and the per-slot read cursors.
//! - [`tasks`]: task records and the work index that makes them a queue.
//! - [`registry`]: the slot registry.
//! - [`ops`], [`report`], [`board`], [`plan`]: one operation per MCP tool.
//! - [`api`]: the request types of those operations (also the tool schemas).
//!
//! # Invariants
//! Every mutation runs under the store's exclusive lock and re-reads what it
//! changes; every read runs under the shared lock and writes nothing.
//! Primary records are written durably (temp file, fsync, rename, directory
//! fsync; ledger appends fsynced). Indexes are derived and rebuildable.

pub mod api;
pub mod board;
pub mod caller;
pub mod cursor;
pub mod doctor;
pub mod error;
pub mod fsutil;
pub mod ids;
pub mod legacy;
mod lenient;
pub mod messages;
pub mod ops;
pub mod plan;
pub mod recovery;
pub mod registry;
pub mod report;
pub mod store;
pub mod task_inbox;
pub mod tasks;
pub mod time;
pub mod watchdog;
pub mod worktrees;

pub use caller::Caller;
pub use error::{Error, Result};
pub use ops::Ctx;
pub use store::Store;
