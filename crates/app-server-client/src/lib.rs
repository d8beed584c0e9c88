//! Talking to Codex for a wake: the only crate that starts Codex or reads
//! what it keeps under `CODEX_HOME`. It knows nothing of the ledger: it is
//! given a thread, a prompt and a policy, and answers with what happened.
//!
//! - [`connection`]: one conversation with an app-server (ours on stdio,
//!   or a listening one over WebSocket): `initialize`, `thread/start`,
//!   `thread/resume`, `turn/start`, waiting for `turn/completed` with a
//!   timeout, then `turn/interrupt`. Every server request gets an answer.
//! - [`policy`]: what those answers are; [`safe_command`]: which commands
//!   and patches may be approved without a person.
//! - [`deliver`]: one wake, by the route that works: the thread's
//!   listening app-server, `codex queue` for a thread another process
//!   holds, or our own app-server for a thread nobody holds.
//! - [`threads`]: a new persistent thread with its readiness turn; the
//!   harmless proof.
//! - [`home`]: the thread writer locks (who holds a thread);
//!   [`sessions`]: the session files (which thread is which slot's).
//! - [`process`]: children in their own process group (a job object on
//!   Windows), spawned without a shell and killed as a group.
//!
//! Nothing here writes to stdout: logs go through `tracing`.

pub mod connection;
pub mod deliver;
pub mod evidence;
pub mod home;
pub mod policy;
pub mod process;
pub mod safe_command;
pub mod sessions;
pub mod threads;
mod transport;

pub use app_server_protocol as protocol;
pub use connection::AppServer;
pub use deliver::{Delivered, Route, Status, WakeRequest, deliver};
pub use evidence::Evidence;
pub use home::{CodexHome, Holder};
pub use policy::Policy;
pub use process::Codex;

use app_server_protocol::RpcError;

/// Why talking to Codex failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the app-server closed the connection {0}")]
    Closed(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("{method} was refused: {error}")]
    Refused { method: String, error: RpcError },
    #[error("unexpected message: {0}")]
    Protocol(String),
}

impl Error {
    /// A refusal because another process writes the thread (`-32600
    /// "thread … already has an active writer"`, Codex 0.147 and later).
    pub fn is_held(&self) -> bool {
        matches!(self, Error::Refused { error, .. } if error.message.contains("active writer"))
    }
}
