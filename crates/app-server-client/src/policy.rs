//! The answer to every server request. Nothing is left unanswered: an
//! unanswered request blocks the turn (the reference hung there until its
//! timeout, spec §6.2).
//!
//! - MCP elicitations: accepted only for a tool call (`_meta.codex_approval_kind
//!   = "mcp_tool_call"`) of one of the listed servers and tools (codenator's
//!   own); any other elicitation (forms, URLs, other servers) is declined.
//! - Command and patch approvals: the safe-command policy
//!   ([`crate::safe_command`]) inside the approval root; without a root,
//!   declined.
//! - Permission requests grant nothing; questions to the user get no
//!   answers; dynamic tool calls fail (codenator registers none); the
//!   current time is told; token refreshes, attestations and unknown
//!   methods get a JSON-RPC error.

use std::collections::HashMap;
use std::path::PathBuf;

use app_server_protocol::server_request::{
    ApprovalDecision, CommandApprovalParams, ElicitationAction, ElicitationParams, OfferedDecision,
    ReviewDecision,
};
use app_server_protocol::{RpcError, ServerRequest, ServerRequestAnswer, ThreadItem};

use crate::safe_command::{self, CommandText, Verdict};

/// Who may be approved.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// MCP server names whose tool calls may be approved.
    pub mcp_servers: Vec<String>,
    /// Tools of those servers that may be approved.
    pub mcp_tools: Vec<String>,
    /// Where commands and patches may act; `None` declines them all.
    pub approval_root: Option<PathBuf>,
}

/// What the turn announced about its items (`item/started`), which the
/// approval requests refer to by id: a command's line and cwd, a patch's files.
#[derive(Clone, Debug, Default)]
pub struct Items {
    commands: HashMap<String, (String, Option<String>)>,
    patches: HashMap<String, Vec<String>>,
}

impl Items {
    pub fn remember(&mut self, item: &ThreadItem) {
        match item {
            ThreadItem::CommandExecution {
                id, command, cwd, ..
            } => {
                self.commands
                    .insert(id.clone(), (command.clone(), cwd.clone()));
            }
            ThreadItem::FileChange { id, changes, .. } => {
                self.patches
                    .insert(id.clone(), changes.iter().map(|c| c.path.clone()).collect());
            }
            _ => {}
        }
    }
}

/// An answer and why it was given.
#[derive(Clone, Debug)]
pub struct Answered {
    pub answer: ServerRequestAnswer,
    pub detail: String,
}

fn answered(answer: ServerRequestAnswer, detail: impl Into<String>) -> Answered {
    Answered {
        answer,
        detail: detail.into(),
    }
}

fn rpc_error(code: i64, message: impl Into<String>) -> ServerRequestAnswer {
    ServerRequestAnswer::Error(RpcError {
        code,
        message: message.into(),
    })
}

impl Policy {
    /// A policy that approves nothing.
    pub fn decline_all() -> Policy {
        Policy::default()
    }

    /// The answer to `req`; `now` is the current time in Unix seconds.
    pub fn answer(&self, req: &ServerRequest, items: &Items, now: i64) -> Answered {
        use ServerRequestAnswer as A;
        match req {
            ServerRequest::Elicitation(p) => self.elicitation(p),
            ServerRequest::CommandApproval(p) => {
                let (answer, detail) = self.command(p, items);
                answered(A::Approval(answer), detail)
            }
            ServerRequest::FileChangeApproval(p) => {
                let verdict = match (&self.approval_root, items.patches.get(&p.item_id)) {
                    _ if p.grant_root.is_some() => {
                        Verdict::Decline("asks for write access to a whole root".into())
                    }
                    (None, _) => Verdict::Decline("no approval root".into()),
                    (Some(_), None) => Verdict::Decline("the patch's files are unknown".into()),
                    (Some(root), Some(paths)) => safe_command::judge_patch(paths, None, root),
                };
                let (d, why) = decision(verdict);
                answered(A::Approval(d), why)
            }
            ServerRequest::LegacyPatchApproval(p) => {
                let paths: Vec<String> = p.file_changes.keys().cloned().collect();
                let verdict = match &self.approval_root {
                    _ if p.grant_root.is_some() => {
                        Verdict::Decline("asks for write access to a whole root".into())
                    }
                    None => Verdict::Decline("no approval root".into()),
                    Some(root) => safe_command::judge_patch(&paths, None, root),
                };
                let (d, why) = decision(verdict);
                answered(A::Review(review(d)), why)
            }
            ServerRequest::LegacyExecApproval(p) => {
                let verdict = match &self.approval_root {
                    None => Verdict::Decline("no approval root".into()),
                    Some(root) => safe_command::judge(&CommandText::Argv(&p.command), &p.cwd, root),
                };
                let (d, why) = decision(verdict);
                answered(A::Review(review(d)), why)
            }
            ServerRequest::UserInput(_) => {
                answered(A::NoUserInput, "an unattended wake has nobody to ask")
            }
            ServerRequest::PermissionsApproval(_) => answered(
                A::GrantNoPermissions,
                "a wake grants no permissions beyond the sandbox",
            ),
            ServerRequest::DynamicToolCall(p) => answered(
                A::ToolCallFailed(format!(
                    "codenator's app-server client offers no dynamic tool {:?}",
                    p.tool
                )),
                "no dynamic tools are registered",
            ),
            ServerRequest::CurrentTime => answered(A::CurrentTime(now), "the clock"),
            ServerRequest::AuthTokensRefresh => answered(
                rpc_error(-32000, "codenator does not manage ChatGPT tokens"),
                "no external auth",
            ),
            ServerRequest::Attestation => answered(
                rpc_error(-32000, "codenator did not opt into attestation"),
                "no attestation",
            ),
            ServerRequest::Unknown { method, unreadable } => answered(
                match unreadable {
                    Some(e) => rpc_error(-32602, format!("codenator cannot read {method}: {e}")),
                    None => rpc_error(
                        RpcError::METHOD_NOT_FOUND,
                        format!("codenator does not handle {method}"),
                    ),
                },
                "unknown request",
            ),
        }
    }

    fn elicitation(&self, p: &ElicitationParams) -> Answered {
        let meta = p.meta.clone().unwrap_or_default();
        let tool = meta.tool_name.unwrap_or_default();
        let decline = |why: String| {
            answered(
                ServerRequestAnswer::Elicitation(ElicitationAction::Decline),
                why,
            )
        };
        if meta.codex_approval_kind.as_deref() != Some("mcp_tool_call") {
            return decline(format!(
                "not a tool-call approval ({:?} from {})",
                p.mode.as_deref().unwrap_or(""),
                p.server_name
            ));
        }
        if !self.mcp_servers.contains(&p.server_name) {
            return decline(format!("server {} is not codenator", p.server_name));
        }
        if !self.mcp_tools.contains(&tool) {
            return decline(format!("tool {tool} is not on the wake's list"));
        }
        answered(
            ServerRequestAnswer::Elicitation(ElicitationAction::Accept),
            format!("{}/{tool}", p.server_name),
        )
    }

    fn command(&self, p: &CommandApprovalParams, items: &Items) -> (ApprovalDecision, String) {
        let Some(root) = &self.approval_root else {
            return decision(Verdict::Decline("no approval root".into()));
        };
        if p.kind.as_deref().is_some_and(|k| k != "command") {
            return decision(Verdict::Decline(format!(
                "a {} approval needs a person",
                p.kind.as_deref().unwrap_or("")
            )));
        }
        if p.network_approval_context.is_some() || p.additional_permissions.is_some() {
            return decision(Verdict::Decline(
                "asks for network access or extra permissions".into(),
            ));
        }
        if let Some(offered) = &p.available_decisions
            && !offered.is_empty()
            && !offered
                .iter()
                .any(|d| matches!(d, OfferedDecision::Named(n) if n == "accept"))
        {
            return decision(Verdict::Decline("accept is not offered".into()));
        }
        let remembered = items.commands.get(&p.item_id);
        let command = p
            .command
            .clone()
            .or_else(|| remembered.map(|(c, _)| c.clone()));
        let cwd = p
            .cwd
            .clone()
            .or_else(|| remembered.and_then(|(_, d)| d.clone()));
        match (command, cwd) {
            (Some(c), Some(d)) => decision(safe_command::judge(&CommandText::Line(&c), &d, root)),
            _ => decision(Verdict::Decline("the command or its cwd is unknown".into())),
        }
    }
}

fn decision(v: Verdict) -> (ApprovalDecision, String) {
    match v {
        Verdict::Accept => (ApprovalDecision::Accept, "on the safe-command list".into()),
        Verdict::Decline(why) => (ApprovalDecision::Decline, why),
    }
}

fn review(d: ApprovalDecision) -> ReviewDecision {
    match d {
        ApprovalDecision::Accept => ReviewDecision::Approved,
        ApprovalDecision::Decline => ReviewDecision::Denied,
    }
}
