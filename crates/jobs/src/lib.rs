//! Background Codex workers over the ledger: dispatch a job (a detached
//! `codex exec --json` under a supervisor process), follow its event
//! stream, keep its record in the store, limit how many run per
//! coordinator (the rest queue and start by themselves), call back when a
//! job ends, and never leave a dead worker "running".
//!
//! - [`runner`]: dispatch, list, reconcile, kill, prioritize, wait; every
//!   change of a record in one ledger write transaction with its messages.
//! - [`supervisor`]: the detached process of one job.
//! - [`events`]: the `codex exec --json` stream as types.
//! - [`envelope`]: the self-contained prompt (Task, Context, Goal,
//!   Constraints, Expected Output).
//! - [`process`]: liveness by pid and start time; the whole tree of a job.
//! - [`rollout`]: how full the context window is, from Codex's session record.
//! - [`tmux`]: hosting a supervisor in a detached tmux session (`--tmux`).
//!
//! The crate spawns no shell and reads no environment variable; the front
//! ends (CLI, MCP) resolve Codex and the supervisor's executable and pass
//! them in. Logs go through `tracing`.

pub mod api;
pub mod envelope;
pub mod error;
pub mod events;
pub mod process;
pub mod rollout;
pub mod runner;
pub mod supervisor;
pub mod tmux;

pub use envelope::Envelope;
pub use error::{Error, Result};
pub use runner::{
    DryRun, JobList, JobView, Launcher, Runner, StartRequest, StartResponse, WorkerServer,
};
