//! Requests codenator sends, with their responses. Optional fields are left
//! out of the JSON when unset (never sent as `null`), so Codex keeps the
//! thread's or the configuration's value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::notification::Turn;

/// `initialize` params.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    pub client_info: ClientInfo,
    pub capabilities: InitializeCapabilities,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClientInfo {
    /// Shows up as the `originator` in Codex's logs and rollouts.
    pub name: String,
    pub title: Option<String>,
    pub version: String,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeCapabilities {
    /// Needed for `thread/queue/*`, dynamic tools, `thread/queue/changed`.
    pub experimental_api: bool,
    /// Notifications this connection does not want (the token deltas).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub opt_out_notification_methods: Vec<String>,
}

/// `initialize` result.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResponse {
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub codex_home: Option<String>,
    #[serde(default)]
    pub platform_os: Option<String>,
}

/// `approvalPolicy` (Codex's `AskForApproval`, kebab-case on the wire).
/// `untrusted` is refused by Codex 0.169 and so not offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicy {
    Never,
    OnRequest,
}

impl ApprovalPolicy {
    pub fn parse(s: &str) -> Option<ApprovalPolicy> {
        match s {
            "never" => Some(ApprovalPolicy::Never),
            "on-request" => Some(ApprovalPolicy::OnRequest),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Never => "never",
            ApprovalPolicy::OnRequest => "on-request",
        }
    }
}

/// `sandbox` on `thread/start` and `thread/resume` (Codex's `SandboxMode`,
/// kebab-case; `turn/start`'s `sandboxPolicy` is spelt differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl SandboxMode {
    pub fn parse(s: &str) -> Option<SandboxMode> {
        match s {
            "read-only" => Some(SandboxMode::ReadOnly),
            "workspace-write" => Some(SandboxMode::WorkspaceWrite),
            "danger-full-access" => Some(SandboxMode::DangerFullAccess),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::ReadOnly => "read-only",
            SandboxMode::WorkspaceWrite => "workspace-write",
            SandboxMode::DangerFullAccess => "danger-full-access",
        }
    }
}

/// A tool the client implements itself (experimental `dynamicTools`):
/// the model's calls to it reach the client as `item/tool/call`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum DynamicToolSpec {
    #[serde(rename_all = "camelCase")]
    Function {
        name: String,
        description: String,
        /// A JSON schema, as text (it is passed through to the model).
        input_schema: Box<serde_json::value::RawValue>,
    },
}

/// What `thread/start` and `thread/resume` both set for the thread.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<ApprovalPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxMode>,
}

/// `thread/start` params.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadStartParams {
    #[serde(flatten)]
    pub settings: ThreadSettings,
    /// Ephemeral threads keep no rollout and cannot be resumed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub developer_instructions: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dynamic_tools: Vec<DynamicToolSpec>,
}

/// `thread/resume` params: load a stored thread into this server (and take
/// its writer lock).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadResumeParams {
    pub thread_id: String,
    /// Do not replay the history into the response (it can be long).
    pub exclude_turns: bool,
    #[serde(flatten)]
    pub settings: ThreadSettings,
}

impl ThreadResumeParams {
    /// Resume `thread_id` with the thread's own settings.
    pub fn thread(thread_id: impl Into<String>) -> ThreadResumeParams {
        ThreadResumeParams {
            thread_id: thread_id.into(),
            exclude_turns: true,
            settings: ThreadSettings::default(),
        }
    }
}

/// A thread as `thread/start` and `thread/resume` return it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    /// The rollout file (absent for ephemeral threads).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
}

/// `thread/start` and `thread/resume` results.
#[derive(Clone, Debug, Deserialize)]
pub struct ThreadResponse {
    pub thread: Thread,
}

/// One item of a turn's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserInput {
    Text { text: String },
}

/// `turn/start` params: start a turn on a thread with the given input (or,
/// when the thread already runs a turn, add the input to it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub thread_id: String,
    pub input: Vec<UserInput>,
    /// The turn's working directory (it persists for later turns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// It persists for later turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<ApprovalPolicy>,
    /// Reasoning effort: `none`, `minimal`, `low`, `medium`, `high`, `xhigh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}

impl TurnStartParams {
    /// A turn whose input is one text.
    pub fn text(thread_id: impl Into<String>, text: impl Into<String>) -> TurnStartParams {
        TurnStartParams {
            thread_id: thread_id.into(),
            input: vec![UserInput::Text { text: text.into() }],
            cwd: None,
            approval_policy: None,
            effort: None,
        }
    }
}

/// `turn/start` result: the turn, in progress.
#[derive(Clone, Debug, Deserialize)]
pub struct TurnStartResponse {
    pub turn: Turn,
}

/// `turn/interrupt` params.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnInterruptParams {
    pub thread_id: String,
    pub turn_id: String,
}

/// A result whose content codenator does not read (`turn/interrupt`).
#[derive(Clone, Debug, Deserialize)]
pub struct Ignored(#[serde(default)] pub serde::de::IgnoredAny);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_start_is_spelt_as_codex_reads_it() {
        let p = TurnStartParams::text("t-1", "hello");
        assert_eq!(
            serde_json::to_value(&p).expect("json"),
            serde_json::json!({"threadId": "t-1", "input": [{"type": "text", "text": "hello"}]})
        );
        let p = TurnStartParams {
            cwd: Some("/w".into()),
            approval_policy: Some(ApprovalPolicy::OnRequest),
            ..TurnStartParams::text("t", "x")
        };
        let v = serde_json::to_value(&p).expect("json");
        assert_eq!(v["cwd"], "/w");
        assert_eq!(v["approvalPolicy"], "on-request");
        assert!(v.get("effort").is_none(), "unset fields are left out: {v}");
    }

    #[test]
    fn thread_requests_use_codex_spellings() {
        let p = ThreadStartParams {
            settings: ThreadSettings {
                cwd: Some("/w".into()),
                approval_policy: Some(ApprovalPolicy::OnRequest),
                sandbox: Some(SandboxMode::WorkspaceWrite),
            },
            ephemeral: Some(false),
            ..ThreadStartParams::default()
        };
        assert_eq!(
            serde_json::to_value(&p).expect("json"),
            serde_json::json!({"cwd": "/w", "approvalPolicy": "on-request",
                               "sandbox": "workspace-write", "ephemeral": false})
        );
        let r = ThreadResumeParams::thread("t");
        assert_eq!(
            serde_json::to_value(&r).expect("json"),
            serde_json::json!({"threadId": "t", "excludeTurns": true})
        );
    }
}
