//! The `codex exec --json` event stream (one JSON object per stdout line),
//! as types: only what a job reports is read, everything else is skipped.
//! Shapes as Codex 0.169 writes them (`codex-rs/exec/src/exec_events.rs`).

use serde::Deserialize;

/// One line of the stream.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "thread.started")]
    ThreadStarted { thread_id: String },
    #[serde(rename = "turn.completed")]
    TurnCompleted { usage: Usage },
    #[serde(rename = "turn.failed")]
    TurnFailed { error: Failure },
    #[serde(rename = "item.started")]
    ItemStarted { item: Item },
    #[serde(rename = "item.completed")]
    ItemCompleted { item: Item },
    /// A fatal stream error.
    #[serde(rename = "error")]
    Error { message: String },
    #[serde(other)]
    Other,
}

/// `turn.completed.usage`: the sum over the turn's model requests.
#[derive(Debug, Default, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub cached_input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub reasoning_output_tokens: u64,
}

#[derive(Debug, Deserialize)]
pub struct Failure {
    pub message: String,
}

/// A thread item (`item.started` / `item.completed`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    AgentMessage {
        text: String,
    },
    CommandExecution {
        command: String,
        #[serde(default)]
        exit_code: Option<i32>,
    },
    FileChange {
        changes: Vec<Change>,
        #[serde(default)]
        status: String,
    },
    McpToolCall {
        server: String,
        tool: String,
    },
    /// A non-fatal warning (Codex reports those as items too).
    Error {
        message: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: String,
}

/// Parse one stdout line; `None` for a line that is not an event.
pub fn parse(line: &str) -> Option<Event> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    match serde_json::from_str(line) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::debug!("not a codex event ({e}): {line}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_events_a_job_reports() {
        let lines = [
            r#"{"type":"thread.started","thread_id":"01a2"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":"/w/a.txt","kind":"add"}],"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"done"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_2","type":"todo_list","items":[]}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":20,"cached_input_tokens":4,"output_tokens":3}}"#,
            r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
            "not json",
        ];
        let ev: Vec<Option<Event>> = lines.iter().map(|l| parse(l)).collect();
        assert!(matches!(&ev[0], Some(Event::ThreadStarted { thread_id }) if thread_id == "01a2"));
        assert!(matches!(&ev[1], Some(Event::Other)));
        assert!(
            matches!(&ev[2], Some(Event::ItemCompleted { item: Item::FileChange { changes, .. } }) if changes[0].path == "/w/a.txt")
        );
        assert!(
            matches!(&ev[3], Some(Event::ItemCompleted { item: Item::AgentMessage { text } }) if text == "done")
        );
        assert!(matches!(
            &ev[4],
            Some(Event::ItemCompleted { item: Item::Other })
        ));
        assert!(
            matches!(&ev[5], Some(Event::TurnCompleted { usage }) if usage.input_tokens == 20 && usage.cached_input_tokens == 4 && usage.output_tokens == 3)
        );
        assert!(matches!(&ev[6], Some(Event::TurnFailed { error }) if error.message == "boom"));
        assert!(ev[7].is_none());
    }
}
