//! Notifications codenator follows: a turn's start and end, its items (the
//! agent's messages, MCP tool calls, commands, file changes) and errors.
//! Everything else is [`ServerNotification::Other`], kept by method name.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::jsonrpc::ByMethod;
use crate::method;

/// A turn's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    Completed,
    Interrupted,
    Failed,
    InProgress,
    /// A status a newer Codex added.
    #[serde(other)]
    Unknown,
}

impl TurnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Completed => "completed",
            TurnStatus::Interrupted => "interrupted",
            TurnStatus::Failed => "failed",
            TurnStatus::InProgress => "inProgress",
            TurnStatus::Unknown => "unknown",
        }
    }
}

/// Why a turn failed.
#[derive(Clone, Debug, Deserialize)]
pub struct TurnError {
    #[serde(default)]
    pub message: String,
}

/// A turn.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub id: String,
    pub status: TurnStatus,
    #[serde(default)]
    pub error: Option<TurnError>,
    #[serde(default)]
    pub items: Vec<ThreadItem>,
    #[serde(default)]
    pub duration_ms: Option<i64>,
}

/// A file a `fileChange` item touches.
#[derive(Clone, Debug, Deserialize)]
pub struct FileUpdate {
    pub path: String,
}

/// One item of a turn (the kinds codenator reads; others are `Other`).
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ThreadItem {
    UserMessage {
        id: String,
        /// The `client_id` of a queued submission that started the turn.
        #[serde(default, rename = "clientId")]
        client_id: Option<String>,
        #[serde(default)]
        content: Vec<UserContent>,
    },
    AgentMessage {
        id: String,
        #[serde(default)]
        text: String,
    },
    McpToolCall {
        id: String,
        #[serde(default)]
        server: String,
        #[serde(default)]
        tool: String,
        #[serde(default)]
        status: String,
    },
    CommandExecution {
        id: String,
        #[serde(default)]
        command: String,
        #[serde(default)]
        cwd: Option<String>,
        #[serde(default)]
        status: String,
    },
    FileChange {
        id: String,
        #[serde(default)]
        changes: Vec<FileUpdate>,
        #[serde(default)]
        status: String,
    },
    #[serde(other)]
    Other,
}

/// The text parts of a user message.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserContent {
    Text {
        text: String,
    },
    #[serde(other)]
    Other,
}

impl ThreadItem {
    /// The item's kind, as Codex spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            ThreadItem::UserMessage { .. } => "userMessage",
            ThreadItem::AgentMessage { .. } => "agentMessage",
            ThreadItem::McpToolCall { .. } => "mcpToolCall",
            ThreadItem::CommandExecution { .. } => "commandExecution",
            ThreadItem::FileChange { .. } => "fileChange",
            ThreadItem::Other => "other",
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnNotification {
    pub thread_id: String,
    pub turn: Turn,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemNotification {
    pub thread_id: String,
    pub turn_id: String,
    pub item: ThreadItem,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentMessageDelta {
    pub thread_id: String,
    pub turn_id: String,
    pub delta: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorNotification {
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub turn_id: Option<String>,
    pub error: TurnError,
    /// A transient error Codex retries by itself ("Reconnecting... 2/5").
    #[serde(default)]
    pub will_retry: bool,
}

/// A notification from the server.
#[derive(Clone, Debug)]
pub enum ServerNotification {
    TurnStarted(TurnNotification),
    TurnCompleted(TurnNotification),
    ItemStarted(ItemNotification),
    ItemCompleted(ItemNotification),
    AgentMessageDelta(AgentMessageDelta),
    Error(ErrorNotification),
    /// Any other notification, or a known one whose params did not parse
    /// (`unreadable` says why).
    Other {
        method: String,
        unreadable: Option<String>,
    },
}

impl ByMethod for ServerNotification {
    fn unknown(method: &str, unreadable: Option<String>) -> ServerNotification {
        ServerNotification::Other {
            method: method.to_string(),
            unreadable,
        }
    }
}

impl ServerNotification {
    pub(crate) fn parse(method: &str, params: Option<&RawValue>) -> ServerNotification {
        match method {
            method::TURN_STARTED => Self::typed(method, params, ServerNotification::TurnStarted),
            method::TURN_COMPLETED => {
                Self::typed(method, params, ServerNotification::TurnCompleted)
            }
            method::ITEM_STARTED => Self::typed(method, params, ServerNotification::ItemStarted),
            method::ITEM_COMPLETED => {
                Self::typed(method, params, ServerNotification::ItemCompleted)
            }
            method::AGENT_MESSAGE_DELTA => {
                Self::typed(method, params, ServerNotification::AgentMessageDelta)
            }
            method::ERROR => Self::typed(method, params, ServerNotification::Error),
            _ => Self::unknown(method, None),
        }
    }

    /// The method name.
    pub fn method(&self) -> &str {
        match self {
            ServerNotification::TurnStarted(_) => method::TURN_STARTED,
            ServerNotification::TurnCompleted(_) => method::TURN_COMPLETED,
            ServerNotification::ItemStarted(_) => method::ITEM_STARTED,
            ServerNotification::ItemCompleted(_) => method::ITEM_COMPLETED,
            ServerNotification::AgentMessageDelta(_) => method::AGENT_MESSAGE_DELTA,
            ServerNotification::Error(_) => method::ERROR,
            ServerNotification::Other { method, .. } => method,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Message;

    #[test]
    fn reads_a_completed_turn_with_unknown_items_and_fields() {
        let line = r#"{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u",
            "items":[{"type":"agentMessage","id":"m","text":"done","phase":null},
                     {"type":"reasoning","id":"r"}],
            "itemsView":"summary","status":"completed","error":null,"durationMs":945}}}"#;
        let Ok(Message::Notification(ServerNotification::TurnCompleted(n))) = Message::parse(line)
        else {
            panic!("not a turn/completed");
        };
        assert_eq!(n.turn.status, TurnStatus::Completed);
        assert!(
            matches!(&n.turn.items[0], ThreadItem::AgentMessage { text, .. } if text == "done")
        );
        assert!(matches!(n.turn.items[1], ThreadItem::Other));
        let line = r#"{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u","items":[],"status":"paused"}}}"#;
        let Ok(Message::Notification(ServerNotification::TurnCompleted(n))) = Message::parse(line)
        else {
            panic!("not a turn/completed");
        };
        assert_eq!(n.turn.status, TurnStatus::Unknown);
    }

    #[test]
    fn a_known_notification_with_bad_params_is_kept_as_other() {
        let Ok(Message::Notification(n)) =
            Message::parse(r#"{"method":"turn/completed","params":{"turn":3}}"#)
        else {
            panic!("not a notification");
        };
        assert!(matches!(
            n,
            ServerNotification::Other {
                unreadable: Some(_),
                ..
            }
        ));
        assert_eq!(n.method(), "turn/completed");
    }
}
