//! The `codex app-server` wire format, as plain serde types: the only place
//! in codenator that knows it (the ledger's wake plan says *that* a slot
//! should be woken and on which thread; this crate says how the requests to
//! Codex are spelt, and how Codex's requests and notifications read).
//!
//! Conventions of the protocol (checked against the JSON schema that the
//! pinned Codex 0.169 generates with `codex app-server generate-json-schema`):
//! JSON-RPC without the `"jsonrpc"` field, one message per line on stdio
//! (one per text frame on WebSocket), methods named `<resource>/<method>`,
//! camelCase fields. Only what codenator uses is typed; fields it does not
//! read are left out (serde ignores them), so a newer Codex that adds
//! fields still parses.
//!
//! - [`jsonrpc`]: the envelopes and [`jsonrpc::Message::parse`], which
//!   sorts an incoming line into a response, a server request or a
//!   notification.
//! - [`client`]: what codenator sends (`initialize`, `thread/*`, `turn/*`).
//! - [`server_request`]: every request the server can send the client
//!   ([`ServerRequest`]) and the typed answers to them.
//! - [`notification`]: the notifications codenator follows (turns, items).

pub mod client;
pub mod jsonrpc;
pub mod notification;
pub mod server_request;

pub use client::*;
pub use jsonrpc::{Message, RequestId, RpcError};
pub use notification::{ServerNotification, ThreadItem, Turn, TurnStatus};
pub use server_request::{ServerRequest, ServerRequestAnswer};

/// Method names.
pub mod method {
    pub const INITIALIZE: &str = "initialize";
    pub const INITIALIZED: &str = "initialized";
    pub const THREAD_START: &str = "thread/start";
    pub const THREAD_RESUME: &str = "thread/resume";
    pub const TURN_START: &str = "turn/start";
    pub const TURN_INTERRUPT: &str = "turn/interrupt";

    /// Server-to-client requests (every one the protocol defines).
    pub const COMMAND_APPROVAL: &str = "item/commandExecution/requestApproval";
    pub const FILE_CHANGE_APPROVAL: &str = "item/fileChange/requestApproval";
    pub const USER_INPUT: &str = "item/tool/requestUserInput";
    pub const MCP_ELICITATION: &str = "mcpServer/elicitation/request";
    pub const PERMISSIONS_APPROVAL: &str = "item/permissions/requestApproval";
    pub const DYNAMIC_TOOL_CALL: &str = "item/tool/call";
    pub const AUTH_TOKENS_REFRESH: &str = "account/chatgptAuthTokens/refresh";
    pub const ATTESTATION: &str = "attestation/generate";
    pub const CURRENT_TIME: &str = "currentTime/read";
    pub const LEGACY_APPLY_PATCH_APPROVAL: &str = "applyPatchApproval";
    pub const LEGACY_EXEC_COMMAND_APPROVAL: &str = "execCommandApproval";

    /// Every server-to-client request method, in the order of Codex's
    /// `ServerRequest.json`.
    pub const SERVER_REQUESTS: [&str; 11] = [
        COMMAND_APPROVAL,
        FILE_CHANGE_APPROVAL,
        USER_INPUT,
        MCP_ELICITATION,
        PERMISSIONS_APPROVAL,
        DYNAMIC_TOOL_CALL,
        AUTH_TOKENS_REFRESH,
        ATTESTATION,
        CURRENT_TIME,
        LEGACY_APPLY_PATCH_APPROVAL,
        LEGACY_EXEC_COMMAND_APPROVAL,
    ];

    /// Notifications codenator follows.
    pub const TURN_STARTED: &str = "turn/started";
    pub const TURN_COMPLETED: &str = "turn/completed";
    pub const ITEM_STARTED: &str = "item/started";
    pub const ITEM_COMPLETED: &str = "item/completed";
    pub const AGENT_MESSAGE_DELTA: &str = "item/agentMessage/delta";
    pub const ERROR: &str = "error";
}
