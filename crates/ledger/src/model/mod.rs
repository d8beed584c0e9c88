//! The records of the store as types: what is on disk, with no I/O.
//!
//! Every record keeps the reference's field names; fields codenator does not
//! know are kept in an `extra` map (`#[serde(flatten)]`) so a
//! read-modify-write never loses them. Fields written by other tools with
//! the wrong type (null for a string, a number as a string) are read
//! leniently ([`lenient`]). Ids that name files are [`SlotId`] and
//! [`TaskId`], checked once where they enter.

pub mod board;
pub mod cursor;
pub mod ids;
pub mod job;
pub(crate) mod lenient;
pub mod message;
pub mod report;
pub mod slot;
pub mod task;
pub mod wake;
pub mod watchdog;

pub use board::{Board, Lane, Milestone};
pub use cursor::Cursor;
pub use ids::{JobId, SlotId, TaskId};
pub use job::{Job, JobLimits, JobState};
pub use message::{Message, Payload};
pub use report::{CommitReport, ReportSummary};
pub use slot::{Heartbeat, Registry, SlotEntry};
pub use task::{Blocker, Lease, StatusChange, Task, TaskStatus, TaskSummary};
pub use wake::{AnsweredRequest, WakeAttempt, WakeEvidence, WakeTimings};
