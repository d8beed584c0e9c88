//! The `codex app-server` wire format, as plain serde types: the only place
//! in codenator that knows it (the ledger's wake plan says *that* a slot
//! should be woken and on which thread; this crate says how the request to
//! Codex is spelt).
//!
//! Conventions of the protocol (checked against Codex 0.169): JSON-RPC
//! without the `"jsonrpc"` field, methods named `<resource>/<method>`,
//! camelCase fields. Only what codenator uses is here; the app-server client
//! grows it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Method names.
pub mod method {
    pub const INITIALIZE: &str = "initialize";
    pub const INITIALIZED: &str = "initialized";
    pub const THREAD_START: &str = "thread/start";
    pub const THREAD_RESUME: &str = "thread/resume";
    pub const TURN_START: &str = "turn/start";
    pub const TURN_INTERRUPT: &str = "turn/interrupt";
}

/// One item of a turn's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserInput {
    Text { text: String },
}

/// `turn/start` params: start a turn on a thread with the given input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub thread_id: String,
    pub input: Vec<UserInput>,
}

impl TurnStartParams {
    /// A turn whose input is one text.
    pub fn text(thread_id: impl Into<String>, text: impl Into<String>) -> TurnStartParams {
        TurnStartParams {
            thread_id: thread_id.into(),
            input: vec![UserInput::Text { text: text.into() }],
        }
    }
}

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
    }
}
