//! Requests the server sends the client, every kind Codex 0.169's
//! `ServerRequest.json` defines, and the typed answers to them.
//!
//! A request left unanswered blocks the turn until it times out (the
//! reference's failure); so every request parses into some
//! [`ServerRequest`] (an unknown method, or params of an unexpected shape,
//! into [`ServerRequest::Unknown`]) and every [`ServerRequestAnswer`]
//! serialises into a valid reply. Which answer to give is the client's
//! policy, not this crate's.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::jsonrpc::{ByMethod, RpcError};
use crate::method;

/// `item/commandExecution/requestApproval` params.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandApprovalParams {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    /// The command line, as Codex runs it (e.g. `/bin/bash -lc "git add -- a"`).
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    /// The model's justification.
    #[serde(default)]
    pub reason: Option<String>,
    /// `command`, `writeStdin` (input to a running terminal) or
    /// `humanCommand` (a managed checkpoint for a person).
    #[serde(default)]
    pub kind: Option<String>,
    /// Extra sandbox permissions the command asks for.
    #[serde(default)]
    pub additional_permissions: Option<IgnoredAny>,
    /// Present for a managed-network approval.
    #[serde(default)]
    pub network_approval_context: Option<IgnoredAny>,
    #[serde(default)]
    pub available_decisions: Option<Vec<OfferedDecision>>,
}

/// A decision the server offers: a plain name, or an amendment object.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OfferedDecision {
    Named(String),
    Structured(IgnoredAny),
}

/// `item/fileChange/requestApproval` params. The paths are on the
/// `fileChange` item announced by `item/started` under the same `itemId`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChangeApprovalParams {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// The agent asks to write under this root for the rest of the session.
    #[serde(default)]
    pub grant_root: Option<String>,
}

/// `item/tool/requestUserInput` params.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInputParams {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub questions: Vec<UserInputQuestion>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct UserInputQuestion {
    pub id: String,
    #[serde(default)]
    pub question: String,
}

/// `mcpServer/elicitation/request` params. Codex asks approval of an MCP
/// tool call through this request, with `_meta.codex_approval_kind =
/// "mcp_tool_call"` and the tool's name in `_meta.tool_name`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElicitationParams {
    pub server_name: String,
    pub thread_id: String,
    #[serde(default)]
    pub turn_id: Option<String>,
    /// `form`, `url`, `openai/form`, `openai/userVerification`, ...
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "_meta")]
    pub meta: Option<ElicitationMeta>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ElicitationMeta {
    #[serde(default)]
    pub codex_approval_kind: Option<String>,
    #[serde(default)]
    pub tool_name: Option<String>,
}

/// `item/permissions/requestApproval` params.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionsParams {
    pub thread_id: String,
    pub turn_id: String,
    pub item_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `item/tool/call` params (a dynamic tool the client registered).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamicToolCallParams {
    pub thread_id: String,
    pub turn_id: String,
    pub call_id: String,
    pub tool: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `applyPatchApproval` params (the v1 API's patch approval).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyPatchParams {
    pub conversation_id: String,
    pub call_id: String,
    /// The files the patch changes, by path.
    #[serde(default)]
    pub file_changes: BTreeMap<String, IgnoredAny>,
    #[serde(default)]
    pub grant_root: Option<String>,
}

/// `execCommandApproval` params (the v1 API's command approval).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyExecParams {
    pub conversation_id: String,
    pub call_id: String,
    pub command: Vec<String>,
    pub cwd: String,
}

/// A request from the server.
#[derive(Clone, Debug)]
pub enum ServerRequest {
    CommandApproval(CommandApprovalParams),
    FileChangeApproval(FileChangeApprovalParams),
    UserInput(UserInputParams),
    Elicitation(ElicitationParams),
    PermissionsApproval(PermissionsParams),
    DynamicToolCall(DynamicToolCallParams),
    /// Fresh ChatGPT tokens for an externally managed login.
    AuthTokensRefresh,
    /// A client attestation token (only for clients that opted in).
    Attestation,
    CurrentTime,
    LegacyPatchApproval(LegacyPatchParams),
    LegacyExecApproval(LegacyExecParams),
    /// A method this crate does not know, or known params that did not
    /// parse (`unreadable` says why). It still gets an answer: an error.
    Unknown {
        method: String,
        unreadable: Option<String>,
    },
}

impl ByMethod for ServerRequest {
    fn unknown(method: &str, unreadable: Option<String>) -> ServerRequest {
        ServerRequest::Unknown {
            method: method.to_string(),
            unreadable,
        }
    }
}

impl ServerRequest {
    pub(crate) fn parse(method: &str, params: Option<&RawValue>) -> ServerRequest {
        match method {
            method::COMMAND_APPROVAL => Self::typed(method, params, ServerRequest::CommandApproval),
            method::FILE_CHANGE_APPROVAL => {
                Self::typed(method, params, ServerRequest::FileChangeApproval)
            }
            method::USER_INPUT => Self::typed(method, params, ServerRequest::UserInput),
            method::MCP_ELICITATION => Self::typed(method, params, ServerRequest::Elicitation),
            method::PERMISSIONS_APPROVAL => {
                Self::typed(method, params, ServerRequest::PermissionsApproval)
            }
            method::DYNAMIC_TOOL_CALL => {
                Self::typed(method, params, ServerRequest::DynamicToolCall)
            }
            method::AUTH_TOKENS_REFRESH => ServerRequest::AuthTokensRefresh,
            method::ATTESTATION => ServerRequest::Attestation,
            method::CURRENT_TIME => ServerRequest::CurrentTime,
            method::LEGACY_APPLY_PATCH_APPROVAL => {
                Self::typed(method, params, ServerRequest::LegacyPatchApproval)
            }
            method::LEGACY_EXEC_COMMAND_APPROVAL => {
                Self::typed(method, params, ServerRequest::LegacyExecApproval)
            }
            _ => Self::unknown(method, None),
        }
    }

    /// The method name.
    pub fn method(&self) -> &str {
        match self {
            ServerRequest::CommandApproval(_) => method::COMMAND_APPROVAL,
            ServerRequest::FileChangeApproval(_) => method::FILE_CHANGE_APPROVAL,
            ServerRequest::UserInput(_) => method::USER_INPUT,
            ServerRequest::Elicitation(_) => method::MCP_ELICITATION,
            ServerRequest::PermissionsApproval(_) => method::PERMISSIONS_APPROVAL,
            ServerRequest::DynamicToolCall(_) => method::DYNAMIC_TOOL_CALL,
            ServerRequest::AuthTokensRefresh => method::AUTH_TOKENS_REFRESH,
            ServerRequest::Attestation => method::ATTESTATION,
            ServerRequest::CurrentTime => method::CURRENT_TIME,
            ServerRequest::LegacyPatchApproval(_) => method::LEGACY_APPLY_PATCH_APPROVAL,
            ServerRequest::LegacyExecApproval(_) => method::LEGACY_EXEC_COMMAND_APPROVAL,
            ServerRequest::Unknown { method, .. } => method,
        }
    }
}

/// The answer to a command or file-change approval (v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalDecision {
    /// Run it once (not for the session: each command is judged anew).
    Accept,
    /// Refuse it; the turn goes on and the model is told.
    Decline,
}

/// The answer to an MCP elicitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ElicitationAction {
    Accept,
    Decline,
}

/// The answer to a v1 approval (`ReviewDecision`, snake_case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approved,
    Denied,
}

#[derive(Serialize)]
struct DecisionBody<D: Serialize> {
    decision: D,
}

#[derive(Serialize)]
struct ElicitationBody {
    action: ElicitationAction,
    /// No form content: tool-call approvals ask for none.
    content: Option<()>,
}

#[derive(Serialize)]
struct UserInputBody {
    answers: BTreeMap<String, UserInputAnswer>,
}

#[derive(Serialize)]
struct UserInputAnswer {
    answers: Vec<String>,
}

#[derive(Serialize)]
struct PermissionsBody {
    /// The granted subset: nothing.
    permissions: EmptyObject,
    scope: &'static str,
}

#[derive(Serialize)]
struct EmptyObject {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DynamicToolBody {
    content_items: Vec<DynamicToolContent>,
    success: bool,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum DynamicToolContent {
    InputText { text: String },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CurrentTimeBody {
    current_time_at: i64,
}

/// What the client answers to a server request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerRequestAnswer {
    /// A command or file-change approval (v2).
    Approval(ApprovalDecision),
    Elicitation(ElicitationAction),
    /// No answers to the questions (the model is told none were given).
    NoUserInput,
    /// Grant none of the permissions asked for.
    GrantNoPermissions,
    /// A dynamic tool call fails with this text.
    ToolCallFailed(String),
    /// The current time, in whole Unix seconds.
    CurrentTime(i64),
    /// A v1 approval.
    Review(ReviewDecision),
    /// A JSON-RPC error reply.
    Error(RpcError),
}

/// A serialised answer: the `result` of a reply, or its `error`.
pub enum AnswerBody {
    Result(Box<RawValue>),
    Error(RpcError),
}

impl ServerRequestAnswer {
    /// The reply body.
    pub fn body(&self) -> AnswerBody {
        fn raw<T: Serialize>(v: &T) -> AnswerBody {
            match serde_json::value::to_raw_value(v) {
                Ok(r) => AnswerBody::Result(r),
                Err(e) => AnswerBody::Error(RpcError {
                    code: -32603,
                    message: format!("cannot serialise the answer: {e}"),
                }),
            }
        }
        match self {
            ServerRequestAnswer::Approval(d) => raw(&DecisionBody { decision: *d }),
            ServerRequestAnswer::Elicitation(a) => raw(&ElicitationBody {
                action: *a,
                content: None,
            }),
            ServerRequestAnswer::NoUserInput => raw(&UserInputBody {
                answers: BTreeMap::new(),
            }),
            ServerRequestAnswer::GrantNoPermissions => raw(&PermissionsBody {
                permissions: EmptyObject {},
                scope: "turn",
            }),
            ServerRequestAnswer::ToolCallFailed(text) => raw(&DynamicToolBody {
                content_items: vec![DynamicToolContent::InputText { text: text.clone() }],
                success: false,
            }),
            ServerRequestAnswer::CurrentTime(t) => raw(&CurrentTimeBody {
                current_time_at: *t,
            }),
            ServerRequestAnswer::Review(d) => raw(&DecisionBody { decision: *d }),
            ServerRequestAnswer::Error(e) => AnswerBody::Error(e.clone()),
        }
    }

    /// A short word for the evidence: `accept`, `decline`, `error -32601`, ...
    pub fn summary(&self) -> String {
        match self {
            ServerRequestAnswer::Approval(ApprovalDecision::Accept)
            | ServerRequestAnswer::Elicitation(ElicitationAction::Accept) => "accept".into(),
            ServerRequestAnswer::Approval(ApprovalDecision::Decline)
            | ServerRequestAnswer::Elicitation(ElicitationAction::Decline) => "decline".into(),
            ServerRequestAnswer::NoUserInput => "no_answers".into(),
            ServerRequestAnswer::GrantNoPermissions => "grant_none".into(),
            ServerRequestAnswer::ToolCallFailed(_) => "tool_failed".into(),
            ServerRequestAnswer::CurrentTime(_) => "current_time".into(),
            ServerRequestAnswer::Review(ReviewDecision::Approved) => "approved".into(),
            ServerRequestAnswer::Review(ReviewDecision::Denied) => "denied".into(),
            ServerRequestAnswer::Error(e) => format!("error {}", e.code),
        }
    }

    /// Whether the answer lets the action go ahead.
    pub fn allows(&self) -> bool {
        matches!(
            self,
            ServerRequestAnswer::Approval(ApprovalDecision::Accept)
                | ServerRequestAnswer::Elicitation(ElicitationAction::Accept)
                | ServerRequestAnswer::Review(ReviewDecision::Approved)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Message;

    fn body(a: &ServerRequestAnswer) -> String {
        match a.body() {
            AnswerBody::Result(r) => r.get().to_string(),
            AnswerBody::Error(e) => format!("error {}", e.code),
        }
    }

    #[test]
    fn answers_are_spelt_as_codex_reads_them() {
        assert_eq!(
            body(&ServerRequestAnswer::Approval(ApprovalDecision::Decline)),
            r#"{"decision":"decline"}"#
        );
        assert_eq!(
            body(&ServerRequestAnswer::Elicitation(ElicitationAction::Accept)),
            r#"{"action":"accept","content":null}"#
        );
        assert_eq!(body(&ServerRequestAnswer::NoUserInput), r#"{"answers":{}}"#);
        assert_eq!(
            body(&ServerRequestAnswer::GrantNoPermissions),
            r#"{"permissions":{},"scope":"turn"}"#
        );
        assert_eq!(
            body(&ServerRequestAnswer::ToolCallFailed("no".into())),
            r#"{"contentItems":[{"type":"inputText","text":"no"}],"success":false}"#
        );
        assert_eq!(
            body(&ServerRequestAnswer::CurrentTime(7)),
            r#"{"currentTimeAt":7}"#
        );
        assert_eq!(
            body(&ServerRequestAnswer::Review(ReviewDecision::Denied)),
            r#"{"decision":"denied"}"#
        );
    }

    #[test]
    fn every_method_parses_and_bad_params_fall_to_unknown() {
        for m in method::SERVER_REQUESTS {
            let req = ServerRequest::parse(m, None);
            // Empty params parse only for the kinds without required fields.
            assert_eq!(req.method(), m, "{req:?}");
        }
        let line = r#"{"id":3,"method":"item/commandExecution/requestApproval","params":{
            "threadId":"t","turnId":"u","itemId":"c1","startedAtMs":1,"kind":"command",
            "command":"/bin/bash -lc \"git add -- a\"","cwd":"/w",
            "availableDecisions":["accept",{"acceptWithExecpolicyAmendment":{"execpolicy_amendment":["git"]}},"cancel"]}}"#;
        let Ok(Message::Request {
            request: ServerRequest::CommandApproval(p),
            ..
        }) = Message::parse(line)
        else {
            panic!("not a command approval");
        };
        assert_eq!(
            p.command.as_deref(),
            Some(r#"/bin/bash -lc "git add -- a""#)
        );
        assert_eq!(p.available_decisions.map(|d| d.len()), Some(3));
        let Ok(Message::Request { request, .. }) =
            Message::parse(r#"{"id":4,"method":"item/tool/call","params":{"tool":5}}"#)
        else {
            panic!("not a request");
        };
        assert!(matches!(
            request,
            ServerRequest::Unknown {
                unreadable: Some(_),
                ..
            }
        ));
        assert_eq!(request.method(), "item/tool/call");
    }
}
