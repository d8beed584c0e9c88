//! What a conversation with the app-server leaves as evidence: bounded
//! tails (the reference's evidence list grew without limit), so a wake
//! attempt stays small.

use serde::Serialize;

/// How much of each tail is kept.
pub const AGENT_TEXT_TAIL: usize = 500;
pub const ANSWERS_TAIL: usize = 12;
pub const TOOL_CALLS_TAIL: usize = 20;
pub const EVENTS_TAIL: usize = 12;
pub const STDERR_TAIL: usize = 6;

/// A server request and the answer it got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnsweredRequest {
    pub method: String,
    /// accept, decline, grant_none, error -32601, ...
    pub answer: String,
    /// Why (the tool, the safe-command rule, ...).
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Evidence {
    pub thread_id: Option<String>,
    pub turn_id: Option<String>,
    pub turn_status: Option<String>,
    pub turn_error: Option<String>,
    /// The end of the agent's text in the turn.
    pub agent_text_tail: String,
    pub answered: Vec<AnsweredRequest>,
    /// MCP tool calls as `server/tool status`.
    pub tool_calls: Vec<String>,
    /// Notification methods, newest last (item kinds in brackets).
    pub events_tail: Vec<String>,
    pub stderr_tail: Vec<String>,
    /// Turns that started on the thread while connected (a resume first
    /// runs what was queued for the thread).
    pub turns_started: Vec<String>,
}

fn push_bounded<T>(v: &mut Vec<T>, x: T, keep: usize) {
    if v.len() >= keep {
        v.remove(0);
    }
    v.push(x);
}

/// The last `n` characters of `s`.
pub fn tail_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

impl Evidence {
    pub fn answered(&mut self, a: AnsweredRequest) {
        push_bounded(&mut self.answered, a, ANSWERS_TAIL);
    }
    pub fn tool_call(&mut self, c: String) {
        push_bounded(&mut self.tool_calls, c, TOOL_CALLS_TAIL);
    }
    pub fn event(&mut self, e: String) {
        push_bounded(&mut self.events_tail, e, EVENTS_TAIL);
    }
    pub fn agent_text(&mut self, delta: &str) {
        self.agent_text_tail.push_str(delta);
        if self.agent_text_tail.len() > 4 * AGENT_TEXT_TAIL {
            self.agent_text_tail = tail_chars(&self.agent_text_tail, AGENT_TEXT_TAIL);
        }
    }
    pub fn turn_started(&mut self, id: String) {
        push_bounded(&mut self.turns_started, id, EVENTS_TAIL);
    }
    /// Trim the text tail to its bound (done once, at the end).
    pub fn finish(&mut self, stderr: Vec<String>) {
        self.agent_text_tail = tail_chars(&self.agent_text_tail, AGENT_TEXT_TAIL);
        let n = stderr.len();
        self.stderr_tail = stderr
            .into_iter()
            .skip(n.saturating_sub(STDERR_TAIL))
            .collect();
    }
}
