//! Waking idle slots: the ledger's wake plan delivered through Codex.
//!
//! `plan_wake` (in the ledger) says which slots to wake and on which
//! thread; `app_server_client` knows how to reach a Codex thread. This
//! crate joins them and keeps the record:
//!
//! - [`cycle`]: one pass: plan, pick the wake actions (optionally some
//!   slots), choose the prompt, skip slots already woken with nothing
//!   changed since (backoff), deliver, and record every attempt in the
//!   ledger (`wake/`) with its route, result, timings and evidence.
//! - [`daemon`]: cycles on an interval until a count, SIGINT or SIGTERM.
//! - [`threads`]: a new persistent thread for a slot (with its readiness
//!   turn, then registered), and proposals of slot threads from Codex's
//!   session files.
//!
//! The command line (`codenator watch|wake|daemon|thread-start|
//! thread-discover|app-server-proof`) is a thin layer over these.

pub mod cycle;
pub mod daemon;
pub mod threads;

use std::path::PathBuf;
use std::time::Duration;

use app_server_client::protocol::{ApprovalPolicy, SandboxMode};
use app_server_client::{Codex, CodexHome, Policy};

/// The MCP server name codenator's sessions use, and the one a wake gives
/// the server it starts for the slot.
pub const MCP_SERVER: &str = "codenator";

/// The tools a woken worker may run without a person (its own work); not
/// `register_slot` (it could move its own worktree) nor the coordinator's.
/// The ledger enforces identity besides.
pub const WORKER_TOOLS: [&str; 11] = [
    "get_status",
    "read_inbox",
    "get_focus_board",
    "get_task",
    "list_tasks",
    "plan_wake",
    "claim_next_task",
    "update_task",
    "report_commit",
    "record_heartbeat",
    "send_message",
];

/// How to start codenator's MCP server for a woken slot: the program and
/// the arguments before `--root R --agent SLOT`.
#[derive(Clone, Debug)]
pub struct McpLaunch {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// Everything a delivery needs besides the plan.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The ledger root (given to the MCP server of a woken slot).
    pub root: PathBuf,
    pub codex: Codex,
    pub home: CodexHome,
    /// Start codenator's MCP server in the woken session, as the slot
    /// (`None`: rely on the user's Codex configuration).
    pub mcp: Option<McpLaunch>,
    pub approval_policy: ApprovalPolicy,
    pub sandbox: SandboxMode,
    pub effort: Option<String>,
    /// How long a wake turn may run before it is interrupted.
    pub timeout: Duration,
}

impl Settings {
    /// The Codex command for a wake of `slot`: codenator's MCP server
    /// rooted at the ledger, speaking as the slot. Under `never` nothing
    /// can be asked, so the worker tools are approved in the configuration
    /// (`approval_mode = "approve"`): a user's `approval_mode = "prompt"`
    /// for one of them would otherwise have its calls refused. Under
    /// `on-request` the configuration is left alone: with Codex's default
    /// settings it does not ask about MCP tool calls at all; it asks only
    /// about a tool the user's configuration sets to `"prompt"` (as the
    /// `server_requests` test of the app-server client does), and then
    /// the policy ([`Settings::policy_for`]) accepts exactly the worker
    /// tools.
    pub fn codex_for(&self, slot: &str) -> Codex {
        let mut codex = self.codex.clone();
        if let Some(mcp) = &self.mcp {
            let key = format!("mcp_servers.{MCP_SERVER}");
            codex.config_string(
                &format!("{key}.command"),
                &mcp.program.display().to_string(),
            );
            let mut args = mcp.args.clone();
            args.extend([
                "--root".to_string(),
                self.root.display().to_string(),
                "--agent".to_string(),
                slot.to_string(),
            ]);
            codex.config_strings(&format!("{key}.args"), &args);
            if self.approval_policy == ApprovalPolicy::Never {
                for tool in WORKER_TOOLS {
                    codex.config_string(&format!("{key}.tools.{tool}.approval_mode"), "approve");
                }
            }
        }
        codex
    }

    /// The answers a wake of a slot with this worktree gives.
    pub fn policy_for(&self, worktree: &str) -> Policy {
        let root = PathBuf::from(worktree);
        Policy {
            mcp_servers: vec![MCP_SERVER.to_string()],
            mcp_tools: WORKER_TOOLS.iter().map(|t| t.to_string()).collect(),
            approval_root: (!worktree.is_empty() && root.is_absolute()).then_some(root),
        }
    }
}
